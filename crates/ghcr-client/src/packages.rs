//! The GitHub Packages REST API for container packages (API version 2022-11-28): list, delete and
//! restore versions, and execute a prune [`Plan`].

use std::time::Duration;

use offinfra_http::{
    header::{HeaderName, HeaderValue, ACCEPT},
    Auth, Client, Request, SecretString,
};

use crate::{prune::Plan, Error};

pub use crate::versions::{ContainerMetadata, DockerMetadata, PackageVersion, VersionMetadata};

/// `https://api.github.com`; GitHub Enterprise Server users pass their own (`GITHUB_API_URL`).
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// Which versions to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionState {
    /// Live versions (the default).
    #[default]
    Active,
    /// Deleted versions that can still be restored.
    Deleted,
}

/// A client of the GitHub Packages API.
///
/// ```no_run
/// use ghcr_client::packages::{Owner, Packages, VersionState};
///
/// # async fn run() -> Result<(), ghcr_client::Error> {
/// let packages = Packages::new(ghcr_client::packages::DEFAULT_API_URL, "ghp_…".into())?;
/// let versions = packages.list_versions(&Owner::Org("acme".into()), "app", VersionState::Active).await?;
/// println!("{} versions", versions.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Packages {
    http: Client,
    pause: Duration,
}

impl Packages {
    /// A client for the API at `api_url` with `token` (a classic PAT or `GITHUB_TOKEN`).
    pub fn new(api_url: &str, token: SecretString) -> Result<Self, Error> {
        Ok(Self::with_client(Client::builder(api_url).auth(Auth::Bearer(token)).build()?))
    }

    /// A client over an already configured HTTP client (base URL, auth, retries).
    pub fn with_client(http: Client) -> Self {
        Self { http, pause: Duration::from_secs(1) }
    }

    /// The pause between two deletions (default 1 s: GitHub asks for mutating requests to be spaced).
    pub fn pause_between_deletes(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    fn request(&self, request: Request) -> Request {
        request
            .header(ACCEPT, HeaderValue::from_static("application/vnd.github+json"))
            .header(HeaderName::from_static("x-github-api-version"), HeaderValue::from_static("2022-11-28"))
    }

    /// Every version of the container package (100 per page, following `Link`).
    pub async fn list_versions(
        &self,
        owner: &Owner,
        package: &str,
        state: VersionState,
    ) -> Result<Vec<PackageVersion>, Error> {
        let state = match state {
            VersionState::Active => "active",
            VersionState::Deleted => "deleted",
        };
        let request =
            self.request(Request::get(owner.versions_path(package)).query("per_page", "100").query("state", state));
        Ok(self.http.all_pages(request, None).await?)
    }

    /// Deletes version `id`.
    pub async fn delete_version(&self, owner: &Owner, package: &str, id: u64) -> Result<(), Error> {
        let path = format!("{}/{id}", owner.versions_path(package));
        self.http.execute(&self.request(Request::delete(path))).await?;
        Ok(())
    }

    /// Restores deleted version `id` (within 30 days of its deletion).
    pub async fn restore_version(&self, owner: &Owner, package: &str, id: u64) -> Result<(), Error> {
        let path = format!("{}/{id}/restore", owner.versions_path(package));
        // Restoring twice is harmless, so server errors may be retried.
        self.http.execute(&self.request(Request::post(path).idempotent(true))).await?;
        Ok(())
    }

    /// Deletes exactly the plan's deletions, oldest first, one at a time with a pause between them. A
    /// version that answers 404 is reported in [`PruneReport::not_found`], not as deleted; a run in which
    /// every deletion answered 404 is [`Error::NothingDeleted`] (a token that cannot see the versions
    /// looks exactly like that). Stops at the first other failure, reporting what was done; running the
    /// same plan again finishes the job.
    pub async fn execute(&self, owner: &Owner, package: &str, plan: &Plan) -> Result<PruneReport, Error> {
        let mut report = PruneReport::default();
        for (i, decision) in plan.deletions().enumerate() {
            if i > 0 && !self.pause.is_zero() {
                tokio::time::sleep(self.pause).await;
            }
            match self.delete_version(owner, package, decision.version_id).await {
                Ok(()) => report.deleted.push(decision.version_id),
                Err(Error::Http(e)) if e.is_not_found() => {
                    tracing::warn!(version_id = decision.version_id, digest = %decision.digest, "delete answered 404");
                    report.not_found.push(decision.version_id)
                }
                Err(Error::Http(source)) => {
                    return Err(Error::PruneStopped {
                        deleted: report.deleted,
                        version_id: decision.version_id,
                        digest: decision.digest.clone(),
                        source: Box::new(source),
                    })
                }
                Err(other) => return Err(other),
            }
        }
        if report.deleted.is_empty() && !report.not_found.is_empty() {
            return Err(Error::NothingDeleted { not_found: report.not_found });
        }
        Ok(report)
    }
}

/// What [`Packages::execute`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PruneReport {
    /// The versions deleted, in order.
    pub deleted: Vec<u64>,
    /// The versions whose delete answered 404 (gone already, or invisible to the token).
    pub not_found: Vec<u64>,
}

/// Whose packages: `/users/{name}`, `/orgs/{name}` or the authenticated user's `/user`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A user account, by login.
    User(String),
    /// An organisation, by login.
    Org(String),
    /// The user the token belongs to.
    AuthenticatedUser,
}

impl Owner {
    /// The path prefix of this owner's package endpoints.
    pub fn path_prefix(&self) -> String {
        match self {
            Owner::User(name) => format!("/users/{}", encode_segment(name)),
            Owner::Org(name) => format!("/orgs/{}", encode_segment(name)),
            Owner::AuthenticatedUser => "/user".into(),
        }
    }

    /// `{prefix}/packages/container/{package}/versions`; a `/` in the package name is encoded (`%2F`).
    pub fn versions_path(&self, package: &str) -> String {
        format!("{}/packages/container/{}/versions", self.path_prefix(), encode_segment(package))
    }
}

pub use offinfra_http::encode_segment;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encode_owner_and_package() {
        assert_eq!(
            Owner::Org("acme".into()).versions_path("kas/kas"),
            "/orgs/acme/packages/container/kas%2Fkas/versions"
        );
        assert_eq!(Owner::User("me".into()).versions_path("app"), "/users/me/packages/container/app/versions");
        assert_eq!(Owner::AuthenticatedUser.versions_path("app"), "/user/packages/container/app/versions");
    }
}
