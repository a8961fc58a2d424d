//! Repository activation, repair and crons; organisation lookup.

use std::collections::BTreeMap;

use offinfra_http::{PageNumbers, Request};
use serde::{Deserialize, Serialize};

use crate::{Error, Pipeline, Repo, RepoHandle, Woodpecker};

/// `Org`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Org {
    /// Its id (what `/orgs/{id}/…` takes).
    pub id: i64,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Whether it is a user's namespace.
    #[serde(default)]
    pub is_user: bool,
}

/// `Cron`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cron {
    /// Its id.
    #[serde(default)]
    pub id: i64,
    /// Its name (unique per repository).
    pub name: String,
    /// Five-field cron or a descriptor (`@every 6h`).
    pub schedule: String,
    /// The branch (default branch when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    /// Whether it runs. Always sent: the server takes an absent `enabled` as false.
    #[serde(default)]
    pub enabled: bool,
    /// Pipeline variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
}

impl Woodpecker {
    /// Activates the forge repository `forge_remote_id` (for Forgejo, the repository's numeric id as
    /// text). Already active (409) is success: the repository is then looked up as `owner/name`.
    pub async fn activate(&self, forge_remote_id: &str, owner: &str, name: &str) -> Result<(Repo, bool), Error> {
        let request = Request::post("/repos").query("forge_remote_id", forge_remote_id);
        match self.api.json::<Repo>(&request).await {
            Ok(repo) => Ok((repo, true)),
            Err(e) if e.status() == Some(409) => Ok((self.lookup(owner, name).await?, false)),
            Err(e) => Err(e.into()),
        }
    }

    /// The forge repositories the token's user can see (`GET /user/repos?all=true`, not paginated);
    /// inactive ones carry their `forge_remote_id` for [`Self::activate`].
    pub async fn user_repos(&self) -> Result<Vec<Repo>, Error> {
        Ok(self.api.json(&Request::get("/user/repos").query("all", "true")).await?)
    }

    /// `GET /orgs/lookup/{name}`.
    pub async fn lookup_org(&self, name: &str) -> Result<Org, Error> {
        Ok(self.api.json(&Request::get(format!("/orgs/lookup/{}", crate::encode(name)))).await?)
    }
}

impl RepoHandle<'_> {
    /// `POST /repos/{id}/repair`: recreates Woodpecker's forge webhook (with a new token). A hook that
    /// was re-pointed to another host is not found by repair and stays, stale: re-point after repair.
    pub async fn repair(&self) -> Result<(), Error> {
        self.woodpecker.api.execute(&Request::post(format!("/repos/{}/repair", self.id)).idempotent(true)).await?;
        Ok(())
    }

    /// The repository's crons.
    pub async fn crons(&self) -> Result<Vec<Cron>, Error> {
        let request = Request::get(format!("/repos/{}/cron", self.id));
        Ok(self.woodpecker.api.collect_pages(&request, &PageNumbers::WOODPECKER, None).await?)
    }

    /// Creates a cron (sending `enabled` explicitly).
    pub async fn create_cron(&self, cron: &Cron) -> Result<Cron, Error> {
        let mut body = serde_json::to_value(cron).map_err(offinfra_http::Error::Encode)?;
        body["enabled"] = cron.enabled.into();
        if let Some(map) = body.as_object_mut() {
            map.remove("id");
        }
        Ok(self.woodpecker.api.json(&Request::post(format!("/repos/{}/cron", self.id)).json(&body)?).await?)
    }

    /// Runs cron `id` now.
    pub async fn run_cron(&self, id: i64) -> Result<Pipeline, Error> {
        Ok(self.woodpecker.api.json(&Request::post(format!("/repos/{}/cron/{id}", self.id))).await?)
    }

    /// Deletes cron `id`.
    pub async fn delete_cron(&self, id: i64) -> Result<(), Error> {
        self.woodpecker.api.execute(&Request::delete(format!("/repos/{}/cron/{id}", self.id))).await?;
        Ok(())
    }
}
