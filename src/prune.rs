//! Planning a GitHub Packages prune from live data: the package's versions from the Packages API, and
//! what each kept image index references, read from the registry (so a kept multi-arch image never loses
//! a platform or attestation manifest).

use std::collections::HashMap;

use crate::ResultExt;

use ghcr_client::{
    packages::{Owner, PackageVersion, Packages, VersionState},
    prune::{plan, roots_to_read, untagged_to_read, ManifestInfo, Plan, PruneOptions},
    registry::{ImageName, Registry},
};

/// Whose package it is; `Auto` tries the organisation endpoints first, then the user ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerKind {
    /// Organisation first, then user.
    #[default]
    Auto,
    /// A user account.
    User,
    /// An organisation.
    Org,
}

/// The package's active versions, and the owner they were found under.
pub async fn list_versions(
    packages: &Packages,
    owner: &str,
    kind: OwnerKind,
    package: &str,
) -> Result<(Owner, Vec<PackageVersion>), ghcr_client::Error> {
    let list = |owner: Owner| async move {
        let versions = packages.list_versions(&owner, package, VersionState::Active).await?;
        Ok::<_, ghcr_client::Error>((owner, versions))
    };
    match kind {
        OwnerKind::User => list(Owner::User(owner.to_owned())).await,
        OwnerKind::Org => list(Owner::Org(owner.to_owned())).await,
        OwnerKind::Auto => match list(Owner::Org(owner.to_owned())).await {
            Err(ghcr_client::Error::Http(e)) if e.is_not_found() => list(Owner::User(owner.to_owned())).await,
            other => other,
        },
    }
}

/// The prune plan for `versions`: reads every kept root (and nested index) from `repository` on
/// `registry` to learn what it references. A kept manifest missing from the registry stops the plan.
pub async fn plan_from_registry(
    versions: &[PackageVersion],
    registry: &Registry,
    repository: &ImageName,
    options: &PruneOptions,
) -> Result<Plan, crate::Error> {
    let mut manifests = HashMap::new();
    let mut stack = roots_to_read(versions, options);
    while let Some(digest) = stack.pop() {
        if manifests.contains_key(&digest) {
            continue;
        }
        let reference = version_reference(&digest)?;
        let fetched = registry
            .manifest(repository, &reference)
            .await
            .with_context(|| format!("reading kept manifest {digest} of {repository}"))?
            .ok_or_else(|| {
                crate::Error::invalid(format!("kept manifest {digest} is missing from {repository}: refusing to prune"))
            })?;
        let info = match fetched.children() {
            Some(children) => {
                // A child that is itself a package version (a nested index) is read too.
                stack.extend(children.iter().filter(|c| versions.iter().any(|v| &v.name == *c)).cloned());
                ManifestInfo::Index { children }
            }
            None => ManifestInfo::Image,
        };
        manifests.insert(digest, info);
    }
    // Untagged versions: which are OCI 1.1 referrers (signatures, SBOMs) of a kept image.
    for digest in untagged_to_read(versions, options) {
        if manifests.contains_key(&digest) {
            continue;
        }
        // A version that cannot be read (a 429, a 5xx) may be a signature or an SBOM of a kept image: it
        // is kept, with the reason in the plan, never taken for one that refers to nothing.
        let read = match version_reference(&digest) {
            Ok(reference) => registry.manifest(repository, &reference).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match read {
            Ok(Some(fetched)) => {
                if let Some(subject) = fetched.subject() {
                    manifests.insert(digest, ManifestInfo::Referrer { subject });
                }
            }
            // Gone from the registry: nothing can refer through it.
            Ok(None) => {}
            Err(reason) => {
                manifests.insert(digest, ManifestInfo::Unreadable { reason });
            }
        }
    }
    Ok(plan(versions, &manifests, options)?)
}

/// The prune plan of container package `package` of `owner`: its active versions from the Packages API,
/// what each kept image references read from `registry` (repository `<owner>/<package>`, lower case).
/// Returns the owner the package was found under, for [`Packages::execute`].
pub async fn plan_package(
    packages: &Packages,
    registry: &Registry,
    package: PackageRef<'_>,
    options: &PruneOptions,
) -> Result<(Owner, Plan), crate::Error> {
    let PackageRef { owner, kind, name } = package;
    let (found, versions) = list_versions(packages, owner, kind, name).await?;
    let repository = registry.image(&format!("{owner}/{name}").to_ascii_lowercase())?;
    let plan = plan_from_registry(&versions, registry, &repository, options).await?;
    Ok((found, plan))
}

/// A container package of the Packages API: who owns it (a user or an organisation, or try both) and its
/// name (`app`, or `team/app` for a nested one).
#[derive(Debug, Clone, Copy)]
pub struct PackageRef<'a> {
    /// The owner's login.
    pub owner: &'a str,
    /// User, organisation, or try both.
    pub kind: OwnerKind,
    /// The package name.
    pub name: &'a str,
}

/// A package version's name as a manifest reference (a version is named by its digest); a name that is
/// not one is an error naming it.
fn version_reference(name: &str) -> Result<offinfra_types::Reference, crate::Error> {
    offinfra_types::Reference::parse(name)
        .map_err(|e| crate::Error::invalid(format!("package version {name:?} is not a manifest digest: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghcr_client::registry::{Credentials, RegistryOptions};
    use wiremock::{
        matchers::{method, path},
        Mock, MockServer, ResponseTemplate,
    };

    #[tokio::test]
    async fn a_version_the_registry_will_not_show_is_kept_not_taken_for_unreferenced() {
        let server = MockServer::start().await;
        let kept =
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        let kept_digest = offinfra_test_support::oci::sha256_digest(kept);
        let unread = format!("sha256:{}", "5".repeat(64));
        Mock::given(method("GET"))
            .and(path(format!("/v2/acme/app/manifests/{kept_digest}")))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(kept.to_vec(), "application/vnd.oci.image.manifest.v1+json"),
            )
            .mount(&server)
            .await;
        // The registry is rate limiting: the untagged version cannot be read this run.
        Mock::given(method("GET"))
            .and(path(format!("/v2/acme/app/manifests/{unread}")))
            .respond_with(ResponseTemplate::new(429))
            .mount(&server)
            .await;
        let options = RegistryOptions { retry: offinfra_http::RetryPolicy::none(), ..RegistryOptions::default() };
        let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, options).unwrap();
        let versions = vec![
            PackageVersion::container(2, kept_digest.clone(), "2026-01-02T00:00:00Z", vec!["latest".into()]),
            PackageVersion::container(1, unread.clone(), "2026-01-01T00:00:00Z", vec![]),
        ];
        let image = registry.image("acme/app").unwrap();
        let plan = plan_from_registry(&versions, &registry, &image, &PruneOptions::default()).await.unwrap();
        let decision = plan.decisions.iter().find(|d| d.digest == unread).unwrap();
        assert_eq!(decision.action, ghcr_client::prune::Action::Keep, "{}", decision.reason);
        assert!(decision.reason.to_string().contains("could not be read"), "{}", decision.reason);
        assert_eq!(plan.deletions().count(), 0);
    }
}
