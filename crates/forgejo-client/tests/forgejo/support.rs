//! What the Forgejo client tests share: fixtures and a client bound to a wiremock server.

use forgejo_client::Forgejo;
use offinfra_http::{Auth, Client};
use offinfra_test_support::fast_retry;
use wiremock::MockServer;

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> serde_json::Value {
    offinfra_test_support::contract::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

/// A client of `server`'s `/api/v1` with token `tok` (sent as `Authorization: token tok`) and quick retries.
pub fn forgejo(server: &MockServer) -> Forgejo {
    Forgejo::with_client(
        Client::builder(format!("{}/api/v1", server.uri()))
            .auth(Auth::Token("tok".into()))
            .retry(fast_retry())
            .build()
            .unwrap(),
    )
}
