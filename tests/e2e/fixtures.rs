//! Server answers the root tests share: Vault's (as its KV v2 API documents them) and Woodpecker's (the
//! woodpecker-client fixtures, and secrets checked against the official spec).

use serde_json::{json, Value};

/// The answer to `GET /v1/<mount>/data/<path>` (read secret version): `data` at `version`.
pub fn vault_read_secret(data: Value, version: u64) -> Value {
    json!({
        "request_id": "0b0a0c0d-1111-2222-3333-444455556666", "lease_id": "", "renewable": false, "lease_duration": 0,
        "data": {"data": data, "metadata": {"created_time": "2026-11-27T06:00:00.000000Z", "custom_metadata": null,
                                            "deletion_time": "", "destroyed": false, "version": version}},
        "wrap_info": null, "warnings": null, "auth": null, "mount_type": "kv"
    })
}

/// A Woodpecker fixture file of the woodpecker-client crate (`repo.json`, `pipeline_success.json`, …).
pub fn woodpecker(name: &str) -> Value {
    offinfra_test_support::contract::fixture(concat!(env!("CARGO_MANIFEST_DIR"), "/crates/woodpecker-client"), name)
}

/// A Woodpecker `Secret` (no value: the server never returns it), checked against the spec.
pub fn woodpecker_secret(id: i64, name: &str, events: &[&str], note: Option<&str>) -> Value {
    let mut s = json!({"id": id, "org_id": 0, "repo_id": 0, "name": name, "images": [], "events": events});
    if let Some(note) = note {
        s["note"] = note.into();
    }
    offinfra_test_support::contract::Spec::woodpecker().assert("Secret", &s);
    s
}
