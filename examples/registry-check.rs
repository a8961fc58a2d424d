//! `registry-check`: find tags whose index lost child manifests (orphans), and check that a
//! pull-through cache answers. Exit 1 when a problem is found.
//!
//! ```text
//! registry-check --registry registry.example --repository team/app --cache cache.example --format json
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use cli::Format;
use offinfra::ghcr_client::registry::{Credentials, Registry, RegistryOptions};

#[derive(Parser, Debug)]
#[command(name = "registry-check", version, about = "Orphaned index children and pull-through cache health")]
#[command(group(clap::ArgGroup::new("what").args(["registry", "cache"]).required(true).multiple(true)))]
struct Args {
    /// The registry whose repositories to check for orphaned index children
    #[arg(long, value_name = "HOST")]
    registry: Option<String>,
    /// A repository to check (repeat; default: every repository in the catalog)
    #[arg(long = "repository", value_name = "REPOSITORY")]
    repositories: Vec<String>,
    /// Only these tags (repeat; default: every tag)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// A pull-through cache to check (`/v2/` and `/v2/_catalog`)
    #[arg(long, value_name = "HOST")]
    cache: Option<String>,
    /// Speak plain HTTP to non-loopback hosts
    #[arg(long)]
    plain_http: bool,
    /// Registry user name
    #[arg(long, env = "REGISTRY_USERNAME")]
    username: Option<String>,
    /// Registry password or token
    #[arg(long, env = "REGISTRY_PASSWORD", hide_env_values = true, hide = true)]
    password: Option<String>,
    /// Docker configuration directory for credentials (default: $DOCKER_CONFIG or ~/.docker)
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    docker_config: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

fn main() -> ExitCode {
    cli::run_main(run)
}

fn connect(host: &str, args: &Args) -> Result<Registry, String> {
    let docker_config =
        args.docker_config.clone().or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    let credentials = Credentials::resolve(
        args.username.as_deref(),
        args.password.clone().map(Into::into),
        docker_config.as_deref(),
        host,
    )
    .map_err(|e| e.to_string())?;
    Registry::new(
        host,
        credentials,
        RegistryOptions { plain_http: args.plain_http.then_some(true), ..RegistryOptions::default() },
    )
    .map_err(|e| e.to_string())
}

/// `Ok(true)` when everything is healthy.
async fn run(args: Args) -> Result<bool, String> {
    let mut healthy = true;
    let mut report = serde_json::Map::new();
    if let Some(host) = &args.registry {
        let registry = connect(host, &args)?;
        let repositories = if args.repositories.is_empty() {
            registry.catalog().await.map_err(|e| e.to_string())?
        } else {
            args.repositories.clone()
        };
        let tags = (!args.tags.is_empty()).then_some(args.tags.as_slice());
        let mut orphans = Vec::new();
        for repository in &repositories {
            for orphan in
                registry.find_orphans(repository, tags).await.map_err(|e| format!("{host}/{repository}: {e}"))?
            {
                orphans.push(serde_json::json!({"repository": repository, "tag": orphan.tag, "index": orphan.index, "missing_child": orphan.missing_child}));
            }
        }
        healthy &= orphans.is_empty();
        if args.format == Format::Human {
            println!(
                "{host}: {} repositories checked, {} orphaned child manifest(s)",
                repositories.len(),
                orphans.len()
            );
            for o in &orphans {
                println!(
                    "  {}:{} -> index {} is missing {}",
                    o["repository"].as_str().unwrap_or_default(),
                    o["tag"].as_str().unwrap_or_default(),
                    o["index"].as_str().unwrap_or_default(),
                    o["missing_child"].as_str().unwrap_or_default()
                );
            }
        }
        report.insert(
            "registry".into(),
            serde_json::json!({"host": host, "repositories": repositories.len(), "orphans": orphans}),
        );
    }
    if let Some(host) = &args.cache {
        let cache = connect(host, &args)?;
        match cache.check_cache().await {
            Ok(health) => {
                if args.format == Format::Human {
                    println!(
                        "{host}: /v2/ answered in {} ms, catalog ({} repositories) in {} ms",
                        health.ping_ms,
                        health.repositories.len(),
                        health.catalog_ms
                    );
                }
                report.insert("cache".into(), serde_json::json!({"host": host, "ok": true, "ping_ms": health.ping_ms, "catalog_ms": health.catalog_ms, "repositories": health.repositories}));
            }
            Err(e) => {
                healthy = false;
                if args.format == Format::Human {
                    println!("{host}: not healthy: {e}");
                }
                report.insert("cache".into(), serde_json::json!({"host": host, "ok": false, "error": e.to_string()}));
            }
        }
    }
    if args.format == Format::Json {
        report.insert("healthy".into(), healthy.into());
        println!("{}", serde_json::Value::Object(report));
    }
    Ok(healthy)
}
