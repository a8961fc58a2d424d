//! svu's rules on real git histories.

use offinfra_test_support::git::{clone, git_in, TestRepo};
use svu::{Action, Bump, BumpOptions, Classifier, Error, Options, Repository, TagMode};

fn compute(dir: &std::path::Path, opts: &Options) -> Result<String, Error> {
    Repository::discover(dir)?.compute(opts).map(|o| o.version.to_string())
}

fn next(repo: &TestRepo) -> String {
    compute(repo.path(), &Options::default()).unwrap()
}

fn with(action: Action) -> Options {
    Options { action, ..Options::default() }
}

#[test]
fn no_tag_starts_from_zero() {
    let mut repo = TestRepo::new();
    repo.commit("chore: init");
    assert_eq!(next(&repo), "0.0.0");
    repo.commit("fix: a");
    assert_eq!(next(&repo), "0.0.1");
    repo.commit("feat: b");
    assert_eq!(next(&repo), "0.1.0");
    repo.commit("feat!: c");
    assert_eq!(next(&repo), "1.0.0");
    assert_eq!(compute(repo.path(), &with(Action::Current)).unwrap(), "0.0.0");
}

#[test]
fn bumps_follow_the_largest_change_since_the_tag() {
    let mut repo = TestRepo::new();
    repo.commit("feat!: old breaking change before the tag");
    repo.tag("v1.2.3");
    assert_eq!(next(&repo), "1.2.3", "no commits since the tag keep the version");
    repo.commit("chore: nothing");
    repo.commit("docs: nothing");
    assert_eq!(next(&repo), "1.2.3");
    repo.commit("fix: a");
    assert_eq!(next(&repo), "1.2.4");
    repo.commit("feat(api): b");
    repo.commit("fix: c");
    assert_eq!(next(&repo), "1.3.0");
    repo.commit("refactor: d\n\nBREAKING CHANGE: the api is gone");
    repo.commit("chore: e");
    assert_eq!(next(&repo), "2.0.0");
}

#[test]
fn explicit_bumps_and_current() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("v1.2.3-alpha.1+1");
    repo.commit("feat: b");
    assert_eq!(compute(repo.path(), &with(Action::Current)).unwrap(), "1.2.3-alpha.1+1");
    assert_eq!(compute(repo.path(), &with(Action::Patch)).unwrap(), "1.2.3");
    assert_eq!(compute(repo.path(), &with(Action::Minor)).unwrap(), "1.3.0");
    assert_eq!(compute(repo.path(), &with(Action::Major)).unwrap(), "2.0.0");
    let opts = Options {
        action: Action::Patch,
        bump: BumpOptions { prerelease: "alpha.2".into(), metadata: "10".into(), ..BumpOptions::default() },
        ..Options::default()
    };
    assert_eq!(compute(repo.path(), &opts).unwrap(), "1.2.3-alpha.2+10");
}

#[test]
fn v0_always_and_prerelease_tags() {
    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("v0.5.5");
    repo.commit("feat!: b");
    assert_eq!(next(&repo), "1.0.0");
    let v0 = Options { bump: BumpOptions { v0: true, ..BumpOptions::default() }, ..Options::default() };
    assert_eq!(compute(repo.path(), &v0).unwrap(), "0.6.0");

    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("v1.2.3-rc.1");
    repo.commit("chore: b");
    assert_eq!(next(&repo), "1.2.3", "next finalises a prerelease");
    let always = Options { bump: BumpOptions { always: true, ..BumpOptions::default() }, ..Options::default() };
    assert_eq!(compute(repo.path(), &always).unwrap(), "1.2.3");
    repo.tag("v1.2.3");
    repo.commit("chore: c");
    assert_eq!(compute(repo.path(), &always).unwrap(), "1.2.4");
}

#[test]
fn prerelease_counts_on_real_tags() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("v1.2.3-alpha.11");
    repo.commit("fix: b");
    assert_eq!(compute(repo.path(), &with(Action::Prerelease)).unwrap(), "1.2.3-alpha.12");
    let beta = Options {
        action: Action::Prerelease,
        bump: BumpOptions { prerelease: "beta".into(), ..BumpOptions::default() },
        ..Options::default()
    };
    repo.commit("feat: c");
    assert_eq!(compute(repo.path(), &beta).unwrap(), "1.3.0-beta.0");

    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("v1.2.3");
    repo.commit("feat: b");
    let err = compute(repo.path(), &with(Action::Prerelease)).unwrap_err();
    assert!(matches!(err, Error::PrereleaseSuffixRequired { .. }), "{err}");
    assert!(err.to_string().starts_with("could not get next tag: 'v1.2.3': --prerelease suffix is required"), "{err}");
}

#[test]
fn annotated_and_lightweight_tags_are_alike() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.annotated_tag("v1.0.0");
    repo.commit("fix: b");
    assert_eq!(next(&repo), "1.0.1");
    repo.tag("v1.0.1");
    repo.commit("feat: c");
    assert_eq!(next(&repo), "1.1.0");
    let outcome = Repository::discover(repo.path()).unwrap().compute(&Options::default()).unwrap();
    assert_eq!(outcome.tag.unwrap().name, "v1.0.1");
    let change = outcome.change.unwrap();
    assert_eq!((change.bump, change.title.as_str()), (Bump::Minor, "feat: c"));
}

#[test]
fn highest_tag_wins_by_git_version_sort() {
    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("v1.10.0");
    repo.commit("chore: b");
    repo.tag("v1.9.0");
    repo.tag("v1.9.1-rc.1");
    repo.tag("latest");
    repo.commit("fix: c");
    // v1.10.0 is on an older commit and still wins; its range has both later commits.
    assert_eq!(compute(repo.path(), &with(Action::Current)).unwrap(), "1.10.0");
    assert_eq!(next(&repo), "1.10.1");

    // Two tags on one commit: the higher wins, a release above its prerelease.
    repo.tag("v2.0.0-rc.1");
    repo.tag("v2.0.0");
    assert_eq!(compute(repo.path(), &with(Action::Current)).unwrap(), "2.0.0");
}

#[test]
fn our_tag_order_is_gits() {
    let repo = TestRepo::new();
    let mut r = repo;
    r.commit("chore: a");
    let names = [
        "v1.0.0",
        "v1.0.0-rc.1",
        "v1.0.0-rc.2",
        "v1.0.0-beta",
        "v1.0.10",
        "v1.0.9",
        "v1.10.0",
        "v1.9.0",
        "v2.0.0-alpha-1",
        "v2.0.0-alpha.1",
        "v2.0",
        "v2",
        "1.0.0",
        "latest",
        "stable",
        "wip",
        "v0.0.1",
        "v01.0.0",
        "v1.0.0-1",
        "v1.0.0--x",
        "app/v1.2.3",
        "app/v1.10.0",
        "v1.0.0-rc.10",
        "v1.0.0+meta",
        "v1.0.0.1",
        "v1.00.0",
        "x-1",
        "x-1-",
        "a.b-c",
    ];
    for name in names {
        r.tag(name);
    }
    let git = git_in(r.path(), &["-c", "versionsort.suffix=-", "tag", "--sort=-version:refname"]);
    let git: Vec<&str> = git.lines().collect();
    let ours = Repository::discover(r.path()).unwrap().tags_by_version().unwrap();
    assert_eq!(ours, git);
}

#[test]
fn a_non_semver_tag_sorting_first_is_an_error() {
    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("v1.0.0");
    repo.tag("wip");
    let err = compute(repo.path(), &Options::default()).unwrap_err();
    assert!(matches!(err, Error::TagNotSemver { ref tag, .. } if tag == "wip"), "{err}");
    assert!(err.to_string().starts_with("could not get current version from tag: 'wip': "), "{err}");
    // A pattern steers around it.
    let opts = Options { tag_pattern: "v*".into(), ..Options::default() };
    assert_eq!(compute(repo.path(), &opts).unwrap(), "1.0.0");
}

#[test]
fn monorepo_patterns_prefixes_and_directories() {
    let mut repo = TestRepo::new();
    repo.commit_file("app/main.go", "feat: app");
    repo.tag("app/v1.0.0");
    repo.commit_file("lib/lib.go", "feat: lib");
    repo.tag("lib/v2.0.0");
    repo.commit_file("lib/lib.go", "feat: lib change");
    repo.commit_file("app/main.go", "fix: app fix");
    repo.commit_file("lib/lib.go", "feat!: lib break");

    let app = Options {
        tag_pattern: "app/*".into(),
        tag_prefix: "app/v".into(),
        directories: vec!["app".into()],
        ..Options::default()
    };
    assert_eq!(compute(repo.path(), &app).unwrap(), "1.0.1");
    let lib = Options {
        tag_pattern: "lib/*".into(),
        tag_prefix: "lib/v".into(),
        directories: vec!["lib".into()],
        ..Options::default()
    };
    assert_eq!(compute(repo.path(), &lib).unwrap(), "3.0.0");

    // Relative to the directory we start from, as git resolves pathspecs against the CWD.
    let from_app = Options { directories: vec![".".into()], ..app.clone() };
    assert_eq!(compute(&repo.path().join("app"), &from_app).unwrap(), "1.0.1");
    let up_and_over = Options { directories: vec!["../lib".into()], ..lib.clone() };
    assert_eq!(compute(&repo.path().join("app"), &up_and_over).unwrap(), "3.0.0");

    let nothing = Options { tag_pattern: "web/*".into(), ..Options::default() };
    let err = compute(repo.path(), &nothing).unwrap_err();
    assert_eq!(err.to_string(), "failed to get current tag for repo: no tags match 'web/*'");

    let glob = Options { directories: vec!["app/*.go".into()], ..app.clone() };
    let err = compute(repo.path(), &glob).unwrap_err();
    assert!(matches!(err, Error::InvalidDirectory { ref path, .. } if path == "app/*.go"), "{err}");
    let outside = Options { directories: vec!["../..".into()], ..app };
    assert!(matches!(compute(&repo.path().join("app"), &outside), Err(Error::InvalidDirectory { .. })));
}

#[test]
fn directory_filter_skips_empty_commits_and_treesame_merges() {
    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("v1.0.0");
    repo.empty_commit("feat: empty commit");
    let all = Options { directories: vec![".".into()], ..Options::default() };
    assert_eq!(next(&repo), "1.1.0");
    assert_eq!(compute(repo.path(), &all).unwrap(), "1.0.0", "the init template's '.' filters out empty commits");

    // A side branch touching docs/ only, merged with a feat message: not a change of src/.
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.commit_file("docs/readme.md", "docs: x");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit_file("src/a.rs", "fix: src");
    repo.git(&["merge", "-q", "--no-ff", "side", "-m", "feat: merge side"]);
    let src = Options { directories: vec!["src".into()], ..Options::default() };
    assert_eq!(compute(repo.path(), &src).unwrap(), "1.0.1");
    let docs = Options { directories: vec!["docs".into()], ..Options::default() };
    assert_eq!(compute(repo.path(), &docs).unwrap(), "1.0.0", "docs: x is no bump; the merge is TREESAME to side");
    // Without a filter the merge's own message counts.
    assert_eq!(next(&repo), "1.1.0");
}

#[test]
fn tag_modes_on_branches_and_merges() {
    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("v1.0.0");
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.commit("feat: side feature");
    repo.tag("v1.1.0");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit_file("other.txt", "fix: main fix");
    assert_eq!(next(&repo), "1.1.1", "all: the highest tag of the repository");
    let current = Options { tag_mode: TagMode::Current, ..Options::default() };
    assert_eq!(compute(repo.path(), &current).unwrap(), "1.0.1", "current: only tags merged into HEAD");

    // Merging the side branch brings v1.1.0 into HEAD's history; commits of merged branches count.
    repo.git(&["checkout", "-q", "-b", "feature2"]);
    repo.commit_file("f2.txt", "feat: on a branch");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--no-ff", "side", "-m", "Merge branch 'side'"]);
    repo.git(&["merge", "-q", "--no-ff", "feature2", "-m", "Merge branch 'feature2'"]);
    assert_eq!(compute(repo.path(), &current).unwrap(), "1.2.0");
    assert_eq!(next(&repo), "1.2.0");
}

#[test]
fn clock_skew_does_not_count_tagged_commits() {
    // Commit dates go backwards after the tag: the walk must still hide the tag's history.
    let mut repo = TestRepo::new();
    repo.commit("feat: before the tag");
    repo.commit("feat!: before the tag, breaking");
    repo.tag("v1.0.0");
    let out = std::process::Command::new("git")
        .args(["commit", "-q", "--allow-empty", "-m", "fix: after, dated in the past"])
        .current_dir(repo.path())
        .env("GIT_AUTHOR_DATE", "1000000000 +0000")
        .env("GIT_COMMITTER_DATE", "1000000000 +0000")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(next(&repo), "1.0.1");
}

#[test]
fn strict_mode_uses_the_grammar() {
    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("v1.0.0");
    repo.commit("Revert \"feat: x\"");
    repo.commit("bugfix: y");
    assert_eq!(next(&repo), "1.1.0");
    let strict = Options { classifier: Classifier::Strict, ..Options::default() };
    assert_eq!(compute(repo.path(), &strict).unwrap(), "1.0.0");
    repo.commit("fix(core): z\n\nBREAKING CHANGE: gone");
    assert_eq!(compute(repo.path(), &strict).unwrap(), "2.0.0");
}

#[test]
fn works_from_subdirectories_worktrees_and_bare_repositories() {
    let mut repo = TestRepo::new();
    repo.commit_file("deep/er/file.txt", "chore: a");
    repo.tag("v3.0.0");
    repo.commit("feat: b");
    assert_eq!(compute(&repo.path().join("deep/er"), &Options::default()).unwrap(), "3.1.0");

    let wt = tempfile::tempdir().unwrap();
    let wt_path = wt.path().join("wt");
    repo.git(&["worktree", "add", "-q", "--detach", wt_path.to_str().unwrap(), "HEAD~1"]);
    assert_eq!(compute(&wt_path, &Options::default()).unwrap(), "3.0.0", "the worktree's own HEAD counts");

    let (_keep, bare) = clone(&repo, &["--bare"]);
    assert_eq!(compute(&bare, &Options::default()).unwrap(), "3.1.0");
}

#[test]
fn shallow_clones_that_cannot_see_the_tag_are_errors() {
    let mut repo = TestRepo::new();
    repo.commit("feat: a");
    repo.tag("v5.0.0");
    for i in 0..5 {
        repo.commit(&format!("fix: {i}"));
    }
    // What actions/checkout does by default: depth 1, no tags.
    let (_a, shallow) = clone(&repo, &["--depth", "1", "--no-tags"]);
    let err = compute(&shallow, &Options::default()).unwrap_err();
    assert!(matches!(err, Error::ShallowHistory { .. }), "{err}");
    assert!(err.to_string().contains("git fetch --unshallow --tags"), "{err}");
    assert!(matches!(compute(&shallow, &with(Action::Current)), Err(Error::ShallowHistory { .. })));

    // Tags fetched, history still cut: the range cannot be read completely.
    git_in(&shallow, &["fetch", "-q", "--depth", "1", "origin", "+refs/tags/*:refs/tags/*"]);
    let err = compute(&shallow, &Options::default()).unwrap_err();
    assert!(matches!(err, Error::ShallowHistory { .. }), "{err}");
    let current = Options { tag_mode: TagMode::Current, ..Options::default() };
    assert!(matches!(compute(&shallow, &current), Err(Error::ShallowHistory { .. })));

    // Deep enough to include the tag: the answer is right.
    let (_b, deep) = clone(&repo, &["--depth", "7"]);
    assert_eq!(compute(&deep, &Options::default()).unwrap(), "5.0.1");
    assert_eq!(compute(&deep, &current).unwrap(), "5.0.1");

    // Unshallowing fixes the first clone.
    git_in(&shallow, &["fetch", "-q", "--unshallow", "--tags"]);
    assert_eq!(compute(&shallow, &Options::default()).unwrap(), "5.0.1");
}

#[test]
fn errors_name_their_input() {
    let dir = tempfile::tempdir().unwrap();
    let err = Repository::discover(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NotARepository { .. }), "{err}");
    assert!(err.to_string().contains(&dir.path().display().to_string()), "{err}");

    let mut repo = TestRepo::new();
    repo.commit("chore: a");
    repo.tag("rel-1.2.3");
    let err = compute(repo.path(), &Options::default()).unwrap_err();
    assert!(err.to_string().starts_with("could not get current version from tag: 'rel-1.2.3'"), "{err}");
    let rel = Options { tag_prefix: "rel-".into(), ..Options::default() };
    assert_eq!(compute(repo.path(), &rel).unwrap(), "1.2.3");
    let bad_glob = Options { tag_pattern: "v[".into(), ..Options::default() };
    assert!(matches!(compute(repo.path(), &bad_glob), Err(Error::InvalidPattern { .. })));

    let unborn = TestRepo::new();
    assert!(matches!(compute(unborn.path(), &Options::default()), Err(Error::UnbornHead { .. })));
}

#[test]
fn head_time_is_the_committer_time_git_reports() {
    let mut repo = TestRepo::new();
    repo.commit("chore: one");
    repo.commit("fix: two");
    let git: i64 = repo.git(&["log", "-1", "--format=%ct"]).parse().unwrap();
    assert_eq!(Repository::discover(repo.path()).unwrap().head_time().unwrap(), git);
    let empty = tempfile::tempdir().unwrap();
    git_in(empty.path(), &["init", "-q"]);
    assert!(matches!(Repository::discover(empty.path()).unwrap().head_time(), Err(Error::UnbornHead { .. })));
}

#[test]
fn forge_tags_a_lagging_mirror_lacks_count_and_are_never_reused() {
    let mut repo = TestRepo::new();
    repo.commit("chore: init");
    repo.tag("v1.0.0");
    let a = repo.commit("feat: a");
    repo.commit("fix: b");
    let opts = Options::default();
    let open = Repository::discover(repo.path()).unwrap();
    assert_eq!(open.compute(&opts).unwrap().version.to_string(), "1.1.0", "the checkout alone");

    // The forge tagged A (a run for A) after this checkout was made: only B's fix is new.
    let on_a = svu::Tag { name: "v1.1.0".into(), commit: a.parse().unwrap() };
    let outcome = open.compute_with(&opts, std::slice::from_ref(&on_a)).unwrap();
    assert_eq!((outcome.current.to_string(), outcome.version.to_string()), ("1.1.0".into(), "1.1.1".into()));
    assert!(outcome.tag_in_checkout);

    // A newer forge tag on a commit this checkout lacks: the version goes past it, the bump counted from the
    // newest tag that is here (v1.1.0 on A: B's fix).
    let unseen = svu::Tag { name: "v1.4.0".into(), commit: "f".repeat(40).parse().unwrap() };
    let outcome = open.compute_with(&opts, &[on_a.clone(), unseen.clone()]).unwrap();
    assert_eq!(outcome.tag.as_ref().map(|t| t.name.as_str()), Some("v1.4.0"));
    assert!(!outcome.tag_in_checkout);
    assert_eq!(outcome.version.to_string(), "1.4.1");

    // The same name in both copies counts with the forge's commit.
    repo.tag("v1.1.0");
    let open = Repository::discover(repo.path()).unwrap();
    assert_eq!(open.compute(&opts).unwrap().version.to_string(), "1.1.0", "the local v1.1.0 is on HEAD");
    assert_eq!(open.compute_with(&opts, &[on_a]).unwrap().version.to_string(), "1.1.1");

    // `current` mode: a commit HEAD cannot reach is passed over.
    let current = Options { tag_mode: TagMode::Current, ..Options::default() };
    let outcome = open.compute_with(&current, &[unseen]).unwrap();
    assert_eq!(outcome.tag.map(|t| t.name), Some("v1.1.0".into()));
}
