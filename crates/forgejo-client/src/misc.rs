//! Branches, commit statuses and packages.

use offinfra_http::{PageNumbers, Request};
use serde::{Deserialize, Serialize};

use crate::{Error, Forgejo, RepoHandle};

/// `Branch` (the fields a client needs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    /// Its name.
    pub name: String,
    /// Its head commit (`PayloadCommit`).
    #[serde(default)]
    pub commit: serde_json::Value,
    /// Whether it is protected.
    #[serde(default)]
    pub protected: bool,
}

impl Branch {
    /// The head commit id.
    pub fn sha(&self) -> Option<&str> {
        self.commit.get("id").and_then(|v| v.as_str())
    }
}

/// A commit status state; unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    /// `pending`
    Pending,
    /// `success`
    Success,
    /// `error`
    Error,
    /// `failure`
    Failure,
    /// `warning`
    Warning,
    /// Anything else.
    #[serde(untagged)]
    Unknown(String),
}

/// `CreateStatusOption`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateStatus {
    /// The state.
    pub state: StatusState,
    /// A link to details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// A short description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What reports it (e.g. `offinfra/deploy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// `Package`: one version of a package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

impl RepoHandle<'_> {
    /// One branch, or `None`.
    pub async fn branch(&self, name: &str) -> Result<Option<Branch>, Error> {
        let encoded: Vec<String> = name.split('/').map(crate::encode).collect();
        match self.forgejo.http.json(&Request::get(self.path(&format!("/branches/{}", encoded.join("/"))))).await {
            Ok(branch) => Ok(Some(branch)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The commits `head` has that `base` lacks (`GET /repos/{o}/{r}/compare/{base}...{head}`); `None`
    /// when either is unknown to the repository.
    pub async fn compare(&self, base: &str, head: &str) -> Result<Option<Compare>, Error> {
        let route = format!("/compare/{}...{}", crate::encode(base), crate::encode(head));
        match self.forgejo.http.json(&Request::get(self.path(&route))).await {
            Ok(compare) => Ok(Some(compare)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every branch.
    pub async fn branches(&self) -> Result<Vec<Branch>, Error> {
        Ok(self.forgejo.http.collect_pages(&Request::get(self.path("/branches")), &PageNumbers::FORGEJO, None).await?)
    }

    /// Reports a status on commit `sha`. Not retried after the server may have acted.
    pub async fn create_status(&self, sha: &str, status: &CreateStatus) -> Result<(), Error> {
        let request = Request::post(self.path(&format!("/statuses/{}", crate::encode(sha)))).json(status)?;
        self.forgejo.http.execute(&request).await?;
        Ok(())
    }
}

/// A comparison of two commits (the spec's `Compare`); only the count is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// How many commits the head has that the base lacks.
    #[serde(default)]
    pub total_commits: i64,
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
