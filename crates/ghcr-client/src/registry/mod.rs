//! The OCI distribution API: authentication as docker does it, reads, the layout push and health checks.
//!
//! Written on the shared HTTP plumbing rather than on oci-client's push helpers, which hold whole blobs
//! in memory or send one PATCH per stream item, have no retry or resume, treat a declined mount (202)
//! as an error and ask for a token that cannot read the mount's source repository.
//!
//! - [`auth`]: credentials, the docker config, challenges and the token exchange;
//! - [`read`]: manifests, tags, the catalog and blobs;
//! - [`push`]: a layout's image, blob by blob (streamed, mounted, chunked and resumed), then its manifests;
//! - [`health`]: orphaned index children and pull-through cache checks.
//!
//! Image names, references and tags are [`offinfra_types`]' ([`ImageName`], [`ImageRef`], [`Tag`]).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use offinfra_http::{
    header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE},
    Auth, Client, ClientBuilder, Request, Response, RetryPolicy, StatusCode,
};
pub use offinfra_types::{Digest, ImageName, ImageRef, Reference, Tag};

use crate::Error;

pub mod auth;
pub mod build;
pub mod copy;
pub mod health;
pub mod inspect;
pub mod push;
pub mod read;

use auth::AuthState;
pub use auth::{credentials_in_docker_config, docker_config_credentials, parse_challenge, Challenge, Credentials};
pub use copy::{CopyOptions, CopyReport};
pub use health::{CacheHealth, Orphan, OrphanReport, RepositoryOrphan};
pub use push::{BlobOutcome, Progress, ProgressFn, PushReport};
pub use read::FetchedManifest;

/// Media types a manifest request accepts.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
/// ghcr refuses upload requests larger than this.
pub const GHCR_MAX_CHUNK: usize = 4 * 1024 * 1024;
const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// How blobs are uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadMode {
    /// As containerd pushes: one streamed `PUT` per blob, on ghcr.io as elsewhere; `PATCH` chunks when the
    /// upload session advertises `OCI-Chunk-Max-Length` or the registry refuses the blob whole (413/416).
    #[default]
    Auto,
    /// `PATCH` chunks of at most the chunk size, each retried and resumed on its own.
    Chunked,
    /// One streamed `PUT` per blob (memory bounded by the stream buffer, not the blob).
    Monolithic,
}

/// Registry client settings.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// `Some(true)`: plain HTTP; `Some(false)`: HTTPS; `None`: plain HTTP for loopback hosts only,
    /// as docker does.
    pub plain_http: Option<bool>,
    /// Upload mode.
    pub upload: UploadMode,
    /// Chunk size for chunked uploads (ghcr.io takes at most 4 MiB per `PATCH`).
    pub chunk_size: usize,
    /// Blobs uploaded at once.
    pub concurrency: usize,
    /// Retries of each request (and, for uploads, of each chunk or blob).
    pub retry: RetryPolicy,
    /// The slowest a blob may stream from a registry before its transfer counts as stalled and starts
    /// again (a server sending a byte a minute never trips the read timeout).
    pub min_throughput: MinThroughput,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            plain_http: None,
            upload: UploadMode::Auto,
            chunk_size: GHCR_MAX_CHUNK,
            concurrency: 4,
            retry: RetryPolicy::default(),
            min_throughput: MinThroughput::default(),
        }
    }
}

/// A floor under a blob's download rate: fewer than `bytes_per_second` on average over any `window` is a
/// stall. The default, 1 KiB/s over a minute, is far below any working link; `bytes_per_second: 0` turns
/// it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinThroughput {
    /// The floor.
    pub bytes_per_second: u64,
    /// How long the rate is measured over before it is judged.
    pub window: Duration,
}

impl Default for MinThroughput {
    fn default() -> Self {
        Self { bytes_per_second: 1024, window: Duration::from_secs(60) }
    }
}

/// Measures one stream against a [`MinThroughput`].
pub(super) struct Throughput {
    floor: MinThroughput,
    since: Instant,
    bytes: u64,
}

impl Throughput {
    pub(super) fn new(floor: MinThroughput) -> Self {
        Self { floor, since: Instant::now(), bytes: 0 }
    }

    /// Counts `n` more bytes; a stall (the floor not met over a whole window) is an error naming the rate.
    pub(super) fn add(&mut self, n: usize) -> Result<(), String> {
        self.bytes = self.bytes.saturating_add(n as u64);
        let elapsed = self.since.elapsed();
        if self.floor.bytes_per_second == 0 || elapsed < self.floor.window {
            return Ok(());
        }
        let wanted = (self.floor.bytes_per_second as f64 * elapsed.as_secs_f64()) as u64;
        if self.bytes < wanted {
            return Err(format!(
                "the transfer stalled: {} bytes in {elapsed:.1?}, under the floor of {} bytes/s",
                self.bytes, self.floor.bytes_per_second
            ));
        }
        (self.since, self.bytes) = (Instant::now(), 0);
        Ok(())
    }
}

/// Whether `host` (with an optional port) is a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether a failed blob transfer may succeed when started again: the network (no answer), a timeout, a
/// rate limit, a server error, or an upload session the registry forgot (404, 416). A wrong layout, a
/// digest mismatch, a refused credential or a missing source blob will fail the same way again.
fn may_restart(error: &Error) -> bool {
    matches!(error, Error::Stalled { .. })
        || matches!(error, Error::Http(_))
            && error.status().is_none_or(|s| matches!(s, 404 | 408 | 416 | 429 | 500..=599))
}

/// A client of one registry.
///
/// ```no_run
/// use ghcr_client::{layout::{Layout, Selector}, registry::{Credentials, Registry, RegistryOptions}};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let layout = Layout::open("image.tar")?;
/// let image = layout.select(&Selector::default())?;
/// layout.verify(&image)?;
/// let creds = Credentials::Basic { username: "bot".into(), password: "ghp_…".into() };
/// let registry = Registry::new("ghcr.io", creds, RegistryOptions::default())?;
/// let to = "ghcr.io/owner/app".parse()?;
/// let report = registry.push(&layout, &image, &to).tags(&["latest".parse()?, "abc12345".parse()?]).send().await?;
/// println!("{}", report.digest);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Registry {
    host: String,
    http: Client,
    credentials: Credentials,
    options: RegistryOptions,
    auth: Arc<Mutex<AuthState>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("base", &self.http.base().as_str())
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl Registry {
    /// A client of the registry at `host` (`ghcr.io`, `127.0.0.1:5000`).
    pub fn new(host: &str, credentials: Credentials, options: RegistryOptions) -> Result<Self, Error> {
        Self::builder(host).credentials(credentials).options(options).build()
    }

    /// A [`RegistryBuilder`] for the registry at `host`.
    pub fn builder(host: &str) -> RegistryBuilder {
        RegistryBuilder {
            host: host.to_owned(),
            credentials: Credentials::Anonymous,
            options: RegistryOptions::default(),
            user_agent: None,
            timeout: None,
            connect_timeout: None,
            http: None,
            resolve: Vec::new(),
            root_certificates: Vec::new(),
        }
    }

    /// The registry host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The image `repository` (a path such as a catalog entry, `owner/app`) names on this registry.
    ///
    /// ```
    /// let registry = ghcr_client::registry::Registry::builder("127.0.0.1:5000").build()?;
    /// assert_eq!(registry.image("acme/app")?.to_string(), "127.0.0.1:5000/acme/app");
    /// assert!(registry.image("../x").is_err());
    /// # Ok::<(), ghcr_client::Error>(())
    /// ```
    pub fn image(&self, repository: &str) -> Result<ImageName, Error> {
        ImageName::parse(&format!("{}/{repository}", self.host))
            .map_err(|_| Error::BadRepository { repository: repository.to_owned(), registry: self.host.clone() })
    }

    /// The path of `image` on this registry: its repository when its API host is this registry's (the one
    /// rule that keeps a client on its own host), else [`Error::OtherRegistry`].
    fn path_of<'a>(&self, image: &'a ImageName) -> Result<&'a str, Error> {
        let own = |host: &str| host.eq_ignore_ascii_case(&self.host);
        if own(image.api_host()) || own(image.registry()) {
            Ok(image.repository())
        } else {
            Err(Error::OtherRegistry { repository: image.to_string(), registry: self.host.clone() })
        }
    }

    /// Sends `request` with the credentials `scopes` need, answering a 401 challenge once (which also
    /// replaces a stale token).
    async fn send(&self, request: Request, scopes: &[String]) -> Result<Response, Error> {
        let scope_key = scopes.join(" ");
        let mut challenged = false;
        loop {
            let mut attempt = request.clone();
            if let Some(value) = self.auth_header(&scope_key)? {
                attempt = attempt.header(AUTHORIZATION, value);
            }
            let response = self.http.send(&attempt).await?;
            // Only the registry's own challenges are answered: a 401 from another origin (a foreign
            // upload Location, a Link to another host) never gets a token exchange or credentials.
            if response.status != StatusCode::UNAUTHORIZED || challenged || !self.http.same_origin(&response.url) {
                return Ok(response);
            }
            challenged = true;
            match response.header(WWW_AUTHENTICATE.as_str()).and_then(parse_challenge) {
                Some(Challenge::Basic) if matches!(self.credentials, Credentials::Basic { .. }) => {
                    self.auth.lock().expect("auth state lock").basic = true;
                }
                Some(Challenge::Bearer { realm, service, .. })
                    if !matches!(self.credentials, Credentials::Bearer(_)) =>
                {
                    let token = self.fetch_token(&realm, service.as_deref(), scopes).await?;
                    self.auth.lock().expect("auth state lock").tokens.insert(scope_key.clone(), token);
                }
                _ => return Ok(response),
            }
        }
    }

    async fn execute(&self, request: Request, scopes: &[String]) -> Result<Response, Error> {
        let method = request.method().to_string();
        let response = self.send(request, scopes).await?;
        if response.status.is_success() {
            Ok(response)
        } else {
            Err(response.to_error(&method).into())
        }
    }

    /// The one blob-restart rule, for pushes, copies and saves alike: runs `attempt` (given the blob's
    /// deadline, past which no retry of any kind starts) until it succeeds, while it fails in a way a new
    /// attempt may not ([`may_restart`]), up to the retry policy's attempts and deadline. One blob starts
    /// again; the others go on.
    pub(super) async fn restarting<F, Fut>(&self, digest: &str, mut attempt: F) -> Result<(), Error>
    where
        F: FnMut(Instant) -> Fut,
        Fut: std::future::Future<Output = Result<(), Error>>,
    {
        let policy = self.options.retry;
        let deadline = Instant::now() + policy.deadline;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match attempt(deadline).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let wait = policy.backoff(attempts - 1, offinfra_http::retry::jitter_unit());
            if !may_restart(&error) || attempts >= policy.max_attempts.max(1) || Instant::now() + wait > deadline {
                return Err(error);
            }
            tracing::warn!(digest, attempt = attempts, error = %error, "blob transfer failed; starting it again");
            tokio::time::sleep(wait).await;
        }
    }

    fn pull(repository: &str) -> Vec<String> {
        vec![format!("repository:{repository}:pull")]
    }

    fn push_scope(repository: &str) -> Vec<String> {
        vec![format!("repository:{repository}:pull,push")]
    }
}

/// Builds a [`Registry`]: credentials, [`RegistryOptions`], and the HTTP settings the other clients take
/// (user agent, timeouts, a caller's `offinfra_http::ReqwestClient`).
///
/// ```
/// use std::time::Duration;
/// use ghcr_client::registry::{Credentials, Registry};
///
/// let registry = Registry::builder("127.0.0.1:5000")
///     .credentials(Credentials::Anonymous)
///     .user_agent("my-tool/1.0")
///     .connect_timeout(Duration::from_secs(3))
///     .build()?;
/// assert_eq!(registry.host(), "127.0.0.1:5000");
/// # Ok::<(), ghcr_client::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RegistryBuilder {
    host: String,
    credentials: Credentials,
    options: RegistryOptions,
    user_agent: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    http: Option<offinfra_http::ReqwestClient>,
    resolve: Vec<(String, std::net::SocketAddr)>,
    root_certificates: Vec<u8>,
}

impl RegistryBuilder {
    /// Reaches `host` at `address` instead of what DNS says (curl's `--resolve`): TLS still checks the
    /// name, and a token realm on the same host is reached there too.
    pub fn resolve(mut self, host: &str, address: std::net::SocketAddr) -> Self {
        self.resolve.push((host.to_owned(), address));
        self
    }

    /// Trusts these CA certificates (PEM) besides the system's.
    pub fn root_certificates_pem(mut self, pem: Vec<u8>) -> Self {
        self.root_certificates.extend(pem);
        self
    }

    /// The credentials (default anonymous).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Scheme, upload mode, chunk size, concurrency and retries.
    pub fn options(mut self, options: RegistryOptions) -> Self {
        self.options = options;
        self
    }

    /// The `User-Agent` (default `offinfra/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// A timeout for each request (default none: a blob upload can be long; each blob has its own
    /// overall deadline across its retries, the retry policy's `deadline`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Use this `offinfra_http::ReqwestClient` (its own timeouts, proxies and TLS settings apply).
    pub fn http_client(mut self, client: offinfra_http::ReqwestClient) -> Self {
        self.http = Some(client);
        self
    }

    /// The client; plain HTTP only for a loopback host unless the options say otherwise.
    pub fn build(self) -> Result<Registry, Error> {
        let plain = self.options.plain_http.unwrap_or_else(|| is_loopback(&self.host));
        let scheme = if plain { "http" } else { "https" };
        let mut http: ClientBuilder = Client::builder(format!("{scheme}://{}", self.host)).retry(self.options.retry);
        if let Some(user_agent) = self.user_agent {
            http = http.user_agent(user_agent);
        }
        if let Some(timeout) = self.timeout {
            http = http.timeout(timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            http = http.connect_timeout(timeout);
        }
        for (host, address) in &self.resolve {
            http = http.resolve(host, *address);
        }
        if !self.root_certificates.is_empty() {
            http = http.root_certificates_pem(self.root_certificates);
        }
        if let Some(client) = self.http {
            http = http.http_client(client);
        }
        Ok(Registry {
            host: self.host,
            http: http.build()?,
            credentials: self.credentials,
            options: self.options,
            auth: Arc::default(),
        })
    }
}

/// The sensitive `Authorization` value of `auth`, built once by the shared plumbing.
fn header_value(auth: &Auth) -> Result<HeaderValue, Error> {
    auth.header()
        .map(|(_, value)| value)
        .map_err(|_| Error::Credentials("they contain characters not allowed in an HTTP header".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io") && !is_loopback("10.0.0.1:5000"));
    }

    #[test]
    fn the_builder_picks_the_scheme() {
        let local = Registry::builder("127.0.0.1:5000").build().unwrap();
        assert_eq!(local.http.base().as_str(), "http://127.0.0.1:5000/");
        let remote = Registry::builder("ghcr.io").user_agent("x/1").build().unwrap();
        assert_eq!(remote.http.base().as_str(), "https://ghcr.io/");
        let forced = RegistryOptions { plain_http: Some(true), ..RegistryOptions::default() };
        let plain = Registry::builder("registry.lan:5000").options(forced).build().unwrap();
        assert_eq!(plain.http.base().as_str(), "http://registry.lan:5000/");
    }

    #[tokio::test]
    async fn a_client_refuses_an_image_of_another_host_before_sending_anything() {
        // Port 9 on loopback: nothing answers, so any request would fail with a transport error instead.
        let registry = Registry::builder("127.0.0.1:9").build().unwrap();
        let elsewhere: ImageName = "ghcr.io/acme/app".parse().unwrap();
        let digest: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let other = |e: Error| matches!(e, Error::OtherRegistry { .. });
        assert!(other(registry.blob_exists(&elsewhere, &digest).await.unwrap_err()));
        assert!(other(registry.manifest(&elsewhere, &Reference::Digest(digest.clone())).await.unwrap_err()));
        assert!(other(registry.delete_manifest(&elsewhere, &digest).await.unwrap_err()));
        assert!(other(registry.tags(&elsewhere).await.unwrap_err()));
        // Docker Hub's name and its API host are the same registry.
        let hub = Registry::builder("registry-1.docker.io").build().unwrap();
        assert_eq!(hub.path_of(&"docker.io/library/nginx".parse().unwrap()).unwrap(), "library/nginx");
        assert!(matches!(registry.image("Acme/App"), Err(Error::BadRepository { .. })), "a path is held to the rule");
    }
}
