//! Where the test environment lives: the recipes in `testenv/` and the state of running services.
//!
//! The one mechanism by which tests find services started outside them: the directory
//! `$OFFINFRA_TESTENV_DIR` (default `<workspace>/target/testenv`). `cargo xtask test-env up` starts the
//! Kubernetes control plane in its `k8s/` subdirectory and leaves it running; `cargo xtask test` does the
//! same for the length of one run. Registries are cheap and each test starts the ones it needs.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

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

/// Watches a service this process started: once this process has ended while `dir` still exists (a
/// Ctrl-C, a kill, a drop that never ran), runs `stop` (a command and its arguments) and deletes `dir`.
/// It ends by itself as soon as `dir` is gone (a normal clean-up). It runs in a process group of its own
/// and ignores SIGINT and SIGHUP, so the signal that ends the tests does not reach it. Start it before
/// the service, so that an interrupt during start-up is covered too.
pub fn watch(dir: &Path, stop: &[&OsStr]) {
    use std::os::unix::process::CommandExt;

    let script = format!(
        "dir=$1; shift; trap '' INT HUP; while kill -0 {pid} 2>/dev/null && [ -d \"$dir\" ]; do sleep 1; done; \
         [ -d \"$dir\" ] || exit 0; \"$@\" >/dev/null 2>&1; rm -rf \"$dir\"",
        pid = std::process::id()
    );
    // Nobody waits for the watcher: it outlives its work or this process on purpose (init reaps it).
    #[allow(clippy::zombie_processes)]
    let started = Command::new("sh")
        .process_group(0)
        .arg("-c")
        .arg(script)
        .arg("watch")
        .arg(dir)
        .args(stop)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = started {
        panic!("sh did not start the watcher of {}: {e}", dir.display());
    }
}
