//! CI-step conventions shared by the example binaries: GitHub Actions outputs and step summaries, and the exit
//! codes (0 success, 1 failure, 2 usage).

use std::{future::Future, io::Write, path::Path, process::ExitCode};

/// Runs an example's async body on a multi-thread runtime and maps the result to the exit code:
/// `Ok(true)` 0, `Ok(false)` (problems found, already reported) 1, `Err` printed as `error: …` and 1.
pub fn run_async<F: Future<Output = Result<bool, String>>>(body: F) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(body) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The exit code after a command-line parse failure was printed: help and version are successes (0),
/// usage errors 2.
pub fn usage_exit(is_error: bool) -> ExitCode {
    if is_error {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Splits `owner/name` (both non-empty, one slash).
pub fn split_repo(repo: &str) -> Option<(&str, &str)> {
    repo.split_once('/').filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
}

/// [`split_repo`], or the error naming the input: `<what> "<repo>": expected owner/name`.
pub fn repo_arg<'a>(what: &str, repo: &'a str) -> Result<(&'a str, &'a str), String> {
    split_repo(repo).ok_or_else(|| format!("{what} {repo:?}: expected owner/name"))
}

/// Appends `name=value` to the `$GITHUB_OUTPUT` file at `path` (multi-line values use a random
/// heredoc delimiter, as GitHub documents).
pub fn append_output(path: &Path, name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() || name.contains(['=', '\n', '\r']) {
        return Err(format!("output name {name:?} must be non-empty, without '=' or newlines"));
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot open $GITHUB_OUTPUT ({}): {e}", path.display()))?;
    let line = if value.contains('\n') {
        let delimiter = format!("ghadelimiter_{:016x}", random_u64());
        format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
    } else {
        format!("{name}={value}\n")
    };
    file.write_all(line.as_bytes()).map_err(|e| format!("cannot write $GITHUB_OUTPUT ({}): {e}", path.display()))
}

/// Appends Markdown to the `$GITHUB_STEP_SUMMARY` file at `path`.
pub fn append_summary(path: &Path, markdown: &str) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot open $GITHUB_STEP_SUMMARY ({}): {e}", path.display()))?;
    let text = if markdown.ends_with('\n') { markdown.to_owned() } else { format!("{markdown}\n") };
    file.write_all(text.as_bytes()).map_err(|e| format!("cannot write $GITHUB_STEP_SUMMARY ({}): {e}", path.display()))
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
