//! The Woodpecker YAML gotchas the pipeline has been bitten by.

use std::collections::BTreeSet;

use super::{Finding, Status};

/// Lints one Woodpecker pipeline file (`path` is for the evidence). `global_secrets`, when given,
/// enables the check that secrets a manual pipeline uses are available to manual events.
pub fn lint_pipeline(path: &str, text: &str, global_secrets: Option<&[woodpecker_client::Secret]>) -> Vec<Finding> {
    use yaml_rust2::{Yaml, YamlLoader};
    let mut findings = Vec::new();
    let check = |what: &str| format!("lint {path} {what}");

    // 1. Unquoted commands with `${A}:${B}`: seen on the raw lines, with their numbers.
    let mut unquoted = Vec::new();
    let mut first_line = None;
    for (n, line) in text.lines().enumerate() {
        let item = line.trim_start();
        if let Some(command) = item.strip_prefix("- ") {
            let command = command.trim_start();
            if !command.starts_with(['\'', '"']) && VARIABLE_PAIR.is_match(command) {
                unquoted.push(format!("line {}: {}", n + 1, command));
                first_line = first_line.or(u32::try_from(n + 1).ok());
            }
        }
    }
    findings.push(if unquoted.is_empty() {
        Finding::new(check("quoting"), Status::Pass, "no unquoted ${A}:${B} command")
    } else {
        Finding::new(check("quoting"), Status::Fail, format!("quote these commands whole: {}", unquoted.join("; ")))
            .at(path, first_line)
    });

    let docs = match YamlLoader::load_from_str(text) {
        Ok(docs) => docs,
        Err(e) => {
            let line = u32::try_from(e.marker().line()).ok();
            findings.push(Finding::new(check("yaml"), Status::Fail, e.to_string()).at(path, line));
            return findings;
        }
    };
    let doc = docs.into_iter().next().unwrap_or(Yaml::Null);

    // 2. A deploy pipeline must run on manual events only.
    let events = when_events(&doc["when"]);
    let is_manual_only = events.as_ref().is_some_and(|e| !e.is_empty() && e.iter().all(|e| e == "manual"));
    let deploys = text.contains("set image")
        || text.contains("deploy ")
        || path.rsplit('/').next().is_some_and(|f| f.starts_with("deploy"));
    if deploys {
        findings.push(if is_manual_only {
            Finding::new(check("events"), Status::Pass, "a deploy pipeline limited to event: manual")
        } else {
            let seen = match &events {
                None => "no when/event filter".to_owned(),
                Some(e) => format!("events {}", e.iter().cloned().collect::<Vec<_>>().join(",")),
            };
            Finding::new(
                check("events"),
                Status::Fail,
                format!("a deploy pipeline not limited to event: manual ({seen})"),
            )
            .at(path, line_of(text, "when:"))
        });
    }

    // 3. Global secrets a manual pipeline uses must allow the manual event.
    let runs_manual = events.as_ref().is_none_or(|e| e.contains("manual"));
    if let (Some(globals), true) = (global_secrets, runs_manual) {
        let mut used = BTreeSet::new();
        collect_from_secret(&doc, &mut used);
        let lacking: Vec<String> = used
            .iter()
            .filter_map(|name| globals.iter().find(|s| &s.name == name))
            .filter(|s| !s.events.iter().any(|e| e == "manual"))
            .map(|s| format!("{} (events {})", s.name, s.events.join(",")))
            .collect();
        findings.push(if lacking.is_empty() {
            Finding::new(
                check("secrets"),
                Status::Pass,
                format!("{} secret(s) used, all available to manual events", used.len()),
            )
        } else {
            Finding::new(
                check("secrets"),
                Status::Fail,
                format!("global secrets used by a manual pipeline without the manual event: {}", lacking.join(", ")),
            )
            .at(path, line_of(text, "from_secret"))
        });
    }
    findings
}

/// The 1-based number of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> Option<u32> {
    text.lines().position(|l| l.contains(needle)).and_then(|n| u32::try_from(n + 1).ok())
}

/// `${A}:${B}`: a variable, a colon, a variable.
static VARIABLE_PAIR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}:\$\{[A-Za-z_][A-Za-z0-9_]*\}").expect("valid")
});

/// The events a `when` allows: `None` when there is no event filter at all.
fn when_events(when: &yaml_rust2::Yaml) -> Option<BTreeSet<String>> {
    use yaml_rust2::Yaml;
    let clauses: Vec<&Yaml> = match when {
        Yaml::Array(items) => items.iter().collect(),
        Yaml::Hash(_) => vec![when],
        _ => return None,
    };
    let mut events = BTreeSet::new();
    for clause in clauses {
        match &clause["event"] {
            Yaml::String(e) => {
                events.insert(e.clone());
            }
            Yaml::Array(list) => events.extend(list.iter().filter_map(|e| e.as_str().map(str::to_owned))),
            // A clause without an event filter lets every event through.
            _ => return None,
        }
    }
    Some(events)
}

/// Every `from_secret` name in a pipeline file (none when it is not YAML).
pub(crate) fn from_secrets(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for doc in yaml_rust2::YamlLoader::load_from_str(text).unwrap_or_default() {
        collect_from_secret(&doc, &mut out);
    }
    out
}

fn collect_from_secret(yaml: &yaml_rust2::Yaml, out: &mut BTreeSet<String>) {
    use yaml_rust2::Yaml;
    match yaml {
        Yaml::Hash(map) => {
            for (k, v) in map {
                if k.as_str() == Some("from_secret") {
                    if let Some(name) = v.as_str() {
                        out.insert(name.to_owned());
                    }
                } else {
                    collect_from_secret(v, out);
                }
            }
        }
        Yaml::Array(items) => items.iter().for_each(|i| collect_from_secret(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn lints_the_known_gotchas() {
        let broken = "when:\n  - event: [push, manual]\nsteps:\n  - name: deploy\n    image: x\n    environment:\n      KUBE: {from_secret: kubeconfig}\n    commands:\n      - deploy --container app=${IMAGE_NAME}:${IMAGE_TAG}\n";
        let globals = vec![woodpecker_client::Secret {
            id: 1,
            name: "kubeconfig".into(),
            events: vec!["push".into(), "tag".into()],
            images: vec![],
            note: None,
        }];
        let findings = lint_pipeline(".woodpecker/deploy.yml", broken, Some(&globals));
        let status: Vec<(String, Status)> = findings.iter().map(|f| (f.check.clone(), f.status)).collect();
        assert_eq!(
            status,
            [
                ("lint .woodpecker/deploy.yml quoting".to_string(), Status::Fail),
                ("lint .woodpecker/deploy.yml events".into(), Status::Fail),
                ("lint .woodpecker/deploy.yml secrets".into(), Status::Fail),
            ]
        );
        assert_eq!(
            findings[0].evidence,
            "quote these commands whole: line 9: deploy --container app=${IMAGE_NAME}:${IMAGE_TAG}"
        );
        assert_eq!(findings[1].evidence, "a deploy pipeline not limited to event: manual (events manual,push)");
        assert!(findings[2].evidence.ends_with("kubeconfig (events push,tag)"), "{}", findings[2].evidence);
        // Where each is, for the annotations: the command's line, the `when:`, the `from_secret`.
        let at: Vec<(Option<&str>, Option<u32>)> = findings.iter().map(|f| (f.file.as_deref(), f.line)).collect();
        let file = Some(".woodpecker/deploy.yml");
        assert_eq!(at, [(file, Some(9)), (file, Some(1)), (file, Some(7))]);

        let good = "when:\n  - event: manual\nsteps:\n  - name: deploy\n    image: x\n    commands:\n      - 'deploy --container \"app=${IMAGE_NAME}:${IMAGE_TAG}\"'\n";
        assert!(lint_pipeline(".woodpecker/deploy.yml", good, Some(&[])).iter().all(|f| f.status == Status::Pass));
    }
}
