//! The build-tag-push-deploy flow of a GitHub Actions job, as one typed plan and one runner:
//! next version (svu) → tag on the canonical forge → push the image as `:<sha8>` and `:latest` → prune the
//! package → trigger the deploy pipeline (and optionally wait for it).
//!
//! [`Plan::new`] is pure: it decides every name, reference and request body from the inputs, so a dry run
//! prints exactly what a real run does. [`run`] executes a plan against four seams ([`Forge`],
//! [`ImageTarget`], [`PackageStore`], [`DeployTarget`]); [`backends`] holds the implementations over
//! our clients, and tests or other forges plug in their own.
//!
//! ```
//! use offinfra::flow::{Plan, PlanInputs, Registration, Steps, VersionPlan};
//!
//! let plan = Plan::new(PlanInputs {
//!     repo: "Acme/app".parse()?,                          // the GitHub mirror, where Actions runs
//!     forgejo_repo: Some("acme/app".parse()?),            // canonical git: receives the tag
//!     registration: Registration::Name("Acme/app".parse()?), // the Woodpecker registration that deploys
//!     sha: "0123abcd4567ef890123abcd4567ef8901234567".parse()?,
//!     version: VersionPlan { version: "1.3.0".into(), tag: "v1.3.0".into(), current_tag: Some("v1.2.0".into()), release: true },
//!     image: "ghcr.io/acme/app".parse()?,
//!     extra_tags: vec!["latest".parse()?],
//!     keep: 10,
//!     packages_registry: offinfra::flow::GHCR.into(),
//!     deploy_branch: "master".into(),
//!     steps: Steps::default(),
//!     prune_failure_ok: false,
//! })?;
//! assert_eq!(plan.tag.as_deref(), Some("v1.3.0"));
//! assert_eq!(plan.image_refs[1].to_string(), "ghcr.io/acme/app:latest");
//! assert_eq!(plan.deploy.unwrap().variables["IMAGE_TAG"], "0123abcd");
//! # Ok::<(), offinfra::Error>(())
//! ```
//!
//! [`Config::plan`] makes the inputs from a checkout (the repository from its `origin`, the commit from
//! `HEAD`, the version from svu with its config file), as the `flow` example does.

pub use crate::error::PlanError;
use std::{collections::BTreeMap, fmt};

use offinfra_types::{CommitId, ImageName, ImageRef, RepoName, Tag};
use serde::Serialize;
use tracing::Instrument;

use crate::Error;

pub mod backends;
mod config;
pub mod connect;
mod release;

pub use config::{CheckoutVersions, Config, CONFIG_FILE, DEFAULT_REGISTRY};
pub use release::{newest_release, tag_release, ForgeTag, ForgeVersion, TagSummary, Tagged, Versions};

/// The flow's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Create the version tag on the forge.
    Tag,
    /// Push the image under its tags.
    Push,
    /// Prune the package to its newest versions.
    Prune,
    /// Trigger the deploy pipeline.
    Deploy,
}

impl Step {
    /// The lower-case name used in outputs and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Tag => "tag",
            Step::Push => "push",
            Step::Prune => "prune",
            Step::Deploy => "deploy",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which steps run (all by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Steps {
    /// Create the tag.
    pub tag: bool,
    /// Push the image.
    pub push: bool,
    /// Prune the package.
    pub prune: bool,
    /// Trigger the deploy.
    pub deploy: bool,
}

impl Default for Steps {
    fn default() -> Self {
        Self { tag: true, push: true, prune: true, deploy: true }
    }
}

/// The version the svu engine computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionPlan {
    /// The next version, without prefix (`1.3.0`).
    pub version: String,
    /// The tag for it, with prefix (`v1.3.0`).
    pub tag: String,
    /// The tag the current version comes from; `None` in a repository without tags.
    pub current_tag: Option<String>,
    /// Whether the commits since the current tag ask for a new version.
    pub release: bool,
}

impl VersionPlan {
    /// From the svu engine's outcome.
    pub fn from_outcome(outcome: &svu::Outcome, tag_prefix: &str) -> Self {
        Self {
            version: outcome.version.to_string(),
            tag: format!("{tag_prefix}{}", outcome.version),
            current_tag: outcome.tag.as_ref().map(|t| t.name.clone()),
            release: outcome.version != outcome.current,
        }
    }

    /// Why no tag is due, for people.
    pub fn no_release_reason(&self) -> String {
        match &self.current_tag {
            Some(tag) => format!("no commit since {tag} asks for a new version"),
            None => "no commit in the history asks for a version yet".to_owned(),
        }
    }
}

/// The Woodpecker registration that runs the deploy pipeline: by name (looked up) or by numeric id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Registration {
    /// `owner/name` as Woodpecker knows it (the GitHub mirror's, for a repository built on Actions).
    Name(RepoName),
    /// The numeric id.
    Id(i64),
}

impl fmt::Display for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Registration::Name(name) => write!(f, "{name}"),
            Registration::Id(id) => write!(f, "#{id}"),
        }
    }
}

/// What [`Plan::new`] decides from. A repository has several names, and none stands in for another:
/// the Forgejo repository receives the tag, the Woodpecker registration runs the deploy, and the image
/// has a name of its own.
#[derive(Debug, Clone)]
pub struct PlanInputs {
    /// The repository the CI builds (`GITHUB_REPOSITORY`: the GitHub mirror), named in summaries.
    pub repo: RepoName,
    /// The canonical Forgejo repository that receives the tag; `None` when not known (a dry run shows it,
    /// a real run that tags needs it).
    pub forgejo_repo: Option<RepoName>,
    /// The Woodpecker registration that deploys.
    pub registration: Registration,
    /// The built commit.
    pub sha: CommitId,
    /// The computed version.
    pub version: VersionPlan,
    /// The image repository, `registry/owner/name` (e.g. `ghcr.io/acme/app`).
    pub image: ImageName,
    /// Tags pushed besides `<sha8>` (usually `latest`).
    pub extra_tags: Vec<Tag>,
    /// Package versions the prune keeps.
    pub keep: usize,
    /// The registry whose packages the Packages API prunes ([`GHCR`]); an image elsewhere is not pruned.
    pub packages_registry: String,
    /// The branch the deploy pipeline runs on.
    pub deploy_branch: String,
    /// Which steps run.
    pub steps: Steps,
    /// A failed prune leaves the run successful (it is still reported); by default it fails the run,
    /// though never before the deploy of the image it pushed.
    pub prune_failure_ok: bool,
}

/// The body of Woodpecker's `POST /api/repos/{id}/pipelines`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployRequest {
    /// The branch to run on.
    pub branch: String,
    /// The pipeline variables: `IMAGE_NAME` and `IMAGE_TAG`.
    pub variables: BTreeMap<String, String>,
}

/// Everything a run will do, decided up front.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The repository the CI builds.
    pub repo: RepoName,
    /// The Forgejo repository that receives the tag.
    pub forgejo_repo: Option<RepoName>,
    /// The Woodpecker registration that deploys.
    pub registration: Registration,
    /// The built commit.
    pub sha: CommitId,
    /// The computed version.
    pub version: VersionPlan,
    /// The tag to create on `sha`; `None` when no release is due or the step is off.
    pub tag: Option<String>,
    /// The image repository.
    pub image: ImageName,
    /// The tags pushed: `<sha8>` first.
    pub image_tags: Vec<Tag>,
    /// `image:tag` for each tag.
    pub image_refs: Vec<ImageRef>,
    /// Versions kept by the prune; `None` when the step is off.
    pub keep: Option<usize>,
    /// The deploy request; `None` when the step is off.
    pub deploy: Option<DeployRequest>,
    /// The steps that run.
    pub steps: Steps,
    /// Whether a failed prune leaves the run successful.
    pub prune_failure_ok: bool,
}

impl Plan {
    /// Decides the run from its inputs; nothing is contacted.
    pub fn new(inputs: PlanInputs) -> Result<Self, PlanError> {
        let steps = inputs.steps;
        if steps.prune && !inputs.image.repository().contains('/') {
            return Err(PlanError::ImageWithoutOwner(inputs.image));
        }
        let mut image_tags = vec![inputs.sha.image_tag()];
        for tag in &inputs.extra_tags {
            if !image_tags.contains(tag) {
                image_tags.push(tag.clone());
            }
        }
        let image_refs = image_tags.iter().map(|t| inputs.image.with_tag(t)).collect();
        let deploy = steps.deploy.then(|| DeployRequest {
            branch: inputs.deploy_branch.clone(),
            variables: BTreeMap::from([
                ("IMAGE_NAME".to_owned(), inputs.image.to_string()),
                ("IMAGE_TAG".to_owned(), image_tags[0].to_string()),
            ]),
        });
        let on_ghcr = inputs.image.registry().eq_ignore_ascii_case(&inputs.packages_registry);
        Ok(Self {
            repo: inputs.repo,
            forgejo_repo: inputs.forgejo_repo,
            registration: inputs.registration,
            tag: (steps.tag && inputs.version.release).then(|| inputs.version.tag.clone()),
            version: inputs.version,
            sha: inputs.sha,
            image: inputs.image,
            image_tags,
            image_refs,
            // The Packages API prunes ghcr.io's packages only: an image elsewhere is never pruned under
            // the ghcr.io package of the same name.
            keep: (steps.prune && on_ghcr).then_some(inputs.keep),
            deploy,
            steps,
            prune_failure_ok: inputs.prune_failure_ok,
        })
    }

    /// The plan as lines for people.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let current = self.version.current_tag.as_deref().unwrap_or("none");
        out += &match &self.forgejo_repo {
            Some(repo) => format!("forgejo  {repo} (receives the tag)\n"),
            None => {
                "forgejo  not named: give --forgejo-repo (FORGEJO_REPOSITORY) or forgejo_repository in .offinfra.yml\n"
                    .to_owned()
            }
        };
        out += &format!("ci       {} (the Woodpecker registration that deploys)\n", self.registration);
        out += &format!("image    {}\n", self.image);
        out += &format!(
            "version  {} (current tag: {current}; from this checkout's tags, a real run counts Forgejo's too)\n",
            self.version.version
        );
        let forgejo = self.forgejo_repo.as_ref().map_or("the Forgejo repository".to_owned(), |r| r.to_string());
        out += &match (&self.tag, self.steps.tag) {
            (Some(tag), _) => format!("tag      create {tag} on {forgejo} at {}\n", self.sha),
            (None, true) => format!("tag      none: {}\n", self.version.no_release_reason()),
            (None, false) => "tag      skipped\n".to_owned(),
        };
        out += &if self.steps.push {
            format!("push     {}\n", join(&self.image_refs))
        } else {
            "push     skipped\n".to_owned()
        };
        out += &match self.keep {
            Some(keep) => format!("prune    keep the newest {keep} images of {}\n", self.image),
            None if self.steps.prune => format!("prune    skipped: {}\n", not_on_ghcr(&self.image)),
            None => "prune    skipped\n".to_owned(),
        };
        out += &match &self.deploy {
            Some(request) => {
                let id = match &self.registration {
                    Registration::Id(id) => id.to_string(),
                    Registration::Name(name) => format!("<id of {name}>"),
                };
                format!(
                    "deploy   POST /api/repos/{id}/pipelines {}\n",
                    serde_json::to_string(request).unwrap_or_default()
                )
            }
            None => "deploy   skipped\n".to_owned(),
        };
        out
    }
}

/// The registry whose packages the GitHub Packages API manages.
pub const GHCR: &str = "ghcr.io";

/// Why an image off the Packages API's registry is not pruned.
fn not_on_ghcr(image: &ImageName) -> String {
    format!("{image} is not on the Packages API's registry (--packages-registry, ghcr.io): not pruned")
}

/// `a, b, c`.
fn join<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
}

/// The forge that receives the release tag.
#[async_trait::async_trait]
pub trait Forge: Send + Sync {
    /// Creates `tag` on `sha` in the Forgejo repository `repo`; `Ok(false)` when it already points there.
    async fn create_tag(&self, repo: &RepoName, tag: &str, sha: &CommitId) -> Result<bool, Error>;

    /// Every tag of `repo` with the commit it points at (one listing): what the version is computed
    /// against besides the checkout's own tags. A forge that does not tell has none.
    async fn tags(&self, repo: &RepoName) -> Result<Vec<ForgeTag>, Error> {
        let _ = repo;
        Ok(Vec::new())
    }

    /// Whether commit `ancestor` is `of` or one of its ancestors in `repo` (`false` for a commit the forge
    /// does not know).
    async fn is_ancestor(&self, repo: &RepoName, ancestor: &str, of: &str) -> Result<bool, Error> {
        let _ = (repo, ancestor, of);
        Ok(false)
    }

    /// The newest release tag of `repo` (`prefix` and a version without prerelease) when its commit is
    /// neither `sha` nor an ancestor of it: a newer build, which `sha` must not be deployed over.
    /// `None` when there is no such tag.
    async fn newer_release(&self, repo: &RepoName, prefix: &str, sha: &CommitId) -> Result<Option<ForgeTag>, Error> {
        let tags = self.tags(repo).await?;
        let Some(tag) = newest_release(&tags, prefix) else { return Ok(None) };
        if tag.commit.is_empty()
            || tag.commit == sha.as_str()
            || self.is_ancestor(repo, &tag.commit, sha.as_str()).await?
        {
            return Ok(None);
        }
        Ok(Some(tag.clone()))
    }
}

/// The registry that receives the image.
#[async_trait::async_trait]
pub trait ImageTarget: Send + Sync {
    /// Pushes the built image to `image` (a repository) under `tags`; returns the manifest digest.
    async fn push(&self, image: &ImageName, tags: &[Tag]) -> Result<String, Error>;
}

/// The package store that is pruned.
#[async_trait::async_trait]
pub trait PackageStore: Send + Sync {
    /// Keeps the newest `keep` images of `image`, and always `keep_digest` (the image this run pushed);
    /// returns the ids of the deleted versions.
    async fn prune(&self, image: &ImageName, keep: usize, keep_digest: Option<&str>) -> Result<Vec<u64>, Error>;
}

/// What a deploy trigger reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Deployed {
    /// The pipeline number.
    pub number: i64,
    /// The pipeline's web address.
    pub url: String,
    /// The final status when waited for (`success`, `failure`, …).
    pub status: Option<String>,
    /// When it was waited for and failed: the end of each failed step's log.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_steps: Vec<FailedStep>,
}

/// The end of a failed deploy step's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FailedStep {
    /// The step's name.
    pub name: String,
    /// Its state (`failure`, `killed`, …).
    pub state: String,
    /// Its exit code.
    pub exit_code: i64,
    /// Its last log lines, or the one line saying why the log could not be read.
    pub log: Vec<String>,
}

impl FailedStep {
    /// `--- step <name> (<state>, exit code <n>) ---` and the log lines, as the deploy tools print them.
    pub fn render(&self) -> String {
        let mut out = format!("--- step {} ({}, exit code {}) ---\n", self.name, self.state, self.exit_code);
        for line in &self.log {
            out += line;
            out.push('\n');
        }
        out
    }
}

impl From<woodpecker_client::StepTail> for FailedStep {
    fn from(tail: woodpecker_client::StepTail) -> Self {
        // A step log is whatever the step printed: neutralised before it reaches our own log.
        let log = match tail.lines {
            Ok(lines) => lines.iter().map(|line| crate::ci::neutralise(line)).collect(),
            Err(e) => vec![format!("(no log: {})", crate::ci::neutralise(&e.to_string()))],
        };
        Self { name: tail.step.name, state: tail.step.state.to_string(), exit_code: tail.step.exit_code, log }
    }
}

/// The CI that runs the deploy pipeline.
#[async_trait::async_trait]
pub trait DeployTarget: Send + Sync {
    /// Starts the deploy pipeline of `registration` with `request`, waiting for it if so configured.
    async fn deploy(&self, registration: &Registration, request: &DeployRequest) -> Result<Deployed, Error>;
}

/// The backends a run uses; a step whose backend is `None` is skipped (and the plan should say so).
#[derive(Default)]
pub struct Backends<'a> {
    /// For the tag step.
    pub forge: Option<&'a dyn Forge>,
    /// Recomputes the version with the forge's tags before tagging (without it, the plan's version is
    /// tagged as it is).
    pub versions: Option<&'a dyn Versions>,
    /// For the push step.
    pub images: Option<&'a dyn ImageTarget>,
    /// For the prune step.
    pub packages: Option<&'a dyn PackageStore>,
    /// For the deploy step.
    pub deploy: Option<&'a dyn DeployTarget>,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// It ran and succeeded.
    Done,
    /// It did not run (turned off, nothing to do, or an earlier step failed).
    Skipped,
    /// It failed; the flow stopped.
    Failed,
}

impl StepStatus {
    /// `done`, `skipped` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
        }
    }
}

/// One step's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StepRecord {
    /// The step.
    pub step: Step,
    /// How it ended.
    pub status: StepStatus,
    /// What it did, or why not.
    pub detail: String,
}

/// What a run did, step by step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The plan that was run.
    pub plan: Plan,
    /// One record per step, in order.
    pub steps: Vec<StepRecord>,
    /// Whether the tag step created the tag.
    pub tag_created: Option<bool>,
    /// The pushed manifest digest.
    pub digest: Option<String>,
    /// The deleted package version ids.
    pub pruned: Option<Vec<u64>>,
    /// The deploy pipeline.
    pub deployed: Option<Deployed>,
}

impl Report {
    /// Whether every step that ran succeeded (a failed prune counts only unless the plan tolerates it).
    pub fn success(&self) -> bool {
        self.steps
            .iter()
            .all(|s| s.status != StepStatus::Failed || (s.step == Step::Prune && self.plan.prune_failure_ok))
    }

    /// Inside GitHub Actions: an `::error::` per failed step (a `::warning::` for a tolerated failed prune),
    /// and a `::notice::` for the tag created, the image pushed and the deploy pipeline started.
    pub fn annotate(&self, actions: &crate::ci::Actions) {
        for step in self.steps.iter().filter(|s| s.status == StepStatus::Failed) {
            let message = format!("{}: {}", step.step.as_str(), step.detail);
            match step.step == Step::Prune && self.plan.prune_failure_ok {
                true => actions.warning(&message),
                false => actions.error(&message, None),
            }
        }
        if let (Some(true), Some(tag), Some(repo)) = (self.tag_created, &self.plan.tag, &self.plan.forgejo_repo) {
            actions.notice(&format!("created tag {tag} on {repo} at {}", self.plan.sha.image_tag()));
        }
        if let Some(digest) = &self.digest {
            actions.notice(&format!("pushed {}@{digest}", self.plan.image));
        }
        if let Some(deployed) = &self.deployed {
            let status = deployed.status.as_deref().unwrap_or("started");
            actions.notice(&format!("deploy pipeline #{} {status}: {}", deployed.number, deployed.url));
        }
    }

    /// The `$GITHUB_OUTPUT` pairs: `version`, `tag`, `tag_created`, `image`, `image_tag`, `digest`,
    /// `pruned`, `pipeline`, `pipeline_url`, `deploy_status`, and `step_<step>` = done/skipped/failed.
    pub fn outputs(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("version".to_owned(), self.plan.version.version.clone()),
            ("tag".to_owned(), self.plan.tag.clone().unwrap_or_else(|| self.plan.version.tag.clone())),
            ("tag_created".to_owned(), self.tag_created.unwrap_or(false).to_string()),
            ("image".to_owned(), self.plan.image.to_string()),
            ("image_tag".to_owned(), self.plan.image_tags[0].to_string()),
        ];
        if let Some(digest) = &self.digest {
            out.push(("digest".into(), digest.clone()));
        }
        if let Some(pruned) = &self.pruned {
            out.push(("pruned".into(), pruned.len().to_string()));
        }
        if let Some(deployed) = &self.deployed {
            out.push(("pipeline".into(), deployed.number.to_string()));
            out.push(("pipeline_url".into(), deployed.url.clone()));
            if let Some(status) = &deployed.status {
                out.push(("deploy_status".into(), status.clone()));
            }
        }
        for record in &self.steps {
            out.push((format!("step_{}", record.step), record.status.as_str().to_owned()));
        }
        out
    }

    /// A Markdown table for `$GITHUB_STEP_SUMMARY`.
    pub fn summary_markdown(&self) -> String {
        let mut out = format!(
            "### offinfra flow: {} {}\n\n| Step | Result | Details |\n|---|---|---|\n",
            self.plan.repo, self.plan.version.tag
        );
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        out += &format!(
            "| version | {} | current tag: {} |\n",
            self.plan.version.version,
            self.plan.version.current_tag.as_deref().unwrap_or("none")
        );
        for record in &self.steps {
            let mark = match record.status {
                StepStatus::Done => "✅ done",
                StepStatus::Skipped => "⏭️ skipped",
                StepStatus::Failed => "❌ failed",
            };
            out += &format!("| {} | {mark} | {} |\n", record.step, cell(&record.detail));
        }
        out
    }
}

/// What [`run_observed`] tells as the run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEvent<'a> {
    /// A step starts its work (a skipped step never starts).
    Started(Step),
    /// A step's record, as it is made.
    Finished(&'a StepRecord),
}

/// Runs `plan` on `backends`, step by step; the first failure stops the run and the rest are skipped.
/// `on_step` sees each record as it is made (for progress lines).
pub async fn run(plan: &Plan, backends: &Backends<'_>, on_step: &mut (dyn FnMut(&StepRecord) + Send)) -> Report {
    run_observed(plan, backends, &mut |event| {
        if let FlowEvent::Finished(record) = event {
            on_step(record)
        }
    })
    .await
}

/// What to do about a 403 from ghcr.io: a package that another repository or a personal token pushed
/// first is not writable by this workflow's `GITHUB_TOKEN` until the package grants the repository access.
/// Empty for anything else.
pub fn ghcr_access_hint(image: &ImageName, error: &Error) -> String {
    if image.registry() != "ghcr.io" || error.status() != Some(403) {
        return String::new();
    }
    format!(
        " (ghcr.io refused the workflow's token for {image}: in the package's settings, under \"Manage Actions \
         access\", give this repository Write to push and Admin to delete versions)"
    )
}

/// [`run`], telling `on_event` when each step starts its work as well as its record (what a CI log
/// groups the step's lines by).
pub async fn run_observed(
    plan: &Plan,
    backends: &Backends<'_>,
    on_event: &mut (dyn FnMut(FlowEvent<'_>) + Send),
) -> Report {
    let mut report =
        Report { plan: plan.clone(), steps: Vec::new(), tag_created: None, digest: None, pruned: None, deployed: None };
    // Why the later steps stand down: a step failed, or a newer release already contains this commit.
    let mut held: Option<String> = None;
    let failed = || Some("an earlier step failed".to_owned());
    // Both closures tell `on_event`; a mutex (not a RefCell) keeps the run's future `Send`.
    let on_event = std::sync::Mutex::new(on_event);
    let tell = |event: FlowEvent<'_>| {
        if let Ok(mut on_event) = on_event.lock() {
            on_event(event);
        }
    };
    let started = |step| tell(FlowEvent::Started(step));
    let record = |report: &mut Report, step, status, detail: String| {
        let record = StepRecord { step, status, detail };
        tell(FlowEvent::Finished(&record));
        report.steps.push(record);
    };

    // Tag.
    match (&plan.tag, backends.forge, &plan.forgejo_repo) {
        _ if !plan.steps.tag => record(&mut report, Step::Tag, StepStatus::Skipped, "turned off".into()),
        (None, _, _) => {
            let detail = format!("nothing to release: {}", plan.version.no_release_reason());
            record(&mut report, Step::Tag, StepStatus::Skipped, detail)
        }
        (Some(_), None, _) => record(&mut report, Step::Tag, StepStatus::Skipped, "no forge configured".into()),
        (Some(_), Some(_), None) => {
            held = failed();
            let detail = "the Forgejo repository is not named (--forgejo-repo, FORGEJO_REPOSITORY)".to_owned();
            record(&mut report, Step::Tag, StepStatus::Failed, detail)
        }
        (Some(tag), Some(forge), Some(forgejo_repo)) => {
            started(Step::Tag);
            let span = tracing::info_span!("step", step = "tag", repo = %forgejo_repo, tag = %tag, sha = %plan.sha);
            let tagged = match backends.versions {
                Some(versions) => release::tag_release(forge, versions, forgejo_repo, &plan.sha).instrument(span).await,
                None => forge
                    .create_tag(forgejo_repo, tag, &plan.sha)
                    .instrument(span)
                    .await
                    .map(|created| release::Tagged::Tag { version: plan.version.clone(), created, retook: None }),
            };
            let sha8 = plan.sha.image_tag();
            match tagged {
                Ok(release::Tagged::Tag { version, created, retook }) => {
                    report.tag_created = Some(created);
                    let mut detail = match created {
                        true => format!("created {} at {sha8}", version.tag),
                        false => format!("{} already at {sha8}", version.tag),
                    };
                    if let Some(taken) = retook {
                        detail += &format!(" ({taken} was taken by another run meanwhile: recomputed)");
                    }
                    report.plan.tag = Some(version.tag.clone());
                    report.plan.version = version;
                    record(&mut report, Step::Tag, StepStatus::Done, detail)
                }
                Ok(release::Tagged::NothingToRelease(version)) => {
                    let detail = format!("nothing to release: {}", version.no_release_reason());
                    report.plan.tag = None;
                    report.plan.version = version;
                    record(&mut report, Step::Tag, StepStatus::Skipped, detail)
                }
                Ok(release::Tagged::Superseded(newer)) => {
                    let detail = format!(
                        "{} (at {}) already contains {sha8}: a newer run released it, nothing to push or deploy",
                        newer.name,
                        release::short(&newer.commit)
                    );
                    held = Some(format!("superseded by {}", newer.name));
                    report.plan.tag = None;
                    record(&mut report, Step::Tag, StepStatus::Skipped, detail)
                }
                Err(e) => {
                    held = failed();
                    record(
                        &mut report,
                        Step::Tag,
                        StepStatus::Failed,
                        format!("tagging {sha8}: {}", crate::error::one_line(&e)),
                    )
                }
            }
        }
    }

    // Push.
    match backends.images {
        _ if held.is_some() => record(&mut report, Step::Push, StepStatus::Skipped, held.clone().unwrap_or_default()),
        _ if !plan.steps.push => record(&mut report, Step::Push, StepStatus::Skipped, "turned off".into()),
        None => record(&mut report, Step::Push, StepStatus::Skipped, "no registry configured".into()),
        Some(images) => {
            started(Step::Push);
            let span = tracing::info_span!("step", step = "push", image = %plan.image);
            match images.push(&plan.image, &plan.image_tags).instrument(span).await {
                Ok(digest) => {
                    let detail = format!("{}@{digest} as {}", plan.image, join(&plan.image_tags));
                    report.digest = Some(digest);
                    record(&mut report, Step::Push, StepStatus::Done, detail)
                }
                Err(e) => {
                    held = failed();
                    record(
                        &mut report,
                        Step::Push,
                        StepStatus::Failed,
                        format!(
                            "pushing {}: {}{}",
                            plan.image,
                            crate::error::one_line(&e),
                            ghcr_access_hint(&plan.image, &e)
                        ),
                    )
                }
            }
        }
    }

    // Prune.
    match (plan.keep, backends.packages) {
        _ if held.is_some() => record(&mut report, Step::Prune, StepStatus::Skipped, held.clone().unwrap_or_default()),
        (None, _) if plan.steps.prune => {
            record(&mut report, Step::Prune, StepStatus::Skipped, not_on_ghcr(&plan.image))
        }
        (None, _) => record(&mut report, Step::Prune, StepStatus::Skipped, "turned off".into()),
        (Some(_), None) => record(&mut report, Step::Prune, StepStatus::Skipped, "no package API configured".into()),
        (Some(keep), Some(packages)) => {
            started(Step::Prune);
            let span = tracing::info_span!("step", step = "prune", image = %plan.image, keep);
            match packages.prune(&plan.image, keep, report.digest.as_deref()).instrument(span).await {
                Ok(deleted) => {
                    let detail = format!("deleted {} version(s), kept the newest {keep} images", deleted.len());
                    report.pruned = Some(deleted);
                    record(&mut report, Step::Prune, StepStatus::Done, detail)
                }
                // The image is pushed: a prune that failed (a token without delete:packages, say) is
                // reported but does not hold back its deploy.
                Err(e) => record(
                    &mut report,
                    Step::Prune,
                    StepStatus::Failed,
                    format!(
                        "pruning {}: {}{}",
                        plan.image,
                        crate::error::one_line(&e),
                        ghcr_access_hint(&plan.image, &e)
                    ),
                ),
            }
        }
    }

    // Deploy.
    match (&plan.deploy, backends.deploy) {
        _ if held.is_some() => record(&mut report, Step::Deploy, StepStatus::Skipped, held.clone().unwrap_or_default()),
        (None, _) => record(&mut report, Step::Deploy, StepStatus::Skipped, "turned off".into()),
        (Some(_), None) => record(&mut report, Step::Deploy, StepStatus::Skipped, "no CI configured".into()),
        (Some(request), Some(target)) => 'deploy: {
            started(Step::Deploy);
            // Runs finish out of order (a lagging mirror, a slow runner): an older commit never deploys over
            // a newer release.
            if let (Some(forge), Some(repo)) = (backends.forge, &plan.forgejo_repo) {
                let prefix = plan.version.tag.strip_suffix(plan.version.version.as_str()).unwrap_or("v");
                match forge.newer_release(repo, prefix, &plan.sha).await {
                    Ok(None) => {}
                    Ok(Some(newer)) => {
                        let detail = format!(
                            "not deploying {sha8}: {} (at {}) is newer and {sha8} does not contain it",
                            newer.name,
                            release::short(&newer.commit),
                            sha8 = plan.sha.image_tag()
                        );
                        record(&mut report, Step::Deploy, StepStatus::Failed, detail);
                        break 'deploy;
                    }
                    Err(e) => {
                        let detail = format!("checking for a newer release: {}", crate::error::one_line(&e));
                        record(&mut report, Step::Deploy, StepStatus::Failed, detail);
                        break 'deploy;
                    }
                }
            }
            let span = tracing::info_span!("step", step = "deploy", registration = %plan.registration);
            match target.deploy(&plan.registration, request).instrument(span).await {
                Ok(deployed) => {
                    let ok = deployed.status.as_deref().is_none_or(|s| s == "success");
                    let detail = match &deployed.status {
                        Some(status) => format!("pipeline #{} {status}: {}", deployed.number, deployed.url),
                        None => format!("pipeline #{} started: {}", deployed.number, deployed.url),
                    };
                    report.deployed = Some(deployed);
                    record(&mut report, Step::Deploy, if ok { StepStatus::Done } else { StepStatus::Failed }, detail)
                }
                Err(e) => record(
                    &mut report,
                    Step::Deploy,
                    StepStatus::Failed,
                    format!("triggering the deploy: {}", crate::error::one_line(&e)),
                ),
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A library user may spawn the run: its future stays `Send`.
    #[allow(dead_code)]
    fn the_run_is_send(plan: &Plan, backends: &Backends<'_>) {
        fn send<T: Send>(_: T) {}
        send(run(plan, backends, &mut |_| {}));
        send(run_observed(plan, backends, &mut |_| {}));
    }

    fn inputs(release: bool) -> PlanInputs {
        PlanInputs {
            repo: "Acme/app".parse().unwrap(),
            forgejo_repo: Some("acme-git/app".parse().unwrap()),
            registration: Registration::Name("Acme/app".parse().unwrap()),
            sha: "0123ABCD4567ef890123abcd4567ef8901234567".parse().unwrap(),
            version: VersionPlan {
                version: if release { "1.3.0" } else { "1.2.0" }.into(),
                tag: if release { "v1.3.0" } else { "v1.2.0" }.into(),
                current_tag: Some("v1.2.0".into()),
                release,
            },
            image: "ghcr.io/acme/app".parse().unwrap(),
            extra_tags: vec!["latest".parse().unwrap(), "0123abcd".parse().unwrap()],
            keep: 10,
            packages_registry: GHCR.into(),
            deploy_branch: "master".into(),
            steps: Steps::default(),
            prune_failure_ok: false,
        }
    }

    #[test]
    fn plans_name_everything_up_front() {
        let plan = Plan::new(inputs(true)).unwrap();
        assert_eq!(plan.sha.as_str(), "0123abcd4567ef890123abcd4567ef8901234567", "commit ids are lower-cased");
        assert_eq!(join(&plan.image_tags), "0123abcd, latest", "<sha8> first, each tag once");
        let body = serde_json::to_value(plan.deploy.as_ref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"branch": "master", "variables": {"IMAGE_NAME": "ghcr.io/acme/app", "IMAGE_TAG": "0123abcd"}})
        );
        assert!(plan.describe().contains("tag      create v1.3.0 on acme-git/app at 0123abcd4567"));
        assert!(plan.describe().contains("deploy   POST /api/repos/<id of Acme/app>/pipelines"));
        let by_id = Plan::new(PlanInputs { registration: Registration::Id(42), ..inputs(true) }).unwrap();
        assert!(by_id.describe().contains("deploy   POST /api/repos/42/pipelines"));
        assert_eq!(plan.keep, Some(10), "an image on ghcr.io is pruned");
        // The Packages API manages ghcr.io only: an image elsewhere never prunes the ghcr.io package.
        let lan =
            Plan::new(PlanInputs { image: "registry.lan:5000/acme/app".parse().unwrap(), ..inputs(true) }).unwrap();
        assert_eq!(lan.keep, None);
        assert!(
            lan.describe().contains("prune    skipped: registry.lan:5000/acme/app is not on the Packages API"),
            "{}",
            lan.describe()
        );

        let quiet = Plan::new(inputs(false)).unwrap();
        assert_eq!(quiet.tag, None, "no release, no tag");
        assert!(quiet.describe().contains("tag      none: no commit since v1.2.0 asks for a new version"));

        let off =
            Plan::new(PlanInputs { steps: Steps { prune: false, deploy: false, ..Steps::default() }, ..inputs(true) })
                .unwrap();
        assert_eq!((off.keep, off.deploy), (None, None));
    }

    #[test]
    fn bad_inputs_are_named() {
        // The inputs' own rules are the types' (offinfra_types); the plan adds the prune's need for an owner.
        let bad = |text: &str| {
            text.parse::<ImageName>()
                .map_err(Error::from)
                .and_then(|image| Plan::new(PlanInputs { image, ..inputs(true) }).map_err(Error::from))
        };
        assert_eq!("app".parse::<RepoName>().unwrap_err().to_string(), "repository \"app\": expected owner/name");
        assert!("xyz".parse::<CommitId>().unwrap_err().to_string().starts_with("commit \"xyz\""));
        assert!(bad("ghcr.io/Acme/app").unwrap_err().to_string().starts_with("image \"ghcr.io/Acme/app\""));
        assert!(bad("ghcr.io/app").unwrap_err().to_string().starts_with("image \"ghcr.io/app\": the prune needs"));
        assert!(bad("ghcr.io/acme/app:1").unwrap_err().to_string().starts_with("image "));
        assert!("-x".parse::<Tag>().unwrap_err().to_string().starts_with("image tag \"-x\""));
        assert!(bad("127.0.0.1:5000/acme/app").is_ok(), "a registry port is fine");
        let unpruned = Plan::new(PlanInputs {
            image: "127.0.0.1:5000/app".parse().unwrap(),
            steps: Steps { prune: false, ..Steps::default() },
            ..inputs(true)
        });
        assert!(unpruned.is_ok(), "without the prune, an image needs no owner");
    }

    #[test]
    fn a_ghcr_403_names_the_manage_actions_access_fix_and_nothing_else_does() {
        let status = |code: u16| {
            let api = offinfra_http::ApiError::new("DELETE", "https://api.github.com/x", code, b"{}");
            Error::Http(offinfra_http::Error::Api(Box::new(api)))
        };
        let ghcr = ImageName::parse("ghcr.io/viktorbarzin/app").unwrap();
        let hint = ghcr_access_hint(&ghcr, &status(403));
        assert!(hint.contains("\"Manage Actions access\", give this repository Write to push and Admin"), "{hint}");
        assert!(hint.contains("ghcr.io/viktorbarzin/app"), "{hint}");
        assert_eq!(ghcr_access_hint(&ghcr, &status(404)), "");
        let elsewhere = ImageName::parse("registry.example/viktorbarzin/app").unwrap();
        assert_eq!(ghcr_access_hint(&elsewhere, &status(403)), "");
    }

    struct Fake {
        calls: Mutex<Vec<String>>,
        fail: Option<Step>,
        status: Option<String>,
    }

    impl Fake {
        fn new(fail: Option<Step>, status: Option<&str>) -> Self {
            Self { calls: Mutex::default(), fail, status: status.map(str::to_owned) }
        }
        fn call(&self, step: Step, what: String) -> Result<(), Error> {
            self.calls.lock().unwrap().push(what);
            if self.fail == Some(step) {
                return Err(Error::invalid(format!("{step} broke")));
            }
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl Forge for Fake {
        async fn create_tag(&self, repo: &RepoName, tag: &str, sha: &CommitId) -> Result<bool, Error> {
            self.call(Step::Tag, format!("tag {repo} {tag} {sha}")).map(|()| true)
        }
    }
    #[async_trait::async_trait]
    impl ImageTarget for Fake {
        async fn push(&self, image: &ImageName, tags: &[Tag]) -> Result<String, Error> {
            self.call(Step::Push, format!("push {image} [{}]", join(tags))).map(|()| "sha256:d".into())
        }
    }
    #[async_trait::async_trait]
    impl PackageStore for Fake {
        async fn prune(&self, image: &ImageName, keep: usize, digest: Option<&str>) -> Result<Vec<u64>, Error> {
            self.call(Step::Prune, format!("prune {image} {keep} {digest:?}")).map(|()| vec![3, 4])
        }
    }
    #[async_trait::async_trait]
    impl DeployTarget for Fake {
        async fn deploy(&self, repo: &Registration, r: &DeployRequest) -> Result<Deployed, Error> {
            self.call(Step::Deploy, format!("deploy {repo} {}", r.variables["IMAGE_TAG"]))?;
            Ok(Deployed { number: 7, url: "http://ci/7".into(), status: self.status.clone(), failed_steps: Vec::new() })
        }
    }

    async fn run_with(plan: &Plan, fake: &Fake) -> Report {
        let backends = Backends {
            forge: Some(fake),
            versions: None,
            images: Some(fake),
            packages: Some(fake),
            deploy: Some(fake),
        };
        let mut seen = Vec::new();
        let report = run(plan, &backends, &mut |r| seen.push(r.step)).await;
        assert_eq!(seen, [Step::Tag, Step::Push, Step::Prune, Step::Deploy], "every step is reported, in order");
        report
    }

    fn statuses(report: &Report) -> Vec<StepStatus> {
        report.steps.iter().map(|s| s.status).collect()
    }

    #[tokio::test]
    async fn runs_every_step_in_order() {
        let plan = Plan::new(inputs(true)).unwrap();
        let fake = Fake::new(None, Some("success"));
        let report = run_with(&plan, &fake).await;
        assert!(report.success());
        assert_eq!(
            *fake.calls.lock().unwrap(),
            [
                "tag acme-git/app v1.3.0 0123abcd4567ef890123abcd4567ef8901234567",
                "push ghcr.io/acme/app [0123abcd, latest]",
                "prune ghcr.io/acme/app 10 Some(\"sha256:d\")",
                "deploy Acme/app 0123abcd",
            ]
        );
        let outputs: BTreeMap<String, String> = report.outputs().into_iter().collect();
        assert_eq!(outputs["pruned"], "2");
        assert_eq!(outputs["deploy_status"], "success");
        assert!(report.summary_markdown().contains("| deploy | ✅ done | pipeline #7 success: http://ci/7 |"));
    }

    #[tokio::test]
    async fn a_failure_stops_the_later_steps() {
        let plan = Plan::new(inputs(true)).unwrap();
        let fake = Fake::new(Some(Step::Push), None);
        let report = run_with(&plan, &fake).await;
        assert!(!report.success());
        assert_eq!(statuses(&report), [StepStatus::Done, StepStatus::Failed, StepStatus::Skipped, StepStatus::Skipped]);
        assert_eq!(report.steps[1].detail, "pushing ghcr.io/acme/app: push broke");
        assert_eq!(fake.calls.lock().unwrap().len(), 2, "nothing after the failed push ran");
        assert!(report.summary_markdown().contains("| push | ❌ failed | pushing ghcr.io/acme/app: push broke |"));
    }

    #[tokio::test]
    async fn a_failed_prune_does_not_hold_back_the_deploy() {
        let plan = Plan::new(inputs(true)).unwrap();
        let fake = Fake::new(Some(Step::Prune), Some("success"));
        let report = run_with(&plan, &fake).await;
        assert_eq!(statuses(&report), [StepStatus::Done, StepStatus::Done, StepStatus::Failed, StepStatus::Done]);
        assert!(!report.success(), "reported, and the run fails by default");
        assert!(report.summary_markdown().contains("| prune | ❌ failed | pruning ghcr.io/acme/app: prune broke |"));
        let tolerant = Plan::new(PlanInputs { prune_failure_ok: true, ..inputs(true) }).unwrap();
        assert!(run_with(&tolerant, &Fake::new(Some(Step::Prune), Some("success"))).await.success());
    }

    #[tokio::test]
    async fn no_release_skips_the_tag_and_a_failed_pipeline_fails_the_run() {
        let plan = Plan::new(inputs(false)).unwrap();
        let fake = Fake::new(None, Some("failure"));
        let report = run_with(&plan, &fake).await;
        assert_eq!(statuses(&report), [StepStatus::Skipped, StepStatus::Done, StepStatus::Done, StepStatus::Failed]);
        assert!(!report.success());
        let outputs: BTreeMap<String, String> = report.outputs().into_iter().collect();
        assert_eq!((outputs["tag"].as_str(), outputs["tag_created"].as_str()), ("v1.2.0", "false"));
        assert_eq!(outputs["step_deploy"], "failed");
    }

    #[tokio::test]
    async fn a_step_that_runs_starts_before_its_record_and_a_skipped_one_never_starts() {
        let plan = Plan::new(inputs(false)).unwrap();
        let fake = Fake::new(Some(Step::Push), Some("success"));
        let backends = Backends {
            forge: Some(&fake),
            versions: None,
            images: Some(&fake),
            packages: Some(&fake),
            deploy: Some(&fake),
        };
        let mut events = Vec::new();
        run_observed(&plan, &backends, &mut |event| {
            events.push(match event {
                FlowEvent::Started(step) => format!("start {step}"),
                FlowEvent::Finished(record) => format!("{} {}", record.step, record.status.as_str()),
            })
        })
        .await;
        // No release: the tag is skipped; the push fails, so prune and deploy are skipped too.
        assert_eq!(events, ["tag skipped", "start push", "push failed", "prune skipped", "deploy skipped"]);
    }
}
