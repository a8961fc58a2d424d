//! The Packages API's version model, shared by the API client ([`crate::packages`]) and the prune
//! planner ([`crate::prune`]) without either depending on the other's module.

use serde::{Deserialize, Serialize};

/// One version of a container package: one manifest digest, with the tags that point at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PackageVersion {
    /// The id used to delete or restore it.
    pub id: u64,
    /// For containers, the manifest digest (`sha256:…`).
    pub name: String,
    /// API URL of the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Web URL of the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_html_url: Option<String>,
    /// Web URL of the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_url: Option<String>,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Last update, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Deletion time, for deleted versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// Licence, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Description, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Package-type specific data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<VersionMetadata>,
}

/// `metadata` of a package version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VersionMetadata {
    /// `container` for ghcr packages.
    pub package_type: String,
    /// Container data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerMetadata>,
    /// Legacy `docker` package data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerMetadata>,
}

/// `metadata.container`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ContainerMetadata {
    /// Tags pointing at this digest; empty for an untagged version.
    pub tags: Vec<String>,
}

/// `metadata.docker` (legacy docker.pkg.github.com packages).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DockerMetadata {
    /// Tags.
    pub tag: Vec<String>,
}

impl PackageVersion {
    /// A container version as the planner needs it, for registries other than ghcr.io whose package
    /// APIs are shaped differently (Forgejo lists one version per tag): `digest` with its `tags`.
    ///
    /// ```
    /// let v = ghcr_client::packages::PackageVersion::container(7, "sha256:aa", "2026-01-01T00:00:00Z", vec!["v1".into()]);
    /// assert_eq!((v.id, v.name.as_str(), v.tags()), (7, "sha256:aa", &["v1".to_string()][..]));
    /// ```
    pub fn container(id: u64, digest: impl Into<String>, created_at: impl Into<String>, tags: Vec<String>) -> Self {
        Self {
            id,
            name: digest.into(),
            url: None,
            package_html_url: None,
            html_url: None,
            created_at: created_at.into(),
            updated_at: None,
            deleted_at: None,
            license: None,
            description: None,
            metadata: Some(VersionMetadata {
                package_type: "container".into(),
                container: Some(ContainerMetadata { tags }),
                docker: None,
            }),
        }
    }

    /// The tags of this version (empty when untagged).
    pub fn tags(&self) -> &[String] {
        match &self.metadata {
            Some(VersionMetadata { container: Some(c), .. }) => &c.tags,
            Some(VersionMetadata { docker: Some(d), .. }) => &d.tag,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_json_round_trips() {
        let json = r#"{"id":245301,"name":"sha256:aa11","url":"https://api.github.com/users/octocat/packages/container/hello_docker/versions/245301","package_html_url":"https://github.com/users/octocat/packages/container/package/hello_docker","html_url":"https://github.com/users/octocat/packages/container/hello_docker/245301","created_at":"2020-05-19T22:19:11Z","updated_at":"2020-05-19T22:19:11Z","metadata":{"package_type":"container","container":{"tags":["latest","abc12345"]}}}"#;
        let v: PackageVersion = serde_json::from_str(json).unwrap();
        assert_eq!(v.tags(), ["latest", "abc12345"]);
        let back: serde_json::Value = serde_json::to_value(&v).unwrap();
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(json).unwrap());
    }
}
