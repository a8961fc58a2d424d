//! Models that follow the Woodpecker v3.17 OpenAPI definitions (with the spec's known errors fixed:
//! `LogEntry.data` is base64 text). Fields the server may omit are optional.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A pipeline, workflow or step status. Unknown values are kept, not rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Status {
    /// `created`
    Created,
    /// `pending`
    Pending,
    /// `running`
    Running,
    /// `blocked`: waiting for approval.
    Blocked,
    /// `declined`
    Declined,
    /// `success`
    Success,
    /// `failure`
    Failure,
    /// `killed`
    Killed,
    /// `canceled` (v3.14+)
    Canceled,
    /// `error`
    Error,
    /// `skipped`
    Skipped,
    /// A value this crate does not know.
    Unknown(String),
}

impl From<String> for Status {
    fn from(s: String) -> Self {
        match s.as_str() {
            "created" => Status::Created,
            "pending" => Status::Pending,
            "running" => Status::Running,
            "blocked" => Status::Blocked,
            "declined" => Status::Declined,
            "success" => Status::Success,
            "failure" => Status::Failure,
            "killed" => Status::Killed,
            "canceled" => Status::Canceled,
            "error" => Status::Error,
            "skipped" => Status::Skipped,
            _ => Status::Unknown(s),
        }
    }
}

impl From<Status> for String {
    fn from(s: Status) -> Self {
        s.as_str().to_owned()
    }
}

impl Status {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Created => "created",
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Blocked => "blocked",
            Status::Declined => "declined",
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Killed => "killed",
            Status::Canceled => "canceled",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Unknown(s) => s,
        }
    }

    /// Whether it will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Status::Success
                | Status::Failure
                | Status::Killed
                | Status::Canceled
                | Status::Error
                | Status::Declined
                | Status::Skipped
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Repo` (the fields a client needs; others are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Repo {
    /// Woodpecker's own id: what every other endpoint takes.
    pub id: i64,
    /// The id on the forge, as text.
    #[serde(default)]
    pub forge_remote_id: String,
    /// The owner.
    #[serde(default)]
    pub owner: String,
    /// The name.
    #[serde(default)]
    pub name: String,
    /// `owner/name`.
    #[serde(default)]
    pub full_name: String,
    /// The default branch.
    #[serde(default)]
    pub default_branch: String,
    /// Whether Woodpecker runs pipelines for it.
    #[serde(default)]
    pub active: bool,
    /// The organisation (or user) it belongs to in Woodpecker: the scope of its org secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<i64>,
}

/// `model.Step`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The step's database id (what the logs endpoint takes).
    pub id: i64,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its state.
    pub state: Status,
    /// Its error text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its exit code.
    #[serde(default)]
    pub exit_code: i64,
}

/// `model.Workflow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Workflow {
    /// Its id.
    pub id: i64,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its state.
    pub state: Status,
    /// Its steps.
    #[serde(default)]
    pub children: Vec<Step>,
}

/// `Pipeline` (the fields a client needs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pipeline {
    /// The global database id.
    pub id: i64,
    /// The per-repository number: what paths take.
    pub number: i64,
    /// Its status.
    pub status: Status,
    /// The event (`manual` for a triggered deploy).
    #[serde(default)]
    pub event: String,
    /// The branch.
    #[serde(default)]
    pub branch: String,
    /// The commit.
    #[serde(default)]
    pub commit: String,
    /// Variables given at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    /// Its workflows and their steps (only on single-pipeline answers).
    #[serde(default)]
    pub workflows: Vec<Workflow>,
}

impl Pipeline {
    /// The steps that failed.
    pub fn failed_steps(&self) -> impl Iterator<Item = &Step> {
        self.workflows
            .iter()
            .flat_map(|w| &w.children)
            .filter(|s| matches!(s.state, Status::Failure | Status::Error | Status::Killed))
    }
}

/// `LogEntry`, with `data` decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogEntry {
    /// The line number.
    pub line: i64,
    /// Seconds since the step started.
    pub time: i64,
    /// 0 stdout, 1 stderr, 2 exit code, 3 metadata, 4 progress.
    pub kind: i64,
    /// The text.
    pub text: String,
}

#[derive(Deserialize)]
pub(crate) struct RawLogEntry {
    #[serde(default)]
    pub line: i64,
    #[serde(default)]
    pub time: i64,
    #[serde(default, rename = "type")]
    pub kind: i64,
    #[serde(default)]
    pub data: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_survive() {
        for s in [
            "created", "pending", "running", "blocked", "declined", "success", "failure", "killed", "canceled",
            "error", "skipped", "paused",
        ] {
            let status: Status = serde_json::from_value(serde_json::json!(s)).unwrap();
            assert_eq!(serde_json::to_value(&status).unwrap(), serde_json::json!(s));
        }
        assert!(
            Status::Canceled.is_terminal()
                && !Status::Blocked.is_terminal()
                && !Status::Unknown("x".into()).is_terminal()
        );
    }
}
