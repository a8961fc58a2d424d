//! Secrets against wiremock: upsert without the duplicate-name 500, values never printed.

use crate::support::woodpecker;
use offinfra_test_support::contract::Spec;
use wiremock::{
    matchers::{body_partial_json, method, path},
    Mock, ResponseTemplate,
};
use woodpecker_client::{SecretScope, SecretSpec, Upserted};

fn spec(name: &str) -> SecretSpec {
    SecretSpec {
        name: name.into(),
        value: "s3cr3t-value".into(),
        events: vec!["push".into(), "manual".into()],
        images: vec![],
        note: Some("managed-by: offinfra".into()),
    }
}

fn secret_json(name: &str) -> serde_json::Value {
    serde_json::json!({"id": 3, "org_id": 0, "repo_id": 42, "name": name, "images": [], "events": ["manual", "push"], "note": "managed-by: offinfra"})
}

#[tokio::test]
async fn upsert_patches_or_creates_and_never_posts_a_duplicate() {
    let server = offinfra_test_support::contract::strict_server().await;
    Mock::given(method("PATCH"))
        .and(path("/api/repos/42/secrets/KUBECONFIG"))
        .and(body_partial_json(serde_json::json!({"value": "s3cr3t-value", "events": ["push", "manual"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(secret_json("KUBECONFIG")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/repos/42/secrets/NEW"))
        .respond_with(ResponseTemplate::new(404).set_body_string("secret not found"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/repos/42/secrets"))
        .and(body_partial_json(serde_json::json!({"name": "NEW"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(secret_json("NEW")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/secrets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([secret_json("GLOBAL")])))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/orgs/7/secrets/OLD"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let ci = woodpecker(&server);
    let repo = ci.secrets(SecretScope::Repo(42));
    assert_eq!(repo.upsert(&spec("KUBECONFIG")).await.unwrap(), Upserted::Updated);
    assert_eq!(repo.upsert(&spec("NEW")).await.unwrap(), Upserted::Created);
    assert_eq!(ci.secrets(SecretScope::Global).list().await.unwrap()[0].name, "GLOBAL");
    ci.secrets(SecretScope::Org(7)).delete("OLD").await.unwrap();
    assert!(!format!("{:?}", spec("X")).contains("s3cr3t-value"));

    let contract = Spec::woodpecker();
    contract.assert("Secret", &secret_json("KUBECONFIG"));
    for request in server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST" || r.method.as_str() == "PATCH")
    {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        contract.assert(if request.method.as_str() == "POST" { "Secret" } else { "SecretPatch" }, &body);
    }
}
