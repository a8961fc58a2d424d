//! Onboarding a Forgejo repository onto the pipeline: a push mirror to GitHub that syncs on commit, the
//! GitHub Actions build workflow and the Woodpecker deploy pipeline committed (old pipeline files removed)
//! in one commit, the repository activated in Woodpecker, and the default branch flipped and verified.
//!
//! [`inspect`] reads the current state and returns a [`OnboardPlan`] of only what differs; [`apply`]
//! carries out that plan and nothing else. Run again, the plan is empty and nothing is written.

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
    /// `offinfra_git`, `offinfra_version`, `deploy_image`, `namespace`, `deployment`, `container`,
    /// `service_account`.
    pub values: Vec<(String, String)>,
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
    /// The service account the deploy step runs as.
    pub service_account: String,
    /// The image holding the `deploy` binary (default, when `offinfra_git` is on GitHub: the image its
    /// release pushes, [`released_deploy_image`]).
    pub deploy_image: Option<String>,
    /// Where the build workflow installs offinfra from (required: there is no default to guess).
    pub offinfra_git: Option<String>,
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
    /// The templates' values: each setting given, or its default. A required setting that is missing
    /// (where offinfra is installed from, the deploy image) is an error naming its flag.
    pub fn config(&self) -> Result<OnboardConfig, crate::Error> {
        let required = |value: &Option<String>, what: &str| {
            value
                .clone()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| crate::Error::invalid(format!("onboarding needs {what}")))
        };
        let offinfra_git = required(&self.offinfra_git, "--offinfra-git (where the workflow installs offinfra from)")?;
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
        let (owner, name) = (self.repo.owner(), self.repo.name());
        let github = self.github_repo.as_ref().unwrap_or(&self.repo);
        let gh_owner = github.owner().to_ascii_lowercase();
        let or_name = |value: &Option<String>| value.clone().unwrap_or_else(|| name.to_owned());
        let values = [
            ("forgejo_url", self.forgejo_url.trim_end_matches('/').to_owned()),
            ("woodpecker_url", self.woodpecker_url.trim_end_matches('/').to_owned()),
            (
                "image",
                self.image
                    .clone()
                    .unwrap_or_else(|| format!("ghcr.io/{gh_owner}/{}", github.name().to_ascii_lowercase())),
            ),
            ("offinfra_git", offinfra_git),
            ("offinfra_version", crate::VERSION.to_owned()),
            ("deploy_image", deploy_image),
            ("forgejo_secret", self.forgejo_secret.clone()),
            ("woodpecker_secret", self.woodpecker_secret.clone()),
            ("namespace", or_name(&self.namespace)),
            ("deployment", or_name(&self.deployment)),
            ("container", or_name(&self.container)),
            ("service_account", self.service_account.clone()),
        ];
        Ok(OnboardConfig {
            owner: owner.to_owned(),
            name: name.to_owned(),
            branch: self.branch.clone(),
            github_remote: format!("https://github.com/{github}.git"),
            github_repo: github.clone(),
            allow_overwrite: self.allow_overwrite,
            actions_secrets: self.actions_secrets.clone(),
            replace_secrets: self.replace_secrets,
            github_user: self.github_user.clone(),
            github_token: self.github_token.clone(),
            values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        })
    }
}

/// Renders `template`: `@@owner@@`, `@@name@@`, `@@branch@@` and each of `values`. A placeholder left
/// unfilled is an error naming it.
pub fn render(template: &str, config: &OnboardConfig) -> Result<String, crate::Error> {
    let mut text = template
        .replace("@@owner@@", &config.owner)
        .replace("@@name@@", &config.name)
        .replace("@@branch@@", &config.branch);
    for (key, value) in &config.values {
        text = text.replace(&format!("@@{key}@@"), value);
    }
    if let Some(start) = text.find("@@") {
        let rest = &text[start + 2..];
        let key = rest.split("@@").next().unwrap_or(rest);
        return Err(crate::Error::invalid(format!("template placeholder @@{key}@@ has no value")));
    }
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
    /// Set these GitHub Actions secrets of the mirror (sealed with the repository's public key).
    SetActionsSecrets {
        /// Their names (values never appear).
        names: Vec<String>,
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
            Change::SetActionsSecrets { names } => write!(f, "set Actions secrets {}", names.join(", ")),
        }
    }
}

/// What onboarding still has to do; empty when the repository is fully onboarded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OnboardPlan {
    /// The changes, in the order they are made.
    pub changes: Vec<Change>,
    /// What is already in place (for the report).
    pub in_place: Vec<String>,
    /// The file changes behind [`Change::CommitFiles`] (contents and blob ids).
    #[serde(skip)]
    files: Vec<FileChange>,
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
        out
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
    let Some(branch) =
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
            // A push mirror force-pushes: GitHub commits that Forgejo lacks would be lost.
            let gh = &config.github_repo;
            let head = github_branch_head(github, gh, &config.branch).await?;
            let forgejo_head = branch.commit["id"].as_str().unwrap_or_default().to_owned();
            if let Some(head) = head.filter(|h| *h != forgejo_head) {
                let lacking = match repo.compare(&config.branch, &head).await? {
                    None => Some("a commit Forgejo does not have".to_owned()),
                    Some(c) if c.total_commits > 0 => {
                        Some(format!("{} commit(s) Forgejo's {} lacks", c.total_commits, config.branch))
                    }
                    Some(_) => None,
                };
                match (lacking, config.allow_overwrite) {
                    (Some(what), false) => {
                        return Err(crate::Error::invalid(format!(
                            "GitHub {gh} {} is at {head}, {what} ({full} {} is at {}): the push mirror would \
                             overwrite it; reconcile the two, or pass --allow-overwrite",
                            config.branch, config.branch, forgejo_head
                        )))
                    }
                    (Some(what), true) => plan.in_place.push(format!(
                        "GitHub {gh} {} is at {head}, {what}: overwritten by the mirror (--allow-overwrite)",
                        config.branch
                    )),
                    (None, _) => {}
                }
            }
            plan.changes.push(Change::CreateMirror { remote: config.github_remote.clone() })
        }
    }

    // The pipeline files, on the branch being onboarded.
    let contents = repo.contents();
    let wanted = [(BUILD_PATH, render(BUILD_TEMPLATE, config)?), (DEPLOY_PATH, render(DEPLOY_TEMPLATE, config)?)];
    let (mut create, mut update, mut delete) = (Vec::new(), Vec::new(), Vec::new());
    for (path, text) in &wanted {
        let entry =
            contents.get(path, Some(&config.branch)).await.with_context(|| format!("reading {path} in {full}"))?;
        match entry {
            None => {
                create.push(path.to_string());
                plan.files.push(FileChange::Create { path: path.to_string(), content: text.as_bytes().to_vec() });
            }
            Some(Entry::File(file)) if file.bytes().as_deref() == Some(text.as_bytes()) => {
                plan.in_place.push(format!("{path} up to date"))
            }
            Some(Entry::File(file)) => {
                update.push(path.to_string());
                plan.files.push(FileChange::Update {
                    path: path.to_string(),
                    content: text.as_bytes().to_vec(),
                    sha: file.sha,
                });
            }
            Some(Entry::Dir(_)) => return Err(crate::Error::invalid(format!("{path} in {full} is a directory"))),
        }
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
    for file in old.into_iter().filter(|f| is_old_pipeline(&f.path)) {
        delete.push(file.path.clone());
        plan.files.push(FileChange::Delete { path: file.path, sha: file.sha });
    }
    if plan.files.is_empty() {
        plan.in_place.push("no old pipeline files".into());
    } else {
        plan.changes.push(Change::CommitFiles { create, update, delete });
    }

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

    // The mirror's Actions secrets: names are listed, values are write-only.
    if !config.actions_secrets.is_empty() {
        let existing = github_secret_names(github, gh).await?;
        let mut names = Vec::new();
        for (name, value) in &config.actions_secrets {
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
            plan.changes.push(Change::SetActionsSecrets { names });
        }
    }

    // The default branch.
    if info.default_branch == config.branch {
        plan.in_place.push(format!("default branch {}", config.branch));
    } else {
        plan.changes.push(Change::SetDefaultBranch { from: info.default_branch, to: config.branch.clone() });
    }
    Ok(plan)
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
    let repo = forgejo.repo(&config.owner, &config.name);
    let mut done = Vec::new();
    for change in &plan.changes {
        match change {
            Change::CreateMirror { remote } => {
                let mirror = CreatePushMirror {
                    remote_address: remote.clone(),
                    remote_username: config.github_user.clone(),
                    remote_password: config.github_token.clone(),
                    interval: "0s".into(),
                    sync_on_commit: true,
                };
                repo.push_mirrors()
                    .ensure(&mirror)
                    .await
                    .with_context(|| format!("creating the push mirror of {full}"))?;
            }
            Change::CommitFiles { .. } => {
                let commit = ChangeFiles {
                    files: plan.files.clone(),
                    message: Some(
                        "ci: build on GitHub Actions, deploy in-cluster with Woodpecker (offinfra onboard)".into(),
                    ),
                    branch: Some(config.branch.clone()),
                };
                let sha = repo.contents().change(&commit).await.with_context(|| format!("committing to {full}"))?;
                done.push(format!("committed {}", sha.chars().take(12).collect::<String>()));
                continue;
            }
            Change::Activate { forge_remote_id } => {
                let gh = &config.github_repo;
                let (found, _) = woodpecker
                    .activate(forge_remote_id, gh.owner(), gh.name())
                    .await
                    .with_context(|| format!("activating GitHub {gh} in Woodpecker"))?;
                done.push(format!("activated GitHub {gh} in Woodpecker as repo {}", found.id));
                continue;
            }
            Change::SetActionsSecrets { names } => {
                let values: Vec<(&String, &SecretString)> = config
                    .actions_secrets
                    .iter()
                    .filter(|(name, _)| names.contains(name))
                    .filter_map(|(name, value)| value.as_ref().map(|v| (name, v)))
                    .collect();
                set_actions_secrets(github, &config.github_repo, &values).await?;
            }
            Change::SetDefaultBranch { to, .. } => {
                repo.set_default_branch(to).await.with_context(|| format!("setting the default branch of {full}"))?;
            }
        }
        done.push(change.to_string());
    }
    Ok(done)
}

/// The names of the Actions secrets of the GitHub repository `repo`.
async fn github_secret_names(
    github: &offinfra_http::Client,
    repo: &offinfra_types::RepoName,
) -> Result<Vec<String>, crate::Error> {
    let route = format!("{}/actions/secrets", github_repo_path(repo));
    let answer: serde_json::Value = github
        .json(&offinfra_http::Request::get(route).query("per_page", "100"))
        .await
        .with_context(|| format!("listing the Actions secrets of {repo} on GitHub"))?;
    Ok(answer["secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect())
}

/// Sets Actions secrets of `repo`: each value sealed (libsodium's sealed box, as GitHub requires) with
/// the repository's public key, then `PUT`. The plain value never leaves this function.
async fn set_actions_secrets(
    github: &offinfra_http::Client,
    repo: &offinfra_types::RepoName,
    secrets: &[(&String, &SecretString)],
) -> Result<(), crate::Error> {
    use offinfra_http::ExposeSecret;
    let base = github_repo_path(repo);
    let key: serde_json::Value = github
        .json(&offinfra_http::Request::get(format!("{base}/actions/secrets/public-key")))
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
        let request =
            offinfra_http::Request::put(format!("{base}/actions/secrets/{}", offinfra_http::encode_segment(name)))
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

/// The commit at the head of `branch` of the GitHub repository `repo`; `None` when the repository or the
/// branch does not exist yet (a new mirror).
async fn github_branch_head(
    github: &offinfra_http::Client,
    repo: &offinfra_types::RepoName,
    branch: &str,
) -> Result<Option<String>, crate::Error> {
    let route = format!(
        "/repos/{}/{}/branches/{}",
        offinfra_http::encode_segment(repo.owner()),
        offinfra_http::encode_segment(repo.name()),
        offinfra_http::encode_segment(branch)
    );
    match github.json::<serde_json::Value>(&offinfra_http::Request::get(route)).await {
        Ok(answer) => Ok(answer["commit"]["sha"].as_str().map(str::to_owned)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading branch {branch} of {repo} on GitHub")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OnboardConfig {
        let values = [
            ("forgejo_url", "https://git.example.com"),
            ("woodpecker_url", "https://ci.example.com"),
            ("image", "ghcr.io/acme/app"),
            ("offinfra_git", "https://git.example.com/acme/offinfra"),
            ("offinfra_version", "1.2.3"),
            ("deploy_image", "ghcr.io/acme/offinfra-deploy:latest"),
            ("forgejo_secret", "FORGEJO_GIT_TOKEN"),
            ("woodpecker_secret", "WOODPECKER_TOKEN"),
            ("namespace", "prod"),
            ("deployment", "app"),
            ("container", "app"),
            ("service_account", "deployer"),
        ];
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
            values: values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn the_readme_shows_exactly_what_onboard_writes_for_a_fleet_repo() {
        let settings = Settings {
            repo: "viktor/app".parse().unwrap(),
            github_repo: Some("ViktorBarzin/app".parse().unwrap()),
            branch: "master".into(),
            forgejo_url: "https://git.example.com/".into(),
            woodpecker_url: "https://ci.example.com".into(),
            github_user: "x-access-token".into(),
            github_token: "t".to_owned().into(),
            image: None,
            namespace: None,
            deployment: None,
            container: None,
            service_account: "deployer".into(),
            deploy_image: None,
            offinfra_git: Some("https://github.com/ViktorBarzin/offinfra".into()),
            forgejo_secret: "FORGEJO_GIT_TOKEN".into(),
            woodpecker_secret: "WOODPECKER_TOKEN".into(),
            allow_overwrite: false,
            actions_secrets: Vec::new(),
            replace_secrets: false,
        };
        let config = settings.config().unwrap();
        let readme = include_str!("../README.md");
        for template in [BUILD_TEMPLATE, DEPLOY_TEMPLATE] {
            let rendered = render(template, &config).unwrap();
            assert!(readme.contains(&rendered), "README.md does not show this file as onboard writes it:\n{rendered}");
        }
        assert!(config.github_remote.ends_with("github.com/ViktorBarzin/app.git"), "the mirror's own name");
        let deploy = render(DEPLOY_TEMPLATE, &config).unwrap();
        let released = format!("image: ghcr.io/viktorbarzin/offinfra-deploy:{}\n", crate::VERSION);
        assert!(deploy.contains(&released), "the image offinfra's release pushes: {deploy}");
        assert!(render(BUILD_TEMPLATE, &config).unwrap().contains("--image ghcr.io/viktorbarzin/app"), "lower case");
    }

    #[test]
    fn templates_encode_the_lessons() {
        let deploy = render(DEPLOY_TEMPLATE, &config()).unwrap();
        assert!(deploy.contains("when:\n  - event: manual\n"), "deploy only on manual events");
        assert!(deploy.contains(
            "- deploy --namespace prod --name app --container-name app --timeout 300s --rollback-on-failure\n"
        ));
        assert!(!deploy.contains('$'), "the image reaches deploy through its environment, never the YAML");
        let build = render(BUILD_TEMPLATE, &config()).unwrap();
        assert!(build.contains("--provenance=false"));
        assert!(build.contains("flow --forgejo-repo acme/app --image ghcr.io/acme/app --layout image.tar"));
        assert!(build.contains("FORGEJO_TOKEN: ${{ secrets.FORGEJO_GIT_TOKEN }}"), "GitHub expressions survive");
        assert!(build.contains("WOODPECKER_TOKEN: ${{ secrets.WOODPECKER_TOKEN }}"));
        assert!(!build.contains("example.invalid") && !deploy.contains("example.invalid"), "no placeholder defaults");

        let mut missing = config();
        missing.values.retain(|(k, _)| k != "namespace");
        assert_eq!(
            render(DEPLOY_TEMPLATE, &missing).unwrap_err().to_string(),
            "template placeholder @@namespace@@ has no value"
        );
    }

    #[test]
    fn old_pipelines() {
        assert!(is_old_pipeline(".woodpecker/build.yml"));
        assert!(is_old_pipeline(".woodpecker.yml"));
        assert!(!is_old_pipeline(DEPLOY_PATH));
        assert!(!is_old_pipeline(".woodpecker/README.md"));
    }
}
