//! Planning a GitHub Packages prune from live data: the package's versions from the Packages API, and
//! what each kept image index references, read from the registry (so a kept multi-arch image never loses
//! a platform or attestation manifest).

use std::collections::HashMap;

use ghcr_client::{
    packages::{Owner, PackageVersion, Packages, VersionState},
    prune::{plan, roots_to_read, ManifestInfo, Plan, PruneOptions},
    registry::Registry,
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
    repository: &str,
    options: &PruneOptions,
) -> Result<Plan, String> {
    let mut manifests = HashMap::new();
    let mut stack = roots_to_read(versions, options);
    while let Some(digest) = stack.pop() {
        if manifests.contains_key(&digest) {
            continue;
        }
        let fetched = registry
            .manifest(repository, &digest)
            .await
            .map_err(|e| format!("reading kept manifest {digest} of {}/{repository}: {e}", registry.host()))?
            .ok_or_else(|| {
                format!("kept manifest {digest} is missing from {}/{repository}: refusing to prune", registry.host())
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
    plan(versions, &manifests, options).map_err(|e| e.to_string())
}
