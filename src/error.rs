//! The root crate's one error: each client's error kept whole (status, body and source chain included),
//! an input that breaks its type's rule, a setting a step lacks, and what the library was doing when a
//! lower error happened.

use std::fmt;

/// What can go wrong in the composed jobs.
///
/// Client errors are wrapped, never flattened to text: `source()` and the helpers reach the HTTP status
/// and body underneath any [`Error::Context`].
///
/// ```
/// use offinfra::{Error, ResultExt};
///
/// let parsed: Result<offinfra::types::RepoName, _> = "app".parse();
/// let error = parsed.context("reading --repo").unwrap_err();
/// assert_eq!(error.to_string(), "reading --repo: repository \"app\": expected owner/name");
/// assert_eq!(
///     offinfra::error::render_chain(&error),
///     "error: reading --repo: repository \"app\": expected owner/name\n"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input that breaks its type's rule.
    #[error(transparent)]
    Input(#[from] offinfra_types::Error),
    /// A setting that is missing or contradicts another, or a state that stops the job; the message
    /// names the flag or the input.
    #[error("{0}")]
    Invalid(String),
    /// The version engine.
    #[error(transparent)]
    Svu(#[from] svu::Error),
    /// Forgejo.
    #[error(transparent)]
    Forgejo(#[from] forgejo_client::Error),
    /// Woodpecker.
    #[error(transparent)]
    Woodpecker(#[from] woodpecker_client::Error),
    /// The registry, an image layout or GitHub Packages.
    #[error(transparent)]
    Registry(#[from] ghcr_client::Error),
    /// Kubernetes.
    #[error(transparent)]
    Deploy(#[from] deployer::Error),
    /// An HTTP call outside the clients (Slack).
    #[error(transparent)]
    Http(#[from] offinfra_http::Error),
    /// A flow plan that cannot be made.
    #[error(transparent)]
    Plan(#[from] crate::flow::PlanError),
    /// Vault or Woodpecker during a secrets sync.
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SyncError),
    /// A Forgejo registry cleanup that stopped half-way.
    #[error(transparent)]
    Cleanup(Box<crate::forgejo_registry::CleanupStopped>),
    /// A local file.
    #[error("{what}: {source}")]
    Io {
        /// What was read or written (`cannot write $GITHUB_OUTPUT (/path)`).
        what: String,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// What the library was doing when `source` happened.
    #[error("{context}: {source}")]
    Context {
        /// `reading viktor/app on Forgejo`, …
        context: String,
        /// The error underneath.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// An [`Error::Invalid`] with this message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// The error underneath any [`Error::Context`].
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            other => other,
        }
    }

    /// The HTTP status of the failed call underneath, when there was one.
    pub fn status(&self) -> Option<u16> {
        let http = match self.root() {
            Error::Http(e)
            | Error::Forgejo(forgejo_client::Error::Http(e))
            | Error::Woodpecker(woodpecker_client::Error::Http(e))
            | Error::Registry(ghcr_client::Error::Http(e)) => e,
            Error::Cleanup(stopped) => match &stopped.source {
                forgejo_client::Error::Http(e) => e,
                _ => return None,
            },
            _ => return None,
        };
        http.status()
    }

    /// Whether a server answered 404 (the thing asked for does not exist).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

impl From<crate::forgejo_registry::CleanupStopped> for Error {
    fn from(stopped: crate::forgejo_registry::CleanupStopped) -> Self {
        Self::Cleanup(Box::new(stopped))
    }
}

/// `.context(..)` on results whose error converts into [`Error`]: keeps the error and says what was
/// being done.
pub trait ResultExt<T> {
    /// Wraps the error in [`Error::Context`].
    fn context(self, context: impl fmt::Display) -> Result<T, Error>;
    /// [`Self::context`] with a message built only on failure.
    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, Error>;
}

impl<T, E: Into<Error>> ResultExt<T> for Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T, Error> {
        self.with_context(|| context)
    }

    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, Error> {
        self.map_err(|e| Error::Context { context: context().to_string(), source: Box::new(e.into()) })
    }
}

/// The message and each cause the message does not already show, joined by `: ` (for one-line reports
/// such as a flow step's detail).
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    causes(error).join(": ")
}

/// The message, then each cause whose text the ones before do not already contain; server text in them
/// is neutralised ([`crate::ci::neutralise`]).
fn causes(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut shown = vec![crate::ci::neutralise(&error.to_string())];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = crate::ci::neutralise(&cause.to_string());
        if !text.is_empty() && !shown.iter().any(|s| s.contains(&text)) {
            shown.push(text);
        }
        source = cause.source();
    }
    shown
}

/// `error: <message>` and then one `  caused by: <cause>` line per cause in the source chain whose text
/// the lines above do not already show (our errors put their source in their message; a transport
/// error's causes are often only in the chain).
pub fn render_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let causes = causes(error);
    let mut out = format!("error: {}\n", causes[0]);
    for cause in &causes[1..] {
        out += &format!("  caused by: {cause}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Refused;

    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Send(#[source] Refused);

    #[test]
    fn the_chain_shows_each_cause_once() {
        let io = Error::Io { what: "cannot open /x".into(), source: std::io::Error::other(Send(Refused)) };
        let error = Err::<(), _>(io).context("writing outputs").unwrap_err();
        assert_eq!(
            render_chain(&error),
            "error: writing outputs: cannot open /x: error sending request\n  caused by: connection refused\n"
        );
        assert_eq!(render_chain(&Error::invalid("--repo is missing")), "error: --repo is missing\n");
        assert_eq!(one_line(&error), "writing outputs: cannot open /x: error sending request: connection refused");
    }

    #[test]
    fn server_text_cannot_issue_runner_commands() {
        let api =
            offinfra_http::ApiError::new("GET", "https://x/y", 500, br#"{"message":"\n::add-mask::\u001b[2Jgone"}"#);
        let rendered = render_chain(&Error::Http(api.into()));
        assert!(!rendered.lines().any(|l| l.starts_with("::")), "{rendered:?}");
        assert!(!rendered.contains('\u{1b}'), "{rendered:?}");
    }

    #[test]
    fn helpers_see_through_context() {
        let http = offinfra_http::Error::from(offinfra_http::ApiError::new("GET", "https://forgejo/x", 404, b"{}"));
        let error = Err::<(), _>(forgejo_client::Error::from(http)).context("reading viktor/app").unwrap_err();
        assert!(error.is_not_found());
        assert_eq!(error.status(), Some(404));
        assert!(matches!(error.root(), Error::Forgejo(_)));
        assert!(!Error::invalid("x").is_not_found());
    }
}
