//! Commit statuses.

use offinfra_http::Request;
use serde::{Deserialize, Serialize};

use crate::{Error, RepoHandle};

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

impl RepoHandle<'_> {
    /// Reports a status on commit `sha`. Not retried after the server may have acted.
    pub async fn create_status(&self, sha: &str, status: &CreateStatus) -> Result<(), Error> {
        let request = Request::post(self.path(&format!("/statuses/{}", crate::encode(sha)))).json(status)?;
        self.forgejo.http.execute(&request).await?;
        Ok(())
    }
}
