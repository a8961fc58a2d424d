//! Running the example binaries as CI runs them: built by cargo before the integration tests, started
//! with a clean environment (only `PATH`, and a `HOME` that does not exist) plus what the test gives.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The path of example `name` (cargo builds a package's examples before its integration tests).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let bin = exe.parent().and_then(Path::parent).expect("target/<profile>/deps").join("examples").join(name);
    assert!(bin.exists(), "{} is missing: run through `cargo test`", bin.display());
    bin
}

/// Runs example `name` with `args` in `dir` (the current directory when `None`) and `env` on top of a
/// clean environment.
pub fn run_example(name: &str, dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(example(name));
    cmd.args(args).env_clear().env("HOME", "/nonexistent-home");
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap_or_else(|e| panic!("example {name} did not start: {e}"))
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
