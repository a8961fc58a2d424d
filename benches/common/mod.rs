//! What the benchmarks share: timing a command with its peak memory.
#![allow(dead_code)]

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

/// Runs `program args` in `dir` under `/usr/bin/time` (Debian package `time`), stdout discarded:
/// wall seconds and max RSS in KiB. Panics, with the tool's stderr, if it fails.
pub fn measure(dir: &Path, program: &str, args: &[String]) -> (f64, u64) {
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("/usr/bin/time runs (Debian package `time`)");
    let secs = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} {args:?} failed: {stderr}");
    let kib = stderr.lines().last().and_then(|l| l.trim().parse().ok()).expect("max RSS from /usr/bin/time");
    (secs, kib)
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
