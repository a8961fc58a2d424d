//! What the Forgejo client tests share: fixtures and a client bound to a wiremock server.
#![allow(dead_code)]

use std::time::Duration;

use forgejo_client::Forgejo;
use offinfra_http::{Auth, Client, RetryPolicy};
use wiremock::MockServer;

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> serde_json::Value {
    offinfra_contract::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

/// A client of `server`'s `/api/v1` with token `tok` (sent as `Authorization: token tok`) and quick retries.
pub fn forgejo(server: &MockServer) -> Forgejo {
    let retry = RetryPolicy { max_attempts: 3, initial_backoff: Duration::from_millis(5), ..RetryPolicy::default() };
    Forgejo::with_client(
        Client::builder(format!("{}/api/v1", server.uri()))
            .auth(Auth::Token("tok".into()))
            .retry(retry)
            .build()
            .unwrap(),
    )
}
