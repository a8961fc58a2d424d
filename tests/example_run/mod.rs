//! Running the example binaries as CI runs them: built by cargo before the integration tests, started
//! with a clean environment (only `PATH`, and a `HOME` that does not exist) plus what the test gives.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The path of example `name` (cargo builds a package's examples before its integration tests).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("examples").join(name);
    assert!(bin.exists(), "{} is missing: run through `cargo test`", bin.display());
    bin
}

/// Runs example `name` with `args` in `dir` (the current directory when `None`) and `env` on top of a
/// clean environment.
pub fn run_example(name: &str, dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(example(name));
    cmd.args(args).env_clear().env("PATH", std::env::var_os("PATH").unwrap()).env("HOME", "/nonexistent-home");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
