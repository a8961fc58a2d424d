use std::fmt;

use crate::{string_type, Error};

/// A content digest, `algorithm:hex`: the one rule every crate checks a digest with before it is used in
/// a request path, a file name or a comparison.
///
/// The rule is docker's (distribution's `reference` grammar with go-digest's lengths): an algorithm that
/// starts with a letter (letters, digits, `+._-`), then hex digits, exactly 64 for sha256, 96 for sha384
/// and 128 for sha512; other algorithms are refused.
///
/// ```
/// use offinfra_types::Digest;
/// let digest: Digest = format!("sha256:{}", "ab".repeat(32)).parse()?;
/// assert_eq!((digest.algorithm(), digest.hex().len()), ("sha256", 64));
/// assert!("sha256:abc".parse::<Digest>().is_err());
/// assert!(format!("md5:{}", "ab".repeat(16)).parse::<Digest>().is_err());
/// assert!("sha256:../../v2/_catalog".parse::<Digest>().is_err());
/// # Ok::<(), offinfra_types::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses a digest.
    pub fn parse(s: &str) -> Result<Self, Error> {
        check(s).map(|()| Self(s.to_owned())).map_err(|reason| Error::Digest { input: s.to_owned(), reason })
    }

    /// `sha256`, `sha384` or `sha512`.
    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map_or("", |(algorithm, _)| algorithm)
    }

    /// The hex digits.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, hex)| hex)
    }

    /// The digest as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule, with the reason a digest breaks it.
pub(crate) fn check(digest: &str) -> Result<(), String> {
    let (algorithm, hex) = digest.split_once(':').ok_or("invalid checksum digest format")?;
    let algorithm_ok = algorithm.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && algorithm.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'.'));
    if !algorithm_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("invalid checksum digest format".into());
    }
    let expected = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm".into()),
    };
    if hex.len() != expected {
        return Err("invalid checksum digest length".into());
    }
    Ok(())
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_type!(Digest);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_every_digest() {
        let hex = |n: usize| "0123456789abcdef".repeat(8)[..n].to_owned();
        for good in [format!("sha256:{}", hex(64)), format!("sha384:{}", hex(96)), format!("sha512:{}", hex(128))] {
            let digest = Digest::parse(&good).unwrap();
            assert_eq!(digest.to_string(), good);
            assert_eq!(format!("{}:{}", digest.algorithm(), digest.hex()), good);
        }
        for (bad, reason) in [
            (format!("sha256:{}", hex(63)), "invalid checksum digest length"),
            (format!("sha512:{}", hex(64)), "invalid checksum digest length"),
            (format!("md5:{}", hex(32)), "unsupported digest algorithm"),
            (format!("sha256:{}/..", hex(62)), "invalid checksum digest format"),
            (hex(64), "invalid checksum digest format"),
            (format!(":{}", hex(64)), "invalid checksum digest format"),
            (format!("sha256:{}\n", hex(64)), "invalid checksum digest format"),
        ] {
            let err = Digest::parse(&bad).unwrap_err();
            assert_eq!(err, Error::Digest { input: bad.clone(), reason: reason.into() }, "{bad:?}");
        }
    }
}
