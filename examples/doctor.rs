//! `doctor`: checks of the pipeline's moving parts, each pass/warn/fail with its evidence, as a table or
//! JSON; exit 1 on any fail. Each check runs when its inputs are given; `--fix` repairs what is safe to.
//!
//! ```text
//! doctor --owner viktor --forgejo-url https://git.example.com --woodpecker-url https://ci.example.com   # the fleet
//! doctor --repo acme/app --forgejo-url https://git.example.com --woodpecker-internal-url http://woodpecker-server.woodpecker.svc:8000 \
//!   --woodpecker-url https://ci.example.com --repo-ids 42,57 --registry registry.example --cache cache.example \
//!   --namespace prod --deployment app --lint .woodpecker --fix
//! ```

use std::process::ExitCode;

use clap::Parser;
use offinfra::{
    cli::{self, doctor::DoctorArgs},
    doctor::{self, Status},
    Error,
};

#[derive(Parser, Debug)]
#[command(
    name = "doctor",
    version = offinfra::VERSION,
    about = "Check the pipeline's webhooks, secrets, registries, deployment and pipelines",
    after_help = "Examples:\n  doctor --owner viktor --forgejo-url https://git.example.com --woodpecker-url https://ci.example.com\n  doctor --repo acme/app --forgejo-url https://git.example.com --woodpecker-internal-url http://woodpecker-server.woodpecker.svc:8000 --woodpecker-url https://ci.example.com --repo-ids 42,57 --registry registry.example --cache cache.example --namespace prod --deployment app --lint .woodpecker --fix"
)]
struct Args {
    #[command(flatten)]
    doctor: DoctorArgs,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: cli::Format,
}

fn main() -> ExitCode {
    cli::run_main(run)
}

async fn run(args: Args) -> Result<bool, Error> {
    if let (Some(fleet), true) = (args.doctor.fleet()?, args.doctor.status) {
        let statuses = fleet.status(cli::doctor::kube().await.as_ref(), &args.doctor.registry_client()).await?;
        match args.format {
            cli::Format::Json => println!("{}", serde_json::json!({"repositories": statuses})),
            cli::Format::Human => print!("{}", doctor::status::table(&statuses)),
        }
        return Ok(statuses.iter().all(|s| !s.behind));
    }
    if let Some(fleet) = args.doctor.fleet()? {
        let repos = fleet.run().await?;
        let findings: Vec<doctor::Finding> = repos.iter().flat_map(|r| r.findings.clone()).collect();
        match args.format {
            cli::Format::Json => {
                println!("{}", serde_json::json!({"repositories": repos, "counts": doctor::counts(&findings)}))
            }
            cli::Format::Human => print!("{}", doctor::fleet::table(&repos)),
        }
        return Ok(findings.iter().all(|f| f.status != Status::Fail));
    }
    let findings = args.doctor.checks()?.run().await?;
    doctor::annotate(&findings, &offinfra::ci::Actions::from_env());
    let fixed: Vec<(&str, String)> =
        findings.iter().filter_map(|f| Some((f.check.as_str(), f.fixed.clone()?))).collect();
    if !fixed.is_empty() {
        offinfra::ci::summary_table("doctor --fix", &fixed)?;
    }
    match args.format {
        cli::Format::Json => {
            println!("{}", serde_json::json!({"findings": findings, "counts": doctor::counts(&findings)}))
        }
        cli::Format::Human => print!("{}", doctor::table(&findings)),
    }
    Ok(findings.iter().all(|f| f.status != Status::Fail))
}
