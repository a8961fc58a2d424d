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
    Plan(#[from] PlanError),
    /// Vault or Woodpecker during a secrets sync.
    #[error(transparent)]
    Secrets(#[from] SyncError),
    /// A Forgejo registry cleanup that stopped half-way.
    #[error(transparent)]
    Cleanup(Box<CleanupStopped>),
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

impl From<CleanupStopped> for Error {
    fn from(stopped: CleanupStopped) -> Self {
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

// The errors of offinfra's own modules live here, beside the enum that wraps them, so this module
// depends on none of them (re-exported where they are raised: `flow::PlanError`, `secrets::SyncError`,
// `forgejo_registry::CleanupStopped`).

/// A plan that cannot be made, naming the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The prune needs the package's owner: the image's path must be `owner/name`.
    #[error(
        "image \"{0}\": the prune needs registry/owner/name (the package's owner and name), e.g. ghcr.io/acme/app"
    )]
    ImageWithoutOwner(offinfra_types::ImageName),
}

/// Everything that can go wrong in a sync.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Vault could not be read.
    #[error("reading vault {mount}/{path}: {message}")]
    Vault {
        /// The KV v2 mount.
        mount: String,
        /// The secret's path.
        path: String,
        /// Vault's answer or the connection's error.
        message: String,
    },
    /// The Vault secret's data is not an object of strings.
    #[error("{origin}: the secret's data is not an object (it is {kind})")]
    NotAnObject {
        /// The source.
        origin: String,
        /// What it is instead.
        kind: &'static str,
    },
    /// A prune from an empty source.
    #[error("{origin} is empty: refusing to delete {would_delete:?} (a wrong path reads as empty too); force it to prune anyway")]
    EmptySource {
        /// The source.
        origin: String,
        /// What the prune would delete.
        would_delete: Vec<String>,
    },
    /// A value in Vault is not a string.
    #[error("{origin}: key {key:?} is not a string (Woodpecker secrets are strings)")]
    NotAString {
        /// The source.
        origin: String,
        /// The key.
        key: String,
    },
    /// A Woodpecker call failed; `done` says what was already written.
    #[error("woodpecker secret {name:?}: {source}")]
    Woodpecker {
        /// The secret.
        name: String,
        /// The error.
        source: woodpecker_client::Error,
    },
}

/// Why a cleanup stopped half-way: what was deleted, what failed, what was not attempted.
#[derive(Debug, thiserror::Error)]
#[error(
    "cleanup stopped at {failed}: deleted {} ({}), not deleted {} ({}): {source}",
    deleted.len(),
    deleted.join(", "),
    not_deleted.len(),
    not_deleted.join(", ")
)]
#[non_exhaustive]
pub struct CleanupStopped {
    /// `package:version` of each version deleted before the failure.
    pub deleted: Vec<String>,
    /// The version whose delete failed.
    pub failed: String,
    /// It and every later version of the plan, none deleted.
    pub not_deleted: Vec<String>,
    /// Why.
    #[source]
    pub source: forgejo_client::Error,
}

/// The message and each cause the message does not already show, joined by `: ` (for one-line reports
/// such as a flow step's detail).
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    causes(error).join(": ")
}

/// Server text made safe to print in a CI log: control characters (ANSI escapes included) become `�`,
/// and nothing can reach the GitHub Actions runner as a workflow command. The runner reads a line as a
/// command when, with leading white space trimmed, it starts with `::` (`::add-mask::`, `::stop-commands::`,
/// `::error`…), or, by its legacy parser, when `##[` appears anywhere in it (actions/runner
/// `src/Runner.Common/ActionCommand.cs`, `TryParseV2` and `TryParse`). So such a line starts with a zero
/// width space (U+200B, which is not white space to .NET's `TrimStart`), and every `##[` becomes
/// `##\u{200b}[`. The text reads the same.
///
/// ```
/// let safe = offinfra::ci::neutralise("  ::add-mask::x\nsee ##[error]here\n\u{1b}[31mred");
/// assert_eq!(safe, "\u{200b}  ::add-mask::x\nsee ##\u{200b}[error]here\n\u{fffd}[31mred");
/// ```
pub fn neutralise(text: &str) -> String {
    let clean: String =
        text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { '\u{fffd}' } else { c }).collect();
    clean
        .split('\n')
        .map(|line| {
            let line = line.replace("##[", "##\u{200b}[");
            match line.trim_start().starts_with("::") {
                true => format!("\u{200b}{line}"),
                false => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The message, then each cause whose text the ones before do not already contain; server text in them
/// is neutralised ([`neutralise`]).
fn causes(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut shown = vec![neutralise(&error.to_string())];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = neutralise(&cause.to_string());
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
pub(crate) mod tests {
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

    /// Whether the GitHub Actions runner would take `line` as a workflow command, by its own rules
    /// (`ActionCommand.TryParseV2`: `TrimStart()` then `StartsWith("::")`; `TryParse`: `##[` anywhere).
    /// .NET's `TrimStart` trims `char.IsWhiteSpace`, which is Unicode's White_Space, as Rust's `trim_start`.
    pub(crate) fn runner_would_run(line: &str) -> bool {
        line.trim_start().starts_with("::") || line.contains("##[")
    }

    #[test]
    fn server_text_cannot_issue_runner_commands() {
        let api = offinfra_http::ApiError::new(
            "GET",
            "https://x/y",
            500,
            br#"{"message":"\n  ::stop-commands::tok\n\t::add-mask::x\nok ##[error]boom\u001b[2Jgone"}"#,
        );
        let rendered = render_chain(&Error::Http(api.into()));
        assert!(!rendered.lines().any(runner_would_run), "{rendered:?}");
        assert!(!rendered.contains('\u{1b}'), "{rendered:?}");
        assert!(rendered.contains("::stop-commands::tok") && rendered.contains("[error]boom"), "still readable");
        // What the runner would have run before: leading white space and a mid-line legacy marker.
        for attack in ["  ::add-mask::x", "\t::error::x", "\u{a0}::warning::x", "text ##[group]x"] {
            assert!(runner_would_run(attack), "the rule: {attack:?}");
            assert!(!neutralise(attack).lines().any(runner_would_run), "{attack:?}");
        }
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
