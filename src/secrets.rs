//! Woodpecker secrets kept in step with a Vault KV v2 secret: each key of the Vault secret becomes a
//! Woodpecker secret (global or of one organisation) of that name.
//!
//! Woodpecker never returns secret values, so "unchanged" cannot be decided by comparing them. Instead
//! every secret this sync writes carries a note naming its source and the KV version it came from
//! (`managed by offinfra sync-secrets: vault https://vault.lan secret/ci/global v7`): when Vault's version
//! and the events are what the note and the secret say, nothing is sent. Only secrets whose note names
//! *this* source are ever pruned: secrets made by hand, or synced from another Vault or path into the same
//! scope, are left alone and reported. A prune from an empty source is refused unless forced.
//!
//! ```
//! use offinfra::secrets::{plan_sync, Prune, SourceSecrets};
//! use offinfra::woodpecker_client::Secret;
//!
//! let source = SourceSecrets::new("vault secret/ci/global", 7, [("registry_token".to_string(), "s3cret".into())]);
//! let existing: Vec<Secret> = vec![];
//! let plan = plan_sync(&source, &existing, &["push".to_string(), "manual".to_string()], Prune::Off, false)?;
//! assert_eq!(plan.create, ["registry_token"]);
//! # Ok::<(), offinfra::secrets::SyncError>(())
//! ```

pub use crate::error::SyncError;
use std::collections::BTreeMap;

use offinfra_http::SecretString;
use serde::Serialize;
use woodpecker_client::{Secret, SecretSpec, Secrets, Upserted};

/// The note prefix that marks a secret as written by this sync.
pub const MANAGED_NOTE: &str = "managed by offinfra sync-secrets: ";

/// The events a synced secret is available to unless told otherwise (manual included: deploy pipelines
/// are manual).
pub const DEFAULT_EVENTS: &[&str] = &["push", "tag", "release", "deployment", "cron", "manual"];

/// The source's secrets. `Debug` shows names only.
#[derive(Clone)]
pub struct SourceSecrets {
    /// Where they come from, e.g. `vault secret/ci/global`.
    pub origin: String,
    /// The source's version (Vault KV v2's secret version).
    pub version: u64,
    /// Name → value.
    pub values: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for SourceSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSecrets")
            .field("origin", &self.origin)
            .field("version", &self.version)
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SourceSecrets {
    /// From names and values.
    pub fn new(origin: &str, version: u64, values: impl IntoIterator<Item = (String, SecretString)>) -> Self {
        Self { origin: origin.to_owned(), version, values: values.into_iter().collect() }
    }

    /// The note a secret synced from this source carries.
    pub fn note(&self) -> String {
        format!("{} v{}", self.note_prefix(), self.version)
    }

    /// What every note of this source starts with, whatever the version.
    fn note_prefix(&self) -> String {
        format!("{MANAGED_NOTE}{}", self.origin)
    }

    /// Whether `note` says the secret was synced from this source (any version).
    pub fn owns(&self, note: Option<&str>) -> bool {
        note.and_then(|n| n.strip_prefix(&self.note_prefix()))
            .and_then(|rest| rest.strip_prefix(" v"))
            .is_some_and(|version| !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()))
    }
}

/// Whether a sync deletes the secrets its source no longer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prune {
    /// Never delete.
    #[default]
    Off,
    /// Delete this source's secrets that left it, unless the source is empty (an empty read looks
    /// exactly like a wrong path or a policy that hides the data).
    On,
    /// Delete them even when the source is empty.
    EvenFromEmpty,
}

/// What a sync will do, by secret name (values never appear).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SyncPlan {
    /// In the source, not in Woodpecker.
    pub create: Vec<String>,
    /// In both, but the source's version or the events differ (or it was made by hand).
    pub update: Vec<String>,
    /// In both, already from this version with these events.
    pub unchanged: Vec<String>,
    /// Managed by this sync, gone from the source, and `prune` asked for.
    pub delete: Vec<String>,
    /// Not in the source and not synced from it (made by hand, or from another source): never touched.
    pub unmanaged: Vec<String>,
    /// In the source, but the Woodpecker secret of that name is not this source's (made by hand, or by
    /// another sync): left alone unless adopted.
    pub conflicts: Vec<String>,
    /// The image restrictions the updated secrets keep (a secret limited to some images stays limited).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub keep_images: BTreeMap<String, Vec<String>>,
}

impl SyncPlan {
    /// Whether the plan writes anything.
    pub fn is_noop(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

fn sorted(events: &[String]) -> Vec<String> {
    let mut events = events.to_vec();
    events.sort();
    events.dedup();
    events
}

/// Decides the sync of `source` into the `existing` secrets of one scope. A secret of the same name that
/// is not this source's is a conflict, left alone, unless `adopt`; an updated secret keeps its image
/// restriction. A prune that would delete from an empty source is [`SyncError::EmptySource`] unless
/// [`Prune::EvenFromEmpty`].
pub fn plan_sync(
    source: &SourceSecrets,
    existing: &[Secret],
    events: &[String],
    prune: Prune,
    adopt: bool,
) -> Result<SyncPlan, SyncError> {
    let note = source.note();
    let events = sorted(events);
    let mut plan = SyncPlan::default();
    for name in source.values.keys() {
        match existing.iter().find(|s| &s.name == name) {
            None => plan.create.push(name.clone()),
            Some(s) if !adopt && !source.owns(s.note.as_deref()) => plan.conflicts.push(name.clone()),
            Some(s) if s.note.as_deref() == Some(note.as_str()) && sorted(&s.events) == events => {
                plan.unchanged.push(name.clone())
            }
            Some(s) => {
                plan.update.push(name.clone());
                if !s.images.is_empty() {
                    plan.keep_images.insert(name.clone(), s.images.clone());
                }
            }
        }
    }
    for secret in existing.iter().filter(|s| !source.values.contains_key(&s.name)) {
        match (source.owns(secret.note.as_deref()), prune) {
            (true, Prune::On | Prune::EvenFromEmpty) => plan.delete.push(secret.name.clone()),
            (true, Prune::Off) => {}
            (false, _) => plan.unmanaged.push(secret.name.clone()),
        }
    }
    if source.values.is_empty() && !plan.delete.is_empty() && prune != Prune::EvenFromEmpty {
        return Err(SyncError::EmptySource { origin: source.origin.clone(), would_delete: plan.delete });
    }
    Ok(plan)
}

/// Where a secret lives in Vault KV v2, and how to reach it.
#[derive(Debug, Clone)]
pub struct VaultSource {
    /// Vault's address: https, or plain http on loopback only.
    pub url: String,
    /// How to log in.
    pub auth: VaultAuth,
    /// The KV v2 mount (`secret`).
    pub mount: String,
    /// The secret's path.
    pub path: String,
    /// Accept any TLS certificate (only when the user asks, never from the environment).
    pub skip_tls_verify: bool,
    /// Allow plain http to a Vault that is not on loopback (an in-cluster service address, say): only when
    /// the user asks.
    pub plain_http: bool,
}

/// How [`read_vault`] logs in to Vault.
#[derive(Clone)]
pub enum VaultAuth {
    /// A Vault token.
    Token(SecretString),
    /// Vault's Kubernetes auth method: the pod's service-account token, exchanged for a Vault token of
    /// `role` (what a CronJob in the cluster uses instead of a long-lived token).
    Kubernetes {
        /// The Vault role bound to the service account.
        role: String,
        /// Where the auth method is mounted (`kubernetes`).
        mount: String,
        /// The service-account token file (a projected token rotates: it is read at each run).
        token_file: std::path::PathBuf,
    },
}

impl std::fmt::Debug for VaultAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultAuth::Token(_) => f.write_str("Token([redacted])"),
            VaultAuth::Kubernetes { role, mount, token_file } => f
                .debug_struct("Kubernetes")
                .field("role", role)
                .field("mount", mount)
                .field("token_file", token_file)
                .finish(),
        }
    }
}

/// The service-account token file a pod has.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Reads the current version of the KV v2 secret `source` names. The data must be an object whose every
/// value is a string. The address must be https, or plain http on a loopback host; `VAULT_SKIP_VERIFY`,
/// `VAULT_CACERT` and `VAULT_CAPATH` in the environment are not read (only [`VaultSource::skip_tls_verify`]
/// turns verification off).
///
/// Vault is reached through `offinfra-http` like every other server: timeouts, retries, capped answers,
/// and `X-Vault-Token` sent to Vault's own origin only (a redirect elsewhere does not carry it).
pub async fn read_vault(source: &VaultSource) -> Result<SourceSecrets, SyncError> {
    use offinfra_http::{encode_segment, Auth, Client, Request};
    let (address, mount, path) = (source.url.as_str(), source.mount.as_str(), source.path.as_str());
    let vault_error = |message: String| SyncError::Vault { mount: mount.to_owned(), path: path.to_owned(), message };
    let url = match url::Url::parse(address) {
        Ok(url) if url.scheme() == "https" => url,
        Ok(url) if url.scheme() == "http" && (is_loopback(&url) || source.plain_http) => url,
        Ok(url) if url.scheme() == "http" => {
            return Err(vault_error(format!(
                "vault address {address:?}: plain http only on loopback; use https (or --vault-plain-http)"
            )))
        }
        _ => return Err(vault_error(format!("vault address {address:?}: expected an http(s) URL"))),
    };
    let client = |auth: Option<Auth>| {
        let mut builder = Client::builder(url.as_str()).danger_accept_invalid_certs(source.skip_tls_verify);
        if let Some(auth) = auth {
            builder = builder.auth(auth);
        }
        builder.build().map_err(|e| vault_error(format!("vault address {address:?}: {}", error_chain(&e))))
    };
    // Each segment of the mount and the path is encoded: a `..` in either cannot leave the secret.
    let segments =
        |text: &str| text.split('/').filter(|s| !s.is_empty()).map(encode_segment).collect::<Vec<_>>().join("/");
    let token = match &source.auth {
        VaultAuth::Token(token) => token.clone(),
        VaultAuth::Kubernetes { role, mount: auth_mount, token_file } => {
            let jwt = std::fs::read_to_string(token_file).map_err(|e| {
                vault_error(format!("cannot read the service-account token {}: {e}", token_file.display()))
            })?;
            let login = Request::post(format!("/v1/auth/{}/login", segments(auth_mount)))
                .json(&serde_json::json!({"role": role, "jwt": jwt.trim()}))
                .map_err(|e| vault_error(error_chain(&e)))?;
            let answer: serde_json::Value = client(None)?.json(&login).await.map_err(|e| {
                vault_error(format!("kubernetes login as role {role:?} at auth/{auth_mount}: {}", error_chain(&e)))
            })?;
            let token = answer["auth"]["client_token"].as_str().filter(|t| !t.is_empty()).ok_or_else(|| {
                vault_error(format!("kubernetes login as role {role:?} at auth/{auth_mount}: no auth.client_token"))
            })?;
            SecretString::from(token.to_owned())
        }
    };
    let vault = client(Some(Auth::Header {
        name: offinfra_http::header::HeaderName::from_static("x-vault-token"),
        value: token,
    }))?;
    let read = Request::get(format!("/v1/{}/data/{}", segments(mount), segments(path)));
    let answer: serde_json::Value = vault.json(&read).await.map_err(|e| vault_error(error_chain(&e)))?;
    let mut shown = url.clone();
    let _ = (shown.set_username(""), shown.set_password(None));
    let origin = format!("vault {} {mount}/{path}", shown.as_str().trim_end_matches('/'));
    let version = answer["data"]["metadata"]["version"].as_u64().unwrap_or_default();
    let object = match answer["data"]["data"].clone() {
        serde_json::Value::Object(object) => object,
        other => {
            let kind = match other {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::String(_) => "a string",
                _ => "an array",
            };
            return Err(SyncError::NotAnObject { origin, kind });
        }
    };
    let mut values = BTreeMap::new();
    for (key, value) in object {
        match value {
            serde_json::Value::String(s) => {
                values.insert(key, SecretString::from(s));
            }
            _ => return Err(SyncError::NotAString { origin, key }),
        }
    }
    Ok(SourceSecrets { origin, version, values })
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An error and its causes, `: `-separated (the client's own text is often only "an error occurred").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// What [`apply`] did, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SyncReport {
    /// Created.
    pub created: Vec<String>,
    /// Updated.
    pub updated: Vec<String>,
    /// Deleted.
    pub deleted: Vec<String>,
}

/// Carries out `plan` (and only it) in `secrets`, stopping at the first failure.
pub async fn apply(
    secrets: &Secrets<'_>,
    plan: &SyncPlan,
    source: &SourceSecrets,
    events: &[String],
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    let note = source.note();
    for name in plan.create.iter().chain(&plan.update) {
        let Some(value) = source.values.get(name) else { continue };
        let spec = SecretSpec {
            name: name.clone(),
            value: value.clone(),
            events: events.to_vec(),
            images: plan.keep_images.get(name).cloned().unwrap_or_default(),
            note: Some(note.clone()),
        };
        match secrets.upsert(&spec).await {
            Ok(Upserted::Created) => report.created.push(name.clone()),
            Ok(Upserted::Updated) => report.updated.push(name.clone()),
            Err(source) => return Err(SyncError::Woodpecker { name: name.clone(), source }),
        }
    }
    for name in &plan.delete {
        secrets.delete(name).await.map_err(|source| SyncError::Woodpecker { name: name.clone(), source })?;
        report.deleted.push(name.clone());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_source(url: String, path: &str) -> VaultSource {
        VaultSource {
            url,
            auth: VaultAuth::Token("vault-s3cret".to_owned().into()),
            mount: "secret".into(),
            path: path.into(),
            skip_tls_verify: false,
            plain_http: false,
        }
    }

    #[tokio::test]
    async fn the_vault_token_never_follows_a_redirect_to_another_server() {
        use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};
        let (vault, elsewhere) = (MockServer::start().await, MockServer::start().await);
        // A compromised or misconfigured Vault (or a proxy before it) redirects the read elsewhere.
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(307)
                    .insert_header("location", format!("{}/v1/secret/data/ci/app", elsewhere.uri())),
            )
            .mount(&vault)
            .await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(403)).mount(&elsewhere).await;
        let _ = read_vault(&token_source(vault.uri(), "ci/app")).await;
        let carried: Vec<_> = elsewhere
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.headers.contains_key("x-vault-token"))
            .map(|r| r.url.to_string())
            .collect();
        assert!(carried.is_empty(), "X-Vault-Token reached another origin: {carried:?}");
        // The read itself did reach Vault with the token, on Vault's own origin.
        let at_vault = vault.received_requests().await.unwrap();
        assert!(at_vault.iter().any(|r| r.headers.get("x-vault-token").is_some_and(|v| v == "vault-s3cret")));
    }

    #[tokio::test]
    async fn vault_skip_verify_in_the_environment_is_never_read() {
        let body = r#"{"data": {"data": {"registry_token": "s3cret"}, "metadata": {"version": 3}}}"#;
        let vault = offinfra_test_support::tls::serve(200, &[], body);
        // What a careless shell profile or a pipeline variable sets: it must not turn verification off.
        std::env::set_var("VAULT_SKIP_VERIFY", "true");
        let refused = read_vault(&token_source(vault.url.clone(), "ci/app")).await;
        let asked =
            read_vault(&VaultSource { skip_tls_verify: true, ..token_source(vault.url.clone(), "ci/app") }).await;
        let err = refused.expect_err("an unverified certificate is refused");
        assert!(matches!(err, SyncError::Vault { .. }), "{err}");
        assert_eq!(asked.expect("--vault-skip-verify reads it").version, 3);
    }

    #[tokio::test]
    async fn a_path_cannot_leave_the_secret() {
        use wiremock::MockServer;
        let vault = MockServer::start().await;
        for path in ["../../sys/raw", "ci/%2e%2e/x", "ci/..\\x"] {
            let err = read_vault(&token_source(vault.uri(), path)).await.unwrap_err();
            assert!(matches!(err, SyncError::Vault { .. }), "{path}: {err}");
        }
        let sent: Vec<String> =
            vault.received_requests().await.unwrap().iter().map(|r| r.url.path().to_owned()).collect();
        assert!(sent.iter().all(|p| p.starts_with("/v1/secret/data/")), "{sent:?}");
    }

    fn secret(name: &str, events: &[&str], note: Option<&str>) -> Secret {
        Secret {
            id: 1,
            name: name.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            images: vec![],
            note: note.map(str::to_owned),
        }
    }

    #[test]
    fn plans_by_version_note_and_events() {
        let source = SourceSecrets::new(
            "vault https://vault.lan secret/ci",
            7,
            ["a", "b", "c", "d"].map(|n| (n.to_string(), SecretString::from(format!("value-{n}")))),
        );
        let events = vec!["push".to_string(), "manual".to_string()];
        let existing = vec![
            secret(
                "a",
                &["manual", "push"],
                Some("managed by offinfra sync-secrets: vault https://vault.lan secret/ci v7"),
            ),
            secret(
                "b",
                &["push", "manual"],
                Some("managed by offinfra sync-secrets: vault https://vault.lan secret/ci v6"),
            ),
            secret("c", &["push"], Some("managed by offinfra sync-secrets: vault https://vault.lan secret/ci v7")),
            secret("gone", &["push"], Some("managed by offinfra sync-secrets: vault https://vault.lan secret/ci v6")),
            secret("by-hand", &["push"], None),
            secret(
                "other-path",
                &["push"],
                Some("managed by offinfra sync-secrets: vault https://vault.lan secret/ci/other v3"),
            ),
            secret(
                "other-vault",
                &["push"],
                Some("managed by offinfra sync-secrets: vault https://vault.other secret/ci v3"),
            ),
        ];
        let plan = plan_sync(&source, &existing, &events, Prune::On, false).unwrap();
        assert_eq!(plan.unchanged, ["a"]);
        assert_eq!(plan.update, ["b", "c"], "an older version, other events");
        assert_eq!(plan.create, ["d"]);
        assert_eq!(plan.delete, ["gone"]);
        assert_eq!(plan.unmanaged, ["by-hand", "other-path", "other-vault"], "another source's secrets are not ours");
        let keep = plan_sync(&source, &existing, &events, Prune::Off, false).unwrap();
        assert!(keep.delete.is_empty(), "nothing is deleted without prune");
        assert!(!format!("{source:?}").contains("value-"), "Debug shows no value");
    }

    #[test]
    fn a_name_held_by_another_owner_is_a_conflict_unless_adopted_and_images_stay() {
        let source = SourceSecrets::new(
            "vault https://vault.lan secret/ci",
            7,
            ["by-hand", "other", "mine"].map(|n| (n.to_string(), SecretString::from(format!("value-{n}")))),
        );
        let events = vec!["push".to_string()];
        let mut mine =
            secret("mine", &["push"], Some("managed by offinfra sync-secrets: vault https://vault.lan secret/ci v6"));
        mine.images = vec!["ghcr.io/acme/deploy".into()];
        let existing = vec![
            secret("by-hand", &["push"], None),
            secret(
                "other",
                &["push"],
                Some("managed by offinfra sync-secrets: vault https://vault.other secret/ci v3"),
            ),
            mine,
        ];
        let plan = plan_sync(&source, &existing, &events, Prune::On, false).unwrap();
        assert_eq!(plan.conflicts, ["by-hand", "other"], "another owner's secret is never overwritten");
        assert_eq!(plan.update, ["mine"]);
        assert_eq!(plan.keep_images["mine"], ["ghcr.io/acme/deploy"], "an image restriction is kept");
        assert!(plan.delete.is_empty() && plan.create.is_empty());
        // Now that they hold this source's values, a later prune could delete them: only when adopted.
        let adopted = plan_sync(&source, &existing, &events, Prune::Off, true).unwrap();
        assert_eq!(adopted.update, ["by-hand", "mine", "other"]);
        assert!(adopted.conflicts.is_empty());
    }

    #[test]
    fn a_prune_from_an_empty_source_is_refused_unless_forced() {
        let empty = SourceSecrets::new("vault https://vault.lan secret/ci", 8, []);
        let existing = vec![secret(
            "a",
            &["push"],
            Some("managed by offinfra sync-secrets: vault https://vault.lan secret/ci v7"),
        )];
        let events = vec!["push".to_string()];
        let err = plan_sync(&empty, &existing, &events, Prune::On, false).unwrap_err();
        assert!(matches!(&err, SyncError::EmptySource { would_delete, .. } if would_delete == &["a"]), "{err}");
        assert_eq!(plan_sync(&empty, &existing, &events, Prune::EvenFromEmpty, false).unwrap().delete, ["a"]);
        assert!(plan_sync(&empty, &existing, &events, Prune::Off, false).unwrap().is_noop());
    }

    #[tokio::test]
    async fn vault_addresses_are_checked_before_anything_is_sent() {
        let source = |url: &str| VaultSource {
            url: url.into(),
            auth: VaultAuth::Token("t".to_owned().into()),
            mount: "secret".into(),
            path: "ci".into(),
            skip_tls_verify: false,
            plain_http: false,
        };
        for (url, want) in [
            ("http://vault.lan:8200", "plain http only on loopback"),
            ("vault.lan:8200", "expected an http(s) URL"),
            ("", "expected an http(s) URL"),
            ("ftp://vault.lan", "expected an http(s) URL"),
        ] {
            let err = read_vault(&source(url)).await.unwrap_err().to_string();
            assert!(err.contains(want), "{url}: {err}");
        }
    }
}
