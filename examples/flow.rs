//! `flow`: the GitHub Actions build-and-deploy job in one command: the next version from conventional
//! commits, the tag on Forgejo, the image pushed as `:<sha8>` and `:latest`, the package pruned, the
//! Woodpecker deploy triggered (and optionally waited for). Each step can be skipped; the results go to
//! `$GITHUB_OUTPUT` and a Markdown table to `$GITHUB_STEP_SUMMARY`.
//!
//! ```text
//! flow --dry-run                       # in any git checkout: the plan, no credentials, no servers
//! flow --layout image.tar --forgejo-url https://git.example.com --woodpecker-url https://ci.example.com
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;
use cli::Format;
use offinfra::{
    ci::Outputs,
    flow::{self, connect::Connect, Plan, PlanInputs, StepStatus, Steps, VersionPlan},
    ghcr_client::{layout::PlatformSpec, packages::DEFAULT_API_URL},
    svu::{
        config::{self, Settings},
        Action,
    },
};

#[derive(Parser, Debug)]
#[command(name = "flow", version, about = "Version, tag, push, prune and deploy in one CI step")]
struct Args {
    /// The repository as owner/name (default: the checkout's origin remote)
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// The built commit (default: HEAD)
    #[arg(long, env = "GITHUB_SHA", value_name = "SHA")]
    sha: Option<String>,
    /// The image repository (default: ghcr.io/<owner>/<name>, lower case)
    #[arg(long, env = "IMAGE_NAME", value_name = "REGISTRY/OWNER/NAME")]
    image: Option<String>,
    /// Tags pushed besides <sha8> (repeat)
    #[arg(long = "tag", default_value = "latest", value_name = "TAG")]
    tags: Vec<String>,

    /// Skip creating the version tag
    #[arg(long)]
    skip_tag: bool,
    /// Skip pushing the image
    #[arg(long)]
    skip_push: bool,
    /// Skip pruning the package
    #[arg(long)]
    skip_prune: bool,
    /// Skip triggering the deploy
    #[arg(long)]
    skip_deploy: bool,
    /// Print the plan and contact nothing (needs no credentials)
    #[arg(long)]
    dry_run: bool,
    /// Output format of the plan or report
    #[arg(long, value_enum, default_value = "human")]
    format: Format,

    /// svu config file
    #[arg(long, default_value = ".svu.yml", value_name = "FILE")]
    config: PathBuf,
    /// The version tag's prefix
    #[arg(long = "tag.prefix", value_name = "PREFIX")]
    tag_prefix: Option<String>,
    /// Only commits that changed these directories count (repeat or comma-separate)
    #[arg(long = "log.directory", value_delimiter = ',', value_name = "DIR")]
    log_directory: Vec<String>,
    /// Classify commits by the Conventional Commits grammar
    #[arg(long)]
    strict: bool,

    /// Forgejo web address
    #[arg(long, env = "FORGEJO_URL", value_name = "URL")]
    forgejo_url: Option<String>,
    /// Forgejo token with write:repository
    #[arg(long, env = "FORGEJO_TOKEN", hide_env_values = true)]
    forgejo_token: Option<String>,

    /// The OCI layout docker buildx wrote (directory or tar)
    #[arg(long, env = "PLUGIN_LAYOUT", value_name = "DIR|TAR")]
    layout: Option<PathBuf>,
    /// The platform to push from a multi-platform layout
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH[/VARIANT]")]
    platform: PlatformSpec,
    /// Registry user (ghcr.io: any user, e.g. $GITHUB_ACTOR)
    #[arg(long, env = "GITHUB_ACTOR", value_name = "USER")]
    registry_username: Option<String>,
    /// Speak plain HTTP even to a non-loopback registry
    #[arg(long)]
    plain_http: bool,
    /// GitHub token: registry password and Packages API (write:packages, delete:packages)
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    github_token: Option<String>,
    /// GitHub API base URL
    #[arg(long, env = "GITHUB_API_URL", default_value = DEFAULT_API_URL)]
    github_api_url: String,
    /// Images kept by the prune
    #[arg(long, default_value_t = 10)]
    keep: usize,
    /// Never prune versions with a tag matching this regular expression
    #[arg(long, value_name = "REGEX")]
    protect_tags: Option<String>,

    /// Woodpecker web address
    #[arg(long, env = "WOODPECKER_URL", value_name = "URL")]
    woodpecker_url: Option<String>,
    /// Woodpecker token
    #[arg(long, env = "WOODPECKER_TOKEN", hide_env_values = true)]
    woodpecker_token: Option<String>,
    /// The repository's Woodpecker id (default: looked up by owner/name)
    #[arg(long, env = "WOODPECKER_REPO_ID")]
    woodpecker_repo_id: Option<i64>,
    /// The branch the deploy pipeline runs on
    #[arg(long, default_value = "master")]
    deploy_branch: String,
    /// Wait for the deploy pipeline's result
    #[arg(long)]
    wait: bool,
    /// How long to wait for it
    #[arg(long, default_value = "300s", value_parser = offinfra::ci::parse_duration)]
    timeout: Duration,
}

fn main() -> ExitCode {
    cli::run_main(run)
}

/// `owner/name` from a remote URL (`https://host/owner/name.git`, `git@host:owner/name.git`).
fn repo_from_url(url: &str) -> Option<String> {
    let path = url.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = path.rsplit(['/', ':']);
    let name = parts.next().filter(|s| !s.is_empty())?;
    let owner = parts.next().filter(|s| !s.is_empty())?;
    Some(format!("{owner}/{name}"))
}

async fn run(args: Args) -> Result<bool, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let flags = Settings {
        tag_prefix: args.tag_prefix.clone(),
        strict: args.strict.then_some(true),
        directories: (!args.log_directory.is_empty()).then(|| args.log_directory.clone()),
        ..Settings::default()
    };
    let computed = config::compute(&cwd, &args.config, flags, Action::Next, |n| std::env::var(n).ok())
        .map_err(|e| e.to_string())?;
    let repo = &computed.repo;

    let full_name = match args.repo.clone().filter(|r| !r.is_empty()) {
        Some(name) => name,
        None => {
            let url = repo.gix().config_snapshot().string("remote.origin.url").map(|u| u.to_string());
            match url.as_deref().and_then(repo_from_url) {
                Some(name) => name,
                // A dry run still shows a plan; a real run needs to know where to tag and deploy.
                None if args.dry_run => {
                    let dir = repo.workdir().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned());
                    let name = format!("local/{}", dir.unwrap_or_else(|| "repo".into()));
                    eprintln!("note: no origin remote and no --repo: planning for {name}");
                    name
                }
                None => return Err("cannot tell the repository: give --repo owner/name (GITHUB_REPOSITORY)".into()),
            }
        }
    };
    let sha = match &args.sha {
        Some(sha) => sha.clone(),
        None => repo.head().map_err(|e| e.to_string())?.to_string(),
    };
    let image = args.image.clone().unwrap_or_else(|| format!("ghcr.io/{}", full_name.to_ascii_lowercase()));
    let steps =
        Steps { tag: !args.skip_tag, push: !args.skip_push, prune: !args.skip_prune, deploy: !args.skip_deploy };
    let plan = Plan::new(PlanInputs {
        repo: full_name,
        sha,
        version: VersionPlan::from_outcome(&computed.outcome, &computed.options.tag_prefix),
        image,
        extra_tags: args.tags.clone(),
        keep: args.keep,
        deploy_branch: args.deploy_branch.clone(),
        steps,
    })
    .map_err(|e| e.to_string())?;

    if args.dry_run {
        match args.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?),
            Format::Human => print!("dry run: nothing is contacted\n{}", plan.describe()),
        }
        return Ok(true);
    }

    let connect = Connect {
        forgejo_url: args.forgejo_url.clone(),
        forgejo_token: args.forgejo_token.clone().map(Into::into),
        layout: args.layout.clone(),
        platform: args.platform.clone(),
        registry_username: args.registry_username.clone(),
        plain_http: args.plain_http,
        github_token: args.github_token.clone().map(Into::into),
        github_api_url: args.github_api_url.clone(),
        protect_tags: args.protect_tags.clone(),
        woodpecker_url: args.woodpecker_url.clone(),
        woodpecker_token: args.woodpecker_token.clone().map(Into::into),
        woodpecker_repo_id: args.woodpecker_repo_id,
        wait: args.wait.then_some(args.timeout),
    };
    let connected = connect.connect(&plan)?;
    let backends = connected.backends();

    let human = args.format == Format::Human;
    let report = flow::run(&plan, &backends, &mut |record| {
        if human {
            let status = match record.status {
                StepStatus::Failed => "FAILED",
                other => other.as_str(),
            };
            eprintln!("{:<7} {status}: {}", record.step.as_str(), record.detail);
        }
    })
    .await;
    let outputs = Outputs::from_env();
    outputs.set_all(report.outputs())?;
    outputs.summary(&report.summary_markdown())?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?),
        Format::Human => println!("{}", report.plan.version.tag),
    }
    Ok(report.success())
}
