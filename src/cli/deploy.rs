//! The deploy side's flags: [`TriggerArgs`] (`trigger-deploy`) gives the pipeline variables, the
//! registration and the wait; [`RollOutArgs`] (`deploy`) the workload and its new images. Both read
//! Woodpecker plugin settings (`PLUGIN_*`) too.

use std::{collections::BTreeMap, time::Duration};

use crate::{
    deployer::{
        set_image::{parse_pairs, ImagePair},
        Kind,
    },
    types::{ImageName, ImageRef, RepoName, Tag},
    woodpecker_client::{Wait, Woodpecker},
    Error, ResultExt,
};

/// Which registration's manual pipeline to start, with which variables, and whether to wait for it.
#[derive(clap::Args, Debug, Clone)]
pub struct TriggerArgs {
    /// The Woodpecker web address (ROOT_PATH included)
    #[arg(long, env = "PLUGIN_WOODPECKER_URL", value_name = "URL")]
    pub woodpecker_url: String,
    /// The repository's Woodpecker id
    #[arg(long, env = "PLUGIN_REPO_ID", conflicts_with = "repo", required_unless_present = "repo")]
    pub repo_id: Option<i64>,
    /// The repository as owner/name (looked up to its id)
    #[arg(long, env = "PLUGIN_REPO", value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// The branch to run the pipeline on
    #[arg(long, env = "PLUGIN_BRANCH", default_value = "master")]
    pub branch: String,
    /// A pipeline variable KEY=VALUE (repeat, or comma-separate in PLUGIN_VARS)
    #[arg(long = "var", value_name = "KEY=VALUE", env = "PLUGIN_VARS", value_delimiter = ',')]
    pub vars: Vec<String>,
    /// Adds IMAGE_TAG to the variables (the deploy pipeline's convention)
    #[arg(long, env = "IMAGE_TAG")]
    pub image_tag: Option<String>,
    /// Adds IMAGE_NAME to the variables
    #[arg(long, env = "IMAGE_NAME")]
    pub image_name: Option<String>,
    /// Wait for the pipeline's result; the exit code mirrors it
    #[arg(long, env = "PLUGIN_WAIT", num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub wait: Option<bool>,
    /// How long to wait (e.g. 300s, 5m)
    #[arg(long, env = "PLUGIN_TIMEOUT", default_value = "300s", value_parser = crate::ci::parse_duration)]
    pub timeout: Duration,
    /// The first pause between two status polls (it grows to 10 s)
    #[arg(long, default_value = "2s", value_parser = crate::ci::parse_duration)]
    pub poll: Duration,
    /// Woodpecker personal access token (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "WOODPECKER_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Post the result to this Slack incoming webhook (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "SLACK_WEBHOOK", hide_env_values = true)]
    pub slack_webhook: Option<String>,
}

impl TriggerArgs {
    /// The pipeline variables: `--var`s, then `IMAGE_TAG`/`IMAGE_NAME`, each of those two held to its rule
    /// however it was given (the deploy pipeline runs what they name).
    pub fn variables(&self) -> Result<BTreeMap<String, String>, Error> {
        let mut variables = BTreeMap::new();
        for var in self.vars.iter().filter(|v| !v.is_empty()) {
            let (key, value) = var
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| Error::invalid(format!("--var {var:?}: expected KEY=VALUE")))?;
            variables.insert(key.to_owned(), value.to_owned());
        }
        variables.extend(self.image_tag.clone().map(|tag| ("IMAGE_TAG".to_owned(), tag)));
        variables.extend(self.image_name.clone().map(|name| ("IMAGE_NAME".to_owned(), name)));
        if let Some(name) = variables.get("IMAGE_NAME") {
            ImageName::parse(name).context("IMAGE_NAME")?;
        }
        if let Some(tag) = variables.get("IMAGE_TAG") {
            Tag::parse(tag).context("IMAGE_TAG")?;
        }
        Ok(variables)
    }

    /// The Woodpecker client.
    pub fn woodpecker(&self) -> Result<Woodpecker, Error> {
        Ok(Woodpecker::new(&self.woodpecker_url, self.token.clone().into())?)
    }

    /// The registration's id: `--repo-id`, or `--repo` looked up.
    pub async fn repo_id(&self, ci: &Woodpecker) -> Result<i64, Error> {
        match (self.repo_id, &self.repo) {
            (Some(id), _) => Ok(id),
            (None, Some(full)) => {
                let repo = RepoName::parse(full).context("--repo")?;
                Ok(ci.lookup(repo.owner(), repo.name()).await.with_context(|| format!("looking up {full}"))?.id)
            }
            (None, None) => Err(Error::invalid("give --repo-id or --repo")),
        }
    }

    /// How to wait for the result, when `--wait` asks to (the failed steps' last 30 log lines each).
    pub fn wait(&self) -> Option<Wait> {
        self.wait.unwrap_or(false).then_some(Wait { timeout: self.timeout, first_poll: self.poll, tail_lines: 30 })
    }
}

/// The workload to update, its new images and how to wait. `--dry-run` is not here.
#[derive(clap::Args, Debug, Clone)]
pub struct RollOutArgs {
    /// The namespace (default: the kubeconfig context's, or the in-cluster one)
    #[arg(long, short = 'n', env = "PLUGIN_NAMESPACE")]
    pub namespace: Option<String>,
    /// deployment, statefulset, daemonset, replicaset, job, cronjob or pod
    #[arg(long, env = "PLUGIN_KIND", default_value = "deployment")]
    pub kind: Kind,
    /// The workload's name
    #[arg(long, env = "PLUGIN_NAME")]
    pub name: String,
    /// NAME=IMAGE (repeat), or *=IMAGE for every container
    #[arg(long = "container", value_name = "NAME=IMAGE")]
    pub containers: Vec<String>,
    /// Plugin style: the container to update (with --image, or IMAGE_NAME and IMAGE_TAG)
    #[arg(long, env = "PLUGIN_CONTAINER")]
    pub container_name: Option<String>,
    /// Plugin style: the new image
    #[arg(long, env = "PLUGIN_IMAGE")]
    pub image: Option<String>,
    /// How long to wait for the rollout (0 = forever, as kubectl)
    #[arg(long, env = "PLUGIN_TIMEOUT", default_value = "300s", value_parser = crate::ci::parse_duration)]
    pub timeout: Duration,
    /// When the rollout fails, roll back (a Deployment to its previous revision, other kinds to their
    /// previous images) and wait for that rollout
    #[arg(long, env = "PLUGIN_ROLLBACK_ON_FAILURE")]
    pub rollback_on_failure: bool,
    /// Post the result to this Slack incoming webhook (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "SLACK_WEBHOOK", hide_env_values = true)]
    pub slack_webhook: Option<String>,
}

impl RollOutArgs {
    /// The container=image pairs: `--container`s, then the plugin style's container with `--image`, or
    /// with `IMAGE_NAME:IMAGE_TAG` (pipeline variables, each held to its rule); every image checked.
    pub fn pairs(&self) -> Result<Vec<ImagePair>, Error> {
        let mut raw = self.containers.clone();
        if let Some(name) = &self.container_name {
            let image = match (&self.image, std::env::var("IMAGE_NAME"), std::env::var("IMAGE_TAG")) {
                (Some(image), _, _) => image.clone(),
                // Pipeline variables come from whoever triggered the pipeline: each is held to its rule.
                (None, Ok(name), Ok(tag)) if !name.is_empty() && !tag.is_empty() => {
                    let name = ImageName::parse(&name).context("IMAGE_NAME")?;
                    name.with_tag(&Tag::parse(&tag).context("IMAGE_TAG")?).to_string()
                }
                _ => {
                    let message = format!("container {name}: give --image (PLUGIN_IMAGE), or IMAGE_NAME and IMAGE_TAG");
                    return Err(Error::invalid(message));
                }
            };
            raw.push(format!("{name}={image}"));
        }
        let pairs = parse_pairs(&raw).map_err(|e| Error::invalid(e.to_string()))?;
        for pair in &pairs {
            ImageRef::parse(&pair.image).with_context(|| format!("container {}", pair.container))?;
        }
        Ok(pairs)
    }
}
