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

use std::{path::PathBuf, process::ExitCode};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use offinfra::{
    cli::svu::{go_bool, report, VersionCommand},
    svu::config,
};

#[derive(Parser, Debug)]
#[command(
    name = "svu",
    version = offinfra::VERSION,
    disable_version_flag = true,
    about = "semantic version utility",
    long_about = "svu: semantic version utility.\n\nComputes the next version of a git repository from its tags and the conventional commits since the latest one.",
    after_help = "Examples:\n  svu next                 # v1.3.0\n  svu current --json       # {\"version\":\"v1.2.3\",\"major\":1,...}\n  svu next --github-output version"
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

// Parsed once per run: the variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    #[command(flatten)]
    Version(VersionCommand),
    /// creates a config file (--config) with the default settings
    #[command(visible_alias = "i")]
    Init,
    /// generate the autocompletion script for the specified shell
    Completion {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    offinfra::cli::init_logging();
    offinfra::ci::mask_secrets(|name| std::env::var(name).ok().filter(|v| !v.is_empty()), &mut std::io::stderr());
    let (args, command) = (std::env::args_os().collect::<Vec<_>>(), offinfra::cli::with_generate(Cli::command()));
    if let Some(code) = offinfra::cli::generate(&command, &args, &mut std::io::stdout()) {
        return code;
    }
    let parsed = command.try_get_matches_from(&args).and_then(|mut m| Cli::from_arg_matches_mut(&mut m));
    let cli = match parsed {
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
        Some(Command::Version(command)) => command.resolve(cli.verbose),
    };
    let computed = config::compute(&cwd, &cli.config, flags, action, |name| std::env::var(name).ok())
        .map_err(|e| e.to_string())?;
    report(&computed, common.github_output.as_deref(), &mut std::io::stdout().lock())
}
