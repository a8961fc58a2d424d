/// Everything that can go wrong talking to Forgejo. Each variant names the input at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request failed or the server answered with an error (status, message and body kept).
    #[error(transparent)]
    Http(#[from] offinfra_http::Error),
    /// The tag exists, on another commit than the one asked for.
    #[error("tag {tag} already exists in {repo} on commit {existing}, not on {wanted}")]
    TagOnOtherCommit {
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
        /// The commit it points at.
        existing: String,
        /// The commit asked for.
        wanted: String,
    },
    /// A default-branch change was answered 200 but not applied (the branch does not exist).
    #[error("{repo}: the default branch is still {actual}, not {requested} (does branch {requested} exist?)")]
    DefaultBranchUnchanged {
        /// The repository.
        repo: String,
        /// The branch asked for.
        requested: String,
        /// The default branch after the edit.
        actual: String,
    },
    /// An input was refused before anything was sent.
    #[error("{0}")]
    InvalidInput(String),
    /// The server's version string is not a version.
    #[error("the server reports version {version:?}, which is not a semantic version: {reason}")]
    InvalidVersion {
        /// What it reported.
        version: String,
        /// Why it does not parse.
        reason: String,
    },
}

impl Error {
    /// Whether the server answered 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Http(e) if e.is_not_found())
    }
}
