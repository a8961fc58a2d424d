//! The deploy side's flags: [`TriggerArgs`] (`trigger-deploy`) gives the pipeline variables, the
//! registration and the wait; [`RollOutArgs`] (`deploy`) the workload and its new images. Both read
//! Woodpecker plugin settings (`PLUGIN_*`) when run as a plugin ([`super::is_plugin_run`]).
//!
//! `deploy` runs in two ways, told apart by whether any argument is given:
//! - **As the onboarded deploy step** (`entrypoint:` with flags): the flags fix the workload, the
//!   container and the image repository (`--image-repository`); the only input taken from the manual
//!   pipeline's variables is `IMAGE_TAG`. An `IMAGE_NAME` that names another repository is refused, and
//!   no `PLUGIN_*` variable is read (whoever starts a manual pipeline sets those too).
//! - **As a Woodpecker plugin** (no arguments): every flag comes from its `PLUGIN_*` setting.

use std::{collections::BTreeMap, time::Duration};

use crate::{
    deployer::{
        set_image::{check_pairs, parse_pair, ImagePair},
        Kind,
    },
    types::{ImageName, ImageRef, RepoName, Tag},
    woodpecker_client::{Wait, Woodpecker},
    Error, ResultExt,
};

/// Which registration's manual pipeline to start, with which variables, and whether to wait for it.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
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
    #[arg(long, env = "PLUGIN_TIMEOUT", default_value = "300s", value_parser = crate::cli::parse_duration)]
    pub timeout: Duration,
    /// The first pause between two status polls (it grows to 10 s)
    #[arg(long, default_value = "2s", value_parser = crate::cli::parse_duration)]
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

/// The workload to update, its new images and how to wait (see the module doc for the two ways to run).
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
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
    /// The container to update (with --image, or --image-repository and IMAGE_TAG); repeat, or separate
    /// with commas, for several containers that run the same image
    #[arg(long = "container-name", env = "PLUGIN_CONTAINER", value_delimiter = ',')]
    pub container_names: Vec<String>,
    /// The container's new image, whole
    #[arg(long, env = "PLUGIN_IMAGE", conflicts_with = "image_repository")]
    pub image: Option<ImageRef>,
    /// The container's image repository, fixed; the tag comes from IMAGE_TAG (a pipeline variable), and
    /// an IMAGE_NAME other than this repository is refused
    #[arg(long, env = "PLUGIN_IMAGE_REPOSITORY", value_name = "REGISTRY/REPOSITORY")]
    pub image_repository: Option<ImageName>,
    /// How long to wait for the rollout (0 = forever, as kubectl)
    #[arg(long, env = "PLUGIN_TIMEOUT", default_value = "300s", value_parser = crate::cli::parse_duration)]
    pub timeout: Duration,
    /// When the rollout fails, roll back (a Deployment to its previous revision, other kinds to their
    /// previous images) and wait for that rollout
    #[arg(long, env = "PLUGIN_ROLLBACK_ON_FAILURE")]
    pub rollback_on_failure: bool,
    /// The variable that holds the Slack incoming webhook to post the result to (the step sets it
    /// from a Woodpecker secret; its value never shows)
    #[arg(long, value_name = "VARIABLE")]
    pub slack_webhook_env: Option<String>,
    /// Talk to the cluster only as the pod's service account, at the `kubernetes` Service
    /// (kubernetes.default.svc:443, or HOST:PORT), ignoring KUBECONFIG and KUBERNETES_SERVICE_HOST/PORT:
    /// a triggered pipeline's variables can set those, and would receive the account's token
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "kubernetes.default.svc:443", value_name = "HOST:PORT", value_parser = parse_server)]
    pub in_cluster: Option<(String, u16)>,
    /// As a plugin: the Slack incoming webhook (a `from_secret` setting)
    #[arg(long, env = "PLUGIN_SLACK_WEBHOOK", hide_env_values = true, hide = true)]
    pub slack_webhook: Option<String>,
}

/// `HOST:PORT` (an IPv6 host in brackets).
fn parse_server(text: &str) -> Result<(String, u16), String> {
    let (host, port) = text.rsplit_once(':').ok_or_else(|| format!("{text:?}: expected HOST:PORT"))?;
    let port = port.parse::<u16>().map_err(|_| format!("{text:?}: {port:?} is not a port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b));
    match ok {
        true => Ok((host.to_owned(), port)),
        false => Err(format!("{text:?}: {host:?} is not a host name or address")),
    }
}

impl RollOutArgs {
    /// The cluster client: `--in-cluster`'s service account and Service only, else the kubeconfig, else
    /// the in-cluster variables, as kubectl orders them ([`crate::deployer::Deployer::infer`]).
    pub async fn deployer(&self) -> Result<crate::deployer::Deployer, Error> {
        let namespace = self.namespace.as_deref();
        Ok(match &self.in_cluster {
            Some((host, port)) => {
                let dir = std::path::Path::new(crate::deployer::SERVICE_ACCOUNT_DIR);
                crate::deployer::Deployer::in_cluster(dir, host, *port, namespace).await?
            }
            None => crate::deployer::Deployer::infer(namespace).await?,
        })
    }

    /// The container=image pairs: `--container`s, then `--container-name` with `--image`, or with
    /// `--image-repository` and the pipeline variable `IMAGE_TAG` (held to its rule; an `IMAGE_NAME` that
    /// differs from the repository is refused); every image checked.
    pub fn pairs(&self) -> Result<Vec<ImagePair>, Error> {
        self.pairs_with(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`Self::pairs`] with the pipeline variables read through `var`.
    pub fn pairs_with(&self, var: impl Fn(&str) -> Option<String>) -> Result<Vec<ImagePair>, Error> {
        let mut pairs = Vec::new();
        for raw in &self.containers {
            let pair = parse_pair(raw).map_err(|e| Error::invalid(e.to_string()))?;
            ImageRef::parse(&pair.image).with_context(|| format!("container {}", pair.container))?;
            pairs.push(pair);
        }
        for name in &self.container_names {
            let image = match (&self.image, &self.image_repository) {
                (Some(image), _) => image.clone(),
                (None, Some(repository)) => {
                    // Pipeline variables come from whoever triggered the pipeline: the tag is held to its
                    // rule, and the repository is this step's own.
                    if let Some(asked) = var("IMAGE_NAME").filter(|asked| *asked != repository.to_string()) {
                        let message = format!(
                            "IMAGE_NAME {asked:?} is not {repository}, the repository this deploy step is fixed to \
                             (a triggered deploy chooses only the tag)"
                        );
                        return Err(Error::invalid(message));
                    }
                    let tag = var("IMAGE_TAG").ok_or_else(|| {
                        Error::invalid(format!(
                            "container {name}: IMAGE_TAG is not set (the tag of {repository} to deploy)"
                        ))
                    })?;
                    repository.with_tag(&Tag::parse(&tag).context("IMAGE_TAG")?)
                }
                (None, None) => {
                    let message = format!("container {name}: give --image, or --image-repository with IMAGE_TAG");
                    return Err(Error::invalid(message));
                }
            };
            // The pair is built from the typed reference: nothing is written out and parsed again.
            pairs.push(ImagePair { container: name.clone(), image: image.to_string() });
        }
        check_pairs(pairs).map_err(|e| Error::invalid(e.to_string()))
    }

    /// The Slack webhook: the plugin setting, or the variable `--slack-webhook-env` names. Never
    /// `SLACK_WEBHOOK` by itself: in a manual pipeline any variable may come from whoever triggered it.
    pub fn slack_webhook(&self) -> Option<String> {
        let from_env = self.slack_webhook_env.as_deref().and_then(|name| std::env::var(name).ok());
        self.slack_webhook.clone().or(from_env).filter(|w| !w.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Step {
        #[command(flatten)]
        roll_out: RollOutArgs,
    }

    fn step(args: &[&str]) -> RollOutArgs {
        Step::parse_from(std::iter::once("deploy").chain(args.iter().copied())).roll_out
    }

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_fixed_repository_takes_only_the_tag_from_the_variables() {
        let args = step(&["--name", "app", "--container-name", "app", "--image-repository", "ghcr.io/acme/app"]);
        let pairs = args.pairs_with(vars(&[("IMAGE_TAG", "0123abcd")])).unwrap();
        assert_eq!((pairs[0].container.as_str(), pairs[0].image.as_str()), ("app", "ghcr.io/acme/app:0123abcd"));
        // The same repository named again is fine; another one is refused, naming both.
        let same = vars(&[("IMAGE_TAG", "1.2.3"), ("IMAGE_NAME", "ghcr.io/acme/app")]);
        assert_eq!(args.pairs_with(same).unwrap()[0].image, "ghcr.io/acme/app:1.2.3");
        let other = vars(&[("IMAGE_TAG", "1"), ("IMAGE_NAME", "evil.example/acme/app")]);
        let err = args.pairs_with(other).unwrap_err().to_string();
        assert!(err.contains("\"evil.example/acme/app\" is not ghcr.io/acme/app"), "{err}");
        let err = args.pairs_with(vars(&[])).unwrap_err().to_string();
        assert!(err.contains("IMAGE_TAG is not set"), "{err}");
        let err = args.pairs_with(vars(&[("IMAGE_TAG", "1 --kubeconfig=/x")])).unwrap_err().to_string();
        assert!(err.starts_with("IMAGE_TAG: "), "{err}");
    }

    #[test]
    fn in_cluster_names_the_kubernetes_service_unless_told_another_server() {
        assert_eq!(step(&["--name", "a"]).in_cluster, None);
        let service = step(&["--name", "a", "--in-cluster"]).in_cluster;
        assert_eq!(service, Some(("kubernetes.default.svc".to_owned(), 443)));
        let other = step(&["--name", "a", "--in-cluster=[::1]:6443"]).in_cluster;
        assert_eq!(other, Some(("::1".to_owned(), 6443)));
        for bad in ["--in-cluster=host", "--in-cluster=h:x", "--in-cluster=a/b:1"] {
            assert!(Step::try_parse_from(["deploy", "--name", "a", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn several_containers_take_the_same_image() {
        let args = step(&["--name", "app", "--container-name=app,worker", "--image-repository=ghcr.io/acme/app"]);
        let pairs = args.pairs_with(vars(&[("IMAGE_TAG", "0123abcd")])).unwrap();
        let got: Vec<(&str, &str)> = pairs.iter().map(|p| (p.container.as_str(), p.image.as_str())).collect();
        assert_eq!(got, [("app", "ghcr.io/acme/app:0123abcd"), ("worker", "ghcr.io/acme/app:0123abcd")]);
        let repeated =
            step(&["--name", "a", "--container-name", "x", "--container-name", "y", "--image", "r.io/a/b:1"]);
        assert_eq!(repeated.pairs().unwrap().len(), 2);
    }

    #[test]
    fn the_webhook_comes_from_the_named_variable_or_the_plugin_setting_only() {
        assert_eq!(step(&["--name", "a"]).slack_webhook(), None);
        let named = step(&["--name", "a", "--slack-webhook-env", "OFFINFRA_TEST_SURELY_UNSET_VARIABLE"]);
        assert_eq!(named.slack_webhook(), None);
        let path = step(&["--name", "a", "--slack-webhook-env", "PATH"]);
        assert_eq!(path.slack_webhook(), std::env::var("PATH").ok());
    }
}
