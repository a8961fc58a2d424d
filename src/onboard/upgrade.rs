//! Moving onboarded repositories to this offinfra version: each repository's settings are read back
//! from what onboard rendered into it (the flags it was onboarded with live only there) and from its
//! `.offinfra.yml`, rendered again with this version, and committed in one commit per repository. A file
//! the owner edited is kept and its diff shown, as onboard does.

use forgejo_client::{ChangeFiles, Forgejo};
use offinfra_types::RepoName;
use serde::Serialize;

use super::{
    plan_files, read_repo_settings, released_deploy_image, Change, OnboardPlan, RepoSettings, Settings, BUILD_PATH,
    DEPLOY_PATH,
};
use crate::ResultExt;

/// The value after `prefix` on the first line of a rendered file holding it, up to the next space: how
/// the upgrade, the fleet checks and the status read back what onboard wrote.
pub(crate) fn after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.split_once(prefix).map(|(_, rest)| rest.split_whitespace().next().unwrap_or("")))
}

/// The secret name in `KEY: ${{ secrets.NAME }}`.
fn secret_of<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    after(text, &format!("{key}: ${{{{ secrets."))
}

/// The [`Settings`] `build` (the rendered workflow) and `deploy` (the rendered deploy pipeline, none for a
/// CronJob-only app) were rendered from, for `repo` mirrored to `github`. What `.offinfra.yml` decides
/// (`repo_settings`: images, workload) is left to it, so a change there wins. The deploy image is this
/// version's release of the offinfra the workflow installs (set [`Settings::deploy_image`] to choose).
pub fn settings_from_rendered(
    repo: RepoName,
    github: Option<RepoName>,
    build: &str,
    deploy: Option<&str>,
    repo_settings: &RepoSettings,
) -> Result<Settings, crate::Error> {
    let missing =
        |what: &str| crate::Error::invalid(format!("{repo}: {BUILD_PATH} has no {what}: not rendered by onboard"));
    let forgejo_url = after(build, "FORGEJO_URL: ").ok_or_else(|| missing("FORGEJO_URL"))?;
    let woodpecker_url = after(build, "WOODPECKER_URL: ").ok_or_else(|| missing("WOODPECKER_URL"))?;
    let mut settings = Settings::new(repo.clone(), forgejo_url, woodpecker_url);
    settings.github_repo = github;
    settings.offinfra_git =
        after(build, "base=").and_then(|b| b.split("/releases/download/").next()).map(str::to_owned);
    if let Some(branch) = after(build, "--deploy-branch ") {
        settings.branch = branch.to_owned();
    }
    // `environment: NAME` (older renders), or `environment:` with `name: NAME` under it.
    let environment = build.lines().find_map(|l| l.strip_prefix("    environment: ")).or_else(|| {
        build.split("\n    environment:\n").nth(1).and_then(|rest| rest.lines().next()?.trim().strip_prefix("name: "))
    });
    if let Some(environment) = environment {
        settings.environment = environment.trim().to_owned();
    }
    if let Some(secret) = secret_of(build, "FORGEJO_TOKEN") {
        settings.forgejo_secret = secret.to_owned();
    }
    if let Some(secret) = secret_of(build, "WOODPECKER_TOKEN") {
        settings.woodpecker_secret = secret.to_owned();
    }
    if repo_settings.images.is_empty() {
        settings.image = after(build, " --image ").map(str::to_owned);
    }
    if let Some(deploy) = deploy {
        let workload = &repo_settings.workload;
        let flag = |name: &str| after(deploy, &format!("- --{name}=")).map(str::to_owned);
        if workload.namespace.is_none() {
            settings.namespace = flag("namespace");
        }
        if workload.name.is_none() {
            settings.deployment = flag("name");
        }
        if workload.containers.is_empty() {
            settings.container = flag("container-name");
        }
        settings.service_account = after(deploy, "serviceAccountName: ").map(str::to_owned);
        settings.slack_secret =
            deploy.split("SLACK_WEBHOOK:\n").nth(1).and_then(|rest| after(rest, "from_secret: ")).map(str::to_owned);
    }
    settings.deploy_image = settings.offinfra_git.as_deref().and_then(released_deploy_image);
    Ok(settings)
}

/// One repository's upgrade.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Upgrade {
    /// The Forgejo repository.
    pub repo: String,
    /// The files changed and those kept (edited by their owner), with their diffs.
    pub plan: OnboardPlan,
    /// The diffs of the files the commit changes, repository's to this version's.
    pub diffs: Vec<String>,
    /// The commit made (none in a dry run, or when there is nothing to change).
    pub commit: Option<String>,
}

/// An upgrade for people: `<repo>: committed <sha>` (or `would commit` in a dry run) with the diffs, the
/// files kept with theirs, or `up to date`.
pub fn upgrade_report(upgrade: &Upgrade, dry_run: bool) -> String {
    let mut out = String::new();
    for change in &upgrade.plan.changes {
        let verb = match (&upgrade.commit, dry_run || upgrade.plan.stops()) {
            (Some(sha), _) => format!("committed {}", sha.chars().take(12).collect::<String>()),
            (None, true) => "would commit".to_owned(),
            (None, false) => "commit".to_owned(),
        };
        out += &format!("{}: {verb}: {change}\n", upgrade.repo);
    }
    if upgrade.plan.changes.is_empty() && !upgrade.plan.stops() {
        out += &format!("{}: up to date with offinfra {}\n", upgrade.repo, crate::VERSION);
    }
    if dry_run {
        upgrade.diffs.iter().for_each(|diff| out += diff);
    }
    for file in &upgrade.plan.edited {
        out += &format!(
            "{}: kept {} (edited since onboard rendered it; --force overwrites it):\n{}",
            upgrade.repo, file.path, file.diff
        );
    }
    out
}

/// What [`upgrade`] needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpgradeOptions {
    /// The Forgejo users or organisations whose onboarded repositories move.
    pub owners: Vec<String>,
    /// The deploy image, when not this version's release of the installed offinfra.
    pub deploy_image: Option<String>,
    /// Overwrite files the owner edited.
    pub force: bool,
    /// Show what would change; commit nothing.
    pub dry_run: bool,
}

/// Moves every onboarded repository of the owners to this version: one commit per repository whose
/// rendered files differ, a dry run shows the diffs. Repositories not onboarded are passed over.
pub async fn upgrade(forgejo: &Forgejo, options: &UpgradeOptions) -> Result<Vec<Upgrade>, crate::Error> {
    let mut out = Vec::new();
    for owner in &options.owners {
        let mut repos = forgejo.owner_repos(owner).await.with_context(|| format!("listing {owner}'s repositories"))?;
        repos.retain(|r| !r.archived && !r.mirror && !r.empty);
        repos.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        for repo in repos {
            let name = RepoName::parse(&repo.full_name)?;
            if let Some(upgrade) = upgrade_one(forgejo, &name, &repo.default_branch, options).await? {
                out.push(upgrade);
            }
        }
    }
    Ok(out)
}

async fn upgrade_one(
    forgejo: &Forgejo,
    name: &RepoName,
    branch: &str,
    options: &UpgradeOptions,
) -> Result<Option<Upgrade>, crate::Error> {
    let handle = forgejo.repo(name.owner(), name.name());
    let read = |path: &'static str| {
        let contents = handle.contents();
        async move { contents.text(path, Some(branch)).await.with_context(|| format!("reading {path} of {name}")) }
    };
    let Some(build) = read(BUILD_PATH).await?.filter(|b| b.contains("offinfra onboard")) else { return Ok(None) };
    let deploy = read(DEPLOY_PATH).await?;
    let mirrors = handle.push_mirrors().list().await.with_context(|| format!("listing push mirrors of {name}"))?;
    let github = mirrors.iter().find_map(|m| RepoName::parse(&m.github_repo()?).ok());
    let repo_settings = read_repo_settings(forgejo, name, branch).await?;
    let mut settings = settings_from_rendered(name.clone(), github, &build, deploy.as_deref(), &repo_settings)?;
    settings.branch = branch.to_owned();
    settings.force = options.force;
    if let Some(image) = &options.deploy_image {
        settings.deploy_image = Some(image.clone());
    }
    let mut config = settings.config_with(&repo_settings)?;
    super::pin_deploy_image(&mut config, super::registry_digest).await?;
    let mut plan = OnboardPlan::default();
    let commit = plan_files(&handle, &config, name.as_str(), &mut plan).await?;
    let existing = |path: &str| match path {
        BUILD_PATH => Some(build.as_str()),
        DEPLOY_PATH => deploy.as_deref(),
        _ => None,
    };
    let diffs = plan
        .files
        .iter()
        .map(|change| match change {
            forgejo_client::FileChange::Update { path, content, .. } => {
                super::stamp::diff(path, existing(path).unwrap_or_default(), &String::from_utf8_lossy(content))
            }
            forgejo_client::FileChange::Create { path, content } => {
                super::stamp::diff(path, "", &String::from_utf8_lossy(content))
            }
            forgejo_client::FileChange::Delete { path, .. } => format!("delete {path}\n"),
        })
        .collect();
    let mut upgrade = Upgrade { repo: name.to_string(), plan, diffs, commit: None };
    if let (Some(Change::CommitFiles { .. }), false, false) = (&commit, options.dry_run, upgrade.plan.stops()) {
        let change = ChangeFiles {
            files: upgrade.plan.files.clone(),
            message: Some(format!("ci: offinfra {} (offinfra onboard --upgrade)", crate::VERSION)),
            branch: Some(branch.to_owned()),
        };
        let sha = handle.contents().change(&change).await.with_context(|| format!("committing to {name}"))?;
        upgrade.commit = Some(sha);
    }
    upgrade.plan.changes.extend(commit);
    Ok(Some(upgrade))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboard::{render, stamped, BUILD_TEMPLATE, DEPLOY_TEMPLATE};

    const PINNED: &str =
        "ghcr.io/acme/offinfra-deploy:1.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn rendered(settings: &Settings, file: &RepoSettings) -> (String, Option<String>) {
        let config = settings.config_with(file).unwrap();
        let deploy = config.deploy_pipeline.then(|| stamped(&render(DEPLOY_TEMPLATE, &config).unwrap()));
        (stamped(&render(BUILD_TEMPLATE, &config).unwrap()), deploy)
    }

    #[test]
    fn what_onboard_rendered_reads_back_as_the_settings_it_came_from() {
        let mut original =
            Settings::new("viktor/tuya_bridge".parse().unwrap(), "https://forgejo.example/", "https://ci.example");
        original.github_repo = Some("ViktorBarzin/tuya_bridge".parse().unwrap());
        original.branch = "main".into();
        original.image = Some("ghcr.io/viktorbarzin/tuya".into());
        original.namespace = Some("home".into());
        original.deployment = Some("tuya-bridge".into());
        original.container = Some("bridge".into());
        original.service_account = Some("deployer".into());
        original.slack_secret = Some("slack_webhook".into());
        original.offinfra_git = Some("https://github.com/ViktorBarzin/offinfra".into());
        original.deploy_image = Some(PINNED.into());
        original.environment = "release".into();
        original.forgejo_secret = "FJ".into();
        original.woodpecker_secret = "WP".into();
        let files = [
            RepoSettings::default(),
            RepoSettings::parse("lint: make lint\nworkload: {kind: statefulset, namespace: iot, containers: [a, b]}\n")
                .unwrap(),
            RepoSettings::parse("images: [{destinations: [ghcr.io/viktorbarzin/x]}]\nworkload: {kind: cronjob}\n")
                .unwrap(),
        ];
        for file in &files {
            // A flag wins over .offinfra.yml when onboard renders; reading back, the file does (an upgrade
            // renders from the file): the flags here are those the file leaves open.
            let mut original = original.clone();
            if file.workload.namespace.is_some() {
                original.namespace = None;
            }
            if !file.workload.containers.is_empty() {
                original.container = None;
            }
            if !file.images.is_empty() {
                original.image = None;
            }
            let (build, deploy) = rendered(&original, file);
            let github = original.github_repo.clone();
            let mut back =
                settings_from_rendered(original.repo.clone(), github, &build, deploy.as_deref(), file).unwrap();
            assert_eq!(
                back.deploy_image.as_deref(),
                Some(format!("ghcr.io/viktorbarzin/offinfra-deploy:{}", crate::VERSION).as_str()),
                "this version's release"
            );
            back.deploy_image = Some(PINNED.into());
            assert_eq!(rendered(&back, file), (build, deploy), "{file:?}");
        }
        let err = settings_from_rendered(original.repo.clone(), None, "name: build\n", None, &files[0]).unwrap_err();
        assert!(err.to_string().contains("has no FORGEJO_URL: not rendered by onboard"), "{err}");
    }
}
