//! Baseline: the commits our walk shows are exactly what `git log <range> -- <paths>` prints, on
//! generated histories with branches, merges, empty commits and path filters.

use offinfra_test_support::git::TestRepo;
use svu::Repository;

/// A small deterministic generator (no dependency needed for a test of this size).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn build_history(seed: u64) -> (TestRepo, Vec<String>, Vec<String>) {
    let mut rng = Lcg(seed);
    let mut repo = TestRepo::new();
    repo.commit_file("a/base.txt", "chore: root");
    let dirs = ["a", "b", "c/d", "c/e"];
    let mut branches = vec!["main".to_owned()];
    let mut tags = Vec::new();
    for step in 0..60 {
        let current = repo.git(&["rev-parse", "--abbrev-ref", "HEAD"]);
        match rng.next(10) {
            0 if branches.len() < 4 => {
                let name = format!("topic{step}");
                repo.git(&["checkout", "-q", "-b", &name]);
                branches.push(name);
            }
            1 if branches.len() > 1 => {
                let other = branches[rng.next(branches.len() as u64) as usize].clone();
                if other != current {
                    repo.git(&[
                        "merge",
                        "-q",
                        "--no-ff",
                        "--no-edit",
                        &other,
                        "-m",
                        &format!("Merge {other} (step {step})"),
                    ]);
                }
            }
            2 => {
                let target = branches[rng.next(branches.len() as u64) as usize].clone();
                repo.git(&["checkout", "-q", &target]);
            }
            3 => {
                repo.empty_commit(&format!("chore: empty {step}"));
            }
            4 => {
                let name = format!("v1.{step}.0");
                repo.tag(&name);
                tags.push(name);
            }
            _ => {
                let dir = dirs[rng.next(dirs.len() as u64) as usize];
                // File names carry the branch so that merges never conflict.
                let file = format!("{dir}/{current}-{}.txt", rng.next(3));
                repo.commit_file(&file, &format!("fix: step {step} in {dir}"));
            }
        }
    }
    let tips: Vec<String> = branches.iter().map(|b| repo.git(&["rev-parse", b])).collect();
    repo.git(&["checkout", "-q", "main"]);
    for other in branches.iter().skip(1) {
        repo.git(&["merge", "-q", "--no-ff", "--no-edit", other]);
    }
    (repo, tags, tips)
}

#[test]
fn current_mode_tag_matches_git_tag_merged() {
    for seed in [3, 99] {
        let (repo, _tags, tips) = build_history(seed);
        for tip in tips.iter().chain(std::iter::once(&"main".to_owned())) {
            repo.git(&["checkout", "-q", "--detach", tip]);
            let git = repo.git(&["-c", "versionsort.suffix=-", "tag", "--sort=-version:refname", "--merged", "HEAD"]);
            let want = git.lines().next().map(str::to_owned);
            let ours = Repository::discover(repo.path()).unwrap().find_tag("", svu::TagMode::Current).unwrap();
            assert_eq!(ours.map(|t| t.name), want, "seed {seed}, HEAD at {tip}");
        }
    }
}

#[test]
fn shown_commits_match_git_log() {
    for seed in [1, 7, 42, 1234] {
        let (repo, tags, _tips) = build_history(seed);
        let ours = Repository::discover(repo.path()).unwrap();
        let mut ranges: Vec<Option<String>> = vec![None];
        ranges.extend(tags.iter().map(|t| Some(t.clone())));
        let path_sets: [&[&str]; 6] = [&[], &["a"], &["c/d"], &["a", "b"], &["."], &["c"]];
        for since in &ranges {
            for paths in path_sets {
                let mut args = vec!["log".to_owned(), "--format=%H".to_owned()];
                args.push(match since {
                    Some(tag) => format!("{tag}..HEAD"),
                    None => "HEAD".to_owned(),
                });
                if !paths.is_empty() {
                    args.push("--".into());
                    args.extend(paths.iter().map(|p| p.to_string()));
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let git: Vec<String> = repo.git(&args).lines().map(str::to_owned).collect();
                let since_id = since.as_ref().map(|t| ours.tag_commit(t).unwrap());
                let dirs: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
                let ours: Vec<String> =
                    ours.commits_since(since_id, &dirs).unwrap().iter().map(|id| id.to_string()).collect();
                assert_eq!(ours, git, "seed {seed}: git {args:?}");
            }
        }
    }
}
