//! The `onboard` example's flags: [`OnboardArgs`] gives the [`Settings`] and the three API clients.

use std::{collections::BTreeMap, path::PathBuf};

use crate::{
    forgejo_client::Forgejo,
    http::{Auth, Client},
    onboard::Settings,
    types::RepoName,
    woodpecker_client::Woodpecker,
    Error, ResultExt,
};

/// What to put on the pipeline and with which servers. `--dry-run`/`--format` are not here
/// ([`super::Output`]).
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct OnboardArgs {
    /// The repository on Forgejo, owner/name
    #[arg(long, value_name = "OWNER/NAME", required_unless_present = "upgrade")]
    pub repo: Option<String>,
    /// Move every onboarded repository of --owner to this offinfra version instead: their files
    /// re-rendered from what onboard wrote and their .offinfra.yml, one commit each (--dry-run shows the diffs)
    #[arg(long, requires = "owners", conflicts_with = "repo")]
    pub upgrade: bool,
    /// The Forgejo users or organisations --upgrade goes through (repeat, or comma-separated)
    #[arg(long = "owner", value_delimiter = ',', value_name = "OWNER")]
    pub owners: Vec<String>,
    /// The branch to build, deploy and make the default
    #[arg(long, default_value = "master")]
    pub branch: String,
    /// Forgejo\'s address and token.
    #[command(flatten)]
    pub forgejo: super::ForgejoFlags,
    /// Woodpecker\'s address and token.
    #[command(flatten)]
    pub woodpecker: super::WoodpeckerFlags,
    /// The GitHub repository the mirror pushes to (default: the same owner/name)
    #[arg(long, value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// The GitHub user the mirror pushes as
    #[arg(long, env = "GITHUB_MIRROR_USER", default_value = "x-access-token")]
    pub github_user: String,
    /// A Woodpecker token of a user of the GitHub forge, to activate the mirror's registration (default:
    /// the Woodpecker token; prefer the variable: a flag shows in the process list)
    #[arg(long, env = "WOODPECKER_GITHUB_TOKEN", hide_env_values = true)]
    pub woodpecker_github_token: Option<String>,
    /// The GitHub API (read to check that the mirror would not overwrite GitHub commits)
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
    /// Create the push mirror even though GitHub has commits Forgejo lacks (they are overwritten)
    #[arg(long)]
    pub allow_overwrite: bool,
    /// GitHub token the mirror pushes with (contents: write) (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "GITHUB_MIRROR_TOKEN", hide_env_values = true)]
    pub github_token: Option<String>,
    /// The image repository (default: ghcr.io/<github owner>/<name>, lower case)
    #[arg(long)]
    pub image: Option<String>,
    /// The Kubernetes namespace the deploy step targets (default: the repository name)
    #[arg(long)]
    pub namespace: Option<String>,
    /// The Deployment (default: the repository name)
    #[arg(long)]
    pub deployment: Option<String>,
    /// The container in it (default: the repository name)
    #[arg(long)]
    pub container: Option<String>,
    /// A service account for the deploy step (default: none, the pipeline namespace's default account);
    /// honoured only when the agent runs with WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP=true
    #[arg(long, value_name = "NAME")]
    pub service_account: Option<String>,
    /// The Woodpecker secret holding a Slack incoming webhook for the deploy step's result (its events must
    /// include manual)
    #[arg(long, value_name = "NAME")]
    pub slack_secret: Option<String>,
    /// The image holding our `deploy` binary (default, for --offinfra-git on GitHub: the image its release
    /// pushes, ghcr.io/<owner>/offinfra-deploy:<this version>); a tag is pinned to its digest
    #[arg(long, env = "OFFINFRA_DEPLOY_IMAGE")]
    pub deploy_image: Option<String>,
    /// The repository offinfra is released from (required): the workflow installs its release binary
    #[arg(long, env = "OFFINFRA_GIT")]
    pub offinfra_git: Option<String>,
    /// The GitHub environment, limited to --branch, that holds the workflow's secrets
    #[arg(long, default_value = "deploy", value_name = "NAME")]
    pub environment: String,
    /// The Actions secret the workflow reads the Forgejo token from
    #[arg(long, default_value = "FORGEJO_GIT_TOKEN", value_name = "NAME")]
    pub forgejo_secret: String,
    /// The Actions secret the workflow reads the Woodpecker token from
    #[arg(long, default_value = "WOODPECKER_TOKEN", value_name = "NAME")]
    pub woodpecker_secret: String,
    /// An Actions secret to set on the mirror, its value from variable VARIABLE (default: NAME)
    /// (repeat; default: the two above)
    #[arg(long = "actions-secret", value_name = "NAME[=VARIABLE]")]
    pub actions_secrets: Vec<String>,
    /// A file of NAME=VALUE lines giving Actions secret values (read before the variables)
    #[arg(long, value_name = "FILE")]
    pub actions_secrets_file: Option<PathBuf>,
    /// Overwrite Actions secrets that already exist (their values cannot be compared)
    #[arg(long)]
    pub replace_secrets: bool,
    /// Overwrite a rendered file edited since onboard wrote it (by default onboard prints the diff and stops)
    #[arg(long)]
    pub force: bool,
}

impl OnboardArgs {
    /// The settings, each input held to its rule. Actions secret values come from
    /// `--actions-secrets-file`, then from the variables `env` reads.
    pub fn settings(&self, env: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let mut from_file = BTreeMap::new();
        if let Some(path) = &self.actions_secrets_file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| Error::Io { what: format!("--actions-secrets-file {}", path.display()), source })?;
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                if let Some((name, value)) = line.split_once('=') {
                    from_file.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
        let wanted = match self.actions_secrets.is_empty() {
            true => vec![self.forgejo_secret.clone(), self.woodpecker_secret.clone()],
            false => self.actions_secrets.clone(),
        };
        let actions_secrets = wanted
            .iter()
            .map(|spec| {
                let (name, variable) = spec.split_once('=').unwrap_or((spec.as_str(), spec.as_str()));
                let value = from_file.get(name).cloned().or_else(|| env(variable)).filter(|v| !v.is_empty());
                // Read from a file or a variable of the user's choosing: masked before anything prints.
                if let Some(value) = &value {
                    crate::ci::Actions::from_env().mask(value);
                }
                (name.to_owned(), value.map(Into::into))
            })
            .collect();
        let repo = self.repo.as_deref().ok_or_else(|| Error::invalid("onboarding needs --repo OWNER/NAME"))?;
        Ok(Settings {
            repo: RepoName::parse(repo).context("--repo")?,
            github_repo: self.github_repo.as_deref().map(RepoName::parse).transpose().context("--github-repo")?,
            branch: self.branch.clone(),
            forgejo_url: super::required(&self.forgejo.forgejo_url, "--forgejo-url (FORGEJO_URL)")?.to_owned(),
            woodpecker_url: super::required(&self.woodpecker.woodpecker_url, "--woodpecker-url (WOODPECKER_URL)")?
                .to_owned(),
            github_user: self.github_user.clone(),
            github_token: self.github_token.clone().unwrap_or_default().into(),
            image: self.image.clone(),
            namespace: self.namespace.clone(),
            deployment: self.deployment.clone(),
            container: self.container.clone(),
            service_account: self.service_account.clone(),
            slack_secret: self.slack_secret.clone(),
            deploy_image: self.deploy_image.clone(),
            offinfra_git: self.offinfra_git.clone(),
            environment: self.environment.clone(),
            forgejo_secret: self.forgejo_secret.clone(),
            woodpecker_secret: self.woodpecker_secret.clone(),
            allow_overwrite: self.allow_overwrite,
            actions_secrets,
            replace_secrets: self.replace_secrets,
            force: self.force,
        })
    }

    /// The Forgejo, Woodpecker and GitHub clients. The Woodpecker registration is the GitHub mirror's,
    /// activated by a Woodpecker user of the GitHub forge (`--woodpecker-github-token`) when one is given.
    pub fn clients(&self) -> Result<(Forgejo, Woodpecker, Client), Error> {
        let woodpecker = match self.woodpecker_github_token.clone().filter(|t| !t.is_empty()) {
            Some(token) => Woodpecker::new(
                super::required(&self.woodpecker.woodpecker_url, "--woodpecker-url (WOODPECKER_URL)")?,
                token.into(),
            )?,
            None => self.woodpecker.client()?,
        };
        let mut github = Client::builder(&self.github_api_url);
        if let Some(token) = self.github_token.clone().filter(|t| !t.is_empty()) {
            github = github.auth(Auth::Bearer(token.into()));
        }
        Ok((self.forgejo.client()?, woodpecker, github.build()?))
    }

    /// What `--upgrade` is asked to do.
    pub fn upgrade_options(&self, dry_run: bool) -> crate::onboard::UpgradeOptions {
        crate::onboard::UpgradeOptions {
            owners: self.owners.iter().map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect(),
            deploy_image: self.deploy_image.clone().filter(|i| !i.is_empty()),
            force: self.force,
            dry_run,
        }
    }

    /// Whether a GitHub token for the push mirror was given.
    pub fn has_mirror_token(&self) -> bool {
        super::given(&self.github_token)
    }
}
