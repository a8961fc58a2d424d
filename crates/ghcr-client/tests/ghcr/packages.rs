//! The GitHub Packages API client and prune execution against wiremock, with fixtures shaped like
//! GitHub's documented responses.

use std::{collections::HashMap, time::Duration};

use ghcr_client::{
    packages::{Owner, Packages, VersionState},
    prune::{plan, roots_to_read, ManifestInfo, PruneOptions},
    Error,
};
use offinfra_http::{Auth, Client};
use serde_json::json;
use wiremock::{
    matchers::{header, method, path, query_param},
    Mock, MockServer, Request, ResponseTemplate,
};

fn version(id: u64, digest: &str, created: &str, tags: &[&str]) -> serde_json::Value {
    json!({
        "id": id,
        "name": digest,
        "url": format!("https://api.github.com/orgs/acme/packages/container/app/versions/{id}"),
        "package_html_url": "https://github.com/orgs/acme/packages/container/package/app",
        "created_at": created,
        "updated_at": created,
        "html_url": format!("https://github.com/orgs/acme/packages/container/app/{id}"),
        "metadata": {"package_type": "container", "container": {"tags": tags}}
    })
}

fn packages(server: &MockServer) -> Packages {
    let retry = offinfra_test_support::fast_retry();
    let http = Client::builder(server.uri()).auth(Auth::Bearer("ghp_secret".into())).retry(retry).build().unwrap();
    Packages::with_client(http).pause_between_deletes(Duration::from_millis(1))
}

/// Two multi-arch releases (index + amd64 + arm64 + attestation) and an old single-manifest one.
async fn mount_versions(server: &MockServer) {
    let page1 = json!([
        version(9, "sha256:index-new", "2026-02-02T00:00:00Z", &["latest", "v1.1.0"]),
        version(8, "sha256:amd64-new", "2026-02-02T00:00:00Z", &[]),
        version(7, "sha256:arm64-new", "2026-02-02T00:00:00Z", &[]),
    ]);
    let page2 = json!([
        version(6, "sha256:att-new", "2026-02-02T00:00:00Z", &[]),
        version(5, "sha256:index-old", "2026-02-01T00:00:00Z", &["v1.0.0"]),
        version(4, "sha256:amd64-old", "2026-02-01T00:00:00Z", &[]),
        version(3, "sha256:single-older", "2026-01-01T00:00:00Z", &["v0.9.0"]),
    ]);
    let next = format!(
        "<{}/orgs/acme/packages/container/app/versions?per_page=100&state=active&page=2>; rel=\"next\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/orgs/acme/packages/container/app/versions"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/packages/container/app/versions"))
        .and(query_param("per_page", "100"))
        .and(header("authorization", "Bearer ghp_secret"))
        .and(header("x-github-api-version", "2022-11-28"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1).insert_header("link", next.as_str()))
        .mount(server)
        .await;
}

fn deleted_ids(requests: &[Request]) -> Vec<u64> {
    requests
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().rsplit('/').next().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn prune_keeps_whole_images_and_deletes_exactly_the_plan() {
    let server = MockServer::start().await;
    mount_versions(&server).await;
    Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(204)).mount(&server).await;
    let client = packages(&server);
    let owner = Owner::Org("acme".into());
    let versions = client.list_versions(&owner, "app", VersionState::Active).await.unwrap();
    assert_eq!(versions.len(), 7, "both pages");

    let opts = PruneOptions { keep: 1, ..PruneOptions::default() };
    assert_eq!(roots_to_read(&versions, &opts), ["sha256:index-new"]);
    let manifests = HashMap::from([(
        "sha256:index-new".to_string(),
        ManifestInfo::Index {
            children: vec!["sha256:amd64-new".into(), "sha256:arm64-new".into(), "sha256:att-new".into()],
        },
    )]);
    let plan = plan(&versions, &manifests, &opts).unwrap();
    let report = client.execute(&owner, "app", &plan).await.unwrap();
    assert_eq!(report.deleted, [3, 4, 5], "oldest first; the kept index's untagged children survive");
    assert!(report.not_found.is_empty());
    assert_eq!(deleted_ids(&server.received_requests().await.unwrap()), [3, 4, 5]);
}

/// Plans keeping the newest image of the mounted versions and runs the plan, which must fail.
async fn keep_one_and_fail(server: &MockServer) -> (ghcr_client::prune::Plan, Error) {
    let client = packages(server);
    let owner = Owner::Org("acme".into());
    let versions = client.list_versions(&owner, "app", VersionState::Active).await.unwrap();
    let manifests = HashMap::from([(
        "sha256:index-new".to_string(),
        ManifestInfo::Index { children: vec!["sha256:amd64-new".into()] },
    )]);
    let plan = plan(&versions, &manifests, &PruneOptions { keep: 1, ..PruneOptions::default() }).unwrap();
    let err = client.execute(&owner, "app", &plan).await.unwrap_err();
    (plan, err)
}

#[tokio::test]
async fn deletions_stop_at_a_failure_and_a_rerun_finishes() {
    let server = MockServer::start().await;
    mount_versions(&server).await;
    Mock::given(method("DELETE"))
        .and(path("/orgs/acme/packages/container/app/versions/3"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/orgs/acme/packages/container/app/versions/4"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    let (_, err) = keep_one_and_fail(&server).await;
    let Error::PruneStopped { deleted, version_id, source, .. } = &err else { panic!("{err}") };
    assert_eq!((deleted.as_slice(), *version_id, source.status()), (&[][..], 4, Some(500)), "a 404 is not a deletion");
    let attempts =
        server.received_requests().await.unwrap().iter().filter(|r| r.url.path().ends_with("/versions/4")).count();
    assert_eq!(attempts, 3, "DELETE is idempotent: retried up to the policy");
    assert!(!deleted_ids(&server.received_requests().await.unwrap()).contains(&5), "nothing after the failure");
}

#[tokio::test]
async fn a_prune_where_every_delete_is_a_404_fails() {
    let server = MockServer::start().await;
    mount_versions(&server).await;
    Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    let (plan, err) = keep_one_and_fail(&server).await;
    let Error::NothingDeleted { not_found } = &err else { panic!("{err}") };
    assert_eq!(not_found.len(), plan.deletion_count());
    assert!(err.to_string().contains("delete:packages"), "{err}");
}

#[tokio::test]
async fn restore_and_owner_variants() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/user/packages/container/my%2Fapp/versions/42/restore"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/users/octocat/packages/container/app/versions"))
        .and(query_param("state", "deleted"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([version(
            42,
            "sha256:x",
            "2026-01-01T00:00:00Z",
            &[]
        )])))
        .mount(&server)
        .await;
    let client = packages(&server);
    client.restore_version(&Owner::AuthenticatedUser, "my/app", 42).await.unwrap();
    let deleted = client.list_versions(&Owner::User("octocat".into()), "app", VersionState::Deleted).await.unwrap();
    assert_eq!(deleted[0].id, 42);
    let err = client.delete_version(&Owner::Org("nope".into()), "app", 1).await.unwrap_err();
    assert!(err.to_string().contains("/orgs/nope/packages/container/app/versions/1"), "{err}");
    assert!(!format!("{client:?}").contains("ghp_secret"));
}
