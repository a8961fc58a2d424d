//! `svu next` against `git log` on a generated 200,001-commit history.
//!
//! ```sh
//! cargo bench --bench svu_next            # generates the repository once, then 5 runs of each command
//! SVU_BENCH_RUNS=11 cargo bench --bench svu_next
//! ```
//!
//! The repository (made with `git fast-import` under `target/bench-repos/`) has 200,001 commits and 1,000
//! tags; the newest tag leaves 100,001 commits to scan. Messages are conventional (fix/chore/docs/refactor
//! with bodies), none breaking, and HEAD is the only `feat:`. Our `svu next` (the example built as we ship it, `--profile dist`) is
//! timed against `git log --format=%H:%B <newest tag>..HEAD`, which is what git itself pays to read those
//! commits. Wall time is the median of the runs; peak memory is the largest max RSS (`/usr/bin/time`).

mod common;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

const COMMITS: usize = 200_001;
const TAGS: usize = 1_000;
const TAG_EVERY: usize = 100;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probes harness-less benches this way.
    }
    let runs: usize = std::env::var("SVU_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps").to_owned();
    let target_dir = profile_dir.parent().expect("target dir").to_owned();
    let repo = target_dir.join("bench-repos").join("svu-200k");
    if !repo.join("done").exists() {
        generate(&repo);
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status =
        Command::new(cargo).args(["build", "--profile", "dist", "--example", "svu"]).status().expect("cargo runs");
    assert!(status.success(), "building the svu example failed");
    let svu = target_dir.join("dist").join("examples").join("svu");
    let newest_tag = format!("v1.0.{TAGS}");

    // The same history as a clone receives it: `git pack-objects` order puts the commits together.
    let repacked = target_dir.join("bench-repos").join("svu-200k-repacked");
    if !repacked.join("done").exists() {
        let _ = std::fs::remove_dir_all(&repacked);
        let status = Command::new("git")
            .args(["clone", "-q", "--no-local", "--mirror", repo.to_str().unwrap(), repacked.to_str().unwrap()])
            .status()
            .expect("git clone runs");
        assert!(status.success(), "git clone --mirror of the bench repository");
        std::fs::write(repacked.join("done"), "").unwrap();
    }

    let range = format!("{newest_tag}..HEAD");
    let git_args = ["log", "--format=%H:%B", range.as_str()];
    println!("| layout | command | median wall time | peak RSS | time vs git log |");
    println!("|---|---|---|---|---|");
    for (layout, dir) in
        [("as `git fast-import` wrote it", &repo), ("as a clone has it (`git clone --no-local`)", &repacked)]
    {
        let expected = run_once(dir, svu.to_str().unwrap(), &["next"]);
        assert_eq!(expected.trim(), "v1.1.0", "svu next on the bench repository");
        // Warm the page cache for both before measuring.
        measure(dir, "git", &git_args, 1);
        measure(dir, svu.to_str().unwrap(), &["next"], 1);
        let (git_time, git_rss) = measure(dir, "git", &git_args, runs);
        let (svu_time, svu_rss) = measure(dir, svu.to_str().unwrap(), &["next"], runs);
        println!("| {layout} | `git log --format=%H:%B {range}` | {git_time:.3} s | {git_rss:.1} MiB | 1.00x |");
        println!(
            "| {layout} | `svu next` (offinfra) | {svu_time:.3} s | {svu_rss:.1} MiB | {:.2}x |",
            svu_time / git_time
        );
    }
    println!("({runs} runs each; {COMMITS} commits, {TAGS} tags, 100,001 commits since {newest_tag})");
}

/// Median wall seconds and peak RSS (MiB) over `runs` runs.
fn measure(dir: &Path, program: &str, args: &[&str], runs: usize) -> (f64, f64) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let mut times = Vec::new();
    let mut peak_kib = 0u64;
    for _ in 0..runs {
        let (secs, kib) = common::measure(dir, program, &args);
        times.push(secs);
        peak_kib = peak_kib.max(kib);
    }
    (common::median(&mut times), peak_kib as f64 / 1024.0)
}

fn run_once(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).current_dir(dir).output().expect("runs");
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn generate(repo: &PathBuf) {
    eprintln!("generating {} ({COMMITS} commits, {TAGS} tags) with git fast-import…", repo.display());
    let _ = std::fs::remove_dir_all(repo);
    std::fs::create_dir_all(repo).unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git").args(args).current_dir(repo).status().expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(repo)
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import runs");
    {
        let mut input = std::io::BufWriter::new(child.stdin.take().unwrap());
        let kinds = ["fix(core)", "chore", "docs", "refactor(api)", "fix", "test", "perf", "ci"];
        for n in 1..=COMMITS {
            let message = if n == COMMITS {
                "feat: the one feature at HEAD\n\nAdds the thing everybody asked for.\n".to_owned()
            } else {
                let kind = kinds[n % kinds.len()];
                format!("{kind}: change number {n}\n\nThis commit adjusts module {} and explains why in a body\nthat spans two lines, as real commits do.\n", n % 97)
            };
            let time = 1_600_000_000 + n as u64 * 60;
            let content = format!("{n}\n");
            writeln!(input, "commit refs/heads/main\nmark :{n}\ncommitter Bench <bench@example.invalid> {time} +0000")
                .unwrap();
            writeln!(input, "data {}\n{message}", message.len()).unwrap();
            if n > 1 {
                writeln!(input, "from :{}", n - 1).unwrap();
            }
            writeln!(input, "M 644 inline src/file{}.txt\ndata {}\n{content}", n % 50, content.len()).unwrap();
            if n % TAG_EVERY == 0 && n / TAG_EVERY <= TAGS {
                writeln!(input, "reset refs/tags/v1.0.{}\nfrom :{n}\n", n / TAG_EVERY).unwrap();
            }
        }
        input.flush().unwrap();
    }
    assert!(child.wait().unwrap().success(), "git fast-import failed");
    git(&["reset", "-q", "--hard", "main"]);
    std::fs::write(repo.join("done"), "").unwrap();
}
