//! `copy-image`: copy an image between registries (the break-glass copy from ghcr.io to the LAN registry),
//! an index with every platform; digests preserved byte for byte, blobs streamed without touching disk,
//! a blob the destination has is not sent again. Prints the digest alone on stdout.
//!
//! ```text
//! copy-image ghcr.io/viktorbarzin/infra-ci:latest registry.lan:5000/infra-ci:latest \
//!   --src-creds "bot:$GHCR_TOKEN" --dest-creds "admin:$REGISTRY_PASSWORD"
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use offinfra::{
    ghcr_client::registry::{BlobOutcome, CopyReport, Credentials, Registry, RegistryOptions},
    types::ImageRef,
    Error,
};

#[derive(Parser, Debug)]
#[command(name = "copy-image", version, about = "Copy an image (or a multi-arch index) between registries")]
struct Args {
    /// The image to copy: registry/repository:tag or registry/repository@sha256:…
    source: String,
    /// Where to: registry/repository[:tag] (default tag: the source's), or an OCI layout directory
    /// oci:DIR[:NAME] (readable by skopeo and by push-image)
    destination: String,
    /// Source credentials USER:PASSWORD (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "SRC_CREDS", hide_env_values = true, value_name = "USER:PASSWORD")]
    src_creds: Option<String>,
    /// Destination credentials USER:PASSWORD (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "DEST_CREDS", hide_env_values = true, value_name = "USER:PASSWORD")]
    dest_creds: Option<String>,
    /// Docker config directory for stored credentials of either side (default ~/.docker)
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    docker_config: Option<PathBuf>,
    /// Speak plain HTTP to the source even off loopback
    #[arg(long)]
    src_plain_http: bool,
    /// Speak plain HTTP to the destination even off loopback
    #[arg(long)]
    dest_plain_http: bool,
    /// Copy only this platform of an index (its image manifest becomes the copied root)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<offinfra::ghcr_client::layout::PlatformSpec>,
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

fn registry(
    host: &str,
    creds: &Option<String>,
    config: &Option<PathBuf>,
    plain: bool,
    n: usize,
) -> Result<Registry, Error> {
    let credentials = match creds.as_deref().filter(|c| !c.is_empty()) {
        Some(pair) => {
            let (user, password) =
                pair.split_once(':').ok_or_else(|| Error::invalid("credentials: expected USER:PASSWORD"))?;
            Credentials::Basic { username: user.to_owned(), password: password.to_owned().into() }
        }
        None => {
            let dir = config.clone().or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
            Credentials::resolve(None, None, dir.as_deref(), host)?
        }
    };
    let options =
        RegistryOptions { plain_http: plain.then_some(true), concurrency: n.max(1), ..RegistryOptions::default() };
    Ok(Registry::builder(host).credentials(credentials).options(options).build()?)
}

async fn run(args: Args) -> Result<(), Error> {
    let source = ImageRef::parse(&args.source)?;
    if let Some(layout) = args.destination.strip_prefix("oci:") {
        // `oci:DIR:NAME` as skopeo writes it; a last part with a `/` is still the directory.
        let (dir, name) = match layout.rsplit_once(':') {
            Some((dir, name)) if !name.contains('/') && !dir.is_empty() => (dir, Some(name.to_owned())),
            _ => (layout, source.tag().map(|t| t.to_string())),
        };
        let from =
            registry(source.api_host(), &args.src_creds, &args.docker_config, args.src_plain_http, args.concurrency)?;
        let report = from
            .save_to_layout(
                source.name().repository(),
                source.reference(),
                args.platform.as_ref(),
                dir.as_ref(),
                name.as_deref(),
            )
            .await?;
        return render(&args, &report, &source.to_string(), layout);
    }
    let destination = ImageRef::parse(&args.destination)?;
    if destination.digest().is_some() {
        return Err(Error::invalid("the destination names a repository and a tag, not a digest"));
    }
    let from =
        registry(source.api_host(), &args.src_creds, &args.docker_config, args.src_plain_http, args.concurrency)?;
    let to = registry(
        destination.api_host(),
        &args.dest_creds,
        &args.docker_config,
        args.dest_plain_http,
        args.concurrency,
    )?;
    // A destination written without a tag takes the source's (docker reads it as `latest`).
    let written_tag = args.destination.rsplit('/').next().is_some_and(|last| last.contains(':'));
    let tag = if written_tag { destination.tag() } else { source.tag() }.map(|t| t.to_string());
    let (from_repo, to_repo) = (source.name().repository(), destination.name().repository());
    let report = to
        .copy_platform_from(&from, from_repo, source.reference(), to_repo, tag.as_deref(), args.platform.as_ref())
        .await?;
    render(&args, &report, &source.to_string(), &destination.name().to_string())
}

/// The report as JSON, or a line on stderr and the digest alone on stdout.
fn render(args: &Args, report: &CopyReport, source: &str, destination: &str) -> Result<(), Error> {
    if args.format == cli::Format::Json {
        return cli::print_json(report);
    }
    let copied = report.blobs.iter().filter(|(_, o)| *o == BlobOutcome::Uploaded).count();
    let (manifests, blobs, bytes) = (report.manifests.len(), report.blobs.len(), report.bytes_copied);
    eprintln!(
        "copied {source} to {destination} ({manifests} manifests, {copied} of {blobs} blobs sent, {bytes} bytes)"
    );
    println!("{}", report.digest);
    Ok(())
}
