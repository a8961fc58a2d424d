//! `svu`: a drop-in for the svu v3 command line (semantic version from conventional commits).
//!
//! ```text
//! svu next                 # v1.3.0
//! svu current --json       # {"version":"v1.2.3","major":1,...}
//! svu next --github-output version
//! ```
//!
//! Differences from svu v3.4.1, on purpose: `--tag.output` replaces the printed prefix; the command line
//! beats the configuration file and `SVU_*` variables; a shallow clone that cannot see the answer is an
//! error. Additions: `--strict` (Conventional Commits grammar) and `--github-output NAME`.

use std::{io::Write, path::PathBuf, process::ExitCode};

use clap::{Args, CommandFactory, Parser, Subcommand};
use offinfra::svu::{
    config::{self, SearchPath, Settings},
    Action, Repository, VersionInfo,
};

#[derive(Parser, Debug)]
#[command(
    name = "svu",
    version,
    disable_version_flag = true,
    about = "semantic version utility",
    long_about = "svu: semantic version utility.\n\nComputes the next version of a git repository from its tags and the conventional commits since the latest one."
)]
struct Cli {
    /// print version
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
    /// enable logs (to stderr)
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    verbose: Option<bool>,
    /// config file, searched by its name in its directory, the git root, the user config dir and $HOME
    #[arg(long, global = true, default_value = ".svu.yml", value_name = "FILE")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// prints the next version based on the git log
    #[command(visible_alias = "n")]
    Next(NextArgs),
    /// new major version
    Major(VersionArgs),
    /// new minor version
    #[command(visible_alias = "m")]
    Minor(VersionArgs),
    /// new patch version
    #[command(visible_alias = "p")]
    Patch(VersionArgs),
    /// prints current version
    #[command(visible_alias = "c")]
    Current(VersionArgs),
    /// new pre release version based on the next version calculated from git log
    #[command(visible_alias = "pr")]
    Prerelease(PrereleaseArgs),
    /// creates a config file (--config) with the default settings
    #[command(visible_alias = "i")]
    Init,
    /// generate the autocompletion script for the specified shell
    Completion {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug)]
struct VersionArgs {
    /// sets the tag prefix
    #[arg(long = "tag.prefix", value_name = "PREFIX")]
    tag_prefix: Option<String>,
    /// ignore tags that do not match the given glob pattern
    #[arg(long = "tag.pattern", value_name = "GLOB")]
    tag_pattern: Option<String>,
    /// determine if it should look for tags in all branches ("all"), or only in the current one ("current")
    #[arg(long = "tag.mode", value_name = "MODE")]
    tag_mode: Option<String>,
    /// prefix of the printed version (default: --tag.prefix)
    #[arg(long = "tag.output", value_name = "PREFIX")]
    tag_output: Option<String>,
    /// sets the version prerelease (or, for prerelease, the name to count)
    #[arg(long, value_name = "PRERELEASE")]
    prerelease: Option<String>,
    /// sets the version metadata
    #[arg(long, value_name = "METADATA")]
    metadata: Option<String>,
    /// print the version as JSON
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    json: Option<bool>,
    /// classify commits by the Conventional Commits 1.0 grammar instead of svu's substring matching
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    strict: Option<bool>,
    /// also append NAME=<version> to the file named by $GITHUB_OUTPUT
    #[arg(long = "github-output", value_name = "NAME")]
    github_output: Option<String>,
    /// ignored, as svu ignores extra arguments
    #[arg(hide = true)]
    extra: Vec<String>,
}

#[derive(Args, Debug)]
struct NextArgs {
    #[command(flatten)]
    common: VersionArgs,
    /// only use commits that changed files in the given directories (repeat or comma-separate)
    #[arg(long = "log.directory", value_delimiter = ',', value_name = "DIR")]
    log_directory: Vec<String>,
    /// if no commits trigger a version change, increment the patch
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    always: Option<bool>,
    /// prevent major version increments if current version is still v0
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    v0: Option<bool>,
}

#[derive(Args, Debug)]
struct PrereleaseArgs {
    #[command(flatten)]
    common: VersionArgs,
    /// only use commits that changed files in the given directories (repeat or comma-separate)
    #[arg(long = "log.directory", value_delimiter = ',', value_name = "DIR")]
    log_directory: Vec<String>,
}

fn go_bool(value: &str) -> Result<bool, String> {
    config::parse_bool(value).ok_or_else(|| format!("invalid boolean {value:?} (use true or false)"))
}

impl VersionArgs {
    fn settings(&self, verbose: Option<bool>) -> Settings {
        Settings {
            verbose,
            tag_prefix: self.tag_prefix.clone(),
            tag_pattern: self.tag_pattern.clone(),
            tag_mode: self.tag_mode.clone(),
            tag_output: self.tag_output.clone(),
            prerelease: self.prerelease.clone(),
            metadata: self.metadata.clone(),
            json: self.json,
            strict: self.strict,
            ..Settings::default()
        }
    }
}

fn non_empty(dirs: &[String]) -> Option<Vec<String>> {
    (!dirs.is_empty()).then(|| dirs.to_vec())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // svu exits 1 on every error, usage errors included; help and version are successes.
            return if e.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let (action, common, flags) = match &cli.command {
        None => {
            Cli::command().print_long_help().map_err(|e| e.to_string())?;
            return Ok(());
        }
        Some(Command::Init) => {
            let path = cwd.join(&cli.config);
            return std::fs::write(&path, config::INIT_TEMPLATE)
                .map_err(|e| format!("cannot write {}: {e}", path.display()));
        }
        Some(Command::Completion { shell }) => {
            clap_complete::generate(*shell, &mut Cli::command(), "svu", &mut std::io::stdout());
            return Ok(());
        }
        Some(Command::Next(a)) => (
            Action::Next,
            &a.common,
            Settings {
                directories: non_empty(&a.log_directory),
                always: a.always,
                v0: a.v0,
                ..a.common.settings(cli.verbose)
            },
        ),
        Some(Command::Prerelease(a)) => (
            Action::Prerelease,
            &a.common,
            Settings { directories: non_empty(&a.log_directory), ..a.common.settings(cli.verbose) },
        ),
        Some(Command::Major(a)) => (Action::Major, a, a.settings(cli.verbose)),
        Some(Command::Minor(a)) => (Action::Minor, a, a.settings(cli.verbose)),
        Some(Command::Patch(a)) => (Action::Patch, a, a.settings(cli.verbose)),
        Some(Command::Current(a)) => (Action::Current, a, a.settings(cli.verbose)),
    };

    let repo = Repository::discover(&cwd);
    let env_path = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = env_path("HOME");
    let search = SearchPath {
        config: cli.config.clone(),
        cwd: cwd.clone(),
        git_root: repo.as_ref().ok().and_then(|r| r.workdir().map(PathBuf::from)),
        user_config_dir: env_path("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config"))),
        home,
    };
    // As in svu, SVU_* variables are read only when a configuration file was found.
    let settings = match search.find() {
        Some(path) => {
            let file = config::load_file(&path).map_err(|e| e.to_string())?;
            let env = config::from_env(|name| std::env::var(name).ok()).map_err(|e| e.to_string())?;
            flags.or(env).or(file)
        }
        None => flags,
    };
    let opts = settings.to_options(action).map_err(|e| e.to_string())?;
    let repo = repo.map_err(|e| e.to_string())?;
    let outcome = repo.compute(&opts).map_err(|e| e.to_string())?;
    if settings.verbose.unwrap_or(false) {
        if let Some(line) = outcome.explain(&opts) {
            eprintln!("{line}");
        }
    }

    let prefix = settings.output_prefix();
    let printed = format!("{prefix}{}", outcome.version);
    if let Some(name) = &common.github_output {
        append_github_output(name, &printed)?;
    }
    let line =
        if settings.json.unwrap_or(false) { VersionInfo::new(&outcome.version, prefix).to_json() } else { printed };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").and_then(|()| stdout.flush()).map_err(|e| format!("cannot write to stdout: {e}"))
}

fn append_github_output(name: &str, value: &str) -> Result<(), String> {
    let path = std::env::var_os("GITHUB_OUTPUT").filter(|v| !v.is_empty()).ok_or_else(|| {
        format!("--github-output {name}: $GITHUB_OUTPUT is not set (it is set inside GitHub Actions jobs)")
    })?;
    offinfra::ci::append_output(std::path::Path::new(&path), name, value)
        .map_err(|e| format!("--github-output {name}: {e}"))
}
