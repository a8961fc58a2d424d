//! `onboard`: put a Forgejo repository on the pipeline: push mirror to GitHub (sync on commit), the build
//! workflow and the deploy pipeline committed with the old pipeline files removed (one commit), Woodpecker
//! activation, default branch flipped and verified. Idempotent: a second run changes nothing and says so.
//!
//! ```text
//! FORGEJO_TOKEN=… onboard --upgrade --owner acme --forgejo-url https://git.example.com --dry-run   # every repo
//! FORGEJO_TOKEN=… WOODPECKER_TOKEN=… GITHUB_MIRROR_TOKEN=… onboard --repo acme/app \
//!   --forgejo-url https://git.example.com --woodpecker-url https://ci.example.com --dry-run
//! ```

use std::process::ExitCode;

use clap::Parser;
use offinfra::{
    cli::{self, onboard::OnboardArgs},
    onboard::{apply, inspect},
};

#[derive(Parser, Debug)]
#[command(
    name = "onboard",
    version = offinfra::VERSION,
    about = "Put a Forgejo repository on the build-off-infra, deploy-in-cluster pipeline",
    after_help = "Examples:\n  FORGEJO_TOKEN=… onboard --upgrade --owner acme --forgejo-url https://git.example.com --dry-run\n  FORGEJO_TOKEN=… WOODPECKER_TOKEN=… GITHUB_MIRROR_TOKEN=… onboard --repo acme/app --forgejo-url https://git.example.com --woodpecker-url https://ci.example.com --dry-run"
)]
struct Args {
    #[command(flatten)]
    onboard: OnboardArgs,
    #[command(flatten)]
    output: cli::Output,
}

fn main() -> ExitCode {
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    if args.onboard.upgrade {
        let options = args.onboard.upgrade_options(args.output.dry_run);
        let upgrades = offinfra::onboard::upgrade(&args.onboard.forgejo.client()?, &options).await?;
        if args.output.json() {
            println!("{}", serde_json::json!({"upgrades": upgrades}));
        }
        for upgrade in upgrades.iter().filter(|_| !args.output.json()) {
            eprint!("{}", offinfra::onboard::upgrade_report(upgrade, options.dry_run));
        }
        return match upgrades.iter().filter(|u| u.plan.stops()).map(|u| u.repo.as_str()).collect::<Vec<_>>() {
            kept if kept.is_empty() => Ok(()),
            kept => {
                Err(offinfra::Error::invalid(format!("kept edited files in {} (--force overwrites)", kept.join(", "))))
            }
        };
    }
    let settings = args.onboard.settings(|name| std::env::var(name).ok())?;
    let (forgejo, woodpecker, github) = args.onboard.clients()?;
    let config = settings.resolve(&forgejo).await?;
    let plan = inspect(&forgejo, &woodpecker, &github, &config).await?;
    let (json, dry_run) = (args.output.json(), args.output.dry_run);
    if !json {
        eprint!("{}", plan.describe(dry_run));
    }
    if plan.stops() {
        if json {
            println!("{}", serde_json::json!({"plan": plan, "stopped": true}));
        }
        let message = format!("{}: a rendered file was edited (the diff above); nothing changed", settings.repo);
        return Err(offinfra::Error::invalid(message + ": pass --force to overwrite it"));
    }
    if plan.is_noop() || dry_run {
        match (json, plan.is_noop()) {
            (true, true) => println!("{}", serde_json::json!({"plan": plan, "done": []})),
            (true, false) => println!("{}", serde_json::json!({"plan": plan, "dry_run": true})),
            (false, true) => eprintln!("{} is onboarded: nothing to change", settings.repo),
            (false, false) => eprintln!("dry run: nothing changed"),
        }
        return Ok(());
    }
    if plan.needs_mirror_token() && !args.onboard.has_mirror_token() {
        let message = "the push mirror needs a GitHub token: set GITHUB_MIRROR_TOKEN or pass --github-token";
        return Err(offinfra::Error::invalid(message));
    }
    let done = apply(&forgejo, &woodpecker, &github, &config, &plan).await?;
    let rows: Vec<(&str, String)> = done.iter().map(|line| ("done", line.to_string())).collect();
    offinfra::ci::report_change("onboard", &format!("onboarded {}", settings.repo), &rows)?;
    if json {
        println!("{}", serde_json::json!({"plan": plan, "done": done}));
    } else {
        done.iter().for_each(|line| eprintln!("done     {line}"));
    }
    Ok(())
}
