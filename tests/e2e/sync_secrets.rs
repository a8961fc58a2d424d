//! `sync-secrets` against a wiremock Vault (KV v2) and a wiremock Woodpecker: new, changed, unchanged,
//! pruned and hand-made secrets; a second run with nothing new writes nothing; values never printed.

use crate::fixtures;

use offinfra_test_support::contract::Spec;
use offinfra_test_support::examples::{run_example, text};
use serde_json::{json, Value};
use wiremock::{
    matchers::{body_partial_json, header, method, path, query_param},
    Mock, MockServer, ResponseTemplate,
};

const EVENTS: [&str; 6] = ["push", "tag", "release", "deployment", "cron", "manual"];
/// The note of a secret synced from `vault`'s `secret/ci/global` at `version`: the source is the address
/// and the path, so two syncs into one scope never take each other's secrets for their own.
fn note(vault: &MockServer, version: u64) -> String {
    format!("managed by offinfra sync-secrets: vault {} secret/ci/global v{version}", vault.uri())
}

/// A Woodpecker whose global secrets are all of `vault`'s at version 7: nothing to change.
async fn in_step(vault: &MockServer) -> MockServer {
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let note_v7 = note(vault, 7);
    let existing = json!(["registry_token", "slack_webhook", "new_one"]
        .iter()
        .enumerate()
        .map(|(i, n)| fixtures::woodpecker_secret(i as i64 + 1, n, &EVENTS, Some(note_v7.as_str())))
        .collect::<Vec<_>>());
    Mock::given(method("GET"))
        .and(path("/api/secrets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(existing))
        .mount(&woodpecker)
        .await;
    woodpecker
}

async fn vault(version: u64) -> MockServer {
    let server = MockServer::start().await;
    let data = json!({"registry_token": "reg-VALUE", "slack_webhook": "slack-VALUE", "new_one": "new-VALUE"});
    Mock::given(method("GET"))
        .and(path("/v1/secret/data/ci/global"))
        .and(header("x-vault-token", "vault-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::vault_read_secret(data, version)))
        .mount(&server)
        .await;
    server
}

fn run(vault: &MockServer, woodpecker: &MockServer, extra: &[&str]) -> std::process::Output {
    let mut args =
        vec!["--vault-url", &vault.uri(), "--path", "ci/global", "--global", "--woodpecker-url", &woodpecker.uri()]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_example("sync-secrets", None, &args, &[("VAULT_TOKEN", "vault-token"), ("WOODPECKER_TOKEN", "wp-token")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_updates_prunes_and_leaves_the_rest() {
    let vault = vault(7).await;
    let (note_v7, note_v6) = (note(&vault, 7), note(&vault, 6));
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let existing = json!([
        fixtures::woodpecker_secret(1, "registry_token", &EVENTS, Some(note_v7.as_str())),
        fixtures::woodpecker_secret(2, "slack_webhook", &EVENTS, Some(note_v6.as_str())),
        fixtures::woodpecker_secret(3, "retired", &["push"], Some(note_v6.as_str())),
        fixtures::woodpecker_secret(4, "by_hand", &["push"], None),
    ]);
    Mock::given(method("GET"))
        .and(path("/api/secrets"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(existing))
        .mount(&woodpecker)
        .await;
    // slack_webhook came from an older Vault version: replaced with v7's value, events and note.
    Mock::given(method("PATCH"))
        .and(path("/api/secrets/slack_webhook"))
        .and(header("authorization", "Bearer wp-token"))
        .and(body_partial_json(
            json!({"name": "slack_webhook", "value": "slack-VALUE", "events": EVENTS, "note": note_v7}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker_secret(
            2,
            "slack_webhook",
            &EVENTS,
            Some(note_v7.as_str()),
        )))
        .expect(1)
        .mount(&woodpecker)
        .await;
    // new_one is new: the PATCH finds nothing, a POST creates it.
    Mock::given(method("PATCH"))
        .and(path("/api/secrets/new_one"))
        .respond_with(ResponseTemplate::new(404).set_body_string("secret not found"))
        .expect(1)
        .mount(&woodpecker)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/secrets"))
        .and(body_partial_json(json!({"name": "new_one", "value": "new-VALUE", "note": note_v7})))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker_secret(
            5,
            "new_one",
            &EVENTS,
            Some(note_v7.as_str()),
        )))
        .expect(1)
        .mount(&woodpecker)
        .await;
    // retired was ours and left Vault: pruned. by_hand was never ours: untouched.
    Mock::given(method("DELETE"))
        .and(path("/api/secrets/retired"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&woodpecker)
        .await;

    // The dry run writes nothing (the strict server fails on any unplanned call).
    let out = run(&vault, &woodpecker, &["--prune", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "vault {} secret/ci/global v7 -> global secrets\n\
             create    new_one\n\
             update    slack_webhook\n\
             unchanged registry_token\n\
             delete    retired\n\
             unmanaged by_hand\n\
             dry run: nothing written\n",
            vault.uri()
        )
    );
    let writes = |requests: &[wiremock::Request]| requests.iter().filter(|r| r.method.as_str() != "GET").count();
    assert_eq!(writes(&woodpecker.received_requests().await.unwrap()), 0);

    let out = run(&vault, &woodpecker, &["--prune", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["report"], json!({"created": ["new_one"], "updated": ["slack_webhook"], "deleted": ["retired"]}));
    for output in [&out.stdout, &out.stderr] {
        assert!(!text(output).contains("-VALUE"), "a value was printed");
    }
    woodpecker.verify().await;
    for request in woodpecker.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "POST") {
        Spec::woodpecker().assert("Secret", &serde_json::from_slice(&request.body).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_source_writes_nothing() {
    let vault = vault(7).await;
    let woodpecker = in_step(&vault).await;
    let out = run(&vault, &woodpecker, &["--prune"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).ends_with("unchanged new_one, registry_token, slack_webhook\nnothing to change\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_errors_name_the_path() {
    let vault = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/secret/data/ci/global"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"errors": ["permission denied"]})))
        .mount(&vault)
        .await;
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let out = run(&vault, &woodpecker, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: reading vault secret/ci/global: "), "{stderr}");
    assert!(stderr.contains("403") || stderr.contains("permission denied"), "{stderr}");

    let args = [
        "--vault-url",
        "vault.example.com",
        "--path",
        "ci/global",
        "--global",
        "--woodpecker-url",
        "http://127.0.0.1:9",
    ];
    let out = run_example("sync-secrets", None, &args, &[("VAULT_TOKEN", "t"), ("WOODPECKER_TOKEN", "t")]);
    assert_eq!(
        text(&out.stderr),
        "error: reading vault secret/ci/global: vault address \"vault.example.com\": expected an http(s) URL\n"
    );

    let vault = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/secret/data/ci/global"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::vault_read_secret(json!({"port": 5432}), 3)))
        .mount(&vault)
        .await;
    let out = run(&vault, &woodpecker, &[]);
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: vault {} secret/ci/global: key \"port\" is not a string (Woodpecker secrets are strings)\n",
            vault.uri()
        )
    );

    let vault = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/secret/data/ci/global"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::vault_read_secret(json!(["a"]), 4)))
        .mount(&vault)
        .await;
    let out = run(&vault, &woodpecker, &["--prune"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("the secret's data is not an object (it is an array)"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_source_prunes_nothing_unless_forced() {
    let vault = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/secret/data/ci/global"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::vault_read_secret(json!({}), 8)))
        .mount(&vault)
        .await;
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let existing = json!([fixtures::woodpecker_secret(1, "registry_token", &EVENTS, Some(note(&vault, 7).as_str()))]);
    Mock::given(method("GET"))
        .and(path("/api/secrets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(existing))
        .mount(&woodpecker)
        .await;
    let out = run(&vault, &woodpecker, &["--prune"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is empty: refusing to delete [\"registry_token\"]"), "{}", text(&out.stderr));
    assert!(
        woodpecker.received_requests().await.unwrap().iter().all(|r| r.method.as_str() == "GET"),
        "nothing deleted"
    );
    let out = run(&vault, &woodpecker, &["--prune", "--prune-from-empty", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("delete    registry_token"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_cluster_vault_is_reached_with_kubernetes_auth() {
    let vault = vault(7).await;
    let sa = tempfile::tempdir().unwrap();
    let token_file = sa.path().join("token");
    std::fs::write(&token_file, "eyJ-service-account-jwt\n").unwrap();
    let auth = json!({"client_token": "vault-token", "accessor": "a", "policies": ["sync"], "token_policies": ["sync"],
                      "metadata": {"role": "offinfra-sync"}, "lease_duration": 600, "renewable": true,
                      "entity_id": "e", "token_type": "service", "orphan": true});
    Mock::given(method("POST"))
        .and(path("/v1/auth/kubernetes/login"))
        .and(wiremock::matchers::body_json(json!({"role": "offinfra-sync", "jwt": "eyJ-service-account-jwt"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"auth": auth, "data": null, "lease_duration": 0, "renewable": false, "lease_id": "", "request_id": "r", "warnings": null, "wrap_info": null})))
        .expect(1)
        .mount(&vault)
        .await;
    let woodpecker = in_step(&vault).await;
    let (vault_uri, woodpecker_uri) = (vault.uri(), woodpecker.uri());
    let args = ["--vault-url", &vault_uri, "--path", "ci/global", "--global", "--woodpecker-url", &woodpecker_uri];
    let env = [
        ("WOODPECKER_TOKEN", "wp-token"),
        ("VAULT_K8S_ROLE", "offinfra-sync"),
        ("VAULT_K8S_TOKEN_FILE", token_file.to_str().unwrap()),
    ];
    let out = run_example("sync-secrets", None, &args, &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).ends_with("nothing to change\n"), "{}", text(&out.stderr));
    vault.verify().await;

    // Neither a token nor a role: a clear error, nothing sent.
    let out = run_example("sync-secrets", None, &args, &[("WOODPECKER_TOKEN", "wp-token")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Vault needs VAULT_TOKEN, or --vault-k8s-role"), "{}", text(&out.stderr));
}
