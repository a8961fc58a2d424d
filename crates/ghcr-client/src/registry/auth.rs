//! Registry credentials, as docker finds and uses them: given, or from the docker config; Basic or a
//! token exchanged at the realm a 401 challenge names.

use std::{collections::HashMap, path::Path};

use offinfra_http::{
    base64_decode,
    header::{HeaderValue, AUTHORIZATION},
    Auth, ExposeSecret, Request, SecretString,
};

use super::{header_value, Registry};
use crate::Error;

/// Registry credentials. `Debug` never shows secrets.
#[derive(Clone, Default)]
pub enum Credentials {
    /// No credentials (public images; pull-only tokens where the registry hands them out).
    #[default]
    Anonymous,
    /// A user and a password or token (for ghcr.io: any user name and a PAT or `GITHUB_TOKEN`).
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: SecretString,
    },
    /// A registry token sent as is.
    Bearer(SecretString),
    /// A docker `identitytoken`: an OAuth2 refresh token, exchanged at the registry's token realm for an
    /// access token as docker does, and never sent to the registry itself.
    IdentityToken(SecretString),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, [redacted])"),
            Credentials::Bearer(_) => f.write_str("Bearer([redacted])"),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken([redacted])"),
        }
    }
}

impl Credentials {
    /// The shared plumbing's Basic [`Auth`] when these are a user and a password.
    fn basic(&self) -> Option<Auth> {
        match self {
            Credentials::Basic { username, password } => {
                Some(Auth::Basic { username: username.clone(), password: password.clone() })
            }
            _ => None,
        }
    }

    /// The credentials a docker user expects for `registry`: the given user and password, else the
    /// entry in the docker config directory (`$DOCKER_CONFIG` or `~/.docker`, passed in), else none.
    pub fn resolve(
        username: Option<&str>,
        password: Option<SecretString>,
        docker_config_dir: Option<&Path>,
        registry: &str,
    ) -> Result<Credentials, Error> {
        match (username, password) {
            (Some(username), Some(password)) => Ok(Credentials::Basic { username: username.to_owned(), password }),
            (Some(username), None) => Err(Error::Credentials(format!(
                "a user name ({username}) needs a password or token: --password-stdin or REGISTRY_PASSWORD"
            ))),
            (None, Some(_)) => {
                Err(Error::Credentials("a password or token needs a user name: --username or REGISTRY_USERNAME".into()))
            }
            (None, None) => match docker_config_dir {
                Some(dir) => Ok(docker_config_credentials(dir, registry)?.unwrap_or_default()),
                None => Ok(Credentials::Anonymous),
            },
        }
    }
}

/// Finds credentials for `registry` in a docker `config.json` as docker does: the credential helper
/// `credHelpers` names for the registry, else the `credsStore` helper, else the `auths` entry (`auth`,
/// or `username`/`password`, or `identitytoken`). A helper is the program `docker-credential-<name>` on
/// `PATH`, asked with `get` and the registry on stdin. `Ok(None)` when nothing has credentials for it.
pub fn docker_config_credentials(config_dir: &Path, registry: &str) -> Result<Option<Credentials>, Error> {
    credentials_from_config(config_dir, registry, std::env::var_os("PATH"))
}

/// How long a credential helper may take before it is stopped.
pub const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The most a credential helper's answer is read (a real one is a few hundred bytes).
const MAX_HELPER_OUTPUT: u64 = 1 << 20;

/// [`docker_config_credentials`] with the helpers looked up on `path` (a `PATH`-style list).
fn credentials_from_config(
    config_dir: &Path,
    registry: &str,
    path_var: Option<std::ffi::OsString>,
) -> Result<Option<Credentials>, Error> {
    let path = config_dir.join("config.json");
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let bad = |reason: String| Error::BadJson { path: path.clone(), what: "docker config".into(), reason };
    let config: serde_json::Value = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.get(registry))
        .or_else(|| config.get("credsStore"))
        .and_then(|h| h.as_str())
        .filter(|h| !h.is_empty());
    if let Some(helper) = helper {
        return run_credential_helper(helper, registry, path_var);
    }
    auths_entry(&config, registry, &bad)
}

/// The credentials for `registry` in the `auths` map of a docker config JSON, such as the
/// `.dockerconfigjson` of a Kubernetes pull secret (no credential helpers there). Registry keys match
/// with or without scheme and path (`https://ghcr.io/v1/` is `ghcr.io`).
pub fn credentials_in_docker_config(json: &[u8], registry: &str) -> Result<Option<Credentials>, Error> {
    let bad = |reason: String| Error::BadJson { path: "dockerconfigjson".into(), what: "docker config".into(), reason };
    let config: serde_json::Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    auths_entry(&config, registry, &bad)
}

fn auths_entry(
    config: &serde_json::Value,
    registry: &str,
    bad: &dyn Fn(String) -> Error,
) -> Result<Option<Credentials>, Error> {
    let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else { return Ok(None) };
    // Docker Hub's credentials are filed under its old index address.
    let hub = |host: &str| matches!(host, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    let entry = auths.iter().find(|(key, _)| {
        let key = key.trim_start_matches("https://").trim_start_matches("http://");
        let host = key.split('/').next().unwrap_or(key);
        key == registry || host == registry || (hub(host) && hub(registry))
    });
    let Some((_, entry)) = entry else { return Ok(None) };
    let text = |k: &str| entry.get(k).and_then(|v| v.as_str()).filter(|v| !v.is_empty());
    if let Some(auth) = text("auth") {
        let decoded = base64_decode(auth)
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| bad(format!("auths.{registry}.auth is not base64 of user:password")))?;
        let (username, password) =
            decoded.split_once(':').ok_or_else(|| bad(format!("auths.{registry}.auth has no ':'")))?;
        return Ok(Some(Credentials::Basic { username: username.to_owned(), password: password.to_owned().into() }));
    }
    if let Some(token) = text("identitytoken") {
        return Ok(Some(Credentials::IdentityToken(token.to_owned().into())));
    }
    match (text("username"), text("password")) {
        (Some(u), Some(p)) => Ok(Some(Credentials::Basic { username: u.to_owned(), password: p.to_owned().into() })),
        _ => Ok(None),
    }
}

/// Asks `docker-credential-<helper> get` for `registry`'s credentials (the docker credential-helper
/// protocol: the server on stdin, `{"Username", "Secret"}` on stdout, a `<token>` user meaning an
/// identity token). A helper that says it has none is `Ok(None)`.
fn run_credential_helper(
    helper: &str,
    registry: &str,
    path_var: Option<std::ffi::OsString>,
) -> Result<Option<Credentials>, Error> {
    run_helper_within(helper, registry, path_var, HELPER_TIMEOUT)
}

/// [`run_credential_helper`], stopping the helper after `timeout`.
fn run_helper_within(
    helper: &str,
    registry: &str,
    path_var: Option<std::ffi::OsString>,
    timeout: std::time::Duration,
) -> Result<Option<Credentials>, Error> {
    use std::io::{Read, Write};
    if !helper.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        return Err(Error::Credentials(format!("credential helper name {helper:?} is not a plain name")));
    }
    let program = format!("docker-credential-{helper}");
    let failed = |reason: &str, source: Option<Box<dyn std::error::Error + Send + Sync>>| Error::CredentialHelper {
        program: program.clone(),
        reason: reason.to_owned(),
        source,
    };
    let found = path_var
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(&program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| failed("the docker config's credential helper is not on PATH", None))?;
    let mut child = std::process::Command::new(&found)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| failed("cannot run it", Some(Box::new(e))))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    // Read both pipes on their own threads, so a helper that writes a lot cannot block, and wait at most
    // `timeout`: a helper waiting for a desktop unlock prompt nobody sees must not hang a CI job.
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(MAX_HELPER_OUTPUT).read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(|e| failed("cannot wait for it", Some(Box::new(e))))? {
            Some(status) => break status,
            None if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(&format!("no answer within {timeout:?}: stopped"), None));
            }
            None => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    };
    let (stdout, stderr) = (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    if !status.success() {
        let said = String::from_utf8_lossy(&stdout).to_string() + &String::from_utf8_lossy(&stderr);
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(failed(&format!("get {registry}: {}", said.trim()), None));
    }
    let answer: serde_json::Value = serde_json::from_slice(&stdout)
        .map_err(|e| failed("answered something that is not JSON", Some(Box::new(e))))?;
    let field = |k: &str| answer.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let (username, secret) = (field("Username"), field("Secret"));
    Ok(match (username.as_str(), secret.is_empty()) {
        (_, true) => None,
        ("<token>", false) => Some(Credentials::IdentityToken(secret.into())),
        (_, false) => Some(Credentials::Basic { username, password: secret.into() }),
    })
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP Basic.
    Basic,
    /// A token service.
    Bearer {
        /// Where to get the token.
        realm: String,
        /// The `service` parameter to pass on.
        service: Option<String>,
        /// The scope the registry suggests.
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value.
///
/// ```
/// use ghcr_client::registry::{parse_challenge, Challenge};
/// let c = parse_challenge(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/n:pull""#);
/// assert_eq!(c, Some(Challenge::Bearer { realm: "https://ghcr.io/token".into(), service: Some("ghcr.io".into()), scope: Some("repository:o/n:pull".into()) }));
/// assert_eq!(parse_challenge(r#"Basic realm="local-registry""#), Some(Challenge::Basic));
/// ```
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            value
        } else {
            chars.by_ref().take_while(|c| *c != ',').collect::<String>().trim().to_owned()
        };
        params.insert(key.trim().to_ascii_lowercase(), value);
    }
    Some(Challenge::Bearer {
        realm: params.remove("realm")?,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

#[derive(Default)]
pub(super) struct AuthState {
    pub(super) basic: bool,
    pub(super) tokens: HashMap<String, SecretString>,
}

impl Registry {
    pub(super) fn auth_header(&self, scope_key: &str) -> Result<Option<HeaderValue>, Error> {
        let state = self.auth.lock().expect("auth state lock");
        let auth = match (state.tokens.get(scope_key), &self.credentials) {
            (Some(token), _) => Auth::Bearer(token.clone()),
            (None, Credentials::Bearer(token)) => Auth::Bearer(token.clone()),
            (None, credentials) => match credentials.basic().filter(|_| state.basic) {
                Some(basic) => basic,
                None => return Ok(None),
            },
        };
        Ok(Some(header_value(&auth)?))
    }

    pub(super) async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<SecretString, Error> {
        tracing::debug!(realm, service, scope = %scopes.join(" "), "token exchange");
        let has_credentials = !matches!(self.credentials, Credentials::Anonymous);
        if has_credentials && !realm_may_receive_credentials(self.http.base(), realm) {
            return Err(Error::Credentials(format!(
                "{} names the token realm {realm:?}: credentials go to a realm only over https (plain http only \
                 from a plain-http loopback registry to a loopback realm)",
                self.host
            )));
        }
        let request = match &self.credentials {
            // docker's OAuth2 flow: the identity token is a refresh token, posted to the realm.
            Credentials::IdentityToken(refresh) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("client_id", "offinfra");
                form.append_pair("refresh_token", refresh.expose_secret());
                if let Some(service) = service {
                    form.append_pair("service", service);
                }
                if !scopes.is_empty() {
                    form.append_pair("scope", &scopes.join(" "));
                }
                Request::post(realm).body(form.finish(), "application/x-www-form-urlencoded").idempotent(true)
            }
            credentials => {
                let mut request = Request::get(realm);
                if let Some(service) = service {
                    request = request.query("service", service);
                }
                for scope in scopes {
                    request = request.query("scope", scope.as_str());
                }
                if let Some(basic) = credentials.basic() {
                    request = request.header(AUTHORIZATION, header_value(&basic)?);
                }
                request
            }
        };
        let request = request.credentials_to_foreign_origin();
        let response = self.http.execute(&request).await?;
        let body: serde_json::Value = response.json(request.method())?;
        let token = body.get("token").or_else(|| body.get("access_token")).and_then(|t| t.as_str());
        token.map(|t| SecretString::from(t.to_owned())).ok_or_else(|| {
            offinfra_http::Error::Decode {
                method: "GET".into(),
                url: realm.to_owned(),
                reason: "no token in the answer".into(),
            }
            .into()
        })
    }
}

/// Whether the registry at `registry` may send its credentials to the token realm `realm` its challenge
/// named: over https always (ghcr.io's realm is its own, Docker Hub's is another host), over plain http
/// only from a plain-http loopback registry to a loopback realm (a local test registry), never to a realm
/// that is not a URL.
pub fn realm_may_receive_credentials(registry: &url::Url, realm: &str) -> bool {
    let Ok(realm) = url::Url::parse(realm) else { return false };
    let loopback = |url: &url::Url| match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match realm.scheme() {
        "https" => true,
        "http" => registry.scheme() == "http" && loopback(registry) && loopback(&realm),
        _ => false,
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn credential_helpers_answer_as_docker_asks_them() {
        use std::os::unix::fs::PermissionsExt;
        let bin = tempfile::tempdir().unwrap();
        // A stand-in helper: knows reg.example (as a user) and tok.example (an identity token).
        let script = r#"#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
case "$server" in
  reg.example) echo '{"ServerURL":"reg.example","Username":"bot","Secret":"from-the-store"}' ;;
  tok.example) echo '{"ServerURL":"tok.example","Username":"<token>","Secret":"refresh-me"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"#;
        for name in ["docker-credential-store", "docker-credential-special"] {
            let path = bin.path().join(name);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let config = tempfile::tempdir().unwrap();
        std::fs::write(
            config.path().join("config.json"),
            r#"{"auths":{"reg.example":{},"plain.example":{"auth":"dTpw"}},"credsStore":"store","credHelpers":{"tok.example":"special","bad.example":"../x"}}"#,
        )
        .unwrap();
        let path = Some(bin.path().as_os_str().to_owned());
        let get = |registry: &str| credentials_from_config(config.path(), registry, path.clone());
        let Some(Credentials::Basic { username, password }) = get("reg.example").unwrap() else { panic!() };
        assert_eq!((username.as_str(), password.expose_secret()), ("bot", "from-the-store"));
        assert!(
            matches!(get("tok.example").unwrap(), Some(Credentials::IdentityToken(_))),
            "<token> is an identity token"
        );
        assert!(
            get("plain.example").unwrap().is_none(),
            "credsStore wins over auths, as in docker: the store has none"
        );
        assert!(get("bad.example").unwrap_err().to_string().contains("not a plain name"));
        let missing = credentials_from_config(config.path(), "reg.example", Some("/nonexistent".into())).unwrap_err();
        assert!(missing.to_string().contains("docker-credential-store"), "{missing}");
    }

    #[test]
    fn a_helper_that_never_answers_is_stopped() {
        use std::os::unix::fs::PermissionsExt;
        let bin = tempfile::tempdir().unwrap();
        let path = bin.path().join("docker-credential-stuck");
        // Waits for an unlock prompt nobody will answer; `exec` so that the kill reaches the sleep.
        std::fs::write(&path, "#!/bin/sh\nexec sleep 600\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path_var = Some(bin.path().as_os_str().to_owned());
        let timeout = std::time::Duration::from_millis(300);
        let err = run_helper_within("stuck", "reg.example", path_var, timeout).unwrap_err();
        assert!(
            matches!(&err, Error::CredentialHelper { program, .. } if program == "docker-credential-stuck"),
            "{err:?}"
        );
        assert!(err.to_string().contains("no answer within 300ms"), "{err}");
    }

    #[test]
    fn credentials_go_to_a_realm_over_https_or_loopback_only() {
        let https: url::Url = "https://ghcr.io".parse().unwrap();
        let local: url::Url = "http://127.0.0.1:5000".parse().unwrap();
        let lan: url::Url = "http://registry.lan:5000".parse().unwrap();
        assert!(realm_may_receive_credentials(&https, "https://ghcr.io/token"));
        assert!(realm_may_receive_credentials(&https, "https://auth.docker.io/token"));
        assert!(!realm_may_receive_credentials(&https, "http://ghcr.io/token"), "a downgrade");
        assert!(!realm_may_receive_credentials(&https, "http://127.0.0.1:9/token"));
        assert!(realm_may_receive_credentials(&local, "http://127.0.0.1:15058/token"));
        assert!(realm_may_receive_credentials(&local, "http://localhost:15058/token"));
        assert!(!realm_may_receive_credentials(&local, "http://evil.example/token"));
        assert!(!realm_may_receive_credentials(&lan, "http://registry.lan:5001/token"), "plain http off loopback");
        assert!(!realm_may_receive_credentials(&https, "ftp://ghcr.io/token"));
        assert!(!realm_may_receive_credentials(&https, "/token"));
    }

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(r#"Bearer realm="http://127.0.0.1:15058/token",service="local-registry""#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:15058/token".into(),
                service: Some("local-registry".into()),
                scope: None
            })
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None, "no realm");
    }
    #[test]
    fn docker_config_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"ghcr.io":{"auth":"Ym90OmdocF9zZWNyZXQ="},"https://reg.example":{"username":"u","password":"p"},"tok.example":{"identitytoken":"t"}}}"#,
        )
        .unwrap();
        let ghcr = docker_config_credentials(dir.path(), "ghcr.io").unwrap().unwrap();
        let Credentials::Basic { username, password } = &ghcr else { panic!() };
        assert_eq!((username.as_str(), password.expose_secret()), ("bot", "ghp_secret"));
        assert!(!format!("{ghcr:?}").contains("ghp_secret"));
        assert!(matches!(
            docker_config_credentials(dir.path(), "reg.example").unwrap(),
            Some(Credentials::Basic { .. })
        ));
        let identity = docker_config_credentials(dir.path(), "tok.example").unwrap().unwrap();
        assert!(matches!(identity, Credentials::IdentityToken(_)), "an identity token is a refresh token");
        assert_eq!(format!("{identity:?}"), "IdentityToken([redacted])");
        assert!(docker_config_credentials(dir.path(), "other.example").unwrap().is_none());
        assert!(docker_config_credentials(&dir.path().join("nowhere"), "ghcr.io").unwrap().is_none());
    }
}
