//! Image indexes whose children are gone; a pull-through cache that answers.

use super::{Finding, Status};
use crate::ResultExt;

/// Checks `repositories` (all in the catalog when empty) of `registry` for image indexes whose
/// children are gone.
pub async fn orphans(
    registry: &ghcr_client::registry::Registry,
    repositories: &[String],
) -> Result<Vec<Finding>, crate::Error> {
    let images = repositories.iter().map(|r| registry.image(r)).collect::<Result<Vec<_>, _>>()?;
    let report =
        registry.orphan_report(&images, None).await.with_context(|| format!("checking {}", registry.host()))?;
    let mut findings = Vec::new();
    for repository in &report.checked {
        let check = format!("orphans {}/{repository}", report.host);
        let found: Vec<_> = report.orphans.iter().filter(|o| &o.repository == repository).collect();
        if found.is_empty() {
            findings.push(Finding::new(&check, Status::Pass, "every index's children are present"));
        }
        for o in found {
            findings.push(Finding::new(
                &check,
                Status::Fail,
                format!("{}:{} -> index {} is missing {}", o.repository, o.tag, o.index, o.missing_child),
            ));
        }
    }
    Ok(findings)
}

/// A pull-through cache to check: `[http://|https://]HOST[:PORT][=UPSTREAM]`. The scheme says how this
/// cache is spoken to (none: docker's rule, plain HTTP on loopback only); the upstream names what it
/// caches, for the report.
///
/// ```
/// use offinfra::doctor::CacheSpec;
/// let lan: CacheSpec = "http://10.0.20.10:5010=ghcr.io".parse()?;
/// assert_eq!((lan.host.as_str(), lan.plain_http, lan.upstream.as_deref()), ("10.0.20.10:5010", Some(true), Some("ghcr.io")));
/// let bare: CacheSpec = "cache.lan:5000".parse()?;
/// assert_eq!((bare.plain_http, bare.upstream), (None, None));
/// assert!("ftp://cache".parse::<CacheSpec>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSpec {
    /// `host[:port]`.
    pub host: String,
    /// `Some(true)`: plain HTTP; `Some(false)`: HTTPS; `None`: docker's rule.
    pub plain_http: Option<bool>,
    /// The registry it caches.
    pub upstream: Option<String>,
}

impl std::str::FromStr for CacheSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, upstream) = match text.split_once('=') {
            Some((address, upstream)) if !upstream.is_empty() => (address, Some(upstream.to_owned())),
            Some(_) => return Err(format!("{text:?}: nothing after `=` (the upstream registry)")),
            None => (text, None),
        };
        let (plain_http, host) = match address.split_once("://") {
            Some(("http", host)) => (Some(true), host),
            Some(("https", host)) => (Some(false), host),
            Some((scheme, _)) => return Err(format!("{text:?}: the scheme {scheme:?} is neither http nor https")),
            None => (None, address),
        };
        let host = host.trim_end_matches('/');
        match offinfra_http::scope::host_of(host) {
            Some(_) if !host.is_empty() && !host.contains('/') => {
                Ok(Self { host: host.to_owned(), plain_http, upstream })
            }
            _ => Err(format!("{text:?}: expected [http://|https://]HOST[:PORT][=UPSTREAM]")),
        }
    }
}

/// Checks that the pull-through cache `registry` answers `/v2/` and `/v2/_catalog`.
pub async fn cache(registry: &ghcr_client::registry::Registry) -> Finding {
    let check = format!("cache {}", registry.host());
    match registry.check_cache().await {
        Ok(h) => Finding::new(
            check,
            Status::Pass,
            format!(
                "/v2/ in {} ms, /v2/_catalog ({} repositories) in {} ms",
                h.ping_ms,
                h.repositories.len(),
                h.catalog_ms
            ),
        ),
        Err(e) => Finding::new(check, Status::Fail, e.to_string()),
    }
}

/// Which registries are spoken to in plain HTTP: all of them (`--plain-http`), or the hosts named
/// (`--plain-http-to HOST`, each alone); any other keeps docker's rule (plain HTTP for loopback only).
///
/// ```
/// let plain = offinfra::doctor::PlainHttp { all: false, hosts: vec!["10.0.20.10:5000".into()] };
/// assert_eq!(plain.for_host("10.0.20.10:5000"), Some(true));
/// assert_eq!(plain.for_host("ghcr.io"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlainHttp {
    /// Every registry.
    pub all: bool,
    /// These registry hosts (`host[:port]`).
    pub hosts: Vec<String>,
}

impl PlainHttp {
    /// The registry option for `host`: `Some(true)` when plain HTTP was asked for it.
    pub fn for_host(&self, host: &str) -> Option<bool> {
        (self.all || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))).then_some(true)
    }
}
