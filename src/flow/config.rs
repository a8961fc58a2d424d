//! Planning a run from a checkout: the repository, the commit, the version and the image, with the
//! defaults a GitHub Actions job expects.

use std::path::PathBuf;

use offinfra_types::{CommitId, ImageName, RepoName, Tag};
use svu::{config::Settings, Action};

use super::{ForgeTag, ForgeVersion, Plan, PlanInputs, Registration, Steps, VersionPlan, Versions};
use crate::Error;

/// The registry an image goes to when none is named.
pub const DEFAULT_REGISTRY: &str = "ghcr.io";

/// The file in a checkout that names what the environment cannot tell (`forgejo_repository: viktor/app`).
pub const CONFIG_FILE: &str = ".offinfra.yml";

/// What a run is planned from. `None` fields take the checkout's values: the repository from the `origin`
/// remote (in Actions, `GITHUB_REPOSITORY`: the GitHub mirror), the commit from `HEAD`, the Woodpecker
/// registration and the image from that repository (`ghcr.io/<owner>/<name>`, lower case), the Forgejo
/// repository from [`CONFIG_FILE`]'s `forgejo_repository` (it has a name of its own: nothing guesses it).
///
/// ```no_run
/// use offinfra::flow::Config;
///
/// let config = Config { repo: Some("acme/app".parse()?), ..Config::new(".") };
/// let plan = config.plan(|name| std::env::var(name).ok(), &mut |note| eprintln!("note: {note}"))?;
/// print!("{}", plan.describe());
/// # Ok::<(), offinfra::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// The checkout (any directory inside it).
    pub workdir: PathBuf,
    /// svu's configuration file, relative to the working directory or the checkout's root.
    pub svu_config: PathBuf,
    /// svu settings given as flags; they win over `SVU_*` variables and the file.
    pub svu: Settings,
    /// The repository the CI builds (the GitHub mirror in Actions).
    pub repo: Option<RepoName>,
    /// The canonical Forgejo repository that receives the tag.
    pub forgejo_repo: Option<RepoName>,
    /// The Woodpecker registration by name (default: `repo`).
    pub woodpecker_repo: Option<RepoName>,
    /// The Woodpecker registration by numeric id (wins over the name).
    pub woodpecker_repo_id: Option<i64>,
    /// The built commit.
    pub sha: Option<CommitId>,
    /// The image repository.
    pub image: Option<ImageName>,
    /// Tags pushed besides `<sha8>`.
    pub extra_tags: Vec<Tag>,
    /// Package versions the prune keeps.
    pub keep: usize,
    /// The registry whose packages the GitHub Packages API prunes (`ghcr.io`; a GitHub Enterprise
    /// Server's container registry): an image on any other is never pruned.
    pub packages_registry: String,
    /// The branch the deploy pipeline runs on.
    pub deploy_branch: String,
    /// Which steps run.
    pub steps: Steps,
    /// A failed prune leaves the run successful.
    pub prune_failure_ok: bool,
    /// Plan for `local/<directory>` when neither `repo` nor an `origin` remote names the repository
    /// (a dry run still shows a plan; a real run must know where to tag and deploy).
    pub local_fallback: bool,
}

impl Config {
    /// The defaults for a checkout: `.svu.yml`, `latest` besides `<sha8>`, keep 10, deploy on `master`.
    pub fn new(workdir: impl Into<PathBuf>) -> Self {
        Self {
            workdir: workdir.into(),
            svu_config: ".svu.yml".into(),
            svu: Settings::default(),
            repo: None,
            forgejo_repo: None,
            woodpecker_repo: None,
            woodpecker_repo_id: None,
            sha: None,
            image: None,
            extra_tags: vec![Tag::parse("latest").expect("a valid tag")],
            keep: 10,
            packages_registry: crate::flow::GHCR.into(),
            deploy_branch: "master".into(),
            steps: Steps::default(),
            prune_failure_ok: false,
            local_fallback: false,
        }
    }

    /// Computes the next version (svu, with its configuration layered under `var`'s `SVU_*` variables and
    /// [`Self::svu`]), fills in the defaults and makes the plan. `note` hears each default that is a
    /// guess.
    pub fn plan(&self, var: impl Fn(&str) -> Option<String>, note: &mut dyn FnMut(&str)) -> Result<Plan, Error> {
        self.plan_with_versions(var, note).map(|(plan, _)| plan)
    }

    /// [`Self::plan`], with what recomputes its version from the checkout and the forge's tags (the
    /// tag step's [`super::Backends::versions`]).
    pub fn plan_with_versions(
        &self,
        var: impl Fn(&str) -> Option<String>,
        note: &mut dyn FnMut(&str),
    ) -> Result<(Plan, CheckoutVersions), Error> {
        let computed = svu::config::compute(&self.workdir, &self.svu_config, self.svu.clone(), Action::Next, var)?;
        let repo = &computed.repo;
        let name = match &self.repo {
            Some(name) => name.clone(),
            None => {
                let url = repo.gix().config_snapshot().string("remote.origin.url").map(|u| u.to_string());
                match url.as_deref().map(RepoName::from_remote_url) {
                    Some(Ok(name)) => name,
                    _ if self.local_fallback => {
                        let dir = repo.workdir().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned());
                        let name = RepoName::parse(&format!("local/{}", dir.unwrap_or_default()))
                            .or_else(|_| RepoName::parse("local/repo"))?;
                        note(&format!("no origin remote and no --repo: planning for {name}"));
                        name
                    }
                    _ => {
                        return Err(Error::invalid(
                            "cannot tell the repository: give --repo owner/name (GITHUB_REPOSITORY)",
                        ))
                    }
                }
            }
        };
        let sha = match &self.sha {
            Some(sha) => sha.clone(),
            None => CommitId::parse(&repo.head()?.to_string())?,
        };
        let image = match &self.image {
            Some(image) => image.clone(),
            None => ImageName::from_repo(DEFAULT_REGISTRY, &name)?,
        };
        let forgejo_repo = match &self.forgejo_repo {
            Some(repo) => Some(repo.clone()),
            None => match repo.workdir() {
                Some(root) => checkout_setting(root, "forgejo_repository")?.map(|v| RepoName::parse(&v)).transpose()?,
                None => None,
            },
        };
        let registration = match (self.woodpecker_repo_id, &self.woodpecker_repo) {
            (Some(id), _) => Registration::Id(id),
            (None, Some(repo)) => Registration::Name(repo.clone()),
            (None, None) => Registration::Name(name.clone()),
        };
        let versions = CheckoutVersions { workdir: self.workdir.clone(), options: computed.options.clone() };
        let plan = Plan::new(PlanInputs {
            repo: name,
            forgejo_repo,
            registration,
            sha,
            version: VersionPlan::from_outcome(&computed.outcome, &computed.options.tag_prefix),
            image,
            extra_tags: self.extra_tags.clone(),
            keep: self.keep,
            packages_registry: self.packages_registry.clone(),
            deploy_branch: self.deploy_branch.clone(),
            steps: self.steps,
            prune_failure_ok: self.prune_failure_ok,
        })?;
        Ok((plan, versions))
    }
}

/// svu on the checkout, with the settings the plan was computed with, counting the forge's tags too.
#[derive(Debug, Clone)]
pub struct CheckoutVersions {
    workdir: PathBuf,
    options: svu::Options,
}

impl CheckoutVersions {
    /// svu with `options` on the checkout containing `workdir`.
    pub fn new(workdir: impl Into<PathBuf>, options: svu::Options) -> Self {
        Self { workdir: workdir.into(), options }
    }
}

impl Versions for CheckoutVersions {
    fn with_forge_tags(&self, forge_tags: &[ForgeTag]) -> Result<ForgeVersion, Error> {
        // A tag whose commit is not a commit id (a forge's odd answer) cannot be placed: it is left out.
        let tags: Vec<svu::Tag> = forge_tags
            .iter()
            .filter_map(|t| Some(svu::Tag { name: t.name.clone(), commit: t.commit.parse().ok()? }))
            .collect();
        let outcome = svu::Repository::discover(&self.workdir)?.compute_with(&self.options, &tags)?;
        Ok(ForgeVersion {
            version: VersionPlan::from_outcome(&outcome, &self.options.tag_prefix),
            current: outcome.tag.as_ref().map(|t| ForgeTag { name: t.name.clone(), commit: t.commit.to_string() }),
            current_in_checkout: outcome.tag_in_checkout,
        })
    }
}

/// The string value of `key` in the checkout's [`CONFIG_FILE`], if the file and the key are there.
fn checkout_setting(root: &std::path::Path, key: &str) -> Result<Option<String>, Error> {
    let path = root.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Io { what: format!("cannot read {}", path.display()), source }),
    };
    let docs =
        yaml_rust2::YamlLoader::load_from_str(&text).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    let value = &docs.first().cloned().unwrap_or(yaml_rust2::Yaml::Null)[key];
    match value {
        yaml_rust2::Yaml::BadValue | yaml_rust2::Yaml::Null => Ok(None),
        yaml_rust2::Yaml::String(s) => Ok(Some(s.clone())),
        _ => Err(Error::invalid(format!("{}: {key} must be a string", path.display()))),
    }
}
