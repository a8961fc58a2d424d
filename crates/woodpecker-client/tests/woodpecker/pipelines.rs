//! The Woodpecker client against wiremock, with fixtures shaped like the v3.17 definitions and a
//! catch-all mock that fails the test on any route nobody expected.

use std::{collections::BTreeMap, time::Duration};

use crate::support::{fixture, woodpecker};
use wiremock::{
    matchers::{body_json, header, method, path},
    Mock, MockServer, ResponseTemplate,
};
use woodpecker_client::{Error, Status};

async fn server() -> MockServer {
    offinfra_test_support::contract::strict_server().await
}

fn vars() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("IMAGE_TAG".to_string(), "0123abcd".to_string()),
        ("IMAGE_NAME".to_string(), "ghcr.io/owner/app".to_string()),
    ])
}

#[tokio::test]
async fn lookup_create_wait_and_logs() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/repos/lookup/owner/app"))
        .and(header("authorization", "Bearer wp"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("repo.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/repos/42/pipelines"))
        .and(body_json(serde_json::json!({"branch": "master", "variables": {"IMAGE_TAG": "0123abcd", "IMAGE_NAME": "ghcr.io/owner/app"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pipeline_running.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/42/pipelines/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pipeline_running.json")))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/42/pipelines/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pipeline_failed.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/42/logs/7/11"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
            {"id": 1, "step_id": 11, "time": 0, "line": 0, "type": 0, "data": "a3ViZWN0bCBzZXQgaW1hZ2U="},
            {"id": 2, "step_id": 11, "time": 1, "line": 1, "type": 1, "data": "ZXJyb3I6IGltYWdlIHB1bGwgYmFja29mZg=="}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"source": "https://github.com/woodpecker-ci/woodpecker", "version": "3.17.0"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path("/healthz")).respond_with(ResponseTemplate::new(204)).mount(&server).await;

    let ci = woodpecker(&server);
    assert_eq!(ci.version().await.unwrap().version, "3.17.0");
    ci.healthz().await.unwrap();
    let repo = ci.lookup("owner", "app").await.unwrap();
    assert_eq!((repo.id, repo.full_name.as_str()), (42, "owner/app"));
    let pipelines = ci.repo(repo.id).pipelines();
    let started = pipelines.create("master", &vars()).await.unwrap();
    assert_eq!((started.number, &started.status), (7, &Status::Running));
    let mut seen = Vec::new();
    let done = pipelines
        .wait_watching(7, Duration::from_secs(5), Duration::from_millis(10), &mut |p| seen.push(p.status.clone()))
        .await
        .unwrap();
    assert_eq!(done.status, Status::Failure);
    assert_eq!(seen, [Status::Running, Status::Running, Status::Failure], "each poll is told, the last included");
    let failed: Vec<i64> = done.failed_steps().map(|s| s.id).collect();
    assert_eq!(failed, [11]);
    let log = pipelines.logs(7, 11).await.unwrap();
    assert_eq!(
        log.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
        ["kubectl set image", "error: image pull backoff"]
    );
}

#[tokio::test]
async fn filtered_pipelines_html_answers_and_timeouts_are_errors() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/repos/42/pipelines"))
        .respond_with(ResponseTemplate::new(204).insert_header("pipeline-filtered", "true"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/lookup/owner/typo"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("<!DOCTYPE html><html></html>", "text/html; charset=utf-8"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/42/pipelines/8"))
        .respond_with(ResponseTemplate::new(200).set_body_json({
            let mut p = fixture("pipeline_running.json");
            p["number"] = 8.into();
            p["status"] = "blocked".into();
            p
        }))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/repos/43/pipelines"))
        .respond_with(ResponseTemplate::new(500).set_body_string("could not fetch branch head"))
        .expect(1)
        .mount(&server)
        .await;

    let ci = woodpecker(&server);
    let err = ci.repo(42).pipelines().create("master", &vars()).await.unwrap_err();
    assert!(matches!(err, Error::PipelineFiltered { .. }), "{err}");
    assert!(err.to_string().contains("event: manual"), "{err}");

    let err = ci.lookup("owner", "typo").await.unwrap_err();
    assert!(err.to_string().contains("expected JSON, got text/html"), "{err}");

    let err = ci
        .repo(42)
        .pipelines()
        .wait_polling(8, Duration::from_millis(50), Duration::from_millis(10))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("blocked: it waits for approval"), "{err}");

    // Woodpecker's errors are plain text; the POST is not repeated after a 500.
    let err = ci.repo(43).pipelines().create("nope", &vars()).await.unwrap_err();
    let Error::Http(http) = &err else { panic!("{err}") };
    assert_eq!((http.status(), http.api().unwrap().body.as_str()), (Some(500), "could not fetch branch head"));
}

#[tokio::test]
async fn failed_step_tails_keep_the_last_lines_and_an_unreadable_log_as_its_error() {
    let server = server().await;
    let mut failed = fixture("pipeline_failed.json");
    let mut second = failed["workflows"][0]["children"][0].clone();
    second["id"] = 12.into();
    second["name"] = "rollout".into();
    failed["workflows"][0]["children"].as_array_mut().unwrap().push(second);
    offinfra_test_support::contract::Spec::woodpecker().assert("Pipeline", &failed);
    let entries: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            let data = offinfra_http::base64(format!("line {i}\n").as_bytes());
            serde_json::json!({"id": i, "step_id": 11, "time": i, "line": i, "type": 0, "data": data})
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/api/repos/42/logs/7/11"))
        .respond_with(ResponseTemplate::new(200).set_body_json(entries))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/42/logs/7/12"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "log not found"})))
        .mount(&server)
        .await;

    let pipeline: woodpecker_client::Pipeline = serde_json::from_value(failed).unwrap();
    let tails = woodpecker(&server).repo(42).pipelines().failed_step_tails(&pipeline, 30).await;
    assert_eq!(tails.iter().map(|t| t.step.name.as_str()).collect::<Vec<_>>(), ["set-image", "rollout"]);
    let lines = tails[0].lines.as_ref().unwrap();
    assert_eq!(lines.len(), 30);
    assert_eq!((lines[0].as_str(), lines[29].as_str()), ("line 10", "line 39"), "the last 30, newline trimmed");
    let err = tails[1].lines.as_ref().unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}
