//! The Forgejo webhook Woodpecker uses points at the in-cluster Woodpecker URL (Woodpecker's "repair"
//! rewrites it to the public one); the fix re-points it, keeping every other hook field and the
//! `access_token` query.

use offinfra_http::scope::host_of;

use super::{Finding, Status};
use crate::ResultExt;

/// A webhook URL with its query's values hidden (the `access_token` is a credential).
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => {
            let keys: Vec<String> =
                query.split('&').map(|kv| format!("{}=…", kv.split('=').next().unwrap_or(""))).collect();
            format!("{base}?{}", keys.join("&"))
        }
        None => url.to_owned(),
    }
}

/// Whether a hook delivers to one of our Woodpecker servers: its endpoint is `/api/hook` on one of
/// `hosts` (the in-cluster address and the public one). Another service's `/api/hook` is not ours, and
/// its query (a token of that service) is never copied anywhere.
fn is_woodpecker_hook(url: &str, hosts: &[String]) -> bool {
    let path_ok = url.split('?').next().unwrap_or(url).trim_end_matches('/').ends_with("/api/hook");
    let ours = |host: String| hosts.iter().any(|h| host_of(h).as_deref() == Some(host.as_str()));
    path_ok && host_of(url).is_some_and(ours)
}

/// Checks that the Woodpecker webhooks of `owner/name` point at `expected` (the in-cluster Woodpecker
/// base URL, e.g. `http://woodpecker-server.woodpecker.svc:8000`); with `fix`, re-points them.
pub async fn webhook(
    forgejo: &forgejo_client::Forgejo,
    repo: &offinfra_types::RepoName,
    expected: &str,
    woodpecker_urls: &[String],
    fix: bool,
) -> Result<Vec<Finding>, crate::Error> {
    let (owner, name) = (repo.owner(), repo.name());
    let check = format!("webhook {owner}/{name}");
    let hosts: Vec<String> = std::iter::once(expected.to_owned()).chain(woodpecker_urls.iter().cloned()).collect();
    let hooks = forgejo.repo(owner, name).hooks();
    let all = hooks.list().await.with_context(|| format!("listing the webhooks of {owner}/{name}"))?;
    let expected = expected.trim_end_matches('/');
    let mut findings = Vec::new();
    for hook in all.iter().filter(|h| h.target().is_some_and(|url| is_woodpecker_hook(url, &hosts))) {
        let url = hook.target().unwrap_or_default();
        let base = url.split('?').next().unwrap_or(url).trim_end_matches('/').trim_end_matches("/api/hook");
        if base == expected {
            findings.push(Finding::new(&check, Status::Pass, format!("hook {} -> {}", hook.id, redact_url(url))));
            continue;
        }
        let mut finding = Finding::new(
            &check,
            Status::Fail,
            format!("hook {} -> {}, expected {expected}/api/hook", hook.id, redact_url(url)),
        );
        if fix {
            let query = url.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
            let target = format!("{expected}/api/hook{query}");
            hooks
                .retarget(hook.id, &target)
                .await
                .with_context(|| format!("re-pointing hook {} of {owner}/{name}", hook.id))?;
            finding.status = Status::Pass;
            finding.fixed = Some(format!("re-pointed to {}", redact_url(&target)));
        }
        findings.push(finding);
    }
    if findings.is_empty() {
        findings.push(Finding::new(
            &check,
            Status::Fail,
            format!(
                "no webhook to {} among {} hook(s): activate the repository in Woodpecker (or give --woodpecker-url \
                 when repair pointed it at the public address)",
                hosts.join(" or "),
                all.len()
            ),
        ));
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_url_is_shown_without_its_query_values() {
        assert_eq!(redact_url("http://ci/api/hook?access_token=abc&x=1"), "http://ci/api/hook?access_token=…&x=…");
        let ours = ["http://woodpecker.svc:8000".to_owned()];
        assert!(is_woodpecker_hook("http://Woodpecker.svc:8000/api/hook?access_token=x", &ours));
        assert!(!is_woodpecker_hook("http://woodpecker.svc:8001/api/hook", &ours), "another port");
        assert!(!is_woodpecker_hook("http://woodpecker.svc:8000/api/other", &ours), "another endpoint");
    }
}
