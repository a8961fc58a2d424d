//! `release-tag`: compute the next version of this checkout (svu's rules, same flags as the `svu`
//! example) and create that tag on the canonical Forgejo, on the built commit. Idempotent on reruns;
//! "nothing to release" is a success with `created=false`.
//!
//! ```text
//! FORGEJO_TOKEN=… release-tag --forgejo-url https://git.example.com --repo owner/app   # prints v1.3.0
//! ```

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use offinfra::{
    ci::Outputs,
    cli::{
        self,
        svu::{go_bool, NextArgs},
    },
    flow::{backends::ForgejoTags, tag_release, CheckoutVersions},
    forgejo_client::Forgejo,
    svu::{config, Action},
    types::{CommitId, RepoName},
    ResultExt,
};

#[derive(Parser, Debug)]
#[command(
    name = "release-tag",
    version = offinfra::VERSION,
    about = "Create the next semantic-version tag on Forgejo",
    after_help = "Examples:\n  FORGEJO_TOKEN=… release-tag --forgejo-url https://git.example.com --repo owner/app   # prints v1.3.0"
)]
struct Args {
    /// The Forgejo web address (a sub-path is fine)
    #[arg(long, env = "FORGEJO_URL", value_name = "URL")]
    forgejo_url: String,
    /// The canonical repository on Forgejo, owner/name (not GITHUB_REPOSITORY: that names the mirror)
    #[arg(long, env = "FORGEJO_REPOSITORY", value_name = "OWNER/NAME")]
    repo: String,
    /// The commit to tag (default: HEAD of this checkout)
    #[arg(long, env = "GITHUB_SHA", value_name = "SHA")]
    sha: Option<String>,
    /// A message makes an annotated tag
    #[arg(long)]
    message: Option<String>,
    /// Forgejo token with write:repository (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "FORGEJO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the tag that would be created and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Log why the version was chosen (stderr)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    verbose: Option<bool>,
    /// svu config file
    #[arg(long, default_value = ".svu.yml", value_name = "FILE")]
    config: PathBuf,
    #[command(flatten)]
    svu: NextArgs,
    #[command(flatten)]
    reach: cli::ForgejoReachArgs,
}

fn main() -> ExitCode {
    cli::run_main(|args: Args| async move { run(args).await.map(|()| true) })
}

async fn run(args: Args) -> Result<(), offinfra::Error> {
    let repo = RepoName::parse(&args.repo).context("--repo")?;
    let cwd = std::env::current_dir()
        .map_err(|source| offinfra::Error::Io { what: "cannot read the current directory".into(), source })?;
    let flags = args.svu.settings(args.verbose);
    let computed = config::compute(&cwd, &args.config, flags, Action::Next, |n| std::env::var(n).ok())?;
    if let Some(line) = computed.verbose_line() {
        eprintln!("{line}");
    }
    let tag = computed.tag();
    let outputs = |created: bool, version: &str, tag: &str| {
        let created = if created { "true" } else { "false" };
        Outputs::from_env().set_all([("version", version), ("tag", tag), ("created", created)])
    };
    if !computed.is_new() {
        let current = computed.outcome.tag.as_ref().map(|t| t.name.clone()).unwrap_or_else(|| tag.clone());
        eprintln!("nothing to release: no commit since {current} asks for a new version");
        println!("{current}");
        return outputs(false, &computed.outcome.version.to_string(), &current);
    }
    let sha = match &args.sha {
        Some(sha) => CommitId::parse(sha).context("--sha")?,
        None => CommitId::parse(&computed.repo.head()?.to_string())?,
    };
    if args.dry_run {
        eprintln!(
            "dry run: would create {tag} on {repo} at {sha} (from this checkout's tags; a real run adds Forgejo's)"
        );
        println!("{tag}");
        return outputs(false, &computed.outcome.version.to_string(), &tag);
    }
    let token = args.token.clone().filter(|t| !t.is_empty()).ok_or_else(|| {
        offinfra::Error::invalid("no Forgejo token: set FORGEJO_TOKEN (write:repository) or pass --token")
    })?;
    let forge =
        ForgejoTags::new(Forgejo::reached(&args.forgejo_url, token.into(), &args.reach.reach()?)?, args.message);
    // The version counts Forgejo's tags too: the mirror this checkout came from may not have them yet.
    let versions = CheckoutVersions::new(&cwd, computed.options.clone());
    let done = tag_release(&forge, &versions, &repo, &sha).await?.summary(&repo, &sha);
    eprintln!("{}", done.line);
    if done.created {
        let rows = [("repository", repo.to_string()), ("tag", done.tag.clone()), ("commit", sha.to_string())];
        offinfra::ci::report_change("release-tag", &done.line, &rows)?;
    }
    println!("{}", done.tag);
    outputs(done.created, &done.version, &done.tag)
}
