//! kubectl's rollout status viewers (`pkg/polymorphichelpers/rollout_status.go`), as pure functions.
//! Objects are read without defaulting, as kubectl reads them: a missing number is 0, a missing
//! pointer stays missing. Messages end in a newline, exactly as kubectl prints them.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};

/// What `kubectl rollout status` would print now, and whether it would stop.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RolloutStatus {
    /// The line kubectl prints (with its trailing newline).
    pub message: String,
    /// Whether the rollout is finished.
    pub done: bool,
}

/// The errors kubectl's viewers return; `Display` is kubectl's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// The Deployment's `Progressing` condition says `ProgressDeadlineExceeded`.
    #[error("deployment {0:?} exceeded its progress deadline")]
    ProgressDeadlineExceeded(String),
    /// A StatefulSet or DaemonSet whose update strategy is not `RollingUpdate`.
    #[error("rollout status is only available for RollingUpdate strategy type")]
    NotRollingUpdate,
    /// `--revision` was given and the Deployment's revision annotation does not parse.
    #[error("cannot get the revision of deployment {name:?}: {reason}")]
    BadRevision {
        /// The Deployment.
        name: String,
        /// Why.
        reason: String,
    },
    /// `--revision` was given and differs from the running one.
    #[error("desired revision ({desired}) is different from the running revision ({running})")]
    RevisionMismatch {
        /// The revision asked for.
        desired: i64,
        /// The running revision.
        running: i64,
    },
}

fn waiting(message: String) -> Result<RolloutStatus, RolloutError> {
    Ok(RolloutStatus { message, done: false })
}

fn finished(message: String) -> Result<RolloutStatus, RolloutError> {
    Ok(RolloutStatus { message, done: true })
}

/// The Deployment annotation holding its revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// kubectl's Deployment viewer.
pub fn deployment_status(deployment: &Deployment) -> Result<RolloutStatus, RolloutError> {
    deployment_status_at(deployment, 0)
}

/// kubectl's Deployment viewer with `--revision` (`0` means any revision).
pub fn deployment_status_at(deployment: &Deployment, revision: i64) -> Result<RolloutStatus, RolloutError> {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    if revision > 0 {
        let running = match deployment.metadata.annotations.as_ref().and_then(|a| a.get(REVISION_ANNOTATION)) {
            None => 0,
            Some(text) => text
                .parse::<i64>()
                .map_err(|e| RolloutError::BadRevision { name: name.clone(), reason: e.to_string() })?,
        };
        if running != revision {
            return Err(RolloutError::RevisionMismatch { desired: revision, running });
        }
    }
    let generation = deployment.metadata.generation.unwrap_or(0);
    let status = deployment.status.clone().unwrap_or_default();
    if generation > status.observed_generation.unwrap_or(0) {
        return waiting("Waiting for deployment spec update to be observed...\n".into());
    }
    let progressing = status.conditions.as_ref().and_then(|c| c.iter().find(|c| c.type_ == "Progressing"));
    if progressing.is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded")) {
        return Err(RolloutError::ProgressDeadlineExceeded(name));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if let Some(wanted) = deployment.spec.as_ref().and_then(|s| s.replicas) {
        if updated < wanted {
            return waiting(format!(
                "Waiting for deployment {name:?} rollout to finish: {updated} out of {wanted} new replicas have been updated...\n"
            ));
        }
    }
    if replicas > updated {
        return waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...\n",
            replicas - updated
        ));
    }
    if available < updated {
        return waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available...\n"
        ));
    }
    finished(format!("deployment {name:?} successfully rolled out\n"))
}

/// kubectl's StatefulSet viewer.
pub fn statefulset_status(set: &StatefulSet) -> Result<RolloutStatus, RolloutError> {
    let spec = set.spec.clone().unwrap_or_default();
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    if strategy.type_.as_deref() != Some("RollingUpdate") {
        return Err(RolloutError::NotRollingUpdate);
    }
    let status = set.status.clone().unwrap_or_default();
    let observed = status.observed_generation.unwrap_or(0);
    if observed == 0 || set.metadata.generation.unwrap_or(0) > observed {
        return waiting("Waiting for statefulset spec update to be observed...\n".into());
    }
    if let Some(replicas) = spec.replicas {
        if status.ready_replicas.unwrap_or(0) < replicas {
            return waiting(format!(
                "Waiting for {} pods to be ready...\n",
                replicas - status.ready_replicas.unwrap_or(0)
            ));
        }
    }
    let updated = status.updated_replicas.unwrap_or(0);
    if let Some(rolling) = &strategy.rolling_update {
        if let (Some(replicas), Some(partition)) = (spec.replicas, rolling.partition) {
            if updated < replicas - partition {
                return waiting(format!(
                    "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...\n",
                    replicas - partition
                ));
            }
        }
        return finished(format!("partitioned roll out complete: {updated} new pods have been updated...\n"));
    }
    let update_revision = status.update_revision.clone().unwrap_or_default();
    let current_revision = status.current_revision.clone().unwrap_or_default();
    if update_revision != current_revision {
        return waiting(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}...\n"
        ));
    }
    finished(format!(
        "statefulset rolling update complete {} pods at revision {current_revision}...\n",
        status.current_replicas.unwrap_or(0)
    ))
}

/// kubectl's DaemonSet viewer.
pub fn daemonset_status(set: &DaemonSet) -> Result<RolloutStatus, RolloutError> {
    let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.clone()).unwrap_or_default();
    if strategy.type_.as_deref() != Some("RollingUpdate") {
        return Err(RolloutError::NotRollingUpdate);
    }
    let name = set.metadata.name.clone().unwrap_or_default();
    let status = set.status.clone().unwrap_or_default();
    if set.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0) {
        return waiting("Waiting for daemon set spec update to be observed...\n".into());
    }
    let desired = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    if updated < desired {
        return waiting(format!(
            "Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated...\n"
        ));
    }
    let available = status.number_available.unwrap_or(0);
    if available < desired {
        return waiting(format!(
            "Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available...\n"
        ));
    }
    finished(format!("daemon set {name:?} successfully rolled out\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(value: serde_json::Value) -> Deployment {
        serde_json::from_value(value).unwrap()
    }

    fn dep(
        generation: i64,
        observed: i64,
        spec_replicas: Option<i32>,
        replicas: i32,
        updated: i32,
        available: i32,
    ) -> Deployment {
        let mut spec = serde_json::json!({"selector": {}, "template": {}});
        if let Some(r) = spec_replicas {
            spec["replicas"] = r.into();
        }
        deployment(serde_json::json!({
            "metadata": {"name": "foo", "generation": generation},
            "spec": spec,
            "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated, "availableReplicas": available}
        }))
    }

    fn status(message: &str, done: bool) -> Result<RolloutStatus, RolloutError> {
        Ok(RolloutStatus { message: message.into(), done })
    }

    #[test]
    fn deployment_rules_in_kubectls_order() {
        let cases = [
            (
                dep(0, 1, Some(1), 1, 0, 1),
                status(
                    "Waiting for deployment \"foo\" rollout to finish: 0 out of 1 new replicas have been updated...\n",
                    false,
                ),
            ),
            (
                dep(1, 1, Some(1), 2, 1, 1),
                status(
                    "Waiting for deployment \"foo\" rollout to finish: 1 old replicas are pending termination...\n",
                    false,
                ),
            ),
            (
                dep(1, 1, Some(2), 2, 2, 1),
                status(
                    "Waiting for deployment \"foo\" rollout to finish: 1 of 2 updated replicas are available...\n",
                    false,
                ),
            ),
            (dep(1, 1, Some(2), 2, 2, 2), status("deployment \"foo\" successfully rolled out\n", true)),
            (dep(2, 1, Some(2), 2, 2, 2), status("Waiting for deployment spec update to be observed...\n", false)),
            // No spec.replicas: the first rule is skipped, as kubectl does without defaulting.
            (dep(1, 1, None, 3, 3, 3), status("deployment \"foo\" successfully rolled out\n", true)),
        ];
        for (d, want) in cases {
            assert_eq!(deployment_status(&d), want);
        }
    }

    #[test]
    fn deployment_deadline_and_revisions() {
        let mut d = dep(1, 1, Some(2), 2, 1, 1);
        d.status.as_mut().unwrap().conditions = Some(vec![serde_json::from_value(serde_json::json!({
            "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"
        }))
        .unwrap()]);
        let err = deployment_status(&d).unwrap_err();
        assert_eq!(err.to_string(), "deployment \"foo\" exceeded its progress deadline");

        let mut d = dep(1, 1, Some(1), 1, 1, 1);
        d.metadata.annotations = Some([(REVISION_ANNOTATION.to_string(), "3".to_string())].into());
        assert!(deployment_status_at(&d, 3).unwrap().done);
        assert_eq!(
            deployment_status_at(&d, 2).unwrap_err().to_string(),
            "desired revision (2) is different from the running revision (3)"
        );
        d.metadata.annotations = Some([(REVISION_ANNOTATION.to_string(), "x".to_string())].into());
        assert!(deployment_status_at(&d, 2)
            .unwrap_err()
            .to_string()
            .starts_with("cannot get the revision of deployment \"foo\": "));
    }

    fn sts(value: serde_json::Value) -> StatefulSet {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn statefulset_rules() {
        let base = |strategy: serde_json::Value, status: serde_json::Value, generation: i64| {
            sts(serde_json::json!({
                "metadata": {"name": "foo", "generation": generation},
                "spec": {"replicas": 3, "selector": {}, "template": {}, "serviceName": "foo", "updateStrategy": strategy},
                "status": status
            }))
        };
        let rolling = serde_json::json!({"type": "RollingUpdate"});
        let on_delete = serde_json::json!({"type": "OnDelete"});
        assert_eq!(
            statefulset_status(&base(on_delete, serde_json::json!({"replicas": 3}), 1)),
            Err(RolloutError::NotRollingUpdate)
        );
        assert_eq!(
            statefulset_status(&base(rolling.clone(), serde_json::json!({"replicas": 3, "observedGeneration": 1}), 2)),
            status("Waiting for statefulset spec update to be observed...\n", false)
        );
        assert_eq!(
            statefulset_status(&base(rolling.clone(), serde_json::json!({"replicas": 3}), 1)),
            status("Waiting for statefulset spec update to be observed...\n", false),
            "observedGeneration 0 counts as not observed"
        );
        assert_eq!(
            statefulset_status(&base(
                rolling.clone(),
                serde_json::json!({"replicas": 3, "observedGeneration": 1, "readyReplicas": 1}),
                1
            )),
            status("Waiting for 2 pods to be ready...\n", false)
        );
        let partitioned = serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}});
        assert_eq!(
            statefulset_status(&base(
                partitioned.clone(),
                serde_json::json!({"replicas": 3, "observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 0}),
                1
            )),
            status("Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated...\n", false)
        );
        assert_eq!(
            statefulset_status(&base(
                partitioned,
                serde_json::json!({"replicas": 3, "observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1}),
                1
            )),
            status("partitioned roll out complete: 1 new pods have been updated...\n", true)
        );
        let revisions = |update: &str, current: &str| {
            serde_json::json!({"replicas": 3, "observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 2, "currentReplicas": 3,
                               "updateRevision": update, "currentRevision": current})
        };
        assert_eq!(
            statefulset_status(&base(rolling.clone(), revisions("foo-2", "foo-1"), 1)),
            status("waiting for statefulset rolling update to complete 2 pods at revision foo-2...\n", false)
        );
        assert_eq!(
            statefulset_status(&base(rolling, revisions("foo-2", "foo-2"), 1)),
            status("statefulset rolling update complete 3 pods at revision foo-2...\n", true)
        );
    }

    #[test]
    fn daemonset_rules() {
        let ds = |strategy: &str, generation: i64, status: serde_json::Value| -> DaemonSet {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "foo", "generation": generation},
                "spec": {"selector": {}, "template": {}, "updateStrategy": {"type": strategy}},
                "status": status
            }))
            .unwrap()
        };
        let st = |observed: i64, desired: i32, updated: i32, available: i32| {
            serde_json::json!({"observedGeneration": observed, "desiredNumberScheduled": desired, "updatedNumberScheduled": updated,
                               "numberAvailable": available, "currentNumberScheduled": desired, "numberMisscheduled": 0, "numberReady": available})
        };
        assert_eq!(
            daemonset_status(&ds("OnDelete", 1, st(1, 1, 1, 1))).unwrap_err().to_string(),
            "rollout status is only available for RollingUpdate strategy type"
        );
        assert_eq!(
            daemonset_status(&ds("RollingUpdate", 1, st(1, 2, 1, 1))),
            status(
                "Waiting for daemon set \"foo\" rollout to finish: 1 out of 2 new pods have been updated...\n",
                false
            )
        );
        assert_eq!(
            daemonset_status(&ds("RollingUpdate", 1, st(1, 2, 2, 1))),
            status("Waiting for daemon set \"foo\" rollout to finish: 1 of 2 updated pods are available...\n", false)
        );
        assert_eq!(
            daemonset_status(&ds("RollingUpdate", 1, st(1, 2, 2, 2))),
            status("daemon set \"foo\" successfully rolled out\n", true)
        );
        assert_eq!(
            daemonset_status(&ds("RollingUpdate", 2, st(1, 2, 2, 2))),
            status("Waiting for daemon set spec update to be observed...\n", false)
        );
    }
}
