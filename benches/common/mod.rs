//! What the benchmarks share: timing a command with its peak memory.
#![allow(dead_code)]

pub mod latency;
pub mod layout;

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

/// Two timed phases per tool, run after run: the median of each phase, the peak memory over both, and
/// each tool's ratio against the last one (the peer tool).
pub struct Tally {
    tools: Vec<(&'static str, Vec<f64>, Vec<f64>, u64)>,
}

impl Tally {
    /// For these tools, ours first and the peer last.
    pub fn new(names: &[&'static str]) -> Self {
        Self { tools: names.iter().map(|n| (*n, vec![], vec![], 0)).collect() }
    }

    /// Runs tool `which`'s two phases, each `(program, args)`, in order, and records them.
    pub fn run(&mut self, which: usize, phases: [(String, Vec<String>); 2]) {
        let mut times = [0.0; 2];
        for (i, (program, args)) in phases.iter().enumerate() {
            let (secs, kib) = measure(Path::new("."), program, args);
            times[i] = secs;
            self.tools[which].3 = self.tools[which].3.max(kib);
        }
        self.tools[which].1.push(times[0]);
        self.tools[which].2.push(times[1]);
    }

    /// The Markdown table: `first`/`second` name the phases, `short` their ratio columns.
    pub fn print(&mut self, first: &str, second: &str, short: [&str; 2]) {
        let rows: Vec<(&str, f64, f64, f64)> = self
            .tools
            .iter_mut()
            .map(|(name, a, b, peak)| (*name, median(a), median(b), *peak as f64 / 1024.0))
            .collect();
        let (_, peer_a, peer_b, _) = rows[rows.len() - 1];
        println!(
            "| tool | {first} (median) | {second} (median) | peak RSS | {} vs peer | {} vs peer |",
            short[0], short[1]
        );
        println!("|---|---|---|---|---|---|");
        for (name, a, b, peak) in &rows {
            println!("| {name} | {a:.3} s | {b:.3} s | {peak:.1} MiB | {:.2}x | {:.2}x |", a / peer_a, b / peer_b);
        }
    }
}
