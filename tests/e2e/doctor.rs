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

    // Several caches, each with its own scheme and upstream: the loopback one said plainly, the second
    // named by its scheme (plain HTTP for it alone) and what it caches.
    let explicit = format!("http://{host}=ghcr.io");
    let healthy = doctor(&["--registry", &host, "--cache", &host, "--cache", &explicit], &[]);
    assert_eq!(healthy.0, Some(0), "{}", healthy.1);
    assert!(healthy.1.contains(&format!("pass   cache {host} (ghcr.io)")), "{}", healthy.1);
    assert_eq!(healthy.1.matches(&format!("pass   cache {host}")).count(), 2, "{}", healthy.1);
    let bad = doctor(&["--cache", "ftp://cache.lan"], &[]);
    assert_eq!(bad.0, Some(2), "a bad --cache is a usage error: {}", bad.2);
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
    // Two CronJobs on :latest, as Kubernetes 1.20 serves them (batch/v1beta1): nodes keep their first pull
    // of a tag unless the policy is Always. (The API server defaults a :latest image to Always: the policy
    // the rule catches is one written as IfNotPresent.)
    let resource = offinfra::deployer::kube::api::ApiResource {
        group: "batch".into(),
        version: "v1beta1".into(),
        api_version: "batch/v1beta1".into(),
        kind: "CronJob".into(),
        plural: "cronjobs".into(),
    };
    let crons: Api<offinfra::deployer::kube::api::DynamicObject> = Api::namespaced_with(client.clone(), &a, &resource);
    for (name, policy) in [("nightly", Some("IfNotPresent")), ("nightly-always", Some("Always"))] {
        let mut container = json!({"name": "job", "image": format!("{repo}:latest")});
        if let Some(policy) = policy {
            container["imagePullPolicy"] = json!(policy);
        }
        let cron: offinfra::deployer::kube::api::DynamicObject = serde_json::from_value(json!({
            "apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "0 0 1 1 *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [container]}}}}}
        }))
        .unwrap();
        crons.create(&PostParams::default(), &cron).await.unwrap();
    }
    let kubeconfig = k8s.kubeconfig.to_str().unwrap().to_owned();
    let (code, stdout, stderr) =
        doctor(&["--images-in", &a, "--images-in", &b_ns, "--format", "json"], &[("KUBECONFIG", kubeconfig.as_str())]);
    let latest: Vec<&str> = stdout
        .split("\"evidence\"")
        .filter(|part| part.contains("tracks :latest without imagePullPolicy: Always"))
        .collect();
    assert_eq!(latest.len(), 1, "exactly the CronJob without Always is flagged: {stdout}");
    assert!(!stdout.contains("not served"), "CronJobs are read on 1.20 too: {stdout}");
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

/// Builds an image of one file at `dest` (with `entrypoint`, if any) on scratch and pushes it as `:1`.
fn one_file_image(reg: &LocalRegistry, repository: &str, dest: &str, entrypoint: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "#!/not/a/shell\n").unwrap();
    let repository = format!("{}/{repository}", reg.host());
    let add = format!("{}:{dest}:0755", file.display());
    let mut args = vec!["--from", "scratch", "--add", &add, "--repository", &repository, "--tag", "1"];
    if let Some(entrypoint) = entrypoint {
        args.extend(["--entrypoint", entrypoint]);
    }
    let out = run_example("build-image", None, &args, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    repository
}

/// `check` → (status, evidence) of a JSON report.
fn by_check(stdout: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let report: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let findings = report["findings"].as_array().unwrap().iter();
    findings
        .map(|f| {
            let field = |k: &str| f[k].as_str().unwrap().to_owned();
            (field("check"), (field("status"), field("evidence")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seams_between_the_step_woodpecker_and_the_cluster_are_checked_live() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let deploy_image = one_file_image(&reg, "acme/deploy", "/usr/local/bin/deploy", Some("/usr/local/bin/deploy"));
    let shell_image = one_file_image(&reg, "acme/shell", "/bin/sh", None);
    let k8s = cluster::Cluster::get();
    let client = k8s.client().await;
    let agent_ns = k8s.namespace(&client, "wp-agent").await;
    let pipelines = k8s.namespace(&client, "wp-pipelines").await;
    let app_ns = k8s.namespace(&client, "seams-app").await;
    let agents: Api<Deployment> = Api::namespaced(client.clone(), &agent_ns);
    let mut agent = cluster::deployment("woodpecker-agent", 0, 60);
    let set_env = |agent: &mut Deployment, allow: &str| {
        agent.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].env = Some(
            serde_json::from_value(json!([
                {"name": "WOODPECKER_BACKEND_K8S_NAMESPACE", "value": pipelines},
                {"name": "WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP", "value": allow},
            ]))
            .unwrap(),
        );
    };
    set_env(&mut agent, "false");
    agents.create(&PostParams::default(), &agent).await.unwrap();

    // The onboarded step asking for a service account; the old `commands:` step on the shell-less image; a
    // `commands:` step on an image that has a shell.
    let mut settings = offinfra::onboard::Settings::new(
        "viktor/app".parse().unwrap(),
        "https://forgejo.example",
        "https://ci.example",
    );
    settings.namespace = Some(app_ns.clone());
    settings.service_account = Some("deployer".into());
    settings.offinfra_git = Some("https://github.com/ViktorBarzin/offinfra".into());
    settings.deploy_image = Some(format!("{deploy_image}:1"));
    let mut config = settings.config().unwrap();
    offinfra::onboard::pin_deploy_image(&mut config, offinfra::onboard::registry_digest).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("deploy.yml", &offinfra::onboard::render(offinfra::onboard::DEPLOY_TEMPLATE, &config).unwrap());
    write("old.yml", &format!("when:\n  - event: manual\nsteps:\n  - name: deploy\n    image: {deploy_image}:1\n    commands:\n      - deploy --namespace {app_ns} --name app --container-name app\n"));
    write(
        "shell.yml",
        &format!("steps:\n  - name: build\n    image: {shell_image}:1\n    commands:\n      - echo hi\n"),
    );
    let kubeconfig = k8s.kubeconfig.to_str().unwrap().to_owned();
    let lint = dir.path().to_str().unwrap().to_owned();
    let agent_flag = format!("{agent_ns}/woodpecker-agent");
    let args = ["--lint", lint.as_str(), "--seams", "--agent", agent_flag.as_str(), "--format", "json"];
    let run = || doctor(&args, &[("KUBECONFIG", kubeconfig.as_str())]);
    let at = |file: &str, step: &str, what: &str| format!("seams {lint}/{file} {step} {what}");

    let (code, stdout, stderr) = run();
    assert_eq!(code, Some(1), "{stderr}");
    let found = by_check(&stdout);
    let (status, evidence) = &found[&at("deploy.yml", "deploy", "service account")];
    assert_eq!(status, "fail", "{evidence}");
    assert!(evidence.contains("WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP is not true"), "{evidence}");
    assert!(evidence.ends_with(&format!("the step runs as {pipelines}/default")), "{evidence}");
    let (status, evidence) = &found[&at("deploy.yml", "deploy", "rights")];
    assert_eq!(
        (status.as_str(), evidence.as_str()),
        ("fail", format!("{pipelines}/default may not patch deployment.apps app in {app_ns}: bind it a Role there (docs/deploy.md)").as_str())
    );
    assert_eq!(
        found[&at("deploy.yml", "deploy", "image")].0,
        "pass",
        "{:?}",
        found[&at("deploy.yml", "deploy", "image")]
    );
    let (status, evidence) = &found[&at("old.yml", "deploy", "shell")];
    assert_eq!(status, "fail");
    assert!(evidence.contains("has no /bin/sh, and Woodpecker runs commands: as /bin/sh -c"), "{evidence}");
    assert_eq!(found[&at("old.yml", "deploy", "image")].0, "warn", "not pinned");
    assert_eq!(found[&at("shell.yml", "build", "shell")].0, "pass");
    assert!(!found.contains_key(&at("deploy.yml", "deploy", "shell")), "an entrypoint step needs no shell");

    // The pipeline account gets rights in the app's namespace: the rights check passes.
    let binding = serde_json::from_value(json!({
        "metadata": {"name": "woodpecker-deploys"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": pipelines}],
    }))
    .unwrap();
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> = Api::namespaced(client.clone(), &app_ns);
    bindings.create(&PostParams::default(), &binding).await.unwrap();
    let found = by_check(&run().1);
    assert_eq!(
        found[&at("deploy.yml", "deploy", "rights")].0,
        "pass",
        "{:?}",
        found[&at("deploy.yml", "deploy", "rights")]
    );
    assert_eq!(found[&at("old.yml", "deploy", "rights")].0, "pass");

    // The agent allows a step's account: the step now runs as `deployer`, which has no rights there.
    let mut agent = agents.get("woodpecker-agent").await.unwrap();
    set_env(&mut agent, "true");
    agents.replace("woodpecker-agent", &PostParams::default(), &agent).await.unwrap();
    let found = by_check(&run().1);
    assert_eq!(found[&at("deploy.yml", "deploy", "service account")].0, "pass");
    let (status, evidence) = &found[&at("deploy.yml", "deploy", "rights")];
    assert_eq!(status, "fail");
    assert!(evidence.starts_with(&format!("{pipelines}/deployer may not patch")), "{evidence}");

    // The same pipelines read from an onboarded repository on Forgejo (`--seams-repo`).
    let forgejo = offinfra_test_support::contract::strict_server().await;
    let entry = |path: &str, content: Option<&str>| {
        let mut f =
            json!({"name": path.rsplit('/').next().unwrap(), "path": path, "sha": "5ha", "type": "file", "size": 10});
        if let Some(content) = content {
            f["encoding"] = "base64".into();
            f["content"] = offinfra::http::base64(content.as_bytes()).into();
        }
        Spec::forgejo().assert("ContentsResponse", &f);
        f
    };
    let route = "/api/v1/repos/viktor/app/contents";
    let listing = json!([entry(".woodpecker/old.yml", None), entry(".woodpecker/README.md", None)]);
    Mock::given(method("GET"))
        .and(path(format!("{route}/.woodpecker")))
        .respond_with(ResponseTemplate::new(200).set_body_json(listing))
        .mount(&forgejo)
        .await;
    let old = std::fs::read_to_string(dir.path().join("old.yml")).unwrap();
    let served = entry(".woodpecker/old.yml", Some(&old));
    Mock::given(method("GET"))
        .and(path(format!("{route}/.woodpecker/old.yml")))
        .respond_with(ResponseTemplate::new(200).set_body_json(served))
        .mount(&forgejo)
        .await;
    for missing in [".woodpecker.yml", ".woodpecker.yaml"] {
        let not_found = ResponseTemplate::new(404).set_body_json(json!({"message": "not found", "url": "u"}));
        Mock::given(method("GET"))
            .and(path(format!("{route}/{missing}")))
            .respond_with(not_found)
            .mount(&forgejo)
            .await;
    }
    let uri = forgejo.uri();
    let args = [
        "--seams",
        "--seams-repo",
        "viktor/app",
        "--forgejo-url",
        uri.as_str(),
        "--agent",
        agent_flag.as_str(),
        "--format",
        "json",
    ];
    let (code, stdout, stderr) = doctor(&args, &[("KUBECONFIG", kubeconfig.as_str()), ("FORGEJO_TOKEN", "fj")]);
    assert_eq!(code, Some(1), "{stderr}");
    let found = by_check(&stdout);
    assert_eq!(found["seams viktor/app:.woodpecker/old.yml deploy shell"].0, "fail", "{found:?}");
    assert_eq!(found.keys().filter(|k| k.contains("README")).count(), 0, "only pipeline files");

    for ns in [agent_ns, pipelines, app_ns] {
        cluster::delete_namespace(&client, &ns).await;
    }
}

/// The flags `viktor/<name>` was onboarded with (mirror `ViktorBarzin/<name>`).
fn fleet_flags(name: &str) -> offinfra::onboard::Settings {
    let mut flags = offinfra::onboard::Settings::new(
        format!("viktor/{name}").parse().unwrap(),
        "https://git.example.com",
        "https://ci.example.com",
    );
    flags.github_repo = Some(format!("ViktorBarzin/{name}").parse().unwrap());
    flags.offinfra_git = Some("https://github.com/ViktorBarzin/offinfra".into());
    flags.deploy_image = Some(format!("ghcr.io/viktorbarzin/offinfra-deploy:1.0.0@sha256:{}", "ab".repeat(32)));
    flags
}

/// What onboard writes with `flags` and `.offinfra.yml` text `settings`: the workflow and the deploy pipeline.
fn written(flags: &offinfra::onboard::Settings, settings: &str) -> [String; 2] {
    let config = flags.config_with(&offinfra::onboard::RepoSettings::parse(settings).unwrap()).unwrap();
    let render = |template| offinfra::onboard::stamped(&offinfra::onboard::render(template, &config).unwrap());
    [render(offinfra::onboard::BUILD_TEMPLATE), render(offinfra::onboard::DEPLOY_TEMPLATE)]
}

/// What onboard writes for `viktor/<name>` with `.offinfra.yml` text `settings`.
fn onboarded_files(name: &str, settings: &str) -> [String; 2] {
    written(&fleet_flags(name), settings)
}

/// One repository of the fleet as Forgejo and Woodpecker answer for it.
struct FleetRepo<'a> {
    name: &'a str,
    /// `.github/workflows/build.yml`; `None`: not onboarded.
    workflow: Option<String>,
    /// Other pipeline files besides the deploy one: path and text.
    pipelines: Vec<(&'a str, String)>,
    /// The push mirror's `last_error`; `None`: no mirror.
    mirror_error: Option<&'a str>,
    /// The Forgejo webhook's URL.
    hook: &'a str,
    /// The GitHub mirror's Woodpecker registration: id, and the names of its secrets.
    github_registration: Option<(i64, Vec<&'a str>)>,
    /// Forgejo's own registration: id, and the names of its secrets.
    forgejo_registration: Option<(i64, Vec<&'a str>)>,
}

async fn mount_fleet_repo(forgejo: &MockServer, woodpecker: &MockServer, repo: &FleetRepo<'_>) {
    let base = format!("/api/v1/repos/viktor/{}", repo.name);
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let missing = || ResponseTemplate::new(404).set_body_json(json!({"message": "not found", "url": "u"}));
    let get =
        |route: String, answer: ResponseTemplate| Mock::given(method("GET")).and(path(route)).respond_with(answer);
    let file = |path: &str, text: &str| {
        let f = json!({"name": path.rsplit('/').next().unwrap(), "path": path, "sha": "5", "type": "file", "size": text.len(),
                       "encoding": "base64", "content": offinfra::http::base64(text.as_bytes())});
        Spec::forgejo().assert("ContentsResponse", &f);
        f
    };
    let Some(workflow) = &repo.workflow else {
        get(format!("{base}/contents/.github/workflows/build.yml"), missing()).mount(forgejo).await;
        return;
    };
    get(format!("{base}/contents/.github/workflows/build.yml"), ok(file(".github/workflows/build.yml", workflow)))
        .mount(forgejo)
        .await;
    let mirrors = match repo.mirror_error {
        None => json!([]),
        Some(error) => {
            let m = json!({"repo_name": repo.name, "remote_name": "remote_mirror_1",
                           "remote_address": format!("https://github.com/ViktorBarzin/{}.git", repo.name),
                           "created": "2026-11-27T10:00:00Z", "last_update": "2026-12-03T04:00:00Z", "last_error": error,
                           "interval": "0s", "sync_on_commit": true});
            Spec::forgejo().assert("PushMirror", &m);
            json!([m])
        }
    };
    get(format!("{base}/push_mirrors"), ok(mirrors)).mount(forgejo).await;
    get(format!("{base}/hooks"), ok(json!([hook(1, repo.hook)]))).mount(forgejo).await;
    let [_, deploy] = onboarded_files(repo.name, "");
    let mut listing =
        vec![json!({"name": "deploy.yml", "path": ".woodpecker/deploy.yml", "sha": "5", "type": "file", "size": 1})];
    get(format!("{base}/contents/.woodpecker/deploy.yml"), ok(file(".woodpecker/deploy.yml", &deploy)))
        .mount(forgejo)
        .await;
    for (path_, text) in &repo.pipelines {
        listing.push(
            json!({"name": path_.rsplit('/').next().unwrap(), "path": path_, "sha": "6", "type": "file", "size": 1}),
        );
        get(format!("{base}/contents/{path_}"), ok(file(path_, text))).mount(forgejo).await;
    }
    get(format!("{base}/contents/.woodpecker"), ok(json!(listing))).mount(forgejo).await;
    for old in [".woodpecker.yml", ".woodpecker.yaml"] {
        get(format!("{base}/contents/{old}"), missing()).mount(forgejo).await;
    }
    for (owner, registration) in [("ViktorBarzin", &repo.github_registration), ("viktor", &repo.forgejo_registration)] {
        let lookup = format!("/api/repos/lookup/{owner}/{}", repo.name);
        let Some((id, secrets)) = registration else {
            get(lookup, ResponseTemplate::new(404).set_body_string("Not Found")).mount(woodpecker).await;
            continue;
        };
        let r = json!({"id": id, "forge_remote_id": "17", "owner": owner, "name": repo.name,
                       "full_name": format!("{owner}/{}", repo.name), "default_branch": "master", "active": true, "org_id": 7});
        Spec::woodpecker().assert("Repo", &r);
        get(lookup, ok(r)).mount(woodpecker).await;
        let secrets: Vec<Value> = secrets
            .iter()
            .enumerate()
            .map(|(i, n)| fixtures::woodpecker_secret(i as i64, n, &["manual"], None))
            .collect();
        get(format!("/api/repos/{id}/secrets"), ok(json!(secrets))).mount(woodpecker).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_in_one_table_with_one_failure_per_check() {
    let forgejo = offinfra_test_support::contract::strict_server().await;
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let internal_hook = format!("{INTERNAL}/api/hook?access_token=JWT");
    // Woodpecker's "repair" points a hook at the address Woodpecker is reached at (here, this server).
    let public_hook = format!("{}/api/hook?access_token=JWT", woodpecker.uri());
    let repository = |name: &str, id: i64| {
        let r = json!({"id": id, "name": name, "full_name": format!("viktor/{name}"), "default_branch": "master",
                       "empty": false, "archived": false, "private": true, "mirror": false});
        Spec::forgejo().assert("Repository", &r);
        r
    };
    // viktor is a user, not an organisation; four repositories, one of them not onboarded.
    Mock::given(method("GET"))
        .and(path("/api/v1/orgs/viktor/repos"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "not found", "url": "u"})))
        .mount(&forgejo)
        .await;
    let repos = json!([repository("app", 1), repository("blog", 2), repository("tools", 3), repository("notes", 4)]);
    Mock::given(method("GET"))
        .and(path("/api/v1/users/viktor/repos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(repos).insert_header("x-total-count", "4"))
        .mount(&forgejo)
        .await;
    // Global secrets: the deploy step's Slack webhook is one of them; the org (7) has none.
    let globals = json!([fixtures::woodpecker_secret(1, "slack_webhook", &["manual"], None)]);
    Mock::given(method("GET"))
        .and(path("/api/secrets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(globals))
        .mount(&woodpecker)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orgs/7/secrets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&woodpecker)
        .await;
    let [app_workflow, _] = onboarded_files("app", "");
    let [tools_workflow, _] = onboarded_files("tools", "");
    // blog's workflow was copied from app: it would tag viktor/app.
    let blog_workflow = app_workflow.clone();
    let build = "when: [{event: push}]\nsteps:\n  - name: build\n    image: alpine\n    environment:\n      TOKEN: {from_secret: registry_token}\n    commands: [make]\n";
    let fleet = [
        // app: the webhook points at Woodpecker's public address (repair rewrote it).
        FleetRepo {
            name: "app",
            workflow: Some(app_workflow),
            pipelines: vec![],
            mirror_error: Some(""),
            hook: &public_hook,
            github_registration: Some((42, vec![])),
            forgejo_registration: None,
        },
        // blog: the copied workflow, and a mirror whose last sync failed.
        FleetRepo {
            name: "blog",
            workflow: Some(blog_workflow),
            pipelines: vec![],
            mirror_error: Some("authentication failed"),
            hook: &internal_hook,
            github_registration: Some((43, vec![])),
            forgejo_registration: None,
        },
        // tools: the mirror's registration is missing, and Forgejo's lacks a secret a pipeline reads.
        FleetRepo {
            name: "tools",
            workflow: Some(tools_workflow),
            pipelines: vec![(".woodpecker/build.yml", build.to_owned())],
            mirror_error: Some(""),
            hook: &internal_hook,
            github_registration: None,
            forgejo_registration: Some((57, vec!["other"])),
        },
        FleetRepo {
            name: "notes",
            workflow: None,
            pipelines: vec![],
            mirror_error: None,
            hook: "",
            github_registration: None,
            forgejo_registration: None,
        },
    ];
    for repo in &fleet {
        mount_fleet_repo(&forgejo, &woodpecker, repo).await;
    }
    let (forgejo_url, woodpecker_url) = (forgejo.uri(), woodpecker.uri());
    let args = [
        "--owner",
        "viktor",
        "--forgejo-url",
        &forgejo_url,
        "--woodpecker-url",
        &woodpecker_url,
        "--woodpecker-internal-url",
        INTERNAL,
        "--concurrency",
        "3",
    ];
    let env = [("FORGEJO_TOKEN", "fj"), ("WOODPECKER_TOKEN", "wp")];
    let (code, stdout, stderr) = doctor(&args, &env);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let rows: Vec<Vec<&str>> = stdout.lines().take(4).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows,
        [
            vec!["REPOSITORY", "workflow", "mirror", "registration", "webhook", "secrets"],
            vec!["viktor/app", "pass", "pass", "pass", "FAIL", "pass"],
            vec!["viktor/blog", "FAIL", "FAIL", "pass", "pass", "pass"],
            vec!["viktor/tools", "pass", "pass", "FAIL", "pass", "FAIL"],
        ],
        "{stdout}"
    );
    for (problem, fix) in [
        (
            format!("FAIL viktor/app webhook: hook 1 -> {}/api/hook?access_token=…, expected", woodpecker.uri()),
            "doctor --repo viktor/app --woodpecker-internal-url",
        ),
        (
            "FAIL viktor/blog workflow: .github/workflows/build.yml tags viktor/app, not viktor/blog".to_owned(),
            "onboard --repo viktor/blog --force",
        ),
        (
            "FAIL viktor/blog mirror: the last sync to GitHub ViktorBarzin/blog failed: authentication failed"
                .to_owned(),
            "renew the mirror's GitHub token",
        ),
        (
            "FAIL viktor/tools registration: GitHub ViktorBarzin/tools is not registered in Woodpecker".to_owned(),
            "onboard --repo viktor/tools --github-repo ViktorBarzin/tools",
        ),
        (
            "FAIL viktor/tools secrets: registry_token missing on Forgejo viktor/tools (#57)".to_owned(),
            "add them to the registration",
        ),
    ] {
        let at = stdout.find(problem.as_str()).unwrap_or_else(|| panic!("{problem}\n{stdout}"));
        let next = &stdout[at..].lines().nth(1).unwrap_or_default();
        assert!(next.starts_with("     fix: ") && next.contains(fix), "{fix}: {next}\n{stdout}");
    }
    assert!(!stdout.contains("notes"), "not onboarded, not checked: {stdout}");
    crate::docs::shown_in("doctor.md", "fleet", &stdout.replace(&woodpecker.uri(), "https://ci.example.com"));
    assert!(!stdout.contains("JWT") && !stderr.contains("JWT"), "the hook's token never shows");

    // JSON: the same findings per repository, and counts.
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let (code, stdout, _) = doctor(&json_args, &env);
    assert_eq!(code, Some(1));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["counts"]["fail"], 5, "{report}");
    assert_eq!(report["repositories"].as_array().unwrap().len(), 3);
    assert_eq!(report["repositories"][2]["repo"], "viktor/tools");
    assert_eq!(report["repositories"][2]["findings"][4]["check"], "secrets");
    assert!(report["repositories"][2]["findings"][4]["remedy"].is_string());

    // A token that may not list the global secrets: what is not found elsewhere may be one, so a warning.
    Mock::given(method("GET"))
        .and(path("/api/secrets"))
        .respond_with(ResponseTemplate::new(403).set_body_string("access denied"))
        .with_priority(1)
        .mount(&woodpecker)
        .await;
    let (code, stdout, _) = doctor(&json_args, &env);
    assert_eq!(code, Some(1), "the other failures remain");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let secrets = &report["repositories"][2]["findings"][4];
    assert_eq!(secrets["status"], "warn", "{secrets}");
    assert!(
        secrets["evidence"]
            .as_str()
            .unwrap()
            .ends_with("(unless the global secrets, which this token cannot list, hold them)"),
        "{secrets}"
    );
    forgejo.verify().await;
    woodpecker.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_status_marks_a_cluster_that_runs_an_older_image() {
    // Two onboarded repositories, each with an older and a newer release, both newer images pushed to a
    // real registry. app's cluster runs its newest build; blog's deploy of v0.3.0 failed and its
    // Deployment still runs v0.2.0's image.
    let reg = LocalRegistry::start(Auth::Anonymous);
    let commit = |c: char| c.to_string().repeat(40);
    let releases = [
        ("app", [("v1.1.0", commit('1')), ("v1.2.0", commit('2'))]),
        ("blog", [("v0.2.0", commit('3')), ("v0.3.0", commit('4'))]),
    ];
    for (name, tags) in &releases {
        for (_, sha) in tags {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("f"), name).unwrap();
            let add = format!("{}:/f:0644", dir.path().join("f").display());
            let repository = format!("{}/viktor/{name}", reg.host());
            let args = ["--from", "scratch", "--add", &add, "--repository", &repository, "--tag", &sha[..8]];
            let out = run_example("build-image", None, &args, &[]);
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
    }
    let k8s = cluster::Cluster::get();
    let client = k8s.client().await;
    let namespace = k8s.namespace(&client, "fleet-status").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    for (name, runs) in [("app", commit('2')), ("blog", commit('3'))] {
        let image = format!("{}/viktor/{name}:{}", reg.host(), &runs[..8]);
        let d = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": image}]}}}
        }))
        .unwrap();
        deployments.create(&PostParams::default(), &d).await.unwrap();
    }

    let forgejo = offinfra_test_support::contract::strict_server().await;
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let get =
        |route: String, answer: ResponseTemplate| Mock::given(method("GET")).and(path(route)).respond_with(answer);
    get(
        "/api/v1/orgs/viktor/repos".into(),
        ResponseTemplate::new(404).set_body_json(json!({"message": "not found", "url": "u"})),
    )
    .mount(&forgejo)
    .await;
    let listed: Vec<Value> = releases
        .iter()
        .enumerate()
        .map(|(i, (name, _))| json!({"id": i + 1, "name": name, "full_name": format!("viktor/{name}"), "default_branch": "master", "empty": false}))
        .collect();
    get("/api/v1/users/viktor/repos".into(), ok(json!(listed))).mount(&forgejo).await;
    let file = |path: &str, text: &str| {
        json!({"name": path.rsplit('/').next().unwrap(), "path": path, "sha": "5", "type": "file", "size": text.len(),
               "encoding": "base64", "content": offinfra::http::base64(text.as_bytes())})
    };
    for (i, (name, tags)) in releases.iter().enumerate() {
        let base = format!("/api/v1/repos/viktor/{name}");
        let mut flags = fleet_flags(name);
        flags.image = Some(format!("{}/viktor/{name}", reg.host()));
        flags.namespace = Some(namespace.clone());
        let [build, deploy] = written(&flags, "");
        get(format!("{base}/contents/.github/workflows/build.yml"), ok(file(".github/workflows/build.yml", &build)))
            .mount(&forgejo)
            .await;
        get(format!("{base}/contents/.woodpecker/deploy.yml"), ok(file(".woodpecker/deploy.yml", &deploy)))
            .mount(&forgejo)
            .await;
        let mirror = json!({"repo_name": name, "remote_name": "m", "remote_address": format!("https://github.com/ViktorBarzin/{name}.git"),
                            "created": "2026-11-27T10:00:00Z", "last_update": "2026-12-03T04:00:00Z", "last_error": "", "interval": "0s", "sync_on_commit": true});
        get(format!("{base}/push_mirrors"), ok(json!([mirror]))).mount(&forgejo).await;
        let tag_list: Vec<Value> = tags
            .iter()
            .rev()
            .map(|(tag, sha)| {
                let t = json!({"name": tag, "message": "", "id": sha, "commit": {"sha": sha, "url": "u", "created": "2026-12-01T00:00:00Z"}, "zipball_url": "z", "tarball_url": "t"});
                Spec::forgejo().assert("Tag", &t);
                t
            })
            .collect();
        get(format!("{base}/tags"), ok(json!(tag_list))).mount(&forgejo).await;
        // The mirror's registration, and its newest manual pipeline: app's deploy of v1.2.0 succeeded,
        // blog's deploy of v0.3.0 failed.
        let id = 42 + i as i64;
        let registration = json!({"id": id, "owner": "ViktorBarzin", "name": name, "full_name": format!("ViktorBarzin/{name}"), "active": true});
        get(format!("/api/repos/lookup/ViktorBarzin/{name}"), ok(registration)).mount(&woodpecker).await;
        let mut pipeline = fixtures::woodpecker("pipeline_success.json");
        pipeline["number"] = json!(12 + i);
        pipeline["status"] = json!(if *name == "app" { "success" } else { "failure" });
        pipeline["variables"] =
            json!({"IMAGE_TAG": &tags[1].1[..8], "IMAGE_NAME": format!("{}/viktor/{name}", reg.host())});
        Spec::woodpecker().assert("Pipeline", &pipeline);
        let push =
            json!({"id": 1, "number": 11, "event": "push", "status": "success", "commit": "x", "branch": "master"});
        get(format!("/api/repos/{id}/pipelines"), ok(json!([push, pipeline]))).mount(&woodpecker).await;
    }
    let (forgejo_url, woodpecker_url) = (forgejo.uri(), woodpecker.uri());
    let kubeconfig = k8s.kubeconfig.to_str().unwrap().to_owned();
    let args = ["--owner", "viktor", "--status", "--forgejo-url", &forgejo_url, "--woodpecker-url", &woodpecker_url];
    let env = [("FORGEJO_TOKEN", "fj"), ("WOODPECKER_TOKEN", "wp"), ("KUBECONFIG", kubeconfig.as_str())];
    let (code, stdout, stderr) = doctor(&args, &env);
    assert_eq!(code, Some(1), "a cluster behind fails the run: {stdout}{stderr}");
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["REPOSITORY", "NEWEST", "PUSHED", "RUNNING", "LAST", "DEPLOY", "STATE"], "{stdout}");
    assert_eq!(
        rows[1],
        ["viktor/app", "v1.2.0", "22222222", "yes", "app:22222222", "#12", "success", "(22222222)", "current"],
        "{stdout}"
    );
    assert_eq!(
        rows[2],
        ["viktor/blog", "v0.3.0", "44444444", "yes", "blog:33333333", "#13", "failure", "(44444444)", "BEHIND"],
        "{stdout}"
    );
    assert_eq!(rows.len(), 3, "{stdout}");
    crate::docs::shown_in("doctor.md", "fleet-status", &stdout);

    // The same as JSON, with the digest pushed for the newest tag.
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let (code, stdout, _) = doctor(&json_args, &env);
    assert_eq!(code, Some(1));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let blog = &report["repositories"][1];
    assert_eq!(blog["behind"], true);
    let pushed = oci::skopeo_digest(&format!("{}/viktor/blog:44444444", reg.host()), None);
    assert_eq!(blog["pushed"], pushed.as_str(), "{blog}");
    assert_eq!(blog["running"][0], format!("blog={}/viktor/blog:33333333", reg.host()));

    // Once blog's cluster runs the newest build, nothing is behind.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "blog", "image": format!("{}/viktor/blog:44444444", reg.host())}]}}}});
    deployments
        .patch(
            "blog",
            &offinfra::deployer::kube::api::PatchParams::default(),
            &offinfra::deployer::kube::api::Patch::Strategic(patch),
        )
        .await
        .unwrap();
    let (code, stdout, _) = doctor(&args, &env);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(!stdout.contains("BEHIND"), "{stdout}");
    cluster::delete_namespace(&client, &namespace).await;
}
