//! `trigger-deploy`: start the manual Woodpecker pipeline that rolls the new image out, and optionally
//! wait for its result. Works with plain flags and as a Woodpecker plugin (`PLUGIN_*` settings).
//!
//! ```text
//! WOODPECKER_TOKEN=… trigger-deploy --woodpecker-url https://ci.example.com --repo owner/app \
//!   --branch master --var IMAGE_TAG=0123abcd --var IMAGE_NAME=ghcr.io/owner/app --wait --timeout 300s
//! ```

#[path = "common/progress.rs"]
mod progress;

use std::process::ExitCode;

use clap::Parser;
use offinfra::{
    cli::{self, deploy::TriggerArgs},
    flow::FailedStep,
};

#[derive(Parser, Debug)]
#[command(
    name = "trigger-deploy",
    version = offinfra::VERSION,
    about = "Start a manual Woodpecker pipeline and wait for it",
    after_help = "Examples:\n  WOODPECKER_TOKEN=… trigger-deploy --woodpecker-url https://ci.example.com --repo owner/app --branch master --var IMAGE_TAG=0123abcd --var IMAGE_NAME=ghcr.io/owner/app --wait --timeout 300s"
)]
struct Args {
    #[command(flatten)]
    trigger: TriggerArgs,
}

fn main() -> ExitCode {
    cli::plugin_settings(&[
        ("WOODPECKER_TOKEN", "PLUGIN_TOKEN"),
        ("WOODPECKER_TOKEN", "PLUGIN_WOODPECKER_TOKEN"),
        ("SLACK_WEBHOOK", "PLUGIN_SLACK_WEBHOOK"),
    ]);
    cli::run_main(run)
}

async fn run(args: Args) -> Result<bool, offinfra::Error> {
    let variables = args.trigger.variables()?;
    let ci = args.trigger.woodpecker()?;
    let repo_id = args.trigger.repo_id(&ci).await?;
    let repo = args.trigger.repo.clone().unwrap_or_else(|| format!("repo {repo_id}"));
    let image = match (variables.get("IMAGE_NAME"), variables.get("IMAGE_TAG")) {
        (Some(name), Some(tag)) => format!(" {name}:{tag}"),
        _ => String::new(),
    };
    let wait = args.trigger.wait();
    let pipelines = ci.repo(repo_id).pipelines();
    let started = |p: &offinfra::woodpecker_client::Pipeline| {
        println!("{}\n{}", p.number, ci.pipeline_url(repo_id, p.number));
    };
    let slack = args.trigger.slack_webhook.as_deref();
    let spinner = wait.and_then(|_| progress::spinner("starting the pipeline"));
    let on_poll = |p: &offinfra::woodpecker_client::Pipeline| {
        if let Some(spinner) = &spinner {
            spinner.set_message(format!("pipeline #{}: {}", p.number, p.status));
        }
    };
    let run = pipelines.run_watching(&args.trigger.branch, &variables, wait, started, on_poll).await;
    if let Some(spinner) = &spinner {
        spinner.finish_and_clear();
    }
    let outcome = match run {
        Ok(outcome) => outcome,
        Err(e @ offinfra::woodpecker_client::Error::Timeout { number, .. }) => {
            let url = ci.pipeline_url(repo_id, number);
            offinfra::notify::slack_or_warn(
                slack,
                &format!(":x: deploy of {repo}{image}: pipeline #{number} {url}: {e}"),
            )
            .await;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let url = ci.pipeline_url(repo_id, outcome.started.number);
    let status = outcome.finished.as_ref().map_or("started".to_owned(), |done| done.status.to_string());
    let rows = [("repository", repo.clone()), ("pipeline", url.clone()), ("status", status.clone())];
    let notice = format!("deploy pipeline #{} of {repo}{image}: {status}: {url}", outcome.started.number);
    offinfra::ci::report_change("trigger-deploy", &notice, &rows)?;
    let Some(done) = &outcome.finished else {
        let text = format!(":rocket: deploy of {repo}{image} started: pipeline #{} {url}", outcome.started.number);
        offinfra::notify::slack_or_warn(slack, &text).await;
        return Ok(true);
    };
    eprintln!("pipeline #{} finished: {}", done.number, done.status);
    let success = outcome.success() == Some(true);
    let mark = if success { ":white_check_mark:" } else { ":x:" };
    let text = format!("{mark} deploy of {repo}{image}: pipeline #{} {}: {url}", done.number, done.status);
    offinfra::notify::slack_or_warn(slack, &text).await;
    for tail in outcome.failed_steps {
        eprint!("{}", FailedStep::from(tail).render());
    }
    Ok(success)
}
