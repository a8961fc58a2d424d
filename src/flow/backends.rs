//! The flow's seams over our clients: Forgejo tags, an OCI registry push from a layout, GitHub Packages
//! pruning, and a Woodpecker deploy pipeline.

use std::time::Duration;

use ghcr_client::{
    layout::{Layout, SelectedImage},
    packages::Packages,
    prune::PruneOptions,
    registry::Registry,
};

use super::{BoxError, DeployRequest, DeployTarget, Deployed, Forge, ImageTarget, PackageStore};
use crate::prune::{list_versions, plan_from_registry, OwnerKind};

fn repo_parts(repo: &str) -> Result<(&str, &str), BoxError> {
    Ok(crate::ci::repo_arg("repository", repo)?)
}

/// `registry/path` → the path inside the registry.
fn image_path(image: &str) -> Result<&str, BoxError> {
    image
        .split_once('/')
        .map(|(_, path)| path)
        .ok_or_else(|| format!("image {image:?}: expected registry/owner/name").into())
}

/// Tags on a Forgejo instance (idempotent: an existing tag on the same commit is not an error).
#[derive(Debug, Clone)]
pub struct ForgejoTags {
    /// The client.
    pub forgejo: forgejo_client::Forgejo,
    /// A message makes annotated tags.
    pub message: Option<String>,
}

#[async_trait::async_trait]
impl Forge for ForgejoTags {
    async fn create_tag(&self, repo: &str, tag: &str, sha: &str) -> Result<bool, BoxError> {
        let (owner, name) = repo_parts(repo)?;
        let request = forgejo_client::CreateTag {
            tag_name: tag.to_owned(),
            target: Some(sha.to_owned()),
            message: self.message.clone(),
        };
        Ok(self.forgejo.repo(owner, name).tags().create(&request).await?.created())
    }
}

/// The image of an OCI layout, pushed to a registry.
#[derive(Debug)]
pub struct LayoutPush {
    /// The registry (its host must be the image's).
    pub registry: Registry,
    /// The layout `docker buildx --output type=oci` wrote.
    pub layout: Layout,
    /// The image selected from it.
    pub image: SelectedImage,
}

#[async_trait::async_trait]
impl ImageTarget for LayoutPush {
    async fn push(&self, image: &str, tags: &[String]) -> Result<String, BoxError> {
        let path = image_path(image)?;
        let report = self.registry.push(&self.layout, &self.image, path, tags, None).await?;
        Ok(report.digest)
    }
}

/// A ghcr.io container package, pruned through the GitHub Packages API (what kept indexes reference is
/// read from the registry first, so a kept multi-arch image stays whole).
#[derive(Debug)]
pub struct GhcrPrune {
    /// The Packages API.
    pub packages: Packages,
    /// The registry holding the manifests.
    pub registry: Registry,
    /// User, organisation, or try both.
    pub owner_kind: OwnerKind,
    /// Protected tags and limits; `keep` comes from the plan.
    pub options: PruneOptions,
}

#[async_trait::async_trait]
impl PackageStore for GhcrPrune {
    async fn prune(&self, image: &str, keep: usize) -> Result<Vec<u64>, BoxError> {
        let path = image_path(image)?;
        let (owner, package) =
            path.split_once('/').ok_or_else(|| format!("image {image:?}: expected registry/owner/name"))?;
        let (owner, versions) = list_versions(&self.packages, owner, self.owner_kind, package).await?;
        let options = PruneOptions { keep, ..self.options.clone() };
        let plan = plan_from_registry(&versions, &self.registry, path, &options).await?;
        Ok(self.packages.execute(&owner, package, &plan).await?)
    }
}

/// A manual Woodpecker pipeline.
#[derive(Debug, Clone)]
pub struct WoodpeckerDeploy {
    /// The client.
    pub ci: woodpecker_client::Woodpecker,
    /// The repository's numeric id; looked up from `owner/name` when `None`.
    pub repo_id: Option<i64>,
    /// Wait for the pipeline's result: the timeout and the first pause between polls.
    pub wait: Option<(Duration, Duration)>,
}

#[async_trait::async_trait]
impl DeployTarget for WoodpeckerDeploy {
    async fn deploy(&self, repo: &str, request: &DeployRequest) -> Result<Deployed, BoxError> {
        let id = match self.repo_id {
            Some(id) => id,
            None => {
                let (owner, name) = repo_parts(repo)?;
                self.ci.lookup(owner, name).await.map_err(|e| format!("looking up {repo}: {e}"))?.id
            }
        };
        let pipelines = self.ci.repo(id).pipelines();
        let pipeline = pipelines.create(&request.branch, &request.variables).await?;
        let url = self.ci.pipeline_url(id, pipeline.number);
        let status = match self.wait {
            Some((timeout, poll)) => {
                Some(pipelines.wait_polling(pipeline.number, timeout, poll).await?.status.as_str().to_owned())
            }
            None => None,
        };
        Ok(Deployed { number: pipeline.number, url, status })
    }
}
