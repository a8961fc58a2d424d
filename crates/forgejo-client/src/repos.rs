//! `/repos/{owner}/{repo}`: get, and edits whose effect is checked in the answer.

use serde::{Deserialize, Serialize};

/// `Repository` (the fields a client needs; others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// Forgejo's id (Woodpecker's `forge_remote_id`, as text).
    pub id: i64,
    /// The name.
    #[serde(default)]
    pub name: String,
    /// `owner/name`.
    #[serde(default)]
    pub full_name: String,
    /// The default branch.
    #[serde(default)]
    pub default_branch: String,
    /// Whether it has no commits.
    #[serde(default)]
    pub empty: bool,
    /// Whether it is archived.
    #[serde(default)]
    pub archived: bool,
    /// Whether it is private.
    #[serde(default)]
    pub private: bool,
    /// Whether it is a pull mirror.
    #[serde(default)]
    pub mirror: bool,
    /// HTTPS clone URL.
    #[serde(default)]
    pub clone_url: String,
    /// Web URL.
    #[serde(default)]
    pub html_url: String,
}

/// `EditRepoOption` (every field optional: a true partial update).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EditRepo {
    /// The default branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// Whether Actions are enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_actions: Option<bool>,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Archived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// Private.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
}
