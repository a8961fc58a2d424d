//! `flow --dry-run` in a plain git checkout: the plan, with no credentials and no servers (the README's
//! first command), and clear errors when a real run lacks what a step needs.

use offinfra_test_support::examples::{run_example, text};
use offinfra_test_support::git::TestRepo;

fn checkout() -> (TestRepo, String) {
    let mut repo = TestRepo::new();
    repo.commit("chore: init");
    repo.tag("v0.4.1");
    repo.commit("fix: a bug");
    let head = repo.commit("feat!: a breaking change");
    repo.git(&["remote", "add", "origin", "git@git.example.com:Acme/App.git"]);
    (repo, head)
}

#[test]
fn dry_run_prints_the_plan_without_credentials() {
    let (repo, head) = checkout();
    let out = run_example("flow", Some(repo.path()), &["--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sha8 = &head[..8];
    let expected = format!(
        "dry run: nothing is contacted\n\
         forgejo  not named: give --forgejo-repo (FORGEJO_REPOSITORY) or forgejo_repository in .offinfra.yml\n\
         ci       Acme/App (the Woodpecker registration that deploys)\n\
         image    ghcr.io/acme/app\n\
         version  1.0.0 (current tag: v0.4.1; from this checkout's tags, a real run counts Forgejo's too)\n\
         tag      create v1.0.0 on the Forgejo repository at {head}\n\
         push     ghcr.io/acme/app:{sha8}, ghcr.io/acme/app:latest\n\
         prune    keep the newest 10 images of ghcr.io/acme/app\n\
         deploy   POST /api/repos/<id of Acme/App>/pipelines {{\"branch\":\"master\",\"variables\":{{\"IMAGE_NAME\":\"ghcr.io/acme/app\",\"IMAGE_TAG\":\"{sha8}\"}}}}\n"
    );
    assert_eq!(text(&out.stdout), expected);

    // JSON for tools; skipped steps and flags show in the plan.
    let args = ["--dry-run", "--format", "json", "--skip-prune", "--tag", "stable", "--repo", "acme/app"];
    let out = run_example("flow", Some(repo.path()), &args, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["tag"], "v1.0.0");
    assert_eq!(plan["keep"], serde_json::Value::Null);
    assert_eq!(plan["image_tags"], serde_json::json!([sha8, "stable"]));
    assert_eq!(plan["deploy"]["variables"]["IMAGE_TAG"], sha8);
}

#[test]
fn the_fleets_names_are_kept_apart() {
    let (repo, head) = checkout();
    std::fs::write(repo.path().join(".offinfra.yml"), "forgejo_repository: viktor/app\n").unwrap();
    let env = [("GITHUB_REPOSITORY", "ViktorBarzin/app")];
    let out = run_example("flow", Some(repo.path()), &["--dry-run"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("forgejo  viktor/app (receives the tag)\n"), "{stdout}");
    assert!(stdout.contains("ci       ViktorBarzin/app (the Woodpecker registration that deploys)\n"), "{stdout}");
    assert!(stdout.contains("image    ghcr.io/viktorbarzin/app\n"), "{stdout}");
    assert!(stdout.contains(&format!("tag      create v1.0.0 on viktor/app at {head}\n")), "{stdout}");
    assert!(stdout.contains("deploy   POST /api/repos/<id of ViktorBarzin/app>/pipelines"), "{stdout}");
    // A flag beats the file; a numeric registration is used as is.
    let args = ["--dry-run", "--forgejo-repo", "infra/app", "--woodpecker-repo-id", "1"];
    let stdout = text(&run_example("flow", Some(repo.path()), &args, &env).stdout);
    assert!(stdout.contains("forgejo  infra/app") && stdout.contains("POST /api/repos/1/pipelines"), "{stdout}");
    // A real run that tags needs the Forgejo repository.
    std::fs::remove_file(repo.path().join(".offinfra.yml")).unwrap();
    let out =
        run_example("flow", Some(repo.path()), &["--forgejo-url", "http://127.0.0.1:9"], &[("FORGEJO_TOKEN", "t")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: tagging needs the Forgejo repository"), "{}", text(&out.stderr));
}

#[test]
fn a_real_run_names_what_a_step_lacks() {
    let (repo, _) = checkout();
    let out = run_example("flow", Some(repo.path()), &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "error: tagging needs --forgejo-url (FORGEJO_URL) (or skip the step)\n");
    let out = run_example("flow", Some(repo.path()), &["--skip-tag"], &[]);
    assert_eq!(text(&out.stderr), "error: pushing needs --layout (or skip the step with --skip-push)\n");
    let out = run_example("flow", Some(repo.path()), &["--skip-tag", "--skip-push", "--skip-prune"], &[]);
    assert_eq!(text(&out.stderr), "error: deploying needs --woodpecker-url (WOODPECKER_URL) (or skip the step)\n");
    // A malformed input is a usage error at the clap edge (exit 2, as in push-image), naming the flag.
    let out = run_example("flow", Some(repo.path()), &["--dry-run", "--sha", "nothex"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with(
            "error: invalid value 'nothex' for '--sha <SHA>': commit \"nothex\": expected a git commit id (at least 8 hex digits)\n"
        ),
        "{}",
        text(&out.stderr)
    );
    // A blank variable is no value: an empty IMAGE_NAME leaves the image to its default.
    let out = run_example("flow", Some(repo.path()), &["--dry-run"], &[("IMAGE_NAME", ""), ("GITHUB_REPOSITORY", "")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn inside_actions_every_secret_from_the_environment_is_masked_first() {
    let (repo, _) = checkout();
    let env = [("GITHUB_ACTIONS", "true"), ("FORGEJO_TOKEN", "fj-s3cret"), ("WOODPECKER_TOKEN", "wp-s3cret")];
    let out = run_example("flow", Some(repo.path()), &["--dry-run"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("::add-mask::fj-s3cret\n::add-mask::wp-s3cret\n"), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("s3cret"), "stdout carries data only");
    let outside = run_example("flow", Some(repo.path()), &["--dry-run"], &env[1..]);
    assert!(!text(&outside.stderr).contains("add-mask"), "{}", text(&outside.stderr));
}
