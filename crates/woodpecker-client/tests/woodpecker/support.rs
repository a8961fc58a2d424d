//! What the Woodpecker client tests share: fixtures and a client bound to a wiremock server.

use offinfra_http::{Auth, Client};
use offinfra_test_support::fast_retry;
use wiremock::MockServer;
use woodpecker_client::Woodpecker;

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> serde_json::Value {
    offinfra_test_support::contract::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

/// A client of `server` (API under `/api`, `/version` and `/healthz` at the root) with token `wp`
/// (sent as `Authorization: Bearer wp`) and quick retries.
pub fn woodpecker(server: &MockServer) -> Woodpecker {
    let retry = fast_retry();
    let api =
        Client::builder(format!("{}/api", server.uri())).auth(Auth::Bearer("wp".into())).retry(retry).build().unwrap();
    let root = Client::builder(server.uri()).auth(Auth::Bearer("wp".into())).retry(retry).build().unwrap();
    Woodpecker::with_clients(api, root)
}
