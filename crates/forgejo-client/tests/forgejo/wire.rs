//! Exact wire form of the endpoints the other tests do not drive: method, path, query, auth header.

use crate::support::{fixture, forgejo};
use wiremock::{
    matchers::{header, method, path, query_param},
    Mock, ResponseTemplate,
};

#[tokio::test]
async fn each_endpoint_sends_what_the_api_documents() {
    let server = offinfra_test_support::contract::strict_server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/hooks"))
        .and(query_param("page", "1"))
        .and(query_param("limit", "50"))
        .and(header("authorization", "token tok"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([fixture("hook.json")]))
                .insert_header("x-total-count", "1"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/repos/owner/app/push_mirrors/remote_mirror_8pk2sJ"))
        .and(header("authorization", "token tok"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let f = forgejo(&server);
    let repo = f.repo("owner", "app");
    let hooks = repo.hooks().list().await.unwrap();
    assert_eq!(hooks[0].id, 12);
    repo.push_mirrors().delete("remote_mirror_8pk2sJ").await.unwrap();
}
