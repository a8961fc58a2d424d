//! `registry-check`: find tags whose index lost child manifests (orphans), and check that a
//! pull-through cache answers. Exit 1 when a problem is found.
//!
//! ```text
//! registry-check --registry registry.example --repository team/app --cache cache.example --format json
//! ```

use std::process::ExitCode;

use clap::Parser;
use offinfra::cli::{self, Format};
use offinfra::ghcr_client::registry::{Registry, RegistryOptions, Tag};

#[derive(Parser, Debug)]
#[command(
    name = "registry-check",
    version = offinfra::VERSION,
    about = "Orphaned index children and pull-through cache health",
    after_help = "Examples:\n  registry-check --registry registry.example --repository team/app --cache cache.example --format json"
)]
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
    tags: Vec<Tag>,
    /// A pull-through cache to check (`/v2/` and `/v2/_catalog`)
    #[arg(long, value_name = "HOST")]
    cache: Option<String>,
    #[command(flatten)]
    login: cli::RegistryLogin,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

fn main() -> ExitCode {
    cli::run_main(run)
}

fn connect(host: &str, args: &Args) -> Result<Registry, offinfra::Error> {
    let options = RegistryOptions { plain_http: args.login.plain_http(), ..RegistryOptions::default() };
    Ok(Registry::builder(host).credentials(args.login.credentials(host)?).options(options).build()?)
}

/// `Ok(true)` when everything is healthy.
async fn run(args: Args) -> Result<bool, offinfra::Error> {
    let human = args.format == Format::Human;
    let mut healthy = true;
    let mut report = serde_json::Map::new();
    if let Some(host) = &args.registry {
        let tags = (!args.tags.is_empty()).then_some(args.tags.as_slice());
        let registry = connect(host, &args)?;
        let images = args.repositories.iter().map(|r| registry.image(r)).collect::<Result<Vec<_>, _>>()?;
        let found = registry.orphan_report(&images, tags).await?;
        healthy &= found.orphans.is_empty();
        if human {
            print!("{}", found.describe());
        }
        report.insert("registry".into(), serde_json::to_value(&found).unwrap_or_default());
    }
    if let Some(host) = &args.cache {
        let value = match connect(host, &args)?.check_cache().await {
            Ok(health) => {
                if human {
                    let (ping, catalog, n) = (health.ping_ms, health.catalog_ms, health.repositories.len());
                    println!("{host}: /v2/ answered in {ping} ms, catalog ({n} repositories) in {catalog} ms");
                }
                serde_json::json!({"host": host, "ok": true, "ping_ms": health.ping_ms, "catalog_ms": health.catalog_ms, "repositories": health.repositories})
            }
            Err(e) => {
                healthy = false;
                if human {
                    println!("{host}: not healthy: {e}");
                }
                serde_json::json!({"host": host, "ok": false, "error": e.to_string()})
            }
        };
        report.insert("cache".into(), value);
    }
    if !human {
        report.insert("healthy".into(), healthy.into());
        println!("{}", serde_json::Value::Object(report));
    }
    Ok(healthy)
}
