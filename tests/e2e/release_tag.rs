//! `release-tag` end to end: a real git repository, a wiremock Forgejo.

use std::process::Output;

use offinfra_test_support::examples::{run_example, text};
use offinfra_test_support::forgejo::TagRoutes;
use offinfra_test_support::git::TestRepo;
use wiremock::{
    matchers::{body_json, method, path},
    Mock, MockServer, ResponseTemplate,
};

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_example("release-tag", Some(dir), args, env)
}

fn tag_json(name: &str, sha: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "message": "", "id": sha, "commit": {"sha": sha, "url": "u", "created": "2026-11-27T10:00:00Z"}, "zipball_url": "z", "tarball_url": "t"})
}

async fn forgejo() -> MockServer {
    offinfra_test_support::contract::strict_server().await
}

fn released_repo() -> (TestRepo, String) {
    let mut repo = TestRepo::new();
    repo.commit("chore: init");
    repo.tag("v1.2.3");
    let head = repo.commit("feat: something new");
    (repo, head)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_the_next_tag_and_reports_it() {
    let (repo, head) = released_repo();
    let server = forgejo().await;
    let tags = TagRoutes::mount(&server, "owner/app", repo.path()).await;
    tags.add("v1.2.3", &repo.git(&["rev-parse", "v1.2.3"]));
    let out_dir = tempfile::tempdir().unwrap();
    let gh = out_dir.path().join("out");
    let env = [("FORGEJO_TOKEN", "fj-token"), ("GITHUB_SHA", head.as_str()), ("GITHUB_OUTPUT", gh.to_str().unwrap())];
    let out = run(repo.path(), &["--forgejo-url", &server.uri(), "--repo", "owner/app"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "v1.3.0\n");
    assert_eq!(std::fs::read_to_string(&gh).unwrap(), "version=1.3.0\ntag=v1.3.0\ncreated=true\n");
    assert!(!text(&out.stderr).contains("fj-token"));
    assert_eq!(tags.tags().last(), Some(&("v1.3.0".to_owned(), head.clone())));
    let requests = server.received_requests().await.unwrap();
    let post = requests.iter().find(|r| r.method.as_str() == "POST").unwrap();
    assert_eq!(post.headers.get("authorization").unwrap(), "token fj-token");
    let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body, serde_json::json!({"tag_name": "v1.3.0", "target": head}));

    // A rerun finds the tag on its commit; a run from a checkout whose mirror has not fetched v1.3.0 yet,
    // on the next commit, takes v1.3.1, not v1.3.0 again.
    let out = run(repo.path(), &["--forgejo-url", &server.uri(), "--repo", "owner/app"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("v1.3.0 already on {head}: nothing to do")), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&gh).unwrap().ends_with("tag=v1.3.0\ncreated=false\n"));
    let mut repo = repo;
    let next = repo.commit("fix: after the release");
    let env = [("FORGEJO_TOKEN", "fj-token"), ("GITHUB_SHA", next.as_str())];
    let out = run(repo.path(), &["--forgejo-url", &server.uri(), "--repo", "owner/app"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "v1.3.1\n", "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_taken_on_another_commit_twice_is_a_clear_error() {
    // Forgejo's listing never shows v1.3.0 (a stale cache in front of it), but the create finds it taken
    // on another commit, twice: after one recompute, the error names both commits.
    let (repo, head) = released_repo();
    let server = forgejo().await;
    let other = "1111111111111111111111111111111111111111";
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/tags"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([tag_json("v1.2.3", &repo.git(&["rev-parse", "v1.2.3"]))])),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/owner/app/tags"))
        .and(body_json(serde_json::json!({"tag_name": "v1.3.0", "target": head})))
        .respond_with(
            ResponseTemplate::new(409).set_body_json(serde_json::json!({"message": "tag already exists", "url": "u"})),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/tags/v1.3.0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tag_json("v1.3.0", other)))
        .mount(&server)
        .await;
    let out = run(repo.path(), &["--forgejo-url", &server.uri(), "--repo", "owner/app"], &[("FORGEJO_TOKEN", "t")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains(&format!("tag v1.3.0 already exists in owner/app on commit {other}, not on {head}")),
        "{}",
        text(&out.stderr)
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_to_release_and_dry_run_send_nothing() {
    let mut repo = TestRepo::new();
    repo.commit("feat: init");
    repo.tag("v2.0.0");
    repo.commit("docs: typo");
    let server = forgejo().await;
    let out_dir = tempfile::tempdir().unwrap();
    let gh = out_dir.path().join("out");
    let env = [("FORGEJO_TOKEN", "t"), ("GITHUB_OUTPUT", gh.to_str().unwrap())];
    let out = run(repo.path(), &["--forgejo-url", &server.uri(), "--repo", "owner/app"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "v2.0.0\n");
    assert_eq!(std::fs::read_to_string(&gh).unwrap(), "version=2.0.0\ntag=v2.0.0\ncreated=false\n");
    assert!(text(&out.stderr).contains("nothing to release"));

    repo.commit("fix: a bug");
    let out = run(repo.path(), &["--forgejo-url", &server.uri(), "--repo", "owner/app", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "v2.0.1\n");
    // svu flags apply: --tag.prefix and --always, as in the svu example.
    let out = run(
        repo.path(),
        &["--forgejo-url", &server.uri(), "--repo", "owner/app", "--dry-run", "--v0", "--metadata", "b1"],
        &[],
    );
    assert_eq!(text(&out.stdout), "v2.0.1+b1\n", "{}", text(&out.stderr));
    let out = run(repo.path(), &["--forgejo-url", &server.uri(), "--repo", "owner"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--repo: repository \"owner\": expected owner/name"), "{}", text(&out.stderr));
    assert!(server.received_requests().await.unwrap().is_empty());
}
