//! Webhooks and repository edits against wiremock: the fields a hook PATCH would reset are sent back,
//! and a default-branch change that Forgejo silently skipped is an error.

use crate::support::{fixture, forgejo};
use forgejo_client::{Error, Hooks};
use offinfra_test_support::contract::Spec;
use wiremock::{
    matchers::{body_json, method, path},
    Mock, MockServer, ResponseTemplate,
};

async fn server() -> MockServer {
    offinfra_test_support::contract::strict_server().await
}

#[tokio::test]
async fn retargeting_a_hook_keeps_events_filter_and_auth_header() {
    let server = server().await;
    let new_url = "http://woodpecker.ci.svc:8000/api/hook?access_token=eyJhbGciOiJIUzI1NiJ9.e30.sig";
    let expected = serde_json::json!({
        "active": true,
        "authorization_header": "Bearer hook-auth",
        "branch_filter": "master",
        "config": {"content_type": "json", "url": new_url},
        "events": ["push", "create", "pull_request", "release"]
    });
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/hooks/12"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("hook.json")))
        .mount(&server)
        .await;
    let mut edited = fixture("hook.json");
    edited["url"] = new_url.into();
    Mock::given(method("PATCH"))
        .and(path("/api/v1/repos/owner/app/hooks/12"))
        .and(body_json(expected.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(edited))
        .expect(1)
        .mount(&server)
        .await;
    let hook = forgejo(&server).repo("owner", "app").hooks().retarget(12, new_url).await.unwrap();
    assert_eq!(hook.target(), Some(new_url));

    let spec = Spec::forgejo();
    spec.assert("Hook", &fixture("hook.json"));
    spec.assert("EditHookOption", &expected);
    let built = Hooks::retarget_edit(&serde_json::from_value(fixture("hook.json")).unwrap(), new_url);
    assert_eq!(serde_json::to_value(built).unwrap(), expected);
}

#[tokio::test]
async fn a_skipped_default_branch_change_is_an_error() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("repository.json")))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/repos/owner/app"))
        .and(body_json(serde_json::json!({"default_branch": "main"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("repository.json")))
        .mount(&server)
        .await;
    let f = forgejo(&server);
    let repo = f.repo("owner", "app");
    assert_eq!(repo.get().await.unwrap().id, 17);
    let err = repo.set_default_branch("main").await.unwrap_err();
    assert!(matches!(err, Error::DefaultBranchUnchanged { .. }), "{err}");
    assert_eq!(err.to_string(), "owner/app: the default branch is still master, not main (does branch main exist?)");
    Spec::forgejo().assert("Repository", &fixture("repository.json"));
    Spec::forgejo().assert("EditRepoOption", &serde_json::json!({"default_branch": "main"}));
}
