//! The header onboard writes at the top of each file it renders: the SHA-256 of the rest of the file.
//! A file whose body still hashes to its header is as onboard left it, and a re-run may re-render it;
//! any other file (edited by hand, or written before the header existed) is the owner's: onboard shows
//! the difference and leaves it alone unless told `--force`.

use sha2::{Digest, Sha256};

/// The header's first words.
const MARK: &str = "# offinfra-rendered sha256:";
/// The header's second line, for whoever opens the file.
const ADVICE: &str = "# Edit .offinfra.yml and re-run onboard: a hand edit here makes onboard keep this file.\n";

/// `body` with its header.
pub fn stamped(body: &str) -> String {
    format!("{MARK}{}\n{ADVICE}{body}", hex(body))
}

fn hex(body: &str) -> String {
    Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a file in the repository is, next to what onboard renders now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Exactly what onboard renders now.
    UpToDate,
    /// As onboard rendered it earlier (its header matches): re-rendered.
    Rendered,
    /// Edited since onboard rendered it, or never rendered by onboard: the unified diff from it to what
    /// onboard renders now.
    Edited(String),
}

/// Whether `text` is as onboard rendered it: its header holds the hash of the rest.
pub fn intact(text: &str) -> bool {
    text.strip_prefix(MARK)
        .and_then(|rest| rest.split_once('\n'))
        .and_then(|(hash, rest)| Some((hash, rest.strip_prefix(ADVICE)?)))
        .is_some_and(|(hash, body)| hash == hex(body))
}

/// Compares `existing` (the file in the repository) with `wanted` (a [`stamped`] rendering) of `path`.
pub fn compare(path: &str, existing: &str, wanted: &str) -> Found {
    if existing == wanted {
        return Found::UpToDate;
    }
    match intact(existing) {
        true => Found::Rendered,
        false => Found::Edited(diff(path, existing, wanted)),
    }
}

/// A unified diff, `a/<path>` (the repository's) to `b/<path>` (onboard's), three lines of context.
pub fn diff(path: &str, from: &str, to: &str) -> String {
    similar::TextDiff::from_lines(from, to)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intact_file_is_re_rendered_and_an_edited_one_is_kept_with_its_diff() {
        let old = stamped("name: build\nsteps: [a]\n");
        let new = stamped("name: build\nsteps: [a, b]\n");
        assert_eq!(compare("x.yml", &new, &new), Found::UpToDate);
        assert_eq!(compare("x.yml", &old, &new), Found::Rendered);
        let edited = old.replace("steps: [a]", "steps: [a, mine]");
        let Found::Edited(diff) = compare("x.yml", &edited, &new) else { panic!("an edit is the owner's") };
        assert!(diff.starts_with("--- a/x.yml\n+++ b/x.yml\n"), "{diff}");
        assert!(diff.contains("-steps: [a, mine]\n+steps: [a, b]\n"), "{diff}");
        // No header (an older onboard, or the owner's own file): kept too.
        assert!(matches!(compare("x.yml", "name: build\nsteps: [a]\n", &new), Found::Edited(_)));
        // The header edited, or the advice line removed: kept.
        assert!(matches!(compare("x.yml", &old.replacen("sha256:", "sha256:0", 1), &new), Found::Edited(_)));
        assert!(matches!(compare("x.yml", &old.replace(ADVICE, ""), &new), Found::Edited(_)));
    }
}
