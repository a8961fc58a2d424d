//! Health checks of a pipeline's moving parts, each a [`Finding`] with pass/warn/fail and the evidence,
//! some with a safe fix:
//!
//! - [`webhook`]: the Forgejo webhook Woodpecker uses points at the in-cluster Woodpecker URL (Woodpecker's
//!   "repair" rewrites it to the public one); the fix re-points it, keeping every other hook field and the
//!   `access_token` query.
//! - [`secret_parity`]: two Woodpecker registrations of one repository hold secrets of the same names and
//!   events; values are write-only, so the fix takes them from a source such as Vault.
//! - [`orphans`] and [`cache`]: image indexes whose children are gone; a pull-through cache that answers.
//! - [`deployment_images`]: the images a Deployment runs can be pulled (with its pods' pull secrets).
//! - [`lint_pipeline`]: the Woodpecker YAML gotchas the pipeline has been bitten by.
//! - [`seams`]: live, per step: the service account Woodpecker really uses, its rights on the target,
//!   the image (exists, pinned, entrypoint) and a `/bin/sh` for `commands:`.
//!
//! [`Checks`] runs each check whose inputs it is given, in that order, as the `doctor` example does.

pub mod seams;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::ResultExt;
use offinfra_http::scope::host_of;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Healthy.
    Pass,
    /// Worth a look; not a failure.
    Warn,
    /// Broken.
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check, e.g. `webhook acme/app`.
    pub check: String,
    /// The outcome (after a fix, if one was made).
    pub status: Status,
    /// What was seen.
    pub evidence: String,
    /// What the fix did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// The file the finding is about (a linted pipeline file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Its line there, 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Finding {
    fn new(check: impl Into<String>, status: Status, evidence: impl Into<String>) -> Self {
        Self { check: check.into(), status, evidence: evidence.into(), fixed: None, file: None, line: None }
    }

    fn at(mut self, file: &str, line: Option<u32>) -> Self {
        self.file = Some(file.to_owned());
        self.line = line;
        self
    }
}

/// Inside GitHub Actions, an `::error::` per failed finding and a `::warning::` per warning, at the
/// file and line of a lint finding, and a `::notice::` per fix made.
pub fn annotate(findings: &[Finding], actions: &crate::ci::Actions) {
    use crate::ci::Annotation;
    for finding in findings {
        let at = finding.file.as_deref().map(|file| (file, finding.line.unwrap_or(1)));
        let message = format!("{}: {}", finding.check, finding.evidence);
        match finding.status {
            Status::Fail => actions.annotate(Annotation::Error, at, &message),
            Status::Warn => actions.annotate(Annotation::Warning, at, &message),
            Status::Pass => {}
        }
        if let Some(fixed) = &finding.fixed {
            actions.notice(&format!("{}: fixed: {fixed}", finding.check));
        }
    }
}

/// The findings as an aligned table.
pub fn table(findings: &[Finding]) -> String {
    let width = findings.iter().map(|f| f.check.len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:<6} {:<width$} EVIDENCE\n", "STATUS", "CHECK");
    for f in findings {
        let evidence = match &f.fixed {
            Some(fixed) => format!("{} (fixed: {fixed})", f.evidence),
            None => f.evidence.clone(),
        };
        out += &format!("{:<6} {:<width$} {evidence}\n", f.status.as_str(), f.check);
    }
    out
}

/// A webhook URL with its query's values hidden (the `access_token` is a credential).
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => {
            let keys: Vec<String> =
                query.split('&').map(|kv| format!("{}=…", kv.split('=').next().unwrap_or(""))).collect();
            format!("{base}?{}", keys.join("&"))
        }
        None => url.to_owned(),
    }
}

/// Whether a hook delivers to one of our Woodpecker servers: its endpoint is `/api/hook` on one of
/// `hosts` (the in-cluster address and the public one). Another service's `/api/hook` is not ours, and
/// its query (a token of that service) is never copied anywhere.
fn is_woodpecker_hook(url: &str, hosts: &[String]) -> bool {
    let path_ok = url.split('?').next().unwrap_or(url).trim_end_matches('/').ends_with("/api/hook");
    let ours = |host: String| hosts.iter().any(|h| host_of(h).as_deref() == Some(host.as_str()));
    path_ok && host_of(url).is_some_and(ours)
}

/// Checks that the Woodpecker webhooks of `owner/name` point at `expected` (the in-cluster Woodpecker
/// base URL, e.g. `http://woodpecker-server.woodpecker.svc:8000`); with `fix`, re-points them.
pub async fn webhook(
    forgejo: &forgejo_client::Forgejo,
    repo: &offinfra_types::RepoName,
    expected: &str,
    woodpecker_urls: &[String],
    fix: bool,
) -> Result<Vec<Finding>, crate::Error> {
    let (owner, name) = (repo.owner(), repo.name());
    let check = format!("webhook {owner}/{name}");
    let hosts: Vec<String> = std::iter::once(expected.to_owned()).chain(woodpecker_urls.iter().cloned()).collect();
    let hooks = forgejo.repo(owner, name).hooks();
    let all = hooks.list().await.with_context(|| format!("listing the webhooks of {owner}/{name}"))?;
    let expected = expected.trim_end_matches('/');
    let mut findings = Vec::new();
    for hook in all.iter().filter(|h| h.target().is_some_and(|url| is_woodpecker_hook(url, &hosts))) {
        let url = hook.target().unwrap_or_default();
        let base = url.split('?').next().unwrap_or(url).trim_end_matches('/').trim_end_matches("/api/hook");
        if base == expected {
            findings.push(Finding::new(&check, Status::Pass, format!("hook {} -> {}", hook.id, redact_url(url))));
            continue;
        }
        let mut finding = Finding::new(
            &check,
            Status::Fail,
            format!("hook {} -> {}, expected {expected}/api/hook", hook.id, redact_url(url)),
        );
        if fix {
            let query = url.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
            let target = format!("{expected}/api/hook{query}");
            hooks
                .retarget(hook.id, &target)
                .await
                .with_context(|| format!("re-pointing hook {} of {owner}/{name}", hook.id))?;
            finding.status = Status::Pass;
            finding.fixed = Some(format!("re-pointed to {}", redact_url(&target)));
        }
        findings.push(finding);
    }
    if findings.is_empty() {
        findings.push(Finding::new(
            &check,
            Status::Fail,
            format!(
                "no webhook to {} among {} hook(s): activate the repository in Woodpecker (or give --woodpecker-url \
                 when repair pointed it at the public address)",
                hosts.join(" or "),
                all.len()
            ),
        ));
    }
    Ok(findings)
}

/// Checks that Woodpecker repositories `a` and `b` (two registrations of one repository) hold secrets of
/// the same names and events. With `source`, missing or different secrets are written from it (events:
/// the union of both sides').
pub async fn secret_parity(
    woodpecker: &woodpecker_client::Woodpecker,
    a: i64,
    b: i64,
    source: Option<&crate::secrets::SourceSecrets>,
) -> Result<Vec<Finding>, crate::Error> {
    use woodpecker_client::{SecretScope, SecretSpec};
    let list = |id: i64| async move {
        let secrets = woodpecker.secrets(SecretScope::Repo(id)).list().await;
        secrets.with_context(|| format!("listing the secrets of Woodpecker repo {id}"))
    };
    let (left, right) = (list(a).await?, list(b).await?);
    let events = |s: &woodpecker_client::Secret| s.events.iter().cloned().collect::<BTreeSet<_>>();
    let names: BTreeSet<&str> = left.iter().chain(&right).map(|s| s.name.as_str()).collect();
    let mut findings = Vec::new();
    for name in names {
        let check = format!("secret {name} on repos {a} and {b}");
        let (l, r) = (left.iter().find(|s| s.name == name), right.iter().find(|s| s.name == name));
        let (problem, targets, wanted): (String, Vec<i64>, BTreeSet<String>) = match (l, r) {
            (Some(l), Some(r)) if events(l) == events(r) => {
                findings.push(Finding::new(check, Status::Pass, format!("events {}", join(&events(l)))));
                continue;
            }
            (Some(l), Some(r)) => (
                format!("events differ: repo {a} {}, repo {b} {}", join(&events(l)), join(&events(r))),
                vec![a, b],
                events(l).union(&events(r)).cloned().collect(),
            ),
            (Some(l), None) => (format!("missing on repo {b}"), vec![b], events(l)),
            (None, Some(r)) => (format!("missing on repo {a}"), vec![a], events(r)),
            (None, None) => continue,
        };
        let mut finding = Finding::new(check, Status::Fail, problem);
        if let Some(source) = source {
            match source.values.get(name) {
                Some(value) => {
                    for id in &targets {
                        let spec = SecretSpec {
                            name: name.to_owned(),
                            value: value.clone(),
                            events: wanted.iter().cloned().collect(),
                            images: Vec::new(),
                            note: Some(source.note()),
                        };
                        woodpecker
                            .secrets(SecretScope::Repo(*id))
                            .upsert(&spec)
                            .await
                            .with_context(|| format!("writing secret {name} to Woodpecker repo {id}"))?;
                    }
                    finding.status = Status::Pass;
                    finding.fixed = Some(format!(
                        "written from {} to repo {} with events {}",
                        source.origin,
                        targets.iter().map(i64::to_string).collect::<Vec<_>>().join(" and "),
                        join(&wanted)
                    ));
                }
                None => finding.evidence += &format!(" (no value for it in {})", source.origin),
            }
        }
        findings.push(finding);
    }
    Ok(findings)
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(",")
}

/// Checks `repositories` (all in the catalog when empty) of `registry` for image indexes whose
/// children are gone.
pub async fn orphans(
    registry: &ghcr_client::registry::Registry,
    repositories: &[String],
) -> Result<Vec<Finding>, crate::Error> {
    let images = repositories.iter().map(|r| registry.image(r)).collect::<Result<Vec<_>, _>>()?;
    let report =
        registry.orphan_report(&images, None).await.with_context(|| format!("checking {}", registry.host()))?;
    let mut findings = Vec::new();
    for repository in &report.checked {
        let check = format!("orphans {}/{repository}", report.host);
        let found: Vec<_> = report.orphans.iter().filter(|o| &o.repository == repository).collect();
        if found.is_empty() {
            findings.push(Finding::new(&check, Status::Pass, "every index's children are present"));
        }
        for o in found {
            findings.push(Finding::new(
                &check,
                Status::Fail,
                format!("{}:{} -> index {} is missing {}", o.repository, o.tag, o.index, o.missing_child),
            ));
        }
    }
    Ok(findings)
}

/// Checks that the pull-through cache `registry` answers `/v2/` and `/v2/_catalog`.
pub async fn cache(registry: &ghcr_client::registry::Registry) -> Finding {
    let check = format!("cache {}", registry.host());
    match registry.check_cache().await {
        Ok(h) => Finding::new(
            check,
            Status::Pass,
            format!(
                "/v2/ in {} ms, /v2/_catalog ({} repositories) in {} ms",
                h.ping_ms,
                h.repositories.len(),
                h.catalog_ms
            ),
        ),
        Err(e) => Finding::new(check, Status::Fail, e.to_string()),
    }
}

/// What the kubelet would find: for every Deployment, StatefulSet, DaemonSet and CronJob of each of
/// `namespaces`, each image is read from its registry with the pull secrets the pods get (the pod spec's
/// and the service account's `imagePullSecrets`, matched by registry host), or anonymously when none
/// matches. A private image in a namespace without a usable pull secret fails and says so; a CronJob that
/// tracks `:latest` needs `imagePullPolicy: Always`.
pub async fn workload_images(
    client: &deployer::kube::Client,
    namespaces: &[String],
    plain_http: bool,
) -> Result<Vec<Finding>, crate::Error> {
    let mut findings = Vec::new();
    for namespace in namespaces {
        let deployer = deployer::Deployer::new(client.clone(), namespace.clone());
        let (workloads, unserved) =
            deployer.workloads().await.with_context(|| format!("listing the workloads of {namespace}"))?;
        for kind in unserved {
            findings.push(Finding::new(
                format!("images {namespace}"),
                Status::Warn,
                format!("the API server serves no {kind}"),
            ));
        }
        for workload in &workloads {
            let check = |container: &str| {
                format!("image {namespace}/{}/{}/{container}", workload.kind.resource(), workload.name)
            };
            findings.extend(pullable(&deployer, workload, &check, plain_http).await?);
        }
        if workloads.is_empty() {
            findings.push(Finding::new(format!("images {namespace}"), Status::Warn, "no workloads"));
        }
    }
    Ok(findings)
}

/// Checks that every image the Deployment `name` runs can be pulled, as [`workload_images`] checks each
/// workload (with the pull secrets its pods get).
pub async fn deployment_images(
    deployer: &deployer::Deployer,
    name: &str,
    plain_http: bool,
) -> Result<Vec<Finding>, crate::Error> {
    let workload = deployer
        .workload(deployer::Kind::Deployment, name)
        .await
        .with_context(|| format!("reading deployment {}/{name}", deployer.namespace()))?;
    let check = |container: &str| format!("image {}/{name}/{container}", deployer.namespace());
    pullable(deployer, &workload, &check, plain_http).await
}

/// One finding per image of `workload` (named by `check` from the container): read from its registry with
/// the first pull secret that has credentials for the registry's host, else anonymously.
async fn pullable(
    deployer: &deployer::Deployer,
    workload: &deployer::pull::Workload,
    check: &(dyn Fn(&str) -> String + Sync),
    plain_http: bool,
) -> Result<Vec<Finding>, crate::Error> {
    use ghcr_client::registry::{credentials_in_docker_config, Credentials, Registry, RegistryOptions};
    let namespace = deployer.namespace();
    let mut findings = Vec::new();
    // The secrets, read once per workload: (name, docker config JSON or why it cannot be used).
    let mut secrets = Vec::new();
    for name in &workload.pull_secrets {
        secrets.push((name.clone(), deployer.pull_secret(name).await?));
    }
    for image in &workload.images {
        let check = check(&image.container);
        let parsed = match offinfra_types::ImageRef::parse(&image.image) {
            Ok(parsed) => parsed,
            Err(e) => {
                findings.push(Finding::new(check, Status::Fail, e.to_string()));
                continue;
            }
        };
        let tracks_latest = parsed.digest().is_none() && parsed.tag().is_some_and(|t| t.as_str() == "latest");
        if workload.kind == deployer::Kind::CronJob && tracks_latest && image.pull_policy.as_deref() != Some("Always") {
            findings.push(Finding::new(
                &check,
                Status::Fail,
                format!("{} tracks :latest without imagePullPolicy: Always: nodes keep their first pull", image.image),
            ));
        }
        let host = parsed.api_host();
        let mut credentials = None;
        let mut unusable = Vec::new();
        for (name, secret) in &secrets {
            match secret {
                deployer::pull::PullSecret::DockerConfig(json) => match credentials_in_docker_config(json, host) {
                    Ok(Some(found)) if credentials.is_none() => credentials = Some((name.clone(), found)),
                    Ok(_) => {}
                    Err(e) => unusable.push(format!("{name}: {e}")),
                },
                deployer::pull::PullSecret::Unusable(why) => unusable.push(why.clone()),
            }
        }
        let options = RegistryOptions { plain_http: plain_http.then_some(true), ..RegistryOptions::default() };
        let auth = credentials.as_ref().map(|(_, c)| c.clone()).unwrap_or(Credentials::Anonymous);
        let registry = Registry::builder(host).credentials(auth).options(options).build()?;
        let without = || {
            let listed =
                if workload.pull_secrets.is_empty() { "none".to_owned() } else { workload.pull_secrets.join(", ") };
            let unusable =
                if unusable.is_empty() { String::new() } else { format!("; unusable: {}", unusable.join("; ")) };
            format!(
                "{} is private and namespace {namespace} has no pull secret for {host} (imagePullSecrets: {listed}{unusable})",
                image.image
            )
        };
        findings.push(match (registry.manifest_digest(parsed.name(), &parsed.reference()).await, &credentials) {
            (Ok(Some(digest)), Some((secret, _))) => {
                Finding::new(check, Status::Pass, format!("{} is {digest} (pulled with {secret})", image.image))
            }
            (Ok(Some(digest)), None) => Finding::new(check, Status::Pass, format!("{} is {digest}", image.image)),
            (Ok(None), _) => Finding::new(check, Status::Fail, format!("{} is not in {host}", image.image)),
            (Err(e), None) if e.is_denied() => Finding::new(check, Status::Fail, without()),
            (Err(e), Some((secret, _))) if e.is_denied() => Finding::new(
                check,
                Status::Fail,
                format!("{}: {host} refused the credentials of pull secret {secret}", image.image),
            ),
            (Err(e), _) => Finding::new(check, Status::Fail, format!("{}: {e}", image.image)),
        });
    }
    Ok(findings)
}

/// Lints one Woodpecker pipeline file (`path` is for the evidence). `global_secrets`, when given,
/// enables the check that secrets a manual pipeline uses are available to manual events.
pub fn lint_pipeline(path: &str, text: &str, global_secrets: Option<&[woodpecker_client::Secret]>) -> Vec<Finding> {
    use yaml_rust2::{Yaml, YamlLoader};
    let mut findings = Vec::new();
    let check = |what: &str| format!("lint {path} {what}");

    // 1. Unquoted commands with `${A}:${B}`: seen on the raw lines, with their numbers.
    let mut unquoted = Vec::new();
    let mut first_line = None;
    for (n, line) in text.lines().enumerate() {
        let item = line.trim_start();
        if let Some(command) = item.strip_prefix("- ") {
            let command = command.trim_start();
            if !command.starts_with(['\'', '"']) && VARIABLE_PAIR.is_match(command) {
                unquoted.push(format!("line {}: {}", n + 1, command));
                first_line = first_line.or(u32::try_from(n + 1).ok());
            }
        }
    }
    findings.push(if unquoted.is_empty() {
        Finding::new(check("quoting"), Status::Pass, "no unquoted ${A}:${B} command")
    } else {
        Finding::new(check("quoting"), Status::Fail, format!("quote these commands whole: {}", unquoted.join("; ")))
            .at(path, first_line)
    });

    let docs = match YamlLoader::load_from_str(text) {
        Ok(docs) => docs,
        Err(e) => {
            let line = u32::try_from(e.marker().line()).ok();
            findings.push(Finding::new(check("yaml"), Status::Fail, e.to_string()).at(path, line));
            return findings;
        }
    };
    let doc = docs.into_iter().next().unwrap_or(Yaml::Null);

    // 2. A deploy pipeline must run on manual events only.
    let events = when_events(&doc["when"]);
    let is_manual_only = events.as_ref().is_some_and(|e| !e.is_empty() && e.iter().all(|e| e == "manual"));
    let deploys = text.contains("set image")
        || text.contains("deploy ")
        || path.rsplit('/').next().is_some_and(|f| f.starts_with("deploy"));
    if deploys {
        findings.push(if is_manual_only {
            Finding::new(check("events"), Status::Pass, "a deploy pipeline limited to event: manual")
        } else {
            let seen = match &events {
                None => "no when/event filter".to_owned(),
                Some(e) => format!("events {}", e.iter().cloned().collect::<Vec<_>>().join(",")),
            };
            Finding::new(
                check("events"),
                Status::Fail,
                format!("a deploy pipeline not limited to event: manual ({seen})"),
            )
            .at(path, line_of(text, "when:"))
        });
    }

    // 3. Global secrets a manual pipeline uses must allow the manual event.
    let runs_manual = events.as_ref().is_none_or(|e| e.contains("manual"));
    if let (Some(globals), true) = (global_secrets, runs_manual) {
        let mut used = BTreeSet::new();
        collect_from_secret(&doc, &mut used);
        let lacking: Vec<String> = used
            .iter()
            .filter_map(|name| globals.iter().find(|s| &s.name == name))
            .filter(|s| !s.events.iter().any(|e| e == "manual"))
            .map(|s| format!("{} (events {})", s.name, s.events.join(",")))
            .collect();
        findings.push(if lacking.is_empty() {
            Finding::new(
                check("secrets"),
                Status::Pass,
                format!("{} secret(s) used, all available to manual events", used.len()),
            )
        } else {
            Finding::new(
                check("secrets"),
                Status::Fail,
                format!("global secrets used by a manual pipeline without the manual event: {}", lacking.join(", ")),
            )
            .at(path, line_of(text, "from_secret"))
        });
    }
    findings
}

/// The 1-based number of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> Option<u32> {
    text.lines().position(|l| l.contains(needle)).and_then(|n| u32::try_from(n + 1).ok())
}

/// `${A}:${B}`: a variable, a colon, a variable.
static VARIABLE_PAIR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}:\$\{[A-Za-z_][A-Za-z0-9_]*\}").expect("valid")
});

/// The events a `when` allows: `None` when there is no event filter at all.
fn when_events(when: &yaml_rust2::Yaml) -> Option<BTreeSet<String>> {
    use yaml_rust2::Yaml;
    let clauses: Vec<&Yaml> = match when {
        Yaml::Array(items) => items.iter().collect(),
        Yaml::Hash(_) => vec![when],
        _ => return None,
    };
    let mut events = BTreeSet::new();
    for clause in clauses {
        match &clause["event"] {
            Yaml::String(e) => {
                events.insert(e.clone());
            }
            Yaml::Array(list) => events.extend(list.iter().filter_map(|e| e.as_str().map(str::to_owned))),
            // A clause without an event filter lets every event through.
            _ => return None,
        }
    }
    Some(events)
}

fn collect_from_secret(yaml: &yaml_rust2::Yaml, out: &mut BTreeSet<String>) {
    use yaml_rust2::Yaml;
    match yaml {
        Yaml::Hash(map) => {
            for (k, v) in map {
                if k.as_str() == Some("from_secret") {
                    if let Some(name) = v.as_str() {
                        out.insert(name.to_owned());
                    }
                } else {
                    collect_from_secret(v, out);
                }
            }
        }
        Yaml::Array(items) => items.iter().for_each(|i| collect_from_secret(i, out)),
        _ => {}
    }
}

/// Counts by status.
pub fn counts(findings: &[Finding]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for f in findings {
        *counts.entry(f.status.as_str()).or_default() += 1;
    }
    counts
}

/// The checks to run: each runs when its inputs are set.
///
/// ```no_run
/// # async fn run() -> Result<(), offinfra::Error> {
/// use offinfra::doctor::Checks;
///
/// let checks = Checks { cache: Some("cache.example:5000".into()), lint: vec![".woodpecker".into()], ..Checks::default() };
/// let findings = checks.run().await?;
/// print!("{}", offinfra::doctor::table(&findings));
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Checks {
    /// Forgejo (the webhook check).
    pub forgejo: Option<forgejo_client::Forgejo>,
    /// Woodpecker (secret parity; global secrets for the lint).
    pub woodpecker: Option<woodpecker_client::Woodpecker>,
    /// The repository whose webhook must point at the in-cluster Woodpecker URL, and that URL.
    pub webhook: Option<(offinfra_types::RepoName, String)>,
    /// Other addresses of the same Woodpecker (its public URL): hooks to them are ours to re-point.
    pub woodpecker_urls: Vec<String>,
    /// Two Woodpecker registrations of one repository, whose secrets must match.
    pub secret_parity: Option<(i64, i64)>,
    /// Where `fix` takes secret values from.
    pub vault: Option<crate::secrets::VaultSource>,
    /// A registry to check for orphaned index children, and its repositories (default: the catalog).
    pub registry: Option<String>,
    /// The repositories of `registry` to check.
    pub repositories: Vec<String>,
    /// A Forgejo user or organisation whose container packages must have no orphaned index children, and
    /// the client of Forgejo's registry ([`crate::forgejo_registry::registry`]); needs `forgejo`.
    pub forgejo_packages: Option<(String, ghcr_client::registry::Registry)>,
    /// A pull-through cache that must answer.
    pub cache: Option<String>,
    /// Plain HTTP to registries that are not on loopback.
    pub plain_http: bool,
    /// A Deployment (and its namespace, default the kubeconfig context's) whose images must exist.
    pub deployment: Option<(Option<String>, String)>,
    /// Namespaces whose every workload's images must be pullable as the kubelet would pull them.
    pub images_in: Vec<String>,
    /// Woodpecker pipeline files, or directories of them, to lint.
    pub lint: Vec<std::path::PathBuf>,
    /// Check the `lint` files' steps against the cluster and their images' registries ([`seams`]).
    pub seams: bool,
    /// The Woodpecker agent's workload, `(namespace, name)`: how it starts steps (for [`seams`]).
    pub agent: Option<(String, String)>,
    /// Onboarded repositories whose pipelines (read from Forgejo) the seams check reads too.
    pub seams_repos: Vec<offinfra_types::RepoName>,
    /// Repair what is safe to.
    pub fix: bool,
}

impl Checks {
    /// Runs the checks that have their inputs; an input one of them lacks (a webhook check without
    /// Forgejo, a fix without Vault) is an error naming it, and so is a run with nothing to check.
    pub async fn run(&self) -> Result<Vec<Finding>, crate::Error> {
        let invalid = crate::Error::invalid;
        let mut findings = Vec::new();
        if let Some((repo, internal)) = &self.webhook {
            let forgejo = self
                .forgejo
                .as_ref()
                .ok_or_else(|| invalid("the webhook check needs --forgejo-url and FORGEJO_TOKEN"))?;
            findings.extend(webhook(forgejo, repo, internal, &self.woodpecker_urls, self.fix).await?);
        }
        if let Some((a, b)) = self.secret_parity {
            let woodpecker = self
                .woodpecker
                .as_ref()
                .ok_or_else(|| invalid("the secret check needs --woodpecker-url and WOODPECKER_TOKEN"))?;
            let source = match &self.vault {
                Some(vault) if self.fix => Some(crate::secrets::read_vault(vault).await?),
                _ if self.fix => {
                    return Err(invalid("--fix of secrets needs --vault-url, VAULT_TOKEN and --vault-path"))
                }
                _ => None,
            };
            findings.extend(secret_parity(woodpecker, a, b, source.as_ref()).await?);
        }
        let registry = |host: &str| {
            let options = ghcr_client::registry::RegistryOptions {
                plain_http: self.plain_http.then_some(true),
                ..Default::default()
            };
            ghcr_client::registry::Registry::builder(host).options(options).build().map_err(crate::Error::from)
        };
        if let Some(host) = &self.registry {
            findings.extend(orphans(&registry(host)?, &self.repositories).await?);
        }
        if let Some((owner, registry)) = &self.forgejo_packages {
            let forgejo = self
                .forgejo
                .as_ref()
                .ok_or_else(|| invalid("the Forgejo packages check needs --forgejo-url and FORGEJO_TOKEN"))?;
            let repositories = crate::forgejo_registry::repositories(forgejo, owner).await?;
            match repositories.is_empty() {
                true => findings.push(Finding::new(
                    format!("orphans {}/{owner}", registry.host()),
                    Status::Pass,
                    "no container packages",
                )),
                false => findings.extend(orphans(registry, &repositories).await?),
            }
        }
        if let Some(host) = &self.cache {
            findings.push(cache(&registry(host)?).await);
        }
        // One Kubernetes client (the kubeconfig is read once) for both cluster checks.
        if self.deployment.is_some() || !self.images_in.is_empty() {
            let namespace = self.deployment.as_ref().and_then(|(namespace, _)| namespace.as_deref());
            let deployer = deployer::Deployer::infer(namespace).await?;
            if let Some((_, name)) = &self.deployment {
                findings.extend(deployment_images(&deployer, name, self.plain_http).await?);
            }
            if !self.images_in.is_empty() {
                findings.extend(workload_images(deployer.client(), &self.images_in, self.plain_http).await?);
            }
        }
        if self.seams {
            if self.lint.is_empty() && self.seams_repos.is_empty() {
                return Err(invalid("the seams check needs pipeline files: --lint PATH or --seams-repo OWNER/NAME"));
            }
            let kube = match &self.agent {
                Some((namespace, _)) => Some(deployer::Deployer::infer(Some(namespace)).await?.client().clone()),
                None => None,
            };
            let agent = match (&self.agent, &kube) {
                (Some((namespace, name)), Some(kube)) => Some(seams::Agent::read(kube, namespace, name).await?),
                _ => None,
            };
            let cx = seams::Context { agent: agent.as_ref(), kube: kube.as_ref(), registry: &registry };
            let mut pipelines = Vec::new();
            for file in pipeline_files(&self.lint)? {
                let text = std::fs::read_to_string(&file)
                    .map_err(|source| crate::Error::Io { what: format!("--lint {}", file.display()), source })?;
                pipelines.push((file.display().to_string(), text));
            }
            for repo in &self.seams_repos {
                let forgejo = self
                    .forgejo
                    .as_ref()
                    .ok_or_else(|| invalid("--seams-repo needs --forgejo-url and FORGEJO_TOKEN"))?;
                pipelines.extend(seams::repository_pipelines(forgejo, repo).await?);
            }
            for (path, text) in pipelines {
                findings.extend(seams::check(&path, &text, &cx).await?);
            }
        }
        if !self.lint.is_empty() {
            let globals = match &self.woodpecker {
                Some(ci) => Some(
                    ci.secrets(woodpecker_client::SecretScope::Global)
                        .list()
                        .await
                        .context("listing global secrets")?,
                ),
                None => None,
            };
            for file in pipeline_files(&self.lint)? {
                let text = std::fs::read_to_string(&file)
                    .map_err(|source| crate::Error::Io { what: format!("--lint {}", file.display()), source })?;
                findings.extend(lint_pipeline(&file.display().to_string(), &text, globals.as_deref()));
            }
        }
        if findings.is_empty() {
            return Err(invalid("nothing to check: give the inputs of at least one check (see --help)"));
        }
        Ok(findings)
    }
}

/// The files of `paths`: each file itself, each directory's `*.yml` and `*.yaml` in name order.
fn pipeline_files(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>, crate::Error> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|source| crate::Error::Io { what: format!("--lint {}", path.display()), source })?;
            let mut found: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lints_the_known_gotchas() {
        let broken = "when:\n  - event: [push, manual]\nsteps:\n  - name: deploy\n    image: x\n    environment:\n      KUBE: {from_secret: kubeconfig}\n    commands:\n      - deploy --container app=${IMAGE_NAME}:${IMAGE_TAG}\n";
        let globals = vec![woodpecker_client::Secret {
            id: 1,
            name: "kubeconfig".into(),
            events: vec!["push".into(), "tag".into()],
            images: vec![],
            note: None,
        }];
        let findings = lint_pipeline(".woodpecker/deploy.yml", broken, Some(&globals));
        let status: Vec<(String, Status)> = findings.iter().map(|f| (f.check.clone(), f.status)).collect();
        assert_eq!(
            status,
            [
                ("lint .woodpecker/deploy.yml quoting".to_string(), Status::Fail),
                ("lint .woodpecker/deploy.yml events".into(), Status::Fail),
                ("lint .woodpecker/deploy.yml secrets".into(), Status::Fail),
            ]
        );
        assert_eq!(
            findings[0].evidence,
            "quote these commands whole: line 9: deploy --container app=${IMAGE_NAME}:${IMAGE_TAG}"
        );
        assert_eq!(findings[1].evidence, "a deploy pipeline not limited to event: manual (events manual,push)");
        assert!(findings[2].evidence.ends_with("kubeconfig (events push,tag)"), "{}", findings[2].evidence);
        // Where each is, for the annotations: the command's line, the `when:`, the `from_secret`.
        let at: Vec<(Option<&str>, Option<u32>)> = findings.iter().map(|f| (f.file.as_deref(), f.line)).collect();
        let file = Some(".woodpecker/deploy.yml");
        assert_eq!(at, [(file, Some(9)), (file, Some(1)), (file, Some(7))]);

        let good = "when:\n  - event: manual\nsteps:\n  - name: deploy\n    image: x\n    commands:\n      - 'deploy --container \"app=${IMAGE_NAME}:${IMAGE_TAG}\"'\n";
        assert!(lint_pipeline(".woodpecker/deploy.yml", good, Some(&[])).iter().all(|f| f.status == Status::Pass));
        assert_eq!(redact_url("http://ci/api/hook?access_token=abc&x=1"), "http://ci/api/hook?access_token=…&x=…");
    }
}
