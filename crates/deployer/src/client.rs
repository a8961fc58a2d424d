//! The kube-rs side: set image, rollout status and the watch-based wait, against a real API server.

use std::{path::Path, time::Duration};

use futures_util::StreamExt;
use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
    batch::v1::{CronJob, Job},
    core::v1::{Pod, PodSpec},
};
use kube::{
    api::{Patch, PatchParams},
    runtime::{watcher, WatchStreamExt},
    Api, Client,
};

use crate::{
    rollout_status::{daemonset_status, deployment_status, statefulset_status, RolloutError, RolloutStatus},
    set_image::{plan, ImagePair, PodSpecAt, SetImagePlan},
};

/// The field manager our patches are recorded under.
pub const FIELD_MANAGER: &str = "deployer";

/// The workload kinds `set image` handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// apps/v1 Deployment
    Deployment,
    /// apps/v1 StatefulSet
    StatefulSet,
    /// apps/v1 DaemonSet
    DaemonSet,
    /// apps/v1 ReplicaSet
    ReplicaSet,
    /// batch/v1 Job
    Job,
    /// batch/v1 CronJob
    CronJob,
    /// v1 Pod
    Pod,
}

impl Kind {
    /// Whether kubectl has a rollout status for the kind (Deployments, StatefulSets, DaemonSets): the
    /// others take the new image when their next pod starts.
    pub fn has_rollout_status(self) -> bool {
        matches!(self, Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet)
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    /// kubectl's names and short names.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "deployment" | "deployments" | "deploy" => Kind::Deployment,
            "statefulset" | "statefulsets" | "sts" => Kind::StatefulSet,
            "daemonset" | "daemonsets" | "ds" => Kind::DaemonSet,
            "replicaset" | "replicasets" | "rs" => Kind::ReplicaSet,
            "job" | "jobs" => Kind::Job,
            "cronjob" | "cronjobs" | "cj" => Kind::CronJob,
            "pod" | "pods" | "po" => Kind::Pod,
            other => {
                return Err(format!(
                    "unknown kind {other:?}: deployment, statefulset, daemonset, replicaset, job, cronjob or pod"
                ))
            }
        })
    }
}

impl Kind {
    /// kubectl's `<resource>.<group>` prefix of output lines, e.g. `deployment.apps`.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Deployment => "deployment.apps",
            Kind::StatefulSet => "statefulset.apps",
            Kind::DaemonSet => "daemonset.apps",
            Kind::ReplicaSet => "replicaset.apps",
            Kind::Job => "job.batch",
            Kind::CronJob => "cronjob.batch",
            Kind::Pod => "pod",
        }
    }
}

/// Everything that can go wrong; texts follow kubectl's where kubectl has one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist.
    #[error("Error from server (NotFound): {0}")]
    NotFound(String),
    /// Some `NAME=IMAGE` pairs matched no container (the others were applied when `applied`).
    #[error("{}", .errors.join("\n"))]
    MissingContainers {
        /// kubectl's `unable to find container named "x"` lines.
        errors: Vec<String>,
        /// Whether a patch for the other pairs was sent.
        applied: bool,
    },
    /// `rollout status` exists only for Deployments, StatefulSets and DaemonSets.
    #[error("no status viewer has been implemented for {0:?}")]
    NoStatusViewer(Kind),
    /// The object was deleted while we waited.
    #[error("object has been deleted")]
    Deleted,
    /// `rollout undo` cannot proceed (kubectl's texts: no history, unknown revision, paused).
    #[error("{0}")]
    Undo(String),
    /// The API server's answer or the connection.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// The client configuration (kubeconfig or in-cluster) could not be loaded.
    #[error("cannot configure the Kubernetes client: {what}")]
    Config {
        /// What could not be loaded (a file, a variable).
        what: String,
        /// Why, when another error says so.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// [`Error::Config`] with no further cause.
    fn config(what: impl Into<String>) -> Self {
        Error::Config { what: what.into(), source: None }
    }

    /// [`Error::Config`] caused by `source`.
    fn config_from(what: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Config { what: what.into(), source: Some(Box::new(source)) }
    }
}

pub(crate) fn not_found(e: kube::Error) -> Error {
    match e {
        kube::Error::Api(status) if status.code == 404 => Error::NotFound(status.message.clone()),
        other => Error::Kube(other),
    }
}

/// What [`Deployer::set_image`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SetImageReport {
    /// The plan (patch, changes, misses).
    pub plan: SetImagePlan,
    /// Whether a patch was sent.
    pub applied: bool,
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    /// Rolled out; kubectl's final line.
    RolledOut(String),
    /// The rollout failed (kubectl's error text, e.g. the progress deadline).
    Failed(String),
    /// The deadline passed; the last status line.
    TimedOut(String),
}

/// What [`Deployer::undo`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoOutcome {
    /// The Deployment's template (and annotations) went back to this revision.
    RolledBack {
        /// The revision restored.
        revision: i64,
    },
    /// The template already matched that revision: nothing sent (kubectl: "skipped rollback").
    Skipped {
        /// The revision that matched.
        revision: i64,
    },
}

/// Annotations a rollback keeps from the Deployment rather than taking from the ReplicaSet.
const UNDO_SKIPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// Where a pod's service-account credentials (`token`, `ca.crt`, `namespace`) are mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// kube's in-cluster configuration, from any directory: a one-context kubeconfig naming the token and CA
/// files (so the token is re-read as it rotates) and the namespace the file holds.
async fn service_account_config(dir: &Path, host: &str, port: u16) -> Result<kube::Config, Error> {
    let file = |name: &str| {
        let path = dir.join(name);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path.to_string_lossy().into_owned()),
            Ok(_) => Err(Error::config(format!("service account {name} {}: not a file", path.display()))),
            Err(e) => Err(Error::config_from(format!("service account {name} {}", path.display()), e)),
        }
    };
    let token = file("token")?;
    let ca = file("ca.crt")?;
    let namespace = std::fs::read_to_string(file("namespace")?)
        .map_err(|e| Error::config_from(format!("service account namespace in {}", dir.display()), e))?;
    // IPv6 hosts are bracketed; 443 is implied.
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
    let server = if port == 443 { format!("https://{host}") } else { format!("https://{host}:{port}") };
    let kubeconfig: kube::config::Kubeconfig = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": "service-account", "user": {"tokenFile": token}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "service-account", "namespace": namespace.trim()}}],
        "current-context": "in-cluster"
    }))
    .map_err(|e| Error::config_from(format!("in-cluster configuration for {server}"), e))?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| Error::config_from(format!("in-cluster configuration for {server} from {}", dir.display()), e))
}

/// A Kubernetes client bound to one namespace.
#[derive(Clone)]
#[non_exhaustive]
pub struct Deployer {
    client: Client,
    namespace: String,
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer").field("namespace", &self.namespace).finish()
    }
}

impl Deployer {
    /// A client from the kubeconfig (`$KUBECONFIG`, else `~/.kube/config`), else the in-cluster service
    /// account ([`SERVICE_ACCOUNT_DIR`] and `KUBERNETES_SERVICE_HOST`/`_PORT`), as kubectl orders them. A
    /// kubeconfig that is named (`KUBECONFIG`) or present but unusable is an error: falling back to the
    /// pod's service account would deploy with credentials nobody asked for. The namespace is
    /// `namespace`, else the context's, else the service account's namespace file.
    pub async fn infer(namespace: Option<&str>) -> Result<Self, Error> {
        let named = std::env::var("KUBECONFIG").ok().filter(|v| !v.is_empty());
        let default_file = std::env::var_os("HOME").map(|home| Path::new(&home).join(".kube").join("config"));
        let config = match kube::Config::from_kubeconfig(&kube::config::KubeConfigOptions::default()).await {
            Ok(config) => config,
            Err(e) if named.is_some() => {
                return Err(Error::config_from(format!("KUBECONFIG {:?}", named.unwrap_or_default()), e))
            }
            Err(e) if default_file.as_deref().is_some_and(Path::exists) => {
                let path = default_file.unwrap_or_default();
                return Err(Error::config_from(path.display().to_string(), e));
            }
            Err(kubeconfig) => {
                let host = std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default();
                let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default();
                if host.is_empty() || port.is_empty() {
                    return Err(Error::config_from(
                        "no usable kubeconfig and not in a cluster \
                         (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)",
                        kubeconfig,
                    ));
                }
                let port = port.parse::<u16>().map_err(|e| {
                    Error::config_from(format!("KUBERNETES_SERVICE_PORT {port:?} is not a port number"), e)
                })?;
                service_account_config(Path::new(SERVICE_ACCOUNT_DIR), &host, port).await?
            }
        };
        Self::from_config(config, namespace)
    }

    /// A client that authenticates as the service account whose token, `ca.crt` and `namespace` files are
    /// in `dir` (a pod mounts them at [`SERVICE_ACCOUNT_DIR`]), talking to the API server at `host:port`.
    /// The token file is re-read as it rotates.
    pub async fn in_cluster(dir: &Path, host: &str, port: u16, namespace: Option<&str>) -> Result<Self, Error> {
        Self::from_config(service_account_config(dir, host, port).await?, namespace)
    }

    // No `apply_debug_overrides`: it lets an environment variable swap the credentials.
    fn from_config(config: kube::Config, namespace: Option<&str>) -> Result<Self, Error> {
        let namespace = namespace.map(str::to_owned).unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|e| Error::config_from("the client", e))?;
        Ok(Self { client, namespace })
    }

    /// A deployer over an existing client.
    pub fn new(client: Client, namespace: impl Into<String>) -> Self {
        Self { client, namespace: namespace.into() }
    }

    /// The Kubernetes client (for a deployer of another namespace: [`Deployer::new`]).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub(crate) fn api<K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>>(&self) -> Api<K>
    where
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// kubectl's `set image`: one GET, then a strategic merge patch of names and images (field manager
    /// `deployer`), nothing sent when nothing changes; misses are reported as kubectl does (the others are
    /// still applied). `dry_run` sends the patch as a server-side dry run.
    pub async fn set_image(
        &self,
        kind: Kind,
        name: &str,
        pairs: &[ImagePair],
        dry_run: bool,
    ) -> Result<SetImageReport, Error> {
        let (spec, at) = self.pod_spec(kind, name).await?;
        let plan = plan(&spec, at, pairs);
        let applied = match &plan.patch {
            Some(patch) => {
                let params =
                    PatchParams { field_manager: Some(FIELD_MANAGER.into()), dry_run, ..PatchParams::default() };
                let patch = Patch::Strategic(patch.clone());
                match kind {
                    Kind::Deployment => self.api::<Deployment>().patch(name, &params, &patch).await.map(|_| ()),
                    Kind::StatefulSet => self.api::<StatefulSet>().patch(name, &params, &patch).await.map(|_| ()),
                    Kind::DaemonSet => self.api::<DaemonSet>().patch(name, &params, &patch).await.map(|_| ()),
                    Kind::ReplicaSet => self.api::<ReplicaSet>().patch(name, &params, &patch).await.map(|_| ()),
                    Kind::Job => self.api::<Job>().patch(name, &params, &patch).await.map(|_| ()),
                    Kind::CronJob => self.api::<CronJob>().patch(name, &params, &patch).await.map(|_| ()),
                    Kind::Pod => self.api::<Pod>().patch(name, &params, &patch).await.map(|_| ()),
                }
                .map_err(not_found)?;
                true
            }
            None => false,
        };
        if !plan.missing.is_empty() {
            return Err(Error::MissingContainers { errors: plan.missing_errors(), applied });
        }
        Ok(SetImageReport { plan, applied })
    }

    /// The images a workload runs, as `(container, image)`: init containers first, then containers.
    pub async fn images(&self, kind: Kind, name: &str) -> Result<Vec<(String, String)>, Error> {
        let (spec, _) = self.pod_spec(kind, name).await?;
        Ok(spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
            .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
            .collect())
    }

    pub(crate) async fn pod_spec(&self, kind: Kind, name: &str) -> Result<(PodSpec, PodSpecAt), Error> {
        let template =
            |t: Option<k8s_openapi::api::core::v1::PodTemplateSpec>| t.and_then(|t| t.spec).unwrap_or_default();
        Ok(match kind {
            Kind::Deployment => (
                template(self.api::<Deployment>().get(name).await.map_err(not_found)?.spec.map(|s| s.template)),
                PodSpecAt::Template,
            ),
            Kind::StatefulSet => (
                template(self.api::<StatefulSet>().get(name).await.map_err(not_found)?.spec.map(|s| s.template)),
                PodSpecAt::Template,
            ),
            Kind::DaemonSet => (
                template(self.api::<DaemonSet>().get(name).await.map_err(not_found)?.spec.map(|s| s.template)),
                PodSpecAt::Template,
            ),
            Kind::ReplicaSet => (
                template(self.api::<ReplicaSet>().get(name).await.map_err(not_found)?.spec.and_then(|s| s.template)),
                PodSpecAt::Template,
            ),
            Kind::Job => (
                template(self.api::<Job>().get(name).await.map_err(not_found)?.spec.map(|s| s.template)),
                PodSpecAt::Template,
            ),
            Kind::CronJob => {
                let cron = self.api::<CronJob>().get(name).await.map_err(not_found)?;
                (template(cron.spec.and_then(|s| s.job_template.spec).map(|j| j.template)), PodSpecAt::CronJob)
            }
            Kind::Pod => {
                (self.api::<Pod>().get(name).await.map_err(not_found)?.spec.unwrap_or_default(), PodSpecAt::Pod)
            }
        })
    }

    /// kubectl's `rollout undo` for a Deployment: back to `to_revision`, or (0) the revision before the
    /// current one, found among the ReplicaSets the Deployment controls; a JSON patch replaces the
    /// template (without `pod-template-hash`) and the annotations. Wait afterwards to see it roll out.
    pub async fn undo(&self, name: &str, to_revision: i64) -> Result<UndoOutcome, Error> {
        use k8s_openapi::api::apps::v1::ReplicaSet;
        use kube::api::ListParams;

        let deployments = self.api::<Deployment>();
        let deployment = deployments.get(name).await.map_err(not_found)?;
        let spec = deployment.spec.clone().unwrap_or_default();
        if spec.paused == Some(true) {
            return Err(Error::Undo(
                "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
                    .into(),
            ));
        }
        let selector = spec
            .selector
            .match_labels
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let uid = deployment.metadata.uid.clone().unwrap_or_default();
        let sets = self.api::<ReplicaSet>().list(&ListParams::default().labels(&selector)).await?;
        let revision_of = |rs: &ReplicaSet| {
            rs.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(crate::rollout_status::REVISION_ANNOTATION))
                .and_then(|r| r.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let mut owned: Vec<ReplicaSet> = sets
            .items
            .into_iter()
            .filter(|rs| {
                rs.metadata
                    .owner_references
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|r| r.controller == Some(true) && r.uid == uid))
            })
            .collect();
        owned.sort_by_key(|rs| std::cmp::Reverse(revision_of(rs)));
        let target = if to_revision == 0 {
            owned.get(1).ok_or_else(|| Error::Undo(format!("no rollout history found for deployment {name:?}")))?
        } else {
            owned
                .iter()
                .find(|rs| revision_of(rs) == to_revision)
                .ok_or_else(|| Error::Undo(format!("unable to find specified revision {to_revision} in history")))?
        };
        let revision = revision_of(target);
        let mut template = target.spec.clone().and_then(|s| s.template).unwrap_or_default();
        if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove("pod-template-hash");
        }
        let value_of = |t: &k8s_openapi::api::core::v1::PodTemplateSpec| serde_json::to_value(t).unwrap_or_default();
        if value_of(&template) == value_of(&spec.template) {
            return Ok(UndoOutcome::Skipped { revision });
        }
        let mut annotations: std::collections::BTreeMap<String, String> = target
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !UNDO_SKIPPED_ANNOTATIONS.contains(&k.as_str()))
            .collect();
        for (k, v) in deployment.metadata.annotations.clone().unwrap_or_default() {
            if UNDO_SKIPPED_ANNOTATIONS.contains(&k.as_str()) {
                annotations.insert(k, v);
            }
        }
        let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ]))
        .map_err(|e| Error::Undo(format!("cannot build the rollback patch: {e}")))?;
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
        deployments.patch(name, &params, &Patch::Json::<()>(patch)).await.map_err(not_found)?;
        Ok(UndoOutcome::RolledBack { revision })
    }

    /// kubectl's `rollout status` once (no waiting).
    pub async fn status(&self, kind: Kind, name: &str) -> Result<Result<RolloutStatus, RolloutError>, Error> {
        Ok(match kind {
            Kind::Deployment => deployment_status(&self.api::<Deployment>().get(name).await.map_err(not_found)?),
            Kind::StatefulSet => statefulset_status(&self.api::<StatefulSet>().get(name).await.map_err(not_found)?),
            Kind::DaemonSet => daemonset_status(&self.api::<DaemonSet>().get(name).await.map_err(not_found)?),
            other => return Err(Error::NoStatusViewer(other)),
        })
    }

    /// kubectl's `rollout status --timeout`: watches the object (re-listing with backoff when the watch
    /// breaks or its history expires), calls `on_message` each time kubectl's line changes, and ends when
    /// the rollout is done, fails, the object is deleted, or `timeout` passes (`None`: never).
    pub async fn wait(
        &self,
        kind: Kind,
        name: &str,
        timeout: Option<Duration>,
        on_message: &mut (dyn FnMut(&str) + Send),
    ) -> Result<WaitOutcome, Error> {
        match kind {
            Kind::Deployment => {
                self.watch_until(self.api::<Deployment>(), name, timeout, deployment_status, on_message).await
            }
            Kind::StatefulSet => {
                self.watch_until(self.api::<StatefulSet>(), name, timeout, statefulset_status, on_message).await
            }
            Kind::DaemonSet => {
                self.watch_until(self.api::<DaemonSet>(), name, timeout, daemonset_status, on_message).await
            }
            other => Err(Error::NoStatusViewer(other)),
        }
    }

    async fn watch_until<K>(
        &self,
        api: Api<K>,
        name: &str,
        timeout: Option<Duration>,
        rule: fn(&K) -> Result<RolloutStatus, RolloutError>,
        on_message: &mut (dyn FnMut(&str) + Send),
    ) -> Result<WaitOutcome, Error>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        // A missing object is kubectl's NotFound, before any watching.
        let first = api.get(name).await.map_err(not_found)?;
        let mut last = String::new();
        if let Some(outcome) = judge(&rule(&first), &mut last, on_message) {
            return Ok(outcome);
        }
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut events = watcher(api, config).default_backoff().boxed();
        // A timeout too large for the clock is no deadline at all (never an overflow panic).
        let deadline = timeout.and_then(|t| tokio::time::Instant::now().checked_add(t));
        loop {
            let next = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, events.next()).await {
                    Ok(next) => next,
                    Err(_) => return Ok(WaitOutcome::TimedOut(last)),
                },
                None => events.next().await,
            };
            match next {
                None => return Err(Error::Deleted),
                // The watcher recovers by itself (re-list on 410, backoff on errors): keep reading.
                Some(Err(e)) => {
                    tracing::debug!(name, error = %e, "watch error; the watcher recovers");
                    continue;
                }
                Some(Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object))) => {
                    tracing::debug!(name, version = ?object.meta().resource_version, "watch event");
                    if let Some(outcome) = judge(&rule(&object), &mut last, on_message) {
                        return Ok(outcome);
                    }
                }
                Some(Ok(watcher::Event::Delete(_))) => return Err(Error::Deleted),
                Some(Ok(_)) => {}
            }
        }
    }
}

fn judge(
    result: &Result<RolloutStatus, RolloutError>,
    last: &mut String,
    on_message: &mut (dyn FnMut(&str) + Send),
) -> Option<WaitOutcome> {
    match result {
        Ok(status) => {
            if status.message != *last {
                on_message(&status.message);
                *last = status.message.clone();
            }
            status.done.then(|| WaitOutcome::RolledOut(status.message.clone()))
        }
        Err(e) => Some(WaitOutcome::Failed(e.to_string())),
    }
}
