//! `sync-secrets`: the 6-hourly CronJob that copies a Vault KV v2 secret into Woodpecker global (or
//! organisation) secrets, one Woodpecker secret per key. Unchanged secrets are not written; `--prune`
//! removes secrets this sync made that left the source. Values are never printed.
//!
//! ```text
//! VAULT_TOKEN=… WOODPECKER_TOKEN=… sync-secrets --vault-url https://vault.example.com --path ci/global \
//!   --woodpecker-url https://ci.example.com --prune --dry-run
//! ```

use std::process::ExitCode;

use clap::Parser;
use offinfra::{
    cli::{self, secrets::SyncSecretsArgs, Format},
    secrets::{apply, plan_sync, read_vault},
    woodpecker_client::SecretScope,
    ResultExt,
};

#[derive(Parser, Debug)]
#[command(
    name = "sync-secrets",
    version = offinfra::VERSION,
    about = "Sync a Vault KV v2 secret into Woodpecker secrets",
    after_help = "Examples:\n  VAULT_TOKEN=… WOODPECKER_TOKEN=… sync-secrets --vault-url https://vault.example.com --path ci/global --woodpecker-url https://ci.example.com --prune --dry-run"
)]
struct Args {
    #[command(flatten)]
    sync: SyncSecretsArgs,
    #[command(flatten)]
    output: cli::Output,
}

fn main() -> ExitCode {
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let source = read_vault(&args.sync.vault()?).await?;
    let ci = args.sync.woodpecker()?;
    let (scope, target) = match &args.sync.org {
        Some(org) => {
            let found = ci.lookup_org(org).await.with_context(|| format!("looking up org {org}"))?;
            (SecretScope::Org(found.id), format!("org {org}"))
        }
        // clap made sure `--global` was chosen when `--org` was not.
        None => (SecretScope::Global, "global".to_owned()),
    };
    let secrets = ci.secrets(scope);
    let existing = secrets.list().await.with_context(|| format!("listing {target} secrets"))?;
    let plan = plan_sync(&source, &existing, &args.sync.events, args.sync.prune(), args.sync.adopt)?;
    if args.output.format == Format::Human {
        let line = |verb: &str, names: &[String]| {
            if !names.is_empty() {
                eprintln!("{verb:<9} {}", names.join(", "));
            }
        };
        eprintln!("{} v{} -> {target} secrets", source.origin, source.version);
        line("create", &plan.create);
        line("update", &plan.update);
        line("unchanged", &plan.unchanged);
        line("delete", &plan.delete);
        line("unmanaged", &plan.unmanaged);
        line("conflict", &plan.conflicts);
    }
    if args.output.dry_run || plan.is_noop() {
        if args.output.format == Format::Json {
            println!("{}", serde_json::json!({"plan": plan, "dry_run": args.output.dry_run}));
        } else if plan.is_noop() {
            eprintln!("nothing to change");
        } else {
            eprintln!("dry run: nothing written");
        }
        return Ok(());
    }
    let report = apply(&secrets, &plan, &source, &args.sync.events).await?;
    let counts =
        format!("created {}, updated {}, deleted {}", report.created.len(), report.updated.len(), report.deleted.len());
    let rows = [("source", source.origin.to_string()), ("target", target.clone()), ("secrets", counts.clone())];
    offinfra::ci::report_change("sync-secrets", &format!("{target} secrets: {counts}"), &rows)?;
    match args.output.format {
        Format::Json => println!("{}", serde_json::json!({"plan": plan, "report": report})),
        Format::Human => eprintln!(
            "created {}, updated {}, deleted {}",
            report.created.len(),
            report.updated.len(),
            report.deleted.len()
        ),
    }
    Ok(())
}
