//! `build-image`: assemble an image without a Docker daemon: files (a release binary, a CA bundle) as one
//! reproducible layer on a base image or on nothing (`scratch`), the config's entrypoint, env, user and
//! labels set; written as an OCI layout (for `push-image` or skopeo) or pushed straight to a registry,
//! the base's layers sent registry to registry (mounted where they already are, never downloaded to build).
//! Prints the digest alone on stdout; the same inputs give the same digest.
//!
//! ```text
//! build-image --from gcr.io/distroless/static-debian12:nonroot --add target/release/deploy:/usr/local/bin/deploy:0755 \
//!   --entrypoint /usr/local/bin/deploy --output oci-archive:deploy.tar
//! build-image --from scratch --add 'out/{arch}/deploy:/deploy:0755' --platform linux/amd64 --platform linux/arm64 \
//!   --entrypoint '["/deploy"]' --repository ghcr.io/acme/offinfra-deploy --tag 1.2.0 --password-stdin <<<"$TOKEN"
//! ```

#[path = "common/progress.rs"]
mod progress;

use std::process::ExitCode;

use clap::Parser;
use offinfra::cli::{self, build::BuildArgs, Format};

#[derive(Parser, Debug)]
#[command(
    name = "build-image",
    version = offinfra::VERSION,
    about = "Build an image from files on a base, without a Docker daemon",
    after_help = "Examples:\n  build-image --from gcr.io/distroless/static-debian12:nonroot --add target/release/deploy:/usr/local/bin/deploy:0755 --entrypoint /usr/local/bin/deploy --output oci-archive:deploy.tar\n  build-image --from scratch --add 'out/{arch}/deploy:/deploy:0755' --platform linux/amd64 --platform linux/arm64 --entrypoint '[\"/deploy\"]' --repository ghcr.io/acme/offinfra-deploy --tag 1.2.0 --password-stdin <<<\"$TOKEN\""
)]
struct Args {
    #[command(flatten)]
    build: BuildArgs,
    /// Output format of the report
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

fn main() -> ExitCode {
    cli::plugin_settings(&[("REGISTRY_USERNAME", "PLUGIN_USERNAME"), ("REGISTRY_PASSWORD", "PLUGIN_PASSWORD")]);
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let build = args.build.build()?;
    let access = args.build.access(&build)?;
    let report = build.run(&access, Some(progress::blobs())).await?;
    let base = report.base.as_deref().unwrap_or("scratch");
    let rows = [("image", report.output.clone()), ("digest", report.digest.clone()), ("base", base.to_owned())];
    offinfra::ci::report_change("build-image", &format!("built {}@{}", report.output, report.digest), &rows)?;
    if args.format == Format::Json {
        return cli::print_json(&report);
    }
    eprintln!("built {} on {base} for {} platform(s) -> {}", report.digest, report.platforms.len(), report.output);
    if let Some(pushed) = &report.pushed {
        let count = |o| pushed.blobs.iter().filter(|(_, outcome)| *outcome == o).count();
        use offinfra::ghcr_client::registry::BlobOutcome::{Mounted, Present, Uploaded};
        eprintln!(
            "pushed: {} blobs sent, {} present, {} mounted, {} bytes; tags {}",
            count(Uploaded),
            count(Present),
            count(Mounted),
            pushed.bytes_uploaded,
            pushed.tags.join(", ")
        );
        offinfra::ci::Outputs::from_env().set("digest", &report.digest)?;
    }
    println!("{}", report.digest);
    Ok(())
}
