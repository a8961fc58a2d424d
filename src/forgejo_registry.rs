//! Cleaning Forgejo's container registry with the same image-aware planner as the ghcr.io prune.
//!
//! Forgejo's packages API lists one version per tag and one per untagged manifest (`sha256:…`: the
//! platform and attestation manifests of an index, or a manifest whose tag moved on). Its own cleanup
//! rules know nothing of indexes, which is how they orphan index children. Here each tag is resolved to
//! its digest through Forgejo's OCI endpoint, the versions are grouped into images (one digest with all
//! its tags), and [`crate::prune::plan_from_registry`] decides per image: the newest N, protected tags,
//! never a child or referrer of a kept index, a grace period for untagged manifests. An image that goes
//! is every version of it: each tag and its `sha256:` version.
//!
//! [`plan`] is a dry run: it reads and decides, and [`CleanupPlan`] prints what [`execute`] then deletes,
//! exactly, in the same order: tagged images first (oldest first), then untagged manifests, so that a
//! run stopped half-way never leaves a tag whose index lost a child.
//!
//! ```no_run
//! # async fn run() -> Result<(), offinfra::Error> {
//! use offinfra::{forgejo_registry, ghcr_client::prune::PruneOptions, http::CredentialScope};
//!
//! let forgejo = offinfra::forgejo_client::Forgejo::new("https://git.example.com", "token".to_owned().into())?;
//! let token = "token".to_owned();
//! // The token goes to Forgejo's own registry only; `.allow(host)` names another that may have it.
//! let reach = forgejo_registry::RegistryReach::default();
//! let registry = forgejo_registry::registry("https://git.example.com", None, "viktor", CredentialScope::new(token.into()), &reach)?;
//! let options = PruneOptions { keep: 5, ..PruneOptions::default() };
//! let plan = forgejo_registry::plan(&forgejo, &registry, "viktor", &[], &options).await?;
//! print!("{plan}");
//! let report = forgejo_registry::execute(&forgejo, &registry, &plan, std::time::Duration::from_secs(1)).await?;
//! println!("deleted {} versions", report.deleted.len());
//! # Ok(()) }
//! ```

pub use crate::error::CleanupStopped;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use forgejo_client::{Forgejo, Package};
use ghcr_client::{
    packages::PackageVersion,
    prune::{Plan, PruneOptions},
    registry::{Credentials, Registry, RegistryOptions},
};
use offinfra_http::{scope::host_of, CredentialScope};
use serde::Serialize;

use crate::{Error, ResultExt};

/// How Forgejo's OCI endpoint is reached: its scheme, and the names at other addresses and the CAs the
/// API is reached with (`--forgejo-resolve`, `--forgejo-ca-cert`: the registry is the same server).
#[derive(Debug, Clone, Default)]
pub struct RegistryReach {
    /// As [`RegistryOptions::plain_http`]: `None` is docker's rule (plain HTTP for loopback only).
    pub plain_http: Option<bool>,
    /// The API's overrides.
    pub reach: forgejo_client::Reach,
}

/// The registry client for Forgejo's OCI endpoint, `host` or by default the host and port of
/// `forgejo_url`. The Forgejo token is its password (Forgejo reads the token and ignores the user name,
/// sent as `username`) on Forgejo's own host, and on the hosts `token` allows besides (a `host` elsewhere
/// is otherwise read anonymously). `reach` gives the scheme, resolve overrides and CAs.
pub fn registry(
    forgejo_url: &str,
    host: Option<&str>,
    username: &str,
    token: CredentialScope,
    reach: &RegistryReach,
) -> Result<Registry, Error> {
    let own = forgejo_host(forgejo_url)?;
    let host = host.filter(|h| !h.is_empty()).unwrap_or(&own).to_owned();
    let credentials = match token.allow(&own).secret_for(&host) {
        Some(token) => Credentials::Basic { username: username.to_owned(), password: token.clone() },
        None => Credentials::Anonymous,
    };
    let options = RegistryOptions { plain_http: reach.plain_http, ..RegistryOptions::default() };
    let mut builder = Registry::builder(&host).credentials(credentials).options(options);
    for r in &reach.reach.resolve {
        builder = builder.resolve(&r.host, std::net::SocketAddr::new(r.address, r.port));
    }
    if let Some(pem) = &reach.reach.ca_pem {
        builder = builder.root_certificates_pem(pem.clone());
    }
    Ok(builder.build()?)
}

/// Refuses a registry that is not Forgejo's own host unless `is_forgejo` says it serves Forgejo's packages
/// (an internal address of the same Forgejo): tags resolved on another, possibly stale, registry give the
/// wrong digests, and the real index's children then look unreferenced.
///
/// ```
/// use offinfra::forgejo_registry::check_registry_host;
/// assert!(check_registry_host("https://git.example.com", None, false).is_ok());
/// assert!(check_registry_host("https://git.example.com", Some("git.example.com:443"), false).is_ok());
/// assert!(check_registry_host("https://git.example.com", Some("registry.lan:5000"), false).is_err());
/// assert!(check_registry_host("https://git.example.com", Some("10.0.20.203"), true).is_ok());
/// ```
pub fn check_registry_host(forgejo_url: &str, host: Option<&str>, is_forgejo: bool) -> Result<(), Error> {
    let own = forgejo_host(forgejo_url)?;
    match host.filter(|h| !h.is_empty()) {
        Some(host) if !is_forgejo && host_of(host).as_deref() != Some(own.as_str()) => Err(Error::invalid(format!(
            "registry {host} is not Forgejo's host ({own}): tags resolved there may name other digests than \
             Forgejo's; give --registry-is-forgejo when it serves the same Forgejo's packages"
        ))),
        _ => Ok(()),
    }
}

/// `host[:port]` of a Forgejo URL: where its registry is served.
fn forgejo_host(forgejo_url: &str) -> Result<String, Error> {
    url::Url::parse(forgejo_url).map_err(|e| Error::invalid(format!("Forgejo URL {forgejo_url:?}: {e}")))?;
    host_of(forgejo_url).ok_or_else(|| Error::invalid(format!("Forgejo URL {forgejo_url:?} has no host")))
}

/// One Forgejo package version to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VersionDeletion {
    /// The package.
    pub package: String,
    /// The version: a tag, or `sha256:…` for an untagged manifest.
    pub version: String,
    /// Its id in Forgejo.
    pub version_id: i64,
    /// The manifest digest it holds.
    pub digest: String,
}

/// One package's decisions: per image, and the versions its deletions are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PackagePlan {
    /// The package name.
    pub package: String,
    /// Its repository on the registry (`owner/package`, lower case).
    pub repository: String,
    /// One decision per image (a digest with its tags; `version_id` numbers the images, newest first
    /// by creation).
    pub images: Plan,
    /// The versions to delete, in order.
    pub deletions: Vec<VersionDeletion>,
}

/// What a cleanup deletes, package by package. Printed (`Display`) or serialised, it is exactly what
/// [`execute`] deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CleanupPlan {
    /// The user or organisation.
    pub owner: String,
    /// The registry the manifests were read from.
    pub registry: String,
    /// Each package's plan, by name.
    pub packages: Vec<PackagePlan>,
}

impl CleanupPlan {
    /// Every deletion, in the order [`execute`] makes them.
    pub fn deletions(&self) -> impl Iterator<Item = &VersionDeletion> {
        self.packages.iter().flat_map(|p| &p.deletions)
    }

    /// Whether nothing would be deleted.
    pub fn is_noop(&self) -> bool {
        self.deletions().next().is_none()
    }
}

impl std::fmt::Display for CleanupPlan {
    /// Per package: one line per image (action, digest, created, tags, reason), the versions each deleted
    /// image is, then a count.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for package in &self.packages {
            writeln!(f, "{}/{} ({}/{})", self.owner, package.package, self.registry, package.repository)?;
            for d in &package.images.decisions {
                let tags = if d.tags.is_empty() { "-".to_owned() } else { d.tags.join(",") };
                writeln!(f, "  {} {} {} {tags} ({})", d.action, d.digest, d.created_at, d.reason)?;
            }
            for v in &package.deletions {
                writeln!(f, "  delete version {} (id {})", v.version, v.version_id)?;
            }
        }
        let images: usize = self.packages.iter().map(|p| p.images.deletion_count()).sum();
        let kept: usize = self.packages.iter().map(|p| p.images.decisions.len()).sum::<usize>() - images;
        writeln!(f, "{} version(s) to delete in {images} image(s), {kept} image(s) kept", self.deletions().count())
    }
}

/// Plans the cleanup of `packages` of `owner` (every container package of the owner when empty): the
/// versions from the packages API, each tag's digest and each kept index's children from `registry`.
/// Refuses to plan (an error, nothing decided) when a listed tag is missing from the registry or a kept
/// manifest cannot be read.
pub async fn plan(
    forgejo: &Forgejo,
    registry: &Registry,
    owner: &str,
    packages: &[String],
    options: &PruneOptions,
) -> Result<CleanupPlan, Error> {
    let by_name = packages_by_name(forgejo, owner).await?;
    if let Some(missing) = packages.iter().find(|p| !by_name.contains_key(*p)) {
        return Err(Error::invalid(format!("{owner} has no container package {missing:?}")));
    }
    let mut plans = Vec::new();
    for (name, versions) in by_name {
        if !packages.is_empty() && !packages.contains(&name) {
            continue;
        }
        plans.push(plan_package(registry, owner, &name, &versions, options).await?);
    }
    Ok(CleanupPlan { owner: owner.to_owned(), registry: registry.host().to_owned(), packages: plans })
}

/// One package: its versions grouped into images, decided, and the decisions turned into versions.
async fn plan_package(
    registry: &Registry,
    owner: &str,
    package: &str,
    versions: &[Package],
    options: &PruneOptions,
) -> Result<PackagePlan, Error> {
    let repository = format!("{}/{}", owner.to_ascii_lowercase(), package.to_ascii_lowercase());
    let image = registry.image(&repository)?;
    // digest -> (its versions, its newest creation time)
    let mut images: BTreeMap<String, (Vec<&Package>, String)> = BTreeMap::new();
    for version in versions {
        let digest = if version.version.starts_with("sha256:") {
            version.version.clone()
        } else {
            let tag = offinfra_types::Reference::parse(&version.version)
                .map_err(|e| Error::invalid(format!("{owner}/{package}: version {:?}: {e}", version.version)))?;
            registry
                .manifest_digest(&image, &tag)
                .await
                .with_context(|| format!("resolving {image}:{}", version.version))?
                .map(|digest| digest.to_string())
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "tag {} of {owner}/{package} is listed by Forgejo but missing from {}/{repository}: \
                         refusing to plan",
                        version.version,
                        registry.host()
                    ))
                })?
        };
        let entry = images.entry(digest).or_insert_with(|| (Vec::new(), String::new()));
        entry.0.push(version);
        if newer(&version.created_at, &entry.1) {
            entry.1 = version.created_at.clone();
        }
    }
    let grouped: Vec<(String, Vec<&Package>, String)> =
        images.into_iter().map(|(digest, (members, created))| (digest, members, created)).collect();
    let synthetic: Vec<PackageVersion> = grouped
        .iter()
        .enumerate()
        .map(|(i, (digest, members, created))| {
            let tags: BTreeSet<String> =
                members.iter().filter(|m| !m.version.starts_with("sha256:")).map(|m| m.version.clone()).collect();
            PackageVersion::container(i as u64 + 1, digest.clone(), created.clone(), tags.into_iter().collect())
        })
        .collect();
    let images = crate::prune::plan_from_registry(&synthetic, registry, &image, options).await?;

    // Tagged images first, then untagged manifests: an interrupted run leaves no tag on a broken index.
    let deleted: Vec<&ghcr_client::prune::Decision> = images
        .deletions()
        .filter(|d| !d.tags.is_empty())
        .chain(images.deletions().filter(|d| d.tags.is_empty()))
        .collect();
    let mut deletions = Vec::new();
    for decision in deleted {
        let Some((digest, members, _)) = grouped.iter().find(|(digest, ..)| *digest == decision.digest) else {
            continue;
        };
        // Within an image: its tags, then its `sha256:` version.
        let mut members = members.clone();
        members.sort_by_key(|m| (m.version.starts_with("sha256:"), m.version.clone()));
        deletions.extend(members.into_iter().map(|m| VersionDeletion {
            package: package.to_owned(),
            version: m.version.clone(),
            version_id: m.id,
            digest: digest.clone(),
        }));
    }
    Ok(PackagePlan { package: package.to_owned(), repository, images, deletions })
}

/// Whether RFC 3339 time `a` is later than `b` (an unreadable `b` loses, an unreadable `a` does not win).
fn newer(a: &str, b: &str) -> bool {
    match (ghcr_client::prune::rfc3339_seconds(a), ghcr_client::prune::rfc3339_seconds(b)) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        (None, _) => b.is_empty(),
    }
}

/// What [`execute`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CleanupReport {
    /// `package:version` of each deleted version, in order.
    pub deleted: Vec<String>,
    /// The versions whose delete answered 404 (gone already, or invisible to the token).
    pub not_found: Vec<String>,
    /// Tags re-pushed since the plan (they point at another digest now): not deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<String>,
}

/// Deletes exactly the plan's deletions, in its order, with `pause` between two. A version that answers
/// 404 is reported in [`CleanupReport::not_found`]; a run in which every delete answered 404 is an error
/// (a token that cannot see the packages looks exactly like that). The first other failure stops the
/// run with [`CleanupStopped`] naming what was and was not deleted; planning again picks up the rest.
pub async fn execute(
    forgejo: &Forgejo,
    registry: &Registry,
    plan: &CleanupPlan,
    pause: Duration,
) -> Result<CleanupReport, Error> {
    let mut report = CleanupReport::default();
    // Each deletion with its package, in the order of [`CleanupPlan::deletions`].
    let all: Vec<(&PackagePlan, &VersionDeletion)> =
        plan.packages.iter().flat_map(|p| p.deletions.iter().map(move |d| (p, d))).collect();
    for (i, (package, deletion)) in all.iter().enumerate() {
        if i > 0 && !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let name = format!("{}:{}", deletion.package, deletion.version);
        // Deletion is by name: a tag re-pushed since the plan would go in its new form. Its digest is read
        // again right before, and a tag that moved is left alone.
        if !deletion.version.starts_with("sha256:") {
            let image = registry.image(&package.repository)?;
            let tag = offinfra_types::Reference::parse(&deletion.version).map_err(Error::from)?;
            let now = registry.manifest_digest(&image, &tag).await.with_context(|| format!("re-reading {name}"))?;
            if now.as_ref().map(|d| d.as_str()) != Some(deletion.digest.as_str()) {
                tracing::warn!(%name, planned = %deletion.digest, now = ?now, "the tag moved since the plan: not deleted");
                report.moved.push(name);
                continue;
            }
        }
        match forgejo.delete_container_version(&plan.owner, &deletion.package, &deletion.version).await {
            Ok(()) => {
                tracing::info!(package = %deletion.package, version = %deletion.version, "deleted");
                report.deleted.push(name);
            }
            Err(e) if e.is_not_found() => {
                tracing::warn!(package = %deletion.package, version = %deletion.version, "delete answered 404");
                report.not_found.push(name);
            }
            Err(source) => {
                let not_deleted = all[i..].iter().map(|(_, d)| format!("{}:{}", d.package, d.version)).collect();
                return Err(CleanupStopped { deleted: report.deleted, failed: name, not_deleted, source }.into());
            }
        }
    }
    if report.deleted.is_empty() && !report.not_found.is_empty() {
        return Err(Error::invalid(format!(
            "every delete answered 404 ({}): does the token have write:package?",
            report.not_found.join(", ")
        )));
    }
    Ok(report)
}

/// The repositories (`owner/package`, lower case) of `owner`'s container packages on Forgejo's registry.
pub async fn repositories(forgejo: &Forgejo, owner: &str) -> Result<Vec<String>, Error> {
    let names = packages_by_name(forgejo, owner).await?.into_keys();
    Ok(names.map(|name| format!("{}/{}", owner.to_ascii_lowercase(), name.to_ascii_lowercase())).collect())
}

/// `owner`'s container package versions, by package name.
async fn packages_by_name(forgejo: &Forgejo, owner: &str) -> Result<BTreeMap<String, Vec<Package>>, Error> {
    let listed = forgejo
        .container_packages(owner, "")
        .await
        .with_context(|| format!("listing the container packages of {owner}"))?;
    let mut by_name: BTreeMap<String, Vec<Package>> = BTreeMap::new();
    for version in listed.into_iter().filter(|p| p.kind.is_empty() || p.kind == "container") {
        by_name.entry(version.name.clone()).or_default().push(version);
    }
    Ok(by_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use offinfra_http::SecretString;

    #[tokio::test]
    async fn a_tag_re_pushed_since_the_plan_is_not_deleted() {
        use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};
        let (forgejo_server, registry_server) = (MockServer::start().await, MockServer::start().await);
        let (planned, now) = (format!("sha256:{}", "1".repeat(64)), format!("sha256:{}", "2".repeat(64)));
        // The registry: v1 points at another digest than when the plan was made.
        Mock::given(method("HEAD"))
            .respond_with(ResponseTemplate::new(200).insert_header("docker-content-digest", now.as_str()))
            .mount(&registry_server)
            .await;
        Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(204)).expect(0).mount(&forgejo_server).await;
        let forgejo = Forgejo::new(&forgejo_server.uri(), "t".to_owned().into()).unwrap();
        let registry = Registry::builder(&registry_server.address().to_string()).build().unwrap();
        let deletion =
            VersionDeletion { package: "app".into(), version: "v1".into(), version_id: 7, digest: planned.clone() };
        let plan = CleanupPlan {
            owner: "acme".into(),
            registry: registry.host().to_owned(),
            packages: vec![PackagePlan {
                package: "app".into(),
                repository: "acme/app".into(),
                images: Plan::default(),
                deletions: vec![deletion],
            }],
        };
        let report = execute(&forgejo, &registry, &plan, Duration::ZERO).await.unwrap();
        assert_eq!((report.deleted.len(), report.moved.as_slice()), (0, ["app:v1".to_owned()].as_slice()));
        forgejo_server.verify().await;
    }

    #[test]
    fn the_newest_creation_time_wins_and_unreadable_times_never_do() {
        assert!(newer("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"));
        assert!(!newer("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"));
        assert!(newer("2026-01-01T00:00:00Z", ""), "anything beats nothing yet");
        assert!(newer("garbage", ""), "the first value is taken even when unreadable");
        assert!(!newer("garbage", "2026-01-01T00:00:00Z"));
    }

    #[test]
    fn the_registry_host_is_forgejo_s_unless_given() {
        let token = || SecretString::from("t".to_owned());
        let at = |url: &str, host: Option<&str>| {
            registry(url, host, "u", CredentialScope::new(token()), &RegistryReach::default())
                .map(|r| r.host().to_owned())
        };
        assert_eq!(at("https://git.example.com/", None).unwrap(), "git.example.com");
        assert_eq!(at("http://127.0.0.1:3000/sub/path", None).unwrap(), "127.0.0.1:3000");
        assert_eq!(at("https://git.example.com", Some("registry.example:5000")).unwrap(), "registry.example:5000");
        let error = at("not a url", None).unwrap_err();
        assert!(error.to_string().contains("not a url"), "{error}");
    }

    #[tokio::test]
    async fn the_token_goes_to_another_registry_host_only_when_asked() {
        use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};

        let elsewhere = MockServer::start().await;
        let host = elsewhere.address().to_string();
        let authorised = |requests: Vec<wiremock::Request>| {
            requests.iter().filter(|r| r.headers.contains_key("authorization")).count()
        };
        for (allowed, expect_token) in [(false, false), (true, true)] {
            elsewhere.reset().await;
            Mock::given(any())
                .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", "Basic realm=\"elsewhere\""))
                .mount(&elsewhere)
                .await;
            let token = SecretString::from("forgejo-token".to_owned());
            let scope = match allowed {
                true => CredentialScope::new(token).allow(&host),
                false => CredentialScope::new(token),
            };
            let client = registry("http://127.0.0.1:1", Some(&host), "u", scope, &RegistryReach::default()).unwrap();
            let image = client.image("acme/app").unwrap();
            let tag = "v1".parse().unwrap();
            assert!(client.manifest_digest(&image, &tag).await.is_err(), "the mock refuses everyone");
            let sent = authorised(elsewhere.received_requests().await.unwrap());
            assert_eq!(sent > 0, expect_token, "token_to_other_host {allowed}: {sent} request(s) carried credentials");
        }
    }

    #[tokio::test]
    async fn forgejo_s_registry_is_reached_through_the_api_s_resolve_override_and_ca() {
        // Forgejo's OCI endpoint answers on 127.0.0.1 with a certificate for its public name only.
        let name = "forgejo.offinfra.test";
        let server = offinfra_test_support::tls::serve_as(name, 200, &[], "{}");
        let url = format!("https://{name}:{}", server.port);
        let reach = forgejo_client::Reach {
            resolve: vec![format!("{name}:{}:127.0.0.1", server.port).parse().unwrap()],
            ca_pem: Some(server.ca_pem.clone()),
        };
        let scope = || CredentialScope::new("t".to_owned().into());
        let reached = RegistryReach { plain_http: None, reach };
        let client = registry(&url, None, "u", scope(), &reached).unwrap();
        client.ping().await.expect("reached at the override, the certificate checked for the public name");
        let plain = registry(&url, None, "u", scope(), &RegistryReach::default()).unwrap();
        assert!(plain.ping().await.is_err(), "without the override the name does not resolve");
    }
}
