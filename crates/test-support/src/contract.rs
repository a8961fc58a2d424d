//! Contract checks for tests: every request body a client sends and every response fixture it decodes
//! is validated against the matching definition of the official OpenAPI (Swagger 2.0) document in
//! `specs/` at the workspace root, so that fixtures cannot drift from the real API.
//!
//! Corrections applied to the specs (see `specs/README.md`): Woodpecker's `LogEntry.data` is a
//! base64 string, not an array of integers. And, for both servers, a `null` member is treated as
//! absent: Go writes empty slices, maps and pointers as `null`, which Swagger 2.0 cannot declare.
//!
//! ```no_run
//! let spec = offinfra_test_support::contract::Spec::forgejo();
//! spec.check("CreateTagOption", &serde_json::json!({"tag_name": "v1.0.0"})).unwrap();
//! ```

use std::path::PathBuf;

use serde_json::Value;

/// One OpenAPI document.
pub struct Spec {
    name: &'static str,
    document: Value,
}

/// `specs/<file>`, parsed.
fn load(file: &str) -> Value {
    let path = crate::env::specs().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Removes `null` members, recursively (Go's encoding of empty slices, maps and pointers).
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

impl Spec {
    /// Forgejo v15.0.3's `v1_json.tmpl`.
    pub fn forgejo() -> Self {
        Self { name: "forgejo-swagger.json", document: load("forgejo-swagger.json") }
    }

    /// Woodpecker v3.17.0's spec, with the documented corrections.
    pub fn woodpecker() -> Self {
        let mut document = load("woodpecker-swagger.json");
        document["definitions"]["LogEntry"]["properties"]["data"] = serde_json::json!({"type": "string"});
        Self { name: "woodpecker-swagger.json", document }
    }

    /// Whether the spec defines `definition`.
    pub fn has(&self, definition: &str) -> bool {
        self.document["definitions"].get(definition).is_some()
    }

    /// Validates `value` against `definitions/<definition>`; the error lists every violation.
    pub fn check(&self, definition: &str, value: &Value) -> Result<(), String> {
        if !self.has(definition) {
            return Err(format!("{} has no definition {definition}", self.name));
        }
        let schema = serde_json::json!({
            "definitions": self.document["definitions"],
            "$ref": format!("#/definitions/{definition}"),
        });
        let validator = jsonschema::draft4::new(&schema).map_err(|e| format!("{}: {definition}: {e}", self.name))?;
        let errors: Vec<String> =
            validator.iter_errors(&without_nulls(value)).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{definition} ({}): {}", self.name, errors.join("; ")))
        }
    }

    /// [`Self::check`] that panics with the violations, for tests.
    #[track_caller]
    pub fn assert(&self, definition: &str, value: &Value) {
        if let Err(e) = self.check(definition, value) {
            panic!("{e}");
        }
    }
}

/// A JSON fixture: `<crate>/tests/fixtures/<name>` (pass `env!("CARGO_MANIFEST_DIR")`).
pub fn fixture(manifest_dir: &str, name: &str) -> Value {
    let path = PathBuf::from(manifest_dir).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A wiremock server with a catch-all mock that fails the test, naming the request, when any route
/// nobody mounted is called.
pub async fn strict_server() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    forbid_unmounted(&server).await;
    server
}

/// Mounts [`strict_server`]'s catch-all on `server` (again, after a `reset`).
pub async fn forbid_unmounted(server: &wiremock::MockServer) {
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .expect(0)
        .named("a route nobody expected")
        .mount(server)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_drift() {
        let forgejo = Spec::forgejo();
        forgejo.assert("CreateTagOption", &serde_json::json!({"tag_name": "v1", "target": "abc"}));
        assert!(forgejo.check("CreateTagOption", &serde_json::json!({"tag_name": 5})).is_err());
        assert!(forgejo.check("Tag", &serde_json::json!({"name": "v1", "commit": {"sha": 7}})).is_err());
        assert!(forgejo.check("NoSuchThing", &serde_json::json!({})).is_err());
        let woodpecker = Spec::woodpecker();
        woodpecker.assert("LogEntry", &serde_json::json!({"id": 1, "data": "aGk=", "type": 0}));
        woodpecker.assert("Pipeline", &serde_json::json!({"number": 1, "errors": null}));
    }
}
