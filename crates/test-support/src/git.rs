//! Real git repositories built in temp dirs with the `git` command line (Debian package git).

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU64, Ordering},
};

static CLOCK: AtomicU64 = AtomicU64::new(0);

/// A repository in a temporary directory; commits get strictly increasing dates.
pub struct TestRepo {
    /// The repository's directory, deleted on drop.
    pub dir: tempfile::TempDir,
    tick: u64,
}

/// Runs `git args` in `dir` with a fixed identity, no system or global config, and the next tick of a
/// process-wide clock as author and committer date; its trimmed stdout. Panics with git's stderr.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let tick = CLOCK.fetch_add(1, Ordering::SeqCst);
    let date = format!("{} +0000", 1_700_000_000 + tick * 60);
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("git did not run ({e}): install the Debian package git, or run `cargo xtask test`"));
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

impl Default for TestRepo {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRepo {
    /// `git init -b main` in a new temp dir.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        git_in(dir.path(), &["init", "-q", "-b", "main"]);
        Self { dir, tick: 0 }
    }

    /// The work tree.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// [`git_in`] this repository.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// A commit with `message` that changes `file` (created if needed).
    pub fn commit_file(&mut self, file: &str, message: &str) -> String {
        self.tick += 1;
        let path = self.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{}\n", self.tick)).unwrap();
        self.git(&["add", file]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A commit with `message` that changes `file.txt`.
    pub fn commit(&mut self, message: &str) -> String {
        self.commit_file("file.txt", message)
    }

    /// An empty commit with `message`; its id.
    pub fn empty_commit(&self, message: &str) -> String {
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A lightweight tag on HEAD.
    pub fn tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    /// An annotated tag on HEAD.
    pub fn annotated_tag(&self, name: &str) {
        self.git(&["tag", "-a", name, "-m", &format!("release {name}")]);
    }

    /// `file://<path>`, for `git clone`.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.path().display())
    }
}

/// Clones `source` into a new temp dir with extra `git clone` arguments.
pub fn clone(source: &TestRepo, args: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("clone");
    let mut all = vec!["clone", "-q"];
    all.extend_from_slice(args);
    let url = source.file_url();
    all.push(&url);
    all.push("clone");
    git_in(dir.path(), &all);
    (dir, target)
}
