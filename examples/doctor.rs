//! `doctor`: checks of the pipeline's moving parts, each pass/warn/fail with its evidence, as a table or
//! JSON; exit 1 on any fail. Each check runs when its inputs are given; `--fix` repairs what is safe to.
//!
//! ```text
//! doctor --repo acme/app --forgejo-url https://git.example.com --woodpecker-internal-url http://woodpecker-server.woodpecker.svc:8000 \
//!   --woodpecker-url https://ci.example.com --repo-ids 42,57 --registry registry.example --cache cache.example \
//!   --namespace prod --deployment app --lint .woodpecker --fix
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use offinfra::{
    doctor::{self, Checks, Status},
    secrets::{VaultAuth, VaultSource},
    types::RepoName,
    Error,
};

#[derive(Parser, Debug)]
#[command(
    name = "doctor",
    version,
    about = "Check the pipeline's webhooks, secrets, registries, deployment and pipelines"
)]
struct Args {
    /// The repository (webhook check), owner/name
    #[arg(long, value_name = "OWNER/NAME")]
    repo: Option<String>,
    #[command(flatten)]
    forgejo: cli::ForgejoFlags,
    /// The in-cluster Woodpecker URL the webhook must point at
    #[arg(long, env = "WOODPECKER_INTERNAL_URL", value_name = "URL")]
    woodpecker_internal_url: Option<String>,
    #[command(flatten)]
    woodpecker: cli::WoodpeckerFlags,
    /// Two Woodpecker repo ids registering the same repository: their secrets must match
    #[arg(long, value_delimiter = ',', value_name = "ID,ID")]
    repo_ids: Vec<i64>,
    /// Vault address: where --fix takes secret values from
    #[arg(long, env = "VAULT_ADDR", value_name = "URL")]
    vault_url: Option<String>,
    /// Vault token (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "VAULT_TOKEN", hide_env_values = true)]
    vault_token: Option<String>,
    /// The KV v2 mount
    #[arg(long, default_value = "secret")]
    vault_mount: String,
    /// Accept any TLS certificate from Vault (VAULT_SKIP_VERIFY is not read)
    #[arg(long)]
    vault_skip_verify: bool,
    /// Allow plain http to a Vault that is not on loopback
    #[arg(long)]
    vault_plain_http: bool,
    /// The KV v2 path holding the repository's secrets
    #[arg(long)]
    vault_path: Option<String>,
    /// A registry to check for orphaned index children
    #[arg(long, value_name = "HOST")]
    registry: Option<String>,
    /// Repositories to check there (default: the catalog)
    #[arg(long = "repository", value_name = "NAME")]
    repositories: Vec<String>,
    /// A pull-through cache that must answer /v2/_catalog
    #[arg(long, value_name = "HOST")]
    cache: Option<String>,
    /// Speak plain HTTP to non-loopback registries
    #[arg(long)]
    plain_http: bool,
    /// A Deployment whose images must exist in their registries
    #[arg(long)]
    deployment: Option<String>,
    /// Its namespace (default: the kubeconfig context's)
    #[arg(long, short = 'n')]
    namespace: Option<String>,
    /// A namespace whose workloads' images must be pullable as the kubelet would pull them (repeat)
    #[arg(long = "images-in", value_name = "NAMESPACE")]
    images_in: Vec<String>,
    /// Woodpecker pipeline files or directories to lint
    #[arg(long, value_name = "PATH")]
    lint: Vec<PathBuf>,
    /// Repair what is safe to: re-point webhooks, write missing secrets from Vault
    #[arg(long)]
    fix: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: cli::Format,
}

fn main() -> ExitCode {
    cli::run_main(run)
}

async fn run(args: Args) -> Result<bool, Error> {
    let webhook = match &args.woodpecker_internal_url {
        Some(internal) => {
            let repo =
                args.repo.as_deref().ok_or_else(|| Error::invalid("the webhook check needs --repo owner/name"))?;
            Some((RepoName::parse(repo)?, internal.clone()))
        }
        None => None,
    };
    let secret_parity = match args.repo_ids[..] {
        [] => None,
        [a, b] => Some((a, b)),
        _ => {
            return Err(Error::invalid(format!(
                "--repo-ids {:?}: expected exactly two Woodpecker repo ids",
                args.repo_ids
            )))
        }
    };
    let vault = match (&args.vault_url, &args.vault_token, &args.vault_path) {
        (Some(url), Some(token), Some(path)) => Some(VaultSource {
            url: url.clone(),
            auth: VaultAuth::Token(token.clone().into()),
            mount: args.vault_mount.clone(),
            path: path.clone(),
            skip_tls_verify: args.vault_skip_verify,
            plain_http: args.vault_plain_http,
        }),
        _ => None,
    };
    let checks = Checks {
        forgejo: args.forgejo.client_if_given()?,
        woodpecker: args.woodpecker.client_if_given()?,
        webhook,
        woodpecker_urls: args.woodpecker.woodpecker_url.iter().cloned().collect(),
        secret_parity,
        vault,
        registry: args.registry.clone(),
        repositories: args.repositories.clone(),
        cache: args.cache.clone(),
        plain_http: args.plain_http,
        deployment: args.deployment.clone().map(|name| (args.namespace.clone(), name)),
        images_in: args.images_in.clone(),
        lint: args.lint.clone(),
        fix: args.fix,
    };
    let findings = checks.run().await?;
    match args.format {
        cli::Format::Json => {
            println!("{}", serde_json::json!({"findings": findings, "counts": doctor::counts(&findings)}))
        }
        cli::Format::Human => print!("{}", doctor::table(&findings)),
    }
    Ok(findings.iter().all(|f| f.status != Status::Fail))
}
