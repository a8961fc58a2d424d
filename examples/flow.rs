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
use offinfra::{
    ci::Outputs,
    flow::{self, connect::Connect, Config, StepStatus, Steps},
    ghcr_client::{layout::PlatformSpec, packages::DEFAULT_API_URL},
    svu::config::Settings,
    types::{ImageName, RepoName, Tag},
};

#[derive(Parser, Debug)]
#[command(name = "flow", version, about = "Version, tag, push, prune and deploy in one CI step")]
struct Args {
    /// The repository the CI builds, owner/name (in Actions the GitHub mirror; default: the origin remote)
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    repo: Option<String>,
    /// The canonical Forgejo repository that receives the tag (default: forgejo_repository in .offinfra.yml)
    #[arg(long, env = "FORGEJO_REPOSITORY", value_name = "OWNER/NAME")]
    forgejo_repo: Option<String>,
    /// The Woodpecker registration that deploys, by name (default: --repo)
    #[arg(long, value_name = "OWNER/NAME")]
    woodpecker_repo: Option<String>,
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
    #[command(flatten)]
    output: cli::Output,
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
    #[command(flatten)]
    forgejo: cli::ForgejoFlags,
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
    /// GitHub token: Packages API (delete:packages) and ghcr.io password (write:packages); prefer the env
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    github_token: Option<String>,
    /// Another registry that may receive GITHUB_TOKEN as its password (repeat)
    #[arg(long = "token-registry", value_name = "HOST")]
    token_registries: Vec<String>,
    /// GitHub API base URL
    #[arg(long, env = "GITHUB_API_URL", default_value = DEFAULT_API_URL)]
    github_api_url: String,
    /// Images kept by the prune
    #[arg(long, default_value_t = 10)]
    keep: usize,
    /// A failed prune is reported but does not fail the step (it never holds back the deploy)
    #[arg(long)]
    prune_failure_ok: bool,
    /// Never prune versions with a tag matching this regular expression
    #[arg(long, value_name = "REGEX")]
    protect_tags: Option<String>,
    #[command(flatten)]
    woodpecker: cli::WoodpeckerFlags,
    /// The Woodpecker registration's numeric id (default: looked up by name)
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

async fn run(args: Args) -> Result<bool, offinfra::Error> {
    let cwd = std::env::current_dir()
        .map_err(|source| offinfra::Error::Io { what: "the current directory".into(), source })?;
    let config = Config {
        svu_config: args.config.clone(),
        svu: Settings {
            tag_prefix: args.tag_prefix.clone(),
            strict: args.strict.then_some(true),
            directories: (!args.log_directory.is_empty()).then(|| args.log_directory.clone()),
            ..Settings::default()
        },
        repo: args.repo.as_deref().filter(|r| !r.is_empty()).map(RepoName::parse).transpose()?,
        forgejo_repo: args.forgejo_repo.as_deref().filter(|r| !r.is_empty()).map(RepoName::parse).transpose()?,
        woodpecker_repo: args.woodpecker_repo.as_deref().map(RepoName::parse).transpose()?,
        woodpecker_repo_id: args.woodpecker_repo_id,
        sha: args.sha.as_deref().map(str::parse).transpose()?,
        image: args.image.as_deref().map(ImageName::parse).transpose()?,
        extra_tags: args.tags.iter().map(|t| Tag::parse(t)).collect::<Result<_, _>>()?,
        keep: args.keep,
        deploy_branch: args.deploy_branch.clone(),
        steps: Steps { tag: !args.skip_tag, push: !args.skip_push, prune: !args.skip_prune, deploy: !args.skip_deploy },
        prune_failure_ok: args.prune_failure_ok,
        local_fallback: args.output.dry_run,
        ..Config::new(cwd)
    };
    let plan = config.plan(|n| std::env::var(n).ok(), &mut |note| eprintln!("note: {note}"))?;
    if args.output.dry_run {
        if args.output.json() {
            return cli::print_json(&plan).map(|()| true);
        }
        print!("dry run: nothing is contacted\n{}", plan.describe());
        return Ok(true);
    }

    let connected = Connect {
        forgejo_url: args.forgejo.forgejo_url.clone(),
        forgejo_token: args.forgejo.forgejo_token.clone().map(Into::into),
        layout: args.layout.clone(),
        platform: args.platform.clone(),
        registry_username: args.registry_username.clone(),
        plain_http: args.plain_http,
        github_token: args.github_token.clone().map(Into::into),
        token_registries: args.token_registries.clone(),
        github_api_url: args.github_api_url.clone(),
        protect_tags: args.protect_tags.clone(),
        woodpecker_url: args.woodpecker.woodpecker_url.clone(),
        woodpecker_token: args.woodpecker.woodpecker_token.clone().map(Into::into),
        wait: args.wait.then_some(args.timeout),
    }
    .connect(&plan)?;
    let human = !args.output.json();
    let report = flow::run(&plan, &connected.backends(), &mut |record| {
        if human {
            let status = if record.status == StepStatus::Failed { "FAILED" } else { record.status.as_str() };
            eprintln!("{:<7} {status}: {}", record.step.as_str(), record.detail);
        }
    })
    .await;
    let outputs = Outputs::from_env();
    outputs.set_all(report.outputs())?;
    outputs.summary(&report.summary_markdown())?;
    if args.output.json() {
        cli::print_json(&report)?;
    } else {
        report.deployed.iter().flat_map(|d| &d.failed_steps).for_each(|step| eprint!("{}", step.render()));
        println!("{}", report.plan.version.tag);
    }
    Ok(report.success())
}
