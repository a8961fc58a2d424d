use std::fmt;

use crate::{string_type, Error, Tag};

/// A git commit id, stored in lower case.
///
/// The rule: 8 to 64 hex digits (a full SHA-1 id has 40, a SHA-256 id 64). Eight is the floor because the
/// image built from a commit is tagged with the id's first 8 digits ([`CommitId::image_tag`]), and an id
/// that short is still unambiguous in any repository this pipeline builds.
///
/// ```
/// let sha: offinfra_types::CommitId = "0123ABCD4567".parse().unwrap();
/// assert_eq!(sha.as_str(), "0123abcd4567");
/// assert_eq!(sha.image_tag().as_str(), "0123abcd");
/// assert!("0123abc".parse::<offinfra_types::CommitId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(String);

impl CommitId {
    /// Parses a commit id.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if (8..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(Error::Commit(s.to_owned()))
        }
    }

    /// The id, lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 digits, the `<sha8>` tag the pipeline pushes every image under.
    pub fn image_tag(&self) -> Tag {
        Tag::parse(&self.0[..8]).expect("8 hex digits are a valid tag")
    }

    /// Whether `other` names this commit: one id is a prefix of the other.
    pub fn matches(&self, other: &CommitId) -> bool {
        self.0.starts_with(&other.0) || other.0.starts_with(&self.0)
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_type!(CommitId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_to_sixty_four_hex_digits() {
        for good in ["01234567", "0123456789abcdef0123456789abcdef01234567", &"f".repeat(64)] {
            assert_eq!(CommitId::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(CommitId::parse("ABCDEF01").unwrap().as_str(), "abcdef01");
        for bad in ["", "0123456", "nothex00", "0123 4567", &"f".repeat(65), "main"] {
            assert_eq!(CommitId::parse(bad), Err(Error::Commit(bad.to_owned())), "{bad:?}");
        }
        assert_eq!(
            Error::Commit("nothex".into()).to_string(),
            "commit \"nothex\": expected a git commit id (at least 8 hex digits)"
        );
    }

    #[test]
    fn abbreviations_match_their_full_id() {
        let full = CommitId::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
        assert!(full.matches(&CommitId::parse("0123456789").unwrap()));
        assert!(CommitId::parse("0123456789").unwrap().matches(&full));
        assert!(!full.matches(&CommitId::parse("0123456780").unwrap()));
        assert_eq!(full.image_tag().as_str(), "01234567");
    }
}
