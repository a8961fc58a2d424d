//! The `main` every async example shares: parse (help and version exit 0, usage errors 2), then run on
//! a multi-thread runtime (`Ok(true)` exits 0, `Ok(false)` 1, an error prints `error: …` and exits 1).
#![allow(dead_code)]

use std::{future::Future, process::ExitCode};

pub fn run_main<A: clap::Parser, F: Future<Output = Result<bool, String>>>(run: impl FnOnce(A) -> F) -> ExitCode {
    offinfra::ci::init_logging();
    match A::try_parse() {
        Ok(args) => offinfra::ci::run_async(run(args)),
        Err(e) => {
            let _ = e.print();
            offinfra::ci::usage_exit(e.use_stderr())
        }
    }
}

/// Posts `text` to the Slack webhook when one is configured; a failed post is a warning on stderr, not a
/// failed step.
pub async fn notify_slack(webhook: Option<&str>, text: &str) {
    if let Some(webhook) = webhook.filter(|w| !w.is_empty()) {
        if let Err(e) = offinfra::notify::slack(&webhook.to_owned().into(), text).await {
            eprintln!("warning: {e}");
        }
    }
}

/// `--format`: text for people, or JSON for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people.
    Human,
    /// JSON for tools.
    Json,
}
