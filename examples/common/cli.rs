//! What every example shares: the `main` (parse, run, exit code), `--format`, and the flag groups several
//! examples take (`--dry-run`/`--format`, Forgejo, Woodpecker, registry login), flattened into each.
#![allow(dead_code)]

use std::{future::Future, path::PathBuf, process::ExitCode};

use offinfra::Error;

/// Parses (help and version exit 0, usage errors 2), then runs on a multi-thread runtime (`Ok(true)`
/// exits 0, `Ok(false)` 1, an error prints `error: …` with its causes and exits 1).
pub fn run_main<A: clap::Parser, F: Future<Output = Result<bool, Error>>>(run: impl FnOnce(A) -> F) -> ExitCode {
    offinfra::ci::init_logging();
    offinfra::ci::mask_secrets(|name| std::env::var(name).ok().filter(|v| !v.is_empty()), &mut std::io::stderr());
    match A::try_parse() {
        Ok(args) => offinfra::ci::run_async(run(args)),
        Err(e) => {
            let _ = e.print();
            offinfra::ci::usage_exit(e.use_stderr())
        }
    }
}

/// Woodpecker plugin settings for secrets: `settings: token: {from_secret: …}` arrives as `PLUGIN_TOKEN`,
/// while the flag reads its own variable (`WOODPECKER_TOKEN`). For each `(variable, setting)` pair, the
/// setting fills the variable when the variable is not set, before the flags are parsed (command line
/// beats variable beats setting).
pub fn plugin_settings(pairs: &[(&str, &str)]) {
    for (variable, setting) in pairs {
        let unset = std::env::var_os(variable).is_none_or(|v| v.is_empty());
        if let (true, Some(value)) = (unset, std::env::var_os(setting).filter(|v| !v.is_empty())) {
            // Before any thread starts: nothing else reads the environment yet.
            std::env::set_var(variable, value);
        }
    }
}

/// `--format`: text for people, or JSON for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people.
    Human,
    /// JSON for tools.
    Json,
}

/// `--dry-run` and `--format`.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Output {
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the plan or report
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

impl Output {
    /// Whether the output is JSON.
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::invalid(format!("cannot render JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Whether a flag or variable has a non-empty value.
fn given(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

/// A value a step needs, or the error naming the flag (and variable) that gives it.
pub fn required<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, Error> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| Error::invalid(format!("{what} is required")))
}

/// Forgejo's address and token.
#[derive(clap::Args, Debug, Clone)]
pub struct ForgejoFlags {
    /// Forgejo web address
    #[arg(long, env = "FORGEJO_URL", value_name = "URL")]
    pub forgejo_url: Option<String>,
    /// Forgejo token (write:repository to change anything) (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "FORGEJO_TOKEN", hide_env_values = true)]
    pub forgejo_token: Option<String>,
}

impl ForgejoFlags {
    /// The client when both address and token are given, `None` when either is not.
    pub fn client_if_given(&self) -> Result<Option<offinfra::forgejo_client::Forgejo>, Error> {
        match given(&self.forgejo_url) && given(&self.forgejo_token) {
            true => self.client().map(Some),
            false => Ok(None),
        }
    }

    /// The client, or the error naming the missing flag.
    pub fn client(&self) -> Result<offinfra::forgejo_client::Forgejo, Error> {
        let url = required(&self.forgejo_url, "--forgejo-url (FORGEJO_URL)")?;
        let token = required(&self.forgejo_token, "--forgejo-token (FORGEJO_TOKEN)")?;
        Ok(offinfra::forgejo_client::Forgejo::new(url, token.to_owned().into())?)
    }
}

/// Woodpecker's address and token.
#[derive(clap::Args, Debug, Clone)]
pub struct WoodpeckerFlags {
    /// Woodpecker web address
    #[arg(long, env = "WOODPECKER_URL", value_name = "URL")]
    pub woodpecker_url: Option<String>,
    /// Woodpecker token (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "WOODPECKER_TOKEN", hide_env_values = true)]
    pub woodpecker_token: Option<String>,
}

impl WoodpeckerFlags {
    /// The client when both address and token are given, `None` when either is not.
    pub fn client_if_given(&self) -> Result<Option<offinfra::woodpecker_client::Woodpecker>, Error> {
        match given(&self.woodpecker_url) && given(&self.woodpecker_token) {
            true => self.client().map(Some),
            false => Ok(None),
        }
    }

    /// The client, or the error naming the missing flag.
    pub fn client(&self) -> Result<offinfra::woodpecker_client::Woodpecker, Error> {
        let url = required(&self.woodpecker_url, "--woodpecker-url (WOODPECKER_URL)")?;
        let token = required(&self.woodpecker_token, "--woodpecker-token (WOODPECKER_TOKEN)")?;
        Ok(offinfra::woodpecker_client::Woodpecker::new(url, token.to_owned().into())?)
    }
}

/// How to log in to a registry, as docker does: a user and a password (or token), else the docker
/// config's entry for the registry, else anonymous.
#[derive(clap::Args, Debug, Clone)]
pub struct RegistryLogin {
    /// Registry user (ghcr.io: any user, e.g. $GITHUB_ACTOR)
    #[arg(long, env = "REGISTRY_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// Read the password or token from stdin (one line)
    #[arg(long)]
    pub password_stdin: bool,
    /// The password or token (prefer --password-stdin; never on the command line)
    #[arg(long, env = "REGISTRY_PASSWORD", hide_env_values = true, hide = true)]
    pub password: Option<String>,
    /// Docker config directory for stored credentials (default ~/.docker)
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    pub docker_config: Option<PathBuf>,
    /// Speak plain HTTP even to a registry that is not on loopback
    #[arg(long)]
    pub plain_http: bool,
}

impl RegistryLogin {
    /// The credentials for `registry`.
    pub fn credentials(&self, registry: &str) -> Result<offinfra::ghcr_client::registry::Credentials, Error> {
        let password = if self.password_stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_line(&mut text)
                .map_err(|source| Error::Io { what: "cannot read the password from stdin".into(), source })?;
            Some(text.trim_end_matches(['\r', '\n']).to_owned())
        } else {
            self.password.clone()
        };
        let docker_config =
            self.docker_config.clone().or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
        Ok(offinfra::ghcr_client::registry::Credentials::resolve(
            self.username.as_deref(),
            password.map(Into::into),
            docker_config.as_deref(),
            registry,
        )?)
    }

    /// `Some(true)` when plain HTTP was asked for; else docker's rule (plain HTTP for loopback only).
    pub fn plain_http(&self) -> Option<bool> {
        self.plain_http.then_some(true)
    }
}

/// Posts `text` to the Slack webhook when one is configured; a failed post is a warning on stderr, not a
/// failed step.
pub async fn notify_slack(webhook: Option<&str>, text: &str) {
    if let Some(webhook) = webhook.filter(|w| !w.is_empty()) {
        if let Err(e) = offinfra::notify::slack(&webhook.to_owned().into(), text).await {
            eprintln!("warning: {e}");
        }
    }
}
