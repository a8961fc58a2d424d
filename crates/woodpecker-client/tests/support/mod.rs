//! What the Woodpecker client tests share: fixtures and a client bound to a wiremock server.
#![allow(dead_code)]

use std::time::Duration;

use offinfra_http::{Auth, Client, RetryPolicy};
use wiremock::MockServer;
use woodpecker_client::Woodpecker;

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> serde_json::Value {
    offinfra_contract::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

/// A client of `server` (API under `/api`, `/version` and `/healthz` at the root) with token `wp`
/// (sent as `Authorization: Bearer wp`) and quick retries.
pub fn woodpecker(server: &MockServer) -> Woodpecker {
    let retry = RetryPolicy { max_attempts: 2, initial_backoff: Duration::from_millis(5), ..RetryPolicy::default() };
    let api =
        Client::builder(format!("{}/api", server.uri())).auth(Auth::Bearer("wp".into())).retry(retry).build().unwrap();
    let root = Client::builder(server.uri()).auth(Auth::Bearer("wp".into())).retry(retry).build().unwrap();
    Woodpecker::with_clients(api, root)
}
