//! The flow's seams over our clients: Forgejo tags, an OCI registry push from a layout, GitHub Packages
//! pruning, and a Woodpecker deploy pipeline.

use ghcr_client::{
    layout::{Layout, SelectedImage},
    packages::Packages,
    prune::PruneOptions,
    registry::Registry,
};

use offinfra_types::{CommitId, ImageName, RepoName, Tag};

use super::{
    DeployRequest, DeployTarget, Deployed, Forge, ForgeTag, ImageTarget, PackageStore, PlanError, Registration,
};
use crate::{
    prune::{plan_package, OwnerKind},
    Error, ResultExt,
};

/// Tags on a Forgejo instance (idempotent: an existing tag on the same commit is not an error).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ForgejoTags {
    /// The client.
    pub forgejo: forgejo_client::Forgejo,
    /// A message makes annotated tags.
    pub message: Option<String>,
}

impl ForgejoTags {
    /// Tags through `forgejo`; a `message` makes them annotated.
    pub fn new(forgejo: forgejo_client::Forgejo, message: Option<String>) -> Self {
        Self { forgejo, message }
    }
}

#[async_trait::async_trait]
impl Forge for ForgejoTags {
    async fn create_tag(&self, repo: &RepoName, tag: &str, sha: &CommitId) -> Result<bool, Error> {
        let request = forgejo_client::CreateTag {
            tag_name: tag.to_owned(),
            target: Some(sha.to_string()),
            message: self.message.clone(),
        };
        Ok(self.forgejo.repo(repo.owner(), repo.name()).tags().create(&request).await?.created())
    }

    async fn tags(&self, repo: &RepoName) -> Result<Vec<ForgeTag>, Error> {
        let tags = self.forgejo.repo(repo.owner(), repo.name()).tags().list(None).await?;
        Ok(tags
            .into_iter()
            .map(|t| ForgeTag {
                commit: t.commit.map(|c| c.sha.to_ascii_lowercase()).unwrap_or_default(),
                name: t.name,
            })
            .collect())
    }

    async fn is_ancestor(&self, repo: &RepoName, ancestor: &str, of: &str) -> Result<bool, Error> {
        // `base...head` lists the commits of head that base lacks: none when head is base's ancestor.
        let compare = self.forgejo.repo(repo.owner(), repo.name()).compare(of, ancestor).await?;
        Ok(compare.is_some_and(|c| c.total_commits == 0))
    }
}

/// The image of an OCI layout, pushed to a registry.
#[derive(Debug)]
#[non_exhaustive]
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
    async fn push(&self, image: &ImageName, tags: &[Tag]) -> Result<String, Error> {
        let report = self.registry.push(&self.layout, &self.image, image).tags(tags).send().await?;
        Ok(report.digest)
    }
}

/// A ghcr.io container package, pruned through the GitHub Packages API (what kept indexes reference is
/// read from the registry first, so a kept multi-arch image stays whole).
#[derive(Debug)]
#[non_exhaustive]
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
    async fn prune(&self, image: &ImageName, keep: usize, keep_digest: Option<&str>) -> Result<Vec<u64>, Error> {
        let (owner, package) =
            image.repository().split_once('/').ok_or_else(|| PlanError::ImageWithoutOwner(image.clone()))?;
        let mut options = PruneOptions { keep, ..self.options.clone() };
        options.keep_digests.extend(keep_digest.map(str::to_owned));
        let package_ref = crate::prune::PackageRef { owner, kind: self.owner_kind, name: package };
        let (owner, plan) = plan_package(&self.packages, &self.registry, package_ref, &options).await?;
        Ok(self.packages.execute(&owner, package, &plan).await?.deleted)
    }
}

/// A manual Woodpecker pipeline.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WoodpeckerDeploy {
    /// The client.
    pub ci: woodpecker_client::Woodpecker,
    /// Wait for the pipeline's result.
    pub wait: Option<woodpecker_client::Wait>,
}

#[async_trait::async_trait]
impl DeployTarget for WoodpeckerDeploy {
    async fn deploy(&self, registration: &Registration, request: &DeployRequest) -> Result<Deployed, Error> {
        let id = match registration {
            Registration::Id(id) => *id,
            Registration::Name(repo) => {
                self.ci.lookup(repo.owner(), repo.name()).await.with_context(|| format!("looking up {repo}"))?.id
            }
        };
        let outcome = self.ci.repo(id).pipelines().run(&request.branch, &request.variables, self.wait, |_| ()).await?;
        let number = outcome.started.number;
        Ok(Deployed {
            number,
            url: self.ci.pipeline_url(id, number),
            status: outcome.finished.map(|p| p.status.as_str().to_owned()),
            failed_steps: outcome.failed_steps.into_iter().map(Into::into).collect(),
        })
    }
}
