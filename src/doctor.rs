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
//! - [`fleet`]: every onboarded repository of some owners, checked alike into one table.
//! - [`seams`]: live, per step: the service account Woodpecker really uses, its rights on the target,
//!   the image (exists, pinned, entrypoint) and a `/bin/sh` for `commands:`.
//!
//! [`Checks`] runs each check whose inputs it is given, in that order, as the `doctor` example does.

pub mod fleet;
mod images;
mod pipeline;
mod registry;
pub mod seams;
mod secrets;
pub mod status;
mod webhook;

pub use images::{deployment_images, workload_images};
pub use pipeline::lint_pipeline;
pub use registry::{cache, orphans, CacheSpec, PlainHttp};
pub use secrets::secret_parity;
pub use webhook::{redact_url, webhook};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ResultExt;

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
#[non_exhaustive]
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
    /// How to fix a failure or a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

impl Finding {
    fn new(check: impl Into<String>, status: Status, evidence: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            status,
            evidence: evidence.into(),
            fixed: None,
            file: None,
            line: None,
            remedy: None,
        }
    }

    fn with_remedy(mut self, remedy: impl Into<String>) -> Self {
        self.remedy = Some(remedy.into());
        self
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
/// let checks = Checks { caches: vec!["http://cache.example:5000=ghcr.io".parse().unwrap()], lint: vec![".woodpecker".into()], ..Checks::default() };
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
    /// Pull-through caches that must answer, each spoken to as its own scheme says.
    pub caches: Vec<CacheSpec>,
    /// Plain HTTP to registries that are not on loopback: all, or some.
    pub plain_http: PlainHttp,
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
        // `plain` is a registry's own scheme when it names one (a cache's); else the run's --plain-http.
        let registry = |host: &str, plain: Option<bool>| {
            let options = ghcr_client::registry::RegistryOptions {
                plain_http: plain.or(self.plain_http.for_host(host)),
                ..Default::default()
            };
            ghcr_client::registry::Registry::builder(host).options(options).build().map_err(crate::Error::from)
        };
        if let Some(host) = &self.registry {
            findings.extend(orphans(&registry(host, None)?, &self.repositories).await?);
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
        for spec in &self.caches {
            let mut finding = cache(&registry(&spec.host, spec.plain_http)?).await;
            if let Some(upstream) = &spec.upstream {
                finding.check = format!("{} ({upstream})", finding.check);
            }
            findings.push(finding);
        }
        // One Kubernetes client (the kubeconfig is read once) for both cluster checks.
        if self.deployment.is_some() || !self.images_in.is_empty() {
            let namespace = self.deployment.as_ref().and_then(|(namespace, _)| namespace.as_deref());
            let deployer = deployer::Deployer::infer(namespace).await?;
            if let Some((_, name)) = &self.deployment {
                findings.extend(deployment_images(&deployer, name, &self.plain_http).await?);
            }
            if !self.images_in.is_empty() {
                findings.extend(workload_images(deployer.client(), &self.images_in, &self.plain_http).await?);
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
            let cx = seams::Context {
                agent: agent.as_ref(),
                kube: kube.as_ref(),
                registry: &|host: &str| registry(host, None),
            };
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
