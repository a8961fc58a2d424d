//! The `flow` example's flags: [`FlowArgs`] gives the [`Config`] and the [`Connect`] of one run.

use std::{path::PathBuf, time::Duration};

use crate::{
    flow::{connect::Connect, Config, Steps},
    ghcr_client::{layout::PlatformSpec, packages::DEFAULT_API_URL},
    svu::config::Settings,
    types::{CommitId, ImageName, RepoName, Tag},
    Error,
};

/// Version, tag, push, prune and deploy: what to do and with which servers. `--dry-run`/`--format` are
/// not here ([`super::Output`]).
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct FlowArgs {
    /// The repository the CI builds, owner/name (in Actions the GitHub mirror; default: the origin remote)
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub repo: Option<RepoName>,
    /// The canonical Forgejo repository that receives the tag (default: forgejo_repository in .offinfra.yml)
    #[arg(long, env = "FORGEJO_REPOSITORY", value_name = "OWNER/NAME")]
    pub forgejo_repo: Option<RepoName>,
    /// The Woodpecker registration that deploys, by name (default: --repo)
    #[arg(long, value_name = "OWNER/NAME")]
    pub woodpecker_repo: Option<RepoName>,
    /// The built commit (default: HEAD)
    #[arg(long, env = "GITHUB_SHA", value_name = "SHA")]
    pub sha: Option<CommitId>,
    /// The image repository (default: ghcr.io/<owner>/<name>, lower case)
    #[arg(long, env = "IMAGE_NAME", value_name = "REGISTRY/OWNER/NAME")]
    pub image: Option<ImageName>,
    /// Tags pushed besides <sha8> (repeat)
    #[arg(long = "tag", default_value = "latest", value_name = "TAG")]
    pub tags: Vec<Tag>,
    /// Skip creating the version tag
    #[arg(long)]
    pub skip_tag: bool,
    /// Skip pushing the image
    #[arg(long)]
    pub skip_push: bool,
    /// Skip pruning the package
    #[arg(long)]
    pub skip_prune: bool,
    /// Skip triggering the deploy
    #[arg(long)]
    pub skip_deploy: bool,
    /// svu config file
    #[arg(long, default_value = ".svu.yml", value_name = "FILE")]
    pub config: PathBuf,
    /// The version tag's prefix
    #[arg(long = "tag.prefix", value_name = "PREFIX")]
    pub tag_prefix: Option<String>,
    /// Only commits that changed these directories count (repeat or comma-separate)
    #[arg(long = "log.directory", value_delimiter = ',', value_name = "DIR")]
    pub log_directory: Vec<String>,
    /// Classify commits by the Conventional Commits grammar
    #[arg(long)]
    pub strict: bool,
    /// Forgejo\'s address and token.
    #[command(flatten)]
    pub forgejo: super::ForgejoFlags,
    /// The OCI layout docker buildx wrote (directory or tar)
    #[arg(long, env = "PLUGIN_LAYOUT", value_name = "DIR|TAR")]
    pub layout: Option<PathBuf>,
    /// The platform to push from a multi-platform layout
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH[/VARIANT]")]
    pub platform: PlatformSpec,
    /// Registry user (ghcr.io: any user, e.g. $GITHUB_ACTOR)
    #[arg(long, env = "GITHUB_ACTOR", value_name = "USER")]
    pub registry_username: Option<String>,
    /// Speak plain HTTP even to a non-loopback registry
    #[arg(long)]
    pub plain_http: bool,
    /// GitHub token: Packages API (delete:packages) and ghcr.io password (write:packages); prefer the env
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: Option<String>,
    /// Another registry that may receive GITHUB_TOKEN as its password (repeat)
    #[arg(long = "token-registry", value_name = "HOST")]
    pub token_registries: Vec<String>,
    /// Docker config directory whose stored login goes to an image registry the GitHub token does not
    /// (default ~/.docker: what the workflow's `docker login` steps write)
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    pub docker_config: Option<PathBuf>,
    /// GitHub API base URL
    #[arg(long, env = "GITHUB_API_URL", default_value = DEFAULT_API_URL)]
    pub github_api_url: String,
    /// The registry whose packages the GitHub Packages API manages (a GitHub Enterprise Server's own); an
    /// image on another registry is not pruned
    #[arg(long, default_value = crate::flow::GHCR, value_name = "HOST")]
    pub packages_registry: String,
    /// Images kept by the prune
    #[arg(long, default_value_t = 10)]
    pub keep: usize,
    /// A failed prune is reported but does not fail the step (it never holds back the deploy)
    #[arg(long)]
    pub prune_failure_ok: bool,
    /// Never prune versions with a tag matching this regular expression
    #[arg(long, value_name = "REGEX")]
    pub protect_tags: Option<String>,
    /// Woodpecker\'s address and token.
    #[command(flatten)]
    pub woodpecker: super::WoodpeckerFlags,
    /// The Woodpecker registration's numeric id (default: looked up by name)
    #[arg(long, env = "WOODPECKER_REPO_ID")]
    pub woodpecker_repo_id: Option<i64>,
    /// The branch the deploy pipeline runs on
    #[arg(long, default_value = "master")]
    pub deploy_branch: String,
    /// Wait for the deploy pipeline's result
    #[arg(long)]
    pub wait: bool,
    /// How long to wait for it
    #[arg(long, default_value = "300s", value_parser = crate::cli::parse_duration)]
    pub timeout: Duration,
}

impl FlowArgs {
    /// The run's configuration (each input was held to its rule as clap parsed it). `dry_run` lets the
    /// plan fall back to local guesses where a dry run has no server to ask.
    pub fn config(&self, cwd: PathBuf, dry_run: bool) -> Result<Config, Error> {
        Ok(Config {
            svu_config: self.config.clone(),
            svu: Settings {
                tag_prefix: self.tag_prefix.clone(),
                strict: self.strict.then_some(true),
                directories: (!self.log_directory.is_empty()).then(|| self.log_directory.clone()),
                ..Settings::default()
            },
            repo: self.repo.clone(),
            forgejo_repo: self.forgejo_repo.clone(),
            woodpecker_repo: self.woodpecker_repo.clone(),
            woodpecker_repo_id: self.woodpecker_repo_id,
            sha: self.sha.clone(),
            image: self.image.clone(),
            extra_tags: self.tags.clone(),
            keep: self.keep,
            packages_registry: self.packages_registry.clone(),
            deploy_branch: self.deploy_branch.clone(),
            steps: Steps {
                tag: !self.skip_tag,
                push: !self.skip_push,
                prune: !self.skip_prune,
                deploy: !self.skip_deploy,
            },
            prune_failure_ok: self.prune_failure_ok,
            local_fallback: dry_run,
            ..Config::new(cwd)
        })
    }

    /// The servers and credentials of the run.
    pub fn connect(&self) -> Result<Connect, Error> {
        Ok(Connect {
            forgejo_url: self.forgejo.forgejo_url.clone(),
            forgejo_token: self.forgejo.forgejo_token.clone().map(Into::into),
            forgejo_reach: self.forgejo.reach.reach()?,
            layout: self.layout.clone(),
            platform: self.platform.clone(),
            registry_username: self.registry_username.clone(),
            plain_http: self.plain_http,
            github_token: self.github_token.clone().map(Into::into),
            token_registries: self.token_registries.clone(),
            docker_config: self.docker_config.clone().or_else(|| {
                std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".docker"))
            }),
            github_api_url: self.github_api_url.clone(),
            protect_tags: self.protect_tags.clone(),
            woodpecker_url: self.woodpecker.woodpecker_url.clone(),
            woodpecker_token: self.woodpecker.woodpecker_token.clone().map(Into::into),
            wait: self.wait.then_some(self.timeout),
        })
    }
}
