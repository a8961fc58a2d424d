//! The `svu` example binary, run as CI runs it: output, exit codes, config files, env and flags.

use std::{path::Path, process::Output};

use offinfra_test_support::examples::run_example;
use offinfra_test_support::git::TestRepo;

fn svu_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = dir.join(".test-home-that-does-not-exist");
    let mut all = vec![("HOME", home.to_str().unwrap())];
    all.extend_from_slice(env);
    run_example("svu", Some(dir), args, &all)
}

fn svu(dir: &Path, args: &[&str]) -> Output {
    svu_env(dir, args, &[])
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[track_caller]
fn ok(out: Output) -> String {
    assert!(out.status.success(), "exit {:?}, stderr: {}", out.status.code(), stderr(&out));
    stdout(&out)
}

#[track_caller]
fn fails(out: Output) -> String {
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(&out));
    assert_eq!(stdout(&out), "", "nothing on stdout on error");
    stderr(&out)
}

fn tagged_repo() -> TestRepo {
    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("v1.2.3");
    repo.commit("feat: b");
    repo
}

#[test]
fn commands_and_aliases_print_prefix_and_version() {
    let repo = tagged_repo();
    let dir = repo.path();
    for (args, want) in [
        (&["next"][..], "v1.3.0\n"),
        (&["n"], "v1.3.0\n"),
        (&["major"], "v2.0.0\n"),
        (&["minor"], "v1.3.0\n"),
        (&["m"], "v1.3.0\n"),
        (&["patch"], "v1.2.4\n"),
        (&["p"], "v1.2.4\n"),
        (&["current"], "v1.2.3\n"),
        (&["c"], "v1.2.3\n"),
        (&["pr", "--prerelease", "beta"], "v1.3.0-beta.0\n"),
        (&["next", "extra-arg"], "v1.3.0\n"),
        (&["next", "--metadata", "build.7"], "v1.3.0+build.7\n"),
        (&["patch", "--prerelease", "rc.1"], "v1.2.4-rc.1\n"),
        (&["next", "--tag.prefix", ""], "1.3.0\n"),
        (&["next", "--tag.output", "release-"], "release-1.3.0\n"),
        (&["next", "--tag.output="], "1.3.0\n"),
        (&["next", "--always=false", "--v0", "--strict=true"], "v1.3.0\n"),
        (&["next", "--log.directory", "nothing-here,nor-here"], "v1.2.3\n"),
        (&["next", "--log.directory", "."], "v1.3.0\n"),
    ] {
        assert_eq!(ok(svu(dir, args)), want, "svu {args:?}");
    }
}

#[test]
fn json_output_matches_svu() {
    let repo = tagged_repo();
    let out = ok(svu(repo.path(), &["prerelease", "--prerelease", "alpha", "--metadata", "124", "--json"]));
    assert_eq!(
        out,
        "{\"version\":\"v1.3.0-alpha.0+124\",\"major\":1,\"minor\":3,\"patch\":0,\"prefix\":\"v\",\"metadata\":\"124\",\"prerelease\":\"alpha\",\"build\":\"0\"}\n"
    );
    let out = ok(svu(repo.path(), &["current", "--json", "--tag.prefix", ""]));
    assert_eq!(out, "{\"version\":\"1.2.3\",\"major\":1,\"minor\":2,\"patch\":3}\n");
}

#[test]
fn errors_exit_1_with_nothing_on_stdout() {
    let repo = tagged_repo();
    let dir = repo.path();
    assert!(fails(svu(dir, &["next", "--tag.mode", "x"])).contains("invalid tag-mode: \"x\""));
    assert!(fails(svu(dir, &["major", "--always"])).contains("--always"), "next-only flag on major");
    assert!(fails(svu(dir, &["current", "--log.directory", "x"])).contains("--log.directory"));
    assert!(fails(svu(dir, &["prerelease", "--v0"])).contains("--v0"));
    assert!(fails(svu(dir, &["bogus"])).contains("bogus"));
    assert!(fails(svu(dir, &["next", "--json=maybe"])).contains("maybe"));
    assert!(fails(svu(dir, &["next", "--prerelease", "alpha..1"])).contains("alpha..1"));
    assert!(fails(svu(dir, &["next", "--tag.pattern", "nope*"])).contains("no tags match 'nope*'"));
    let outside = tempfile::tempdir().unwrap();
    assert!(fails(svu(outside.path(), &["next"])).contains("not inside a git repository"));
}

#[test]
fn no_command_prints_help_and_succeeds() {
    let repo = tagged_repo();
    let out = ok(svu(repo.path(), &[]));
    for command in ["next", "major", "minor", "patch", "current", "prerelease", "init"] {
        assert!(out.contains(command), "help lists {command}");
    }
    assert!(ok(svu(repo.path(), &["-v"])).starts_with("svu "));
    assert!(ok(svu(repo.path(), &["next", "--help"])).contains("--log.directory"));
    assert!(ok(svu(repo.path(), &["completion", "bash"])).contains("svu"));
}

#[test]
fn verbose_explains_on_stderr() {
    let repo = tagged_repo();
    let out = svu(repo.path(), &["next", "--verbose"]);
    assert_eq!(ok(out.clone()), "v1.3.0\n");
    let head = repo.git(&["rev-parse", "HEAD"]);
    assert_eq!(stderr(&out), format!("found minor change: {head} feat: b\n"));
    let quiet = svu(repo.path(), &["next"]);
    assert_eq!(stderr(&quiet), "");
}

#[test]
fn config_file_env_and_command_line_layers() {
    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("rel-1.2.3");
    repo.commit("chore: b");
    let dir = repo.path();
    std::fs::create_dir_all(dir.join("sub")).unwrap();

    // Flat keys in the CWD.
    std::fs::write(dir.join(".svu.yml"), "tag.prefix: rel-\nalways: true\n").unwrap();
    assert_eq!(ok(svu(dir, &["next"])), "rel-1.2.4\n");
    // Found at the git root from a subdirectory.
    assert_eq!(ok(svu(&dir.join("sub"), &["next"])), "rel-1.2.4\n");
    // The command line beats the file (svu lets the file win here).
    assert_eq!(ok(svu(dir, &["next", "--always=false"])), "rel-1.2.3\n");
    assert_eq!(ok(svu(dir, &["current", "--tag.output", "v"])), "v1.2.3\n");
    // SVU_* variables apply (with their dots) because a config file exists, and beat it.
    assert_eq!(ok(svu_env(dir, &["next"], &[("SVU_METADATA", "m")])), "rel-1.2.4+m\n");
    assert_eq!(ok(svu_env(dir, &["next"], &[("SVU_ALWAYS", "false")])), "rel-1.2.3\n");
    assert_eq!(ok(svu_env(dir, &["next", "--always"], &[("SVU_ALWAYS", "false")])), "rel-1.2.4\n");

    // Nested keys, and a --config path with another name.
    std::fs::remove_file(dir.join(".svu.yml")).unwrap();
    std::fs::write(dir.join("sub/custom.yaml"), "tag:\n  prefix: rel-\n  output: \"\"\n").unwrap();
    assert_eq!(ok(svu(dir, &["current", "--config", "sub/custom.yaml"])), "1.2.3\n");
    // Without a config file, SVU_* is ignored, as in svu.
    let err = fails(svu_env(dir, &["next"], &[("SVU_TAG.PREFIX", "rel-")]));
    assert!(err.contains("could not get current version from tag: 'rel-1.2.3'"), "{err}");
    // A config file in $HOME is found last.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".svu.yml"), "tag.prefix: rel-\n").unwrap();
    assert_eq!(ok(svu_env(dir, &["current"], &[("HOME", home.path().to_str().unwrap())])), "rel-1.2.3\n");
    // A broken file is an error naming it.
    std::fs::write(dir.join(".svu.yml"), "always: perhaps\n").unwrap();
    let err = fails(svu(dir, &["next"]));
    assert!(err.contains(".svu.yml") && err.contains("perhaps"), "{err}");
}

#[test]
fn init_writes_the_template() {
    let repo = tagged_repo();
    let out = svu(repo.path(), &["init"]);
    assert_eq!(ok(out), "");
    let text = std::fs::read_to_string(repo.path().join(".svu.yml")).unwrap();
    assert_eq!(text, svu::config::INIT_TEMPLATE);
    // With the template's log.directory ".", an empty commit no longer counts.
    repo.empty_commit("feat!: empty");
    assert_eq!(ok(svu(repo.path(), &["next"])), "v1.3.0\n");
    assert_eq!(ok(svu(repo.path(), &["i", "--config", "other.yml"])), "");
    assert!(repo.path().join("other.yml").is_file());
}

#[test]
fn github_output_appends_a_line() {
    let repo = tagged_repo();
    let out_file = repo.path().join("gh-output");
    std::fs::write(&out_file, "earlier=1\n").unwrap();
    let env = [("GITHUB_OUTPUT", out_file.to_str().unwrap())];
    assert_eq!(ok(svu_env(repo.path(), &["next", "--github-output", "version"], &env)), "v1.3.0\n");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "earlier=1\nversion=v1.3.0\n");
    let err = fails(svu(repo.path(), &["next", "--github-output", "version"]));
    assert!(err.contains("GITHUB_OUTPUT"), "{err}");
    let err = fails(svu_env(repo.path(), &["next", "--github-output", "a=b"], &env));
    assert!(err.contains("a=b"), "{err}");
}
