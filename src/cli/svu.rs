//! svu's command-line flags (svu v3's names), shared by the `svu` and `release-tag` examples.

use clap::Args;

use crate::svu::{
    config::{self, Settings},
    Action,
};

/// The flags every svu command takes.
#[derive(Args, Debug)]
#[non_exhaustive]
pub struct VersionArgs {
    /// sets the tag prefix
    #[arg(long = "tag.prefix", value_name = "PREFIX")]
    pub tag_prefix: Option<String>,
    /// ignore tags that do not match the given glob pattern
    #[arg(long = "tag.pattern", value_name = "GLOB")]
    pub tag_pattern: Option<String>,
    /// determine if it should look for tags in all branches ("all"), or only in the current one ("current")
    #[arg(long = "tag.mode", value_name = "MODE")]
    pub tag_mode: Option<String>,
    /// prefix of the printed version (default: --tag.prefix)
    #[arg(long = "tag.output", value_name = "PREFIX")]
    pub tag_output: Option<String>,
    /// sets the version prerelease (or, for prerelease, the name to count)
    #[arg(long, value_name = "PRERELEASE")]
    pub prerelease: Option<String>,
    /// sets the version metadata
    #[arg(long, value_name = "METADATA")]
    pub metadata: Option<String>,
    /// print the version as JSON
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub json: Option<bool>,
    /// classify commits by the Conventional Commits 1.0 grammar instead of svu's substring matching
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub strict: Option<bool>,
    /// also append NAME=<version> to the file named by $GITHUB_OUTPUT
    #[arg(long = "github-output", value_name = "NAME")]
    pub github_output: Option<String>,
    /// ignored, as svu ignores extra arguments
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

/// The flags of `svu next` (and `release-tag`).
#[derive(Args, Debug)]
#[non_exhaustive]
pub struct NextArgs {
    /// The flags every command takes.
    #[command(flatten)]
    pub common: VersionArgs,
    /// only use commits that changed files in the given directories (repeat or comma-separate)
    #[arg(long = "log.directory", value_delimiter = ',', value_name = "DIR")]
    pub log_directory: Vec<String>,
    /// if no commits trigger a version change, increment the patch
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub always: Option<bool>,
    /// prevent major version increments if current version is still v0
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub v0: Option<bool>,
}

/// The flags of `svu prerelease`.
#[derive(Args, Debug)]
#[non_exhaustive]
pub struct PrereleaseArgs {
    /// The flags every command takes.
    #[command(flatten)]
    pub common: VersionArgs,
    /// only use commits that changed files in the given directories (repeat or comma-separate)
    #[arg(long = "log.directory", value_delimiter = ',', value_name = "DIR")]
    pub log_directory: Vec<String>,
}

/// Go's `strconv.ParseBool`, as svu's flags take booleans (`--json=false`).
pub fn go_bool(value: &str) -> Result<bool, String> {
    config::parse_bool(value).ok_or_else(|| format!("invalid boolean {value:?} (use true or false)"))
}

impl VersionArgs {
    /// The settings these flags give, `verbose` being the global `--verbose`.
    pub fn settings(&self, verbose: Option<bool>) -> Settings {
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

impl NextArgs {
    /// The settings these flags give `next` (and `release-tag`).
    pub fn settings(&self, verbose: Option<bool>) -> Settings {
        Settings {
            directories: non_empty(&self.log_directory),
            always: self.always,
            v0: self.v0,
            ..self.common.settings(verbose)
        }
    }
}

impl PrereleaseArgs {
    /// The settings these flags give `prerelease`.
    pub fn settings(&self, verbose: Option<bool>) -> Settings {
        Settings { directories: non_empty(&self.log_directory), ..self.common.settings(verbose) }
    }
}

fn non_empty(dirs: &[String]) -> Option<Vec<String>> {
    (!dirs.is_empty()).then(|| dirs.to_vec())
}

/// svu's version commands, as `svu` names them (with its aliases).
#[derive(clap::Subcommand, Debug)]
pub enum VersionCommand {
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
}

impl VersionCommand {
    /// The action, the flags every command takes, and the settings the command's flags give.
    pub fn resolve(&self, verbose: Option<bool>) -> (Action, &VersionArgs, Settings) {
        match self {
            Self::Next(a) => (Action::Next, &a.common, a.settings(verbose)),
            Self::Prerelease(a) => (Action::Prerelease, &a.common, a.settings(verbose)),
            Self::Major(a) => (Action::Major, a, a.settings(verbose)),
            Self::Minor(a) => (Action::Minor, a, a.settings(verbose)),
            Self::Patch(a) => (Action::Patch, a, a.settings(verbose)),
            Self::Current(a) => (Action::Current, a, a.settings(verbose)),
        }
    }
}

/// What `svu` prints for `computed`: the verbose line on stderr, the version (or its JSON) on `out`, and
/// the version as the step output `github_output` when given (an error outside GitHub Actions).
pub fn report(
    computed: &crate::svu::config::Computed,
    github_output: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    if let Some(line) = computed.verbose_line() {
        eprintln!("{line}");
    }
    let printed = computed.printed();
    if let Some(name) = github_output {
        let outputs = crate::ci::Outputs::from_env();
        if !outputs.in_actions() {
            return Err(format!(
                "--github-output {name}: $GITHUB_OUTPUT is not set (it is set inside GitHub Actions jobs)"
            ));
        }
        outputs.set(name, &printed).map_err(|e| format!("--github-output {name}: {e}"))?;
    }
    let line = match computed.settings.json.unwrap_or(false) {
        true => crate::svu::VersionInfo::new(&computed.outcome.version, computed.settings.output_prefix()).to_json(),
        false => printed,
    };
    writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| format!("cannot write to stdout: {e}"))
}
