use std::path::PathBuf;

/// Everything that can go wrong in this crate. Each variant names the input at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path is not an OCI image layout (directory or tar).
    #[error("{path} is not an OCI image layout: {reason}")]
    NotALayout {
        /// The layout path.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A JSON document of the layout does not parse.
    #[error("{what} in {path} is not valid: {reason}")]
    BadJson {
        /// The layout path.
        path: PathBuf,
        /// Which document (`index.json`, `manifest sha256:…`).
        what: String,
        /// The parser's message.
        reason: String,
    },
    /// A blob the image needs is not in the layout.
    #[error("blob {digest} is missing from the layout {path}")]
    MissingBlob {
        /// The layout path.
        path: PathBuf,
        /// The missing blob's digest.
        digest: String,
    },
    /// A blob's content does not hash to its digest.
    #[error("blob {digest} in {path} is corrupt: its content hashes to {actual}")]
    DigestMismatch {
        /// The layout path.
        path: PathBuf,
        /// The digest the descriptor names.
        digest: String,
        /// What the content actually hashes to.
        actual: String,
    },
    /// A blob's size differs from its descriptor.
    #[error("blob {digest} in {path} has {actual} bytes, its descriptor says {expected}")]
    SizeMismatch {
        /// The layout path.
        path: PathBuf,
        /// The blob's digest.
        digest: String,
        /// The size the descriptor names.
        expected: u64,
        /// The size found.
        actual: u64,
    },
    /// The digest uses an algorithm this crate cannot verify.
    #[error("digest {digest}: unsupported algorithm (sha256 and sha512 are)")]
    UnsupportedDigest {
        /// The digest.
        digest: String,
    },
    /// The selector does not pick exactly one image.
    #[error("cannot choose an image in {path}: {reason}")]
    Selection {
        /// The layout path.
        path: PathBuf,
        /// Why, with what is available.
        reason: String,
    },
    /// A descriptor has a media type that is neither a manifest nor an index.
    #[error("{digest} has media type {media_type}, which is not an image manifest or index")]
    UnsupportedMediaType {
        /// The descriptor's digest.
        digest: String,
        /// Its media type.
        media_type: String,
    },
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The prune plan cannot be made safely.
    #[error("cannot plan the prune safely: {0}")]
    UnsafePlan(String),
    /// Every deletion of a prune answered 404: the token cannot see the versions (no `delete:packages`,
    /// or another owner), or another run deleted them.
    #[error("no version was deleted: every delete answered 404 (versions {not_found:?}); does the token have delete:packages on this package?")]
    NothingDeleted {
        /// The version ids.
        not_found: Vec<u64>,
    },
    /// A manifest reference that is neither a digest nor a tag (never put into a path).
    #[error("manifest reference {0:?} is neither a digest nor a tag")]
    BadReference(String),
    /// A repository path that names no image on the registry.
    #[error("repository {repository:?} on {registry}: not a repository path (lower-case components separated by /)")]
    BadRepository {
        /// The path.
        repository: String,
        /// The registry.
        registry: String,
    },
    /// A repository on another registry than the client's.
    #[error("{repository} is not on {registry}: a registry client speaks only to its own host")]
    OtherRegistry {
        /// The repository asked for.
        repository: String,
        /// The client's registry.
        registry: String,
    },
    /// The registry credentials given cannot be used (a user without a password, a password without a
    /// user, characters no HTTP header allows). The text never contains the secret.
    #[error("registry credentials: {0}")]
    Credentials(String),
    /// The docker config's credential helper (`docker-credential-<name>`) failed: not on `PATH`, did not
    /// start, took longer than [`crate::registry::auth::HELPER_TIMEOUT`], refused, or answered garbage.
    #[error("{program}: {reason}")]
    CredentialHelper {
        /// The helper program.
        program: String,
        /// What went wrong.
        reason: String,
        /// The cause, when another error says it.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A blob streamed slower than [`crate::registry::MinThroughput`] allows.
    #[error("{url}: {reason}")]
    Stalled {
        /// The blob's address.
        url: String,
        /// The rate seen and the floor.
        reason: String,
    },
    /// An HTTP request failed (the status and body are kept in [`offinfra_http::ApiError`]).
    #[error(transparent)]
    Http(#[from] offinfra_http::Error),
    /// Executing a prune plan stopped at a failed deletion.
    #[error("prune stopped after deleting {} version(s): deleting version {version_id} ({digest}) failed: {source}", deleted.len())]
    PruneStopped {
        /// The version ids deleted before the failure.
        deleted: Vec<u64>,
        /// The version whose deletion failed.
        version_id: u64,
        /// Its digest.
        digest: String,
        /// Why.
        #[source]
        source: Box<offinfra_http::Error>,
    },
    /// An image in a registry that cannot be read as asked (a nested index, a config over its cap, a
    /// platform it lacks, a layer that is not a tar).
    #[error("{what}: {reason}")]
    Image {
        /// The image or blob, `host/repository:reference` or `host/repository@digest`.
        what: String,
        /// Why.
        reason: String,
    },
    /// An image that cannot be built as asked (a file, a mode, a base, a platform).
    #[error("build-image: {what}: {reason}")]
    Build {
        /// The input at fault (`--add target/deploy:/usr/bin/deploy`, the base reference, …).
        what: String,
        /// Why.
        reason: String,
    },
    /// A `--protect-tags` expression does not compile.
    #[error("invalid protect-tags expression {pattern:?}: {reason}")]
    InvalidPattern {
        /// The expression.
        pattern: String,
        /// The compiler's message.
        reason: String,
    },
}

impl Error {
    /// `digest` held to the one rule ([`offinfra_types::Digest`]): every digest a server or a layout wrote
    /// goes through here before it becomes a path, a request or a comparison.
    pub(crate) fn checked_digest(digest: &str) -> Result<offinfra_types::Digest, Error> {
        offinfra_types::Digest::parse(digest).map_err(|_| Error::UnsupportedDigest { digest: digest.to_owned() })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// The HTTP status of the failed call, when a server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http(e) => e.status(),
            Error::PruneStopped { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Whether a server answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the registry refused the credentials, or asked for some (401 or 403).
    pub fn is_denied(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }
}
