//! Semantic versions as svu reads and bumps them.
//!
//! svu parses tags with Masterminds/semver in its lenient ("coerce") mode and bumps with its `Inc*`
//! rules. [`Version`] reproduces both on top of the [`semver`] crate, which does the identifier
//! validation and the precedence ordering.

use std::{cmp::Ordering, fmt, str::FromStr};

/// Why a string is not a version, or not a valid prerelease or build metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The input was empty.
    #[error("version string empty")]
    Empty,
    /// The `major[.minor[.patch]]` core is not one to three unsigned integers.
    #[error("invalid semantic version")]
    InvalidCore,
    /// A core number does not fit in 64 bits.
    #[error("version number {0:?} is too large")]
    Overflow(String),
    /// The prerelease part breaks the SemVer grammar (empty identifier, bad character, leading zero).
    #[error("invalid prerelease string {value:?}: {reason}")]
    InvalidPrerelease {
        /// The rejected prerelease.
        value: String,
        /// What the grammar says about it.
        reason: String,
    },
    /// The build metadata part breaks the SemVer grammar.
    #[error("invalid metadata string {value:?}: {reason}")]
    InvalidMetadata {
        /// The rejected metadata.
        value: String,
        /// What the grammar says about it.
        reason: String,
    },
    /// A bump would overflow a `u64` component.
    #[error("version component overflow")]
    ComponentOverflow,
}

/// A semantic version with svu's parsing and increment rules.
///
/// ```
/// use svu::Version;
///
/// let v: Version = "v1.2".parse().unwrap();
/// assert_eq!(v.to_string(), "1.2.0");
/// let rc: Version = "1.2.3-rc.1+build.5".parse().unwrap();
/// assert_eq!(rc.inc_patch().unwrap().to_string(), "1.2.3"); // a prerelease patch-bumps to its release
/// assert!(rc < "1.2.3".parse::<Version>().unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(semver::Version);

impl Version {
    /// `major.minor.patch` with no prerelease and no metadata.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self(semver::Version::new(major, minor, patch))
    }

    /// Parses like Masterminds `semver.NewVersion`: an optional leading `v`, one to three numeric parts
    /// (missing ones are zero, leading zeros allowed), then an optional `-prerelease` and `+metadata`.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        if input.is_empty() {
            return Err(VersionError::Empty);
        }
        let rest = input.strip_prefix('v').unwrap_or(input);
        let (rest, build) = match rest.split_once('+') {
            Some((rest, build)) => (rest, Some(build)),
            None => (rest, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (rest, None),
        };
        let mut numbers = [0u64; 3];
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() > 3 {
            return Err(VersionError::InvalidCore);
        }
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::InvalidCore);
            }
            *slot = part.parse().map_err(|_| VersionError::Overflow((*part).to_owned()))?;
        }
        let mut version = Self::new(numbers[0], numbers[1], numbers[2]);
        if let Some(pre) = pre {
            if pre.is_empty() {
                return Err(VersionError::InvalidPrerelease { value: String::new(), reason: "empty after '-'".into() });
            }
            version = version.with_prerelease(pre)?;
        }
        if let Some(build) = build {
            if build.is_empty() {
                return Err(VersionError::InvalidMetadata { value: String::new(), reason: "empty after '+'".into() });
            }
            version = version.with_metadata(build)?;
        }
        Ok(version)
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.0.major
    }

    /// The minor number.
    pub fn minor(&self) -> u64 {
        self.0.minor
    }

    /// The patch number.
    pub fn patch(&self) -> u64 {
        self.0.patch
    }

    /// The prerelease, without its `-`; empty for a release.
    pub fn prerelease(&self) -> &str {
        self.0.pre.as_str()
    }

    /// The build metadata, without its `+`; empty when there is none.
    pub fn metadata(&self) -> &str {
        self.0.build.as_str()
    }

    /// Whether this is a prerelease.
    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }

    /// The same version with `prerelease` replacing the prerelease part (empty clears it).
    pub fn with_prerelease(&self, prerelease: &str) -> Result<Self, VersionError> {
        let pre = semver::Prerelease::new(prerelease)
            .map_err(|e| VersionError::InvalidPrerelease { value: prerelease.to_owned(), reason: e.to_string() })?;
        let mut next = self.0.clone();
        next.pre = pre;
        Ok(Self(next))
    }

    /// The same version with `metadata` replacing the build metadata (empty clears it).
    pub fn with_metadata(&self, metadata: &str) -> Result<Self, VersionError> {
        let build = semver::BuildMetadata::new(metadata)
            .map_err(|e| VersionError::InvalidMetadata { value: metadata.to_owned(), reason: e.to_string() })?;
        let mut next = self.0.clone();
        next.build = build;
        Ok(Self(next))
    }

    /// Masterminds `IncPatch`: a prerelease becomes its release; a release gets patch + 1.
    /// Metadata is always dropped.
    pub fn inc_patch(&self) -> Result<Self, VersionError> {
        let patch = if self.is_prerelease() {
            self.0.patch
        } else {
            self.0.patch.checked_add(1).ok_or(VersionError::ComponentOverflow)?
        };
        Ok(Self::new(self.0.major, self.0.minor, patch))
    }

    /// Masterminds `IncMinor`: minor + 1, patch 0, prerelease and metadata dropped.
    pub fn inc_minor(&self) -> Result<Self, VersionError> {
        let minor = self.0.minor.checked_add(1).ok_or(VersionError::ComponentOverflow)?;
        Ok(Self::new(self.0.major, minor, 0))
    }

    /// Masterminds `IncMajor`: major + 1, minor and patch 0, prerelease and metadata dropped.
    pub fn inc_major(&self) -> Result<Self, VersionError> {
        let major = self.0.major.checked_add(1).ok_or(VersionError::ComponentOverflow)?;
        Ok(Self::new(major, 0, 0))
    }

    /// The underlying [`semver::Version`].
    pub fn as_semver(&self) -> &semver::Version {
        &self.0
    }
}

impl From<semver::Version> for Version {
    fn from(v: semver::Version) -> Self {
        Self(v)
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// SemVer precedence: build metadata is ignored, as Masterminds `Compare` does.
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.0.cmp_precedence(&other.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn parses_like_masterminds_coerce_mode() {
        assert_eq!(v("v1.2.3").to_string(), "1.2.3");
        assert_eq!(v("1").to_string(), "1.0.0");
        assert_eq!(v("v1.2").to_string(), "1.2.0");
        assert_eq!(v("01.002.3").to_string(), "1.2.3");
        assert_eq!(v("1.2.3-pre+123").to_string(), "1.2.3-pre+123");
        assert_eq!(v("1.2.3+meta-data.01").metadata(), "meta-data.01");
        assert_eq!(v("1.2.3-alpha-1.2").prerelease(), "alpha-1.2");
    }

    #[test]
    fn rejects_what_masterminds_rejects() {
        for bad in [
            "",
            "x1.2.3",
            "1.2.3.4",
            "1..2",
            "rel-1.2.3",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3-01",
            "1.2.3-a_b",
            "1.2.3+",
            "1.2.3+a+b",
            "V1.2.3",
            "1.2.x",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(matches!(Version::parse("99999999999999999999.0.0"), Err(VersionError::Overflow(_))));
    }

    #[test]
    fn increments_follow_masterminds() {
        assert_eq!(v("1.2.3").inc_patch().unwrap().to_string(), "1.2.4");
        assert_eq!(v("1.2.3+meta").inc_patch().unwrap().to_string(), "1.2.4");
        assert_eq!(v("1.2.3-rc.1+b").inc_patch().unwrap().to_string(), "1.2.3");
        assert_eq!(v("3.4.5-beta34+ads").inc_minor().unwrap().to_string(), "3.5.0");
        assert_eq!(v("3.4.5-beta34+ads").inc_major().unwrap().to_string(), "4.0.0");
        assert!(v("18446744073709551615.0.0").inc_major().is_err());
    }

    #[test]
    fn precedence_ignores_metadata() {
        assert!(v("1.2.3-alpha") < v("1.2.3-alpha.1"));
        assert!(v("1.2.3-alpha.2") < v("1.2.3-alpha.10"));
        assert!(v("1.2.3-rc.1") < v("1.2.3"));
        assert_eq!(v("1.2.3+a").partial_cmp(&v("1.2.3+b")), Some(Ordering::Equal));
    }

    #[test]
    fn set_parts_validate() {
        assert!(v("1.2.3").with_prerelease("alpha..1").is_err());
        assert!(v("1.2.3").with_metadata("a_b").is_err());
        assert_eq!(v("1.2.3-x+y").with_prerelease("").unwrap().with_metadata("").unwrap().to_string(), "1.2.3");
    }
}
