//! `/repos/{owner}/{repo}/hooks`. A PATCH replaces `events`, `branch_filter` and `authorization_header`
//! with whatever it carries (absent means reset), so every edit here sends them back as they were.

use std::collections::BTreeMap;

use offinfra_http::{Client, PageNumbers, Request};
use serde::{Deserialize, Serialize};

use crate::Error;

/// `Hook`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hook {
    /// Its id.
    pub id: i64,
    /// `forgejo`, `gitea`, `slack`…
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Whether it is active.
    #[serde(default)]
    pub active: bool,
    /// The target URL (v7+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `json` or `form` (v7+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Branch filter glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_filter: Option<String>,
    /// The events it fires on.
    #[serde(default)]
    pub events: Vec<String>,
    /// The `Authorization` header it sends (returned decrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_header: Option<String>,
    /// Deprecated mirror of `url` and `content_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, String>>,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Last update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl Hook {
    /// The target URL, from `url` or the older `config.url`.
    pub fn target(&self) -> Option<&str> {
        self.url.as_deref().or_else(|| self.config.as_ref()?.get("url").map(String::as_str))
    }
}

/// `EditHookOption`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EditHook {
    /// Whether it is active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Replaces the `Authorization` header (absent clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_header: Option<String>,
    /// Replaces the branch filter (absent clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch_filter: Option<String>,
    /// `url` and `content_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, String>>,
    /// Replaces the events (absent resets them to `push`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
}

/// The hooks of one repository.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Hooks<'a> {
    pub(crate) http: &'a Client,
    pub(crate) base: String,
}

impl Hooks<'_> {
    /// Every hook.
    pub async fn list(&self) -> Result<Vec<Hook>, Error> {
        Ok(self.http.collect_pages(&Request::get(self.base.clone()), &PageNumbers::FORGEJO, None).await?)
    }

    /// One hook.
    pub async fn get(&self, id: i64) -> Result<Hook, Error> {
        Ok(self.http.json(&Request::get(format!("{}/{id}", self.base))).await?)
    }

    /// The edit that points `hook` at `url` and changes nothing else: its events, branch filter,
    /// authorization header, content type and active flag are sent back as they are.
    pub fn retarget_edit(hook: &Hook, url: &str) -> EditHook {
        let mut config = BTreeMap::from([("url".to_owned(), url.to_owned())]);
        let content_type = hook.content_type.clone().or_else(|| hook.config.as_ref()?.get("content_type").cloned());
        if let Some(content_type) = content_type {
            config.insert("content_type".into(), content_type);
        }
        EditHook {
            active: Some(hook.active),
            authorization_header: Some(hook.authorization_header.clone().unwrap_or_default()),
            branch_filter: Some(hook.branch_filter.clone().unwrap_or_default()),
            config: Some(config),
            events: Some(hook.events.clone()),
        }
    }

    /// `PATCH` a hook with `edit` as given (mind the fields it resets; see [`Self::retarget`]).
    pub async fn edit(&self, id: i64, edit: &EditHook) -> Result<Hook, Error> {
        let request = Request::patch(format!("{}/{id}", self.base)).json(edit)?.idempotent(true);
        Ok(self.http.json(&request).await?)
    }

    /// Points hook `id` at `url`, keeping everything else (reads it first). Returns the edited hook.
    pub async fn retarget(&self, id: i64, url: &str) -> Result<Hook, Error> {
        let hook = self.get(id).await?;
        self.edit(id, &Self::retarget_edit(&hook, url)).await
    }
}
