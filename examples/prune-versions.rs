//! `prune-versions`: keep a ghcr.io package's newest N images and delete the rest, never breaking a
//! kept multi-arch image (its untagged platform and attestation manifests are kept with it).
//!
//! ```text
//! GITHUB_TOKEN=… prune-versions --owner acme --package app --keep 10 --protect-tags '^latest$|^v\d'         # the plan; --execute deletes it
//! ```

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use offinfra::cli::{self, prune::RetentionArgs, Format};
use offinfra::{
    ghcr_client::{
        packages::{Packages, DEFAULT_API_URL},
        registry::{Credentials, Registry, RegistryOptions},
    },
    prune::{plan_package, OwnerKind, PackageRef},
};

#[derive(Parser, Debug)]
#[command(
    name = "prune-versions",
    version = offinfra::VERSION,
    about = "Prune a ghcr.io container package to its newest images, safely",
    after_help = "Examples:\n  GITHUB_TOKEN=… prune-versions --owner acme --package app --keep 10 --protect-tags '^latest$|^v\\d' --execute"
)]
struct Args {
    /// The user or organisation owning the package
    #[arg(long, env = "PLUGIN_OWNER")]
    owner: String,
    /// Whether the owner is a user or an organisation (auto: try the organisation endpoints first)
    #[arg(long, value_enum, default_value = "auto")]
    owner_type: OwnerType,
    /// The package name
    #[arg(long, env = "PLUGIN_PACKAGE")]
    package: String,
    #[command(flatten)]
    retention: RetentionArgs,
    /// GitHub token with read:packages (and delete:packages to delete) (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    token: String,
    /// GitHub API base URL
    #[arg(long, env = "GITHUB_API_URL", default_value = DEFAULT_API_URL)]
    api_url: String,
    /// The registry holding the package's manifests (read to find what kept indexes reference)
    #[arg(long, default_value = "ghcr.io")]
    registry: String,
    /// Speak plain HTTP to the registry
    #[arg(long)]
    plain_http: bool,
    /// Delete what the plan lists (without it, a dry run: the plan only, as forgejo-cleanup)
    #[arg(long, env = "PLUGIN_EXECUTE")]
    execute: bool,
    #[command(flatten)]
    output: cli::Output,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OwnerType {
    Auto,
    User,
    Org,
}

fn main() -> ExitCode {
    cli::plugin_settings(&[("GITHUB_TOKEN", "PLUGIN_TOKEN")]);
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let options = args.retention.options()?;
    let packages =
        Packages::new(&args.api_url, args.token.clone().into())?.pause_between_deletes(args.retention.pause()?);
    let kind = match args.owner_type {
        OwnerType::Auto => OwnerKind::Auto,
        OwnerType::User => OwnerKind::User,
        OwnerType::Org => OwnerKind::Org,
    };
    let credentials = Credentials::Basic { username: args.owner.clone(), password: args.token.clone().into() };
    let options_http = RegistryOptions { plain_http: args.plain_http.then_some(true), ..RegistryOptions::default() };
    let registry = Registry::builder(&args.registry).credentials(credentials).options(options_http).build()?;
    let package = PackageRef { owner: &args.owner, kind, name: &args.package };
    let (owner, plan) = plan_package(&packages, &registry, package, &options).await?;

    match args.output.format {
        Format::Json => println!("{}", serde_json::to_string(&plan).unwrap_or_default()),
        Format::Human => println!("{plan}"),
    }
    if args.output.dry_run || !args.execute {
        eprintln!("dry run: nothing deleted (--execute deletes exactly this plan)");
        return Ok(());
    }
    let report = packages.execute(&owner, &args.package, &plan).await?;
    let rows = [("package", format!("{}/{}", args.owner, args.package)), ("deleted", report.deleted.len().to_string())];
    let notice = format!("pruned {} version(s) of {}/{}", report.deleted.len(), args.owner, args.package);
    offinfra::ci::report_change("prune-versions", &notice, &rows)?;
    eprintln!("deleted {} version(s) of {}", report.deleted.len(), args.package);
    if !report.not_found.is_empty() {
        eprintln!("warning: {} version(s) answered 404: {:?}", report.not_found.len(), report.not_found);
    }
    Ok(())
}
