//! Onboarding a Forgejo repository onto the pipeline: a push mirror to GitHub that syncs on commit, the
//! GitHub Actions build workflow and the Woodpecker deploy pipeline committed (old pipeline files removed)
//! in one commit, the repository activated in Woodpecker, and the default branch flipped and verified.
//!
//! [`inspect`] reads the current state and returns a [`OnboardPlan`] of only what differs; [`apply`]
//! carries out that plan and nothing else. Run again, the plan is empty and nothing is written.

mod repo_file;
pub(crate) mod stamp;
mod steps;
pub(crate) mod upgrade;

pub use repo_file::{ImageBuild, RegistryLogin, RepoSettings, Workload, WorkloadKind, REPO_FILE};
pub use stamp::{intact, stamped, Found};
pub use upgrade::{settings_from_rendered, upgrade, upgrade_report, Upgrade, UpgradeOptions};

use forgejo_client::{ChangeFiles, CreatePushMirror, Entry, FileChange, Forgejo};
use offinfra_http::SecretString;
use serde::Serialize;

use crate::ResultExt;
use woodpecker_client::Woodpecker;

/// The GitHub Actions workflow template (`@@key@@` placeholders).
pub const BUILD_TEMPLATE: &str = include_str!("templates/build.yml");
/// The Woodpecker deploy pipeline template.
pub const DEPLOY_TEMPLATE: &str = include_str!("templates/deploy.yml");
/// Where the workflow goes.
pub const BUILD_PATH: &str = ".github/workflows/build.yml";
/// Where the deploy pipeline goes.
pub const DEPLOY_PATH: &str = ".woodpecker/deploy.yml";

/// Everything the templates and the steps need.
#[derive(Debug, Clone)]
pub struct OnboardConfig {
    /// The Forgejo owner.
    pub owner: String,
    /// The repository name.
    pub name: String,
    /// The branch that becomes the default and that the workflow builds.
    pub branch: String,
    /// The GitHub repository the mirror pushes to, `https://github.com/<owner>/<name>.git`.
    pub github_remote: String,
    /// That repository's name, for the GitHub API.
    pub github_repo: offinfra_types::RepoName,
    /// Create the push mirror even when GitHub has commits Forgejo lacks (they are overwritten).
    pub allow_overwrite: bool,
    /// The mirror's Actions secrets: name and value (`None`: not given).
    pub actions_secrets: Vec<(String, Option<SecretString>)>,
    /// Overwrite Actions secrets that exist.
    pub replace_secrets: bool,
    /// The GitHub user for the mirror.
    pub github_user: String,
    /// The GitHub token for the mirror (contents: write).
    pub github_token: SecretString,
    /// Values for the templates' other placeholders: `forgejo_url`, `woodpecker_url`, `image`,
    /// `offinfra_git`, `offinfra_version`, `deploy_image` (pinned by digest, [`pin_deploy_image`]),
    /// `namespace`, `kind`, `deployment`, `container`, the deploy step's optional parts `slack_flag` and
    /// `step_options` (empty unless `--slack-secret` or `--service-account` is given), and the
    /// workflow's parts from `.offinfra.yml`: `check_steps`, `login_steps`, `build_steps`, `push_steps`,
    /// `binaries`, `flow_deploy_flags`.
    pub values: Vec<(String, String)>,
    /// Whether the deploy pipeline is written (not for a CronJob-only app, [`WorkloadKind::CronJob`]).
    pub deploy_pipeline: bool,
    /// Overwrite files edited since onboard rendered them.
    pub force: bool,
}

impl OnboardConfig {
    /// The value of the template placeholder `key`, when set.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// What onboarding is asked to do, with the defaults filled in by [`Settings::config`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The repository on Forgejo.
    pub repo: offinfra_types::RepoName,
    /// The GitHub repository its mirror pushes to (default: the same name).
    pub github_repo: Option<offinfra_types::RepoName>,
    /// The branch to build, deploy and make the default.
    pub branch: String,
    /// Forgejo's web address.
    pub forgejo_url: String,
    /// Woodpecker's web address.
    pub woodpecker_url: String,
    /// The GitHub user the mirror pushes as.
    pub github_user: String,
    /// The GitHub token the mirror pushes with.
    pub github_token: SecretString,
    /// The image repository (default `ghcr.io/<github owner>/<name>`, lower case).
    pub image: Option<String>,
    /// The namespace, Deployment and container the deploy step targets (default: the repository's name).
    pub namespace: Option<String>,
    /// See `namespace`.
    pub deployment: Option<String>,
    /// See `namespace`.
    pub container: Option<String>,
    /// The service account the deploy step asks to run as (`None`: the Woodpecker agent's pipeline
    /// account, as the fleet runs). Woodpecker honours it only when the agent runs with
    /// `WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP=true` (docs/deploy.md).
    pub service_account: Option<String>,
    /// The Woodpecker secret holding the Slack incoming webhook the deploy step posts its result to
    /// (`None`: no post). Its events must include `manual`.
    pub slack_secret: Option<String>,
    /// The image holding the `deploy` binary (default, when `offinfra_git` is on GitHub: the image its
    /// release pushes, [`released_deploy_image`]). A tag is pinned to its digest by [`pin_deploy_image`].
    pub deploy_image: Option<String>,
    /// Where the build workflow installs offinfra from (required: there is no default to guess).
    pub offinfra_git: Option<String>,
    /// The GitHub environment that holds the workflow's secrets, limited to `branch` (default `deploy`).
    pub environment: String,
    /// The GitHub Actions secret holding the Forgejo token the workflow tags with.
    pub forgejo_secret: String,
    /// The GitHub Actions secret holding the Woodpecker token the workflow deploys with.
    pub woodpecker_secret: String,
    /// Create the push mirror even over GitHub commits Forgejo lacks.
    pub allow_overwrite: bool,
    /// The mirror's GitHub Actions secrets the workflow needs: name and value (`None`: not given, left
    /// to the user and said so).
    pub actions_secrets: Vec<(String, Option<SecretString>)>,
    /// Overwrite Actions secrets that exist (their values cannot be read to compare).
    pub replace_secrets: bool,
    /// Overwrite a rendered file edited since onboard wrote it (by default onboard shows the difference
    /// and stops).
    pub force: bool,
}

/// The deploy image offinfra's release workflow pushes when offinfra is released from the GitHub
/// repository `offinfra_git`: `ghcr.io/<owner, lower case>/offinfra-deploy:<this version>`.
///
/// ```
/// assert_eq!(
///     offinfra::onboard::released_deploy_image("https://github.com/ViktorBarzin/offinfra").as_deref(),
///     Some(format!("ghcr.io/viktorbarzin/offinfra-deploy:{}", offinfra::VERSION).as_str())
/// );
/// assert_eq!(offinfra::onboard::released_deploy_image("https://git.example.com/platform/offinfra"), None);
/// ```
pub fn released_deploy_image(offinfra_git: &str) -> Option<String> {
    let rest = offinfra_git.strip_prefix("https://github.com/")?;
    let owner = rest.split('/').next().filter(|o| !o.is_empty())?;
    Some(format!("ghcr.io/{}/offinfra-deploy:{}", owner.to_ascii_lowercase(), crate::VERSION))
}

impl Settings {
    /// Onboarding `repo` with the `onboard` command line's defaults: branch `master`, the mirror of the
    /// same name, environment `deploy`, the fleet's secret names, no token, nothing else set.
    ///
    /// ```
    /// let mut settings = offinfra::onboard::Settings::new(
    ///     "viktor/app".parse()?, "https://git.example.com", "https://ci.example.com");
    /// settings.github_repo = Some("ViktorBarzin/app".parse()?);
    /// settings.offinfra_git = Some("https://github.com/ViktorBarzin/offinfra".into());
    /// let config = settings.config()?;
    /// assert_eq!(config.value("image"), Some("ghcr.io/viktorbarzin/app"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(repo: offinfra_types::RepoName, forgejo_url: &str, woodpecker_url: &str) -> Self {
        Settings {
            repo,
            github_repo: None,
            branch: "master".into(),
            forgejo_url: forgejo_url.to_owned(),
            woodpecker_url: woodpecker_url.to_owned(),
            github_user: "x-access-token".into(),
            github_token: String::new().into(),
            image: None,
            namespace: None,
            deployment: None,
            container: None,
            service_account: None,
            slack_secret: None,
            deploy_image: None,
            offinfra_git: None,
            environment: "deploy".into(),
            forgejo_secret: "FORGEJO_GIT_TOKEN".into(),
            woodpecker_secret: "WOODPECKER_TOKEN".into(),
            allow_overwrite: false,
            actions_secrets: Vec::new(),
            replace_secrets: false,
            force: false,
        }
    }

    /// The templates' values: each setting given, or its default. A required setting that is missing
    /// (where offinfra is installed from, the deploy image) is an error naming its flag.
    pub fn config(&self) -> Result<OnboardConfig, crate::Error> {
        self.config_with(&RepoSettings::default())
    }

    /// The repository's `.offinfra.yml` on the branch ([`read_repo_settings`]), the templates' values
    /// from it and these settings ([`Self::config_with`]), and the deploy image pinned by its digest.
    pub async fn resolve(&self, forgejo: &Forgejo) -> Result<OnboardConfig, crate::Error> {
        // What the flags alone decide is checked before anything is read; names wait for the file, which
        // may give valid ones where the repository's name is not one (or need none: a CronJob-only app).
        self.installed_from()?;
        let repo_settings = read_repo_settings(forgejo, &self.repo, &self.branch).await?;
        let mut config = self.config_with(&repo_settings)?;
        pin_deploy_image(&mut config, registry_digest).await?;
        Ok(config)
    }

    /// Where the workflow installs offinfra from and the deploy image: required, with no placeholder
    /// default, and decided by the flags alone.
    fn installed_from(&self) -> Result<(String, offinfra_types::ImageRef), crate::Error> {
        let offinfra_git = self.offinfra_git.clone().filter(|v| !v.is_empty()).ok_or_else(|| {
            crate::Error::invalid("onboarding needs --offinfra-git (where the workflow installs offinfra from)")
        })?;
        let offinfra_git = offinfra_git.trim_end_matches('/').trim_end_matches(".git").to_owned();
        let deploy_image = match self.deploy_image.clone().filter(|v| !v.is_empty()) {
            Some(image) => image,
            None => released_deploy_image(&offinfra_git).ok_or_else(|| {
                crate::Error::invalid(
                    "onboarding needs --deploy-image (the image the deploy pipeline runs; derived only when \
                     --offinfra-git is a GitHub repository, whose release pushes ghcr.io/<owner>/offinfra-deploy)",
                )
            })?,
        };
        let deploy_image = offinfra_types::ImageRef::parse(&deploy_image).context("--deploy-image")?;
        Ok((offinfra_git, deploy_image))
    }

    /// [`Self::config`] with the repository's own settings: flags win over `.offinfra.yml`, which wins over
    /// the defaults.
    pub fn config_with(&self, repo_settings: &RepoSettings) -> Result<OnboardConfig, crate::Error> {
        let (offinfra_git, deploy_image) = self.installed_from()?;
        let (owner, name) = (self.repo.owner(), self.repo.name());
        let github = self.github_repo.as_ref().unwrap_or(&self.repo);
        let gh_owner = github.owner().to_ascii_lowercase();
        let workload = &repo_settings.workload;
        // A flag, else .offinfra.yml, else the repository's name; the flag's name goes into errors.
        let pick = |flag: &Option<String>, file: &Option<String>, flag_name: &'static str, key: &'static str| match (
            flag, file,
        ) {
            (Some(value), _) => (value.clone(), flag_name),
            (None, Some(value)) => (value.clone(), key),
            (None, None) => (name.to_owned(), flag_name),
        };
        let (namespace, namespace_from) =
            pick(&self.namespace, &workload.namespace, "--namespace", "workload.namespace");
        let (deployment, deployment_from) = pick(&self.deployment, &workload.name, "--deployment", "workload.name");
        let containers: Vec<(String, &str)> = match (&self.container, workload.containers.is_empty()) {
            (Some(container), _) => vec![(container.clone(), "--container")],
            (None, false) => workload.containers.iter().map(|c| (c.clone(), "workload.containers")).collect(),
            (None, true) => vec![(name.to_owned(), "--container")],
        };
        // Each lands in the cluster and in the pipeline's YAML: held to Kubernetes' rules here. A
        // CronJob-only app has no deploy pipeline, so nothing names them.
        if workload.kind != WorkloadKind::CronJob {
            check_k8s_name(&namespace, namespace_from, K8sName::Label)?;
            check_k8s_name(&deployment, deployment_from, K8sName::Subdomain)?;
            for (container, from) in &containers {
                check_k8s_name(container, from, K8sName::Label)?;
            }
        }
        let container = containers.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(",");
        let default_image =
            offinfra_types::ImageName::parse(&format!("ghcr.io/{gh_owner}/{}", github.name().to_ascii_lowercase()))
                .context("the default image (give --image)")?;
        let image_flag = self.image.as_deref().map(offinfra_types::ImageName::parse).transpose().context("--image")?;
        let parts = steps::workflow_parts(repo_settings, default_image, image_flag)?;
        let image = parts.deployed.to_string();
        let mut step_options = String::new();
        let mut slack_flag = String::new();
        if let Some(secret) = self.slack_secret.as_deref().filter(|s| !s.is_empty()) {
            check_secret_name(secret, "--slack-secret")?;
            // The step's `environment:` is applied after the manual pipeline's variables, so a triggerer's
            // SLACK_WEBHOOK cannot stand in for the secret (Woodpecker compiler/convert.go, createProcess).
            slack_flag = "\n      - --slack-webhook-env=SLACK_WEBHOOK".to_owned();
            step_options += &format!("\n    environment:\n      SLACK_WEBHOOK:\n        from_secret: {secret}");
        }
        if let Some(account) = self.service_account.as_deref().filter(|s| !s.is_empty()) {
            check_k8s_name(account, "--service-account", K8sName::Subdomain)?;
            step_options += &format!(
                "\n    # Honoured only when the agent runs with WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP=true.\n    backend_options:\n      kubernetes:\n        serviceAccountName: {account}"
            );
        }
        let values = [
            ("forgejo_url", self.forgejo_url.trim_end_matches('/').to_owned()),
            ("woodpecker_url", self.woodpecker_url.trim_end_matches('/').to_owned()),
            ("image", image),
            ("offinfra_git", offinfra_git),
            ("offinfra_version", crate::VERSION.to_owned()),
            ("deploy_image", deploy_image.to_string()),
            ("environment", self.environment.clone()),
            ("forgejo_secret", self.forgejo_secret.clone()),
            ("woodpecker_secret", self.woodpecker_secret.clone()),
            ("namespace", namespace),
            ("kind", repo_settings.workload.kind.as_str().to_owned()),
            ("deployment", deployment),
            ("container", container),
            ("slack_flag", slack_flag),
            ("step_options", step_options),
        ];
        let values = values.into_iter().chain(parts.values);
        // The registries' passwords are Actions secrets the workflow reads: checked like onboard's own.
        let mut actions_secrets = self.actions_secrets.clone();
        for secret in repo_settings.secret_names() {
            if !actions_secrets.iter().any(|(name, _)| *name == secret) {
                actions_secrets.push((secret, None));
            }
        }
        Ok(OnboardConfig {
            owner: owner.to_owned(),
            name: name.to_owned(),
            branch: self.branch.clone(),
            github_remote: format!("https://github.com/{github}.git"),
            github_repo: github.clone(),
            allow_overwrite: self.allow_overwrite,
            actions_secrets,
            replace_secrets: self.replace_secrets,
            github_user: self.github_user.clone(),
            github_token: self.github_token.clone(),
            values: values.map(|(k, v)| (k.to_owned(), v)).collect(),
            deploy_pipeline: repo_settings.workload.kind != WorkloadKind::CronJob,
            force: self.force,
        })
    }
}

/// The repository's [`REPO_FILE`] on `branch`, parsed; the defaults when there is none.
pub async fn read_repo_settings(
    forgejo: &Forgejo,
    repo: &offinfra_types::RepoName,
    branch: &str,
) -> Result<RepoSettings, crate::Error> {
    let entry = forgejo
        .repo(repo.owner(), repo.name())
        .contents()
        .get(REPO_FILE, Some(branch))
        .await
        .with_context(|| format!("reading {REPO_FILE} of {repo}"))?;
    match entry {
        None => Ok(RepoSettings::default()),
        Some(Entry::File(file)) => {
            let bytes =
                file.bytes().ok_or_else(|| crate::Error::invalid(format!("{REPO_FILE} of {repo}: no content")))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| crate::Error::invalid(format!("{REPO_FILE} of {repo} is not UTF-8")))?;
            RepoSettings::parse(&text).with_context(|| format!("{repo} on branch {branch}"))
        }
        Some(Entry::Dir(_)) => Err(crate::Error::invalid(format!("{REPO_FILE} of {repo} is a directory"))),
    }
}

/// Which of Kubernetes' name rules a name must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum K8sName {
    /// RFC 1123 label: namespaces, containers (63 characters at most).
    Label,
    /// RFC 1123 subdomain: Deployments, service accounts (253 characters at most).
    Subdomain,
}

/// `name` meets Kubernetes' rule for `kind` (apimachinery `validation.IsDNS1123Label`/`Subdomain`), or
/// an error naming the flag and the rule: a repository name such as `Freedify` or `tuya_bridge` is not a
/// valid default.
fn check_k8s_name(name: &str, flag: &str, kind: K8sName) -> Result<(), crate::Error> {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let ok = match kind {
        K8sName::Label => label_ok(name),
        K8sName::Subdomain => name.len() <= 253 && name.split('.').all(label_ok),
    };
    if ok {
        return Ok(());
    }
    let rule = match kind {
        K8sName::Label => "lower-case letters, digits and '-', starting and ending with a letter or digit, 63 at most",
        K8sName::Subdomain => {
            "lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit"
        }
    };
    let suggestion = match suggest_k8s_name(name) {
        Some(valid) => format!(", e.g. {flag} {valid}"),
        None => String::new(),
    };
    Err(crate::Error::invalid(format!(
        "{flag} {name:?} is not a Kubernetes name ({rule}); name it with {flag}{suggestion}"
    )))
}

/// A valid label close to `name`: lower case, every other character a `-` (runs of them one), trimmed at
/// both ends, 63 at most; `None` when nothing is left.
fn suggest_k8s_name(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            _ if !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(63).collect();
    let trimmed = trimmed.trim_end_matches('-').to_owned();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// A Woodpecker secret name as the step's YAML can hold it: letters, digits, '_' and '-'.
fn check_secret_name(name: &str, flag: &str) -> Result<(), crate::Error> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Ok(());
    }
    Err(crate::Error::invalid(format!("{flag} {name:?}: a secret name is letters, digits, '_' and '-'")))
}

/// Pins the deploy image of `config` to its digest: an image given as `name:tag@digest` is kept (the
/// digest is what runs); a tag is resolved through `registry` (a HEAD of the manifest), so the deploy
/// pipeline names the release by version and digest and a moved tag cannot change what runs in the
/// cluster. An image the registry does not have is an error naming it.
pub async fn pin_deploy_image(
    config: &mut OnboardConfig,
    registry: impl AsyncFnOnce(&offinfra_types::ImageRef) -> Result<Option<String>, crate::Error>,
) -> Result<(), crate::Error> {
    let Some((_, value)) = config.values.iter_mut().find(|(key, _)| key == "deploy_image") else {
        return Err(crate::Error::invalid("the deploy image is not set"));
    };
    let image = offinfra_types::ImageRef::parse(value).context("--deploy-image")?;
    if image.digest().is_some() {
        return Ok(());
    }
    let digest = registry(&image)
        .await
        .with_context(|| format!("resolving the deploy image {image}"))?
        .ok_or_else(|| crate::Error::invalid(format!("the deploy image {image} does not exist in its registry")))?;
    let tag = image.tag().map(|t| format!(":{t}")).unwrap_or_default();
    *value = format!("{}{tag}@{digest}", image.name());
    offinfra_types::ImageRef::parse(value).context("the pinned deploy image")?;
    Ok(())
}

/// The digest `image` names in its registry, read anonymously (a public release needs no login): what
/// [`pin_deploy_image`] pins a tag to.
pub async fn registry_digest(image: &offinfra_types::ImageRef) -> Result<Option<String>, crate::Error> {
    let registry = ghcr_client::registry::Registry::builder(image.api_host()).build()?;
    Ok(registry.manifest_digest(image.name(), &image.reference()).await?.map(|d| d.to_string()))
}

/// Renders `template`: `@@owner@@`, `@@name@@`, `@@branch@@` and each of `values`. A placeholder left
/// unfilled is an error naming it, and so is a deploy image not pinned by digest ([`pin_deploy_image`]).
pub fn render(template: &str, config: &OnboardConfig) -> Result<String, crate::Error> {
    if template.contains("@@deploy_image@@") {
        let pinned = config.values.iter().find(|(key, _)| key == "deploy_image").map(|(_, image)| image.as_str());
        if let Some(image) = pinned.filter(|image| !image.contains("@sha256:")) {
            return Err(crate::Error::invalid(format!(
                "the deploy image {image} is not pinned by digest (onboard::pin_deploy_image resolves it)"
            )));
        }
    }
    // One pass over the template: a value is never scanned again, so a value holding `@@key@@` (text from
    // .offinfra.yml) stays text and cannot pull another value in.
    let mut text = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("@@") {
        text.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("@@").ok_or_else(|| crate::Error::invalid("template: an @@ opens no placeholder"))?;
        let key = &after[..end];
        let value = match key {
            "owner" => Some(config.owner.as_str()),
            "name" => Some(config.name.as_str()),
            "branch" => Some(config.branch.as_str()),
            key => config.value(key),
        };
        let value =
            value.ok_or_else(|| crate::Error::invalid(format!("template placeholder @@{key}@@ has no value")))?;
        text.push_str(value);
        rest = &after[end + 2..];
    }
    text.push_str(rest);
    Ok(text)
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Change {
    /// Create the push mirror.
    CreateMirror {
        /// Its target.
        remote: String,
    },
    /// Commit these file changes in one commit.
    CommitFiles {
        /// Paths created.
        create: Vec<String>,
        /// Paths updated.
        update: Vec<String>,
        /// Old pipeline files deleted.
        delete: Vec<String>,
    },
    /// Activate the repository in Woodpecker.
    Activate {
        /// The forge's id of the repository (GitHub's, for the mirror's registration).
        forge_remote_id: String,
    },
    /// Create the mirror's GitHub environment that holds the workflow's secrets, or limit it, to
    /// deployments from `branch` only (a workflow on another branch cannot read its secrets).
    Environment {
        /// The environment.
        name: String,
        /// The one branch allowed.
        branch: String,
    },
    /// Set these GitHub Actions secrets of the mirror's environment (sealed with its public key).
    SetActionsSecrets {
        /// Their names (values never appear).
        names: Vec<String>,
        /// The environment that holds them.
        environment: String,
    },
    /// Make `branch` the default.
    SetDefaultBranch {
        /// The current default.
        from: String,
        /// The new default.
        to: String,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::CreateMirror { remote } => write!(f, "create a push mirror to {remote} (sync on commit)"),
            Change::CommitFiles { create, update, delete } => {
                let mut parts = Vec::new();
                for (verb, paths) in [("create", create), ("update", update), ("delete", delete)] {
                    if !paths.is_empty() {
                        parts.push(format!("{verb} {}", paths.join(", ")));
                    }
                }
                write!(f, "commit: {}", parts.join("; "))
            }
            Change::Activate { forge_remote_id } => {
                write!(f, "activate in Woodpecker (forge id {forge_remote_id})")
            }
            Change::SetDefaultBranch { from, to } => write!(f, "default branch {from} -> {to}"),
            Change::Environment { name, branch } => {
                write!(f, "limit GitHub environment {name} to branch {branch}")
            }
            Change::SetActionsSecrets { names, environment } => {
                write!(f, "set Actions secrets {} (environment {environment})", names.join(", "))
            }
        }
    }
}

/// What onboarding still has to do; empty when the repository is fully onboarded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OnboardPlan {
    /// The changes, in the order they are made.
    pub changes: Vec<Change>,
    /// What is already in place (for the report).
    pub in_place: Vec<String>,
    /// Rendered files edited since onboard wrote them: kept, and onboard stops ([`apply`] refuses the
    /// plan) unless [`OnboardConfig::force`].
    pub edited: Vec<EditedFile>,
    /// The file changes behind [`Change::CommitFiles`] (contents and blob ids).
    #[serde(skip)]
    files: Vec<FileChange>,
}

/// A rendered file the owner changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EditedFile {
    /// Its path.
    pub path: String,
    /// The unified diff from the repository's file to what onboard renders now.
    pub diff: String,
}

impl OnboardPlan {
    /// Whether nothing is to be done.
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }

    /// Whether a change needs the mirror's GitHub token.
    pub fn needs_mirror_token(&self) -> bool {
        self.changes.iter().any(|c| matches!(c, Change::CreateMirror { .. }))
    }

    /// A line per thing in place (`ok …`) and per change (`would …` in a dry run, else `change …`).
    pub fn describe(&self, dry_run: bool) -> String {
        let mut out = String::new();
        for line in &self.in_place {
            out += &format!("ok       {line}\n");
        }
        for change in &self.changes {
            out += &format!("{} {change}\n", if dry_run { "would   " } else { "change  " });
        }
        for file in &self.edited {
            out += &format!(
                "kept     {} (edited since onboard rendered it; --force overwrites it, or move the change into \
                 {REPO_FILE}):\n{}",
                file.path, file.diff
            );
        }
        out
    }

    /// Whether onboard must stop: a rendered file was edited and `--force` was not given.
    pub fn stops(&self) -> bool {
        !self.edited.is_empty()
    }
}

/// Old pipeline files: every YAML file in `.woodpecker/` except the deploy pipeline, and a top-level
/// `.woodpecker.yml`/`.woodpecker.yaml`.
fn is_old_pipeline(path: &str) -> bool {
    let yaml = path.ends_with(".yml") || path.ends_with(".yaml");
    (path.starts_with(".woodpecker/") && yaml && path != DEPLOY_PATH)
        || path == ".woodpecker.yml"
        || path == ".woodpecker.yaml"
}

/// Reads Forgejo and Woodpecker and decides what onboarding `config` still needs.
pub async fn inspect(
    forgejo: &Forgejo,
    woodpecker: &Woodpecker,
    github: &offinfra_http::Client,
    config: &OnboardConfig,
) -> Result<OnboardPlan, crate::Error> {
    let full = format!("{}/{}", config.owner, config.name);
    let repo = forgejo.repo(&config.owner, &config.name);
    let info = repo.get().await.with_context(|| format!("reading {full} on Forgejo"))?;
    let Some(_) =
        repo.branch(&config.branch).await.with_context(|| format!("reading branch {} of {full}", config.branch))?
    else {
        return Err(crate::Error::invalid(format!("{full} has no branch {:?}: push it first", config.branch)));
    };
    let mut plan = OnboardPlan::default();

    // The push mirror.
    let mirrors = repo.push_mirrors().list().await.with_context(|| format!("listing push mirrors of {full}"))?;
    match mirrors.iter().find(|m| forgejo_client::same_remote(&m.remote_address, &config.github_remote)) {
        Some(m) if m.sync_on_commit => {
            plan.in_place.push(format!("push mirror to {} (sync on commit)", m.remote_address))
        }
        Some(m) => plan.in_place.push(format!(
            "push mirror to {} exists but does not sync on commit: delete it in Forgejo to have it recreated",
            m.remote_address
        )),
        None => {
            // A push mirror force-pushes every ref (`--force --mirror`): a GitHub branch or tag Forgejo lacks,
            // or has elsewhere, would be deleted or moved on the first sync.
            let gh = &config.github_repo;
            let lost = refs_the_mirror_would_overwrite(github, gh, &repo).await?;
            match (lost.is_empty(), config.allow_overwrite) {
                (true, _) => {}
                (false, false) => {
                    return Err(crate::Error::invalid(format!(
                        "the push mirror from {full} would overwrite GitHub {gh}: {}; reconcile the two, or pass \
                         --allow-overwrite",
                        lost.join("; ")
                    )))
                }
                (false, true) => plan.in_place.push(format!(
                    "GitHub {gh} refs overwritten by the mirror (--allow-overwrite): {}",
                    lost.join("; ")
                )),
            }
            plan.changes.push(Change::CreateMirror { remote: config.github_remote.clone() })
        }
    }

    // The pipeline files, on the branch being onboarded; committed after everything the first build
    // needs (the environment, its secrets, the Woodpecker registration).
    let commit = plan_files(&repo, config, &full, &mut plan).await?;

    // Woodpecker: the registration that deploys is the GitHub mirror's (Actions runs there and
    // triggers it), activated with the GitHub repository's id by a Woodpecker user of the GitHub forge.
    let gh = &config.github_repo;
    let activate = || async {
        let id = github_repo_id(github, gh).await?;
        Ok::<_, crate::Error>(Change::Activate { forge_remote_id: id.to_string() })
    };
    match woodpecker.lookup(gh.owner(), gh.name()).await {
        Ok(found) if found.active => {
            plan.in_place.push(format!("active in Woodpecker as repo {} (the registration of GitHub {gh})", found.id))
        }
        Ok(_) => plan.changes.push(activate().await?),
        Err(woodpecker_client::Error::Http(e)) if e.is_not_found() => plan.changes.push(activate().await?),
        Err(e) => return Err(e).with_context(|| format!("looking up {gh} in Woodpecker")),
    }

    // The environment that holds the workflow's secrets, limited to the deploy branch.
    let environment = config.value("environment").unwrap_or("deploy").to_owned();
    let env_path = format!("{}/environments/{}", github_repo_path(gh), offinfra_http::encode_segment(&environment));
    let branches = environment_branches(github, gh, &env_path).await?;
    match &branches {
        Some(branches) if branches.len() == 1 && branches[0] == config.branch => {
            plan.in_place.push(format!("GitHub environment {environment} limited to branch {}", config.branch))
        }
        _ => plan.changes.push(Change::Environment { name: environment.clone(), branch: config.branch.clone() }),
    }

    // Its secrets: names are listed, values are write-only.
    if !config.actions_secrets.is_empty() {
        let existing = match branches {
            Some(_) => github_secret_names(github, gh, &env_path).await?,
            None => Vec::new(),
        };
        // Repository-level secrets every workflow of the mirror can read, on any branch.
        let repo_level = repository_secret_names(github, gh).await?;
        let mut names = Vec::new();
        for (name, value) in &config.actions_secrets {
            if repo_level.contains(name) {
                plan.in_place.push(format!(
                    "Actions secret {name} is also a repository secret, readable by every workflow on any branch: \
                     delete it there once the environment {environment} holds it"
                ));
            }
            match (value, existing.contains(name)) {
                (None, true) => plan.in_place.push(format!("Actions secret {name} exists")),
                (None, false) => {
                    plan.in_place.push(format!("Actions secret {name} is missing and no value was given: set it"))
                }
                (Some(_), true) if !config.replace_secrets => {
                    plan.in_place.push(format!("Actions secret {name} exists (--replace-secrets overwrites it)"))
                }
                (Some(_), _) => names.push(name.clone()),
            }
        }
        if !names.is_empty() {
            plan.changes.push(Change::SetActionsSecrets { names, environment: environment.clone() });
        }
    }
    plan.changes.extend(commit);

    // The default branch.
    if info.default_branch == config.branch {
        plan.in_place.push(format!("default branch {}", config.branch));
    } else {
        plan.changes.push(Change::SetDefaultBranch { from: info.default_branch, to: config.branch.clone() });
    }
    Ok(plan)
}

/// Plans the pipeline files of `config` on its branch into `plan`: each rendered file created, re-rendered
/// when onboard's header says it is as onboard left it, or kept (and listed in [`OnboardPlan::edited`])
/// when it was edited, unless [`OnboardConfig::force`]; old pipeline files deleted. The commit to make, if any.
async fn plan_files(
    repo: &forgejo_client::RepoHandle<'_>,
    config: &OnboardConfig,
    full: &str,
    plan: &mut OnboardPlan,
) -> Result<Option<Change>, crate::Error> {
    let contents = repo.contents();
    let mut wanted = vec![(BUILD_PATH, stamped(&render(BUILD_TEMPLATE, config)?))];
    if config.deploy_pipeline {
        wanted.push((DEPLOY_PATH, stamped(&render(DEPLOY_TEMPLATE, config)?)));
    }
    let (mut create, mut update, mut delete) = (Vec::new(), Vec::new(), Vec::new());
    for (path, text) in &wanted {
        let entry =
            contents.get(path, Some(&config.branch)).await.with_context(|| format!("reading {path} in {full}"))?;
        let file = match entry {
            None => {
                create.push(path.to_string());
                plan.files.push(FileChange::Create { path: path.to_string(), content: text.as_bytes().to_vec() });
                continue;
            }
            Some(Entry::Dir(_)) => return Err(crate::Error::invalid(format!("{path} in {full} is a directory"))),
            Some(Entry::File(file)) => file,
        };
        let existing = String::from_utf8_lossy(&file.bytes().unwrap_or_default()).into_owned();
        match stamp::compare(path, &existing, text) {
            Found::UpToDate => {
                plan.in_place.push(format!("{path} up to date"));
                continue;
            }
            Found::Rendered => {}
            Found::Edited(_) if config.force => {
                plan.in_place.push(format!("{path} was edited since onboard rendered it: overwritten (--force)"))
            }
            Found::Edited(diff) => {
                plan.edited.push(EditedFile { path: path.to_string(), diff });
                continue;
            }
        }
        update.push(path.to_string());
        plan.files.push(FileChange::Update {
            path: path.to_string(),
            content: text.as_bytes().to_vec(),
            sha: file.sha,
        });
    }
    let mut old = Vec::new();
    for path in [".woodpecker.yml", ".woodpecker.yaml"] {
        if let Some(Entry::File(file)) =
            contents.get(path, Some(&config.branch)).await.with_context(|| format!("reading {path} in {full}"))?
        {
            old.push(file);
        }
    }
    if let Some(Entry::Dir(entries)) = contents
        .get(".woodpecker", Some(&config.branch))
        .await
        .with_context(|| format!("reading .woodpecker/ in {full}"))?
    {
        old.extend(entries.into_iter().filter(|e| e.kind == "file"));
    }
    // A CronJob-only app has no deploy pipeline: one onboard wrote earlier goes with the old ones.
    let old_pipeline = |path: &str| is_old_pipeline(path) || (!config.deploy_pipeline && path == DEPLOY_PATH);
    for file in old.into_iter().filter(|f| old_pipeline(&f.path)) {
        delete.push(file.path.clone());
        plan.files.push(FileChange::Delete { path: file.path, sha: file.sha });
    }
    Ok(match plan.files.is_empty() {
        true => {
            plan.in_place.push("no old pipeline files".into());
            None
        }
        false => Some(Change::CommitFiles { create, update, delete }),
    })
}

/// Carries out `plan` in order; returns a line per change made. Stops at the first failure, naming it.
pub async fn apply(
    forgejo: &Forgejo,
    woodpecker: &Woodpecker,
    github: &offinfra_http::Client,
    config: &OnboardConfig,
    plan: &OnboardPlan,
) -> Result<Vec<String>, crate::Error> {
    let full = format!("{}/{}", config.owner, config.name);
    if plan.stops() {
        let paths: Vec<&str> = plan.edited.iter().map(|f| f.path.as_str()).collect();
        return Err(crate::Error::invalid(format!(
            "{} in {full} edited since onboard rendered it: nothing changed (--force overwrites)",
            paths.join(", ")
        )));
    }
    let run = Apply { repo: forgejo.repo(&config.owner, &config.name), woodpecker, github, config, plan, full: &full };
    let mut done = Vec::new();
    for (i, change) in plan.changes.iter().enumerate() {
        match run.change(change).await {
            Ok(line) => done.push(line),
            Err(e) => {
                // What is left, for the user and for the re-run that completes it (it plans only what differs).
                let left: Vec<String> = plan.changes[i..].iter().map(ToString::to_string).collect();
                let made = if done.is_empty() { "nothing".to_owned() } else { done.join("; ") };
                return Err(e).with_context(|| {
                    format!("onboard stopped; done: {made}; left: {} (re-run onboard to complete)", left.join("; "))
                });
            }
        }
    }
    Ok(done)
}

/// One [`apply`] run's servers and inputs.
struct Apply<'a> {
    repo: forgejo_client::RepoHandle<'a>,
    woodpecker: &'a Woodpecker,
    github: &'a offinfra_http::Client,
    config: &'a OnboardConfig,
    plan: &'a OnboardPlan,
    full: &'a str,
}

impl Apply<'_> {
    /// Makes `change`; the line that says what was done.
    async fn change(&self, change: &Change) -> Result<String, crate::Error> {
        match change {
            Change::CreateMirror { remote } => {
                let mirror = CreatePushMirror {
                    remote_address: remote.clone(),
                    remote_username: self.config.github_user.clone(),
                    remote_password: self.config.github_token.clone(),
                    interval: "0s".into(),
                    sync_on_commit: true,
                };
                self.repo
                    .push_mirrors()
                    .ensure(&mirror)
                    .await
                    .with_context(|| format!("creating the push mirror of {}", self.full))?;
            }
            Change::CommitFiles { .. } => {
                let commit = ChangeFiles {
                    files: self.plan.files.clone(),
                    message: Some(
                        "ci: build on GitHub Actions, deploy in-cluster with Woodpecker (offinfra onboard)".into(),
                    ),
                    branch: Some(self.config.branch.clone()),
                };
                let sha = self
                    .repo
                    .contents()
                    .change(&commit)
                    .await
                    .with_context(|| format!("committing to {}", self.full))?;
                return Ok(format!("committed {}", sha.chars().take(12).collect::<String>()));
            }
            Change::Activate { forge_remote_id } => {
                let gh = &self.config.github_repo;
                let (found, _) = self
                    .woodpecker
                    .activate(forge_remote_id, gh.owner(), gh.name())
                    .await
                    .with_context(|| format!("activating GitHub {gh} in Woodpecker"))?;
                return Ok(format!("activated GitHub {gh} in Woodpecker as repo {}", found.id));
            }
            Change::Environment { name, branch } => {
                limit_environment(self.github, &self.config.github_repo, name, branch).await?;
            }
            Change::SetActionsSecrets { names, environment } => {
                let values: Vec<(&String, &SecretString)> = self
                    .config
                    .actions_secrets
                    .iter()
                    .filter(|(name, _)| names.contains(name))
                    .filter_map(|(name, value)| value.as_ref().map(|v| (name, v)))
                    .collect();
                let path = format!(
                    "{}/environments/{}",
                    github_repo_path(&self.config.github_repo),
                    offinfra_http::encode_segment(environment)
                );
                set_actions_secrets(self.github, &self.config.github_repo, &path, &values).await?;
            }
            Change::SetDefaultBranch { to, .. } => {
                self.repo
                    .set_default_branch(to)
                    .await
                    .with_context(|| format!("setting the default branch of {}", self.full))?;
            }
        }
        Ok(change.to_string())
    }
}

/// The branches deployments of the environment at `env_path` are limited to: `None` when it does not
/// exist, empty when any branch may deploy (no custom branch policy).
async fn environment_branches(
    github: &offinfra_http::Client,
    repo: &offinfra_types::RepoName,
    env_path: &str,
) -> Result<Option<Vec<String>>, crate::Error> {
    let environment = match github.json::<serde_json::Value>(&offinfra_http::Request::get(env_path)).await {
        Ok(answer) => answer,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {env_path} of {repo} on GitHub")),
    };
    if environment["deployment_branch_policy"]["custom_branch_policies"].as_bool() != Some(true) {
        return Ok(Some(Vec::new()));
    }
    let route = format!("{env_path}/deployment-branch-policies");
    let policies: Vec<serde_json::Value> = github
        .all_pages_in(offinfra_http::Request::get(route).query("per_page", "100"), "branch_policies")
        .await
        .with_context(|| format!("listing the deployment branch policies of {env_path}"))?;
    let branches = policies.iter();
    let branches = branches.filter(|p| p["type"].as_str().is_none_or(|t| t == "branch"));
    Ok(Some(branches.filter_map(|p| p["name"].as_str().map(str::to_owned)).collect()))
}

/// Creates the environment `name` of `repo` (or updates it) so that only `branch` may deploy to it.
async fn limit_environment(
    github: &offinfra_http::Client,
    repo: &offinfra_types::RepoName,
    name: &str,
    branch: &str,
) -> Result<(), crate::Error> {
    let path = format!("{}/environments/{}", github_repo_path(repo), offinfra_http::encode_segment(name));
    let body =
        serde_json::json!({"deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}});
    let request = offinfra_http::Request::put(path.clone()).json(&body)?;
    github.execute(&request).await.with_context(|| format!("creating GitHub environment {name} of {repo}"))?;
    let existing = environment_branches(github, repo, &path).await?.unwrap_or_default();
    if !existing.iter().any(|b| b == branch) {
        let body = serde_json::json!({"name": branch, "type": "branch"});
        let request = offinfra_http::Request::post(format!("{path}/deployment-branch-policies")).json(&body)?;
        github
            .execute(&request)
            .await
            .with_context(|| format!("limiting GitHub environment {name} of {repo} to branch {branch}"))?;
    }
    Ok(())
}

/// The names of the Actions secrets at `secrets_base` (a repository's or an environment's path).
async fn github_secret_names(
    github: &offinfra_http::Client,
    repo: &offinfra_types::RepoName,
    secrets_base: &str,
) -> Result<Vec<String>, crate::Error> {
    let route = format!("{secrets_base}/secrets");
    // Every page: a secret past the first hundred must not be overwritten as if it were missing.
    let secrets: Vec<serde_json::Value> = github
        .all_pages_in(offinfra_http::Request::get(route).query("per_page", "100"), "secrets")
        .await
        .with_context(|| format!("listing the Actions secrets of {repo} on GitHub"))?;
    Ok(secrets.iter().filter_map(|s| s["name"].as_str().map(str::to_owned)).collect())
}

/// The names of the mirror's repository-level Actions secrets (none when the repository does not exist yet).
async fn repository_secret_names(
    github: &offinfra_http::Client,
    repo: &offinfra_types::RepoName,
) -> Result<Vec<String>, crate::Error> {
    match github_secret_names(github, repo, &format!("{}/actions", github_repo_path(repo))).await {
        Err(e) if e.status() == Some(404) => Ok(Vec::new()),
        other => other,
    }
}

/// Sets Actions secrets at `base` (an environment's path) of `repo`: each value sealed (libsodium's
/// sealed box, as GitHub requires) with that place's public key, then `PUT`. The plain value never leaves
/// this function.
async fn set_actions_secrets(
    github: &offinfra_http::Client,
    repo: &offinfra_types::RepoName,
    base: &str,
    secrets: &[(&String, &SecretString)],
) -> Result<(), crate::Error> {
    use offinfra_http::ExposeSecret;
    let key: serde_json::Value = github
        .json(&offinfra_http::Request::get(format!("{base}/secrets/public-key")))
        .await
        .with_context(|| format!("reading the Actions public key of {repo}"))?;
    let (key_id, key) = (key["key_id"].as_str().unwrap_or_default(), key["key"].as_str().unwrap_or_default());
    let bytes: [u8; 32] = offinfra_http::base64_decode(key)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| crate::Error::invalid(format!("the Actions public key of {repo} is not 32 bytes of base64")))?;
    let public = crypto_box::PublicKey::from(bytes);
    for (name, value) in secrets {
        let sealed = public
            .seal(&mut crypto_box::aead::OsRng, value.expose_secret().as_bytes())
            .map_err(|_| crate::Error::invalid(format!("cannot seal Actions secret {name}")))?;
        let body = serde_json::json!({"encrypted_value": offinfra_http::base64(&sealed), "key_id": key_id});
        let request = offinfra_http::Request::put(format!("{base}/secrets/{}", offinfra_http::encode_segment(name)))
            .json(&body)?;
        github.execute(&request).await.with_context(|| format!("setting Actions secret {name} of {repo}"))?;
    }
    Ok(())
}

fn github_repo_path(repo: &offinfra_types::RepoName) -> String {
    format!("/repos/{}/{}", offinfra_http::encode_segment(repo.owner()), offinfra_http::encode_segment(repo.name()))
}

/// The numeric id of the GitHub repository `repo` (what Woodpecker activates a GitHub repository by).
async fn github_repo_id(github: &offinfra_http::Client, repo: &offinfra_types::RepoName) -> Result<i64, crate::Error> {
    let route = format!(
        "/repos/{}/{}",
        offinfra_http::encode_segment(repo.owner()),
        offinfra_http::encode_segment(repo.name())
    );
    match github.json::<serde_json::Value>(&offinfra_http::Request::get(route)).await {
        Ok(answer) => answer["id"]
            .as_i64()
            .ok_or_else(|| crate::Error::invalid(format!("GitHub's answer for {repo} has no numeric id"))),
        Err(e) if e.is_not_found() => Err(crate::Error::invalid(format!(
            "GitHub {repo} does not exist (or the token cannot see it): create it, empty, for the mirror to push to"
        ))),
        Err(e) => Err(e).with_context(|| format!("reading {repo} on GitHub")),
    }
}

/// Every branch and tag of `repo` on GitHub with its commit (an empty list when the repository does not
/// exist there yet); each commit id is held to the rule before it goes into a request or a message.
async fn github_refs(
    github: &offinfra_http::Client,
    repo: &offinfra_types::RepoName,
    kind: &str,
) -> Result<Vec<(String, offinfra_types::CommitId)>, crate::Error> {
    let route = format!(
        "/repos/{}/{}/{kind}",
        offinfra_http::encode_segment(repo.owner()),
        offinfra_http::encode_segment(repo.name())
    );
    let listed: Vec<serde_json::Value> =
        match github.all_pages(offinfra_http::Request::get(route).query("per_page", "100"), None).await {
            Ok(listed) => listed,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("listing the {kind} of {repo} on GitHub")),
        };
    listed
        .iter()
        .map(|r| {
            let name = r["name"].as_str().unwrap_or_default().to_owned();
            let sha = r["commit"]["sha"].as_str().unwrap_or_default();
            let id = offinfra_types::CommitId::parse(sha).with_context(|| format!("GitHub's {repo} {name}"))?;
            Ok((name, id))
        })
        .collect()
}

/// The refs of GitHub's `gh` that a push mirror from `forgejo` would delete or move: a branch or tag Forgejo
/// lacks, a tag on another commit, a branch with commits Forgejo's lacks (one compare each), each named.
async fn refs_the_mirror_would_overwrite(
    github: &offinfra_http::Client,
    gh: &offinfra_types::RepoName,
    forgejo: &forgejo_client::RepoHandle<'_>,
) -> Result<Vec<String>, crate::Error> {
    let (branches, tags) = (github_refs(github, gh, "branches").await?, github_refs(github, gh, "tags").await?);
    if branches.is_empty() && tags.is_empty() {
        return Ok(Vec::new());
    }
    let ours = forgejo.branches().await.context("listing Forgejo's branches")?;
    let ours: std::collections::BTreeMap<String, String> =
        ours.iter().map(|b| (b.name.clone(), b.sha().unwrap_or_default().to_ascii_lowercase())).collect();
    let our_tags = forgejo.tags().list(None).await.context("listing Forgejo's tags")?;
    let our_tags: std::collections::BTreeMap<String, String> = our_tags
        .iter()
        .map(|t| (t.name.clone(), t.commit.as_ref().map(|c| c.sha.to_ascii_lowercase()).unwrap_or_default()))
        .collect();
    let short = |sha: &str| sha.chars().take(8).collect::<String>();
    let mut lost = Vec::new();
    for (name, sha) in &branches {
        match ours.get(name) {
            None => lost.push(format!("branch {name} is only on GitHub (at {})", short(sha.as_str()))),
            Some(at) if at == sha.as_str() => {}
            Some(at) => match forgejo.compare(name, sha.as_str()).await? {
                None => lost.push(format!(
                    "branch {name} is at {}, a commit Forgejo does not have (Forgejo's is at {})",
                    short(sha.as_str()),
                    short(at)
                )),
                Some(c) if c.total_commits > 0 => {
                    lost.push(format!("branch {name} has {} commit(s) Forgejo's lacks", c.total_commits))
                }
                Some(_) => {}
            },
        }
    }
    for (name, sha) in &tags {
        match our_tags.get(name) {
            None => lost.push(format!("tag {name} is only on GitHub (at {})", short(sha.as_str()))),
            Some(at) if at == sha.as_str() => {}
            Some(at) => {
                lost.push(format!("tag {name} is at {} on GitHub, {} on Forgejo", short(sha.as_str()), short(at)))
            }
        }
    }
    Ok(lost)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: &str =
        "ghcr.io/acme/offinfra-deploy:1.2.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn settings() -> Settings {
        let mut settings =
            Settings::new("viktor/app".parse().unwrap(), "https://git.example.com/", "https://ci.example.com");
        settings.github_repo = Some("ViktorBarzin/app".parse().unwrap());
        settings.offinfra_git = Some("https://github.com/ViktorBarzin/offinfra".into());
        settings
    }

    fn config() -> OnboardConfig {
        let values = [
            ("forgejo_url", "https://git.example.com"),
            ("woodpecker_url", "https://ci.example.com"),
            ("image", "ghcr.io/acme/app"),
            ("offinfra_git", "https://git.example.com/acme/offinfra"),
            ("offinfra_version", "1.2.3"),
            ("deploy_image", PINNED),
            ("environment", "deploy"),
            ("forgejo_secret", "FORGEJO_GIT_TOKEN"),
            ("woodpecker_secret", "WOODPECKER_TOKEN"),
            ("namespace", "prod"),
            ("deployment", "app"),
            ("container", "app"),
            ("slack_flag", ""),
            ("step_options", ""),
            ("kind", "deployment"),
        ];
        let parts = steps::workflow_parts(&RepoSettings::default(), "ghcr.io/acme/app".parse().unwrap(), None).unwrap();
        let values = values.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        OnboardConfig {
            owner: "acme".into(),
            name: "app".into(),
            branch: "master".into(),
            github_remote: "https://github.com/acme/app.git".into(),
            github_repo: "acme/app".parse().unwrap(),
            allow_overwrite: false,
            actions_secrets: Vec::new(),
            replace_secrets: false,
            github_user: "acme-bot".into(),
            github_token: "t".into(),
            values: values.chain(parts.values.into_iter().map(|(k, v)| (k.to_owned(), v))).collect(),
            deploy_pipeline: true,
            force: false,
        }
    }

    #[test]
    fn the_readme_shows_exactly_what_onboard_writes_for_a_fleet_repo() {
        // The README shows the release's image with a stand-in digest: onboard resolves the real one.
        let mut settings = settings();
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        settings.deploy_image = Some(format!("ghcr.io/viktorbarzin/offinfra-deploy:{}@{digest}", crate::VERSION));
        let config = settings.config().unwrap();
        let readme = include_str!("../README.md");
        for template in [BUILD_TEMPLATE, DEPLOY_TEMPLATE] {
            let rendered = stamped(&render(template, &config).unwrap());
            assert!(readme.contains(&rendered), "README.md does not show this file as onboard writes it:\n{rendered}");
        }
        assert!(config.github_remote.ends_with("github.com/ViktorBarzin/app.git"), "the mirror's own name");
        let deploy = render(DEPLOY_TEMPLATE, &config).unwrap();
        let released = format!("image: ghcr.io/viktorbarzin/offinfra-deploy:{}@sha256:", crate::VERSION);
        assert!(deploy.contains(&released), "the image offinfra's release pushes: {deploy}");
        assert!(render(BUILD_TEMPLATE, &config).unwrap().contains("--image ghcr.io/viktorbarzin/app"), "lower case");
    }

    #[test]
    fn templates_encode_the_lessons() {
        let deploy = render(DEPLOY_TEMPLATE, &config()).unwrap();
        assert!(deploy.contains("when:\n  - event: manual\n"), "deploy only on manual events");
        assert!(deploy.contains("\nskip_clone: true\n"), "nothing to clone");
        assert!(deploy.contains(&format!("    image: {PINNED}\n")), "by version and digest");
        let entrypoint = "    entrypoint:\n      - /usr/local/bin/deploy\n      - --namespace=prod\n      - --kind=deployment\n      - --name=app\n      - --container-name=app\n      - --image-repository=ghcr.io/acme/app\n      - --in-cluster\n      - --timeout=300s\n      - --rollback-on-failure\n";
        assert!(deploy.ends_with(entrypoint), "{deploy}");
        assert!(!deploy.contains("\n    commands:"), "the image has no shell");
        assert!(!deploy.contains("serviceAccountName") && !deploy.contains("SLACK"), "neither unless asked for");
        assert!(!deploy.contains('$'), "the tag reaches deploy through its environment, never the YAML");
        let build = render(BUILD_TEMPLATE, &config()).unwrap();
        assert!(build.contains("--provenance=false"));
        assert!(build.contains("flow --forgejo-repo acme/app --image ghcr.io/acme/app --layout image.tar"));
        assert!(build.contains("FORGEJO_TOKEN: ${{ secrets.FORGEJO_GIT_TOKEN }}"), "GitHub expressions survive");
        assert!(build.contains("WOODPECKER_TOKEN: ${{ secrets.WOODPECKER_TOKEN }}"));
        assert!(!build.contains("example.invalid") && !deploy.contains("example.invalid"), "no placeholder defaults");

        // A value holding a placeholder (text from .offinfra.yml) stays text: nothing is substituted twice.
        let mut sneaky = config();
        sneaky
            .values
            .iter_mut()
            .filter(|(k, _)| k == "check_steps")
            .for_each(|(_, v)| *v = "      - name: lint\n        run: echo @@woodpecker_secret@@ @@nope@@\n".into());
        let build = render(BUILD_TEMPLATE, &sneaky).unwrap();
        assert!(build.contains("run: echo @@woodpecker_secret@@ @@nope@@\n"), "{build}");

        let mut missing = config();
        missing.values.retain(|(k, _)| k != "namespace");
        assert_eq!(
            render(DEPLOY_TEMPLATE, &missing).unwrap_err().to_string(),
            "template placeholder @@namespace@@ has no value"
        );
    }

    #[test]
    fn the_service_account_and_slack_are_written_only_when_asked_for() {
        let mut settings = settings();
        settings.deploy_image = Some(PINNED.into());
        settings.service_account = Some("deployer".into());
        settings.slack_secret = Some("slack_webhook".into());
        let deploy = render(DEPLOY_TEMPLATE, &settings.config().unwrap()).unwrap();
        assert!(deploy.contains("      - --rollback-on-failure\n      - --slack-webhook-env=SLACK_WEBHOOK\n    environment:\n      SLACK_WEBHOOK:\n        from_secret: slack_webhook\n"), "{deploy}");
        assert!(
            deploy.ends_with("    backend_options:\n      kubernetes:\n        serviceAccountName: deployer\n"),
            "{deploy}"
        );
        settings.slack_secret = Some("slack: {}".into());
        assert!(settings.config().unwrap_err().to_string().starts_with("--slack-secret \"slack: {}\""));
    }

    #[test]
    fn names_kubernetes_refuses_are_refused_naming_the_flag() {
        let mut settings = settings();
        settings.deploy_image = Some(PINNED.into());
        settings.repo = "viktor/Freedify".parse().unwrap();
        let err = settings.config().unwrap_err().to_string();
        assert!(err.starts_with("--namespace \"Freedify\" is not a Kubernetes name"), "{err}");
        assert!(err.ends_with("name it with --namespace, e.g. --namespace freedify"), "{err}");
        settings.repo = "viktor/tuya_bridge".parse().unwrap();
        settings.namespace = Some("tuya".into());
        let err = settings.config().unwrap_err().to_string();
        assert!(err.starts_with("--deployment \"tuya_bridge\" is not a Kubernetes name"), "{err}");
        assert!(err.ends_with("e.g. --deployment tuya-bridge"), "{err}");
        assert_eq!(suggest_k8s_name("__My App!!"), Some("my-app".into()));
        assert_eq!(suggest_k8s_name("ünïcode"), Some("n-code".into()));
        assert_eq!(suggest_k8s_name("___"), None);
        assert_eq!(suggest_k8s_name(&"a".repeat(70)).map(|s| s.len()), Some(63));
        settings.deployment = Some("tuya-bridge".into());
        settings.container = Some("tuya-bridge".into());
        settings.service_account = Some("-bad".into());
        assert!(settings.config().unwrap_err().to_string().starts_with("--service-account \"-bad\""));
        settings.service_account = Some("ci.deployer".into());
        assert!(settings.config().is_ok());
    }

    #[tokio::test]
    async fn a_tag_is_pinned_to_its_digest_and_a_pinned_image_is_kept() {
        let digest = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";
        let mut unpinned = config();
        unpinned.values.iter_mut().find(|(k, _)| k == "deploy_image").unwrap().1 = "ghcr.io/acme/deploy:1.2.3".into();
        let err = render(DEPLOY_TEMPLATE, &unpinned).unwrap_err().to_string();
        assert!(err.contains("ghcr.io/acme/deploy:1.2.3 is not pinned by digest"), "{err}");
        let asked = std::sync::Mutex::new(Vec::new());
        pin_deploy_image(&mut unpinned, async |image: &offinfra_types::ImageRef| {
            asked.lock().unwrap().push(image.to_string());
            Ok(Some(digest.to_owned()))
        })
        .await
        .unwrap();
        assert_eq!(*asked.lock().unwrap(), ["ghcr.io/acme/deploy:1.2.3"]);
        let deploy = render(DEPLOY_TEMPLATE, &unpinned).unwrap();
        assert!(deploy.contains(&format!("    image: ghcr.io/acme/deploy:1.2.3@{digest}\n")), "{deploy}");
        // Pinned already: kept, nothing asked.
        pin_deploy_image(&mut unpinned, async |_: &offinfra_types::ImageRef| panic!("asked")).await.unwrap();
        // Missing in the registry: an error naming the image.
        let mut missing = config();
        missing.values.iter_mut().find(|(k, _)| k == "deploy_image").unwrap().1 = "ghcr.io/acme/deploy:9".into();
        let err = pin_deploy_image(&mut missing, async |_: &offinfra_types::ImageRef| Ok(None)).await.unwrap_err();
        assert_eq!(err.to_string(), "the deploy image ghcr.io/acme/deploy:9 does not exist in its registry");
    }

    #[test]
    fn a_name_the_repository_gives_badly_is_fine_when_the_file_names_the_workload() {
        let mut settings = settings();
        settings.repo = "viktor/Freedify".parse().unwrap();
        settings.deploy_image = Some(PINNED.into());
        let err = settings.config().unwrap_err().to_string();
        assert!(err.contains("--namespace \"Freedify\""), "{err}");
        let named = RepoSettings::parse("workload: {namespace: freedify, name: freedify, containers: [app]}").unwrap();
        let config = settings.config_with(&named).unwrap();
        assert_eq!(config.value("namespace"), Some("freedify"));
        // A CronJob-only app names no workload at all.
        let cron = RepoSettings::parse("workload: {kind: cronjob}").unwrap();
        assert!(!settings.config_with(&cron).unwrap().deploy_pipeline);
    }

    #[tokio::test]
    async fn resolve_reads_the_file_before_it_judges_the_names() {
        use wiremock::{matchers::path, Mock, MockServer, ResponseTemplate};
        let forgejo = MockServer::start().await;
        let text = "workload: {namespace: freedify, name: freedify, containers: [app]}\n";
        let file = serde_json::json!({"name": ".offinfra.yml", "path": ".offinfra.yml", "sha": "1", "type": "file",
                                      "encoding": "base64", "content": offinfra_http::base64(text.as_bytes())});
        Mock::given(path("/api/v1/repos/viktor/Freedify/contents/.offinfra.yml"))
            .respond_with(ResponseTemplate::new(200).set_body_json(file))
            .mount(&forgejo)
            .await;
        let mut settings = Settings::new("viktor/Freedify".parse().unwrap(), &forgejo.uri(), "https://ci.example");
        settings.offinfra_git = Some("https://github.com/ViktorBarzin/offinfra".into());
        settings.deploy_image = Some(PINNED.into());
        let client = Forgejo::new(&forgejo.uri(), "t".to_owned().into()).unwrap();
        let config = settings.resolve(&client).await.unwrap();
        assert_eq!((config.value("namespace"), config.value("container")), (Some("freedify"), Some("app")));
    }

    #[test]
    fn old_pipelines() {
        assert!(is_old_pipeline(".woodpecker/build.yml"));
        assert!(is_old_pipeline(".woodpecker.yml"));
        assert!(!is_old_pipeline(DEPLOY_PATH));
        assert!(!is_old_pipeline(".woodpecker/README.md"));
    }
}
