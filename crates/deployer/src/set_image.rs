//! kubectl's `set image` (`pkg/cmd/set/set_image.go`) as a pure function: from a pod spec and
//! `NAME=IMAGE` pairs to the strategic merge patch to send (names and images only), or nothing when
//! nothing changes.

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::{json, Value};

/// A `NAME=IMAGE` pair; the name `*` means every container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePair {
    /// The container name, or `*`.
    pub container: String,
    /// The image.
    pub image: String,
}

/// kubectl's `set image` errors; `Display` is kubectl's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetImageError {
    /// No pair given.
    #[error("at least one image update is required")]
    NoUpdates,
    /// `*` together with other pairs.
    #[error("all containers are already specified by *, but saw more than one container_name=container_image pairs")]
    StarWithOthers,
    /// A pair without `=`, or with an empty side.
    #[error("invalid image update {0:?}: expected container_name=container_image")]
    BadPair(String),
}

/// Parses `NAME=IMAGE` arguments with kubectl's rules.
pub fn parse_pairs(args: &[String]) -> Result<Vec<ImagePair>, SetImageError> {
    check_pairs(args.iter().map(|arg| parse_pair(arg)).collect::<Result<Vec<_>, _>>()?)
}

/// Parses one `NAME=IMAGE` argument: a name and an image, both non-empty.
pub fn parse_pair(arg: &str) -> Result<ImagePair, SetImageError> {
    match arg.split_once('=') {
        Some((name, image)) if !name.is_empty() && !image.is_empty() => {
            Ok(ImagePair { container: name.into(), image: image.into() })
        }
        _ => Err(SetImageError::BadPair(arg.to_owned())),
    }
}

/// kubectl's rules for a list of pairs, however they were made: at least one, each with a name (no `=`)
/// and an image, and `*` only alone.
pub fn check_pairs(pairs: Vec<ImagePair>) -> Result<Vec<ImagePair>, SetImageError> {
    if pairs.is_empty() {
        return Err(SetImageError::NoUpdates);
    }
    if let Some(bad) = pairs.iter().find(|p| p.container.is_empty() || p.container.contains('=') || p.image.is_empty())
    {
        return Err(SetImageError::BadPair(format!("{}={}", bad.container, bad.image)));
    }
    if pairs.len() > 1 && pairs.iter().any(|p| p.container == "*") {
        return Err(SetImageError::StarWithOthers);
    }
    Ok(pairs)
}

/// Where the pod spec sits in the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodSpecAt {
    /// `spec.template.spec` (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job).
    Template,
    /// `spec` (Pod).
    Pod,
    /// `spec.jobTemplate.spec.template.spec` (CronJob).
    CronJob,
}

/// What `set image` would do.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SetImagePlan {
    /// The strategic merge patch, or `None` when every image is already right (kubectl sends nothing).
    pub patch: Option<Value>,
    /// `(container, old image, new image)` for each change.
    pub changes: Vec<(String, String, String)>,
    /// Pairs that matched no container: kubectl reports `unable to find container named "x"` for each,
    /// still applies the others, and exits 1.
    pub missing: Vec<String>,
}

impl SetImagePlan {
    /// kubectl's error lines for the missing containers.
    pub fn missing_errors(&self) -> Vec<String> {
        self.missing.iter().map(|name| format!("unable to find container named {name:?}")).collect()
    }
}

/// Plans `set image` on `spec` (init containers first, then containers, as kubectl does).
pub fn plan(spec: &PodSpec, at: PodSpecAt, pairs: &[ImagePair]) -> SetImagePlan {
    let mut init = Vec::new();
    let mut regular = Vec::new();
    let mut changes = Vec::new();
    let mut missing = Vec::new();
    for pair in pairs {
        let mut found = false;
        let lists = [
            (spec.init_containers.as_deref().unwrap_or_default(), &mut init),
            (spec.containers.as_slice(), &mut regular),
        ];
        for (containers, out) in lists {
            for c in containers.iter().filter(|c| pair.container == "*" || c.name == pair.container) {
                found = true;
                let old = c.image.clone().unwrap_or_default();
                if old != pair.image {
                    out.push(json!({"name": c.name, "image": pair.image}));
                    changes.push((c.name.clone(), old, pair.image.clone()));
                }
            }
        }
        if !found {
            missing.push(pair.container.clone());
        }
    }
    let patch = (!changes.is_empty()).then(|| {
        let mut pod = serde_json::Map::new();
        if !regular.is_empty() {
            pod.insert("containers".into(), Value::Array(regular));
        }
        if !init.is_empty() {
            pod.insert("initContainers".into(), Value::Array(init));
        }
        let pod = Value::Object(pod);
        match at {
            PodSpecAt::Pod => json!({ "spec": pod }),
            PodSpecAt::Template => json!({"spec": {"template": {"spec": pod}}}),
            PodSpecAt::CronJob => json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}}),
        }
    });
    SetImagePlan { patch, changes, missing }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PodSpec {
        serde_json::from_value(json!({
            "initContainers": [{"name": "migrate", "image": "img:1"}],
            "containers": [{"name": "app", "image": "img:2"}, {"name": "sidecar", "image": "side:1"}]
        }))
        .unwrap()
    }

    fn pairs(args: &[&str]) -> Vec<ImagePair> {
        parse_pairs(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn one_container_changes() {
        let p = plan(&spec(), PodSpecAt::Template, &pairs(&["app=img:3"]));
        assert_eq!(
            p.patch,
            Some(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "img:3"}]}}}}))
        );
        assert_eq!(p.changes, [("app".to_string(), "img:2".to_string(), "img:3".to_string())]);
        assert!(p.missing.is_empty());
    }

    #[test]
    fn init_containers_star_and_nothing_to_do() {
        let p = plan(&spec(), PodSpecAt::Template, &pairs(&["migrate=img:3"]));
        assert_eq!(
            p.patch,
            Some(json!({"spec": {"template": {"spec": {"initContainers": [{"name": "migrate", "image": "img:3"}]}}}}))
        );
        let all = plan(&spec(), PodSpecAt::CronJob, &pairs(&["*=img:9"]));
        assert_eq!(
            all.patch,
            Some(json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "app", "image": "img:9"}, {"name": "sidecar", "image": "img:9"}],
                "initContainers": [{"name": "migrate", "image": "img:9"}]
            }}}}}}))
        );
        let same = plan(&spec(), PodSpecAt::Pod, &pairs(&["app=img:2"]));
        assert_eq!(same.patch, None, "nothing sent when nothing changes");
    }

    #[test]
    fn missing_containers_and_bad_arguments() {
        let p = plan(&spec(), PodSpecAt::Pod, &pairs(&["app=img:5", "nosuch=img:4"]));
        assert_eq!(p.patch, Some(json!({"spec": {"containers": [{"name": "app", "image": "img:5"}]}})));
        assert_eq!(p.missing_errors(), ["unable to find container named \"nosuch\""]);
        let only_missing = plan(&spec(), PodSpecAt::Pod, &pairs(&["nosuch=img:4"]));
        assert_eq!(only_missing.patch, None);
        assert_eq!(parse_pairs(&[]), Err(SetImageError::NoUpdates));
        let star = parse_pairs(&["*=a".to_string(), "app=b".to_string()]).unwrap_err();
        assert_eq!(
            star.to_string(),
            "all containers are already specified by *, but saw more than one container_name=container_image pairs"
        );
        assert!(matches!(parse_pairs(&["app".to_string()]), Err(SetImageError::BadPair(_))));
    }
}
