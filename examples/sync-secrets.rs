//! `sync-secrets`: the 6-hourly CronJob that copies a Vault KV v2 secret into Woodpecker global (or
//! organisation) secrets, one Woodpecker secret per key. Unchanged secrets are not written; `--prune`
//! removes secrets this sync made that left the source. Values are never printed.
//!
//! ```text
//! VAULT_TOKEN=… WOODPECKER_TOKEN=… sync-secrets --vault-url https://vault.example.com --path ci/global \
//!   --woodpecker-url https://ci.example.com --prune --dry-run
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::Format;
use offinfra::{
    secrets::{apply, plan_sync, read_vault, Prune, VaultAuth, VaultSource, DEFAULT_EVENTS, SERVICE_ACCOUNT_TOKEN},
    woodpecker_client::{SecretScope, Woodpecker},
    ResultExt,
};

#[derive(Parser, Debug)]
#[command(name = "sync-secrets", version, about = "Sync a Vault KV v2 secret into Woodpecker secrets")]
struct Args {
    /// Vault address
    #[arg(long, env = "VAULT_ADDR", value_name = "URL")]
    vault_url: String,
    /// Vault token (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "VAULT_TOKEN", hide_env_values = true)]
    vault_token: Option<String>,
    /// Log in with Vault's Kubernetes auth as this role (in a pod: no long-lived token)
    #[arg(long, env = "VAULT_K8S_ROLE", value_name = "ROLE")]
    vault_k8s_role: Option<String>,
    /// Where Vault's Kubernetes auth method is mounted
    #[arg(long, env = "VAULT_K8S_MOUNT", default_value = "kubernetes", value_name = "PATH")]
    vault_k8s_mount: String,
    /// The service-account token file sent to Vault
    #[arg(long, env = "VAULT_K8S_TOKEN_FILE", default_value = SERVICE_ACCOUNT_TOKEN, value_name = "FILE")]
    vault_k8s_token_file: std::path::PathBuf,
    /// The KV v2 mount
    #[arg(long, env = "VAULT_MOUNT", default_value = "secret")]
    mount: String,
    /// The secret's path in the mount; each of its keys becomes a Woodpecker secret
    #[arg(long, env = "VAULT_PATH")]
    path: String,
    /// Woodpecker web address
    #[arg(long, env = "WOODPECKER_URL", value_name = "URL")]
    woodpecker_url: String,
    /// Woodpecker token (an admin's for global secrets) (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "WOODPECKER_TOKEN", hide_env_values = true)]
    woodpecker_token: String,
    /// Write organisation secrets of this org instead of global ones
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
    /// Events the secrets are available to
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_EVENTS.iter().map(|e| e.to_string()))]
    events: Vec<String>,
    /// Delete secrets this sync made (from this Vault and path) whose key left the Vault secret
    #[arg(long)]
    prune: bool,
    /// With --prune: delete even when the Vault secret is empty (a wrong path reads as empty too)
    #[arg(long, requires = "prune")]
    prune_from_empty: bool,
    /// Accept any TLS certificate from Vault (VAULT_SKIP_VERIFY is not read)
    #[arg(long)]
    vault_skip_verify: bool,
    /// Allow plain http to a Vault that is not on loopback (an in-cluster service address)
    #[arg(long, env = "VAULT_PLAIN_HTTP")]
    vault_plain_http: bool,
    #[command(flatten)]
    output: cli::Output,
}

fn main() -> ExitCode {
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let source = read_vault(&VaultSource {
        url: args.vault_url.clone(),
        auth: match &args.vault_k8s_role {
            Some(role) => VaultAuth::Kubernetes {
                role: role.clone(),
                mount: args.vault_k8s_mount.clone(),
                token_file: args.vault_k8s_token_file.clone(),
            },
            None => VaultAuth::Token(
                args.vault_token
                    .clone()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        offinfra::Error::invalid("Vault needs VAULT_TOKEN, or --vault-k8s-role in a cluster")
                    })?
                    .into(),
            ),
        },
        mount: args.mount.clone(),
        path: args.path.clone(),
        skip_tls_verify: args.vault_skip_verify,
        plain_http: args.vault_plain_http,
    })
    .await?;
    let ci = Woodpecker::new(&args.woodpecker_url, args.woodpecker_token.clone().into())?;
    let (scope, target) = match &args.org {
        Some(org) => {
            let found = ci.lookup_org(org).await.with_context(|| format!("looking up org {org}"))?;
            (SecretScope::Org(found.id), format!("org {org}"))
        }
        None => (SecretScope::Global, "global".to_owned()),
    };
    let secrets = ci.secrets(scope);
    let existing = secrets.list().await.with_context(|| format!("listing {target} secrets"))?;
    let prune = match (args.prune, args.prune_from_empty) {
        (false, _) => Prune::Off,
        (true, false) => Prune::On,
        (true, true) => Prune::EvenFromEmpty,
    };
    let plan = plan_sync(&source, &existing, &args.events, prune)?;
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
    let report = apply(&secrets, &plan, &source, &args.events).await?;
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
