//! `onboard`: put a Forgejo repository on the pipeline: push mirror to GitHub (sync on commit), the build
//! workflow and the deploy pipeline committed with the old pipeline files removed (one commit), Woodpecker
//! activation, default branch flipped and verified. Idempotent: a second run changes nothing and says so.
//!
//! ```text
//! FORGEJO_TOKEN=… WOODPECKER_TOKEN=… GITHUB_MIRROR_TOKEN=… onboard --repo acme/app \
//!   --forgejo-url https://git.example.com --woodpecker-url https://ci.example.com --dry-run
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::Format;
use offinfra::{
    forgejo_client::Forgejo,
    onboard::{apply, inspect, OnboardConfig},
    types::RepoName,
    woodpecker_client::Woodpecker,
};

#[derive(Parser, Debug)]
#[command(
    name = "onboard",
    version,
    about = "Put a Forgejo repository on the build-off-infra, deploy-in-cluster pipeline"
)]
struct Args {
    /// The repository on Forgejo, owner/name
    #[arg(long, value_name = "OWNER/NAME")]
    repo: String,
    /// The branch to build, deploy and make the default
    #[arg(long, default_value = "master")]
    branch: String,
    /// Forgejo web address
    #[arg(long, env = "FORGEJO_URL", value_name = "URL")]
    forgejo_url: String,
    /// Forgejo token (repository admin)
    #[arg(long, env = "FORGEJO_TOKEN", hide_env_values = true)]
    forgejo_token: String,
    /// Woodpecker web address
    #[arg(long, env = "WOODPECKER_URL", value_name = "URL")]
    woodpecker_url: String,
    /// Woodpecker token
    #[arg(long, env = "WOODPECKER_TOKEN", hide_env_values = true)]
    woodpecker_token: String,
    /// The GitHub repository the mirror pushes to (default: the same owner/name)
    #[arg(long, value_name = "OWNER/NAME")]
    github_repo: Option<String>,
    /// The GitHub user the mirror pushes as
    #[arg(long, env = "GITHUB_MIRROR_USER", default_value = "x-access-token")]
    github_user: String,
    /// GitHub token the mirror pushes with (contents: write)
    #[arg(long, env = "GITHUB_MIRROR_TOKEN", hide_env_values = true)]
    github_token: Option<String>,
    /// The image repository (default: ghcr.io/<github owner>/<name>, lower case)
    #[arg(long)]
    image: Option<String>,
    /// The Kubernetes namespace the deploy step targets (default: the repository name)
    #[arg(long)]
    namespace: Option<String>,
    /// The Deployment (default: the repository name)
    #[arg(long)]
    deployment: Option<String>,
    /// The container in it (default: the repository name)
    #[arg(long)]
    container: Option<String>,
    /// The service account the deploy step runs as
    #[arg(long, default_value = "deployer")]
    service_account: String,
    /// The image holding our `deploy` binary (default: ghcr.io/<github owner>/offinfra-deploy:latest)
    #[arg(long)]
    deploy_image: Option<String>,
    /// Where the build workflow installs offinfra from
    #[arg(long, default_value = env!("CARGO_PKG_REPOSITORY"))]
    offinfra_git: String,
    /// Read the state and print the plan; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

fn main() -> ExitCode {
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let repo = RepoName::parse(&args.repo)?;
    let (owner, name) = (repo.owner(), repo.name());
    let github = match &args.github_repo {
        Some(github) => RepoName::parse(github)?,
        None => repo.clone(),
    };
    let (gh_owner, gh_name) = (github.owner(), github.name());
    let lower = |s: &str| s.to_ascii_lowercase();
    let values = [
        ("forgejo_url", args.forgejo_url.trim_end_matches('/').to_owned()),
        ("woodpecker_url", args.woodpecker_url.trim_end_matches('/').to_owned()),
        ("image", args.image.clone().unwrap_or_else(|| format!("ghcr.io/{}/{}", lower(gh_owner), lower(gh_name)))),
        ("offinfra_git", args.offinfra_git.clone()),
        (
            "deploy_image",
            args.deploy_image.clone().unwrap_or_else(|| format!("ghcr.io/{}/offinfra-deploy:latest", lower(gh_owner))),
        ),
        ("namespace", args.namespace.clone().unwrap_or_else(|| name.to_owned())),
        ("deployment", args.deployment.clone().unwrap_or_else(|| name.to_owned())),
        ("container", args.container.clone().unwrap_or_else(|| name.to_owned())),
        ("service_account", args.service_account.clone()),
    ];
    let config = OnboardConfig {
        owner: owner.to_owned(),
        name: name.to_owned(),
        branch: args.branch.clone(),
        github_remote: format!("https://github.com/{gh_owner}/{gh_name}.git"),
        github_user: args.github_user.clone(),
        github_token: args.github_token.clone().unwrap_or_default().into(),
        values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    };
    let forgejo = Forgejo::new(&args.forgejo_url, args.forgejo_token.clone().into())?;
    let woodpecker = Woodpecker::new(&args.woodpecker_url, args.woodpecker_token.clone().into())?;

    let plan = inspect(&forgejo, &woodpecker, &config).await?;
    let human = args.format == Format::Human;
    if human {
        for line in &plan.in_place {
            eprintln!("ok       {line}");
        }
        for change in &plan.changes {
            eprintln!("{} {change}", if args.dry_run { "would   " } else { "change  " });
        }
    }
    if plan.is_noop() {
        match args.format {
            Format::Json => println!("{}", serde_json::json!({"plan": plan, "done": []})),
            Format::Human => eprintln!("{}/{name} is onboarded: nothing to change", owner),
        }
        return Ok(());
    }
    if args.dry_run {
        match args.format {
            Format::Json => println!("{}", serde_json::json!({"plan": plan, "dry_run": true})),
            Format::Human => eprintln!("dry run: nothing changed"),
        }
        return Ok(());
    }
    let needs_mirror = plan.changes.iter().any(|c| matches!(c, offinfra::onboard::Change::CreateMirror { .. }));
    if needs_mirror && args.github_token.as_deref().is_none_or(str::is_empty) {
        return Err(offinfra::Error::invalid(
            "the push mirror needs a GitHub token: set GITHUB_MIRROR_TOKEN or pass --github-token",
        ));
    }
    let done = apply(&forgejo, &woodpecker, &config, &plan).await?;
    match args.format {
        Format::Json => println!("{}", serde_json::json!({"plan": plan, "done": done})),
        Format::Human => {
            for line in &done {
                eprintln!("done     {line}");
            }
        }
    }
    Ok(())
}
