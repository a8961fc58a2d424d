//! The ghcr examples run as CI steps: `push-image` and `registry-check` against a real registry on
//! loopback, `prune-versions` against a wiremock GitHub API and a real registry.

use offinfra_test_support::examples::{run_example, text};

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use offinfra_test_support::oci::{platform, skopeo_digest, tar_of, with, Auth, Builder, LocalRegistry};
use serde_json::json;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_example(name, None, args, env)
}

/// A buildx-style tar: one amd64 image plus its attestation, in an index.
fn buildx_tar(dir: &Path) -> (tempfile::TempDir, PathBuf, String) {
    let b = Builder::new(dir);
    let amd64 = with(b.image("amd64", 2), "platform", platform("linux", "amd64"));
    let att = offinfra_test_support::oci::attestation(&b, &amd64);
    let index = b.index_blob(vec![amd64.clone(), att]);
    b.write_index(vec![with(index, "annotations", json!({"org.opencontainers.image.ref.name": "latest"}))]);
    let (keep, tar) = tar_of(dir);
    (keep, tar, amd64["digest"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_image_pushes_one_manifest_and_prints_its_digest() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let src = tempfile::tempdir().unwrap();
    let (_keep, tar, amd64) = buildx_tar(src.path());
    let gh = tempfile::tempdir().unwrap();
    let gh_output = gh.path().join("out");
    let repo = format!("{}/acme/app", reg.host());
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let env = [("GITHUB_OUTPUT", gh_output.to_str().unwrap()), ("GITHUB_SHA", sha)];
    let out = run("push-image", &["--layout", tar.to_str().unwrap(), "--repository", &repo, "--tag", "latest"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{amd64}\n"), "the platform manifest's digest, alone");
    assert_eq!(std::fs::read_to_string(&gh_output).unwrap(), format!("digest={amd64}\n"));
    for tag in ["latest", "01234567"] {
        assert_eq!(skopeo_digest(&format!("{repo}:{tag}"), None), amd64, "{tag}: provenance-free single manifest");
    }

    // Dry run: checks the layout, contacts nothing.
    let out = run(
        "push-image",
        &["--layout", tar.to_str().unwrap(), "--repository", "127.0.0.1:9/x/y", "--tag", "t", "--dry-run"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{amd64}\n"));

    // A broken layout: exit 1, nothing on stdout, the problem named.
    let empty = tempfile::tempdir().unwrap();
    let out =
        run("push-image", &["--layout", empty.path().to_str().unwrap(), "--repository", &repo, "--tag", "x"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("is not an OCI image layout"), "{}", text(&out.stderr));
    // A usage error: exit 2.
    let out = run("push-image", &["--layout", tar.to_str().unwrap(), "--repository", "not-a-repo"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_check_reports_orphans_and_cache_health() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let src = tempfile::tempdir().unwrap();
    let b = Builder::new(src.path());
    let amd64 = with(b.image("amd64", 1), "platform", platform("linux", "amd64"));
    let arm64 = with(b.image("arm64", 1), "platform", platform("linux", "arm64"));
    b.write_index(vec![b.index_blob(vec![amd64, arm64.clone()])]);
    let repo = format!("{}/multi/app", reg.host());
    let out = run(
        "push-image",
        &["--layout", src.path().to_str().unwrap(), "--repository", &repo, "--tag", "v1", "--keep-index"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let host = reg.host();
    let healthy = run("registry-check", &["--registry", &host, "--cache", &host, "--format", "json"], &[]);
    assert!(healthy.status.success(), "{}", text(&healthy.stderr));
    let report: serde_json::Value = serde_json::from_slice(&healthy.stdout).unwrap();
    assert_eq!(report["healthy"], true);
    assert_eq!(report["cache"]["repositories"], json!(["multi/app"]));

    let status = offinfra_test_support::oci::delete(&format!(
        "{}/v2/multi/app/manifests/{}",
        reg.url(),
        arm64["digest"].as_str().unwrap()
    ))
    .await;
    assert_eq!(status, 202);
    let broken = run("registry-check", &["--registry", &host, "--format", "json"], &[]);
    assert_eq!(broken.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&broken.stdout).unwrap();
    assert_eq!(report["registry"]["orphans"][0]["missing_child"], arm64["digest"]);
    assert_eq!(report["registry"]["orphans"][0]["tag"], "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_versions_keeps_whole_images() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    // The newest release is multi-arch with an attestation; the older one a single manifest.
    let new_src = tempfile::tempdir().unwrap();
    let b = Builder::new(new_src.path());
    let amd64 = with(b.image("new-amd64", 1), "platform", platform("linux", "amd64"));
    let arm64 = with(b.image("new-arm64", 1), "platform", platform("linux", "arm64"));
    let att = offinfra_test_support::oci::attestation(&b, &amd64);
    let index = b.index_blob(vec![amd64.clone(), arm64.clone(), att.clone()]);
    b.write_index(vec![index.clone()]);
    let repo = format!("{}/acme/app", reg.host());
    let out = run(
        "push-image",
        &["--layout", new_src.path().to_str().unwrap(), "--repository", &repo, "--tag", "v2", "--keep-index"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let api = MockServer::start().await;
    let digest = |v: &serde_json::Value| v["digest"].as_str().unwrap().to_owned();
    let version = |id: u64, name: String, day: u32, tags: &[&str]| {
        json!({"id": id, "name": name, "created_at": format!("2026-03-{day:02}T00:00:00Z"), "updated_at": format!("2026-03-{day:02}T00:00:00Z"),
               "metadata": {"package_type": "container", "container": {"tags": tags}}})
    };
    let versions = json!([
        version(10, digest(&index), 2, &["v2", "latest"]),
        version(11, digest(&amd64), 2, &[]),
        version(12, digest(&arm64), 2, &[]),
        version(13, digest(&att), 2, &[]),
        version(5, "sha256:1111111111111111111111111111111111111111111111111111111111111111".into(), 1, &["v1"]),
        version(4, "sha256:2222222222222222222222222222222222222222222222222222222222222222".into(), 1, &[]),
    ]);
    Mock::given(method("GET"))
        .and(path("/orgs/acme/packages/container/app/versions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(versions))
        .mount(&api)
        .await;
    Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(204)).mount(&api).await;
    let args = [
        "--owner",
        "acme",
        "--package",
        "app",
        "--keep",
        "1",
        "--registry",
        &reg.host(),
        "--pause",
        "0",
        "--api-url",
        &api.uri(),
    ];
    let env = [("GITHUB_TOKEN", "ghp_test")];

    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = run("prune-versions", &dry, &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 to delete, 4 to keep"), "{}", text(&out.stdout));
    // Without --execute it is a dry run too, as forgejo-cleanup: deleting is always asked for.
    let out = run("prune-versions", &args, &env);
    assert!(out.status.success() && text(&out.stderr).contains("dry run: nothing deleted"), "{}", text(&out.stderr));
    assert!(
        api.received_requests().await.unwrap().iter().all(|r| r.method.as_str() == "GET"),
        "a dry run deletes nothing"
    );

    let mut execute = args.to_vec();
    execute.push("--execute");
    let out = run("prune-versions", &execute, &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let deleted: Vec<String> = api
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(
        deleted,
        ["/orgs/acme/packages/container/app/versions/4", "/orgs/acme/packages/container/app/versions/5"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_shows_each_request_and_nothing_without_it() {
    use offinfra_test_support::oci::{PASSWORD, USER};

    let reg = LocalRegistry::start(Auth::Token);
    let src = tempfile::tempdir().unwrap();
    let (_keep, tar, amd64) = buildx_tar(src.path());
    let repo = format!("{}/acme/logged", reg.host());
    let push = |tag: &str, rust_log: Option<&str>| {
        let mut env = vec![("REGISTRY_USERNAME", USER), ("REGISTRY_PASSWORD", PASSWORD)];
        env.extend(rust_log.map(|filter| ("RUST_LOG", filter)));
        run("push-image", &["--layout", tar.to_str().unwrap(), "--repository", &repo, "--tag", tag], &env)
    };

    let quiet = push("one", None);
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert_eq!(text(&quiet.stdout), format!("{amd64}\n"));
    assert!(!text(&quiet.stderr).contains("offinfra_http"), "no log without RUST_LOG:\n{}", text(&quiet.stderr));

    let logged = push("two", Some("offinfra_http=debug"));
    assert!(logged.status.success(), "{}", text(&logged.stderr));
    assert_eq!(text(&logged.stdout), text(&quiet.stdout), "stdout does not change with the log");
    let log = text(&logged.stderr);
    let is_request = |l: &&str, method: &str, path: &str| {
        l.contains("offinfra_http") && l.contains("request") && l.contains(method) && l.contains(path)
    };
    assert!(
        log.lines().any(|l| is_request(&l, "PUT", "/v2/acme/logged/manifests/two")),
        "the tag's manifest PUT is logged:\n{log}"
    );
    assert!(log.lines().any(|l| is_request(&l, "GET", "/token")), "the token exchange is logged:\n{log}");
    assert!(log.lines().any(|l| l.contains("answer") && l.contains("status=201")), "answers are logged:\n{log}");
    assert!(!log.contains(PASSWORD), "no credential in the log:\n{log}");
}
