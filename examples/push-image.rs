//! `push-image`: push the OCI layout `docker buildx --output type=oci` wrote to a registry, as one
//! manifest (the `provenance: false` shape), under its tags. Prints the manifest digest alone on stdout.
//!
//! ```text
//! push-image --layout image.tar --repository ghcr.io/owner/app --tag latest --sha "$GITHUB_SHA" \
//!   --username "$GITHUB_ACTOR" --password-stdin <<<"$GITHUB_TOKEN"
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/progress.rs"]
mod progress;

use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use clap::{Parser, ValueEnum};
use offinfra::{
    ghcr_client::{
        layout::{Layout, PlatformSpec, Selector},
        registry::{
            push::{image_tags, PushPlan},
            Registry, RegistryOptions, UploadMode,
        },
    },
    types::{CommitId, ImageName, Tag},
};

#[derive(Parser, Debug)]
#[command(name = "push-image", version, about = "Push an OCI image layout (directory or tar) to a registry")]
struct Args {
    /// The OCI layout: a directory, or the tar `buildx --output type=oci,dest=image.tar` wrote
    #[arg(long, env = "PLUGIN_LAYOUT", value_name = "DIR|TAR")]
    layout: PathBuf,
    /// Where to push: <registry>/<namespace>/<name>, e.g. ghcr.io/owner/app
    #[arg(long, env = "PLUGIN_REPOSITORY", value_name = "REPOSITORY")]
    repository: ImageName,
    /// A tag to push (repeat for more)
    #[arg(long = "tag", value_name = "TAG", env = "PLUGIN_TAGS", value_delimiter = ',')]
    tags: Vec<Tag>,
    /// Also tag the image with the first 8 characters of this git commit
    #[arg(long, env = "GITHUB_SHA", value_name = "SHA")]
    sha: Option<String>,
    /// The image's org.opencontainers.image.ref.name in the layout (default: the only image)
    #[arg(long = "ref", value_name = "NAME")]
    reference: Option<String>,
    /// The platform to push from a multi-platform index
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH[/VARIANT]")]
    platform: PlatformSpec,
    /// Push an index whole (all platforms and attestations) instead of the one platform manifest
    #[arg(long)]
    keep_index: bool,
    #[command(flatten)]
    login: cli::RegistryLogin,
    /// Try to mount blobs from this repository of the same registry before uploading them
    #[arg(long, value_name = "REPOSITORY")]
    mount_from: Option<String>,
    /// How blobs are sent: chunked (ghcr's 4 MiB cap), monolithic (one streamed request), or auto
    #[arg(long, value_enum, default_value = "auto")]
    upload: Upload,
    /// Blobs sent at once
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Hash every blob before sending anything (by default blobs are hashed as they are sent, and a
    /// mismatch stops the push before any manifest or tag)
    #[arg(long)]
    verify_first: bool,
    /// --dry-run checks the layout and prints what would be pushed, without contacting the registry
    #[command(flatten)]
    output: cli::Output,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Upload {
    Auto,
    Chunked,
    Monolithic,
}

fn main() -> ExitCode {
    cli::plugin_settings(&[("REGISTRY_USERNAME", "PLUGIN_USERNAME"), ("REGISTRY_PASSWORD", "PLUGIN_PASSWORD")]);
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let sha = args.sha.as_deref().map(CommitId::parse).transpose()?;
    let tags = image_tags(&args.tags, sha.as_ref());
    if tags.is_empty() {
        return Err(offinfra::Error::invalid("nothing to tag: give --tag and/or --sha (GITHUB_SHA)"));
    }
    let layout = Layout::open(&args.layout)?;
    let selector =
        Selector { reference: args.reference.clone(), platform: args.platform.clone(), keep_index: args.keep_index };
    let image = layout.select(&selector)?;
    // Manifests were verified by `select`, blob sizes too; blob digests are checked as the blobs stream
    // out (no manifest or tag is pushed after a mismatch), or here first when asked to.
    if args.verify_first || args.output.dry_run {
        layout.verify(&image)?;
    }
    if args.output.dry_run {
        let plan = PushPlan::new(&args.repository, &image, &tags);
        if args.output.json() {
            println!("{}", serde_json::to_string(&plan).unwrap_or_default());
        } else {
            eprintln!("dry run: {}", plan.describe());
            println!("{}", plan.digest);
        }
        return Ok(());
    }

    let registry = args.repository.registry();
    let options = RegistryOptions {
        plain_http: args.login.plain_http(),
        upload: match args.upload {
            Upload::Auto => UploadMode::Auto,
            Upload::Chunked => UploadMode::Chunked,
            Upload::Monolithic => UploadMode::Monolithic,
        },
        concurrency: args.concurrency.max(1),
        ..RegistryOptions::default()
    };
    let client = Registry::builder(registry).credentials(args.login.credentials(registry)?).options(options).build()?;
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| progress::blob_bars(image.blobs().iter().map(|b| (b.digest().to_string(), b.size())).collect()));
    let report =
        client.push_image(&layout, &image, &args.repository, &tags, args.mount_from.as_deref(), progress).await?;
    let summary = report.summary(&args.repository);
    if args.output.json() {
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        eprintln!("{}", summary.describe());
        println!("{}", report.digest);
    }
    offinfra::ci::Outputs::from_env().set("digest", &report.digest)?;
    Ok(())
}
