//! Activation, repair, crons and org lookup against wiremock.

use crate::support::{fixture, woodpecker};
use offinfra_test_support::contract::Spec;
use wiremock::{
    matchers::{body_json, method, path, query_param},
    Mock, ResponseTemplate,
};
use woodpecker_client::Cron;

#[tokio::test]
async fn activation_is_idempotent_and_crons_are_enabled_explicitly() {
    let server = offinfra_test_support::contract::strict_server().await;
    Mock::given(method("POST"))
        .and(path("/api/repos"))
        .and(query_param("forge_remote_id", "17"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("repo.json")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/repos"))
        .respond_with(ResponseTemplate::new(409).set_body_string("Repository is already active."))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/lookup/owner/app"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("repo.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/repos/42/repair"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let cron_body = serde_json::json!({"name": "sync", "schedule": "@every 6h", "enabled": true});
    Mock::given(method("POST"))
        .and(path("/api/repos/42/cron"))
        .and(body_json(cron_body.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 5, "repo_id": 42, "creator_id": 1, "name": "sync", "schedule": "@every 6h", "timezone": "UTC", "branch": "", "enabled": true, "variables": {}, "next_exec": 0, "created": 0})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orgs/lookup/acme"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": 7, "forge_id": 1, "name": "acme", "is_user": false})),
        )
        .mount(&server)
        .await;

    Mock::given(method("GET"))
        .and(path("/api/user/repos"))
        .and(query_param("all", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([fixture("repo.json")])))
        .mount(&server)
        .await;
    let ci = woodpecker(&server);
    assert_eq!(ci.user_repos().await.unwrap()[0].forge_remote_id, "17");
    let (repo, activated) = ci.activate("17", "owner", "app").await.unwrap();
    assert!(activated);
    let (again, activated) = ci.activate("17", "owner", "app").await.unwrap();
    assert!(!activated, "already active is success");
    assert_eq!(again.id, repo.id);
    ci.repo(42).repair().await.unwrap();
    let cron = Cron {
        id: 0,
        name: "sync".into(),
        schedule: "@every 6h".into(),
        branch: String::new(),
        enabled: true,
        variables: Default::default(),
    };
    assert_eq!(ci.repo(42).create_cron(&cron).await.unwrap().id, 5);
    assert_eq!(ci.lookup_org("acme").await.unwrap().id, 7);
    Spec::woodpecker().assert("Cron", &cron_body);
}
