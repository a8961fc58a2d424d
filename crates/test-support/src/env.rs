//! Where the test environment lives: the recipes in `testenv/` and the state of running services.
//!
//! The one mechanism by which tests find services started outside them: the directory
//! `$OFFINFRA_TESTENV_DIR` (default `<workspace>/target/testenv`). `cargo xtask test-env up` starts the
//! Kubernetes control plane in its `k8s/` subdirectory and leaves it running; `cargo xtask test` does the
//! same for the length of one run. Registries are cheap and each test starts the ones it needs.

use std::path::PathBuf;

/// The workspace root (this crate lives in `crates/test-support`).
pub fn workspace() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `testenv/`: the registry, token-server and control-plane recipes.
pub fn recipes() -> PathBuf {
    workspace().join("testenv")
}

/// `specs/`: the official OpenAPI documents.
pub fn specs() -> PathBuf {
    workspace().join("specs")
}

/// The directory of running services: `$OFFINFRA_TESTENV_DIR`, else `<workspace>/target/testenv`.
pub fn state_dir() -> PathBuf {
    match std::env::var_os("OFFINFRA_TESTENV_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => workspace().join("target/testenv"),
    }
}
