//! A typed client of the Woodpecker CI API (v3), on offinfra's shared HTTP plumbing.
//!
//! Woodpecker's traps are handled here: repositories are addressed by numeric id (looked up by
//! `owner/name`), `/version` and `/healthz` live at the server root, an unknown API route answers
//! `200 text/html` (an error here, not a parse failure), and a manual pipeline that no workflow matched
//! answers `204 Pipeline-Filtered` (an error that says so, not a success).
//!
//! ```no_run
//! use std::{collections::BTreeMap, time::Duration};
//! use woodpecker_client::Woodpecker;
//!
//! # async fn run() -> Result<(), woodpecker_client::Error> {
//! let ci = Woodpecker::new("https://ci.example.com", "woodpecker-token".into())?;
//! let repo = ci.lookup("owner", "app").await?;
//! let variables = BTreeMap::from([("IMAGE_TAG".to_string(), "0123abcd".to_string())]);
//! let pipeline = ci.repo(repo.id).pipelines().create("master", &variables).await?;
//! let done = ci.repo(repo.id).pipelines().wait(pipeline.number, Duration::from_secs(300)).await?;
//! println!("#{} {}", done.number, done.status);
//! # Ok(()) }
//! ```
//!
//! This crate covers what the deploy step needs (version, health, repo lookup, manual pipelines, their
//! status and logs), secrets at every scope (upsert without relying on the 500 a duplicate gives),
//! activation (already active is success), repair, crons (always sent `enabled`) and org lookup.

mod error;
mod models;
mod pipelines;
mod repos;
mod secrets;

pub use error::Error;
pub use models::{LogEntry, Pipeline, Repo, Status, Step, Workflow};
pub use offinfra_http::SecretString;
pub use pipelines::{Pipelines, RunOutcome, StepTail, Wait};
pub use repos::{Cron, Org};
pub use secrets::{Secret, SecretScope, SecretSpec, Secrets, Upserted};

use offinfra_http::{Auth, Client, Request};

/// A Woodpecker server.
#[derive(Debug, Clone)]
pub struct Woodpecker {
    /// Bound to `<server>/api`.
    api: Client,
    /// Bound to the server root, for `/version` and `/healthz`.
    root: Client,
}

/// The server's `/version` answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[non_exhaustive]
pub struct ServerVersion {
    /// `https://github.com/woodpecker-ci/woodpecker`.
    #[serde(default)]
    pub source: String,
    /// `3.17.0`, or `next-<sha>` for development builds.
    pub version: String,
}

impl Woodpecker {
    /// A client of the Woodpecker at `url` (its web address, `ROOT_PATH` included) with a personal
    /// access token (`Authorization: Bearer …`; the word is case-sensitive there).
    pub fn new(url: &str, token: SecretString) -> Result<Self, Error> {
        let url = url.trim_end_matches('/');
        let api = Client::builder(format!("{url}/api")).auth(Auth::Bearer(token.clone())).build()?;
        let root = Client::builder(url).auth(Auth::Bearer(token)).build()?;
        Ok(Self { api, root })
    }

    /// A client over HTTP clients bound to `<server>/api` and to the server root.
    pub fn with_clients(api: Client, root: Client) -> Self {
        Self { api, root }
    }

    /// The web address of a pipeline, for people.
    pub fn pipeline_url(&self, repo_id: i64, number: i64) -> String {
        // The address goes to logs and `$GITHUB_OUTPUT`: never with credentials written into the URL.
        let mut base = self.root.base().clone();
        let _ = (base.set_username(""), base.set_password(None));
        base.set_query(None);
        format!("{}/repos/{repo_id}/pipeline/{number}", base.as_str().trim_end_matches('/'))
    }

    /// `GET /version` (at the server root).
    pub async fn version(&self) -> Result<ServerVersion, Error> {
        Ok(self.root.json(&Request::get("/version")).await?)
    }

    /// `GET /healthz` (at the server root): `Ok` when the server answers 204.
    pub async fn healthz(&self) -> Result<(), Error> {
        self.root.execute(&Request::get("/healthz")).await?;
        Ok(())
    }

    /// The repository `owner/name` as Woodpecker stores it (its numeric `id` is what the other
    /// endpoints take). Only repositories activated at least once are found.
    pub async fn lookup(&self, owner: &str, name: &str) -> Result<Repo, Error> {
        // The route is a wildcard: the slash between owner and name stays raw.
        let path = format!("/repos/lookup/{}/{}", encode(owner), encode(name));
        Ok(self.api.json(&Request::get(path)).await?)
    }

    /// Secrets of a repository, an organisation, or the whole server.
    pub fn secrets(&self, scope: SecretScope) -> Secrets<'_> {
        Secrets { http: &self.api, scope }
    }

    /// Endpoints of the repository with Woodpecker id `id`.
    pub fn repo(&self, id: i64) -> RepoHandle<'_> {
        RepoHandle { woodpecker: self, id }
    }
}

/// Endpoints of one repository.
#[derive(Debug, Clone)]
pub struct RepoHandle<'a> {
    woodpecker: &'a Woodpecker,
    id: i64,
}

impl<'a> RepoHandle<'a> {
    /// `GET /repos/{id}`.
    pub async fn get(&self) -> Result<Repo, Error> {
        Ok(self.woodpecker.api.json(&Request::get(format!("/repos/{}", self.id))).await?)
    }

    /// Its pipelines.
    pub fn pipelines(&self) -> Pipelines<'a> {
        Pipelines { http: &self.woodpecker.api, repo_id: self.id }
    }
}

use offinfra_http::encode_segment as encode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_prints() {
        let ci = Woodpecker::new("https://ci.example.com", "wp-secret-token".into()).unwrap();
        assert!(!format!("{ci:?}").contains("wp-secret-token"));
        assert_eq!(ci.pipeline_url(42, 7), "https://ci.example.com/repos/42/pipeline/7");
        let with_userinfo = Woodpecker::new("https://bot:hunter2@ci.example.com/", "t".into()).unwrap();
        assert_eq!(with_userinfo.pipeline_url(42, 7), "https://ci.example.com/repos/42/pipeline/7");
    }
}
