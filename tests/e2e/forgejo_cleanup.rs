//! `forgejo-cleanup` and doctor's Forgejo packages check: the packages API is a wiremock Forgejo whose
//! answers follow the official spec; the manifests live in a real registry standing in for Forgejo's OCI
//! endpoint.

use offinfra_test_support::contract::{strict_server, Spec};
use offinfra_test_support::examples::{run_example, text};
use offinfra_test_support::oci::{attestation, platform, with, Auth, Builder, LocalRegistry};
use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path, query_param},
    Mock, MockServer, ResponseTemplate,
};

/// A Forgejo `Package` (one version), checked against the spec.
fn version(id: i64, name: &str, version: &str, day: u32) -> Value {
    let owner = json!({"id": 3, "login": "acme"});
    let v = json!({"id": id, "owner": owner, "creator": owner, "type": "container", "name": name,
                   "version": version, "created_at": format!("2026-11-{day:02}T00:00:00Z"),
                   "html_url": format!("https://git.example.com/acme/-/packages/container/{name}/{version}")});
    Spec::forgejo().assert("Package", &v);
    v
}

/// Pushes the layout in `dir` to `repository` with `tags`; `keep_index` pushes an index whole.
fn push(dir: &std::path::Path, repository: &str, tags: &[&str], keep_index: bool) {
    let mut args = vec!["--layout", dir.to_str().unwrap(), "--repository", repository];
    for tag in tags {
        args.extend(["--tag", tag]);
    }
    if keep_index {
        args.push("--keep-index");
    }
    let out = run_example("push-image", None, &args, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

async fn forgejo_listing(versions: Value) -> MockServer {
    let server = strict_server().await;
    let count = versions.as_array().unwrap().len().to_string();
    Mock::given(method("GET"))
        .and(path("/api/v1/packages/acme"))
        .and(query_param("type", "container"))
        .respond_with(ResponseTemplate::new(200).set_body_json(versions).insert_header("x-total-count", count))
        .mount(&server)
        .await;
    server
}

fn deletes(requests: &[wiremock::Request]) -> Vec<String> {
    requests.iter().filter(|r| r.method.as_str() == "DELETE").map(|r| r.url.path().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_keeps_whole_images_deletes_exactly_the_plan_and_reports_a_half_run() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let repository = format!("{}/acme/app", reg.host());
    // The newest: multi-arch with an attestation, tagged v2 and latest.
    let new = tempfile::tempdir().unwrap();
    let b = Builder::new(new.path());
    let amd64 = with(b.image("new-amd64", 1), "platform", platform("linux", "amd64"));
    let arm64 = with(b.image("new-arm64", 1), "platform", platform("linux", "arm64"));
    let att = attestation(&b, &amd64);
    let index = b.index_blob(vec![amd64.clone(), arm64.clone(), att.clone()]);
    b.write_index(vec![index.clone()]);
    push(new.path(), &repository, &["v2", "latest"], true);
    // An older release, and a manifest whose tag moved on long ago (Forgejo lists it by digest).
    let old = tempfile::tempdir().unwrap();
    let b = Builder::new(old.path());
    b.write_index(vec![with(b.image("old-v1", 1), "platform", platform("linux", "amd64"))]);
    push(old.path(), &repository, &["v1"], false);
    let stale = tempfile::tempdir().unwrap();
    let b = Builder::new(stale.path());
    let stale_image = with(b.image("stale", 1), "platform", platform("linux", "amd64"));
    b.write_index(vec![stale_image.clone()]);
    push(stale.path(), &repository, &["moved-on"], false);

    let digest = |v: &Value| v["digest"].as_str().unwrap().to_owned();
    let versions = json!([
        version(21, "app", "v2", 3),
        version(22, "app", "latest", 3),
        version(23, "app", &digest(&amd64), 3),
        version(24, "app", &digest(&arm64), 3),
        version(25, "app", &digest(&att), 3),
        version(11, "app", "v1", 1),
        version(12, "app", &digest(&stale_image), 1),
        // Another package, not named by --package: never read (the registry does not hold it).
        version(31, "tools", "v9", 2),
    ]);
    let forgejo = forgejo_listing(versions.clone()).await;
    Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(204)).mount(&forgejo).await;
    let args = |extra: &[&str]| {
        let mut args = vec![
            "--forgejo-url".to_owned(),
            forgejo.uri(),
            "--owner".into(),
            "acme".into(),
            "--package".into(),
            "app".into(),
            "--registry".into(),
            reg.host(),
            // The local registry stands in for Forgejo's own.
            "--registry-is-forgejo".into(),
            "--keep".into(),
            "1".into(),
            "--grace".into(),
            "0s".into(),
            "--pause".into(),
            "0".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let env = [("FORGEJO_TOKEN", "forgejo-token")];
    let cleanup = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_example("forgejo-cleanup", None, &args, &env)
    };

    // A registry that is not Forgejo's host is refused unless the user says it serves Forgejo's packages.
    let elsewhere: Vec<String> = args(&[]).into_iter().filter(|a| a != "--registry-is-forgejo").collect();
    let refused = cleanup(elsewhere);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("--registry-is-forgejo"), "{}", text(&refused.stderr));
    assert!(forgejo.received_requests().await.unwrap().is_empty(), "refused before anything is sent");

    // The dry run: the plan, nothing deleted.
    let dry = cleanup(args(&["--format", "json"]));
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let planned: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(planned["dry_run"], true);
    let planned: Vec<String> = planned["plan"]["packages"][0]["deletions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("/api/v1/packages/acme/container/app/{}", d["version"].as_str().unwrap().replace(':', "%3A")))
        .collect();
    assert_eq!(
        planned,
        [
            "/api/v1/packages/acme/container/app/v1".to_owned(),
            format!("/api/v1/packages/acme/container/app/{}", digest(&stale_image).replace(':', "%3A")),
        ],
        "the older release and the stale manifest go; the kept index's children stay"
    );
    assert!(deletes(&forgejo.received_requests().await.unwrap()).is_empty(), "a dry run deletes nothing");
    let human = cleanup(args(&[]));
    assert!(human.status.success(), "{}", text(&human.stderr));
    let plan_text = text(&human.stdout);
    for child in [&amd64, &arm64, &att] {
        let line = plan_text.lines().find(|l| l.contains(&digest(child))).unwrap_or_else(|| panic!("{plan_text}"));
        assert!(line.contains("keep") && line.contains(&digest(&index)), "{line}");
    }
    assert!(plan_text.ends_with("2 version(s) to delete in 2 image(s), 4 image(s) kept\n"), "{plan_text}");
    assert!(text(&human.stderr).contains("dry run: nothing deleted"), "{}", text(&human.stderr));

    // --execute deletes exactly what the dry run printed, in its order.
    let run = cleanup(args(&["--execute"]));
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(deletes(&forgejo.received_requests().await.unwrap()), planned);
    assert!(text(&run.stderr).contains("deleted 2 version(s)"), "{}", text(&run.stderr));
    let auth = forgejo.received_requests().await.unwrap();
    assert!(auth.iter().all(|r| r.headers.get("authorization").is_some_and(|v| v == "token forgejo-token")));

    // A failure half-way: the first delete succeeds, the second is refused; both are named.
    let failing = forgejo_listing(versions).await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/packages/acme/container/app/v1"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&failing)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "token lacks write:package"})))
        .mount(&failing)
        .await;
    let mut half = args(&["--execute"]);
    half[1] = failing.uri();
    let out = cleanup(half);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("deleted 1 (app:v1)"), "{stderr}");
    assert!(stderr.contains(&format!("not deleted 1 (app:{})", digest(&stale_image))), "{stderr}");
    assert!(stderr.contains("403"), "the server's answer is kept: {stderr}");

    // A tag Forgejo lists but the registry lacks: no plan, nothing deleted.
    let ghost = forgejo_listing(json!([version(41, "app", "ghost", 1), version(21, "app", "v2", 3)])).await;
    let mut ghost_args = args(&["--execute"]);
    ghost_args[1] = ghost.uri();
    let out = cleanup(ghost_args);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("tag ghost of acme/app is listed by Forgejo but missing"),
        "{}",
        text(&out.stderr)
    );
    assert!(deletes(&ghost.received_requests().await.unwrap()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_an_orphaned_child_in_forgejo_packages() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let repository = format!("{}/acme/app", reg.host());
    let src = tempfile::tempdir().unwrap();
    let b = Builder::new(src.path());
    let amd64 = with(b.image("amd64", 1), "platform", platform("linux", "amd64"));
    let arm64 = with(b.image("arm64", 1), "platform", platform("linux", "arm64"));
    b.write_index(vec![b.index_blob(vec![amd64, arm64.clone()])]);
    push(src.path(), &repository, &["v1"], true);
    let forgejo = forgejo_listing(json!([version(1, "app", "v1", 1)])).await;
    let args = [
        "--forgejo-url",
        &forgejo.uri(),
        "--forgejo-packages",
        "acme",
        "--forgejo-registry",
        &reg.host(),
        "--format",
        "json",
    ];
    let env = [("FORGEJO_TOKEN", "forgejo-token")];
    let healthy = run_example("doctor", None, &args, &env);
    assert!(healthy.status.success(), "{}{}", text(&healthy.stdout), text(&healthy.stderr));

    let child = arm64["digest"].as_str().unwrap();
    let status = offinfra_test_support::oci::delete(&format!("{}/v2/acme/app/manifests/{child}", reg.url())).await;
    assert_eq!(status, 202);
    let broken = run_example("doctor", None, &args, &env);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken.stderr));
    let report: Value = serde_json::from_slice(&broken.stdout).unwrap();
    let finding = &report["findings"][0];
    assert_eq!(finding["status"], "fail");
    assert!(finding["evidence"].as_str().unwrap().contains(child), "{finding}");
    assert!(finding["check"].as_str().unwrap().contains("acme/app"), "{finding}");
}
