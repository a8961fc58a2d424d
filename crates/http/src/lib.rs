//! The HTTP plumbing offinfra's API clients share, written once: a [`Client`] bound to a base URL
//! with [`Auth`] (secrets never printed), [`RetryPolicy`] (exponential backoff with jitter, a cap and a
//! deadline, honouring `Retry-After` and `x-ratelimit-reset`, retrying only what is safe to repeat),
//! `Link` pagination that follows the server's `rel="next"`, and [`ApiError`], which keeps the status,
//! the server's message and a bounded raw body even when it is not JSON.
//!
//! ```no_run
//! use offinfra_http::{Auth, Client, Request};
//!
//! # async fn run() -> Result<(), offinfra_http::Error> {
//! let github = Client::builder("https://api.github.com").auth(Auth::Bearer("ghp_…".into())).build()?;
//! let versions: Vec<serde_json::Value> =
//!     github.all_pages(Request::get("/user/packages/container/app/versions").query("per_page", "100"), None).await?;
//! # Ok(()) }
//! ```

mod client;
mod error;
pub mod link;
pub mod retry;
pub mod scope;

pub use client::{
    base64, base64_decode, encode_segment, Auth, BodyFactory, Client, ClientBuilder, PageGuard, PageNumbers, Request,
    Response, DEFAULT_MAX_BODY, MAX_PAGES,
};
pub use error::{ApiError, Error, MAX_ERROR_BODY};
pub use reqwest::{header, Method, StatusCode};
pub use reqwest::{Body, Client as ReqwestClient, Response as StreamedResponse};
pub use retry::RetryPolicy;
pub use scope::CredentialScope;
pub use secrecy::{ExposeSecret, SecretString};
pub use url::Url;
