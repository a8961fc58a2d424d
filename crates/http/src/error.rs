/// How much of an error body is kept.
pub const MAX_ERROR_BODY: usize = 4096;

/// A server's non-success answer: status, the server's message when it sent one, and the raw body
/// (bounded), whatever its format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {url}: HTTP {status}{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
#[non_exhaustive]
pub struct ApiError {
    /// The request method.
    pub method: String,
    /// The request URL (credentials removed).
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// The message the server gave (`message`, `errors[].message`, `error`…), if any.
    pub message: Option<String>,
    /// The first [`MAX_ERROR_BODY`] bytes of the body, as text.
    pub body: String,
}

impl ApiError {
    /// Builds the error from a response's parts.
    pub fn new(method: &str, url: &str, status: u16, body: &[u8]) -> Self {
        let cut = body.len().min(MAX_ERROR_BODY);
        let text = String::from_utf8_lossy(&body[..cut]).into_owned();
        Self { method: method.to_owned(), url: url.to_owned(), status, message: server_message(body), body: text }
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    /// 401.
    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }

    /// 409.
    pub fn is_conflict(&self) -> bool {
        self.status == 409
    }
}

/// The human message in a JSON error body, in the shapes GitHub, Forgejo, Woodpecker, Vault and OCI
/// registries use.
fn server_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    if let Some(m) = value.get("message").and_then(text) {
        return Some(m);
    }
    if let Some(errors) = value.get("errors").and_then(|e| e.as_array()) {
        let parts: Vec<String> = errors
            .iter()
            .filter_map(|e| match (e.get("code").and_then(text), e.get("message").and_then(text), text(e)) {
                (Some(code), Some(message), _) => Some(format!("{code}: {message}")),
                (None, Some(message), _) | (Some(message), None, _) => Some(message),
                (None, None, plain) => plain,
            })
            .collect();
        if !parts.is_empty() {
            return Some(parts.join("; "));
        }
    }
    value.get("error").and_then(text).or_else(|| value.get("detail").and_then(text))
}

/// What can go wrong sending a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URL could not be formed.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL or path as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The request did not get an answer (connection, TLS, timeout).
    #[error("{method} {url}: {source}")]
    Transport {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The answer's body is not what was expected.
    #[error("{method} {url}: cannot decode the response: {reason}")]
    Decode {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client or a request header could not be built.
    #[error("cannot build the HTTP client: {what}")]
    Build {
        /// What could not be built (never a secret).
        what: String,
        /// The cause, when another error says it.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// A request body could not be encoded as JSON.
    #[error("cannot encode the request body")]
    Encode(#[source] serde_json::Error),
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl Error {
    /// The server's answer, when it answered with an error status.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            _ => None,
        }
    }

    /// Whether the server answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_from_each_server_shape() {
        let github = br#"{"message":"Package not found.","documentation_url":"https://docs.github.com"}"#;
        assert_eq!(ApiError::new("GET", "u", 404, github).message.as_deref(), Some("Package not found."));
        let oci = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(ApiError::new("GET", "u", 404, oci).message.as_deref(), Some("MANIFEST_UNKNOWN: manifest unknown"));
        let vault = br#"{"errors":["permission denied"]}"#;
        assert_eq!(ApiError::new("GET", "u", 403, vault).message.as_deref(), Some("permission denied"));
        let html = b"<html>bad gateway</html>";
        let e = ApiError::new("POST", "https://x/y", 502, html);
        assert_eq!(e.message, None);
        assert_eq!(e.body, "<html>bad gateway</html>");
        assert_eq!(e.to_string(), "POST https://x/y: HTTP 502");
        let big = vec![b'a'; 10_000];
        assert_eq!(ApiError::new("GET", "u", 500, &big).body.len(), MAX_ERROR_BODY);
    }
}
