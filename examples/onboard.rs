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
use offinfra::{
    onboard::{apply, inspect, Settings},
    types::RepoName,
    ResultExt,
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
    #[command(flatten)]
    forgejo: cli::ForgejoFlags,
    #[command(flatten)]
    woodpecker: cli::WoodpeckerFlags,
    /// The GitHub repository the mirror pushes to (default: the same owner/name)
    #[arg(long, value_name = "OWNER/NAME")]
    github_repo: Option<String>,
    /// The GitHub user the mirror pushes as
    #[arg(long, env = "GITHUB_MIRROR_USER", default_value = "x-access-token")]
    github_user: String,
    /// A Woodpecker token of a user of the GitHub forge, to activate the mirror's registration (default:
    /// the Woodpecker token; prefer the variable: a flag shows in the process list)
    #[arg(long, env = "WOODPECKER_GITHUB_TOKEN", hide_env_values = true)]
    woodpecker_github_token: Option<String>,
    /// The GitHub API (read to check that the mirror would not overwrite GitHub commits)
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    github_api_url: String,
    /// Create the push mirror even though GitHub has commits Forgejo lacks (they are overwritten)
    #[arg(long)]
    allow_overwrite: bool,
    /// GitHub token the mirror pushes with (contents: write) (prefer the variable: a flag shows in the process list)
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
    /// The image holding our `deploy` binary (required), e.g. ghcr.io/acme/offinfra-deploy:1.2.0
    #[arg(long, env = "OFFINFRA_DEPLOY_IMAGE")]
    deploy_image: Option<String>,
    /// Where the build workflow installs offinfra from (required), a git URL
    #[arg(long, env = "OFFINFRA_GIT")]
    offinfra_git: Option<String>,
    /// The Actions secret the workflow reads the Forgejo token from
    #[arg(long, default_value = "FORGEJO_GIT_TOKEN", value_name = "NAME")]
    forgejo_secret: String,
    /// The Actions secret the workflow reads the Woodpecker token from
    #[arg(long, default_value = "WOODPECKER_TOKEN", value_name = "NAME")]
    woodpecker_secret: String,
    /// An Actions secret to set on the mirror, its value from variable VARIABLE (default: NAME)
    /// (repeat; default: the two above)
    #[arg(long = "actions-secret", value_name = "NAME[=VARIABLE]")]
    actions_secrets: Vec<String>,
    /// A file of NAME=VALUE lines giving Actions secret values (read before the variables)
    #[arg(long, value_name = "FILE")]
    actions_secrets_file: Option<std::path::PathBuf>,
    /// Overwrite Actions secrets that already exist (their values cannot be compared)
    #[arg(long)]
    replace_secrets: bool,
    #[command(flatten)]
    output: cli::Output,
}

fn main() -> ExitCode {
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let mut from_file = std::collections::BTreeMap::new();
    if let Some(path) = &args.actions_secrets_file {
        let text = std::fs::read_to_string(path).map_err(|source| offinfra::Error::Io {
            what: format!("--actions-secrets-file {}", path.display()),
            source,
        })?;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if let Some((name, value)) = line.split_once('=') {
                from_file.insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }
    let wanted = match args.actions_secrets.is_empty() {
        true => vec![args.forgejo_secret.clone(), args.woodpecker_secret.clone()],
        false => args.actions_secrets.clone(),
    };
    let actions_secrets = wanted
        .iter()
        .map(|spec| {
            let (name, variable) = spec.split_once('=').unwrap_or((spec.as_str(), spec.as_str()));
            let value = from_file.get(name).cloned().or_else(|| std::env::var(variable).ok()).filter(|v| !v.is_empty());
            (name.to_owned(), value.map(Into::into))
        })
        .collect();
    let settings = Settings {
        repo: RepoName::parse(&args.repo).context("--repo")?,
        github_repo: args.github_repo.as_deref().map(RepoName::parse).transpose().context("--github-repo")?,
        branch: args.branch.clone(),
        forgejo_url: cli::required(&args.forgejo.forgejo_url, "--forgejo-url (FORGEJO_URL)")?.to_owned(),
        woodpecker_url: cli::required(&args.woodpecker.woodpecker_url, "--woodpecker-url (WOODPECKER_URL)")?.to_owned(),
        github_user: args.github_user.clone(),
        github_token: args.github_token.clone().unwrap_or_default().into(),
        image: args.image.clone(),
        namespace: args.namespace.clone(),
        deployment: args.deployment.clone(),
        container: args.container.clone(),
        service_account: args.service_account.clone(),
        deploy_image: args.deploy_image.clone(),
        offinfra_git: args.offinfra_git.clone(),
        forgejo_secret: args.forgejo_secret.clone(),
        woodpecker_secret: args.woodpecker_secret.clone(),
        allow_overwrite: args.allow_overwrite,
        actions_secrets,
        replace_secrets: args.replace_secrets,
    };
    let config = settings.config()?;
    // The registration is the GitHub mirror's: activated by a Woodpecker user of the GitHub forge.
    let woodpecker = match args.woodpecker_github_token.clone().filter(|t| !t.is_empty()) {
        Some(token) => offinfra::woodpecker_client::Woodpecker::new(
            cli::required(&args.woodpecker.woodpecker_url, "--woodpecker-url (WOODPECKER_URL)")?,
            token.into(),
        )?,
        None => args.woodpecker.client()?,
    };
    let forgejo = args.forgejo.client()?;
    let token = args.github_token.clone().filter(|t| !t.is_empty()).map(|t| offinfra::http::Auth::Bearer(t.into()));
    let mut github = offinfra::http::Client::builder(&args.github_api_url);
    if let Some(auth) = token {
        github = github.auth(auth);
    }
    let github = github.build()?;
    let plan = inspect(&forgejo, &woodpecker, &github, &config).await?;
    let (json, dry_run) = (args.output.json(), args.output.dry_run);
    if !json {
        eprint!("{}", plan.describe(dry_run));
    }
    if plan.is_noop() || dry_run {
        match (json, plan.is_noop()) {
            (true, true) => println!("{}", serde_json::json!({"plan": plan, "done": []})),
            (true, false) => println!("{}", serde_json::json!({"plan": plan, "dry_run": true})),
            (false, true) => eprintln!("{} is onboarded: nothing to change", settings.repo),
            (false, false) => eprintln!("dry run: nothing changed"),
        }
        return Ok(());
    }
    if plan.needs_mirror_token() && args.github_token.as_deref().is_none_or(str::is_empty) {
        let message = "the push mirror needs a GitHub token: set GITHUB_MIRROR_TOKEN or pass --github-token";
        return Err(offinfra::Error::invalid(message));
    }
    let done = apply(&forgejo, &woodpecker, &github, &config, &plan).await?;
    if json {
        println!("{}", serde_json::json!({"plan": plan, "done": done}));
    } else {
        done.iter().for_each(|line| eprintln!("done     {line}"));
    }
    Ok(())
}
