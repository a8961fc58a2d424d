//! `deploy`: `kubectl set image` then `kubectl rollout status --timeout`, printing kubectl's lines, with
//! an optional rollback (`kubectl rollout undo` for a Deployment) when the rollout fails. Exit 0 only when rolled out.
//!
//! ```text
//! deploy --namespace prod --name web --container app=ghcr.io/owner/app:0123abcd --timeout 300s
//! # as a Woodpecker step: PLUGIN_NAMESPACE, PLUGIN_NAME, PLUGIN_CONTAINER, PLUGIN_IMAGE (or IMAGE_NAME + IMAGE_TAG)
//! ```

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use offinfra::deployer::{
    roll_out::{Line, OnFailure, RollOut, RollOutcome},
    set_image::{parse_pairs, ImagePair},
    Deployer, Kind,
};
use offinfra::{
    cli,
    types::{ImageName, ImageRef, Tag},
    Error, ResultExt,
};

#[derive(Parser, Debug)]
#[command(name = "deploy", version, about = "Set the image of a workload and wait for its rollout")]
struct Args {
    /// The namespace (default: the kubeconfig context's, or the in-cluster one)
    #[arg(long, short = 'n', env = "PLUGIN_NAMESPACE")]
    namespace: Option<String>,
    /// deployment, statefulset, daemonset, replicaset, job, cronjob or pod
    #[arg(long, env = "PLUGIN_KIND", default_value = "deployment")]
    kind: Kind,
    /// The workload's name
    #[arg(long, env = "PLUGIN_NAME")]
    name: String,
    /// NAME=IMAGE (repeat), or *=IMAGE for every container
    #[arg(long = "container", value_name = "NAME=IMAGE")]
    containers: Vec<String>,
    /// Plugin style: the container to update (with --image, or IMAGE_NAME and IMAGE_TAG)
    #[arg(long, env = "PLUGIN_CONTAINER")]
    container_name: Option<String>,
    /// Plugin style: the new image
    #[arg(long, env = "PLUGIN_IMAGE")]
    image: Option<String>,
    /// How long to wait for the rollout (0 = forever, as kubectl)
    #[arg(long, env = "PLUGIN_TIMEOUT", default_value = "300s", value_parser = offinfra::ci::parse_duration)]
    timeout: Duration,
    /// When the rollout fails, roll back (a Deployment to its previous revision, other kinds to their
    /// previous images) and wait for that rollout
    #[arg(long, env = "PLUGIN_ROLLBACK_ON_FAILURE")]
    rollback_on_failure: bool,
    /// Print the patch and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Post the result to this Slack incoming webhook (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "SLACK_WEBHOOK", hide_env_values = true)]
    slack_webhook: Option<String>,
}

fn main() -> ExitCode {
    cli::plugin_settings(&[("SLACK_WEBHOOK", "PLUGIN_SLACK_WEBHOOK")]);
    cli::run_main(run)
}

fn pairs(args: &Args) -> Result<Vec<ImagePair>, Error> {
    let mut raw = args.containers.clone();
    if let Some(name) = &args.container_name {
        let image = match (&args.image, std::env::var("IMAGE_NAME"), std::env::var("IMAGE_TAG")) {
            (Some(image), _, _) => image.clone(),
            // Pipeline variables come from whoever triggered the pipeline: each is held to its rule.
            (None, Ok(name), Ok(tag)) if !name.is_empty() && !tag.is_empty() => {
                let name = ImageName::parse(&name).context("IMAGE_NAME")?;
                name.with_tag(&Tag::parse(&tag).context("IMAGE_TAG")?).to_string()
            }
            _ => {
                let message = format!("container {name}: give --image (PLUGIN_IMAGE), or IMAGE_NAME and IMAGE_TAG");
                return Err(Error::invalid(message));
            }
        };
        raw.push(format!("{name}={image}"));
    }
    let pairs = parse_pairs(&raw).map_err(|e| Error::invalid(e.to_string()))?;
    for pair in &pairs {
        ImageRef::parse(&pair.image).with_context(|| format!("container {}", pair.container))?;
    }
    Ok(pairs)
}

async fn run(args: Args) -> Result<bool, Error> {
    let pairs = pairs(&args)?;
    let deployer = Deployer::infer(args.namespace.as_deref()).await?;
    if args.dry_run {
        let target = format!("{}/{}", args.kind.resource(), args.name);
        let report = deployer.set_image(args.kind, &args.name, &pairs, true).await?;
        match &report.plan.patch {
            Some(patch) => println!("{patch}"),
            None => eprintln!("{target}: nothing to change"),
        }
        return Ok(true);
    }
    let spec = RollOut {
        kind: args.kind,
        name: &args.name,
        images: &pairs,
        timeout: (!args.timeout.is_zero()).then_some(args.timeout),
        on_failure: if args.rollback_on_failure { OnFailure::RollBack } else { OnFailure::Stop },
    };
    let result = deployer
        .roll_out(&spec, &mut |line| match line {
            Line::Out(text) => print!("{text}"),
            Line::Err(text) => eprint!("{text}"),
        })
        .await;
    let images = pairs.iter().map(|p| format!("{}={}", p.container, p.image)).collect::<Vec<_>>().join(", ");
    let target = format!("{}/{} in {}", args.kind.resource(), args.name, deployer.namespace());
    let text = match &result {
        Ok(RollOutcome { rolled_out: true, .. }) => format!(":white_check_mark: {target} rolled out {images}"),
        Ok(RollOutcome { reason, .. }) => format!(":x: {target} failed ({images}): {reason}"),
        Err(e) => format!(":x: {target} failed ({images}): {e}"),
    };
    cli::notify_slack(args.slack_webhook.as_deref(), &text).await;
    let done = result?;
    let rows = [("target", target.clone()), ("images", images.clone()), ("rolled out", done.rolled_out.to_string())];
    offinfra::ci::report_change("deploy", &format!("{target}: {images}: rolled out {}", done.rolled_out), &rows)?;
    Ok(done.rolled_out)
}
