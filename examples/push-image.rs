//! `push-image`: push the OCI layout `docker buildx --output type=oci` wrote to a registry, as one
//! manifest (the `provenance: false` shape), under its tags. Prints the manifest digest alone on stdout.
//!
//! ```text
//! push-image --layout image.tar --repository ghcr.io/owner/app --tag latest --sha "$GITHUB_SHA" \
//!   --username "$GITHUB_ACTOR" --password-stdin <<<"$GITHUB_TOKEN"
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::{collections::HashMap, io::IsTerminal, path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Parser, ValueEnum};
use cli::Format;
use offinfra::ghcr_client::{
    layout::{Layout, PlatformSpec, Selector},
    registry::{
        is_valid_tag, BlobOutcome, Credentials, Progress, Registry, RegistryOptions, RepositoryRef, UploadMode,
    },
};

#[derive(Parser, Debug)]
#[command(name = "push-image", version, about = "Push an OCI image layout (directory or tar) to a registry")]
struct Args {
    /// The OCI layout: a directory, or the tar `buildx --output type=oci,dest=image.tar` wrote
    #[arg(long, env = "PLUGIN_LAYOUT", value_name = "DIR|TAR")]
    layout: PathBuf,
    /// Where to push: <registry>/<namespace>/<name>, e.g. ghcr.io/owner/app
    #[arg(long, env = "PLUGIN_REPOSITORY", value_name = "REPOSITORY")]
    repository: RepositoryRef,
    /// A tag to push (repeat for more)
    #[arg(long = "tag", value_name = "TAG", env = "PLUGIN_TAGS", value_delimiter = ',')]
    tags: Vec<String>,
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
    /// Speak plain HTTP even to a non-loopback registry (loopback registries always get plain HTTP)
    #[arg(long)]
    plain_http: bool,
    /// Registry user name
    #[arg(long, env = "REGISTRY_USERNAME", value_name = "USER")]
    username: Option<String>,
    /// Read the password or token from standard input
    #[arg(long)]
    password_stdin: bool,
    /// Registry password or token (prefer --password-stdin)
    #[arg(long, env = "REGISTRY_PASSWORD", hide_env_values = true, hide = true)]
    password: Option<String>,
    /// Docker configuration directory for credentials (default: $DOCKER_CONFIG or ~/.docker)
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    docker_config: Option<PathBuf>,
    /// Try to mount blobs from this repository of the same registry before uploading them
    #[arg(long, value_name = "REPOSITORY")]
    mount_from: Option<String>,
    /// How blobs are sent: chunked (ghcr's 4 MiB cap), monolithic (one streamed request), or auto
    #[arg(long, value_enum, default_value = "auto")]
    upload: Upload,
    /// Blobs sent at once
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Check the layout and print what would be pushed, without contacting the registry
    #[arg(long)]
    dry_run: bool,
    /// Hash every blob before sending anything (by default blobs are hashed as they are sent, and a
    /// mismatch stops the push before any manifest or tag)
    #[arg(long)]
    verify_first: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Upload {
    Auto,
    Chunked,
    Monolithic,
}

fn main() -> ExitCode {
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), String> {
    let mut tags = args.tags.clone();
    if let Some(sha) = &args.sha {
        if sha.len() < 8 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("--sha {sha:?}: expected a git commit id (at least 8 hex digits)"));
        }
        tags.push(sha[..8].to_ascii_lowercase());
    }
    tags.dedup();
    if tags.is_empty() {
        return Err("nothing to tag: give --tag and/or --sha (GITHUB_SHA)".into());
    }
    for tag in &tags {
        if !is_valid_tag(tag) {
            return Err(format!("--tag {tag:?}: a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"));
        }
    }

    let layout = Layout::open(&args.layout).map_err(|e| e.to_string())?;
    let selector =
        Selector { reference: args.reference.clone(), platform: args.platform.clone(), keep_index: args.keep_index };
    let image = layout.select(&selector).map_err(|e| e.to_string())?;
    // Manifests were verified by `select`, blob sizes too; blob digests are checked as the blobs stream
    // out (no manifest or tag is pushed after a mismatch), or here first when asked to.
    if args.verify_first || args.dry_run {
        layout.verify(&image).map_err(|e| e.to_string())?;
    }
    let target = format!("{}/{}", args.repository.registry, args.repository.repository);

    if args.dry_run {
        let plan = serde_json::json!({
            "repository": target,
            "digest": image.digest(),
            "tags": tags,
            "manifests": image.manifests.iter().map(|m| m.descriptor.digest().to_string()).collect::<Vec<_>>(),
            "blobs": image.blobs.iter().map(|b| serde_json::json!({"digest": b.digest().to_string(), "size": b.size()})).collect::<Vec<_>>(),
        });
        match args.format {
            Format::Json => println!("{plan}"),
            Format::Human => {
                eprintln!(
                    "dry run: would push {} ({} blobs, {} bytes) to {target} as {}",
                    image.digest(),
                    image.blobs.len(),
                    image.blob_bytes(),
                    tags.join(", ")
                );
                println!("{}", image.digest());
            }
        }
        return Ok(());
    }

    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_line(&mut text).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        Some(text.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        args.password.clone()
    };
    let docker_config =
        args.docker_config.clone().or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    let credentials = Credentials::resolve(
        args.username.as_deref(),
        password.map(Into::into),
        docker_config.as_deref(),
        &args.repository.registry,
    )
    .map_err(|e| e.to_string())?;
    let options = RegistryOptions {
        plain_http: args.plain_http.then_some(true),
        upload: match args.upload {
            Upload::Auto => UploadMode::Auto,
            Upload::Chunked => UploadMode::Chunked,
            Upload::Monolithic => UploadMode::Monolithic,
        },
        concurrency: args.concurrency.max(1),
        ..RegistryOptions::default()
    };
    let registry = Registry::new(&args.repository.registry, credentials, options).map_err(|e| e.to_string())?;
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| progress_bars(image.blobs.iter().map(|b| (b.digest().to_string(), b.size())).collect()));
    let report = registry
        .push_from(&layout, &image, &args.repository.repository, &tags, args.mount_from.as_deref(), progress)
        .await
        .map_err(|e| e.to_string())?;

    let uploaded = report.blobs.iter().filter(|(_, o)| *o == BlobOutcome::Uploaded).count();
    let present = report.blobs.iter().filter(|(_, o)| *o == BlobOutcome::Present).count();
    let mounted = report.blobs.iter().filter(|(_, o)| *o == BlobOutcome::Mounted).count();
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"repository": target, "digest": report.digest, "tags": report.tags, "uploaded": uploaded, "present": present, "mounted": mounted, "bytes_uploaded": report.bytes_uploaded})
        ),
        Format::Human => {
            eprintln!(
                "pushed {target}@{} as {} ({uploaded} uploaded, {present} present, {mounted} mounted, {} bytes)",
                report.digest,
                report.tags.join(", "),
                report.bytes_uploaded
            );
            println!("{}", report.digest);
        }
    }
    offinfra::ci::Outputs::from_env().set("digest", &report.digest)?;
    Ok(())
}

/// One progress bar per blob, on stderr (only called on a TTY).
fn progress_bars(blobs: Vec<(String, u64)>) -> offinfra::ghcr_client::registry::ProgressFn {
    let multi = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template("{msg:20} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let bars: HashMap<String, indicatif::ProgressBar> = blobs
        .into_iter()
        .map(|(digest, size)| {
            let bar = multi.add(indicatif::ProgressBar::new(size));
            bar.set_style(style.clone());
            bar.set_message(digest.chars().take(19).collect::<String>());
            (digest, bar)
        })
        .collect();
    Arc::new(move |event| match event {
        Progress::BlobBytes { digest, bytes } => {
            if let Some(bar) = bars.get(&digest) {
                bar.inc(bytes);
            }
        }
        Progress::BlobDone { digest, outcome } => {
            if let Some(bar) = bars.get(&digest) {
                bar.finish_with_message(format!("{} {outcome:?}", digest.chars().take(12).collect::<String>()));
            }
        }
        _ => {}
    })
}
