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
use offinfra::woodpecker_client::{Status, Woodpecker};

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
    /// Woodpecker personal access token
    #[arg(long, env = "WOODPECKER_TOKEN", hide_env_values = true)]
    token: String,
    /// Post the result to this Slack incoming webhook
    #[arg(long, env = "SLACK_WEBHOOK", hide_env_values = true)]
    slack_webhook: Option<String>,
}

fn main() -> ExitCode {
    cli::run_main(run)
}

async fn run(args: Args) -> Result<bool, String> {
    let mut variables = BTreeMap::new();
    for var in args.vars.iter().filter(|v| !v.is_empty()) {
        let (key, value) = var
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| format!("--var {var:?}: expected KEY=VALUE"))?;
        variables.insert(key.to_owned(), value.to_owned());
    }
    if let Some(tag) = &args.image_tag {
        variables.insert("IMAGE_TAG".into(), tag.clone());
    }
    if let Some(name) = &args.image_name {
        variables.insert("IMAGE_NAME".into(), name.clone());
    }
    let ci = Woodpecker::new(&args.woodpecker_url, args.token.clone().into()).map_err(|e| e.to_string())?;
    let repo_id = match (args.repo_id, &args.repo) {
        (Some(id), _) => id,
        (None, Some(full)) => {
            let (owner, name) = offinfra::ci::repo_arg("--repo", full)?;
            ci.lookup(owner, name).await.map_err(|e| format!("looking up {full}: {e}"))?.id
        }
        (None, None) => return Err("give --repo-id or --repo".into()),
    };
    let pipelines = ci.repo(repo_id).pipelines();
    let pipeline = pipelines.create(&args.branch, &variables).await.map_err(|e| e.to_string())?;
    let url = ci.pipeline_url(repo_id, pipeline.number);
    println!("{}", pipeline.number);
    println!("{url}");
    let repo = args.repo.clone().unwrap_or_else(|| format!("repo {repo_id}"));
    let image = match (variables.get("IMAGE_NAME"), variables.get("IMAGE_TAG")) {
        (Some(name), Some(tag)) => format!(" {name}:{tag}"),
        _ => String::new(),
    };
    if !args.wait.unwrap_or(false) {
        cli::notify_slack(
            args.slack_webhook.as_deref(),
            &format!(":rocket: deploy of {repo}{image} started: pipeline #{} {url}", pipeline.number),
        )
        .await;
        return Ok(true);
    }
    let done = match pipelines.wait_polling(pipeline.number, args.timeout, args.poll).await {
        Ok(done) => done,
        Err(e) => {
            cli::notify_slack(
                args.slack_webhook.as_deref(),
                &format!(":x: deploy of {repo}{image}: pipeline #{} {url}: {e}", pipeline.number),
            )
            .await;
            return Err(e.to_string());
        }
    };
    eprintln!("pipeline #{} finished: {}", done.number, done.status);
    let mark = if done.status == Status::Success { ":white_check_mark:" } else { ":x:" };
    cli::notify_slack(
        args.slack_webhook.as_deref(),
        &format!("{mark} deploy of {repo}{image}: pipeline #{} {}: {url}", done.number, done.status),
    )
    .await;
    if done.status == Status::Success {
        return Ok(true);
    }
    for tail in pipelines.failed_step_tails(&done, 30).await {
        let step = &tail.step;
        eprintln!("--- step {} ({}, exit code {}) ---", step.name, step.state, step.exit_code);
        match tail.lines {
            Ok(lines) => lines.iter().for_each(|line| eprintln!("{line}")),
            Err(e) => eprintln!("(no log: {e})"),
        }
    }
    Ok(false)
}
