//! Branches, statuses and packages against wiremock.

use crate::support::forgejo;
use forgejo_client::{CreateStatus, StatusState};
use offinfra_test_support::contract::Spec;
use wiremock::{
    matchers::{body_json, method, path, query_param},
    Mock, ResponseTemplate,
};

#[tokio::test]
async fn branches_statuses_and_packages() {
    let server = offinfra_test_support::contract::strict_server().await;
    let branch = serde_json::json!({"name": "release/v1", "commit": {"id": "5f1c8c1b0d2ab3f8b06f1de4d2c1e0a9b8c7d6e5", "message": "m", "url": "u"}, "protected": false, "user_can_push": true, "user_can_merge": true});
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/branches/release/v1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(branch.clone()))
        .mount(&server)
        .await;
    let status = serde_json::json!({"state": "success", "target_url": "https://ci.example.com/repos/42/pipeline/7", "context": "offinfra/deploy"});
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/owner/app/statuses/5f1c8c1b"))
        .and(body_json(status.clone()))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"id": 1, "status": "success", "context": "offinfra/deploy"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let package = serde_json::json!({"id": 9, "owner": {"id": 3, "login": "owner"}, "creator": {"id": 3, "login": "owner"}, "type": "container", "name": "app", "version": "sha256:aa", "created_at": "2026-11-01T00:00:00Z", "html_url": "h"});
    // `q` matches substrings: `app-cache` comes back too.
    let mut similar = package.clone();
    similar["id"] = 10.into();
    similar["name"] = "app-cache".into();
    Mock::given(method("GET"))
        .and(path("/api/v1/packages/owner"))
        .and(query_param("type", "container"))
        .and(query_param("q", "app"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([package.clone(), similar.clone()]))
                .insert_header("x-total-count", "2"),
        )
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/packages/owner/container/app/sha256%3Aaa"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/branches"))
        .and(query_param("page", "1"))
        .and(query_param("limit", "50"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([branch.clone()]))
                .insert_header("x-total-count", "1"),
        )
        .mount(&server)
        .await;
    let f = forgejo(&server);
    let repo = f.repo("owner", "app");
    assert_eq!(
        repo.branch("release/v1").await.unwrap().unwrap().sha(),
        Some("5f1c8c1b0d2ab3f8b06f1de4d2c1e0a9b8c7d6e5")
    );
    assert_eq!(repo.branches().await.unwrap().len(), 1);
    let create = CreateStatus {
        state: StatusState::Success,
        target_url: Some("https://ci.example.com/repos/42/pipeline/7".into()),
        description: None,
        context: Some("offinfra/deploy".into()),
    };
    repo.create_status("5f1c8c1b", &create).await.unwrap();
    let packages = f.container_packages("owner", "app").await.unwrap();
    assert_eq!(packages.len(), 2);
    let versions = f.container_versions("owner", "app").await.unwrap();
    assert_eq!(versions.iter().map(|p| (p.id, p.version.as_str())).collect::<Vec<_>>(), [(9, "sha256:aa")]);
    f.delete_container_version("owner", "app", "sha256:aa").await.unwrap();
    let state: StatusState = serde_json::from_value(serde_json::json!("skipped")).unwrap();
    assert_eq!(state, StatusState::Unknown("skipped".into()));

    let spec = Spec::forgejo();
    spec.assert("Branch", &branch);
    spec.assert("CreateStatusOption", &status);
    spec.assert("Package", &package);
    spec.assert("Package", &similar);
}
