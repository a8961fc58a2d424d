//! Set image on a batch/v1 CronJob, which the local 1.20 API server does not serve (it has batch/v1beta1
//! only): the GET and the strategic merge patch on the wire, against a mocked API server.

use deployer::{kube, set_image::parse_pairs, Deployer, Kind};
use serde_json::json;
use wiremock::{
    matchers::{body_json, header, method, path, query_param},
    Mock, MockServer, ResponseTemplate,
};

const ITEM: &str = "/apis/batch/v1/namespaces/ops/cronjobs/backup";

#[tokio::test]
async fn set_image_on_a_cronjob_patches_its_job_template() {
    let server = MockServer::start().await;
    let cron = json!({
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup", "namespace": "ops"},
        "spec": {"schedule": "0 */6 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure",
            "containers": [{"name": "sync", "image": "ghcr.io/o/sync:1"}, {"name": "log", "image": "busybox:1"}]
        }}}}}
    });
    Mock::given(method("GET"))
        .and(path(ITEM))
        .respond_with(ResponseTemplate::new(200).set_body_json(&cron))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(ITEM))
        .and(query_param("fieldManager", deployer::FIELD_MANAGER))
        .and(header("content-type", "application/strategic-merge-patch+json"))
        .and(body_json(json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "sync", "image": "ghcr.io/o/sync:2"}]
        }}}}}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(&cron))
        .expect(1)
        .mount(&server)
        .await;

    let client = kube::Client::try_from(kube::Config::new(server.uri().parse().unwrap())).unwrap();
    let deployer = Deployer::new(client, "ops");
    let pairs = parse_pairs(&["sync=ghcr.io/o/sync:2".to_string()]).unwrap();
    let report = deployer.set_image(Kind::CronJob, "backup", &pairs, false).await.unwrap();
    assert!(report.applied);
    assert_eq!(report.plan.changes, [("sync".into(), "ghcr.io/o/sync:1".into(), "ghcr.io/o/sync:2".into())]);

    // Already there: one GET, no PATCH (the mock above allows exactly one).
    let same = parse_pairs(&["log=busybox:1".to_string()]).unwrap();
    assert!(!deployer.set_image(Kind::CronJob, "backup", &same, false).await.unwrap().applied);
}
