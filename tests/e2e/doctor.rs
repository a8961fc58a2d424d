//! `doctor` on purpose-built broken setups: each problem it claims to find is found, with evidence, and
//! `--fix` repairs what it can. Forgejo, Woodpecker and Vault are wiremock servers; the registry and the
//! Kubernetes API server are real.

use crate::fixtures;
use offinfra_test_support::cluster;
use offinfra_test_support::oci;

use k8s_openapi::api::apps::v1::Deployment;
use oci::{platform, with, Auth, Builder, LocalRegistry};
use offinfra::deployer::kube::api::{Api, PostParams};
use offinfra_test_support::contract::Spec;
use offinfra_test_support::examples::{run_example, text};
use serde_json::{json, Value};
use wiremock::{
    matchers::{body_json, body_partial_json, method, path},
    Mock, MockServer, ResponseTemplate,
};

fn doctor(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = run_example("doctor", None, args, env);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn hook(id: i64, url: &str) -> Value {
    let h = json!({"id": id, "type": "forgejo", "active": true, "url": url, "content_type": "json", "branch_filter": "*",
                   "events": ["push", "create", "pull_request"], "authorization_header": "",
                   "config": {"url": url, "content_type": "json"}, "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"});
    Spec::forgejo().assert("Hook", &h);
    h
}

const PUBLIC: &str = "https://ci.example.com/api/hook?access_token=SECRET-JWT";
const INTERNAL: &str = "http://woodpecker-server.woodpecker.svc:8000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_rewritten_by_repair_is_found_and_re_pointed() {
    let forgejo = offinfra_test_support::contract::strict_server().await;
    // Hook 5 is another service's `/api/hook`: not ours, never re-pointed, its token never copied.
    let hooks = json!([
        hook(3, PUBLIC),
        hook(4, "https://chat.example.com/hooks/xyz"),
        hook(5, "https://other.example.com/api/hook?access_token=OTHER-TOKEN")
    ]);
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/acme/app/hooks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(hooks))
        .mount(&forgejo)
        .await;
    let uri = forgejo.uri();
    let args = [
        "--repo",
        "acme/app",
        "--forgejo-url",
        &uri,
        "--woodpecker-internal-url",
        INTERNAL,
        "--woodpecker-url",
        "https://ci.example.com",
    ];
    let env = [("FORGEJO_TOKEN", "fj")];

    let (code, stdout, _) = doctor(&args, &env);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(
        stdout,
        "STATUS CHECK            EVIDENCE\n\
         fail   webhook acme/app hook 3 -> https://ci.example.com/api/hook?access_token=…, expected http://woodpecker-server.woodpecker.svc:8000/api/hook\n"
    );

    // --fix: every other field, and the access token, kept.
    let fixed = format!("{INTERNAL}/api/hook?access_token=SECRET-JWT");
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/acme/app/hooks/3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(hook(3, PUBLIC)))
        .mount(&forgejo)
        .await;
    let edit = json!({"active": true, "authorization_header": "", "branch_filter": "*",
                      "config": {"url": fixed, "content_type": "json"}, "events": ["push", "create", "pull_request"]});
    Spec::forgejo().assert("EditHookOption", &edit);
    Mock::given(method("PATCH"))
        .and(path("/api/v1/repos/acme/app/hooks/3"))
        .and(body_json(&edit))
        .respond_with(ResponseTemplate::new(200).set_body_json(hook(3, &fixed)))
        .expect(1)
        .mount(&forgejo)
        .await;
    let mut fix = args.to_vec();
    fix.extend(["--fix", "--format", "json"]);
    let (code, stdout, stderr) = doctor(&fix, &env);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let report: Value = serde_json::from_slice(stdout.as_bytes()).unwrap();
    assert_eq!(report["findings"][0]["status"], "pass");
    assert_eq!(report["findings"][0]["fixed"], format!("re-pointed to {INTERNAL}/api/hook?access_token=…"));
    assert!(!stdout.contains("SECRET-JWT") && !stderr.contains("SECRET-JWT"));
    assert_eq!(report["findings"].as_array().unwrap().len(), 1, "hook 5 is not Woodpecker's: {stdout}");
    let patched = forgejo.received_requests().await.unwrap();
    assert!(patched.iter().all(|r| !String::from_utf8_lossy(&r.body).contains("OTHER-TOKEN")), "another token copied");
    forgejo.verify().await;
}

fn secret(name: &str, events: &[&str]) -> Value {
    fixtures::woodpecker_secret(1, name, events, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_of_two_registrations_are_compared_and_filled_from_vault() {
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let list = |id: i64, secrets: Value| {
        Mock::given(method("GET"))
            .and(path(format!("/api/repos/{id}/secrets")))
            .respond_with(ResponseTemplate::new(200).set_body_json(secrets))
    };
    list(42, json!([secret("kubeconfig", &["push", "manual"]), secret("slack", &["push"]), secret("same", &["tag"])]))
        .mount(&woodpecker)
        .await;
    list(57, json!([secret("kubeconfig", &["push"]), secret("same", &["tag"])])).mount(&woodpecker).await;
    let uri = woodpecker.uri();
    let args = ["--woodpecker-url", &uri, "--repo-ids", "42,57"];
    let env = [("WOODPECKER_TOKEN", "wp"), ("VAULT_TOKEN", "vt")];
    let (code, stdout, _) = doctor(&args, &env);
    assert_eq!(code, Some(1));
    assert!(
        stdout
            .contains("fail   secret kubeconfig on repos 42 and 57 events differ: repo 42 manual,push, repo 57 push\n"),
        "{stdout}"
    );
    assert!(stdout.contains("fail   secret slack on repos 42 and 57      missing on repo 57\n"), "{stdout}");
    assert!(stdout.contains("pass   secret same on repos 42 and 57       events tag\n"), "{stdout}");

    // --fix writes from Vault: both sides get the union of events; the missing one is created.
    let vault = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/secret/data/ci/app"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixtures::vault_read_secret(
                json!({"kubeconfig": "KUBE-VALUE", "slack": "SLACK-VALUE"}),
                3,
            )),
        )
        .mount(&vault)
        .await;
    for id in [42, 57] {
        Mock::given(method("PATCH"))
            .and(path(format!("/api/repos/{id}/secrets/kubeconfig")))
            .and(body_partial_json(json!({"value": "KUBE-VALUE", "events": ["manual", "push"]})))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker_secret(
                1,
                "kubeconfig",
                &["manual", "push"],
                None,
            )))
            .expect(1)
            .mount(&woodpecker)
            .await;
    }
    Mock::given(method("PATCH"))
        .and(path("/api/repos/57/secrets/slack"))
        .respond_with(ResponseTemplate::new(404).set_body_string("not found"))
        .expect(1)
        .mount(&woodpecker)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/repos/57/secrets"))
        .and(body_partial_json(json!({"name": "slack", "value": "SLACK-VALUE", "events": ["push"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker_secret(
            1,
            "slack",
            &["push"],
            None,
        )))
        .expect(1)
        .mount(&woodpecker)
        .await;
    let vault_uri = vault.uri();
    let mut fix = args.to_vec();
    fix.extend(["--fix", "--vault-url", &vault_uri, "--vault-path", "ci/app"]);
    let (code, stdout, stderr) = doctor(&fix, &env);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "(fixed: written from vault {vault_uri} secret/ci/app to repo 42 and 57 with events manual,push)"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("-VALUE"));
    woodpecker.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_gotchas_are_linted() {
    let dir = tempfile::tempdir().unwrap();
    let pipelines = dir.path().join(".woodpecker");
    std::fs::create_dir(&pipelines).unwrap();
    std::fs::write(
        pipelines.join("deploy.yml"),
        "when:\n  - event: [push, manual]\nsteps:\n  - name: deploy\n    image: x\n    environment:\n      KUBECONFIG: {from_secret: kubeconfig}\n    commands:\n      - kubectl set image deployment/app app=${IMAGE_NAME}:${IMAGE_TAG}\n",
    )
    .unwrap();
    std::fs::write(
        pipelines.join("test.yml"),
        "when:\n  - event: push\nsteps:\n  - name: test\n    image: rust\n    commands:\n      - cargo test\n",
    )
    .unwrap();
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    Mock::given(method("GET"))
        .and(path("/api/secrets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([fixtures::woodpecker_secret(
            1,
            "kubeconfig",
            &["push", "tag"],
            None
        )])))
        .mount(&woodpecker)
        .await;
    let uri = woodpecker.uri();
    let lint = pipelines.to_str().unwrap();
    let (code, stdout, _) =
        doctor(&["--lint", lint, "--woodpecker-url", &uri, "--format", "json"], &[("WOODPECKER_TOKEN", "wp")]);
    assert_eq!(code, Some(1));
    let report: Value = serde_json::from_slice(stdout.as_bytes()).unwrap();
    let failed: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["evidence"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        failed,
        [
            "quote these commands whole: line 9: kubectl set image deployment/app app=${IMAGE_NAME}:${IMAGE_TAG}",
            "a deploy pipeline not limited to event: manual (events manual,push)",
            "global secrets used by a manual pipeline without the manual event: kubeconfig (events push,tag)",
        ]
    );
    assert_eq!(report["counts"]["fail"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_orphans_cache_and_deployment_images() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let host = reg.host();
    let src = tempfile::tempdir().unwrap();
    let b = Builder::new(src.path());
    let amd64 = with(b.image("amd64", 1), "platform", platform("linux", "amd64"));
    let arm64 = with(b.image("arm64", 1), "platform", platform("linux", "arm64"));
    b.write_index(vec![b.index_blob(vec![amd64, arm64.clone()])]);
    let repo = format!("{host}/acme/app");
    let out = run_example(
        "push-image",
        None,
        &["--layout", src.path().to_str().unwrap(), "--repository", &repo, "--tag", "v1", "--keep-index"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // A Deployment running the pushed image, and an init container whose image was never pushed.
    let k8s = cluster::Cluster::get();
    let client = k8s.client().await;
    let namespace = k8s.namespace(&client, "doctor").await;
    let app: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "app"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "app"}},
                 "template": {"metadata": {"labels": {"app": "app"}}, "spec": {
                     "initContainers": [{"name": "migrate", "image": format!("{repo}:missing")}],
                     "containers": [{"name": "app", "image": format!("{repo}:v1")}]}}}
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), &namespace).create(&PostParams::default(), &app).await.unwrap();
    let kubeconfig = k8s.kubeconfig.to_str().unwrap().to_owned();
    let env = [("KUBECONFIG", kubeconfig.as_str())];

    let healthy = doctor(&["--registry", &host, "--cache", &host], &[]);
    assert_eq!(healthy.0, Some(0), "{}", healthy.1);
    assert!(
        healthy.1.contains(&format!("pass   orphans {host}/acme/app every index's children are present\n")),
        "{}",
        healthy.1
    );

    let status =
        oci::delete(&format!("{}/v2/acme/app/manifests/{}", reg.url(), arm64["digest"].as_str().unwrap())).await;
    assert_eq!(status, 202);
    let args =
        ["--registry", &host, "--cache", "127.0.0.1:9", "-n", &namespace, "--deployment", "app", "--format", "json"];
    let (code, stdout, stderr) = doctor(&args, &env);
    assert_eq!(code, Some(1), "{stderr}");
    let report: Value = serde_json::from_slice(stdout.as_bytes()).unwrap();
    let by_check = |check: &str| -> Vec<(String, String)> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"].as_str().unwrap().starts_with(check))
            .map(|f| (f["status"].as_str().unwrap().to_owned(), f["evidence"].as_str().unwrap().to_owned()))
            .collect()
    };
    let orphans = by_check("orphans");
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0].0, "fail");
    assert!(orphans[0].1.ends_with(&format!("is missing {}", arm64["digest"].as_str().unwrap())), "{orphans:?}");
    assert_eq!(by_check("cache")[0].0, "fail");
    let images = by_check(&format!("image {namespace}/app/"));
    assert_eq!(images[0], ("fail".to_string(), format!("{repo}:missing is not in {host}")));
    assert_eq!(images[1].0, "pass");
    assert!(images[1].1.starts_with(&format!("{repo}:v1 is sha256:")), "{images:?}");
    cluster::delete_namespace(&client, &namespace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_images_are_read_with_the_pull_secrets_the_kubelet_would_use() {
    use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
    let reg = LocalRegistry::start(Auth::Basic);
    let host = reg.host();
    let src = tempfile::tempdir().unwrap();
    let b = Builder::new(src.path());
    b.write_index(vec![b.image("app", 1)]);
    let repo = format!("{host}/viktorbarzin/app");
    let login = [("REGISTRY_USERNAME", oci::USER), ("REGISTRY_PASSWORD", oci::PASSWORD)];
    let out = run_example(
        "push-image",
        None,
        &["--layout", src.path().to_str().unwrap(), "--repository", &repo, "--tag", "1"],
        &login,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let k8s = cluster::Cluster::get();
    let client = k8s.client().await;
    // Namespace a has the pull secret, through its default service account; b does not (not on the allowlist).
    let (a, b_ns) = (k8s.namespace(&client, "pull-a").await, k8s.namespace(&client, "pull-b").await);
    let auth = offinfra::http::base64(format!("{}:{}", oci::USER, oci::PASSWORD).as_bytes());
    let config = json!({"auths": {format!("http://{host}"): {"auth": auth}}}).to_string();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "ghcr-credentials"}, "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": offinfra::http::base64(config.as_bytes())}
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), &a).create(&PostParams::default(), &secret).await.unwrap();
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), &a);
    let patch = json!({"imagePullSecrets": [{"name": "ghcr-credentials"}]});
    accounts
        .patch(
            "default",
            &offinfra::deployer::kube::api::PatchParams::default(),
            &offinfra::deployer::kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    for ns in [&a, &b_ns] {
        let app: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "app"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "app"}},
                     "template": {"metadata": {"labels": {"app": "app"}}, "spec": {
                         "containers": [{"name": "app", "image": format!("{repo}:1")}]}}}
        }))
        .unwrap();
        Api::<Deployment>::namespaced(client.clone(), ns).create(&PostParams::default(), &app).await.unwrap();
    }
    let kubeconfig = k8s.kubeconfig.to_str().unwrap().to_owned();
    let (code, stdout, stderr) =
        doctor(&["--images-in", &a, "--images-in", &b_ns, "--format", "json"], &[("KUBECONFIG", kubeconfig.as_str())]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let report: Value = serde_json::from_slice(stdout.as_bytes()).unwrap();
    let finding = |ns: &str| {
        let found = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"].as_str().unwrap().starts_with(&format!("image {ns}/")));
        let found = found.unwrap_or_else(|| panic!("no finding for {ns}: {stdout}"));
        (found["status"].as_str().unwrap().to_owned(), found["evidence"].as_str().unwrap().to_owned())
    };
    let (status, evidence) = finding(&a);
    assert_eq!(status, "pass", "{evidence}");
    assert!(evidence.ends_with("(pulled with ghcr-credentials)"), "{evidence}");
    let (status, evidence) = finding(&b_ns);
    assert_eq!(status, "fail");
    assert_eq!(
        evidence,
        format!("{repo}:1 is private and namespace {b_ns} has no pull secret for {host} (imagePullSecrets: none)")
    );
    for ns in [&a, &b_ns] {
        cluster::delete_namespace(&client, ns).await;
    }
}
