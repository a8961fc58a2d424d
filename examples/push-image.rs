//! `push-image`: push the OCI layout `docker buildx --output type=oci` wrote to a registry, as one
//! manifest (the `provenance: false` shape), under its tags. Prints the manifest digest alone on stdout.
//!
//! ```text
//! push-image --layout image.tar --repository ghcr.io/owner/app --tag latest --sha "$GITHUB_SHA" \
//!   --username "$GITHUB_ACTOR" --password-stdin <<<"$GITHUB_TOKEN"
//! ```

#[path = "common/progress.rs"]
mod progress;

use std::process::ExitCode;

use clap::Parser;
use offinfra::{
    cli::{self, push::PushArgs},
    ghcr_client::{layout::Layout, registry::push::PushPlan},
};

#[derive(Parser, Debug)]
#[command(
    name = "push-image",
    version = offinfra::VERSION,
    about = "Push an OCI image layout (directory or tar) to a registry",
    after_help = "Examples:\n  push-image --layout image.tar --repository ghcr.io/owner/app --tag latest --sha \"$GITHUB_SHA\" --username \"$GITHUB_ACTOR\" --password-stdin <<<\"$GITHUB_TOKEN\""
)]
struct Args {
    #[command(flatten)]
    push: PushArgs,
    /// --dry-run checks the layout and prints what would be pushed, without contacting the registry
    #[command(flatten)]
    output: cli::Output,
}

fn main() -> ExitCode {
    cli::plugin_settings(&[("REGISTRY_USERNAME", "PLUGIN_USERNAME"), ("REGISTRY_PASSWORD", "PLUGIN_PASSWORD")]);
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let (push, tags) = (&args.push, args.push.tags()?);
    let layout = Layout::open(&push.layout)?;
    let image = layout.select(&push.selector())?;
    // Manifests were verified by `select`, blob sizes too; blob digests are checked as the blobs stream
    // out (no manifest or tag is pushed after a mismatch), or here first when asked to.
    if push.verify_first || args.output.dry_run {
        layout.verify(&image)?;
    }
    if args.output.dry_run {
        let plan = PushPlan::new(&push.repository, &image, &tags);
        if args.output.json() {
            println!("{}", serde_json::to_string(&plan).unwrap_or_default());
        } else {
            eprintln!("dry run: {}", plan.describe());
            println!("{}", plan.digest);
        }
        return Ok(());
    }

    let client = push.registry()?;
    let progress = Some(progress::blobs());
    let report = client
        .push(&layout, &image, &push.repository)
        .tags(&tags)
        .mount_from(push.mount_from.as_ref())
        .progress(progress)
        .send()
        .await?;
    let summary = report.summary(&push.repository);
    if args.output.json() {
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        eprintln!("{}", summary.describe());
        println!("{}", report.digest);
    }
    offinfra::ci::Outputs::from_env().set("digest", &report.digest)?;
    let rows =
        [("image", push.repository.to_string()), ("digest", report.digest.clone()), ("tags", report.tags.join(", "))];
    offinfra::ci::report_change("push-image", &format!("pushed {}@{}", push.repository, report.digest), &rows)
}
