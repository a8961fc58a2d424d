//! `trigger-deploy`: start the manual Woodpecker pipeline that rolls the new image out, and optionally
//! wait for its result. Works with plain flags and as a Woodpecker plugin (`PLUGIN_*` settings).
//!
//! ```text
//! WOODPECKER_TOKEN=… trigger-deploy --woodpecker-url https://ci.example.com --repo owner/app \
//!   --branch master --var IMAGE_TAG=0123abcd --var IMAGE_NAME=ghcr.io/owner/app --wait --timeout 300s
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::{collections::BTreeMap, process::ExitCode, time::Duration};

use clap::Parser;
use offinfra::{
    flow::FailedStep,
    types::{ImageName, RepoName, Tag},
    woodpecker_client::{Wait, Woodpecker},
    ResultExt,
};

#[derive(Parser, Debug)]
#[command(name = "trigger-deploy", version, about = "Start a manual Woodpecker pipeline and wait for it")]
struct Args {
    /// The Woodpecker web address (ROOT_PATH included)
    #[arg(long, env = "PLUGIN_WOODPECKER_URL", value_name = "URL")]
    woodpecker_url: String,
    /// The repository's Woodpecker id
    #[arg(long, env = "PLUGIN_REPO_ID", conflicts_with = "repo", required_unless_present = "repo")]
    repo_id: Option<i64>,
    /// The repository as owner/name (looked up to its id)
    #[arg(long, env = "PLUGIN_REPO", value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// The branch to run the pipeline on
    #[arg(long, env = "PLUGIN_BRANCH", default_value = "master")]
    branch: String,
    /// A pipeline variable KEY=VALUE (repeat, or comma-separate in PLUGIN_VARS)
    #[arg(long = "var", value_name = "KEY=VALUE", env = "PLUGIN_VARS", value_delimiter = ',')]
    vars: Vec<String>,
    /// Adds IMAGE_TAG to the variables (the deploy pipeline's convention)
    #[arg(long, env = "IMAGE_TAG")]
    image_tag: Option<String>,
    /// Adds IMAGE_NAME to the variables
    #[arg(long, env = "IMAGE_NAME")]
    image_name: Option<String>,
    /// Wait for the pipeline's result; the exit code mirrors it
    #[arg(long, env = "PLUGIN_WAIT", num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    wait: Option<bool>,
    /// How long to wait (e.g. 300s, 5m)
    #[arg(long, env = "PLUGIN_TIMEOUT", default_value = "300s", value_parser = offinfra::ci::parse_duration)]
    timeout: Duration,
    /// The first pause between two status polls (it grows to 10 s)
    #[arg(long, default_value = "2s", value_parser = offinfra::ci::parse_duration)]
    poll: Duration,
    /// Woodpecker personal access token (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "WOODPECKER_TOKEN", hide_env_values = true)]
    token: String,
    /// Post the result to this Slack incoming webhook (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "SLACK_WEBHOOK", hide_env_values = true)]
    slack_webhook: Option<String>,
}

fn main() -> ExitCode {
    cli::plugin_settings(&[
        ("WOODPECKER_TOKEN", "PLUGIN_TOKEN"),
        ("WOODPECKER_TOKEN", "PLUGIN_WOODPECKER_TOKEN"),
        ("SLACK_WEBHOOK", "PLUGIN_SLACK_WEBHOOK"),
    ]);
    cli::run_main(run)
}

async fn run(args: Args) -> Result<bool, offinfra::Error> {
    let mut variables = BTreeMap::new();
    for var in args.vars.iter().filter(|v| !v.is_empty()) {
        let (key, value) = var
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| offinfra::Error::invalid(format!("--var {var:?}: expected KEY=VALUE")))?;
        variables.insert(key.to_owned(), value.to_owned());
    }
    variables.extend(args.image_tag.clone().map(|tag| ("IMAGE_TAG".to_owned(), tag)));
    variables.extend(args.image_name.clone().map(|name| ("IMAGE_NAME".to_owned(), name)));
    // The deploy pipeline runs what these name: each is held to its rule, however it was given.
    if let Some(name) = variables.get("IMAGE_NAME") {
        ImageName::parse(name).context("IMAGE_NAME")?;
    }
    if let Some(tag) = variables.get("IMAGE_TAG") {
        Tag::parse(tag).context("IMAGE_TAG")?;
    }
    let ci = Woodpecker::new(&args.woodpecker_url, args.token.clone().into())?;
    let repo_id = match (args.repo_id, &args.repo) {
        (Some(id), _) => id,
        (None, Some(full)) => {
            let repo = RepoName::parse(full).context("--repo")?;
            ci.lookup(repo.owner(), repo.name()).await.with_context(|| format!("looking up {full}"))?.id
        }
        (None, None) => return Err(offinfra::Error::invalid("give --repo-id or --repo")),
    };
    let repo = args.repo.clone().unwrap_or_else(|| format!("repo {repo_id}"));
    let image = match (variables.get("IMAGE_NAME"), variables.get("IMAGE_TAG")) {
        (Some(name), Some(tag)) => format!(" {name}:{tag}"),
        _ => String::new(),
    };
    let wait =
        args.wait.unwrap_or(false).then_some(Wait { timeout: args.timeout, first_poll: args.poll, tail_lines: 30 });
    let pipelines = ci.repo(repo_id).pipelines();
    let started = |p: &offinfra::woodpecker_client::Pipeline| {
        println!("{}\n{}", p.number, ci.pipeline_url(repo_id, p.number));
    };
    let slack = args.slack_webhook.as_deref();
    let outcome = match pipelines.run(&args.branch, &variables, wait, started).await {
        Ok(outcome) => outcome,
        Err(e @ offinfra::woodpecker_client::Error::Timeout { number, .. }) => {
            let url = ci.pipeline_url(repo_id, number);
            cli::notify_slack(slack, &format!(":x: deploy of {repo}{image}: pipeline #{number} {url}: {e}")).await;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let url = ci.pipeline_url(repo_id, outcome.started.number);
    let Some(done) = &outcome.finished else {
        let text = format!(":rocket: deploy of {repo}{image} started: pipeline #{} {url}", outcome.started.number);
        cli::notify_slack(slack, &text).await;
        return Ok(true);
    };
    eprintln!("pipeline #{} finished: {}", done.number, done.status);
    let success = outcome.success() == Some(true);
    let mark = if success { ":white_check_mark:" } else { ":x:" };
    let text = format!("{mark} deploy of {repo}{image}: pipeline #{} {}: {url}", done.number, done.status);
    cli::notify_slack(slack, &text).await;
    for tail in outcome.failed_steps {
        eprint!("{}", FailedStep::from(tail).render());
    }
    Ok(success)
}
