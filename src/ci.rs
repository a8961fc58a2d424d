//! CI-step conventions shared by the example binaries: GitHub Actions outputs and step summaries, and the exit
//! codes (0 success, 1 failure, 2 usage).

use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// GitHub Actions workflow commands: `::group::`/`::endgroup::` around the parts of a step's log,
/// `::error::`, `::warning::` and `::notice::` annotations (with `file=` and `line=` when a finding has
/// them). Written to stderr (stdout carries what a step captures) and only inside Actions
/// (`GITHUB_ACTIONS=true`): elsewhere every method does nothing. Messages are escaped as the runner
/// expects, so no text can end one command and start another.
///
/// ```
/// use offinfra::ci::{command, Annotation};
///
/// assert_eq!(
///     command(Annotation::Error, Some(("deploy.yml", 7)), "unquoted\ncommand 100%"),
///     "::error file=deploy.yml,line=7::unquoted%0Acommand 100%25"
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Actions {
    enabled: bool,
}

/// The kind of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Annotation {
    /// `::error::`: fails are shown in red on the run's page.
    Error,
    /// `::warning::`.
    Warning,
    /// `::notice::`: a result worth seeing (the tag created, the digest pushed).
    Notice,
}

/// The workflow command line for an annotation at an optional `(file, line)`.
pub fn command(kind: Annotation, at: Option<(&str, u32)>, message: &str) -> String {
    let name = match kind {
        Annotation::Error => "error",
        Annotation::Warning => "warning",
        Annotation::Notice => "notice",
    };
    match at {
        Some((file, line)) => format!("::{name} file={},line={line}::{}", escape_property(file), escape_data(message)),
        None => format!("::{name}::{}", escape_data(message)),
    }
}

/// A workflow command's message: `%`, CR and LF escaped.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value: [`escape_data`] plus `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

impl Actions {
    /// Enabled inside GitHub Actions (`GITHUB_ACTIONS=true`).
    pub fn from_env() -> Self {
        Self::new(std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true"))
    }

    /// Enabled or not, as told.
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }

    /// Whether commands are written.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn emit(&self, line: &str) {
        if self.enabled {
            eprintln!("{line}");
        }
    }

    /// Asks the runner to hide `secret` (each of its lines) wherever it would appear in the log: for
    /// secrets read from places other than [`SECRET_VARIABLES`] (a secrets file, a variable named by a flag).
    pub fn mask(&self, secret: &str) {
        for line in secret.lines().map(str::trim).filter(|l| !l.is_empty()) {
            self.emit(&format!("::add-mask::{line}"));
        }
    }

    /// Starts a collapsible group titled `title`.
    pub fn group(&self, title: &str) {
        self.emit(&format!("::group::{}", escape_data(title)));
    }

    /// Ends the group.
    pub fn endgroup(&self) {
        self.emit("::endgroup::");
    }

    /// An annotation of `kind`, at `(file, line)` when given.
    pub fn annotate(&self, kind: Annotation, at: Option<(&str, u32)>, message: &str) {
        self.emit(&command(kind, at, message));
    }

    /// An `::error::` annotation.
    pub fn error(&self, message: &str, at: Option<(&str, u32)>) {
        self.annotate(Annotation::Error, at, message);
    }

    /// A `::warning::` annotation.
    pub fn warning(&self, message: &str) {
        self.annotate(Annotation::Warning, None, message);
    }

    /// A `::notice::` annotation.
    pub fn notice(&self, message: &str) {
        self.annotate(Annotation::Notice, None, message);
    }
}

/// What a step changed, for the run's page (inside Actions only): a `::notice::` with `notice`, and a
/// step summary section `### title` with `rows`.
pub fn report_change(title: &str, notice: &str, rows: &[(&str, String)]) -> Result<(), crate::Error> {
    Actions::from_env().notice(notice);
    summary_table(title, rows)
}

/// Appends `### title` and a two-column table of `rows` to the step summary, when there is one (inside
/// Actions): what a step changed, on the run's page. Cells are escaped for Markdown tables.
pub fn summary_table(title: &str, rows: &[(&str, String)]) -> Result<(), crate::Error> {
    let cell = |text: &str| neutralise(text).replace('|', "\\|").replace('\n', "<br>");
    let mut markdown = format!("### {}\n\n| | |\n|---|---|\n", cell(title));
    for (name, value) in rows {
        markdown += &format!("| {} | {} |\n", cell(name), cell(value));
    }
    Outputs::from_env().summary(&markdown)
}

pub use crate::error::neutralise;

/// The environment variables the examples read secrets from (tokens, passwords, the Slack webhook).
pub const SECRET_VARIABLES: &[&str] = &[
    "GITHUB_TOKEN",
    "SRC_CREDS",
    "DEST_CREDS",
    "FROM_CREDS",
    "WOODPECKER_GITHUB_TOKEN",
    "PLUGIN_PASSWORD",
    "PLUGIN_WOODPECKER_TOKEN",
    "PLUGIN_SLACK_WEBHOOK",
    "FORGEJO_TOKEN",
    "FORGEJO_GIT_TOKEN",
    "WOODPECKER_TOKEN",
    "PLUGIN_TOKEN",
    "VAULT_TOKEN",
    "REGISTRY_PASSWORD",
    "GITHUB_MIRROR_TOKEN",
    "SLACK_WEBHOOK",
];

/// Inside GitHub Actions (`GITHUB_ACTIONS=true`), writes `::add-mask::<value>` for the value of each of
/// [`SECRET_VARIABLES`] that is set (each line of a multi-line value), so the runner hides it wherever it
/// would appear in the log, even a secret that did not come from `secrets.*`. Outside Actions it writes
/// nothing. The examples call it first, with stderr: stdout carries the data a step captures
/// (`digest=$(push-image …)`), and the runner reads workflow commands from both streams.
pub fn mask_secrets(var: impl Fn(&str) -> Option<String>, out: &mut impl Write) {
    if var("GITHUB_ACTIONS").as_deref() != Some("true") {
        return;
    }
    for name in SECRET_VARIABLES {
        let Some(value) = var(name) else { continue };
        for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let _ = writeln!(out, "::add-mask::{line}");
        }
    }
}

/// Where a GitHub Actions step leaves its results: the `$GITHUB_OUTPUT` file (`name=value` pairs that
/// later steps read as `steps.<id>.outputs.<name>`) and the `$GITHUB_STEP_SUMMARY` file (Markdown shown on
/// the run's page). Outside Actions neither is set and writing is a no-op.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let outputs = offinfra::ci::Outputs::new(Some(dir.path().join("out")), None);
/// outputs.set_all([("version", "1.3.0"), ("tag", "v1.3.0")])?;
/// outputs.summary("| step | result |")?; // no summary file: nothing written
/// assert_eq!(std::fs::read_to_string(dir.path().join("out"))?, "version=1.3.0\ntag=v1.3.0\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outputs {
    output: Option<PathBuf>,
    summary: Option<PathBuf>,
}

impl Outputs {
    /// Outputs to these files (`None`: that kind is not written).
    pub fn new(output: Option<PathBuf>, summary: Option<PathBuf>) -> Self {
        Self { output, summary }
    }

    /// The files GitHub Actions names in `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` (empty values count as
    /// unset).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Self::new(var("GITHUB_OUTPUT"), var("GITHUB_STEP_SUMMARY"))
    }

    /// Whether there is an output file to write to (inside an Actions job, there is).
    pub fn in_actions(&self) -> bool {
        self.output.is_some()
    }

    /// Appends `name=value` to the output file, if there is one ([`append_output`]).
    pub fn set(&self, name: &str, value: &str) -> Result<(), crate::Error> {
        match &self.output {
            Some(path) => append_output(path, name, value),
            None => Ok(()),
        }
    }

    /// [`Self::set`] for each pair, in order; stops at the first error.
    pub fn set_all<N: AsRef<str>, V: AsRef<str>>(
        &self,
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<(), crate::Error> {
        pairs.into_iter().try_for_each(|(name, value)| self.set(name.as_ref(), value.as_ref()))
    }

    /// Appends Markdown to the step summary, if there is one ([`append_summary`]).
    pub fn summary(&self, markdown: &str) -> Result<(), crate::Error> {
        match &self.summary {
            Some(path) => append_summary(path, markdown),
            None => Ok(()),
        }
    }
}

/// Appends `name=value` to the `$GITHUB_OUTPUT` file at `path` (multi-line values use a random
/// heredoc delimiter, as GitHub documents).
pub fn append_output(path: &Path, name: &str, value: &str) -> Result<(), crate::Error> {
    if name.is_empty() || name.contains(['=', '\n', '\r']) {
        return Err(crate::Error::invalid(format!("output name {name:?} must be non-empty, without '=' or newlines")));
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|source| io_error("cannot open $GITHUB_OUTPUT", path, source))?;
    let line = if value.contains('\n') {
        let delimiter = format!("ghadelimiter_{:016x}", fastrand::u64(..));
        format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
    } else {
        format!("{name}={value}\n")
    };
    file.write_all(line.as_bytes()).map_err(|source| io_error("cannot write $GITHUB_OUTPUT", path, source))
}

/// Appends Markdown to the `$GITHUB_STEP_SUMMARY` file at `path`.
pub fn append_summary(path: &Path, markdown: &str) -> Result<(), crate::Error> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|source| io_error("cannot open $GITHUB_STEP_SUMMARY", path, source))?;
    let text = if markdown.ends_with('\n') { markdown.to_owned() } else { format!("{markdown}\n") };
    file.write_all(text.as_bytes()).map_err(|source| io_error("cannot write $GITHUB_STEP_SUMMARY", path, source))
}

fn io_error(what: &str, path: &Path, source: std::io::Error) -> crate::Error {
    crate::Error::Io { what: format!("{what} ({})", path.display()), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_inside_actions_only() {
        let env = |actions: &'static str| {
            move |name: &str| match name {
                "GITHUB_ACTIONS" => Some(actions.to_owned()),
                "FORGEJO_TOKEN" => Some("fj-secret".to_owned()),
                "SLACK_WEBHOOK" => Some("https://hooks.example/a\nsecond-line".to_owned()),
                _ => None,
            }
        };
        let mut out = Vec::new();
        mask_secrets(env("true"), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::add-mask::fj-secret\n::add-mask::https://hooks.example/a\n::add-mask::second-line\n"
        );
        let mut out = Vec::new();
        mask_secrets(env("false"), &mut out);
        assert!(out.is_empty(), "nothing outside Actions");
    }

    #[test]
    fn workflow_commands_are_escaped_and_only_written_inside_actions() {
        assert_eq!(command(Annotation::Notice, None, "tag v1.2.3"), "::notice::tag v1.2.3");
        assert_eq!(
            command(Annotation::Warning, Some(("a:b,c.yml", 3)), "x\r\n::add-mask::y"),
            "::warning file=a%3Ab%2Cc.yml,line=3::x%0D%0A::add-mask::y",
            "a message cannot start a second command"
        );
        assert!(!Actions::default().enabled());
        assert!(Actions::new(true).enabled());
    }

    #[test]
    fn outputs_single_and_multi_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        append_output(&path, "digest", "sha256:abc").unwrap();
        append_output(&path, "notes", "a\nb").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("digest=sha256:abc"));
        let open = lines.next().unwrap();
        let delimiter = open.strip_prefix("notes<<").unwrap();
        assert_eq!((lines.next(), lines.next(), lines.next()), (Some("a"), Some("b"), Some(delimiter)));
        assert!(append_output(&path, "a=b", "x").is_err());
    }

    #[test]
    fn outputs_write_only_where_actions_gave_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (out, summary) = (dir.path().join("out"), dir.path().join("summary"));
        let none = Outputs::default();
        assert!(!none.in_actions());
        none.set("digest", "sha256:abc").unwrap();
        none.summary("# nothing").unwrap();
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "outside Actions nothing is written");

        let both = Outputs::new(Some(out.clone()), Some(summary.clone()));
        assert!(both.in_actions());
        both.set_all([("tag", "v1.0.0"), ("created", "true")]).unwrap();
        both.summary("| a |").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "tag=v1.0.0\ncreated=true\n");
        assert_eq!(std::fs::read_to_string(&summary).unwrap(), "| a |\n");
        let err = both.set_all([("ok", "1"), ("bad=name", "2"), ("never", "3")]).unwrap_err();
        assert!(err.to_string().contains("bad=name"), "{err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "tag=v1.0.0\ncreated=true\nok=1\n", "stops at the error");
    }
}
