//! Contract: what we send and the fixtures we decode match the Woodpecker v3.17 spec (with its
//! documented corrections).

use crate::support::fixture;
use offinfra_test_support::contract::Spec;
use woodpecker_client::Pipeline;

#[test]
fn bodies_and_fixtures_follow_the_spec() {
    let spec = Spec::woodpecker();
    spec.assert("PipelineOptions", &serde_json::json!({"branch": "master", "variables": {"IMAGE_TAG": "0123abcd"}}));
    spec.assert("Repo", &fixture("repo.json"));
    for name in ["pipeline_running.json", "pipeline_failed.json", "pipeline_success.json"] {
        let value = fixture(name);
        spec.assert("Pipeline", &value);
        let decoded: Pipeline = serde_json::from_value(value).unwrap();
        spec.assert("Pipeline", &serde_json::to_value(decoded).unwrap());
    }
    spec.assert(
        "LogEntry",
        &serde_json::json!({"id": 2, "step_id": 11, "time": 1, "line": 1, "type": 1, "data": "ZXJyb3I="}),
    );
}
