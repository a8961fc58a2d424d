//! The command lines of the example binaries as clap argument groups, so that a tool of your own can
//! take the same flags (`#[command(flatten)]`) and turn them into the library's inputs the same way.
//!
//! - The shared groups: [`Output`] (`--dry-run`/`--format`), [`ForgejoFlags`], [`WoodpeckerFlags`],
//!   [`RegistryLogin`], and [`run_main`] (parse, run, exit code).
//! - One group per job: [`flow::FlowArgs`], [`onboard::OnboardArgs`], [`doctor::DoctorArgs`],
//!   [`secrets::SyncSecretsArgs`], [`push::PushArgs`], [`deploy::TriggerArgs`], [`prune::RetentionArgs`],
//!   [`cleanup::CleanupArgs`], [`build::BuildArgs`],
//!   and svu's flags and commands in [`svu`].
//!
//! Behind the `cli` feature (on by default; `default-features = false` drops clap).
//!
//! ```no_run
//! use clap::Parser;
//!
//! /// A tool of your own that runs the flow with the same flags as the `flow` example, plus its own.
//! #[derive(Parser)]
//! struct MyTool {
//!     #[command(flatten)]
//!     flow: offinfra::cli::flow::FlowArgs,
//!     #[command(flatten)]
//!     output: offinfra::cli::Output,
//!     /// A flag of the tool's own
//!     #[arg(long)]
//!     announce: bool,
//! }
//!
//! let tool = MyTool::parse();
//! let plan = tool.flow.config(std::env::current_dir()?, tool.output.dry_run)?
//!     .plan(|name| std::env::var(name).ok(), &mut |note| eprintln!("note: {note}"))?;
//! println!("{}", plan.describe());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The fields' doc comments are the flags' help text, printed as written: `<owner>` there is a placeholder,
// not HTML.
#![allow(rustdoc::invalid_html_tags)]

pub mod build;
pub mod cleanup;
pub mod deploy;
pub mod doctor;
pub mod flow;
pub mod onboard;
mod plugin;
pub mod prune;
pub mod push;
mod runtime;
pub mod secrets;
pub mod svu;

pub use plugin::{is_plugin_run, plugin_mode, plugin_settings};
pub use runtime::{init_logging, parse_duration, run_async, usage_exit, DEFAULT_LOG_FILTER};

use std::{future::Future, path::PathBuf, process::ExitCode};

use crate::Error;

/// Parses (help and version exit 0, usage errors 2), then runs on a multi-thread runtime (`Ok(true)`
/// exits 0, `Ok(false)` 1, an error prints `error: …` with its causes and exits 1). `--generate` prints
/// shell completions or the man page instead ([`generate`]).
pub fn run_main<A: clap::Parser, F: Future<Output = Result<bool, Error>>>(run: impl FnOnce(A) -> F) -> ExitCode {
    init_logging();
    crate::ci::mask_secrets(|name| std::env::var(name).ok().filter(|v| !v.is_empty()), &mut std::io::stderr());
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = blank_env_is_unset(plugin_mode(with_generate(A::command()), &args));
    if let Some(code) = generate(&command, &args, &mut std::io::stdout()) {
        return code;
    }
    match command.try_get_matches_from(&args).and_then(|mut matches| A::from_arg_matches_mut(&mut matches)) {
        Ok(args) => run_async(run(args)),
        Err(e) => {
            let _ = e.print();
            usage_exit(e.use_stderr())
        }
    }
}

/// `command` with every flag whose variable is set but empty reading as if the variable were unset, as a
/// blank `${{ vars.X }}` in a workflow or an empty manual variable means "not given": the flag's default
/// (or nothing) applies instead of a parse error of `""`.
pub fn blank_env_is_unset(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| {
        let blank = arg.get_env().is_some_and(|name| std::env::var_os(name).is_some_and(|v| v.is_empty()));
        if blank {
            arg.env(None)
        } else {
            arg
        }
    })
}

/// `command` with the `--generate` flag.
pub fn with_generate(command: clap::Command) -> clap::Command {
    command.arg(
        clap::Arg::new("generate")
            .long("generate")
            .value_name("WHAT")
            .value_parser(["completions", "man", "bash", "zsh", "fish", "elvish", "powershell"])
            .help("Print shell completions (completions: for $SHELL; or name the shell) or the man page, and exit"),
    )
}

/// When `args` hold `--generate WHAT` (or `--generate=WHAT`), writes it for `command` to `out` and returns
/// the exit code, before the other arguments are checked (a man page needs no `--repo`).
pub fn generate(
    command: &clap::Command,
    args: &[std::ffi::OsString],
    out: &mut dyn std::io::Write,
) -> Option<ExitCode> {
    let position = args.iter().position(|a| a == "--generate" || a.to_string_lossy().starts_with("--generate="))?;
    let flag = args[position].to_string_lossy();
    let what = match flag.split_once('=') {
        Some((_, what)) => what.to_owned(),
        None => args.get(position + 1).map(|a| a.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let mut command = command.clone();
    let name = command.get_name().to_owned();
    let shell = match what.as_str() {
        "man" => {
            let rendered = clap_mangen::Man::new(command).render(out);
            return Some(if rendered.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        "completions" => std::env::var("SHELL")
            .ok()
            .and_then(|path| path.rsplit('/').next().and_then(|s| s.parse::<clap_complete::Shell>().ok()))
            .unwrap_or(clap_complete::Shell::Bash),
        other => match other.parse::<clap_complete::Shell>() {
            Ok(shell) => shell,
            Err(_) => {
                eprintln!("error: --generate {other:?}: completions, man, bash, zsh, fish, elvish or powershell");
                return Some(ExitCode::from(2));
            }
        },
    };
    clap_complete::generate(shell, &mut command, name, out);
    Some(ExitCode::SUCCESS)
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
#[non_exhaustive]
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
pub(crate) fn given(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

/// A value a step needs, or the error naming the flag (and variable) that gives it.
pub fn required<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, Error> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| Error::invalid(format!("{what} is required")))
}

/// Forgejo's address and token.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct ForgejoFlags {
    /// Forgejo web address
    #[arg(long, env = "FORGEJO_URL", value_name = "URL")]
    pub forgejo_url: Option<String>,
    /// Forgejo token (write:repository to change anything) (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "FORGEJO_TOKEN", hide_env_values = true)]
    pub forgejo_token: Option<String>,
    /// How Forgejo is reached besides DNS and the system's CAs.
    #[command(flatten)]
    pub reach: ForgejoReachArgs,
}

/// `--forgejo-resolve` and `--forgejo-ca-cert`: how Forgejo's API is reached when DNS or the system's CAs
/// are not enough. `--forgejo-url` stays what written files name.
#[derive(clap::Args, Debug, Clone, Default)]
#[non_exhaustive]
pub struct ForgejoReachArgs {
    /// Reach Forgejo's HOST:PORT at ADDR instead of what DNS says (curl's --resolve; TLS still checks HOST):
    /// an internal load balancer for the public name (repeat)
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub forgejo_resolve: Vec<crate::http::scope::Resolve>,
    /// Also trust the CA certificates in this PEM file for Forgejo (a private CA)
    #[arg(long, env = "FORGEJO_CA_CERT", value_name = "FILE")]
    pub forgejo_ca_cert: Option<PathBuf>,
}

impl ForgejoFlags {
    /// The client when both address and token are given, `None` when either is not.
    pub fn client_if_given(&self) -> Result<Option<crate::forgejo_client::Forgejo>, Error> {
        match given(&self.forgejo_url) && given(&self.forgejo_token) {
            true => self.client().map(Some),
            false => Ok(None),
        }
    }

    /// The client, or the error naming the missing flag.
    pub fn client(&self) -> Result<crate::forgejo_client::Forgejo, Error> {
        let url = required(&self.forgejo_url, "--forgejo-url (FORGEJO_URL)")?;
        let token = required(&self.forgejo_token, "--forgejo-token (FORGEJO_TOKEN)")?;
        Ok(crate::forgejo_client::Forgejo::reached(url, token.to_owned().into(), &self.reach.reach()?)?)
    }
}

impl ForgejoReachArgs {
    /// The [`crate::forgejo_client::Reach`], the CA file read (an unreadable one is an error naming it).
    pub fn reach(&self) -> Result<crate::forgejo_client::Reach, Error> {
        let ca_pem = match &self.forgejo_ca_cert {
            Some(path) => Some(std::fs::read(path).map_err(|source| Error::Io {
                what: format!("--forgejo-ca-cert {}: cannot read it", path.display()),
                source,
            })?),
            None => None,
        };
        Ok(crate::forgejo_client::Reach { resolve: self.forgejo_resolve.clone(), ca_pem })
    }
}

/// Woodpecker's address and token.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
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
    pub fn client_if_given(&self) -> Result<Option<crate::woodpecker_client::Woodpecker>, Error> {
        match given(&self.woodpecker_url) && given(&self.woodpecker_token) {
            true => self.client().map(Some),
            false => Ok(None),
        }
    }

    /// The client, or the error naming the missing flag.
    pub fn client(&self) -> Result<crate::woodpecker_client::Woodpecker, Error> {
        let url = required(&self.woodpecker_url, "--woodpecker-url (WOODPECKER_URL)")?;
        let token = required(&self.woodpecker_token, "--woodpecker-token (WOODPECKER_TOKEN)")?;
        Ok(crate::woodpecker_client::Woodpecker::new(url, token.to_owned().into())?)
    }
}

/// How to log in to a registry, as docker does: a user and a password (or token), else the docker
/// config's entry for the registry, else anonymous.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
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
    pub fn credentials(&self, registry: &str) -> Result<crate::ghcr_client::registry::Credentials, Error> {
        let password = if self.password_stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_line(&mut text)
                .map_err(|source| Error::Io { what: "cannot read the password from stdin".into(), source })?;
            Some(text.trim_end_matches(['\r', '\n']).to_owned())
        } else {
            self.password.clone()
        };
        resolve_login(self.username.as_deref(), password, self.docker_config.as_deref(), registry)
    }

    /// `Some(true)` when plain HTTP was asked for; else docker's rule (plain HTTP for loopback only).
    pub fn plain_http(&self) -> Option<bool> {
        self.plain_http.then_some(true)
    }
}

/// Credentials for `registry` from a `USER:PASSWORD` flag (`flag` names it in the error), else the docker
/// config's entry or helper in `docker_config` (default `~/.docker`), else anonymous.
pub fn user_password_or_docker_config(
    flag: &str,
    pair: Option<&str>,
    docker_config: Option<&std::path::Path>,
    registry: &str,
) -> Result<crate::ghcr_client::registry::Credentials, Error> {
    let (user, password) = match pair.filter(|p| !p.is_empty()) {
        Some(pair) => {
            let (user, password) =
                pair.split_once(':').ok_or_else(|| Error::invalid(format!("{flag}: expected USER:PASSWORD")))?;
            (Some(user), Some(password.to_owned()))
        }
        None => (None, None),
    };
    resolve_login(user, password, docker_config, registry)
}

/// The credentials of one side of a copy: for a registry, [`user_password_or_docker_config`] for its API
/// host; a layout needs none.
pub fn endpoint_credentials(
    endpoint: &crate::copy::Endpoint,
    flag: &str,
    pair: Option<&str>,
    docker_config: Option<&std::path::Path>,
) -> Result<crate::ghcr_client::registry::Credentials, Error> {
    match endpoint {
        crate::copy::Endpoint::Registry(image) => {
            user_password_or_docker_config(flag, pair, docker_config, image.api_host())
        }
        crate::copy::Endpoint::Layout { .. } => Ok(crate::ghcr_client::registry::Credentials::Anonymous),
    }
}

/// A user and password as given, else the docker config's entry or helper for `registry` in
/// `docker_config` (default `~/.docker`), else anonymous: docker's order.
fn resolve_login(
    username: Option<&str>,
    password: Option<String>,
    docker_config: Option<&std::path::Path>,
    registry: &str,
) -> Result<crate::ghcr_client::registry::Credentials, Error> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker"));
    let dir = docker_config.or(home.as_deref());
    Ok(crate::ghcr_client::registry::Credentials::resolve(username, password.map(Into::into), dir, registry)?)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::*;

    #[derive(Parser, Debug)]
    struct Flow {
        #[command(flatten)]
        flow: flow::FlowArgs,
        #[command(flatten)]
        output: Output,
    }

    #[derive(Parser, Debug)]
    struct Groups {
        #[command(flatten)]
        onboard: onboard::OnboardArgs,
        #[command(flatten)]
        output: Output,
    }

    #[derive(Parser, Debug)]
    struct Others {
        #[command(flatten)]
        doctor: doctor::DoctorArgs,
    }

    #[derive(Parser, Debug)]
    struct Trigger {
        #[command(flatten)]
        trigger: deploy::TriggerArgs,
    }

    #[derive(Parser, Debug)]
    struct Prune {
        #[command(flatten)]
        retention: prune::RetentionArgs,
    }

    #[derive(Parser, Debug)]
    struct Push {
        #[command(flatten)]
        push: push::PushArgs,
        #[command(flatten)]
        output: Output,
    }

    #[derive(Parser, Debug)]
    struct Sync {
        #[command(flatten)]
        sync: secrets::SyncSecretsArgs,
        #[command(flatten)]
        output: Output,
    }

    #[test]
    fn generate_prints_completions_and_man_pages_before_checking_other_flags() {
        let command = with_generate(Flow::command().name("flow"));
        let args = |list: &[&str]| list.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let mut out = Vec::new();
        assert_eq!(generate(&command, &args(&["flow", "--generate", "bash"]), &mut out), Some(ExitCode::SUCCESS));
        let bash = String::from_utf8(out).unwrap();
        assert!(bash.contains("--forgejo-url") && bash.contains("complete"), "{bash}");
        let mut out = Vec::new();
        assert_eq!(generate(&command, &args(&["flow", "--generate=man"]), &mut out), Some(ExitCode::SUCCESS));
        let man = String::from_utf8(out).unwrap();
        assert!(man.starts_with(".ie") || man.contains(".TH flow"), "{man}");
        assert!(man.contains("forgejo\\-url"), "{man}");
        assert_eq!(
            generate(&command, &args(&["flow", "--generate", "tcsh"]), &mut Vec::new()),
            Some(ExitCode::from(2))
        );
        assert_eq!(generate(&command, &args(&["flow", "--dry-run"]), &mut Vec::new()), None, "not asked");
        command.debug_assert();
    }

    #[test]
    fn every_group_flattens_into_a_command_without_clashes() {
        // clap's own consistency checks: duplicate ids or flags, bad defaults, broken `requires`.
        Flow::command().debug_assert();
        Groups::command().debug_assert();
        Others::command().debug_assert();
        Trigger::command().debug_assert();
        Prune::command().debug_assert();
        Push::command().debug_assert();
        Sync::command().debug_assert();
    }

    #[tokio::test]
    async fn forgejo_is_reached_through_a_resolve_override_with_tls_checking_the_public_name() {
        // Forgejo answers on 127.0.0.1 with a certificate for its public name only (and the test CA).
        let name = "forgejo.offinfra.test";
        let forgejo = offinfra_test_support::tls::serve_as(name, 200, &[], r#"{"version": "11.0.1+gitea-1.22.0"}"#);
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), &forgejo.ca_pem).unwrap();
        let url = format!("https://{name}:{}", forgejo.port);
        #[derive(Parser)]
        struct F {
            #[command(flatten)]
            forgejo: ForgejoFlags,
        }
        let flags = |extra: &[&str]| {
            let args = [&["f", "--forgejo-url", url.as_str(), "--forgejo-token", "t"][..], extra].concat();
            F::try_parse_from(args).expect("flags parse").forgejo
        };
        let resolve = format!("{name}:{}:127.0.0.1", forgejo.port);
        let ca_path = ca.path().to_str().unwrap();
        // Reached at the override's address, the certificate checked against the public name.
        let reached = flags(&["--forgejo-resolve", &resolve, "--forgejo-ca-cert", ca_path]).client().unwrap();
        assert_eq!(reached.version().await.unwrap().raw, "11.0.1+gitea-1.22.0");
        // Without the override the name does not resolve; without the CA the certificate is refused.
        assert!(flags(&["--forgejo-ca-cert", ca_path]).client().unwrap().version().await.is_err());
        assert!(flags(&["--forgejo-resolve", &resolve]).client().unwrap().version().await.is_err());
        // An override for another host or port would silently not apply: it is an error.
        let other = format!("{name}:1:127.0.0.1");
        let err = flags(&["--forgejo-resolve", &other]).client().unwrap_err();
        assert!(err.to_string().contains("does not match Forgejo's address"), "{err}");
        assert!(F::try_parse_from(["f", "--forgejo-resolve", "forgejo:443"]).is_err(), "curl's syntax");
    }

    #[test]
    fn a_blank_variable_is_no_value() {
        #[derive(clap::Parser)]
        struct Typed {
            #[arg(long, env = "OFFINFRA_TEST_BLANK_REPO")]
            repo: Option<crate::types::RepoName>,
        }
        // A name no other test uses: the variable is this test's own.
        std::env::set_var("OFFINFRA_TEST_BLANK_REPO", "");
        let parse = |command: clap::Command| {
            command.try_get_matches_from(["typed"]).and_then(|mut m| Typed::from_arg_matches_mut(&mut m))
        };
        assert!(parse(Typed::command()).is_err(), "clap alone parses the empty value, and fails");
        assert!(parse(blank_env_is_unset(Typed::command())).unwrap().repo.is_none());
        std::env::set_var("OFFINFRA_TEST_BLANK_REPO", "viktor/app");
        let set = parse(blank_env_is_unset(Typed::command())).unwrap();
        assert_eq!(set.repo.map(|r| r.to_string()).as_deref(), Some("viktor/app"));
    }

    #[test]
    fn flow_flags_become_the_config_and_a_bad_input_names_itself() {
        let parsed = Flow::try_parse_from([
            "flow",
            "--repo",
            "ViktorBarzin/app",
            "--forgejo-repo",
            "viktor/app",
            "--image",
            "ghcr.io/viktorbarzin/app",
            "--sha",
            "0123456789abcdef",
            "--skip-prune",
            "--keep",
            "3",
            "--dry-run",
        ])
        .expect("flags parse");
        let config = parsed.flow.config(".".into(), parsed.output.dry_run).expect("a config");
        assert_eq!(config.repo.map(|r| r.to_string()).as_deref(), Some("ViktorBarzin/app"));
        assert_eq!(config.forgejo_repo.map(|r| r.to_string()).as_deref(), Some("viktor/app"));
        assert_eq!(config.image.map(|i| i.to_string()).as_deref(), Some("ghcr.io/viktorbarzin/app"));
        assert!(config.steps.tag && config.steps.push && !config.steps.prune && config.steps.deploy);
        assert_eq!((config.keep, config.local_fallback), (3, true));
        assert_eq!(config.extra_tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(), ["latest"]);

        // Parsed at the clap edge: a usage error (exit 2) naming the flag and the input, as in push-image.
        for (flag, bad) in [("--image", "ghcr.io/Owner/App:tag"), ("--repo", "app"), ("--sha", "xyz"), ("--tag", "a/b")]
        {
            let error = Flow::try_parse_from(["flow", flag, bad]).expect_err("a usage error");
            assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation, "{flag} {bad}");
            assert!(error.to_string().contains(bad) && error.to_string().contains(flag), "{error}");
        }
    }

    #[test]
    fn trigger_variables_are_checked_whichever_way_they_come() {
        let parse = |args: &[&str]| {
            Trigger::try_parse_from(
                [&["trigger", "--woodpecker-url", "http://127.0.0.1:1", "--token", "t", "--repo-id", "1"], args]
                    .concat(),
            )
        };
        let ok = parse(&["--var", "A=1", "--image-tag", "0123abcd", "--image-name", "ghcr.io/o/app"]).expect("parse");
        let vars = ok.trigger.variables().expect("variables");
        assert_eq!(vars.get("A").map(String::as_str), Some("1"));
        assert_eq!(vars.get("IMAGE_TAG").map(String::as_str), Some("0123abcd"));
        for (args, named) in [
            (&["--var", "NOEQUALS"][..], "NOEQUALS"),
            (&["--var", "IMAGE_NAME=Not An Image"][..], "IMAGE_NAME"),
            (&["--image-tag", "bad tag"][..], "IMAGE_TAG"),
        ] {
            let error = parse(args).expect("parse").trigger.variables().expect_err("refused");
            assert!(error.to_string().contains(named), "{args:?}: {error}");
        }
        assert!(ok.trigger.wait().is_none(), "no --wait, no wait");
    }

    #[test]
    fn retention_keeps_latest_and_named_tags_and_refuses_a_bad_pause() {
        let parsed = Prune::try_parse_from(["p", "--keep-tag", "stable", "--keep", "4", "--pause=-1"]).expect("parse");
        let options = parsed.retention.options().expect("options");
        assert_eq!(options.keep, 4);
        assert!(options.always_keep_tags.iter().any(|t| t == "latest"), "{:?}", options.always_keep_tags);
        assert!(options.always_keep_tags.iter().any(|t| t == "stable"), "{:?}", options.always_keep_tags);
        let error = parsed.retention.pause().expect_err("a negative pause");
        assert!(error.to_string().contains("--pause -1"), "{error}");
        for huge in ["1e20", "inf", "NaN", "1.8446744073709552e19"] {
            let parsed = Prune::try_parse_from(["p", &format!("--pause={huge}")]).expect("parse");
            let error = parsed.retention.pause().expect_err("a pause no Duration holds");
            assert!(error.to_string().contains("--pause"), "{huge}: {error}");
        }
        let fine = Prune::try_parse_from(["p", "--pause=0.25"]).expect("parse");
        assert_eq!(fine.retention.pause().unwrap(), std::time::Duration::from_millis(250));
        let bad_regex = Prune::try_parse_from(["p", "--protect-tags", "("]).expect("parse");
        assert!(bad_regex.retention.options().is_err(), "a broken --protect-tags is an error");
    }

    #[test]
    fn push_needs_a_tag_and_holds_the_sha_to_its_rule() {
        let parse = |args: &[&str]| {
            Push::try_parse_from([&["push", "--layout", "x", "--repository", "127.0.0.1:5000/o/app"], args].concat())
        };
        let none = parse(&[]).expect("parse");
        if std::env::var_os("PLUGIN_TAGS").is_none() && std::env::var_os("GITHUB_SHA").is_none() {
            assert!(none.push.tags().is_err(), "nothing to tag is an error");
        }
        let tags = parse(&["--tag", "v1", "--sha", "0123456789abcdef"]).expect("parse").push.tags().expect("tags");
        assert_eq!(tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(), ["v1", "01234567"]);
        assert!(parse(&["--tag", "v1", "--sha", "xyz"]).expect("parse").push.tags().is_err());
    }

    #[test]
    fn sync_secrets_needs_a_vault_login() {
        let parsed = Sync::try_parse_from([
            "s",
            "--vault-url",
            "http://127.0.0.1:1",
            "--path",
            "ci/global",
            "--woodpecker-url",
            "http://127.0.0.1:2",
            "--woodpecker-token",
            "t",
            "--prune",
            "--global",
        ])
        .expect("parse");
        // The scope is a choice: global secrets reach every repository, so they are never a default.
        let base = [
            "s",
            "--vault-url",
            "http://127.0.0.1:1",
            "--path",
            "p",
            "--woodpecker-url",
            "u",
            "--woodpecker-token",
            "t",
        ];
        let error = Sync::try_parse_from(base).expect_err("no scope");
        assert_eq!(error.kind(), clap::error::ErrorKind::MissingRequiredArgument, "{error}");
        assert!(Sync::try_parse_from(base.iter().chain(&["--org", "acme"])).is_ok());
        assert!(Sync::try_parse_from(base.iter().chain(&["--org", "acme", "--global"])).is_err(), "one scope");
        if std::env::var_os("VAULT_TOKEN").is_none() && std::env::var_os("VAULT_K8S_ROLE").is_none() {
            let error = parsed.sync.vault().expect_err("no token, no role");
            assert!(error.to_string().contains("VAULT_TOKEN"), "{error}");
        }
        assert!(matches!(parsed.sync.prune(), crate::secrets::Prune::On));
    }
}
