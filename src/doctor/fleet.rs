//! The fleet in one command: every onboarded repository of some owners, each checked the same way,
//! several at a time, into one table of repository x check with the fix for each failure.
//!
//! A repository is onboarded when its default branch has the workflow onboard writes
//! ([`crate::onboard::BUILD_PATH`], rendered by offinfra). Per repository:
//! - `workflow`: the rendered workflow tags its own Forgejo repository, is as onboard rendered it and
//!   pins this offinfra version;
//! - `mirror`: a push mirror to GitHub that syncs on commit and whose last sync did not fail;
//! - `registration`: the GitHub mirror's Woodpecker registration (the one `flow` deploys through) is active;
//! - `webhook`: with the in-cluster Woodpecker URL, the Forgejo webhook points at it ([`super::webhook`]);
//! - `secrets`: every `from_secret` of every pipeline file resolves on every Woodpecker registration of the
//!   repository (its own secrets, its organisation's, the global ones): an empty commit makes Woodpecker run
//!   every workflow file, and path filters do not exclude any.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Mutex,
};

use futures_util::{stream, StreamExt};
use offinfra_types::RepoName;
use serde::Serialize;
use woodpecker_client::{SecretScope, Woodpecker};

use super::{Finding, Status};
use crate::{onboard::BUILD_PATH, ResultExt};

/// The checks, in the table's column order.
pub const CHECKS: [&str; 5] = ["workflow", "mirror", "registration", "webhook", "secrets"];

/// What the fleet run needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Fleet {
    /// Forgejo, to list and read the repositories.
    pub forgejo: forgejo_client::Forgejo,
    /// Woodpecker, for the registrations and their secrets.
    pub woodpecker: Woodpecker,
    /// The Forgejo users or organisations whose repositories are checked.
    pub owners: Vec<String>,
    /// The in-cluster Woodpecker URL webhooks must point at (without it, the webhook check is skipped).
    pub woodpecker_internal_url: Option<String>,
    /// Other addresses of the same Woodpecker (its public URL).
    pub woodpecker_urls: Vec<String>,
    /// Repositories checked at a time.
    pub concurrency: usize,
}

impl Fleet {
    /// The fleet run over `owners`, four repositories at a time.
    pub fn new(forgejo: forgejo_client::Forgejo, woodpecker: Woodpecker, owners: Vec<String>) -> Self {
        Self { forgejo, woodpecker, owners, woodpecker_internal_url: None, woodpecker_urls: Vec::new(), concurrency: 4 }
    }
}

/// The secret names beyond a repository's own, read once per run: the global ones and each organisation's
/// (many repositories share one). `None`: the token may not list them.
struct SharedSecrets {
    global: Option<BTreeSet<String>>,
    orgs: Mutex<BTreeMap<i64, Option<BTreeSet<String>>>>,
}

impl SharedSecrets {
    /// Organisation `id`'s secret names, listed on first use (org secrets need an org admin to list).
    async fn org(&self, woodpecker: &Woodpecker, id: i64) -> Option<BTreeSet<String>> {
        if let Some(known) = self.orgs.lock().ok().and_then(|orgs| orgs.get(&id).cloned()) {
            return known;
        }
        let listed = woodpecker.secrets(SecretScope::Org(id)).list().await.ok();
        let names = listed.map(|secrets| secrets.into_iter().map(|s| s.name).collect::<BTreeSet<_>>());
        if let Ok(mut orgs) = self.orgs.lock() {
            orgs.insert(id, names.clone());
        }
        names
    }
}

/// An onboarded repository, as [`Fleet::status`] reads it.
#[derive(Debug, Clone)]
pub(super) struct Onboarded {
    /// The Forgejo repository.
    pub name: RepoName,
    /// Its rendered workflow.
    pub workflow: String,
    /// Its deploy pipeline (none for a CronJob-only app).
    pub deploy_pipeline: Option<String>,
    /// The GitHub repository its push mirror pushes to.
    pub github: Option<RepoName>,
}

/// One repository's findings, one per check (the check's name is the finding's `check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RepoFindings {
    /// The Forgejo repository.
    pub repo: String,
    /// Its findings, in [`CHECKS`] order.
    pub findings: Vec<Finding>,
}

impl Fleet {
    /// Finds the onboarded repositories and checks each; the answer is in repository order. A repository
    /// whose check could not run (an API error) gets a failed finding saying so; the other repositories
    /// are still checked.
    pub async fn run(&self) -> Result<Vec<RepoFindings>, crate::Error> {
        // Listing global secrets needs an admin token: without one, what is not found elsewhere may be global.
        let global = match self.woodpecker.secrets(SecretScope::Global).list().await {
            Ok(globals) => Some(globals.into_iter().map(|s| s.name).collect::<BTreeSet<String>>()),
            Err(woodpecker_client::Error::Http(e)) if matches!(e.status(), Some(401 | 403)) => None,
            Err(e) => return Err(e).context("listing global secrets"),
        };
        let globals = SharedSecrets { global, orgs: Mutex::default() };
        let repos = self.repositories().await?;
        let checked = stream::iter(repos)
            .map(|repo| self.repository(repo, &globals))
            .buffer_unordered(self.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut out: Vec<RepoFindings> = checked.into_iter().flatten().collect();
        out.sort_by(|a, b| a.repo.cmp(&b.repo));
        Ok(out)
    }

    /// The owners' repositories that may be onboarded: not archived, not pull mirrors, not empty.
    async fn repositories(&self) -> Result<Vec<forgejo_client::Repository>, crate::Error> {
        let mut repos = Vec::new();
        for owner in &self.owners {
            let listed =
                self.forgejo.owner_repos(owner).await.with_context(|| format!("listing {owner}'s repositories"))?;
            repos.extend(listed.into_iter().filter(|r| !r.archived && !r.mirror && !r.empty));
        }
        repos.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        Ok(repos)
    }

    /// The workflow onboard rendered on the repository's default branch; `None` when there is none.
    async fn workflow(&self, repo: &forgejo_client::Repository) -> Result<Option<String>, crate::Error> {
        let (owner, name) = repo.full_name.split_once('/').unwrap_or_default();
        let found = self.forgejo.repo(owner, name).contents().text(BUILD_PATH, Some(&repo.default_branch)).await;
        let Some(text) = found.with_context(|| format!("reading {BUILD_PATH} of {}", repo.full_name))? else {
            return Ok(None);
        };
        Ok(text.contains("offinfra onboard").then_some(text))
    }

    /// Every onboarded repository with what the status reads: its workflow, its deploy pipeline and the
    /// GitHub repository its push mirror pushes to.
    pub(super) async fn onboarded(&self) -> Result<Vec<Onboarded>, crate::Error> {
        let mut out = Vec::new();
        for repo in self.repositories().await? {
            let Some(workflow) = self.workflow(&repo).await? else { continue };
            let name = RepoName::parse(&repo.full_name)?;
            let handle = self.forgejo.repo(name.owner(), name.name());
            let deploy = handle.contents().text(crate::onboard::DEPLOY_PATH, Some(&repo.default_branch)).await;
            let deploy_pipeline = deploy.with_context(|| format!("reading the deploy pipeline of {name}"))?;
            let (_, github) = self.mirror(&name).await;
            out.push(Onboarded { name, workflow, deploy_pipeline, github });
        }
        Ok(out)
    }

    /// The checks of one repository; `None` when it is not onboarded.
    async fn repository(&self, repo: forgejo_client::Repository, globals: &SharedSecrets) -> Option<RepoFindings> {
        let name = RepoName::parse(&repo.full_name).ok()?;
        let workflow = match self.workflow(&repo).await {
            Ok(workflow) => workflow?,
            Err(e) => {
                let finding = Finding::new("workflow", Status::Fail, crate::error::one_line(&e));
                return Some(RepoFindings { repo: repo.full_name, findings: vec![finding] });
            }
        };
        let mut findings = vec![workflow_finding(&name, &workflow)];
        let (mirror, github) = self.mirror(&name).await;
        findings.push(mirror);
        let registrations = self.registrations(&name, github.as_ref()).await;
        findings.push(registration_finding(&name, github.as_ref(), &registrations));
        findings.push(match &self.woodpecker_internal_url {
            None => Finding::new("webhook", Status::Pass, "not checked (no --woodpecker-internal-url)"),
            Some(url) => match super::webhook(&self.forgejo, &name, url, &self.woodpecker_urls, false).await {
                Ok(hooks) => {
                    let failed: Vec<&Finding> = hooks.iter().filter(|f| f.status == Status::Fail).collect();
                    match failed.first() {
                        None => Finding::new(
                            "webhook",
                            Status::Pass,
                            hooks.iter().map(|f| f.evidence.as_str()).collect::<Vec<_>>().join("; "),
                        ),
                        Some(f) => Finding::new("webhook", Status::Fail, f.evidence.clone())
                            .with_remedy(format!("doctor --repo {name} --woodpecker-internal-url {url} --fix")),
                    }
                }
                Err(e) => Finding::new("webhook", Status::Fail, crate::error::one_line(&e)),
            },
        });
        findings.push(self.secrets(&name, &registrations, globals).await);
        Some(RepoFindings { repo: repo.full_name, findings })
    }

    /// The push mirror's finding and the GitHub repository it pushes to.
    async fn mirror(&self, name: &RepoName) -> (Finding, Option<RepoName>) {
        let onboard = format!("onboard --repo {name}");
        let mirrors = match self.forgejo.repo(name.owner(), name.name()).push_mirrors().list().await {
            Ok(mirrors) => mirrors,
            Err(e) => {
                return (Finding::new("mirror", Status::Fail, crate::error::one_line(&crate::Error::from(e))), None)
            }
        };
        let github = mirrors.iter().find_map(|m| Some((m, RepoName::parse(&m.github_repo()?).ok()?)));
        let finding = match &github {
            None => Finding::new("mirror", Status::Fail, "no push mirror to GitHub").with_remedy(onboard),
            Some((m, gh)) => match m.error() {
                Some(error) => Finding::new("mirror", Status::Fail, format!("the last sync to GitHub {gh} failed: {error}"))
                    .with_remedy("renew the mirror's GitHub token in the repository's mirror settings (or delete the mirror and run onboard)"),
                None if !m.sync_on_commit => Finding::new("mirror", Status::Warn, format!("to GitHub {gh}, but not on each commit"))
                    .with_remedy(format!("delete the mirror in Forgejo and run {onboard}")),
                None => Finding::new("mirror", Status::Pass, format!("to GitHub {gh}, on each commit")),
            },
        };
        (finding, github.map(|(_, gh)| gh))
    }

    /// The Woodpecker registrations of the repository: the GitHub mirror's and Forgejo's own, each when it
    /// exists.
    async fn registrations(
        &self,
        name: &RepoName,
        github: Option<&RepoName>,
    ) -> Vec<(String, Option<woodpecker_client::Repo>)> {
        let mut out = Vec::new();
        for (forge, repo) in github.map(|gh| ("GitHub", gh)).into_iter().chain([("Forgejo", name)]) {
            let found = self.woodpecker.lookup(repo.owner(), repo.name()).await.ok();
            out.push((format!("{forge} {repo}"), found));
        }
        out
    }

    async fn secrets(
        &self,
        name: &RepoName,
        registrations: &[(String, Option<woodpecker_client::Repo>)],
        globals: &SharedSecrets,
    ) -> Finding {
        let pipelines = match super::seams::repository_pipelines(&self.forgejo, name).await {
            Ok(pipelines) => pipelines,
            Err(e) => return Finding::new("secrets", Status::Fail, crate::error::one_line(&e)),
        };
        let mut wanted = BTreeSet::new();
        for (_, text) in &pipelines {
            wanted.extend(super::pipeline::from_secrets(text));
        }
        if wanted.is_empty() {
            return Finding::new("secrets", Status::Pass, "no pipeline reads a secret");
        }
        let mut missing = Vec::new();
        let mut checked = Vec::new();
        let mut unreadable = BTreeSet::new();
        if globals.global.is_none() {
            unreadable.insert("the global".to_owned());
        }
        for (label, repo) in registrations {
            let Some(repo) = repo.as_ref().filter(|r| r.active) else { continue };
            let mut have = globals.global.clone().unwrap_or_default();
            let own = self.woodpecker.secrets(SecretScope::Repo(repo.id)).list().await;
            if let Some(org) = repo.org_id {
                match globals.org(&self.woodpecker, org).await {
                    Some(names) => have.extend(names),
                    None => {
                        unreadable.insert(format!("organisation {org}'s"));
                    }
                }
            }
            match own {
                Ok(own) => have.extend(own.into_iter().map(|s| s.name)),
                Err(e) => {
                    return Finding::new(
                        "secrets",
                        Status::Fail,
                        format!("{label}: {}", crate::error::one_line(&crate::Error::from(e))),
                    )
                }
            }
            checked.push(label.clone());
            let lacking: Vec<&str> = wanted.iter().filter(|s| !have.contains(*s)).map(String::as_str).collect();
            if !lacking.is_empty() {
                missing.push(format!("{} missing on {label} (#{})", lacking.join(", "), repo.id));
            }
        }
        let names = wanted.iter().cloned().collect::<Vec<_>>().join(", ");
        let remedy =
            "add them to the registration (Woodpecker repository settings, or sync-secrets from Vault), or drop the from_secret";
        match (missing.is_empty(), unreadable.is_empty()) {
            (true, _) if checked.is_empty() => {
                Finding::new("secrets", Status::Pass, format!("{names}: no active registration to check"))
            }
            (true, _) => Finding::new("secrets", Status::Pass, format!("{names} on {}", checked.join(" and "))),
            (false, true) => Finding::new("secrets", Status::Fail, missing.join("; ")).with_remedy(remedy),
            // Not found where the token can look: a warning, since they may be secrets it cannot list.
            (false, false) => {
                let scopes = unreadable.into_iter().collect::<Vec<_>>().join(" and ");
                let evidence = format!(
                    "{} (unless {scopes} secrets, which this token cannot list, hold them)",
                    missing.join("; ")
                );
                Finding::new("secrets", Status::Warn, evidence).with_remedy(remedy)
            }
        }
    }
}

/// The rendered workflow's finding: it must tag this repository; an edited or older rendering is a warning.
fn workflow_finding(name: &RepoName, text: &str) -> Finding {
    let read = crate::onboard::upgrade::after;
    let tags = read(text, "flow --forgejo-repo ");
    if let Some(other) = tags.filter(|t| !t.eq_ignore_ascii_case(name.as_str())) {
        return Finding::new(
            "workflow",
            Status::Fail,
            format!("{BUILD_PATH} tags {other}, not {name} (copied from another repository?)"),
        )
        .with_remedy(format!("onboard --repo {name} --force"));
    }
    let version = read(text, "- name: install offinfra ");
    match (crate::onboard::intact(text), version) {
        (false, _) => {
            Finding::new("workflow", Status::Warn, format!("{BUILD_PATH} edited since onboard rendered it (kept)"))
                .with_remedy("move the change into .offinfra.yml, then onboard --force")
        }
        (true, Some(v)) if v != crate::VERSION => {
            Finding::new("workflow", Status::Warn, format!("pins offinfra {v}; this is {}", crate::VERSION))
                .with_remedy("onboard --upgrade")
        }
        _ => {
            Finding::new("workflow", Status::Pass, format!("rendered by onboard, offinfra {}", version.unwrap_or("?")))
        }
    }
}

/// The deploy registration's finding.
fn registration_finding(
    name: &RepoName,
    github: Option<&RepoName>,
    registrations: &[(String, Option<woodpecker_client::Repo>)],
) -> Finding {
    let Some(github) = github else {
        return Finding::new(
            "registration",
            Status::Fail,
            "no GitHub mirror, so no registration flow can deploy through",
        )
        .with_remedy(format!("onboard --repo {name}"));
    };
    match registrations.first().and_then(|(_, r)| r.as_ref()) {
        Some(r) if r.active => {
            Finding::new("registration", Status::Pass, format!("GitHub {github} is Woodpecker repo {}", r.id))
        }
        Some(r) => {
            Finding::new("registration", Status::Fail, format!("GitHub {github} is Woodpecker repo {}, inactive", r.id))
                .with_remedy(format!("onboard --repo {name} (activates it)"))
        }
        None => Finding::new("registration", Status::Fail, format!("GitHub {github} is not registered in Woodpecker"))
            .with_remedy(format!("onboard --repo {name} --github-repo {github}")),
    }
}

/// The fleet as a table: a row per repository, a column per check, then each failure and warning with
/// its evidence and fix.
pub fn table(repos: &[RepoFindings]) -> String {
    let width = repos.iter().map(|r| r.repo.len()).max().unwrap_or(10).max(10);
    let mut out = format!("{:<width$}", "REPOSITORY");
    for check in CHECKS {
        out += &format!("  {check:<12}");
    }
    out = out.trim_end().to_owned() + "\n";
    for repo in repos {
        let mut row = format!("{:<width$}", repo.repo);
        for check in CHECKS {
            let cell = match repo.findings.iter().find(|f| f.check == check).map(|f| f.status) {
                Some(Status::Fail) => "FAIL",
                Some(status) => status.as_str(),
                None => "-",
            };
            row += &format!("  {cell:<12}");
        }
        out += row.trim_end();
        out.push('\n');
    }
    let problems: Vec<(&str, &Finding)> = repos
        .iter()
        .flat_map(|r| r.findings.iter().filter(|f| f.status != Status::Pass).map(move |f| (r.repo.as_str(), f)))
        .collect();
    if !problems.is_empty() {
        out.push('\n');
    }
    for (repo, finding) in problems {
        let status = if finding.status == Status::Fail { "FAIL" } else { "warn" };
        out += &format!("{status} {repo} {}: {}\n", finding.check, finding.evidence);
        if let Some(remedy) = &finding.remedy {
            out += &format!("     fix: {remedy}\n");
        }
    }
    out
}
