use std::fmt;

use crate::{string_type, Error};

/// An OCI image tag, as the distribution spec defines it.
///
/// The rule: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`: at most 128 characters, no leading `.` or `-`.
///
/// ```
/// assert!("v1.2.3".parse::<offinfra_types::Tag>().is_ok());
/// assert!(".hidden".parse::<offinfra_types::Tag>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Parses a tag.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let valid = s.len() <= 128
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::Tag(s.to_owned()))
        }
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_type!(Tag);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distribution_spec_rule() {
        for good in ["latest", "0123abcd", "_x", "v1.2.3-rc.1", "A", &"a".repeat(128)] {
            assert!(Tag::parse(good).is_ok(), "{good:?}");
        }
        for bad in ["", ".x", "-x", "a:b", "a/b", "a+b", &"a".repeat(129)] {
            assert_eq!(Tag::parse(bad), Err(Error::Tag(bad.to_owned())), "{bad:?}");
        }
    }
}
