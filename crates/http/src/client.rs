//! One client for every API: base URL, auth, user agent, timeouts, retries.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::{
    header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, LINK, USER_AGENT},
    Method, StatusCode,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use crate::{link::next_link, retry::RetryPolicy, ApiError, Error};

/// How requests authenticate. `Debug` never shows the secret.
#[derive(Clone)]
pub enum Auth {
    /// `Authorization: Bearer <token>` (GitHub, Woodpecker, registry tokens).
    Bearer(SecretString),
    /// `Authorization: token <token>` (Forgejo and Gitea personal access tokens).
    Token(SecretString),
    /// HTTP Basic.
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: SecretString,
    },
    /// A header of its own (e.g. `X-Vault-Token`).
    Header {
        /// The header name.
        name: HeaderName,
        /// Its secret value.
        value: SecretString,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer([redacted])"),
            Auth::Token(_) => f.write_str("Token([redacted])"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, [redacted])"),
            Auth::Header { name, .. } => write!(f, "Header({name}: [redacted])"),
        }
    }
}

impl Auth {
    /// The header this auth adds, marked sensitive so that it is never logged.
    pub fn header(&self) -> Result<(HeaderName, HeaderValue), Error> {
        let (name, value) = match self {
            Auth::Bearer(t) => (AUTHORIZATION, format!("Bearer {}", t.expose_secret())),
            Auth::Token(t) => (AUTHORIZATION, format!("token {}", t.expose_secret())),
            Auth::Basic { username, password } => (
                AUTHORIZATION,
                format!("Basic {}", base64(format!("{username}:{}", password.expose_secret()).as_bytes())),
            ),
            Auth::Header { name, value } => (name.clone(), value.expose_secret().to_owned()),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| Error::Build {
            what: "credentials contain characters not allowed in an HTTP header".into(),
            source: None,
        })?;
        value.set_sensitive(true);
        Ok((name, value))
    }
}

/// Standard base64 with padding (for Basic auth and docker `config.json`).
pub fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The standard alphabet, accepting text with or without its `=` padding.
const BASE64_LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Makes a fresh streaming body for each attempt (a stream cannot be replayed).
pub type BodyFactory = std::sync::Arc<dyn Fn() -> reqwest::Body + Send + Sync>;

#[derive(Clone)]
enum Body {
    Bytes(Bytes),
    Stream(BodyFactory),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes one URL path segment (everything but RFC 3986 unreserved characters), so that a
/// name with `/`, `:` or `+` stays one segment.
pub fn encode_segment(segment: &str) -> String {
    // `.` and `..` are unreserved, but as a whole segment they move the path up (`/secrets/..` is `/`):
    // encoded, and `Client::url` refuses them in any spelling.
    match segment {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => percent_encoding::utf8_percent_encode(segment, NOT_UNRESERVED).to_string(),
    }
}

/// Decodes standard base64 (padding optional, surrounding white space ignored); `None` if the text is
/// not base64.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    BASE64_LENIENT.decode(text.trim()).ok()
}

/// One request, described as data so that it can be sent again on a retry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    method: Method,
    target: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Option<Body>,
    idempotent: bool,
    authenticated: bool,
    foreign_credentials: bool,
    max_body: Option<usize>,
}

impl Request {
    /// A request to `target`: a path joined to the client's base URL, or an absolute URL.
    pub fn new(method: Method, target: impl Into<String>) -> Self {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS);
        Self {
            method,
            target: target.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            idempotent,
            authenticated: true,
            foreign_credentials: false,
            max_body: None,
        }
    }

    /// `GET target`.
    pub fn get(target: impl Into<String>) -> Self {
        Self::new(Method::GET, target)
    }

    /// `HEAD target`.
    pub fn head(target: impl Into<String>) -> Self {
        Self::new(Method::HEAD, target)
    }

    /// `DELETE target`.
    pub fn delete(target: impl Into<String>) -> Self {
        Self::new(Method::DELETE, target)
    }

    /// `POST target` (not retried on server errors unless marked idempotent).
    pub fn post(target: impl Into<String>) -> Self {
        Self::new(Method::POST, target)
    }

    /// `PUT target`.
    pub fn put(target: impl Into<String>) -> Self {
        Self::new(Method::PUT, target)
    }

    /// `PATCH target` (not retried on server errors unless marked idempotent).
    pub fn patch(target: impl Into<String>) -> Self {
        Self::new(Method::PATCH, target)
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// A JSON body.
    pub fn json<T: serde::Serialize>(self, body: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(Error::Encode)?;
        Ok(self.body(bytes, "application/json"))
    }

    /// A body with its content type.
    pub fn body(mut self, body: impl Into<Bytes>, content_type: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(content_type) {
            self.headers.insert(CONTENT_TYPE, value);
        }
        self.body = Some(Body::Bytes(body.into()));
        self
    }

    /// A streamed body (e.g. a file), made anew by `factory` for each attempt. Memory stays bounded
    /// by the stream's chunks, whatever the size.
    pub fn stream_body(mut self, factory: BodyFactory, content_type: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(content_type) {
            self.headers.insert(CONTENT_TYPE, value);
        }
        self.body = Some(Body::Stream(factory));
        self
    }

    /// Whether sending it twice is harmless (decides retries on server errors).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Sends it without the client's credentials (e.g. to a registry's upload URL on another host).
    pub fn without_auth(mut self) -> Self {
        self.authenticated = false;
        self
    }

    /// Lets this request carry its credentials to an origin other than the client's: only for a token
    /// exchange at the realm the service itself named, after checking that realm (see ghcr-client).
    /// Without it, a request to another origin (an absolute URL, a `Link`, an upload `Location`) goes
    /// without the client's credentials and without any sensitive header.
    pub fn credentials_to_foreign_origin(mut self) -> Self {
        self.foreign_credentials = true;
        self
    }

    /// Reads an answer of up to `bytes` (the client's cap, [`DEFAULT_MAX_BODY`] unless raised, applies
    /// otherwise): for the few answers that are legitimately large, such as a long step log.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = Some(bytes);
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }
}

/// A response whose status was checked, with its body read.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The URL that answered.
    pub url: Url,
}

impl Response {
    /// The body as JSON. An answer that says it is something else (Woodpecker serves its web page,
    /// `200 text/html`, for an unknown API route) is an error, not a confusing parse failure.
    pub fn json<T: DeserializeOwned>(&self, method: &Method) -> Result<T, Error> {
        let decode_error =
            |reason: String| Error::Decode { method: method.to_string(), url: redact(&self.url), reason };
        if let Some(content_type) = self.header(CONTENT_TYPE.as_str()) {
            if !content_type.to_ascii_lowercase().contains("json") {
                let start = String::from_utf8_lossy(&self.body[..self.body.len().min(80)]).into_owned();
                return Err(decode_error(format!(
                    "expected JSON, got {content_type} ({start:?}…): is the base URL right?"
                )));
            }
        }
        serde_json::from_slice(&self.body).map_err(|e| decode_error(e.to_string()))
    }

    /// This answer as an [`Error::Api`] (for a status the caller does not accept): status, the server's
    /// message and the bounded body, the URL without credentials.
    pub fn to_error(&self, method: &str) -> Error {
        Error::Api(Box::new(ApiError::new(method, &redact(&self.url), self.status.as_u16(), &self.body)))
    }

    /// `X-Total-Count`, when the server sends it.
    pub fn total_count(&self) -> Option<usize> {
        self.header("x-total-count").and_then(|v| v.trim().parse().ok())
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ClientBuilder {
    base: String,
    auth: Option<Auth>,
    retry: RetryPolicy,
    user_agent: String,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_body: usize,
    http: Option<reqwest::Client>,
    accept_invalid_certs: bool,
    resolve: Vec<(String, std::net::SocketAddr)>,
    root_certificates: Vec<u8>,
}

impl ClientBuilder {
    /// Reaches `host` at `address` instead of what DNS says (curl's `--resolve`): TLS still checks the
    /// certificate against `host`, so a load balancer's internal address can serve the public name.
    pub fn resolve(mut self, host: &str, address: std::net::SocketAddr) -> Self {
        self.resolve.push((host.to_owned(), address));
        self
    }

    /// Also trusts the certificates of this PEM bundle (a private CA), besides the system's.
    pub fn root_certificates_pem(mut self, pem: Vec<u8>) -> Self {
        self.root_certificates = pem;
        self
    }

    /// Accept any TLS certificate (off by default; only when a user asks for it, never from the
    /// environment).
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    /// How long a read may wait for the server's next bytes (default 60 s): a server that stops
    /// answering fails the request instead of hanging the job.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The largest answer read into memory (default [`DEFAULT_MAX_BODY`]); a larger one is an error.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Credentials sent with every request.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The `User-Agent` (default `offinfra/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// A timeout for each request (default none: uploads can be long).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Use this `reqwest::Client` (its own timeouts, proxies and TLS settings apply).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let base =
            Url::parse(&self.base).map_err(|e| Error::InvalidUrl { url: self.base.clone(), reason: e.to_string() })?;
        if base.cannot_be_a_base() {
            return Err(Error::InvalidUrl { url: self.base, reason: "not a base URL".into() });
        }
        let http = match self.http {
            Some(http) => http,
            None => {
                let mut builder = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .read_timeout(self.read_timeout)
                    .redirect(redirect_policy(&self.auth))
                    .tls_danger_accept_invalid_certs(self.accept_invalid_certs);
                for (host, address) in &self.resolve {
                    builder = builder.resolve(host, *address);
                }
                if !self.root_certificates.is_empty() {
                    let certificates = reqwest::Certificate::from_pem_bundle(&self.root_certificates)
                        .map_err(|e| Error::Build { what: "the CA certificates (PEM)".into(), source: Some(e) })?;
                    builder = builder.tls_certs_merge(certificates);
                }
                if let Some(timeout) = self.timeout {
                    builder = builder.timeout(timeout);
                }
                builder
                    .build()
                    .map_err(|e| Error::Build { what: "the TLS or proxy settings".into(), source: Some(e) })?
            }
        };
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::Build { what: format!("invalid user agent {:?}", self.user_agent), source: None })?;
        Ok(Client { http, base, auth: self.auth, retry: self.retry, user_agent, max_body: self.max_body })
    }
}

/// An HTTP client bound to one service: base URL, credentials, retry policy.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Option<Auth>,
    retry: RetryPolicy,
    user_agent: HeaderValue,
    max_body: usize,
}

impl Client {
    /// A builder for a client of the service at `base` (e.g. `https://api.github.com`,
    /// `https://forgejo.example/api/v1`).
    pub fn builder(base: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base.into(),
            auth: None,
            retry: RetryPolicy::default(),
            user_agent: concat!("offinfra/", env!("CARGO_PKG_VERSION")).into(),
            timeout: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            max_body: DEFAULT_MAX_BODY,
            http: None,
            accept_invalid_certs: false,
            resolve: Vec::new(),
            root_certificates: Vec::new(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The same client with other credentials.
    pub fn with_auth(&self, auth: Option<Auth>) -> Self {
        Self { auth, ..self.clone() }
    }

    /// The URL of `target`: an absolute URL as is, else a path appended to the base URL's path.
    pub fn url(&self, target: &str) -> Result<Url, Error> {
        if target.starts_with("http://") || target.starts_with("https://") {
            return Url::parse(target).map_err(|e| Error::InvalidUrl { url: target.to_owned(), reason: e.to_string() });
        }
        let mut url = self.base.clone();
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        // A dot segment (`..`, or `%2E%2E`, which URL parsing reads as `..`) would move the request to
        // another resource: a name a server or a careless input supplied never gets to do that.
        let dot = |segment: &str| {
            let lower = segment.to_ascii_lowercase().replace("%2e", ".");
            lower == "." || lower == ".."
        };
        // Read the path as the URL parser will (WHATWG URL, path state): it drops tab, CR and LF anywhere
        // and takes `\` for `/` in http(s) URLs, so `..\x` and `.\t.` are dot segments too.
        let as_parsed: String = path.chars().filter(|c| !matches!(c, '\t' | '\r' | '\n')).collect();
        if as_parsed.split(['/', '\\']).any(dot) {
            return Err(Error::InvalidUrl { url: target.to_owned(), reason: "a `.` or `..` path segment".into() });
        }
        let joined = format!("{}/{}", self.base.path().trim_end_matches('/'), path.trim_start_matches('/'));
        url.set_path(&joined);
        url.set_query(query);
        Ok(url)
    }

    /// Whether `url` is on the client's origin (scheme, host and port).
    pub fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// The request builder for one attempt: the client's credentials and the request's sensitive headers
    /// only when `url` is on the client's origin (or the request allows another one).
    fn prepare(&self, request: &Request, url: &Url) -> Result<reqwest::RequestBuilder, Error> {
        let credentials = request.foreign_credentials || self.same_origin(url);
        if !credentials {
            tracing::debug!(url = %redact(url), "another origin: sent without credentials");
        }
        let mut builder =
            self.http.request(request.method.clone(), url.clone()).header(USER_AGENT, self.user_agent.clone());
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (name, value) in &request.headers {
            if credentials || !is_credential(name, value) {
                builder = builder.header(name, value);
            }
        }
        if let (true, true, Some(auth)) = (credentials, request.authenticated, &self.auth) {
            let (name, value) = auth.header()?;
            builder = builder.header(name, value);
        }
        Ok(builder)
    }

    /// Sends `request`, retrying as the policy allows, and returns the final answer whatever its
    /// status. Most callers want [`Self::execute`].
    pub async fn send(&self, request: &Request) -> Result<Response, Error> {
        let url = self.url(&request.target)?;
        let shown = redact(&url);
        // Logs never carry the query: it can hold a token (`?access_token=`).
        let logged = {
            let mut bare = url.clone();
            bare.set_query(None);
            redact(&bare)
        };
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            tracing::debug!(method = %request.method, url = %logged, attempt, "request");
            let mut builder = self.prepare(request, &url)?;
            match &request.body {
                Some(Body::Bytes(bytes)) => builder = builder.body(bytes.clone()),
                Some(Body::Stream(factory)) => builder = builder.body(factory()),
                None => {}
            }
            let limit = request.max_body.unwrap_or(self.max_body);
            let outcome = match builder.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let final_url = resp.url().clone();
                    match read_capped(resp, limit).await {
                        Ok(Some(body)) => Ok(Response { status, headers, body, url: final_url }),
                        Ok(None) => {
                            return Err(Error::Decode {
                                method: request.method.to_string(),
                                url: shown,
                                reason: format!("the answer is larger than {limit} bytes"),
                            })
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok(response) => {
                    let answer = crate::retry::Answer {
                        status: response.status,
                        headers: &response.headers,
                        idempotent: request.idempotent,
                    };
                    let delay = self.retry.delay_after(attempt, start.elapsed(), answer, SystemTime::now());
                    match delay {
                        Some(delay) => {
                            tracing::info!(
                                method = %request.method, url = %logged, status = response.status.as_u16(), attempt,
                                delay_ms = delay.as_millis() as u64, "retrying after the answer"
                            );
                            tokio::time::sleep(delay).await
                        }
                        None => {
                            tracing::debug!(
                                method = %request.method, url = %logged, status = response.status.as_u16(),
                                elapsed_ms = start.elapsed().as_millis() as u64, "answer"
                            );
                            return Ok(response);
                        }
                    }
                }
                Err(source) => {
                    let transient =
                        source.is_connect() || source.is_timeout() || source.is_request() || source.is_body();
                    let delay = self.retry.backoff(attempt - 1, crate::retry::jitter_unit());
                    let may_retry = request.idempotent
                        && transient
                        && attempt < self.retry.max_attempts
                        && start.elapsed() + delay <= self.retry.deadline;
                    if !may_retry {
                        tracing::debug!(method = %request.method, url = %logged, attempt, error = %source, "failed");
                        return Err(Error::Transport { method: request.method.to_string(), url: shown, source });
                    }
                    tracing::info!(
                        method = %request.method, url = %logged, attempt, error = %source,
                        delay_ms = delay.as_millis() as u64, "retrying after a transport error"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Sends `request` once and hands back the response with its body unread, for streaming large
    /// downloads; a non-success status is an [`Error::Api`] (its body read, bounded).
    pub async fn send_streaming(&self, request: &Request) -> Result<reqwest::Response, Error> {
        let url = self.url(&request.target)?;
        let response = self.prepare(request, &url)?.send().await.map_err(|source| Error::Transport {
            method: request.method.to_string(),
            url: redact(&url),
            source,
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        // Only the start of an error body is read: a server that streams one without end cannot hold the
        // request (or memory) for ever.
        let body = read_prefix(response, MAX_STREAMED_ERROR_BODY).await;
        Err(Error::Api(Box::new(ApiError::new(request.method.as_str(), &redact(&url), status, &body))))
    }

    /// Sends `request` (with retries) and turns a non-success status into [`Error::Api`].
    pub async fn execute(&self, request: &Request) -> Result<Response, Error> {
        let response = self.send(request).await?;
        if response.status.is_success() {
            Ok(response)
        } else {
            Err(response.to_error(request.method.as_str()))
        }
    }

    /// Sends `request` and decodes a JSON answer.
    pub async fn json<T: DeserializeOwned>(&self, request: &Request) -> Result<T, Error> {
        self.execute(request).await?.json(&request.method)
    }

    /// Follows `rel="next"` links from `first`, collecting the JSON arrays of every page; stops after
    /// `limit` items when given. Page URLs are the server's, never invented.
    pub async fn all_pages<T: DeserializeOwned>(&self, first: Request, limit: Option<usize>) -> Result<Vec<T>, Error> {
        self.follow_pages(first, limit, None).await
    }

    /// [`Self::all_pages`] for pages that wrap their list in an object under `key` (GitHub's
    /// `{"total_count": n, "secrets": [...]}`): every page's `key` array, following `rel="next"`.
    pub async fn all_pages_in<T: DeserializeOwned>(&self, first: Request, key: &str) -> Result<Vec<T>, Error> {
        self.follow_pages(first, None, Some(key)).await
    }

    async fn follow_pages<T: DeserializeOwned>(
        &self,
        first: Request,
        limit: Option<usize>,
        key: Option<&str>,
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        let mut guard = PageGuard::default();
        let mut next = Some(first);
        while let Some(request) = next.take() {
            guard.visit(&self.url(&request.target)?)?;
            let response = self.execute(&request).await?;
            let page: Vec<T> = match key {
                None => response.json(&request.method)?,
                Some(key) => {
                    let mut object: serde_json::Value = response.json(&request.method)?;
                    let list = object.get_mut(key).map(serde_json::Value::take).unwrap_or_default();
                    serde_json::from_value(list).map_err(|e| Error::Decode {
                        method: request.method.to_string(),
                        url: redact(&response.url),
                        reason: format!("the page's {key:?}: {e}"),
                    })?
                }
            };
            items.extend(page);
            if limit.is_some_and(|limit| items.len() >= limit) {
                items.truncate(limit.unwrap_or(usize::MAX));
                break;
            }
            if let Some(link) = response.header(LINK.as_str()).and_then(next_link) {
                // Relative links resolve against the page that sent them.
                let url = response
                    .url
                    .join(&link)
                    .map_err(|e| Error::InvalidUrl { url: link.clone(), reason: e.to_string() })?;
                // A page on another origin is read without credentials (`prepare`).
                let mut following = Request::get(url.to_string());
                following.headers = request.headers.clone();
                following.authenticated = request.authenticated;
                next = Some(following);
            }
        }
        Ok(items)
    }
}

/// The guard of every loop that follows a server's `Link: rel="next"`: a page seen before, or more than
/// [`MAX_PAGES`] pages, is an error, so a server that links a page to itself cannot hang a client while
/// its memory grows.
///
/// ```
/// let mut guard = offinfra_http::PageGuard::default();
/// let page: offinfra_http::Url = "https://r.example/v2/_catalog?n=100".parse().unwrap();
/// assert!(guard.visit(&page).is_ok());
/// assert!(guard.visit(&page).is_err(), "the same page again");
/// ```
#[derive(Debug, Default)]
pub struct PageGuard {
    seen: std::collections::HashSet<String>,
}

impl PageGuard {
    /// Records a visit to `url`; an error when it was visited before or the pages are too many.
    pub fn visit(&mut self, url: &Url) -> Result<(), Error> {
        if !self.seen.insert(url.to_string()) || self.seen.len() > MAX_PAGES {
            return Err(Error::Decode {
                method: "GET".into(),
                url: redact(url),
                reason: format!("the pages do not end (a repeated page, or more than {MAX_PAGES})"),
            });
        }
        Ok(())
    }
}

/// The largest answer a client reads into memory unless told otherwise: 4 MiB, as a registry caps a
/// manifest.
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;

/// The body, or `None` when it is longer than `limit` (read no further than that).
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Option<Bytes>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// How much of a streamed request's error answer is read (its message is at the start).
pub const MAX_STREAMED_ERROR_BODY: usize = 64 * 1024;

/// The first `limit` bytes of the body (fewer when it ends first, or breaks); the rest is never read.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Bytes {
    let mut body = bytes::BytesMut::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]),
            _ => break,
        }
    }
    body.freeze()
}

/// Pages followed at most by a pagination loop before it decides the server loops.
pub const MAX_PAGES: usize = 10_000;

/// Whether a request header carries a credential: `Authorization`, cookies, or any value marked
/// sensitive (what [`Auth::header`] makes).
fn is_credential(name: &HeaderName, value: &HeaderValue) -> bool {
    value.is_sensitive()
        || name == AUTHORIZATION
        || name == reqwest::header::COOKIE
        || name == reqwest::header::PROXY_AUTHORIZATION
}

/// Redirects: reqwest drops `Authorization` and cookies when a redirect leaves the host, but not a header
/// of our own ([`Auth::Header`], e.g. `X-Vault-Token`): such a client follows redirects on its own origin
/// only, and hands a redirect elsewhere back as the answer.
fn redirect_policy(auth: &Option<Auth>) -> reqwest::redirect::Policy {
    if !matches!(auth, Some(Auth::Header { .. })) {
        return reqwest::redirect::Policy::limited(10);
    }
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() >= 10 || !same {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// Page-number pagination as Forgejo (`page`/`limit`, `X-Total-Count`) and Woodpecker (`page`/`perPage`)
/// do it: page numbers counted here rather than taken from `Link` headers (Forgejo builds those from its
/// public URL, which may not be the one you call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageNumbers {
    /// The query parameter of the page number (1-based).
    pub page_param: &'static str,
    /// The query parameter of the page size.
    pub size_param: &'static str,
    /// The page size asked for (a page shorter than this is the last).
    pub size: usize,
}

impl PageNumbers {
    /// Forgejo: `page` and `limit`, at most 50 a page.
    pub const FORGEJO: PageNumbers = PageNumbers { page_param: "page", size_param: "limit", size: 50 };
    /// Woodpecker: `page` and `perPage`.
    pub const WOODPECKER: PageNumbers = PageNumbers { page_param: "page", size_param: "perPage", size: 50 };
}

impl Client {
    /// Collects the items of every page of `request` (at most `limit` when given), stopping at a short
    /// or empty page, or once `X-Total-Count` items were seen.
    pub async fn collect_pages<T: DeserializeOwned>(
        &self,
        request: &Request,
        pages: &PageNumbers,
        limit: Option<usize>,
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        let mut page = 1usize;
        let mut previous = None;
        loop {
            let (batch, last, fingerprint) = self.page(request, pages, page, items.len(), previous).await?;
            previous = Some(fingerprint);
            items.extend(batch);
            if let Some(limit) = limit.filter(|&l| items.len() >= l) {
                items.truncate(limit);
                return Ok(items);
            }
            if last {
                return Ok(items);
            }
            page += 1;
        }
    }

    /// The items of every page of `request` as a stream, fetching a page when the previous one is used up.
    pub fn page_stream<'a, T: DeserializeOwned + 'a>(
        &'a self,
        request: Request,
        pages: PageNumbers,
    ) -> impl futures_util::Stream<Item = Result<T, Error>> + 'a {
        use futures_util::{stream, StreamExt};
        let state = (1usize, 0usize, false, None);
        stream::try_unfold(state, move |(page, seen, done, previous)| {
            let request = request.clone();
            let pages = pages.clone();
            async move {
                if done {
                    return Ok(None);
                }
                let (batch, last, fingerprint): (Vec<T>, bool, u64) =
                    self.page(&request, &pages, page, seen, previous).await?;
                let seen = seen + batch.len();
                let next = (page + 1, seen, last, Some(fingerprint));
                Ok::<_, Error>(Some((stream::iter(batch.into_iter().map(Ok)), next)))
            }
        })
        .flat_map(|batch: Result<_, Error>| match batch {
            Ok(items) => items.left_stream(),
            Err(e) => stream::once(async move { Err(e) }).right_stream(),
        })
    }

    /// One page, whether it is the last, and a fingerprint of its body. A page equal to the one before
    /// (a server that ignores the page number) or past [`MAX_PAGES`] is an error, never a loop. While
    /// `X-Total-Count` says there is more, a short page is not the last (a Forgejo whose
    /// `MAX_RESPONSE_ITEMS` is below our page size sends short pages).
    async fn page<T: DeserializeOwned>(
        &self,
        request: &Request,
        pages: &PageNumbers,
        page: usize,
        seen: usize,
        previous: Option<u64>,
    ) -> Result<(Vec<T>, bool, u64), Error> {
        let numbered =
            request.clone().query(pages.page_param, page.to_string()).query(pages.size_param, pages.size.to_string());
        let looping = |reason: String| Error::Decode {
            method: numbered.method.to_string(),
            url: self.url(&numbered.target).map(|u| redact(&u)).unwrap_or_default(),
            reason,
        };
        if page > MAX_PAGES {
            return Err(looping(format!("more than {MAX_PAGES} pages")));
        }
        let response = self.execute(&numbered).await?;
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            response.body.hash(&mut hasher);
            hasher.finish()
        };
        let batch: Vec<T> = response.json(&numbered.method)?;
        if !batch.is_empty() && previous == Some(fingerprint) {
            return Err(looping(format!("page {page} repeats page {} (the server ignores the page number)", page - 1)));
        }
        let last = match response.total_count() {
            Some(total) => seen + batch.len() >= total || batch.is_empty(),
            None => batch.len() < pages.size || batch.is_empty(),
        };
        Ok((batch, last, fingerprint))
    }
}

/// A URL without user info, for messages.
pub(crate) fn redact(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:pass", "dXNlcjpwYXNz"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
            assert_eq!(base64_decode(want).unwrap(), input.as_bytes());
        }
    }

    #[test]
    fn dot_segments_cannot_move_a_path() {
        assert_eq!(encode_segment(".."), "%2E%2E");
        assert_eq!(encode_segment("."), "%2E");
        assert_eq!(encode_segment("a..b"), "a..b");
        assert_eq!(encode_segment("../x"), "..%2Fx");
        let client = Client::builder("https://ci.example/api").build().unwrap();
        for target in [
            "/secrets/%2E%2E",
            "/secrets/..",
            "/secrets/./x",
            "/a/%2e%2E/b",
            "/secrets/..\\x",
            "/secrets\\..\\x",
            "/secrets/.\t./x",
            "/secrets/%2e\n%2E/x",
            "/secrets/.\r\n",
        ] {
            assert!(client.url(target).is_err(), "{target} would leave its resource");
        }
        assert_eq!(client.url("/secrets/a..b").unwrap().path(), "/api/secrets/a..b");
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let secret = "ghp_supersecret";
        for auth in [
            Auth::Bearer(secret.into()),
            Auth::Token(secret.into()),
            Auth::Basic { username: "me".into(), password: secret.into() },
            Auth::Header { name: HeaderName::from_static("x-vault-token"), value: secret.into() },
        ] {
            let debug = format!("{auth:?}");
            assert!(!debug.contains(secret), "{debug}");
            let (_, value) = auth.header().unwrap();
            assert!(value.is_sensitive());
            let client = Client::builder("https://example.invalid").auth(auth).build().unwrap();
            assert!(!format!("{client:?}").contains(secret));
        }
    }

    #[test]
    fn urls_join_under_the_base_path() {
        let c = Client::builder("https://forgejo.example/api/v1/").build().unwrap();
        assert_eq!(c.url("/repos/a/b").unwrap().as_str(), "https://forgejo.example/api/v1/repos/a/b");
        assert_eq!(c.url("repos/a/b?page=2").unwrap().as_str(), "https://forgejo.example/api/v1/repos/a/b?page=2");
        assert_eq!(c.url("https://other.example/x").unwrap().as_str(), "https://other.example/x");
        assert!(Client::builder("not a url").build().is_err());
        assert_eq!(redact(&Url::parse("https://u:p@h.example/x").unwrap()), "https://h.example/x");
    }
}
