//! Models that follow the Forgejo v15 OpenAPI definitions. Fields the server may omit are optional.

use serde::{Deserialize, Serialize};

use crate::Error;

/// `ServerVersion`, parsed: Forgejo reports `15.0.3+gitea-1.22.0` (the `+gitea-…` part is build metadata
/// naming the Gitea API level, never to be compared with Forgejo's own version).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerVersion {
    /// The string as reported.
    pub raw: String,
    /// The parsed version.
    pub version: semver::Version,
}

impl ServerVersion {
    /// Parses what `/version` reports (a leading `v` is tolerated).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let version = semver::Version::parse(text.trim_start_matches('v'))
            .map_err(|e| Error::InvalidVersion { version: text.to_owned(), reason: e.to_string() })?;
        Ok(Self { raw: text.to_owned(), version })
    }

    /// Whether the server is at least `major.minor.patch` (prereleases of that version do not count).
    pub fn at_least(&self, major: u64, minor: u64, patch: u64) -> bool {
        let floor = semver::Version::new(major, minor, patch);
        let mut ours = self.version.clone();
        ours.build = semver::BuildMetadata::EMPTY;
        ours >= floor
    }
}

/// `CommitMeta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommitMeta {
    /// The commit id.
    pub sha: String,
    /// API URL of the commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When it was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// `Tag`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The tag name.
    pub name: String,
    /// The annotation message (empty for a lightweight tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The tag object id (the commit id for a lightweight tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The tagged commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitMeta>,
    /// Zip archive URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipball_url: Option<String>,
    /// Tarball URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tarball_url: Option<String>,
    /// `TagArchiveDownloadCount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_download_count: Option<serde_json::Value>,
}

/// `CreateTagOption`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTag {
    /// The tag name (required).
    pub tag_name: String,
    /// A branch, tag or commit id; the default branch when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A message makes an annotated tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_with_gitea_build_metadata() {
        let v = ServerVersion::parse("15.0.3+gitea-1.22.0").unwrap();
        assert!(v.at_least(7, 0, 0) && v.at_least(15, 0, 3) && !v.at_least(15, 0, 4));
        let dev = ServerVersion::parse("17.0.0-dev-609-a14eb80977+gitea-1.22.0").unwrap();
        assert!(dev.at_least(16, 0, 0) && !dev.at_least(17, 0, 0));
        assert!(ServerVersion::parse("1.21.11-1+gitea-1.21.11").unwrap().at_least(1, 18, 1));
        assert!(ServerVersion::parse("development").is_err());
    }
}
