//! Branches and the comparison of two commits.

use offinfra_http::{PageNumbers, Request};
use serde::{Deserialize, Serialize};

use crate::{Error, RepoHandle};

/// `Branch` (the fields a client needs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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

/// A comparison of two commits (the spec's `Compare`); only the count is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Compare {
    /// How many commits the head has that the base lacks.
    #[serde(default)]
    pub total_commits: i64,
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

    /// Every branch.
    pub async fn branches(&self) -> Result<Vec<Branch>, Error> {
        Ok(self.forgejo.http.collect_pages(&Request::get(self.path("/branches")), &PageNumbers::FORGEJO, None).await?)
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
}
