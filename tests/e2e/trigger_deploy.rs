//! `trigger-deploy` end to end against a wiremock Woodpecker, as flags and as a plugin.

use crate::fixtures;

use std::process::Output;

use offinfra_test_support::examples::{run_example, text};

use wiremock::{
    matchers::{body_json, method, path},
    Mock, MockServer, ResponseTemplate,
};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_example("trigger-deploy", None, args, env)
}

async fn woodpecker(final_state: &str) -> MockServer {
    let server = offinfra_test_support::contract::strict_server().await;
    Mock::given(method("GET"))
        .and(path("/api/repos/lookup/owner/app"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker("repo.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/repos/42/pipelines"))
        .and(body_json(serde_json::json!({"branch": "master", "variables": {"IMAGE_TAG": "0123abcd", "IMAGE_NAME": "ghcr.io/owner/app"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker("pipeline_running.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/42/pipelines/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker(final_state)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/42/logs/7/11"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([{"id": 2, "step_id": 11, "time": 1, "line": 1, "type": 1, "data": "ZXJyb3I6IGltYWdlIHB1bGwgYmFja29mZg=="}])))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_wait_for_success() {
    let server = woodpecker("pipeline_success.json").await;
    let out = run(
        &[
            "--woodpecker-url",
            &server.uri(),
            "--repo",
            "owner/app",
            "--var",
            "IMAGE_TAG=0123abcd",
            "--var",
            "IMAGE_NAME=ghcr.io/owner/app",
            "--wait",
            "--poll",
            "10ms",
        ],
        &[("WOODPECKER_TOKEN", "wp")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("7\n{}/repos/42/pipeline/7\n", server.uri()));

    // Waits as long as the clock can hold are waits, not overflows: the finished pipeline still reports.
    let huge = "18446744073709551615";
    let uri = server.uri();
    let args = ["--woodpecker-url", uri.as_str(), "--repo", "owner/app", "--wait"];
    let args = [&args[..], &["--var", "IMAGE_TAG=0123abcd", "--var", "IMAGE_NAME=ghcr.io/owner/app"]].concat();
    let out = run(&[&args[..], &["--poll", "0s", "--timeout", huge]].concat(), &[("WOODPECKER_TOKEN", "wp")]);
    assert!(out.status.success(), "--timeout {huge}: {}", text(&out.stderr));
    let out = run(&[&args[..], &["--poll", huge, "--timeout", "1s"]].concat(), &[("WOODPECKER_TOKEN", "wp")]);
    assert!(!text(&out.stderr).contains("panicked"), "--poll {huge}: {}", text(&out.stderr));

    // A Slack webhook that fails is a warning that does not show the webhook; the deploy still succeeded.
    let slack = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(404)).mount(&slack).await;
    let webhook = format!("{}/services/T000/B000/secretpart", slack.uri());
    let env = [("WOODPECKER_TOKEN", "wp"), ("SLACK_WEBHOOK", webhook.as_str())];
    let vars = ["--var", "IMAGE_TAG=0123abcd", "--var", "IMAGE_NAME=ghcr.io/owner/app"];
    let uri = server.uri();
    let mut args = vec!["--woodpecker-url", uri.as_str(), "--repo", "owner/app", "--wait", "--poll", "10ms"];
    args.extend(vars);
    let out = run(&args, &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).ends_with("warning: posting to Slack: HTTP 404\n"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("secretpart"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_settings_and_a_failed_pipeline() {
    let server = woodpecker("pipeline_failed.json").await;
    let env = [
        ("WOODPECKER_TOKEN", "wp"),
        ("PLUGIN_WOODPECKER_URL", server.uri().leak() as &str),
        ("PLUGIN_REPO", "owner/app"),
        ("PLUGIN_WAIT", "true"),
        ("IMAGE_TAG", "0123abcd"),
        ("IMAGE_NAME", "ghcr.io/owner/app"),
    ];
    // The result goes to Slack too.
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T000/B000/secretpart"))
        .and(body_json(serde_json::json!({"text": format!(
            ":x: deploy of owner/app ghcr.io/owner/app:0123abcd: pipeline #7 failure: {}/repos/42/pipeline/7", server.uri()
        )})))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&slack)
        .await;
    let webhook = format!("{}/services/T000/B000/secretpart", slack.uri());
    // Given any flag, this is not a plugin run: no PLUGIN_* setting is read (a manual pipeline's variables
    // reach a commands step too), so the address is missing.
    let out = run(&["--poll", "10ms"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--woodpecker-url"), "{}", text(&out.stderr));
    // As a plugin (no argument), the settings are the flags.
    let mut env = env.to_vec();
    env.push(("PLUGIN_SLACK_WEBHOOK", &webhook));
    let out = run(&[], &env);
    assert_eq!(out.status.code(), Some(1), "the exit code mirrors the pipeline");
    slack.verify().await;
    let stderr = text(&out.stderr);
    assert!(stderr.contains("pipeline #7 finished: failure"), "{stderr}");
    assert!(
        stderr.contains("--- step set-image (failure, exit code 1) ---")
            && stderr.contains("error: image pull backoff"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_pipeline_and_bad_input_are_clear_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/repos/5/pipelines"))
        .respond_with(ResponseTemplate::new(204).insert_header("pipeline-filtered", "true"))
        .mount(&server)
        .await;
    let out = run(&["--woodpecker-url", &server.uri(), "--repo-id", "5"], &[("WOODPECKER_TOKEN", "wp")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Pipeline-Filtered"), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let out =
        run(&["--woodpecker-url", &server.uri(), "--repo-id", "5", "--var", "NOEQUALS"], &[("WOODPECKER_TOKEN", "wp")]);
    assert!(text(&out.stderr).contains("--var \"NOEQUALS\": expected KEY=VALUE"));
    let out = run(&["--woodpecker-url", &server.uri()], &[("WOODPECKER_TOKEN", "wp")]);
    assert_eq!(out.status.code(), Some(2), "usage: a repository is required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_a_plugin_the_token_setting_is_used() {
    let server = woodpecker("pipeline_success.json").await;
    let uri = server.uri();
    let env = [
        ("PLUGIN_WOODPECKER_URL", uri.as_str()),
        ("PLUGIN_REPO", "owner/app"),
        ("PLUGIN_TOKEN", "plugin-secret"),
        ("IMAGE_TAG", "0123abcd"),
        ("IMAGE_NAME", "ghcr.io/owner/app"),
    ];
    let out = run(&[], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let requests = server.received_requests().await.unwrap();
    let post = requests.iter().find(|r| r.method.as_str() == "POST").expect("the pipeline was started");
    assert_eq!(post.headers.get("authorization").unwrap().to_str().unwrap(), "Bearer plugin-secret");
}
