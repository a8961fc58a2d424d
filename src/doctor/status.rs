//! The fleet's release status from live state, not the CI checkmark: per onboarded repository, the
//! newest release tag on Forgejo, whether the image for its commit was pushed, the image each container
//! of the deployed workload runs in the cluster, and the last deploy pipeline. A repository whose cluster
//! does not run its newest build is marked behind.

use offinfra_types::{ImageName, RepoName};
use serde::Serialize;

use super::fleet::{Fleet, Onboarded};
use crate::ResultExt;

/// One repository's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RepoStatus {
    /// The Forgejo repository.
    pub repo: String,
    /// The newest release tag (highest `v`-version without prerelease) and the first 8 of its commit.
    pub newest: Option<(String, String)>,
    /// The image repository the workflow pushes (`--image`).
    pub image: Option<String>,
    /// The digest of `image:<sha8>` for the newest tag's commit; `None` when the registry lacks it.
    pub pushed: Option<String>,
    /// What each container of the deployed workload runs, `container=image`.
    pub running: Vec<String>,
    /// The last deploy pipeline: number, status and the `IMAGE_TAG` it deployed.
    pub last_deploy: Option<String>,
    /// The cluster runs something other than the newest tag's build.
    pub behind: bool,
    /// What could not be read, and any other remark (a CronJob-only app tracks `:latest`).
    pub notes: Vec<String>,
}

/// The deploy pipeline's target, read back from the flags onboard wrote into it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Target {
    namespace: String,
    kind: String,
    name: String,
    containers: Vec<String>,
}

pub(crate) fn target(deploy_pipeline: &str) -> Option<Target> {
    let flag = |name: &str| crate::onboard::upgrade::after(deploy_pipeline, &format!("- --{name}=")).map(str::to_owned);
    Some(Target {
        namespace: flag("namespace")?,
        kind: flag("kind").unwrap_or_else(|| "deployment".into()),
        name: flag("name")?,
        containers: flag("container-name")?.split(',').map(str::to_owned).collect(),
    })
}

impl Fleet {
    /// The status of every onboarded repository. `kube` reads the workloads (without it, `running` is
    /// empty and noted); `registry` makes the client that reads an image host.
    pub async fn status(
        &self,
        kube: Option<&deployer::kube::Client>,
        registry: &(dyn Fn(&str) -> Result<ghcr_client::registry::Registry, crate::Error> + Sync),
    ) -> Result<Vec<RepoStatus>, crate::Error> {
        use futures_util::{stream, StreamExt};
        let onboarded = self.onboarded().await?;
        // `concurrency` repositories at a time, answered in the table's order.
        let statuses = stream::iter(onboarded)
            .map(|repo| self.repo_status(repo, kube, registry))
            .buffered(self.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        Ok(statuses)
    }

    async fn repo_status(
        &self,
        repo: Onboarded,
        kube: Option<&deployer::kube::Client>,
        registry: &(dyn Fn(&str) -> Result<ghcr_client::registry::Registry, crate::Error> + Sync),
    ) -> RepoStatus {
        let name = &repo.name;
        let mut status = RepoStatus {
            repo: name.to_string(),
            newest: None,
            image: None,
            pushed: None,
            running: Vec::new(),
            last_deploy: None,
            behind: false,
            notes: Vec::new(),
        };
        let image = crate::onboard::upgrade::after(&repo.workflow, " --image ").and_then(|i| ImageName::parse(i).ok());
        status.image = image.as_ref().map(ToString::to_string);
        match newest_release(&self.forgejo, name).await {
            Ok(newest) => status.newest = newest,
            Err(e) => status.notes.push(format!("tags: {}", crate::error::one_line(&e))),
        }
        let sha8 = status.newest.as_ref().map(|(_, sha8)| sha8.clone());
        if let (Some(image), Some(sha8)) = (&image, &sha8) {
            let digest = async {
                let tag = offinfra_types::Reference::parse(sha8)?;
                Ok::<_, crate::Error>(registry(image.registry())?.manifest_digest(image, &tag).await?)
            };
            match digest.await {
                Ok(digest) => status.pushed = digest.map(|d| d.to_string()),
                Err(e) => status.notes.push(format!("registry: {}", crate::error::one_line(&e))),
            }
        }
        let target = repo.deploy_pipeline.as_deref().and_then(target);
        match (&target, kube) {
            (None, _) => status.notes.push("no deploy pipeline: a CronJob-only app runs :latest".into()),
            (Some(_), None) => status.notes.push("cluster not read (no kubeconfig)".into()),
            (Some(target), Some(kube)) => match running(kube, target).await {
                Ok(running) => status.running = running,
                Err(e) => status.notes.push(format!("cluster: {}", crate::error::one_line(&e))),
            },
        }
        if let Some(github) = &repo.github {
            match self.last_deploy(github).await {
                Ok(last) => status.last_deploy = last,
                Err(e) => status.notes.push(format!("Woodpecker: {}", crate::error::one_line(&e))),
            }
        }
        if let (Some(image), Some(sha8), Some(target)) = (&image, &sha8, &target) {
            let newest = format!("{image}:{sha8}");
            let by_digest = status.pushed.as_ref().map(|d| format!("{image}@{d}"));
            status.behind = target.containers.iter().any(|container| {
                let runs = status.running.iter().find_map(|r| r.strip_prefix(&format!("{container}=")));
                runs.is_none_or(|runs| runs != newest && Some(runs) != by_digest.as_deref())
            });
        }
        status
    }

    /// `#<number> <status> (<IMAGE_TAG>)` of the newest manual pipeline of the GitHub mirror's
    /// registration, among its last 50.
    async fn last_deploy(&self, github: &RepoName) -> Result<Option<String>, crate::Error> {
        let registration = match self.woodpecker.lookup(github.owner(), github.name()).await {
            Ok(found) => found,
            Err(woodpecker_client::Error::Http(e)) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let pipelines = self.woodpecker.repo(registration.id).pipelines().list(Some(50)).await?;
        Ok(pipelines.iter().find(|p| p.event == "manual").map(|p| {
            let tag =
                p.variables.as_ref().and_then(|v| v.get("IMAGE_TAG")).map(|t| format!(" ({t})")).unwrap_or_default();
            format!("#{} {}{tag}", p.number, p.status.as_str())
        }))
    }
}

/// The newest release tag of `repo` (highest `v`-version without prerelease) and its commit's first 8.
async fn newest_release(
    forgejo: &forgejo_client::Forgejo,
    repo: &RepoName,
) -> Result<Option<(String, String)>, crate::Error> {
    use crate::flow::Forge;
    let tags = crate::flow::backends::ForgejoTags::new(forgejo.clone(), None)
        .tags(repo)
        .await
        .with_context(|| format!("listing the tags of {repo}"))?;
    let newest = crate::flow::newest_release(&tags, "v").filter(|t| t.commit.len() >= 8);
    Ok(newest.map(|t| (t.name.clone(), t.commit[..8].to_owned())))
}

/// `container=image` for each container `target` names.
async fn running(kube: &deployer::kube::Client, target: &Target) -> Result<Vec<String>, crate::Error> {
    let kind: deployer::Kind =
        target.kind.parse().map_err(|e: String| crate::Error::invalid(format!("--kind {}: {e}", target.kind)))?;
    let deployer = deployer::Deployer::new(kube.clone(), target.namespace.clone());
    let images = deployer
        .images(kind, &target.name)
        .await
        .with_context(|| format!("reading {} {}/{}", target.kind, target.namespace, target.name))?;
    Ok(target
        .containers
        .iter()
        .map(|c| match images.iter().find(|(name, _)| name == c) {
            Some((_, image)) => format!("{c}={image}"),
            None => format!("{c}=(no such container)"),
        })
        .collect())
}

/// The status as a table, a row per repository; `BEHIND` where the cluster does not run the newest build.
pub fn table(statuses: &[RepoStatus]) -> String {
    let rows: Vec<[String; 6]> = statuses
        .iter()
        .map(|s| {
            let newest = s.newest.as_ref().map(|(tag, sha8)| format!("{tag} {sha8}")).unwrap_or_else(|| "-".into());
            let pushed = match (&s.pushed, &s.newest) {
                (Some(_), _) => "yes".to_owned(),
                (None, Some(_)) => "NO".to_owned(),
                (None, None) => "-".to_owned(),
            };
            let running = match s.running.is_empty() {
                true => "-".to_owned(),
                false => s.running.iter().map(|r| short_image(r)).collect::<Vec<_>>().join(" "),
            };
            let state = match (s.behind, s.newest.is_some() && !s.running.is_empty()) {
                (true, _) => "BEHIND",
                (false, true) => "current",
                (false, false) => "?",
            };
            [s.repo.clone(), newest, pushed, running, s.last_deploy.clone().unwrap_or_else(|| "-".into()), state.into()]
        })
        .collect();
    let headers = ["REPOSITORY", "NEWEST", "PUSHED", "RUNNING", "LAST DEPLOY", "STATE"];
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([headers[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: [&str; 6]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(headers);
    for row in &rows {
        out += &line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
    for s in statuses.iter().filter(|s| !s.notes.is_empty()) {
        out += &format!("note {}: {}\n", s.repo, s.notes.join("; "));
    }
    out
}

/// `container=registry/owner/name:tag` as `container=:tag` (the repository is the row's).
fn short_image(running: &str) -> String {
    let Some((container, image)) = running.split_once('=') else { return running.to_owned() };
    if let Some((_, digest)) = image.split_once('@') {
        return format!("{container}@{}", digest.chars().take(19).collect::<String>());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => format!("{container}:{tag}"),
        None => running.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_read_from_the_rendered_deploy_step() {
        let step = "    entrypoint:\n      - /usr/local/bin/deploy\n      - --namespace=prod\n      - --kind=statefulset\n      - --name=app\n      - --container-name=app,worker\n";
        let t = target(step).unwrap();
        assert_eq!((t.namespace.as_str(), t.kind.as_str(), t.name.as_str()), ("prod", "statefulset", "app"));
        assert_eq!(t.containers, ["app", "worker"]);
        assert_eq!(target("steps: []"), None);
        assert_eq!(short_image("app=ghcr.io/acme/app:0123abcd"), "app:0123abcd");
        assert_eq!(short_image("app=127.0.0.1:5000/acme/app:v1"), "app:v1");
        assert_eq!(short_image("app=ghcr.io/acme/app@sha256:0123456789abcdef"), "app@sha256:0123456789ab");
    }
}
