use std::fmt;

use crate::{string_type, Digest, Error, Tag};

/// What a manifest is fetched or pushed by: a tag or a digest (the `<reference>` of
/// `/v2/<name>/manifests/<reference>`).
///
/// The rule: a reference with a `:` is a digest ([`Digest`]'s rule), anything else a tag ([`Tag`]'s). So
/// `sha-0123` is a tag, and `../x` is neither.
///
/// ```
/// use offinfra_types::Reference;
///
/// let tag: Reference = "latest".parse()?;
/// assert!(tag.as_tag().is_some());
/// let digest: Reference = format!("sha256:{}", "ab".repeat(32)).parse()?;
/// assert_eq!(digest.as_digest().map(|d| d.algorithm()), Some("sha256"));
/// for bad in ["../x", "a/b", "sha256:abc", ""] {
///     assert!(bad.parse::<Reference>().is_err(), "{bad}");
/// }
/// # Ok::<(), offinfra_types::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// A tag.
    Tag(Tag),
    /// A digest.
    Digest(Digest),
}

impl Reference {
    /// Parses a tag or a digest.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.contains(':') {
            Digest::parse(s).map(Self::Digest)
        } else {
            Tag::parse(s).map(Self::Tag)
        }
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Tag(tag) => tag.as_str(),
            Self::Digest(digest) => digest.as_str(),
        }
    }

    /// The tag, if this is one.
    pub fn as_tag(&self) -> Option<&Tag> {
        match self {
            Self::Tag(tag) => Some(tag),
            Self::Digest(_) => None,
        }
    }

    /// The digest, if this is one.
    pub fn as_digest(&self) -> Option<&Digest> {
        match self {
            Self::Digest(digest) => Some(digest),
            Self::Tag(_) => None,
        }
    }
}

impl From<Tag> for Reference {
    fn from(tag: Tag) -> Self {
        Self::Tag(tag)
    }
}

impl From<Digest> for Reference {
    fn from(digest: Digest) -> Self {
        Self::Digest(digest)
    }
}

impl From<&Tag> for Reference {
    fn from(tag: &Tag) -> Self {
        Self::Tag(tag.clone())
    }
}

impl From<&Digest> for Reference {
    fn from(digest: &Digest) -> Self {
        Self::Digest(digest.clone())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

string_type!(Reference);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_colon_makes_a_digest_and_nothing_else_is_both() {
        let digest = format!("sha256:{}", "0a".repeat(32));
        assert!(matches!(Reference::parse(&digest), Ok(Reference::Digest(_))));
        assert!(matches!(Reference::parse("sha-0123"), Ok(Reference::Tag(_))));
        assert!(matches!(Reference::parse("sha256:xyz"), Err(Error::Digest { .. })));
        assert!(matches!(Reference::parse("t?x=1"), Err(Error::Tag(_))));
        assert_eq!(Reference::parse(&digest).unwrap().to_string(), digest);
    }
}
