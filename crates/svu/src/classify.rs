//! Commit classification: which bump a commit message asks for.

use std::sync::LazyLock;

use regex::Regex;

/// The size of change a commit asks for, ordered from none to major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    /// Nothing that changes the version (chore, docs, free text…).
    None,
    /// A fix.
    Patch,
    /// A feature.
    Minor,
    /// A breaking change.
    Major,
}

impl Bump {
    /// `"none"`, `"patch"`, `"minor"` or `"major"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// How commit messages are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Classifier {
    /// svu's own rules: case-insensitive, unanchored matches on the title (`Revert "feat: x"` and
    /// `bugfix:` count), `!:` after any word in the title, and `BREAKING CHANGE:` or
    /// `BREAKING-CHANGE:` anywhere in the body.
    #[default]
    Svu,
    /// The Conventional Commits 1.0 grammar: the whole message must parse; `feat` is minor, `fix` is
    /// patch, `!` or a `BREAKING CHANGE` footer is major, anything else (or no parse) is none.
    Strict,
}

// svu's expressions are `(?im).*X.*`; for a yes/no match on one line the `.*` ends change nothing.
// Go's `\w` is ASCII-only, hence `(?-u:\w)`.
static BREAKING_BODY: LazyLock<Regex> = LazyLock::new(|| Regex::new("BREAKING[ -]CHANGE:").expect("valid regex"));
static BREAKING_TITLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(?-u:\w)(\(.*\))?!:").expect("valid regex"));
static FEATURE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)feat(\(.*\))?:").expect("valid regex"));
static FIX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)fix(\(.*\))?:").expect("valid regex"));

/// Splits a raw commit message as svu does: trailing white space trimmed, the title is everything up to
/// the first newline and the body the rest.
///
/// ```
/// assert_eq!(svu::classify::split_message("feat: x\n\nbody\n"), ("feat: x", "\nbody"));
/// ```
pub fn split_message(message: &str) -> (&str, &str) {
    let message = message.trim_end();
    match message.split_once('\n') {
        Some((title, body)) => (title, body),
        None => (message, ""),
    }
}

impl Classifier {
    /// The bump the raw commit `message` asks for.
    ///
    /// ```
    /// use svu::{Bump, Classifier};
    ///
    /// assert_eq!(Classifier::Svu.classify("feat(api): add x"), Bump::Minor);
    /// assert_eq!(Classifier::Svu.classify("Revert \"feat: add x\""), Bump::Minor);
    /// assert_eq!(Classifier::Strict.classify("Revert \"feat: add x\""), Bump::None);
    /// assert_eq!(Classifier::Svu.classify("fix: y\n\nBREAKING CHANGE: z"), Bump::Major);
    /// ```
    pub fn classify(self, message: &str) -> Bump {
        match self {
            Classifier::Svu => {
                let (title, body) = split_message(message);
                if BREAKING_BODY.is_match(body) || BREAKING_TITLE.is_match(title) {
                    Bump::Major
                } else if FEATURE.is_match(title) {
                    Bump::Minor
                } else if FIX.is_match(title) {
                    Bump::Patch
                } else {
                    Bump::None
                }
            }
            Classifier::Strict => match git_conventional::Commit::parse(message.trim()) {
                Ok(commit) if commit.breaking() => Bump::Major,
                Ok(commit) if commit.type_() == git_conventional::Type::FEAT => Bump::Minor,
                Ok(commit) if commit.type_() == git_conventional::Type::FIX => Bump::Patch,
                _ => Bump::None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svu_rules_match_the_reference_table() {
        let svu = Classifier::Svu;
        let cases = [
            ("feat: a", Bump::Minor),
            ("FEAT: a", Bump::Minor),
            ("feat(x): a", Bump::Minor),
            ("defeat: a", Bump::Minor),
            ("Revert \"feat: x\"", Bump::Minor),
            ("feature: a", Bump::None),
            ("fix: a", Bump::Patch),
            ("Fix: a", Bump::Patch),
            ("bugfix: a", Bump::Patch),
            ("hotfix(core): a", Bump::Patch),
            ("feat!: a", Bump::Major),
            ("chore(lala)!: a", Bump::Major),
            ("fix(api)!: a", Bump::Major),
            ("!: a", Bump::None),
            ("chore: a", Bump::None),
            ("docs: a", Bump::None),
            ("Merge branch 'x'", Bump::None),
            ("chore: a\n\nBREAKING CHANGE: b", Bump::Major),
            ("chore: a\n\nsome text BREAKING-CHANGE: b", Bump::Major),
            ("chore: a\n\nBREAKING change: b", Bump::None),
            ("chore: a\n\nbreaking-change: b", Bump::None),
            ("chore: a\n\nBREAKING_CHANGE: b", Bump::None),
            ("chore: BREAKING CHANGE: in the title", Bump::None),
            ("chore: a\n\nfeat: in the body", Bump::None),
        ];
        for (message, want) in cases {
            assert_eq!(svu.classify(message), want, "{message:?}");
        }
    }

    #[test]
    fn strict_follows_the_grammar() {
        let strict = Classifier::Strict;
        assert_eq!(strict.classify("feat: a"), Bump::Minor);
        assert_eq!(strict.classify("FEAT: a"), Bump::Minor);
        assert_eq!(strict.classify("fix(x): a\n\nbody\n\nRefs: #1"), Bump::Patch);
        assert_eq!(strict.classify("fix: a\n\nBREAKING CHANGE: b"), Bump::Major);
        assert_eq!(strict.classify("chore!: drop x"), Bump::Major);
        assert_eq!(strict.classify("defeat: a"), Bump::None);
        assert_eq!(strict.classify("bugfix: a"), Bump::None);
        assert_eq!(strict.classify("free text"), Bump::None);
    }

    #[test]
    fn title_and_body_split_like_svu() {
        assert_eq!(split_message("a"), ("a", ""));
        assert_eq!(split_message("a\nb\n\n"), ("a", "b"));
        assert_eq!(split_message("  a  \n"), ("  a", ""));
    }
}
