//! `copy-image`: copy an image between registries and OCI layouts, named as skopeo names them
//! (`docker://REF` or `REF`, `oci:DIR[:NAME]`, `oci-archive:TAR[:NAME]`): the break-glass copy from ghcr.io to
//! the LAN registry, or a save to carry over. An index is copied with every platform (`--platform` for one);
//! digests are kept byte for byte, blobs stream without touching disk, what the destination has is not sent
//! again, a blob whose transfer breaks is started again; `--referrers` brings signatures and SBOMs along.
//! Progress bars on a TTY. Prints the digest alone on stdout.
//!
//! ```text
//! SRC_CREDS=bot:$GHCR_TOKEN DEST_CREDS=admin:$LAN_PW copy-image ghcr.io/viktorbarzin/infra-ci:latest registry.lan:5000/infra-ci:latest
//! copy-image ghcr.io/viktorbarzin/infra-ci:latest oci-archive:infra-ci.tar
//! ```

#[path = "common/progress.rs"]
mod progress;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use offinfra::{
    cli,
    copy::{counts, Access, Copy, Endpoint},
    ghcr_client::layout::PlatformSpec,
    Error,
};

#[derive(Parser, Debug)]
#[command(
    name = "copy-image",
    version = offinfra::VERSION,
    about = "Copy an image (or a multi-arch index) between registries and OCI layouts",
    after_help = "Examples:\n  SRC_CREDS=bot:$GHCR_TOKEN DEST_CREDS=admin:$LAN_PW copy-image ghcr.io/viktorbarzin/infra-ci:latest registry.lan:5000/infra-ci:latest\n  copy-image ghcr.io/viktorbarzin/infra-ci:latest oci-archive:infra-ci.tar"
)]
struct Args {
    /// From: REGISTRY/REPO:TAG, REGISTRY/REPO@sha256:…, oci:DIR[:NAME] or oci-archive:TAR[:NAME]
    source: String,
    /// To: REGISTRY/REPO[:TAG] (default tag: the source's), oci:DIR[:NAME] or oci-archive:TAR[:NAME]
    destination: String,
    /// Source registry credentials USER:PASSWORD (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "SRC_CREDS", hide_env_values = true, value_name = "USER:PASSWORD")]
    src_creds: Option<String>,
    /// Destination registry credentials USER:PASSWORD (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "DEST_CREDS", hide_env_values = true, value_name = "USER:PASSWORD")]
    dest_creds: Option<String>,
    /// Docker config directory for either side's stored credentials (default ~/.docker)
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    docker_config: Option<PathBuf>,
    /// Speak plain HTTP to the source registry even off loopback
    #[arg(long)]
    src_plain_http: bool,
    /// Speak plain HTTP to the destination registry even off loopback
    #[arg(long)]
    dest_plain_http: bool,
    /// Copy only this platform of an index (its image manifest becomes the copied root)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<PlatformSpec>,
    /// Copy every tag of the source repository (registry to registry)
    #[arg(long)]
    all_tags: bool,
    /// Also copy the referrers of every copied manifest: signatures, SBOMs, attestations (those the
    /// referrers API lists, and cosign's and OCI's `sha256-<hex>` tags)
    #[arg(long)]
    referrers: bool,
    /// Blobs copied at once
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: cli::Format,
}

fn main() -> ExitCode {
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), Error> {
    let copy = Copy {
        source: Endpoint::parse(&args.source)?,
        destination: Endpoint::parse(&args.destination)?,
        platform: args.platform.clone(),
        all_tags: args.all_tags,
        referrers: args.referrers,
    };
    let config = args.docker_config.as_deref();
    let access = Access {
        source: cli::endpoint_credentials(&copy.source, "--src-creds", args.src_creds.as_deref(), config)?,
        destination: cli::endpoint_credentials(&copy.destination, "--dest-creds", args.dest_creds.as_deref(), config)?,
        source_plain_http: args.src_plain_http,
        destination_plain_http: args.dest_plain_http,
        concurrency: args.concurrency,
    };
    let reports = copy.run(&access, Some(progress::blobs())).await?;
    for report in &reports {
        let rows = [("from", args.source.clone()), ("to", args.destination.clone()), ("digest", report.digest.clone())];
        offinfra::ci::report_change("copy-image", &format!("copied {} to {}", report.digest, args.destination), &rows)?;
    }
    if args.format == cli::Format::Json {
        return match reports.as_slice() {
            [one] => cli::print_json(one),
            all => cli::print_json(&all),
        };
    }
    for report in &reports {
        let (sent, present, mounted) = counts(report);
        let manifests = report.manifests.len();
        eprintln!(
            "copied {} to {}: {manifests} manifests ({} referrers), {sent} blobs sent, {present} present, {mounted} mounted, {} bytes",
            args.source, args.destination, report.referrers.len(), report.bytes_copied
        );
        println!("{}", report.digest);
    }
    Ok(())
}
