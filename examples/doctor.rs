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
use cli::Format;
use offinfra::{
    ci::repo_arg,
    deployer::Deployer,
    doctor::{self, Finding, Status},
    forgejo_client::Forgejo,
    ghcr_client::registry::{Credentials, Registry, RegistryOptions},
    secrets::read_vault,
    woodpecker_client::{SecretScope, Woodpecker},
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
    /// Forgejo web address
    #[arg(long, env = "FORGEJO_URL", value_name = "URL")]
    forgejo_url: Option<String>,
    /// Forgejo token (repository admin, to read and fix hooks)
    #[arg(long, env = "FORGEJO_TOKEN", hide_env_values = true)]
    forgejo_token: Option<String>,
    /// The in-cluster Woodpecker URL the webhook must point at
    #[arg(long, env = "WOODPECKER_INTERNAL_URL", value_name = "URL")]
    woodpecker_internal_url: Option<String>,

    /// Woodpecker web address (secret parity; global secrets for the lint)
    #[arg(long, env = "WOODPECKER_URL", value_name = "URL")]
    woodpecker_url: Option<String>,
    /// Woodpecker token
    #[arg(long, env = "WOODPECKER_TOKEN", hide_env_values = true)]
    woodpecker_token: Option<String>,
    /// Two Woodpecker repo ids registering the same repository: their secrets must match
    #[arg(long, value_delimiter = ',', value_name = "ID,ID")]
    repo_ids: Vec<i64>,
    /// Vault address: where --fix takes secret values from
    #[arg(long, env = "VAULT_ADDR", value_name = "URL")]
    vault_url: Option<String>,
    /// Vault token
    #[arg(long, env = "VAULT_TOKEN", hide_env_values = true)]
    vault_token: Option<String>,
    /// The KV v2 mount
    #[arg(long, default_value = "secret")]
    vault_mount: String,
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

    /// Woodpecker pipeline files or directories to lint
    #[arg(long, value_name = "PATH")]
    lint: Vec<PathBuf>,

    /// Repair what is safe to: re-point webhooks, write missing secrets from Vault
    #[arg(long)]
    fix: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

fn main() -> ExitCode {
    cli::run_main(run)
}

fn registry(host: &str, plain_http: bool) -> Result<Registry, String> {
    let options = RegistryOptions { plain_http: plain_http.then_some(true), ..RegistryOptions::default() };
    Registry::new(host, Credentials::Anonymous, options).map_err(|e| e.to_string())
}

fn pipeline_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| format!("--lint {}: {e}", path.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

async fn run(args: Args) -> Result<bool, String> {
    let mut findings: Vec<Finding> = Vec::new();
    let woodpecker = match (&args.woodpecker_url, &args.woodpecker_token) {
        (Some(url), Some(token)) => Some(Woodpecker::new(url, token.clone().into()).map_err(|e| e.to_string())?),
        _ => None,
    };

    if let Some(internal) = &args.woodpecker_internal_url {
        let repo = args.repo.as_deref().ok_or("the webhook check needs --repo owner/name")?;
        let (owner, name) = repo_arg("--repo", repo)?;
        let (Some(url), Some(token)) = (&args.forgejo_url, &args.forgejo_token) else {
            return Err("the webhook check needs --forgejo-url and FORGEJO_TOKEN".into());
        };
        let forgejo = Forgejo::new(url, token.clone().into()).map_err(|e| e.to_string())?;
        findings.extend(doctor::webhook(&forgejo, owner, name, internal, args.fix).await?);
    }

    if !args.repo_ids.is_empty() && args.repo_ids.len() != 2 {
        return Err(format!("--repo-ids {:?}: expected exactly two Woodpecker repo ids", args.repo_ids));
    }
    if let [a, b] = args.repo_ids[..] {
        let woodpecker = woodpecker.as_ref().ok_or("the secret check needs --woodpecker-url and WOODPECKER_TOKEN")?;
        let source = match (&args.vault_url, &args.vault_token, &args.vault_path) {
            (Some(url), Some(token), Some(path)) if args.fix => {
                Some(read_vault(url, &token.clone().into(), &args.vault_mount, path).await.map_err(|e| e.to_string())?)
            }
            _ if args.fix => return Err("--fix of secrets needs --vault-url, VAULT_TOKEN and --vault-path".into()),
            _ => None,
        };
        findings.extend(doctor::secret_parity(woodpecker, a, b, source.as_ref()).await?);
    }

    if let Some(host) = &args.registry {
        findings.extend(doctor::orphans(&registry(host, args.plain_http)?, &args.repositories).await?);
    }
    if let Some(host) = &args.cache {
        findings.push(doctor::cache(&registry(host, args.plain_http)?).await);
    }

    if let Some(deployment) = &args.deployment {
        let deployer = Deployer::infer(args.namespace.as_deref()).await.map_err(|e| e.to_string())?;
        let plain_http = args.plain_http;
        findings.extend(doctor::deployment_images(&deployer, deployment, &|host| registry(host, plain_http)).await?);
    }

    if !args.lint.is_empty() {
        let globals = match &woodpecker {
            Some(ci) => {
                Some(ci.secrets(SecretScope::Global).list().await.map_err(|e| format!("listing global secrets: {e}"))?)
            }
            None => None,
        };
        for file in pipeline_files(&args.lint)? {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("--lint {}: {e}", file.display()))?;
            findings.extend(doctor::lint_pipeline(&file.display().to_string(), &text, globals.as_deref()));
        }
    }

    if findings.is_empty() {
        return Err("nothing to check: give the inputs of at least one check (see --help)".into());
    }
    match args.format {
        Format::Json => println!("{}", serde_json::json!({"findings": findings, "counts": doctor::counts(&findings)})),
        Format::Human => print!("{}", doctor::table(&findings)),
    }
    Ok(findings.iter().all(|f| f.status != Status::Fail))
}
