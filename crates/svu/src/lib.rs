//! Semantic versions from conventional commits, computed the way [svu] v3 does, in pure Rust.
//!
//! The crate reads the repository with [gix] (no `git` process), finds the current tag with git's own
//! version ordering, classifies the commits since it with svu's rules (or, opt-in, the Conventional
//! Commits grammar) and applies svu's bump, prerelease and metadata rules.
//!
//! ```no_run
//! use svu::{Action, Options, Repository};
//!
//! let repo = Repository::discover(".")?;
//! let outcome = repo.compute(&Options { action: Action::Next, ..Options::default() })?;
//! println!("{}{}", "v", outcome.version); // e.g. v1.3.0
//! if outcome.version == outcome.current {
//!     println!("nothing to release");
//! }
//! # Ok::<(), svu::Error>(())
//! ```
//!
//! Three behaviours differ from svu on purpose (see the workspace README): `--tag.output` works, the
//! command line beats configuration, and a shallow clone that cannot see the answer is an error
//! ([`Error::ShallowHistory`]) instead of a silent `0.0.0`-based version.
//!
//! [svu]: https://github.com/caarlos0/svu

pub mod classify;
pub mod config;
pub mod engine;
mod error;
mod repo;
pub mod version;
pub mod versionsort;
mod walk;

pub use classify::{Bump, Classifier};
pub use engine::{Action, BumpOptions};
pub use error::Error;
pub use gix::ObjectId;
pub use repo::{Repository, Tag, TagMode};
pub use version::{Version, VersionError};

/// What to compute, with svu's defaults ([`Options::default`]: `next`, prefix `v`, all tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Which version to compute.
    pub action: Action,
    /// Stripped from the tag before parsing (`--tag.prefix`, default `v`).
    pub tag_prefix: String,
    /// Glob the tag must match (`--tag.pattern`); empty matches every tag.
    pub tag_pattern: String,
    /// Which tags are candidates (`--tag.mode`).
    pub tag_mode: TagMode,
    /// Prerelease, metadata, `--always` and `--v0`.
    pub bump: BumpOptions,
    /// Only commits touching these paths count (`--log.directory`); relative to the directory the
    /// repository was discovered from.
    pub directories: Vec<String>,
    /// How commit messages are read (`--strict` selects [`Classifier::Strict`]).
    pub classifier: Classifier,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            action: Action::Next,
            tag_prefix: "v".into(),
            tag_pattern: String::new(),
            tag_mode: TagMode::All,
            bump: BumpOptions::default(),
            directories: Vec::new(),
            classifier: Classifier::Svu,
        }
    }
}

/// The commit that decided the bump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The size of change it asks for.
    pub bump: Bump,
    /// Its id.
    pub commit: ObjectId,
    /// Its title (first line of the message).
    pub title: String,
}

/// The result of [`Repository::compute`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The tag the current version comes from; `None` when the repository has no tag (current is 0.0.0).
    pub tag: Option<Tag>,
    /// The current version (the tag without its prefix).
    pub current: Version,
    /// The computed version, without prefix.
    pub version: Version,
    /// The newest commit asking for the largest change since the tag (only for `next` and `prerelease`).
    pub change: Option<Change>,
    /// How many commits were read.
    pub commits_read: usize,
    /// Whether this repository has the commit of [`Self::tag`]. Only a tag given to
    /// [`Repository::compute_with`] can lack it: a newer commit the checkout has not fetched yet, or one on
    /// another line of history. The bump then counts the commits since the newest tag whose commit is here.
    pub tag_in_checkout: bool,
}

impl Outcome {
    /// svu's `--verbose` line explaining the bump, if there is one to explain.
    pub fn explain(&self, opts: &Options) -> Option<String> {
        match &self.change {
            Some(Change { bump, commit, title }) => Some(match bump {
                Bump::Major if opts.action == Action::Next && opts.bump.v0 && self.current.major() == 0 => {
                    format!("found major change, but 'keep v0' is set: {commit} {title}")
                }
                bump => format!("found {} change: {commit} {title}", bump.as_str()),
            }),
            None if opts.action == Action::Next && opts.bump.always => {
                Some("found no changes, but 'always' is set".into())
            }
            None => None,
        }
    }
}

impl Repository {
    /// Computes the version `opts.action` asks for.
    pub fn compute(&self, opts: &Options) -> Result<Outcome, Error> {
        self.compute_with(opts, &[])
    }

    /// [`Self::compute`] over this repository's tags and `forge_tags`, the tags of the canonical copy (a
    /// mirror that lags has not fetched them yet): the version never repeats one the forge has. A name in
    /// both counts with the forge's commit. When the current tag's commit is not in this repository
    /// ([`Outcome::tag_in_checkout`] is false), the bump counts the commits since the newest tag whose
    /// commit is, applied to the current tag's version.
    ///
    /// ```no_run
    /// use svu::{Options, Repository, Tag};
    ///
    /// let repo = Repository::discover(".")?;
    /// let forge = [Tag { name: "v1.4.0".into(), commit: "8d1f7e9b6a1c0f2e3d4c5b6a7980f1e2d3c4b5a6".parse()? }];
    /// let outcome = repo.compute_with(&Options::default(), &forge)?;
    /// assert!(outcome.version.to_string().as_str() >= "1.4.0");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compute_with(&self, opts: &Options, forge_tags: &[Tag]) -> Result<Outcome, Error> {
        let (tag, present) = self.find_tags_with(&opts.tag_pattern, opts.tag_mode, forge_tags)?;
        let tag_in_checkout = tag.as_ref().is_none_or(|t| self.has_commit(t.commit));
        // The commits counted are those since the newest tag this repository has.
        let since = present.as_ref().map(|t| t.commit);
        let tag_name = tag.as_ref().map(|t| t.name.as_str()).unwrap_or_default();
        let current = match &tag {
            None => Version::new(0, 0, 0),
            Some(tag) => {
                let bare = tag.name.strip_prefix(opts.tag_prefix.as_str()).unwrap_or(&tag.name);
                Version::parse(bare).map_err(|source| Error::TagNotSemver { tag: tag.name.clone(), source })?
            }
        };
        let (bump, change, commits_read) = if opts.action.reads_history() {
            let paths =
                if opts.directories.is_empty() { None } else { Some(self.resolve_directories(&opts.directories)?) };
            // Once nothing larger can change the answer, the rest of the history need not be read.
            let ceiling = if opts.action == Action::Next && opts.bump.v0 && current.major() == 0 {
                Bump::Minor
            } else {
                Bump::Major
            };
            let walk = walk::Walk::new(&self.repo, Some(opts.classifier))?;
            let summary = walk.classify_range(self.head()?, since, paths.as_deref(), Some(ceiling))?;
            if summary.truncated {
                return Err(Error::ShallowHistory {
                    what: match &tag {
                        Some(tag) => format!("the commits since tag {} are not all present", tag.name),
                        None => "the history is incomplete".to_owned(),
                    },
                    path: self.git_dir().to_owned(),
                });
            }
            let change = match summary.commit {
                Some(commit) => Some(Change {
                    bump: summary.bump.unwrap_or(Bump::None),
                    commit,
                    title: walk::commit_title(&self.repo, commit)?,
                }),
                None => None,
            };
            (summary.bump.unwrap_or(Bump::None), change, summary.commits_read)
        } else {
            (Bump::None, None, 0)
        };
        let version = engine::next_version(opts.action, &current, bump, &opts.bump, tag_name)?;
        Ok(Outcome { tag, current, version, change, commits_read, tag_in_checkout })
    }
}

impl Repository {
    /// The commits `git log <since>..HEAD -- <directories>` shows, newest first, in git's default order and
    /// with its default history simplification; the whole history of HEAD when `since` is `None`.
    pub fn commits_since(&self, since: Option<ObjectId>, directories: &[String]) -> Result<Vec<ObjectId>, Error> {
        let paths = if directories.is_empty() { None } else { Some(self.resolve_directories(directories)?) };
        let walk = walk::Walk::new(&self.repo, None)?;
        let summary = walk.classify_range(self.head()?, since, paths.as_deref(), None)?;
        if summary.truncated {
            return Err(Error::ShallowHistory {
                what: "the requested commits are not all present".into(),
                path: self.git_dir().to_owned(),
            });
        }
        Ok(summary.shown)
    }
}

/// svu's `--json` document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct VersionInfo {
    /// The printed version, prefix included.
    pub version: String,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// The printed prefix.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Build metadata.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub metadata: String,
    /// The prerelease up to its first dot.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prerelease: String,
    /// The prerelease after its first dot.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub build: String,
}

impl VersionInfo {
    /// Describes `version` printed with `prefix`.
    ///
    /// ```
    /// let v: svu::Version = "1.3.0-alpha.1+124".parse().unwrap();
    /// assert_eq!(
    ///     svu::VersionInfo::new(&v, "v").to_json(),
    ///     r#"{"version":"v1.3.0-alpha.1+124","major":1,"minor":3,"patch":0,"prefix":"v","metadata":"124","prerelease":"alpha","build":"1"}"#
    /// );
    /// ```
    pub fn new(version: &Version, prefix: &str) -> Self {
        let (prerelease, build) = match version.prerelease().split_once('.') {
            Some((pre, build)) => (pre.to_owned(), build.to_owned()),
            None => (version.prerelease().to_owned(), String::new()),
        };
        Self {
            version: format!("{prefix}{version}"),
            major: version.major(),
            minor: version.minor(),
            patch: version.patch(),
            prefix: prefix.to_owned(),
            metadata: version.metadata().to_owned(),
            prerelease,
            build,
        }
    }

    /// Compact JSON, keys in svu's order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain strings and integers always serialise")
    }
}
