//! Contract: what we send and the fixtures we decode match the Forgejo v15 spec.

use forgejo_client::{CreateTag, Tag};
use offinfra_test_support::contract::Spec;

#[test]
fn bodies_and_fixtures_follow_the_spec() {
    let spec = Spec::forgejo();
    let body = serde_json::to_value(CreateTag {
        tag_name: "v1.3.0".into(),
        target: Some("5f1c8c1b".into()),
        message: Some("release".into()),
    })
    .unwrap();
    spec.assert("CreateTagOption", &body);
    let fixture: serde_json::Value = serde_json::from_str(include_str!("../fixtures/tag.json")).unwrap();
    spec.assert("Tag", &fixture);
    // What we decode re-encodes to something the spec accepts too.
    let tag: Tag = serde_json::from_value(fixture).unwrap();
    spec.assert("Tag", &serde_json::to_value(tag).unwrap());
    spec.assert("ServerVersion", &serde_json::json!({"version": "15.0.3+gitea-1.22.0"}));
}
