//! Vault's answers, as its KV v2 API documents them.
#![allow(dead_code)]

use serde_json::{json, Value};

/// The answer to `GET /v1/<mount>/data/<path>` (read secret version): `data` at `version`.
pub fn read_secret(data: Value, version: u64) -> Value {
    json!({
        "request_id": "0b0a0c0d-1111-2222-3333-444455556666", "lease_id": "", "renewable": false, "lease_duration": 0,
        "data": {"data": data, "metadata": {"created_time": "2026-11-27T06:00:00.000000Z", "custom_metadata": null,
                                            "deletion_time": "", "destroyed": false, "version": version}},
        "wrap_info": null, "warnings": null, "auth": null, "mount_type": "kv"
    })
}
