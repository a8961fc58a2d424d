//! How an example runs: the async runtime and its exit code, the log, and the duration flags. Only the
//! command line needs these, so `tracing-subscriber` is a dependency of the `cli` feature alone.

use std::{future::Future, process::ExitCode, time::Duration};

use crate::ci::Actions;

/// Runs an example's async body on a multi-thread runtime and maps the result to the exit code:
/// `Ok(true)` 0, `Ok(false)` (problems found, already reported) 1, `Err` printed with its causes
/// ([`crate::error::render_chain`]) and 1.
pub fn run_async<F: Future<Output = Result<bool, crate::Error>>>(body: F) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(body) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprint!("{}", crate::error::render_chain(&e));
            Actions::from_env().error(&crate::error::one_line(&e), None);
            ExitCode::FAILURE
        }
    }
}

/// What the log shows without `RUST_LOG`: warnings of our crates only. Other crates (kube, gix, …)
/// log their view of failures we already report as errors, so they speak only when asked.
pub const DEFAULT_LOG_FILTER: &str =
    "off,offinfra=warn,offinfra_http=warn,svu=warn,ghcr_client=warn,forgejo_client=warn,woodpecker_client=warn,deployer=warn";

/// Starts the examples' log: tracing events as compact lines on stderr, chosen by `RUST_LOG` (default
/// [`DEFAULT_LOG_FILTER`]; e.g. `RUST_LOG=offinfra_http=debug` shows every request and retry, `RUST_LOG=kube=debug`
/// the Kubernetes client's). The log never carries what tools read: data goes to stdout, and the lines
/// people and tests grep (svu's output, kubectl's rollout lines, summaries) are printed directly. An invalid
/// `RUST_LOG` is reported once and the default used. Calling it again does nothing.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;

    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: RUST_LOG={spec:?} is not a valid filter ({e}); using the default");
            EnvFilter::new(DEFAULT_LOG_FILTER)
        }),
        _ => EnvFilter::new(DEFAULT_LOG_FILTER),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .compact()
        .try_init();
}

/// A duration flag (`--timeout`, `--poll`): `300s`, `5m`, `1h30m`, `500ms` (jiff's friendly format), or
/// a bare number of seconds. Too large or negative is an error naming the input, never an overflow.
///
/// ```
/// use std::time::Duration;
/// use offinfra::cli::parse_duration;
///
/// assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
/// assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
/// assert!(parse_duration("five minutes please").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let expected = "expected e.g. 300s, 5m, 1h30m, 500ms or a number of seconds";
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = text.parse().map_err(|_| format!("invalid duration {text:?}: too large"))?;
        return Ok(Duration::from_secs(secs));
    }
    let span: jiff::SignedDuration =
        text.parse().map_err(|e| format!("invalid duration {text:?}: {expected} ({e})"))?;
    Duration::try_from(span).map_err(|_| format!("invalid duration {text:?}: must not be negative"))
}

/// The exit code after a command-line parse failure was printed: help and version are successes (0),
/// usage errors 2.
pub fn usage_exit(is_error: bool) -> ExitCode {
    if is_error {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit_and_never_overflow() {
        for (text, want) in [
            ("300s", Duration::from_secs(300)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("1h30m", Duration::from_secs(5400)),
            ("500ms", Duration::from_millis(500)),
            ("0", Duration::ZERO),
            (" 42 ", Duration::from_secs(42)),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for bad in ["", "5x", "m", "-5s", "99999999999999999999", "18446744073709551615h", "1.5.5s"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains(&format!("{:?}", bad.trim())), "{bad}: {err}");
        }
    }
}
