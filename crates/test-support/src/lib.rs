//! What offinfra's tests share, in one dev-only crate (never published).
//!
//! - [`mod@env`]: where the test environment lives. Services that `cargo xtask test-env up` (or
//!   `cargo xtask test`) started are found in one directory, `$OFFINFRA_TESTENV_DIR`, by default
//!   `target/testenv` in the workspace; a test that needs a service that is not there starts its own.
//! - `contract` (feature `contract`): request bodies and response fixtures validated against the
//!   official OpenAPI documents in `specs/`, and a strict wiremock server; `forgejo` (same feature):
//!   Forgejo's tag and compare routes over a list that changes as the test runs.
//! - `oci` (feature `oci`): OCI layouts built on disk, real registries on loopback, skopeo.
//! - `cluster` (feature `cluster`): a real kube-apiserver + kube-controller-manager, and a test that
//!   plays the scheduler and the kubelet.
//! - [`git`]: real git repositories in temp dirs.
//! - [`examples`]: the example binaries run as CI runs them.
//! - `fast_retry` (feature `http`): the retry policy every client test uses.
//!
//! A test that needs a service and cannot get one fails and says why: nothing is skipped.

pub mod env;
pub mod examples;
pub mod git;
pub mod tls;

#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "contract")]
pub mod contract;
#[cfg(feature = "contract")]
pub mod forgejo;
#[cfg(feature = "oci")]
pub mod oci;

/// Quick retries for tests against local servers: 3 attempts, 5 ms doubling up to 2 s, within 10 s.
#[cfg(feature = "http")]
pub fn fast_retry() -> offinfra_http::RetryPolicy {
    offinfra_http::RetryPolicy {
        max_attempts: 3,
        initial_backoff: std::time::Duration::from_millis(5),
        max_backoff: std::time::Duration::from_secs(2),
        deadline: std::time::Duration::from_secs(10),
    }
}
