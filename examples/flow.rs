//! `flow`: the GitHub Actions build-and-deploy job in one command: the next version from conventional
//! commits, the tag on Forgejo, the image pushed as `:<sha8>` and `:latest`, the package pruned, the
//! Woodpecker deploy triggered (and optionally waited for). Each step can be skipped; the results go to
//! `$GITHUB_OUTPUT` and a Markdown table to `$GITHUB_STEP_SUMMARY`.
//!
//! ```text
//! flow --dry-run                       # in any git checkout: the plan, no credentials, no servers
//! flow --layout image.tar --forgejo-url https://git.example.com --woodpecker-url https://ci.example.com
//! ```

use std::process::ExitCode;

use clap::Parser;
use offinfra::{
    ci::Outputs,
    cli::{self, flow::FlowArgs},
    flow::{self, FlowEvent, StepStatus},
};

#[derive(Parser, Debug)]
#[command(
    name = "flow",
    version = offinfra::VERSION,
    about = "Version, tag, push, prune and deploy in one CI step",
    after_help = "Examples:\n  flow --dry-run                       # in any git checkout: the plan, no credentials, no servers\n  flow --layout image.tar --forgejo-url https://git.example.com --woodpecker-url https://ci.example.com"
)]
struct Args {
    #[command(flatten)]
    flow: FlowArgs,
    #[command(flatten)]
    output: cli::Output,
}

fn main() -> ExitCode {
    cli::run_main(run)
}

async fn run(args: Args) -> Result<bool, offinfra::Error> {
    let cwd = std::env::current_dir()
        .map_err(|source| offinfra::Error::Io { what: "the current directory".into(), source })?;
    let config = args.flow.config(cwd, args.output.dry_run)?;
    let (plan, versions) =
        config.plan_with_versions(|n| std::env::var(n).ok(), &mut |note| eprintln!("note: {note}"))?;
    if args.output.dry_run {
        if args.output.json() {
            return cli::print_json(&plan).map(|()| true);
        }
        print!("dry run: nothing is contacted\n{}", plan.describe());
        return Ok(true);
    }

    let connected = args.flow.connect()?.connect(&plan)?;
    let (human, actions) = (!args.output.json(), offinfra::ci::Actions::from_env());
    // Inside Actions, each step that runs is a group holding what it logs and its result line.
    let mut open = false;
    // The version is recomputed with Forgejo's tags: the mirror's checkout may lag behind them.
    let backends = flow::Backends { versions: Some(&versions), ..connected.backends() };
    let report = flow::run_observed(&plan, &backends, &mut |event| match event {
        FlowEvent::Started(step) if human => {
            actions.group(step.as_str());
            open = true;
        }
        FlowEvent::Finished(record) if human => {
            let status = if record.status == StepStatus::Failed { "FAILED" } else { record.status.as_str() };
            eprintln!("{:<7} {status}: {}", record.step.as_str(), record.detail);
            if std::mem::take(&mut open) {
                actions.endgroup();
            }
        }
        _ => {}
    })
    .await;
    report.annotate(&actions);
    let outputs = Outputs::from_env();
    outputs.set_all(report.outputs())?;
    outputs.summary(&report.summary_markdown())?;
    if args.output.json() {
        cli::print_json(&report)?;
    } else {
        report.deployed.iter().flat_map(|d| &d.failed_steps).for_each(|step| eprint!("{}", step.render()));
        println!("{}", report.plan.version.tag);
    }
    Ok(report.success())
}
