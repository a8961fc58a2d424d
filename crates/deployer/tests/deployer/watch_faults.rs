//! The wait's watch where a real server cannot be made to misbehave on demand, on a mocked API server:
//! a watch whose history expired (410 Gone), a watch the server closes early, the object deleted
//! mid-wait, and a wait that times out.

use std::time::Duration;

use deployer::{kube, Deployer, Error, Kind, WaitOutcome};
use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path, query_param, query_param_is_missing},
    Mock, MockServer, ResponseTemplate,
};

const ITEM: &str = "/apis/apps/v1/namespaces/prod/deployments/web";
const LIST: &str = "/apis/apps/v1/namespaces/prod/deployments";

/// The Deployment `web` at `resource_version`: 3 replicas wanted, `updated` of them updated and available.
fn web(resource_version: &str, updated: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod", "generation": 2, "resourceVersion": resource_version},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "app:2"}]}}},
        "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": updated, "availableReplicas": updated}
    })
}

fn list(resource_version: &str, items: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {"resourceVersion": resource_version}, "items": items
    }))
}

/// A watch response: the events as the server streams them, one JSON object per line; the body's end is
/// the server closing the watch.
fn watch(events: &[Value]) -> ResponseTemplate {
    let body: String = events.iter().map(|e| format!("{e}\n")).collect();
    ResponseTemplate::new(200).insert_header("content-type", "application/json").set_body_string(body)
}

async fn server(first: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ITEM))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .mount(&server)
        .await;
    server
}

/// The n-th (from 1) list or watch answer; earlier ones are used up first.
async fn nth(server: &MockServer, watching: bool, n: u8, response: ResponseTemplate) {
    let mock = Mock::given(method("GET")).and(path(LIST));
    let mock =
        if watching { mock.and(query_param("watch", "true")) } else { mock.and(query_param_is_missing("watch")) };
    mock.respond_with(response).up_to_n_times(1).with_priority(n).mount(server).await;
}

fn deployer(server: &MockServer) -> Deployer {
    let config = kube::Config::new(server.uri().parse().unwrap());
    Deployer::new(kube::Client::try_from(config).unwrap(), "prod")
}

async fn wait(server: &MockServer, timeout: u64) -> (Result<WaitOutcome, Error>, Vec<String>) {
    let mut lines = Vec::new();
    let outcome = deployer(server)
        .wait(Kind::Deployment, "web", Some(Duration::from_secs(timeout)), &mut |l| lines.push(l.to_owned()))
        .await;
    (outcome, lines)
}

async fn requests(server: &MockServer, watching: bool) -> Vec<String> {
    let all = server.received_requests().await.unwrap();
    all.iter()
        .filter(|r| r.url.path() == LIST && r.url.query().unwrap_or("").contains("watch=true") == watching)
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect()
}

fn waiting(updated: i32) -> String {
    format!("Waiting for deployment \"web\" rollout to finish: {updated} out of 3 new replicas have been updated...\n")
}

const DONE: &str = "deployment \"web\" successfully rolled out\n";

#[tokio::test]
async fn gone_watch_history_relists_and_goes_on() {
    let server = server(web("10", 1)).await;
    nth(&server, false, 1, list("10", vec![web("10", 1)])).await;
    let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                      "message": "too old resource version: 10 (25)", "reason": "Expired", "code": 410}});
    nth(&server, true, 1, watch(&[gone])).await;
    nth(&server, false, 2, list("30", vec![web("30", 2)])).await;
    nth(&server, true, 2, watch(&[json!({"type": "MODIFIED", "object": web("31", 3)})])).await;

    let (outcome, lines) = wait(&server, 20).await;
    assert_eq!(outcome.unwrap(), WaitOutcome::RolledOut(DONE.into()));
    assert_eq!(lines, [waiting(1), waiting(2), DONE.to_owned()]);
    let watches = requests(&server, true).await;
    assert!(watches[0].contains("resourceVersion=10"), "{watches:?}");
    assert!(watches[1].contains("resourceVersion=30"), "after a 410 the watch starts from the new list: {watches:?}");
    assert_eq!(requests(&server, false).await.len(), 2, "410 Gone means a new list");
}

#[tokio::test]
async fn a_watch_closed_early_is_resumed_from_the_last_version() {
    let server = server(web("10", 1)).await;
    nth(&server, false, 1, list("10", vec![web("10", 1)])).await;
    nth(&server, true, 1, watch(&[json!({"type": "MODIFIED", "object": web("11", 2)})])).await;
    nth(&server, true, 2, watch(&[json!({"type": "MODIFIED", "object": web("12", 3)})])).await;

    let (outcome, lines) = wait(&server, 20).await;
    assert_eq!(outcome.unwrap(), WaitOutcome::RolledOut(DONE.into()));
    assert_eq!(lines, [waiting(1), waiting(2), DONE.to_owned()]);
    let watches = requests(&server, true).await;
    assert!(watches[1].contains("resourceVersion=11"), "resumed where the closed watch ended: {watches:?}");
    assert_eq!(requests(&server, false).await.len(), 1, "no new list for a watch that merely ended");
}

#[tokio::test]
async fn the_object_deleted_mid_wait_is_an_error() {
    let server = server(web("10", 1)).await;
    nth(&server, false, 1, list("10", vec![web("10", 1)])).await;
    nth(&server, true, 1, watch(&[json!({"type": "DELETED", "object": web("11", 1)})])).await;

    let (outcome, _) = wait(&server, 20).await;
    let err = outcome.unwrap_err();
    assert!(matches!(err, Error::Deleted));
    assert_eq!(err.to_string(), "object has been deleted");
}

#[tokio::test]
async fn a_wait_that_sees_no_progress_times_out_with_the_last_line() {
    let server = server(web("10", 1)).await;
    nth(&server, false, 1, list("10", vec![web("10", 1)])).await;
    // The watch then hangs, as a quiet server's does, until the deadline.
    nth(&server, true, 1, watch(&[]).set_delay(Duration::from_secs(30))).await;

    let (outcome, lines) = wait(&server, 1).await;
    assert_eq!(outcome.unwrap(), WaitOutcome::TimedOut(waiting(1)));
    assert_eq!(lines, [waiting(1)]);
}

#[tokio::test]
async fn a_missing_object_is_kubectls_not_found() {
    let server = MockServer::start().await;
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "message": "deployments.apps \"web\" not found", "reason": "NotFound", "code": 404});
    Mock::given(method("GET"))
        .and(path(ITEM))
        .respond_with(ResponseTemplate::new(404).set_body_json(status))
        .mount(&server)
        .await;
    let (outcome, _) = wait(&server, 5).await;
    assert_eq!(outcome.unwrap_err().to_string(), "Error from server (NotFound): deployments.apps \"web\" not found");
}
