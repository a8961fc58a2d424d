//! `forgejo-cleanup`: clean a Forgejo user's or organisation's container packages image by image: the
//! newest N images stay whole (an index with its platform and attestation manifests), protected tags and
//! `latest` stay, untagged manifests get a grace period. Prints the plan; `--execute` deletes exactly it.
//!
//! ```text
//! FORGEJO_TOKEN=… forgejo-cleanup --forgejo-url https://git.example.com --owner viktor --keep 10
//! FORGEJO_TOKEN=… forgejo-cleanup --forgejo-url https://git.example.com --owner viktor --keep 10 --execute
//! ```

use std::process::ExitCode;

use clap::Parser;
use offinfra::{
    cli::{self, cleanup::CleanupArgs, Format},
    forgejo_registry::{execute, plan},
};

#[derive(Parser, Debug)]
#[command(
    name = "forgejo-cleanup",
    version = offinfra::VERSION,
    about = "Clean Forgejo container packages image by image (dry run unless --execute)",
    after_help = "Examples:\n  FORGEJO_TOKEN=… forgejo-cleanup --forgejo-url https://git.example.com --owner viktor --keep 10\n  FORGEJO_TOKEN=… forgejo-cleanup --forgejo-url https://git.example.com --owner viktor --keep 10 --execute"
)]
struct Args {
    #[command(flatten)]
    cleanup: CleanupArgs,
    /// Output format of the plan and the report
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

fn main() -> ExitCode {
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let (options, pause) = (args.cleanup.retention.options()?, args.cleanup.retention.pause()?);
    let (forgejo, registry) = (args.cleanup.forgejo()?, args.cleanup.registry()?);
    let plan = plan(&forgejo, &registry, &args.cleanup.owner, &args.cleanup.packages, &options).await?;
    let json = args.format == Format::Json;
    if !json {
        print!("{plan}");
    }
    if !args.cleanup.execute || plan.is_noop() {
        match json {
            true => println!("{}", serde_json::json!({"plan": plan, "dry_run": !args.cleanup.execute})),
            false if plan.is_noop() => eprintln!("nothing to delete"),
            false => eprintln!("dry run: nothing deleted (--execute deletes the versions above)"),
        }
        return Ok(());
    }
    let report = execute(&forgejo, &registry, &plan, pause).await?;
    let rows = [("owner", plan.owner.clone()), ("deleted", report.deleted.join(", "))];
    let notice = format!("deleted {} version(s) of {}'s packages", report.deleted.len(), plan.owner);
    offinfra::ci::report_change("forgejo-cleanup", &notice, &rows)?;
    match json {
        true => println!("{}", serde_json::json!({"plan": plan, "report": report})),
        false => {
            eprintln!("deleted {} version(s)", report.deleted.len());
            if !report.moved.is_empty() {
                eprintln!("not deleted, re-pushed since the plan: {}", report.moved.join(", "));
            }
            if !report.not_found.is_empty() {
                eprintln!(
                    "warning: {} version(s) answered 404: {}",
                    report.not_found.len(),
                    report.not_found.join(", ")
                );
            }
        }
    }
    Ok(())
}
