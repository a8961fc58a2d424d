//! Container packages: their versions, and deleting one.

use offinfra_http::{PageNumbers, Request};
use serde::{Deserialize, Serialize};

use crate::{Error, Forgejo};

/// `Package`: one version of a package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Package {
    /// Its id.
    pub id: i64,
    /// The package type (`container`…).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The package name.
    #[serde(default)]
    pub name: String,
    /// The version (for containers, a tag or `sha256:…`).
    #[serde(default)]
    pub version: String,
    /// When it was created.
    #[serde(default)]
    pub created_at: String,
}

impl Forgejo {
    /// The container package versions of `owner` whose name contains `query` (one entry per version).
    pub async fn container_packages(&self, owner: &str, query: &str) -> Result<Vec<Package>, Error> {
        let request =
            Request::get(format!("/packages/{}", crate::encode(owner))).query("type", "container").query("q", query);
        Ok(self.http.collect_pages(&request, &PageNumbers::FORGEJO, None).await?)
    }

    /// The versions of container package `name` of `owner` (one per tag, one per untagged `sha256:`
    /// manifest): [`Self::container_packages`] narrowed to the exact name (`q` matches substrings).
    pub async fn container_versions(&self, owner: &str, name: &str) -> Result<Vec<Package>, Error> {
        let mut versions = self.container_packages(owner, name).await?;
        versions.retain(|p| p.name == name);
        Ok(versions)
    }

    /// Deletes one container package version (a tag or a `sha256:` manifest).
    pub async fn delete_container_version(&self, owner: &str, name: &str, version: &str) -> Result<(), Error> {
        let path =
            format!("/packages/{}/container/{}/{}", crate::encode(owner), crate::encode(name), crate::encode(version));
        self.http.execute(&Request::delete(path)).await?;
        Ok(())
    }
}
