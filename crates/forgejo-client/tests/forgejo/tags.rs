//! Tags and version against wiremock, with fixtures shaped like the Forgejo v15 definitions. A
//! catch-all mock fails the test on any route nobody expected.

use crate::support::forgejo;
use forgejo_client::{CreateTag, Error, TagOutcome};
use wiremock::{
    matchers::{body_json, header, method, path},
    Mock, MockServer, ResponseTemplate,
};

const SHA: &str = "5f1c8c1b0d2ab3f8b06f1de4d2c1e0a9b8c7d6e5";

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("../fixtures/tag.json")).unwrap()
}

async fn server() -> MockServer {
    offinfra_test_support::contract::strict_server().await
}

fn wanted() -> CreateTag {
    CreateTag { tag_name: "v1.3.0".into(), target: Some(SHA.into()), message: None }
}

#[tokio::test]
async fn create_sends_the_documented_request() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/owner/app/tags"))
        .and(header("authorization", "token tok"))
        .and(body_json(serde_json::json!({"tag_name": "v1.3.0", "target": SHA})))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture()))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = forgejo(&server).repo("owner", "app").tags().create(&wanted()).await.unwrap();
    assert!(outcome.created());
    assert_eq!(outcome.tag().commit.as_ref().unwrap().sha, SHA);
}

#[tokio::test]
async fn an_existing_tag_on_the_same_commit_is_success_on_another_an_error() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/owner/app/tags"))
        .respond_with(ResponseTemplate::new(409).set_body_json(
            serde_json::json!({"message": "tag v1.3.0 already exists", "url": "https://git.example.com/api/swagger"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/tags/v1.3.0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture()))
        .mount(&server)
        .await;
    let tags_client = forgejo(&server);
    let tags = tags_client.repo("owner", "app");
    let outcome = tags.tags().create(&wanted()).await.unwrap();
    assert_eq!(outcome, TagOutcome::AlreadyThere(serde_json::from_value(fixture()).unwrap()));
    let short = CreateTag { target: Some(SHA[..8].into()), ..wanted() };
    assert!(!tags.tags().create(&short).await.unwrap().created());

    let other = CreateTag { target: Some("0000000000000000000000000000000000000000".into()), ..wanted() };
    let err = tags.tags().create(&other).await.unwrap_err();
    assert!(matches!(err, Error::TagOnOtherCommit { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "tag v1.3.0 already exists in owner/app on commit {SHA}, not on 0000000000000000000000000000000000000000"
        )
    );
}

#[tokio::test]
async fn a_post_is_not_repeated_after_a_proxy_error() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/owner/app/tags"))
        .respond_with(ResponseTemplate::new(502).set_body_raw("<html>502 Bad Gateway</html>", "text/html"))
        .expect(1)
        .mount(&server)
        .await;
    let err = forgejo(&server).repo("owner", "app").tags().create(&wanted()).await.unwrap_err();
    let Error::Http(http) = &err else { panic!("{err}") };
    let api = http.api().unwrap();
    assert_eq!((api.status, api.body.as_str()), (502, "<html>502 Bad Gateway</html>"));
}

#[tokio::test]
async fn get_list_delete_and_version() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/tags/nope"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                serde_json::json!({"message": "The target couldn't be found.", "url": "u", "errors": []}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/tags"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([fixture()]))
                .insert_header("x-total-count", "1"),
        )
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/repos/owner/app/tags/release/v1"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"version": "15.0.3+gitea-1.22.0"})))
        .mount(&server)
        .await;
    let f = forgejo(&server);
    let repo = f.repo("owner", "app");
    assert_eq!(repo.tags().get("nope").await.unwrap(), None);
    assert_eq!(repo.tags().list(None).await.unwrap().len(), 1);
    repo.tags().delete("release/v1").await.unwrap();
    let version = f.version().await.unwrap();
    assert!(version.at_least(7, 0, 0));
    assert_eq!(version.raw, "15.0.3+gitea-1.22.0");
}
