//! `/repos/{owner}/{repo}/contents`: read files and directories, and commit several changes at once.

use offinfra_http::{base64, base64_decode, Client, Request};
use serde::{Deserialize, Serialize};

use crate::Error;

/// `ContentsResponse` (the fields a client needs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Contents {
    /// The entry's name.
    pub name: String,
    /// Its path in the repository.
    pub path: String,
    /// The git blob id (what updates and deletes must send back).
    pub sha: String,
    /// `file`, `dir`, `symlink` or `submodule`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its size.
    #[serde(default)]
    pub size: i64,
    /// `base64` when `content` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The content, base64 (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl Contents {
    /// The decoded content of a file.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        base64_decode(&self.content.as_deref()?.replace(['\n', '\r'], ""))
    }
}

/// What a path holds: Forgejo answers an object for a file and an array for a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    /// A file, symlink or submodule.
    File(Contents),
    /// A directory's entries.
    Dir(Vec<Contents>),
}

/// One change of a multi-file commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// Create `path` with `content`.
    Create {
        /// The path.
        path: String,
        /// The content.
        content: Vec<u8>,
    },
    /// Replace `path` (whose current blob is `sha`) with `content`.
    Update {
        /// The path.
        path: String,
        /// The content.
        content: Vec<u8>,
        /// The current blob id.
        sha: String,
    },
    /// Delete `path` (whose current blob is `sha`).
    Delete {
        /// The path.
        path: String,
        /// The current blob id.
        sha: String,
    },
}

impl FileChange {
    fn to_json(&self) -> serde_json::Value {
        match self {
            FileChange::Create { path, content } => {
                serde_json::json!({"operation": "create", "path": path, "content": base64(content)})
            }
            FileChange::Update { path, content, sha } => {
                serde_json::json!({"operation": "update", "path": path, "content": base64(content), "sha": sha})
            }
            FileChange::Delete { path, sha } => serde_json::json!({"operation": "delete", "path": path, "sha": sha}),
        }
    }
}

/// A commit of several file changes (`ChangeFilesOptions`, Forgejo v7+).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeFiles {
    /// The changes.
    pub files: Vec<FileChange>,
    /// The commit message.
    pub message: Option<String>,
    /// The branch to commit to (default: the default branch).
    pub branch: Option<String>,
}

impl ChangeFiles {
    /// The request body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({"files": self.files.iter().map(FileChange::to_json).collect::<Vec<_>>()});
        if let Some(message) = &self.message {
            body["message"] = message.clone().into();
        }
        if let Some(branch) = &self.branch {
            body["branch"] = branch.clone().into();
        }
        body
    }
}

/// The contents of one repository.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ContentsApi<'a> {
    pub(crate) http: &'a Client,
    pub(crate) base: String,
}

impl ContentsApi<'_> {
    /// What `path` holds at `git_ref` (default branch when `None`); `None` when nothing is there.
    pub async fn get(&self, path: &str, git_ref: Option<&str>) -> Result<Option<Entry>, Error> {
        let encoded: Vec<String> = path.trim_matches('/').split('/').map(crate::encode).collect();
        let mut request = Request::get(format!("{}/{}", self.base, encoded.join("/")));
        if let Some(git_ref) = git_ref {
            request = request.query("ref", git_ref);
        }
        match self.http.json(&request).await {
            Ok(entry) => Ok(Some(entry)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The text of the file at `path` (`None` when there is none, or a directory is there); bytes that
    /// are not UTF-8 are replaced, as a text view shows them.
    pub async fn text(&self, path: &str, git_ref: Option<&str>) -> Result<Option<String>, Error> {
        Ok(match self.get(path, git_ref).await? {
            Some(Entry::File(file)) => Some(String::from_utf8_lossy(&file.bytes().unwrap_or_default()).into_owned()),
            _ => None,
        })
    }

    /// Commits `change` in one commit (creates, updates and deletes together); returns the commit id.
    /// Not retried after the server may have acted.
    pub async fn change(&self, change: &ChangeFiles) -> Result<String, Error> {
        let response: serde_json::Value =
            self.http.json(&Request::post(self.base.clone()).json(&change.to_json())?).await?;
        Ok(response["commit"]["sha"].as_str().unwrap_or_default().to_owned())
    }
}
