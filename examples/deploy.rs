//! `deploy`: `kubectl set image` then `kubectl rollout status --timeout`, printing kubectl's lines, with
//! an optional rollback (`kubectl rollout undo` for a Deployment) when the rollout fails. Exit 0 only when rolled out.
//!
//! ```text
//! deploy --namespace prod --name web --container app=ghcr.io/owner/app:0123abcd --timeout 300s
//! # the onboarded step: the repository fixed, the tag from the pipeline variable IMAGE_TAG
//! deploy --namespace prod --name web --container-name app --image-repository ghcr.io/owner/app --rollback-on-failure
//! ```

#[path = "common/progress.rs"]
mod progress;

use std::process::ExitCode;

use clap::Parser;
use offinfra::{
    cli::{self, deploy::RollOutArgs},
    deployer::roll_out::{Line, OnFailure, RollOut, RollOutcome},
    Error,
};

#[derive(Parser, Debug)]
#[command(
    name = "deploy",
    version = offinfra::VERSION,
    about = "Set the image of a workload and wait for its rollout",
    after_help = "Examples:\n  deploy --namespace prod --name web --container app=ghcr.io/owner/app:0123abcd --timeout 300s\n  # the onboarded step: the repository fixed, the tag from the pipeline variable IMAGE_TAG\n  deploy --namespace prod --name web --container-name app --image-repository ghcr.io/owner/app --rollback-on-failure"
)]
struct Args {
    #[command(flatten)]
    roll_out: RollOutArgs,
    /// Print the patch and change nothing
    #[arg(long)]
    dry_run: bool,
}

fn main() -> ExitCode {
    cli::run_main(run)
}

async fn run(args: Args) -> Result<bool, Error> {
    let (dry_run, args) = (args.dry_run, args.roll_out);
    let pairs = args.pairs()?;
    let deployer = args.deployer().await?;
    if dry_run {
        let target = format!("{}/{}", args.kind.resource(), args.name);
        let report = deployer.set_image(args.kind, &args.name, &pairs, true).await?;
        match &report.plan.patch {
            Some(patch) => println!("{patch}"),
            None => eprintln!("{target}: nothing to change"),
        }
        return Ok(true);
    }
    let spec = RollOut {
        kind: args.kind,
        name: &args.name,
        images: &pairs,
        timeout: (!args.timeout.is_zero()).then_some(args.timeout),
        on_failure: if args.rollback_on_failure { OnFailure::RollBack } else { OnFailure::Stop },
    };
    // kubectl's lines as they are; on a terminal, a spinner below them shows the latest.
    let spinner = progress::spinner("rolling out");
    let result = deployer
        .roll_out(&spec, &mut |line| {
            let (text, out) = match &line {
                Line::Out(text) => (text, true),
                Line::Err(text) => (text, false),
            };
            let print = || if out { print!("{text}") } else { eprint!("{text}") };
            match &spinner {
                Some(spinner) => {
                    spinner.suspend(print);
                    spinner.set_message(text.trim().to_owned());
                }
                None => print(),
            }
        })
        .await;
    spinner.iter().for_each(indicatif::ProgressBar::finish_and_clear);
    let images = pairs.iter().map(|p| format!("{}={}", p.container, p.image)).collect::<Vec<_>>().join(", ");
    let target = format!("{}/{} in {}", args.kind.resource(), args.name, deployer.namespace());
    let text = match &result {
        Ok(RollOutcome { rolled_out: true, .. }) => format!(":white_check_mark: {target} rolled out {images}"),
        Ok(RollOutcome { reason, .. }) => format!(":x: {target} failed ({images}): {reason}"),
        Err(e) => format!(":x: {target} failed ({images}): {e}"),
    };
    offinfra::notify::slack_or_warn(args.slack_webhook().as_deref(), &text).await;
    let done = result?;
    let rows = [("target", target.clone()), ("images", images.clone()), ("rolled out", done.rolled_out.to_string())];
    offinfra::ci::report_change("deploy", &format!("{target}: {images}: rolled out {}", done.rolled_out), &rows)?;
    Ok(done.rolled_out)
}
