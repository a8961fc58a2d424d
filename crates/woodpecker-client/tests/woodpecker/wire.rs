//! Exact wire form of the endpoints the other tests do not drive: method, path, query, auth header.

use crate::support::{fixture, woodpecker};
use wiremock::{
    matchers::{body_json, header, method, path, query_param},
    Mock, ResponseTemplate,
};
use woodpecker_client::{SecretScope, SecretSpec};

#[tokio::test]
async fn each_endpoint_sends_what_the_api_documents() {
    let server = offinfra_test_support::contract::strict_server().await;
    let ok = |body: serde_json::Value| ResponseTemplate::new(200).set_body_json(body);
    let secret = serde_json::json!({"id": 1, "name": "K", "events": ["push"], "images": []});
    for (verb, route, response) in [
        ("GET", "/api/repos/42", ok(fixture("repo.json"))),
        ("GET", "/api/repos/42/secrets/K", ok(secret.clone())),
        ("GET", "/api/repos/42/cron", ok(serde_json::json!([]))),
        ("POST", "/api/repos/42/cron/5", ok(fixture("pipeline_running.json"))),
        ("DELETE", "/api/repos/42/cron/5", ResponseTemplate::new(204)),
        ("DELETE", "/api/repos/42/secrets/K", ResponseTemplate::new(204)),
    ] {
        Mock::given(method(verb))
            .and(path(route))
            .and(header("authorization", "Bearer wp"))
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/repos/42/pipelines"))
        .and(query_param("page", "1"))
        .and(query_param("perPage", "50"))
        .respond_with(ok(serde_json::json!([fixture("pipeline_success.json")])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/secrets"))
        .and(body_json(serde_json::json!({"name": "G", "value": "v", "events": ["cron"], "images": ["alpine"]})))
        .respond_with(ok(secret.clone()))
        .expect(1)
        .mount(&server)
        .await;

    let ci = woodpecker(&server);
    let repo = ci.repo(42);
    assert_eq!(repo.get().await.unwrap().id, 42);
    assert_eq!(repo.pipelines().list(None).await.unwrap().len(), 1, "a short page ends the listing");
    assert_eq!(ci.secrets(SecretScope::Repo(42)).get("K").await.unwrap().unwrap().name, "K");
    assert!(repo.crons().await.unwrap().is_empty());
    assert_eq!(repo.run_cron(5).await.unwrap().number, 7);
    repo.delete_cron(5).await.unwrap();
    ci.secrets(SecretScope::Repo(42)).delete("K").await.unwrap();
    let global = SecretSpec {
        name: "G".into(),
        value: "v".into(),
        events: vec!["cron".into()],
        images: vec!["alpine".into()],
        note: None,
    };
    ci.secrets(SecretScope::Global).create(&global).await.unwrap();
}
