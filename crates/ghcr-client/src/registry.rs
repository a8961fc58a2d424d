//! The OCI distribution API: authentication as docker does it, reads, and the layout push.
//!
//! Written on the shared HTTP plumbing rather than on oci-client's push helpers, which hold whole blobs
//! in memory or send one PATCH per stream item, have no retry or resume, treat a declined mount (202)
//! as an error and ask for a token that cannot read the mount's source repository.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use oci_spec::image::Descriptor;
use offinfra_http::{
    base64_decode,
    header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, LOCATION, WWW_AUTHENTICATE},
    Auth, Client, Request, Response, RetryPolicy, SecretString, StatusCode,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{
    layout::{Hasher, Layout, SelectedImage},
    Error,
};

/// Media types a manifest request accepts.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
/// ghcr refuses upload requests larger than this.
pub const GHCR_MAX_CHUNK: usize = 4 * 1024 * 1024;
const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// Registry credentials. `Debug` never shows secrets.
#[derive(Clone, Default)]
pub enum Credentials {
    /// No credentials (public images; pull-only tokens where the registry hands them out).
    #[default]
    Anonymous,
    /// A user and a password or token (for ghcr.io: any user name and a PAT or `GITHUB_TOKEN`).
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: SecretString,
    },
    /// A registry token sent as is.
    Bearer(SecretString),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, [redacted])"),
            Credentials::Bearer(_) => f.write_str("Bearer([redacted])"),
        }
    }
}

impl Credentials {
    /// The shared plumbing's Basic [`Auth`] when these are a user and a password.
    fn basic(&self) -> Option<Auth> {
        match self {
            Credentials::Basic { username, password } => {
                Some(Auth::Basic { username: username.clone(), password: password.clone() })
            }
            _ => None,
        }
    }

    /// The credentials a docker user expects for `registry`: the given user and password, else the
    /// entry in the docker config directory (`$DOCKER_CONFIG` or `~/.docker`, passed in), else none.
    pub fn resolve(
        username: Option<&str>,
        password: Option<SecretString>,
        docker_config_dir: Option<&Path>,
        registry: &str,
    ) -> Result<Credentials, Error> {
        match (username, password) {
            (Some(username), Some(password)) => Ok(Credentials::Basic { username: username.to_owned(), password }),
            (Some(username), None) => Err(Error::Credentials(format!(
                "a user name ({username}) needs a password or token: --password-stdin or REGISTRY_PASSWORD"
            ))),
            (None, Some(_)) => {
                Err(Error::Credentials("a password or token needs a user name: --username or REGISTRY_USERNAME".into()))
            }
            (None, None) => match docker_config_dir {
                Some(dir) => Ok(docker_config_credentials(dir, registry)?.unwrap_or_default()),
                None => Ok(Credentials::Anonymous),
            },
        }
    }
}

/// Finds credentials for `registry` in a docker `config.json` (`auths` entries with `auth`, or
/// `username`/`password`, or `identitytoken`). `Ok(None)` when the file or the entry is absent;
/// credential helpers (`credsStore`, `credHelpers`) are not run.
pub fn docker_config_credentials(config_dir: &Path, registry: &str) -> Result<Option<Credentials>, Error> {
    let path = config_dir.join("config.json");
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let bad = |reason: String| Error::BadJson { path: path.clone(), what: "docker config".into(), reason };
    let config: serde_json::Value = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else { return Ok(None) };
    let entry = auths.iter().find(|(key, _)| {
        let key = key.trim_start_matches("https://").trim_start_matches("http://");
        key == registry || key.split('/').next() == Some(registry)
    });
    let Some((_, entry)) = entry else { return Ok(None) };
    let text = |k: &str| entry.get(k).and_then(|v| v.as_str()).filter(|v| !v.is_empty());
    if let Some(auth) = text("auth") {
        let decoded = base64_decode(auth)
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| bad(format!("auths.{registry}.auth is not base64 of user:password")))?;
        let (username, password) =
            decoded.split_once(':').ok_or_else(|| bad(format!("auths.{registry}.auth has no ':'")))?;
        return Ok(Some(Credentials::Basic { username: username.to_owned(), password: password.to_owned().into() }));
    }
    if let Some(token) = text("identitytoken") {
        return Ok(Some(Credentials::Bearer(token.to_owned().into())));
    }
    match (text("username"), text("password")) {
        (Some(u), Some(p)) => Ok(Some(Credentials::Basic { username: u.to_owned(), password: p.to_owned().into() })),
        _ => Ok(None),
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP Basic.
    Basic,
    /// A token service.
    Bearer {
        /// Where to get the token.
        realm: String,
        /// The `service` parameter to pass on.
        service: Option<String>,
        /// The scope the registry suggests.
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value.
///
/// ```
/// use ghcr_client::registry::{parse_challenge, Challenge};
/// let c = parse_challenge(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/n:pull""#);
/// assert_eq!(c, Some(Challenge::Bearer { realm: "https://ghcr.io/token".into(), service: Some("ghcr.io".into()), scope: Some("repository:o/n:pull".into()) }));
/// assert_eq!(parse_challenge(r#"Basic realm="local-registry""#), Some(Challenge::Basic));
/// ```
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            value
        } else {
            chars.by_ref().take_while(|c| *c != ',').collect::<String>().trim().to_owned()
        };
        params.insert(key.trim().to_ascii_lowercase(), value);
    }
    Some(Challenge::Bearer {
        realm: params.remove("realm")?,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

/// How blobs are uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadMode {
    /// Chunked for ghcr.io (it caps requests at 4 MiB), one streamed request elsewhere.
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
    /// Chunk size for chunked uploads (at most 4 MiB for ghcr).
    pub chunk_size: usize,
    /// Blobs uploaded at once.
    pub concurrency: usize,
    /// Retries of each request (and, for uploads, of each chunk or blob).
    pub retry: RetryPolicy,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            plain_http: None,
            upload: UploadMode::Auto,
            chunk_size: GHCR_MAX_CHUNK,
            concurrency: 4,
            retry: RetryPolicy::default(),
        }
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

/// Whether `tag` is a valid OCI tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `<registry>/<repository>` split, e.g. `ghcr.io/owner/app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryRef {
    /// The registry host (and port).
    pub registry: String,
    /// The repository path.
    pub repository: String,
}

impl std::str::FromStr for RepositoryRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (registry, repository) =
            s.split_once('/').ok_or_else(|| format!("{s:?}: expected <registry>/<namespace>/<name>"))?;
        let looks_like_host = registry.contains('.') || registry.contains(':') || registry == "localhost";
        let valid = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
                    && part.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            });
        if !looks_like_host || !valid {
            return Err(format!(
                "{s:?}: expected <registry host>/<lower-case repository path>, e.g. ghcr.io/owner/app"
            ));
        }
        Ok(Self { registry: registry.to_owned(), repository: repository.to_owned() })
    }
}

/// What happened to one blob during a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// Already in the repository.
    Present,
    /// Mounted from another repository of the registry.
    Mounted,
    /// Uploaded.
    Uploaded,
}

/// Progress of a push, for progress bars.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A blob is starting.
    BlobStarted {
        /// Its digest.
        digest: String,
        /// Its size.
        size: u64,
    },
    /// Bytes of a blob were sent.
    BlobBytes {
        /// Its digest.
        digest: String,
        /// Bytes sent in this step.
        bytes: u64,
    },
    /// A blob is done.
    BlobDone {
        /// Its digest.
        digest: String,
        /// How.
        outcome: BlobOutcome,
    },
    /// A manifest was pushed under a reference (digest or tag).
    ManifestPushed {
        /// The reference.
        reference: String,
    },
}

/// A callback for [`Progress`] events.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// One blob to send: where it goes and where its bytes are.
#[derive(Clone, Copy)]
struct BlobUpload<'a> {
    repository: &'a str,
    location: &'a str,
    digest: &'a str,
    file: &'a Path,
    offset: u64,
    length: u64,
    progress: &'a Option<ProgressFn>,
    /// No retry of any kind for this blob starts after this instant.
    deadline: Instant,
}

fn emit(progress: &Option<ProgressFn>, event: Progress) {
    if let Some(progress) = progress {
        progress(event);
    }
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The digest the tags point at.
    pub digest: String,
    /// Each blob's digest and outcome.
    pub blobs: Vec<(String, BlobOutcome)>,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// The tags pushed.
    pub tags: Vec<String>,
}

/// A manifest fetched from a registry, digest verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl FetchedManifest {
    /// The child manifest digests if this is an index.
    pub fn children(&self) -> Option<Vec<String>> {
        let value: serde_json::Value = serde_json::from_slice(&self.bytes).ok()?;
        let manifests = value.get("manifests")?.as_array()?;
        Some(manifests.iter().filter_map(|m| m.get("digest")?.as_str().map(str::to_owned)).collect())
    }
}

#[derive(Default)]
struct AuthState {
    basic: bool,
    tokens: HashMap<String, SecretString>,
}

/// A client of one registry.
///
/// ```no_run
/// use ghcr_client::{layout::{Layout, Selector}, registry::{Credentials, Registry, RegistryOptions}};
///
/// # async fn run() -> Result<(), ghcr_client::Error> {
/// let layout = Layout::open("image.tar")?;
/// let image = layout.select(&Selector::default())?;
/// layout.verify(&image)?;
/// let creds = Credentials::Basic { username: "bot".into(), password: "ghp_…".into() };
/// let registry = Registry::new("ghcr.io", creds, RegistryOptions::default())?;
/// let report = registry.push(&layout, &image, "owner/app", &["latest".into(), "abc12345".into()], None).await?;
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
        let plain = options.plain_http.unwrap_or_else(|| is_loopback(host));
        let scheme = if plain { "http" } else { "https" };
        let http = Client::builder(format!("{scheme}://{host}")).retry(options.retry).build()?;
        Ok(Self { host: host.to_owned(), http, credentials, options, auth: Arc::default() })
    }

    /// The registry host.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn upload_mode(&self) -> UploadMode {
        match self.options.upload {
            UploadMode::Auto if self.host == "ghcr.io" => UploadMode::Chunked,
            UploadMode::Auto => UploadMode::Monolithic,
            mode => mode,
        }
    }

    fn auth_header(&self, scope_key: &str) -> Result<Option<HeaderValue>, Error> {
        let state = self.auth.lock().expect("auth state lock");
        let auth = match (state.tokens.get(scope_key), &self.credentials) {
            (Some(token), _) => Auth::Bearer(token.clone()),
            (None, Credentials::Bearer(token)) => Auth::Bearer(token.clone()),
            (None, credentials) => match credentials.basic().filter(|_| state.basic) {
                Some(basic) => basic,
                None => return Ok(None),
            },
        };
        Ok(Some(header_value(&auth)?))
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
            if response.status != StatusCode::UNAUTHORIZED || challenged {
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

    async fn fetch_token(&self, realm: &str, service: Option<&str>, scopes: &[String]) -> Result<SecretString, Error> {
        tracing::debug!(realm, service, scope = %scopes.join(" "), "token exchange");
        let mut request = Request::get(realm);
        if let Some(service) = service {
            request = request.query("service", service);
        }
        for scope in scopes {
            request = request.query("scope", scope.as_str());
        }
        if let Some(basic) = self.credentials.basic() {
            request = request.header(AUTHORIZATION, header_value(&basic)?);
        }
        let response = self.http.execute(&request).await?;
        let body: serde_json::Value = response.json(request.method())?;
        let token = body.get("token").or_else(|| body.get("access_token")).and_then(|t| t.as_str());
        token.map(|t| SecretString::from(t.to_owned())).ok_or_else(|| {
            offinfra_http::Error::Decode {
                method: "GET".into(),
                url: realm.to_owned(),
                reason: "no token in the answer".into(),
            }
            .into()
        })
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

    fn pull(repository: &str) -> Vec<String> {
        vec![format!("repository:{repository}:pull")]
    }

    fn push_scope(repository: &str) -> Vec<String> {
        vec![format!("repository:{repository}:pull,push")]
    }

    /// `GET /v2/`: whether the registry answers, and how fast.
    pub async fn ping(&self) -> Result<Duration, Error> {
        let start = Instant::now();
        self.execute(Request::get("/v2/"), &[]).await?;
        Ok(start.elapsed())
    }

    /// The digest a tag or digest resolves to (`HEAD`), or `None` if it does not exist.
    pub async fn manifest_digest(&self, repository: &str, reference: &str) -> Result<Option<String>, Error> {
        let request = Request::head(format!("/v2/{repository}/manifests/{reference}"))
            .header(ACCEPT, HeaderValue::from_static(MANIFEST_ACCEPT));
        let response = self.send(request, &Self::pull(repository)).await?;
        match response.status {
            s if s.is_success() => Ok(response
                .header(DOCKER_CONTENT_DIGEST)
                .map(str::to_owned)
                .or_else(|| reference.starts_with("sha").then(|| reference.to_owned()))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(response.to_error("HEAD").into()),
        }
    }

    /// A manifest by tag or digest, its digest verified; `None` if it does not exist.
    pub async fn manifest(&self, repository: &str, reference: &str) -> Result<Option<FetchedManifest>, Error> {
        let request = Request::get(format!("/v2/{repository}/manifests/{reference}"))
            .header(ACCEPT, HeaderValue::from_static(MANIFEST_ACCEPT));
        let response = match self.execute(request, &Self::pull(repository)).await {
            Ok(response) => response,
            Err(Error::Http(e)) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let expected = if reference.contains(':') {
            Some(reference.to_owned())
        } else {
            response.header(DOCKER_CONTENT_DIGEST).map(str::to_owned)
        };
        let algorithm = expected.clone().unwrap_or_else(|| "sha256:".into());
        let mut hasher = Hasher::for_digest(&algorithm)?;
        hasher.update(&response.body);
        let actual = hasher.finish();
        if let Some(expected) = expected {
            if expected != actual {
                return Err(Error::DigestMismatch {
                    path: PathBuf::from(format!("{}/{repository}", self.host)),
                    digest: expected,
                    actual,
                });
            }
        }
        let media_type = response.header("content-type").unwrap_or_default().to_owned();
        Ok(Some(FetchedManifest { digest: actual, media_type, bytes: response.body.to_vec() }))
    }

    /// Deletes a manifest by digest (Distribution allows it when deletes are enabled; ghcr answers 405
    /// and wants the Packages API instead).
    pub async fn delete_manifest(&self, repository: &str, digest: &str) -> Result<(), Error> {
        let scopes = [format!("repository:{repository}:delete,pull,push")];
        self.execute(Request::delete(format!("/v2/{repository}/manifests/{digest}")), &scopes).await?;
        Ok(())
    }

    /// Every tag of a repository (following `Link` pages).
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, Error> {
        self.string_list(format!("/v2/{repository}/tags/list"), &Self::pull(repository), "tags").await
    }

    /// Every repository in the catalog (following `Link` pages).
    pub async fn catalog(&self) -> Result<Vec<String>, Error> {
        self.string_list("/v2/_catalog".to_owned(), &["registry:catalog:*".to_owned()], "repositories").await
    }

    /// The strings under `key` of every page from `first` on, following `rel="next"` links.
    async fn string_list(&self, first: String, scopes: &[String], key: &str) -> Result<Vec<String>, Error> {
        let mut items = Vec::new();
        let mut next = Some(first);
        while let Some(target) = next.take() {
            let response = self.execute(Request::get(target), scopes).await?;
            let page: serde_json::Value = response.json(&offinfra_http::Method::GET)?;
            let values = page.get(key).and_then(|t| t.as_array()).into_iter().flatten();
            items.extend(values.filter_map(|t| t.as_str().map(str::to_owned)));
            next = response.header("link").and_then(offinfra_http::link::next_link);
        }
        Ok(items)
    }

    /// Downloads blob `digest` into `out` in a stream (memory bounded by the network chunks),
    /// verifying the digest on the way; returns its size. A mismatch is an error once the whole blob
    /// is read: nothing written to `out` may be trusted before that.
    pub async fn pull_blob<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        repository: &str,
        digest: &str,
        out: &mut W,
    ) -> Result<u64, Error> {
        use tokio::io::AsyncWriteExt;
        let scopes = Self::pull(repository);
        let target = format!("/v2/{repository}/blobs/{digest}");
        // A HEAD settles authentication (and finds a missing blob) before the streamed GET.
        let head = self.send(Request::head(target.as_str()), &scopes).await?;
        if !head.status.is_success() {
            return Err(head.to_error("HEAD").into());
        }
        let mut request = Request::get(target.as_str());
        if let Some(value) = self.auth_header(&scopes.join(" "))? {
            request = request.header(AUTHORIZATION, value);
        }
        let mut response = self.http.send_streaming(&request).await?;
        let mut hasher = Hasher::for_digest(digest)?;
        let place = format!("{}/{repository}", self.host);
        let mut size = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|source| offinfra_http::Error::Transport {
            method: "GET".into(),
            url: format!("{place}/blobs/{digest}"),
            source,
        })? {
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(|e| Error::io(&place, e))?;
            size += chunk.len() as u64;
        }
        out.flush().await.map_err(|e| Error::io(&place, e))?;
        let actual = hasher.finish();
        if actual != digest {
            return Err(Error::DigestMismatch { path: PathBuf::from(place), digest: digest.to_owned(), actual });
        }
        Ok(size)
    }

    /// Whether the repository has the blob (`HEAD`).
    pub async fn blob_exists(&self, repository: &str, digest: &str) -> Result<bool, Error> {
        let response =
            self.send(Request::head(format!("/v2/{repository}/blobs/{digest}")), &Self::push_scope(repository)).await?;
        match response.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(response.to_error("HEAD").into()),
        }
    }

    /// Pushes `image` from `layout` to `repository` under `tags`: blobs (skipping present ones,
    /// mounting from `mount_from` when given), then manifests children first, then the tags. No tag
    /// is written before everything it points at is in the registry.
    pub async fn push(
        &self,
        layout: &Layout,
        image: &SelectedImage,
        repository: &str,
        tags: &[String],
        progress: Option<ProgressFn>,
    ) -> Result<PushReport, Error> {
        self.push_from(layout, image, repository, tags, None, progress).await
    }

    /// [`Self::push`], trying a cross-repository mount from `mount_from` before uploading a blob.
    pub async fn push_from(
        &self,
        layout: &Layout,
        image: &SelectedImage,
        repository: &str,
        tags: &[String],
        mount_from: Option<&str>,
        progress: Option<ProgressFn>,
    ) -> Result<PushReport, Error> {
        let notify = |event| emit(&progress, event);
        let outcomes: Vec<(String, BlobOutcome, u64)> = stream::iter(image.blobs.iter().cloned())
            .map(|descriptor| {
                let progress = progress.clone();
                async move {
                    let pushed = self.push_blob(layout, &descriptor, repository, mount_from, progress).await;
                    if let Ok((digest, outcome, sent)) = &pushed {
                        tracing::debug!(repository, digest = %digest, size = descriptor.size(), ?outcome, sent, "blob");
                    }
                    pushed
                }
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .try_collect()
            .await?;
        let scopes = Self::push_scope(repository);
        for manifest in &image.manifests {
            let digest = manifest.descriptor.digest().to_string();
            let is_root = std::ptr::eq(manifest, image.root());
            if !is_root || tags.is_empty() {
                self.put_manifest(
                    repository,
                    &digest,
                    manifest.descriptor.media_type().as_ref(),
                    &manifest.bytes,
                    &scopes,
                )
                .await?;
                notify(Progress::ManifestPushed { reference: digest.clone() });
            }
        }
        let root = image.root();
        for tag in tags {
            self.put_manifest(repository, tag, root.descriptor.media_type().as_ref(), &root.bytes, &scopes).await?;
            notify(Progress::ManifestPushed { reference: tag.clone() });
        }
        Ok(PushReport {
            digest: image.digest(),
            bytes_uploaded: outcomes.iter().filter(|(_, o, _)| *o == BlobOutcome::Uploaded).map(|(_, _, n)| n).sum(),
            blobs: outcomes.into_iter().map(|(d, o, _)| (d, o)).collect(),
            tags: tags.to_vec(),
        })
    }

    async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        scopes: &[String],
    ) -> Result<(), Error> {
        let request = Request::put(format!("/v2/{repository}/manifests/{reference}"))
            .body(Bytes::copy_from_slice(bytes), media_type);
        let response = self.execute(request, scopes).await?;
        if let Some(returned) = response.header(DOCKER_CONTENT_DIGEST) {
            let sent = crate::layout::sha256_digest(bytes);
            if returned.starts_with("sha256:") && returned != sent {
                return Err(Error::DigestMismatch {
                    path: PathBuf::from(format!("{}/{repository}", self.host)),
                    digest: sent,
                    actual: returned.to_owned(),
                });
            }
        }
        Ok(())
    }

    async fn push_blob(
        &self,
        layout: &Layout,
        descriptor: &Descriptor,
        repository: &str,
        mount_from: Option<&str>,
        progress: Option<ProgressFn>,
    ) -> Result<(String, BlobOutcome, u64), Error> {
        let digest = descriptor.digest().to_string();
        let size = descriptor.size();
        let notify = |event| emit(&progress, event);
        notify(Progress::BlobStarted { digest: digest.clone(), size });
        if self.blob_exists(repository, &digest).await? {
            notify(Progress::BlobDone { digest: digest.clone(), outcome: BlobOutcome::Present });
            return Ok((digest, BlobOutcome::Present, 0));
        }
        let mut session = None;
        if let Some(from) = mount_from.filter(|from| *from != repository) {
            let scopes = vec![format!("repository:{repository}:pull,push"), format!("repository:{from}:pull")];
            let request = Request::post(format!("/v2/{repository}/blobs/uploads/"))
                .query("mount", digest.as_str())
                .query("from", from);
            let response = self.send(request, &scopes).await?;
            match response.status {
                StatusCode::CREATED => {
                    notify(Progress::BlobDone { digest: digest.clone(), outcome: BlobOutcome::Mounted });
                    return Ok((digest, BlobOutcome::Mounted, 0));
                }
                // Mount declined: the registry opened an upload session instead.
                StatusCode::ACCEPTED => session = response.header(LOCATION.as_str()).map(str::to_owned),
                _ => {}
            }
        }
        let (file, offset, length) = layout.blob_location(descriptor)?;
        // One deadline for the whole blob: the shared client retries each request, the chunk loop
        // resumes a session, and this loop opens a new session, but none of them starts after it.
        let policy = &self.options.retry;
        let deadline = Instant::now() + policy.deadline;
        let mut attempt = 0u32;
        let last_error = loop {
            attempt += 1;
            let started = match session.take() {
                Some(location) => Ok(location),
                None => self.start_upload(repository).await,
            };
            let result = match started {
                Ok(location) => {
                    let upload = BlobUpload {
                        repository,
                        location: &location,
                        digest: &digest,
                        file: &file,
                        offset,
                        length,
                        progress: &progress,
                        deadline,
                    };
                    match self.upload_mode() {
                        UploadMode::Chunked => self.upload_chunked(&upload).await,
                        _ => self.upload_monolithic(&upload).await,
                    }
                }
                Err(e) => Err(e),
            };
            let error = match result {
                Ok(()) => {
                    notify(Progress::BlobDone { digest: digest.clone(), outcome: BlobOutcome::Uploaded });
                    return Ok((digest, BlobOutcome::Uploaded, size));
                }
                // The layout itself is wrong: sending it again cannot help.
                Err(e @ (Error::DigestMismatch { .. } | Error::Io { .. } | Error::MissingBlob { .. })) => {
                    return Err(e)
                }
                Err(e) => e,
            };
            let delay = policy.backoff(attempt - 1, 0.5);
            if attempt >= policy.max_attempts.max(1) || Instant::now() + delay > deadline {
                break error;
            }
            tracing::info!(repository, digest = %digest, attempt, error = %error, "uploading the blob again");
            tokio::time::sleep(delay).await;
        };
        Err(last_error)
    }

    async fn start_upload(&self, repository: &str) -> Result<String, Error> {
        let response = self
            .execute(Request::post(format!("/v2/{repository}/blobs/uploads/")), &Self::push_scope(repository))
            .await?;
        response.header(LOCATION.as_str()).map(str::to_owned).ok_or_else(|| {
            offinfra_http::Error::Decode {
                method: "POST".into(),
                url: response.url.to_string(),
                reason: "no Location for the upload".into(),
            }
            .into()
        })
    }

    /// One streamed `PUT` of the whole blob, hashed on the way out.
    async fn upload_monolithic(&self, upload: &BlobUpload<'_>) -> Result<(), Error> {
        let BlobUpload { repository, location, digest, file, offset, length, progress, .. } = *upload;
        let file_path = file.to_owned();
        let file = file.to_owned();
        let progress = progress.clone();
        let digest_owned = digest.to_owned();
        // The stream hashes what it sends: a corrupt blob is caught here, before any manifest or tag.
        let corrupt: Arc<Mutex<Option<String>>> = Arc::default();
        let corrupt_in_stream = corrupt.clone();
        let factory: offinfra_http::BodyFactory = Arc::new(move || {
            let file = file.clone();
            let progress = progress.clone();
            let digest = digest_owned.clone();
            let corrupt = corrupt_in_stream.clone();
            let hasher = Hasher::for_digest(&digest).ok();
            let chunks =
                stream::try_unfold((None::<tokio::fs::File>, 0u64, hasher), move |(handle, sent, mut hasher)| {
                    let file = file.clone();
                    let progress = progress.clone();
                    let digest = digest.clone();
                    let corrupt = corrupt.clone();
                    async move {
                        if sent >= length {
                            return Ok::<_, std::io::Error>(None);
                        }
                        let mut handle = match handle {
                            Some(h) => h,
                            None => {
                                let mut h = tokio::fs::File::open(&file).await?;
                                h.seek(std::io::SeekFrom::Start(offset)).await?;
                                h
                            }
                        };
                        let want = (length - sent).min(1024 * 1024) as usize;
                        let mut buf = vec![0u8; want];
                        handle.read_exact(&mut buf).await?;
                        if let Some(h) = hasher.as_mut() {
                            h.update(&buf);
                        }
                        // Check before the last bytes leave: the HTTP stack stops reading at the length.
                        if sent + want as u64 == length {
                            if let Some(h) = hasher.take() {
                                let actual = h.finish();
                                if actual != digest {
                                    *corrupt.lock().expect("corrupt flag lock") = Some(actual);
                                    return Err(std::io::Error::new(
                                        std::io::ErrorKind::InvalidData,
                                        format!("blob {digest} is corrupt"),
                                    ));
                                }
                            }
                        }
                        if let Some(progress) = &progress {
                            progress(Progress::BlobBytes { digest, bytes: want as u64 });
                        }
                        Ok(Some((Bytes::from(buf), (Some(handle), sent + want as u64, hasher))))
                    }
                });
            offinfra_http::Body::wrap_stream(chunks)
        });
        let request = Request::put(location)
            .query("digest", digest)
            .header(CONTENT_LENGTH, HeaderValue::from(length))
            .stream_body(factory, "application/octet-stream")
            // A failed upload is restarted whole, on a new session, by the caller.
            .idempotent(false);
        let result = self.execute(request, &Self::push_scope(repository)).await;
        if let Some(actual) = corrupt.lock().expect("corrupt flag lock").take() {
            return Err(Error::DigestMismatch { path: file_path.clone(), digest: digest.to_owned(), actual });
        }
        result.map(|_| ())
    }

    /// `PATCH` chunks of at most the chunk size, each retried, resuming where the registry stands.
    async fn upload_chunked(&self, upload: &BlobUpload<'_>) -> Result<(), Error> {
        let BlobUpload { repository, location, digest, file, offset, length, progress, deadline } = *upload;
        let scopes = Self::push_scope(repository);
        let chunk = self.options.chunk_size.max(1) as u64;
        let mut handle = tokio::fs::File::open(file).await.map_err(|e| Error::io(file, e))?;
        let mut location = location.to_owned();
        let mut sent = 0u64;
        let mut hasher = Hasher::for_digest(digest)?;
        let mut hashed = 0u64;
        let mut failures = 0u32;
        while sent < length {
            let want = (length - sent).min(chunk) as usize;
            let mut buf = vec![0u8; want];
            handle.seek(std::io::SeekFrom::Start(offset + sent)).await.map_err(|e| Error::io(file, e))?;
            handle.read_exact(&mut buf).await.map_err(|e| Error::io(file, e))?;
            // Hash each byte once, in order, even when a resume re-reads part of a chunk.
            if hashed >= sent && hashed < sent + want as u64 {
                hasher.update(&buf[(hashed - sent) as usize..]);
                hashed = sent + want as u64;
            }
            let range =
                HeaderValue::from_str(&format!("{}-{}", sent, sent + want as u64 - 1)).expect("digits and a dash");
            let request = Request::patch(location.as_str())
                .header(CONTENT_RANGE, range)
                .body(Bytes::from(buf), "application/octet-stream")
                // A chunk at a given range can be sent again: the registry checks the offset.
                .idempotent(true);
            match self.execute(request, &scopes).await {
                Ok(response) => {
                    failures = 0;
                    location = response.header(LOCATION.as_str()).map(str::to_owned).unwrap_or(location);
                    sent += want as u64;
                    if let Some(progress) = progress {
                        progress(Progress::BlobBytes { digest: digest.to_owned(), bytes: want as u64 });
                    }
                }
                Err(e) => {
                    failures += 1;
                    if failures >= self.options.retry.max_attempts.max(1) || Instant::now() >= deadline {
                        return Err(e);
                    }
                    // Ask where the upload stands and resume from there, or give up on this session.
                    let status = self.send(Request::get(location.as_str()), &scopes).await?;
                    // `0-0` is how Distribution says "nothing yet".
                    let resumed = status.header("range").and_then(|r| r.split_once('-')).and_then(|(start, end)| {
                        let end = end.parse::<u64>().ok()?;
                        Some(if start == "0" && end == 0 { 0 } else { end + 1 })
                    });
                    match resumed {
                        // Resume where the registry stands (the same chunk again when it has none of it).
                        Some(at) if status.status == StatusCode::NO_CONTENT && at >= sent && at <= length => {
                            location = status.header(LOCATION.as_str()).map(str::to_owned).unwrap_or(location);
                            sent = at;
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
        let actual = hasher.finish();
        if hashed != length || actual != digest {
            return Err(Error::DigestMismatch { path: file.to_owned(), digest: digest.to_owned(), actual });
        }
        let request =
            Request::put(location.as_str()).query("digest", digest).header(CONTENT_LENGTH, HeaderValue::from(0u64));
        self.execute(request, &scopes).await?;
        Ok(())
    }
}

/// An index whose child manifest is gone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Orphan {
    /// The tag that led to the index.
    pub tag: String,
    /// The index's digest.
    pub index: String,
    /// The missing child's digest.
    pub missing_child: String,
}

/// What the pull-through cache check found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CacheHealth {
    /// How long `GET /v2/` took, in milliseconds.
    pub ping_ms: u128,
    /// How long `GET /v2/_catalog` (all pages) took, in milliseconds.
    pub catalog_ms: u128,
    /// The repositories the cache holds.
    pub repositories: Vec<String>,
}

impl Registry {
    /// Every index reachable from `tags` (all tags when `None`) of `repository` whose child manifests
    /// are missing: the failure that leaves a tag unpullable.
    pub async fn find_orphans(&self, repository: &str, tags: Option<&[String]>) -> Result<Vec<Orphan>, Error> {
        let tags = match tags {
            Some(tags) => tags.to_vec(),
            None => self.tags(repository).await?,
        };
        let mut orphans = Vec::new();
        let mut checked: HashMap<String, Vec<String>> = HashMap::new();
        for tag in tags {
            let Some(manifest) = self.manifest(repository, &tag).await? else { continue };
            let Some(children) = manifest.children() else { continue };
            let missing = match checked.get(&manifest.digest) {
                Some(missing) => missing.clone(),
                None => {
                    let mut missing = Vec::new();
                    for child in children {
                        if self.manifest_digest(repository, &child).await?.is_none() {
                            missing.push(child);
                        }
                    }
                    checked.insert(manifest.digest.clone(), missing.clone());
                    missing
                }
            };
            orphans.extend(missing.into_iter().map(|missing_child| Orphan {
                tag: tag.clone(),
                index: manifest.digest.clone(),
                missing_child,
            }));
        }
        Ok(orphans)
    }

    /// Checks a pull-through cache: `/v2/` and `/v2/_catalog` answer, with timings.
    pub async fn check_cache(&self) -> Result<CacheHealth, Error> {
        let ping = self.ping().await?;
        let start = Instant::now();
        let repositories = self.catalog().await?;
        Ok(CacheHealth { ping_ms: ping.as_millis(), catalog_ms: start.elapsed().as_millis(), repositories })
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
    use offinfra_http::ExposeSecret;

    use super::*;

    #[test]
    fn challenges_and_hosts() {
        assert_eq!(
            parse_challenge(r#"Bearer realm="http://127.0.0.1:15058/token",service="local-registry""#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:15058/token".into(),
                service: Some("local-registry".into()),
                scope: None
            })
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None, "no realm");
        assert!(is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io") && !is_loopback("10.0.0.1:5000"));
        let r: RepositoryRef = "ghcr.io/owner/app".parse().unwrap();
        assert_eq!((r.registry.as_str(), r.repository.as_str()), ("ghcr.io", "owner/app"));
        assert!("owner/app".parse::<RepositoryRef>().is_err());
        assert!("ghcr.io/Owner/App".parse::<RepositoryRef>().is_err());
    }

    #[test]
    fn docker_config_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"ghcr.io":{"auth":"Ym90OmdocF9zZWNyZXQ="},"https://reg.example":{"username":"u","password":"p"},"tok.example":{"identitytoken":"t"}}}"#,
        )
        .unwrap();
        let ghcr = docker_config_credentials(dir.path(), "ghcr.io").unwrap().unwrap();
        let Credentials::Basic { username, password } = &ghcr else { panic!() };
        assert_eq!((username.as_str(), password.expose_secret()), ("bot", "ghp_secret"));
        assert!(!format!("{ghcr:?}").contains("ghp_secret"));
        assert!(matches!(
            docker_config_credentials(dir.path(), "reg.example").unwrap(),
            Some(Credentials::Basic { .. })
        ));
        assert!(matches!(docker_config_credentials(dir.path(), "tok.example").unwrap(), Some(Credentials::Bearer(_))));
        assert!(docker_config_credentials(dir.path(), "other.example").unwrap().is_none());
        assert!(docker_config_credentials(&dir.path().join("nowhere"), "ghcr.io").unwrap().is_none());
    }
}
