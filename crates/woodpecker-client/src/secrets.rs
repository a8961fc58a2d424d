//! Secrets at repository, organisation and global level. Values go in and never come back.

use offinfra_http::{Client, PageNumbers, Request, SecretString};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Where secrets live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretScope {
    /// `/repos/{id}/secrets` (push permission, even to read).
    Repo(i64),
    /// `/orgs/{id}/secrets` (org admin).
    Org(i64),
    /// `/secrets` (server admin to write).
    Global,
}

impl SecretScope {
    fn path(self) -> String {
        match self {
            SecretScope::Repo(id) => format!("/repos/{id}/secrets"),
            SecretScope::Org(id) => format!("/orgs/{id}/secrets"),
            SecretScope::Global => "/secrets".into(),
        }
    }
}

/// `Secret` as the server returns it (without its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// Its id.
    #[serde(default)]
    pub id: i64,
    /// Its name (case-sensitive).
    pub name: String,
    /// The events it is available to.
    #[serde(default)]
    pub events: Vec<String>,
    /// The images it is limited to (empty: all).
    #[serde(default)]
    pub images: Vec<String>,
    /// A note (e.g. who manages it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A secret to create or update. `Debug` does not show the value.
#[derive(Clone)]
pub struct SecretSpec {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: SecretString,
    /// The events it is available to (must not be empty).
    pub events: Vec<String>,
    /// The images it is limited to.
    pub images: Vec<String>,
    /// A note.
    pub note: Option<String>,
}

impl std::fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSpec")
            .field("name", &self.name)
            .field("value", &"[redacted]")
            .field("events", &self.events)
            .field("images", &self.images)
            .field("note", &self.note)
            .finish()
    }
}

impl SecretSpec {
    fn body(&self) -> serde_json::Value {
        use offinfra_http::ExposeSecret;
        let mut body = serde_json::json!({
            "name": self.name,
            "value": self.value.expose_secret(),
            "events": self.events,
            "images": self.images,
        });
        if let Some(note) = &self.note {
            body["note"] = note.clone().into();
        }
        body
    }
}

/// What [`Secrets::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// It did not exist: created.
    Created,
    /// It existed: value and settings replaced.
    Updated,
}

/// The secrets of one scope.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Secrets<'a> {
    pub(crate) http: &'a Client,
    pub(crate) scope: SecretScope,
}

impl Secrets<'_> {
    fn named(&self, name: &str) -> String {
        format!("{}/{}", self.scope.path(), crate::encode(name))
    }

    /// Every secret (without values).
    pub async fn list(&self) -> Result<Vec<Secret>, Error> {
        Ok(self.http.collect_pages(&Request::get(self.scope.path()), &PageNumbers::WOODPECKER, None).await?)
    }

    /// One secret, or `None`.
    pub async fn get(&self, name: &str) -> Result<Option<Secret>, Error> {
        match self.http.json(&Request::get(self.named(name))).await {
            Ok(secret) => Ok(Some(secret)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a secret (a duplicate name gives 500 on the server: prefer [`Self::upsert`]).
    pub async fn create(&self, spec: &SecretSpec) -> Result<Secret, Error> {
        Ok(self.http.json(&Request::post(self.scope.path()).json(&spec.body())?).await?)
    }

    /// Replaces a secret's value, events, images and note.
    pub async fn update(&self, spec: &SecretSpec) -> Result<Secret, Error> {
        Ok(self.http.json(&Request::patch(self.named(&spec.name)).json(&spec.body())?.idempotent(true)).await?)
    }

    /// Creates or updates by name without relying on the server's 500 for duplicates: PATCH, and POST
    /// when the PATCH finds nothing.
    pub async fn upsert(&self, spec: &SecretSpec) -> Result<Upserted, Error> {
        match self.update(spec).await {
            Ok(_) => Ok(Upserted::Updated),
            Err(Error::Http(e)) if e.is_not_found() => {
                self.create(spec).await?;
                Ok(Upserted::Created)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes a secret.
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        self.http.execute(&Request::delete(self.named(name))).await?;
        Ok(())
    }
}
