use std::path::PathBuf;

use crate::VersionError;

/// Everything that can go wrong computing a version. Each variant names the input at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No git repository at or above the given directory.
    #[error("failed to get current tag for repo: {path} is not inside a git repository: {message}")]
    NotARepository {
        /// The directory the search started from.
        path: PathBuf,
        /// What the repository search reported.
        message: String,
    },
    /// HEAD points at a branch with no commits yet.
    #[error("failed to get current tag for repo: HEAD of {path} has no commits yet")]
    UnbornHead {
        /// The repository's git directory.
        path: PathBuf,
    },
    /// `--tag.mode` is neither `all` nor `current`.
    #[error("invalid tag-mode: {0:?}: valid options are \"current\" and \"all\"")]
    InvalidTagMode(String),
    /// `--tag.pattern` is not a valid glob.
    #[error("failed to get current tag for repo: invalid --tag.pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// Why it does not compile.
        reason: String,
    },
    /// `--tag.pattern` matches no tag (svu reports this rather than starting from 0.0.0).
    #[error("failed to get current tag for repo: no tags match '{0}'")]
    NoTagMatches(String),
    /// The chosen tag is not a semantic version once the prefix is removed.
    #[error("could not get current version from tag: '{tag}': {source}")]
    TagNotSemver {
        /// The tag's name.
        tag: String,
        /// Why it does not parse.
        #[source]
        source: VersionError,
    },
    /// The chosen tag does not point at a commit.
    #[error("could not get next tag: '{tag}': the tag points at a {kind}, not a commit")]
    TagNotACommit {
        /// The tag's name.
        tag: String,
        /// The kind of object it points at.
        kind: String,
    },
    /// `--prerelease` or `--metadata` is not valid SemVer, or a bump overflowed.
    #[error("could not get next tag: '{tag}': {source}")]
    InvalidVersionPart {
        /// The tag the computation started from (empty when there is none).
        tag: String,
        /// What is wrong.
        #[source]
        source: VersionError,
    },
    /// `prerelease` needs a name and the current version has none.
    #[error(
        "could not get next tag: '{tag}': --prerelease suffix is required to calculate next pre-release version as suffix could not be determined from current version: {current}"
    )]
    PrereleaseSuffixRequired {
        /// The tag the computation started from.
        tag: String,
        /// The current version.
        current: String,
    },
    /// The prerelease counter does not fit in a 64-bit integer.
    #[error("could not get next tag: '{tag}': prerelease counter in {prerelease:?} is too large")]
    PrereleaseCounterOverflow {
        /// The tag the computation started from.
        tag: String,
        /// The prerelease holding the counter.
        prerelease: String,
    },
    /// A `--log.directory` entry that cannot be used as a path filter.
    #[error("invalid --log.directory {path:?}: {reason}")]
    InvalidDirectory {
        /// The entry as given.
        path: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The clone is shallow and its history stops before the answer is known.
    #[error(
        "{what} in the shallow clone at {path}: the answer would be wrong, so svu refuses to guess. Fetch the full history and the tags first: `git fetch --unshallow --tags` (GitHub Actions: `actions/checkout` with `fetch-depth: 0`)"
    )]
    ShallowHistory {
        /// What could not be reached.
        what: String,
        /// The repository's git directory.
        path: PathBuf,
    },
    /// An object the history refers to is not in the repository.
    #[error("object {id} is missing from the repository")]
    MissingObject {
        /// The object id.
        id: String,
    },
    /// An object expected to be a commit is something else.
    #[error("object {id} is a {kind}, not a commit")]
    NotACommit {
        /// The object id.
        id: String,
        /// The kind of object found.
        kind: String,
    },
    /// Reading the repository failed.
    #[error("git: failed to {action}: {message}")]
    Git {
        /// What was being done.
        action: String,
        /// The underlying error's text.
        message: String,
    },
    /// The configuration file could not be read or parsed.
    #[error("config file {path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A configuration or environment value has the wrong type.
    #[error("invalid value {value:?} for {key} (from {origin}): {reason}")]
    InvalidSetting {
        /// The setting's key, e.g. `tag.prefix`.
        key: String,
        /// The value as found.
        value: String,
        /// Where it came from (a file path or an environment variable).
        origin: String,
        /// What was expected.
        reason: String,
    },
}

impl Error {
    pub(crate) fn git(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Git { action: action.into(), message: err.to_string() }
    }
}
