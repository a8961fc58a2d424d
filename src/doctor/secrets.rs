//! Two Woodpecker registrations of one repository hold secrets of the same names and events; values are
//! write-only, so the fix takes them from a source such as Vault.

use std::collections::BTreeSet;

use super::{Finding, Status};
use crate::ResultExt;

/// Checks that Woodpecker repositories `a` and `b` (two registrations of one repository) hold secrets of
/// the same names and events. With `source`, missing or different secrets are written from it (events:
/// the union of both sides').
pub async fn secret_parity(
    woodpecker: &woodpecker_client::Woodpecker,
    a: i64,
    b: i64,
    source: Option<&crate::secrets::SourceSecrets>,
) -> Result<Vec<Finding>, crate::Error> {
    use woodpecker_client::{SecretScope, SecretSpec};
    let list = |id: i64| async move {
        let secrets = woodpecker.secrets(SecretScope::Repo(id)).list().await;
        secrets.with_context(|| format!("listing the secrets of Woodpecker repo {id}"))
    };
    let (left, right) = (list(a).await?, list(b).await?);
    let events = |s: &woodpecker_client::Secret| s.events.iter().cloned().collect::<BTreeSet<_>>();
    let names: BTreeSet<&str> = left.iter().chain(&right).map(|s| s.name.as_str()).collect();
    let mut findings = Vec::new();
    for name in names {
        let check = format!("secret {name} on repos {a} and {b}");
        let (l, r) = (left.iter().find(|s| s.name == name), right.iter().find(|s| s.name == name));
        let (problem, targets, wanted): (String, Vec<i64>, BTreeSet<String>) = match (l, r) {
            (Some(l), Some(r)) if events(l) == events(r) => {
                findings.push(Finding::new(check, Status::Pass, format!("events {}", join(&events(l)))));
                continue;
            }
            (Some(l), Some(r)) => (
                format!("events differ: repo {a} {}, repo {b} {}", join(&events(l)), join(&events(r))),
                vec![a, b],
                events(l).union(&events(r)).cloned().collect(),
            ),
            (Some(l), None) => (format!("missing on repo {b}"), vec![b], events(l)),
            (None, Some(r)) => (format!("missing on repo {a}"), vec![a], events(r)),
            (None, None) => continue,
        };
        let mut finding = Finding::new(check, Status::Fail, problem);
        if let Some(source) = source {
            match source.values.get(name) {
                Some(value) => {
                    for id in &targets {
                        let spec = SecretSpec {
                            name: name.to_owned(),
                            value: value.clone(),
                            events: wanted.iter().cloned().collect(),
                            images: Vec::new(),
                            note: Some(source.note()),
                        };
                        woodpecker
                            .secrets(SecretScope::Repo(*id))
                            .upsert(&spec)
                            .await
                            .with_context(|| format!("writing secret {name} to Woodpecker repo {id}"))?;
                    }
                    finding.status = Status::Pass;
                    finding.fixed = Some(format!(
                        "written from {} to repo {} with events {}",
                        source.origin,
                        targets.iter().map(i64::to_string).collect::<Vec<_>>().join(" and "),
                        join(&wanted)
                    ));
                }
                None => finding.evidence += &format!(" (no value for it in {})", source.origin),
            }
        }
        findings.push(finding);
    }
    Ok(findings)
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(",")
}
