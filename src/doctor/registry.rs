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
