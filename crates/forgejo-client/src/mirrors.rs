//! `/repos/{owner}/{repo}/push_mirrors`. There is no update: change means delete and recreate.

use offinfra_http::{Client, PageNumbers, Request, SecretString};
use serde::{Deserialize, Serialize};

use crate::Error;

/// `PushMirror`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PushMirror {
    /// The repository.
    pub repo_name: String,
    /// The server-made name (`remote_mirror_…`): the id for get and delete.
    pub remote_name: String,
    /// The target, credentials stripped.
    pub remote_address: String,
    /// When it was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The last sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update: Option<String>,
    /// The last sync's error: the only sign of a failing mirror (e.g. a token without `workflow` scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Go duration, e.g. `8h0m0s`, `0s` (sync on commit only).
    pub interval: String,
    /// Whether every push syncs it.
    pub sync_on_commit: bool,
    /// Branches mirrored (v13+; empty: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch_filter: Option<String>,
}

impl PushMirror {
    /// The last sync's error, if it has one.
    pub fn error(&self) -> Option<&str> {
        self.last_error.as_deref().filter(|e| !e.is_empty())
    }

    /// `owner/name` when it pushes to a github.com repository.
    ///
    /// ```
    /// let m: forgejo_client::PushMirror = serde_json::from_value(serde_json::json!({
    ///     "repo_name": "app", "remote_name": "m", "remote_address": "https://github.com/ViktorBarzin/app.git"})).unwrap();
    /// assert_eq!(m.github_repo().as_deref(), Some("ViktorBarzin/app"));
    /// ```
    pub fn github_repo(&self) -> Option<String> {
        let path = self.remote_address.strip_prefix("https://github.com/")?;
        let path = path.trim_end_matches('/').trim_end_matches(".git");
        (path.split('/').count() == 2 && !path.split('/').any(str::is_empty)).then(|| path.to_owned())
    }
}

/// A push mirror to create. `Debug` does not show the password.
#[derive(Clone)]
pub struct CreatePushMirror {
    /// The target URL, without credentials.
    pub remote_address: String,
    /// The user name on the target (any non-empty name for a GitHub token).
    pub remote_username: String,
    /// The password or token.
    pub remote_password: SecretString,
    /// Go duration between periodic syncs; `0s` syncs on commit only.
    pub interval: String,
    /// Sync on every push.
    pub sync_on_commit: bool,
}

impl std::fmt::Debug for CreatePushMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatePushMirror")
            .field("remote_address", &self.remote_address)
            .field("remote_username", &self.remote_username)
            .field("remote_password", &"[redacted]")
            .field("interval", &self.interval)
            .field("sync_on_commit", &self.sync_on_commit)
            .finish()
    }
}

/// Checks a Go duration (`8h0m0s`, `10m`, `1h30m`, `0`, `0s`, `500ms`): what Forgejo's
/// `time.ParseDuration` accepts for `interval`, so that a bad value fails here, naming it.
pub fn check_go_duration(text: &str) -> Result<(), String> {
    if text == "0" {
        return Ok(());
    }
    let mut rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    if rest.is_empty() {
        return Err(format!("interval {text:?}: empty (use \"0s\" to sync on commit only)"));
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("interval {text:?}: expected a Go duration such as 8h0m0s or 10m"));
        }
        rest = &rest[digits..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"].iter().find(|u| rest.starts_with(**u));
        match unit {
            // "m" must not swallow the "m" of "ms".
            Some(u) => rest = &rest[u.len()..],
            None => return Err(format!("interval {text:?}: missing or unknown unit (ns, us, ms, s, m, h)")),
        }
    }
    Ok(())
}

/// The push mirrors of one repository.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PushMirrors<'a> {
    pub(crate) http: &'a Client,
    pub(crate) base: String,
    pub(crate) sync: String,
}

/// Whether two remote addresses name the same remote: `https://github.com/o/r.git` and
/// `https://github.com/o/R/` do.
pub fn same_remote(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim_end_matches('/').trim_end_matches(".git").to_ascii_lowercase();
    norm(a) == norm(b)
}

impl PushMirrors<'_> {
    /// Every push mirror.
    pub async fn list(&self) -> Result<Vec<PushMirror>, Error> {
        Ok(self.http.collect_pages(&Request::get(self.base.clone()), &PageNumbers::FORGEJO, None).await?)
    }

    /// Creates a push mirror (answer 200, not 201).
    pub async fn create(&self, mirror: &CreatePushMirror) -> Result<PushMirror, Error> {
        use offinfra_http::ExposeSecret;
        check_go_duration(&mirror.interval).map_err(Error::InvalidInput)?;
        if let Some((scheme, rest)) = mirror.remote_address.split_once("://") {
            let authority = rest.split('/').next().unwrap_or_default();
            if let Some((_, host)) = authority.rsplit_once('@') {
                let path = &rest[authority.len()..];
                return Err(Error::InvalidInput(format!(
                    "remote address {scheme}://{host}{path}: credentials go in remote_username and remote_password, not in the URL"
                )));
            }
        }
        let body = serde_json::json!({
            "remote_address": mirror.remote_address,
            "remote_username": mirror.remote_username,
            "remote_password": mirror.remote_password.expose_secret(),
            "interval": mirror.interval,
            "sync_on_commit": mirror.sync_on_commit,
        });
        Ok(self.http.json(&Request::post(self.base.clone()).json(&body)?).await?)
    }

    /// The mirror pushing to `remote_address` (compared without a trailing `.git`), creating it when
    /// there is none: safe to run again.
    pub async fn ensure(&self, mirror: &CreatePushMirror) -> Result<(PushMirror, bool), Error> {
        if let Some(existing) =
            self.list().await?.into_iter().find(|m| same_remote(&m.remote_address, &mirror.remote_address))
        {
            return Ok((existing, false));
        }
        Ok((self.create(mirror).await?, true))
    }

    /// Deletes a mirror by its `remote_name` (204 even for an unknown name).
    pub async fn delete(&self, remote_name: &str) -> Result<(), Error> {
        self.http.execute(&Request::delete(format!("{}/{}", self.base, crate::encode(remote_name)))).await?;
        Ok(())
    }

    /// Pushes every mirror now (synchronous on the server: it can take long), then reads them back so
    /// that `last_error` tells what happened.
    pub async fn sync(&self) -> Result<Vec<PushMirror>, Error> {
        self.http.execute(&Request::post(self.sync.clone()).idempotent(true)).await?;
        self.list().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for ok in ["8h0m0s", "10m", "0", "0s", "1h30m", "500ms", "1.5h"] {
            assert!(check_go_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["", "10", "ten minutes", "5d", "h"] {
            assert!(check_go_duration(bad).is_err(), "{bad}");
        }
        assert!(same_remote("https://github.com/o/r.git", "https://github.com/O/r/"));
    }
}
