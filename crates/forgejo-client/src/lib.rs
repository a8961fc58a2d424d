//! A typed client of the Forgejo REST API (`/api/v1`), on offinfra's shared HTTP plumbing (retries,
//! errors that keep status and body, secrets that never print).
//!
//! ```no_run
//! use forgejo_client::{CreateTag, Forgejo, TagOutcome};
//!
//! # async fn run() -> Result<(), forgejo_client::Error> {
//! let forgejo = Forgejo::new("https://git.example.com", "forgejo-token".into())?;
//! let version = forgejo.version().await?; // 15.0.3+gitea-1.22.0
//! let outcome = forgejo
//!     .repo("owner", "app")
//!     .tags()
//!     .create(&CreateTag { tag_name: "v1.3.0".into(), target: Some("0123abc…".into()), message: None })
//!     .await?;
//! match outcome {
//!     TagOutcome::Created(tag) => println!("created {}", tag.name),
//!     TagOutcome::AlreadyThere(tag) => println!("{} was already on that commit", tag.name),
//! }
//! # Ok(()) }
//! ```
//!
//! This crate covers the server version, repositories (get, edit, a default-branch change that is
//! verified), tags (idempotent create), webhooks (edits that keep the fields a PATCH would reset), push
//! mirrors (idempotent `ensure`, `last_error` surfaced), contents (reads, multi-file commits),
//! branches, commit statuses, and the container packages of Forgejo's own registry.

mod branches;
mod contents;
mod error;
mod hooks;
mod mirrors;
mod models;
mod packages;
mod repos;
mod statuses;
mod tags;

pub use branches::{Branch, Compare};
pub use contents::{ChangeFiles, Contents, ContentsApi, Entry, FileChange};
pub use error::Error;
pub use hooks::{EditHook, Hook, Hooks};
pub use mirrors::{check_go_duration, same_remote, CreatePushMirror, PushMirror, PushMirrors};
pub use models::{CommitMeta, CreateTag, ServerVersion, Tag};
pub use offinfra_http::SecretString;
pub use packages::Package;
pub use repos::{EditRepo, Repository};
pub use statuses::{CreateStatus, StatusState};
pub use tags::{TagOutcome, Tags};

use offinfra_http::{Auth, Client, Request};

/// A Forgejo server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Forgejo {
    http: Client,
}

/// The API base for a Forgejo URL: `<url>/api/v1`, keeping any sub-path, unless the URL already ends
/// with `/api/v1`.
pub fn api_base(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.ends_with("/api/v1") {
        url.to_owned()
    } else {
        format!("{url}/api/v1")
    }
}

/// How Forgejo is reached besides DNS and the system's CAs ([`Forgejo::reached`]).
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Names reached at other addresses (curl's `--resolve`).
    pub resolve: Vec<offinfra_http::scope::Resolve>,
    /// More CA certificates to trust (PEM).
    pub ca_pem: Option<Vec<u8>>,
}

impl Forgejo {
    /// A client of the Forgejo at `url` (its web address, sub-path included) with a personal access
    /// token (`Authorization: token …`).
    pub fn new(url: &str, token: SecretString) -> Result<Self, Error> {
        Self::reached(url, token, &Reach::default())
    }

    /// A client of the Forgejo at `url` reached as `reach` says: some names at other addresses (an internal
    /// load balancer for the public name, TLS still checking that name) and more CAs to trust. An override
    /// for another host or port than `url`'s is an error: it would silently not apply.
    pub fn reached(url: &str, token: SecretString, reach: &Reach) -> Result<Self, Error> {
        let base = api_base(url);
        let parsed =
            offinfra_http::Url::parse(&base).map_err(|e| Error::InvalidInput(format!("Forgejo URL {url:?}: {e}")))?;
        let (host, port) = (parsed.host_str().unwrap_or_default().to_ascii_lowercase(), parsed.port_or_known_default());
        let mut builder = Client::builder(base).auth(Auth::Token(token));
        for r in &reach.resolve {
            if r.host != host || Some(r.port) != port {
                return Err(Error::InvalidInput(format!(
                    "--forgejo-resolve {}:{}:{} does not match Forgejo's address {host}:{}",
                    r.host,
                    r.port,
                    r.address,
                    port.unwrap_or_default()
                )));
            }
            builder = builder.resolve(&r.host, std::net::SocketAddr::new(r.address, r.port));
        }
        if let Some(pem) = &reach.ca_pem {
            builder = builder.root_certificates_pem(pem.clone());
        }
        Ok(Self::with_client(builder.build()?))
    }

    /// A client over an HTTP client already bound to `<forgejo>/api/v1`.
    pub fn with_client(http: Client) -> Self {
        Self { http }
    }

    /// The HTTP client, for endpoints this crate does not wrap yet (the typed escape hatch).
    pub fn http(&self) -> &Client {
        &self.http
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<ServerVersion, Error> {
        let body: serde_json::Value = self.http.json(&Request::get("/version")).await?;
        let text = body.get("version").and_then(|v| v.as_str()).unwrap_or_default();
        ServerVersion::parse(text)
    }

    /// Every repository of `owner`, an organisation (`/orgs/{org}/repos`) or, when no organisation has
    /// that name, a user (`/users/{username}/repos`), 50 a page.
    pub async fn owner_repos(&self, owner: &str) -> Result<Vec<Repository>, Error> {
        let pages = &offinfra_http::PageNumbers::FORGEJO;
        let org = Request::get(format!("/orgs/{}/repos", encode(owner)));
        match self.http.collect_pages(&org, pages, None).await {
            Ok(repos) => Ok(repos),
            Err(e) if e.is_not_found() => {
                let user = Request::get(format!("/users/{}/repos", encode(owner)));
                Ok(self.http.collect_pages(&user, pages, None).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The repository `owner/name`.
    pub fn repo(&self, owner: &str, name: &str) -> RepoHandle<'_> {
        RepoHandle { forgejo: self, owner: owner.to_owned(), name: name.to_owned() }
    }
}

/// Endpoints of one repository.
#[derive(Debug, Clone)]
pub struct RepoHandle<'a> {
    forgejo: &'a Forgejo,
    owner: String,
    name: String,
}

impl<'a> RepoHandle<'a> {
    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", encode(&self.owner), encode(&self.name))
    }

    /// `GET /repos/{owner}/{repo}`.
    pub async fn get(&self) -> Result<Repository, Error> {
        Ok(self.forgejo.http.json(&Request::get(self.path(""))).await?)
    }

    /// `PATCH /repos/{owner}/{repo}`.
    pub async fn edit(&self, edit: &EditRepo) -> Result<Repository, Error> {
        Ok(self.forgejo.http.json(&Request::patch(self.path("")).json(edit)?.idempotent(true)).await?)
    }

    /// Makes `branch` the default branch, and checks that it happened: Forgejo answers 200 and silently
    /// changes nothing when the branch does not exist.
    pub async fn set_default_branch(&self, branch: &str) -> Result<Repository, Error> {
        let repo = self.edit(&EditRepo { default_branch: Some(branch.to_owned()), ..EditRepo::default() }).await?;
        if repo.default_branch != branch {
            return Err(Error::DefaultBranchUnchanged {
                repo: format!("{}/{}", self.owner, self.name),
                requested: branch.to_owned(),
                actual: repo.default_branch,
            });
        }
        Ok(repo)
    }

    /// Its push mirrors.
    pub fn push_mirrors(&self) -> PushMirrors<'a> {
        PushMirrors {
            http: &self.forgejo.http,
            base: self.path("/push_mirrors"),
            sync: self.path("/push_mirrors-sync"),
        }
    }

    /// Its files.
    pub fn contents(&self) -> ContentsApi<'a> {
        ContentsApi { http: &self.forgejo.http, base: self.path("/contents") }
    }

    /// Its webhooks.
    pub fn hooks(&self) -> Hooks<'a> {
        Hooks { http: &self.forgejo.http, base: self.path("/hooks") }
    }

    /// Its tags.
    pub fn tags(&self) -> Tags<'a> {
        Tags { http: &self.forgejo.http, base: self.path("/tags"), repo: format!("{}/{}", self.owner, self.name) }
    }
}

pub(crate) use offinfra_http::encode_segment as encode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_keeps_sub_paths() {
        assert_eq!(api_base("https://git.example.com"), "https://git.example.com/api/v1");
        assert_eq!(api_base("https://example.com/forgejo/"), "https://example.com/forgejo/api/v1");
        assert_eq!(api_base("https://git.example.com/api/v1"), "https://git.example.com/api/v1");
    }

    #[test]
    fn the_token_never_prints() {
        let f = Forgejo::new("https://git.example.com", "tok-123-secret".into()).unwrap();
        assert!(!format!("{f:?}").contains("tok-123-secret"));
    }
}
