//! What the kubelet pulls: every workload's images in a namespace, with the pull secrets it would use
//! (the pod spec's `imagePullSecrets` and its service account's).

use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, StatefulSet},
    batch::v1::CronJob,
    core::v1::{PodSpec, Secret, ServiceAccount},
};

use crate::{client::not_found, Deployer, Error, Kind};

/// One container's image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContainerImage {
    /// The container (init containers included).
    pub container: String,
    /// The image reference as written.
    pub image: String,
    /// `imagePullPolicy` as written (`None`: the API default).
    pub pull_policy: Option<String>,
}

/// A workload and what its pods pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// Its containers' images.
    pub images: Vec<ContainerImage>,
    /// The pull secrets its pods get: the pod spec's, then the service account's.
    pub pull_secrets: Vec<String>,
}

/// A pull secret as the kubelet reads it.
#[derive(Debug, Clone)]
pub enum PullSecret {
    /// A `kubernetes.io/dockerconfigjson` (or legacy `dockercfg`) secret: its docker config JSON.
    DockerConfig(Vec<u8>),
    /// Why it cannot be used (missing, another type, no data).
    Unusable(String),
}

impl Deployer {
    /// Every Deployment, StatefulSet, DaemonSet and CronJob of the namespace, with its images and pull
    /// secrets. A kind the API server does not serve (CronJob before batch/v1) is skipped and named in
    /// the second list.
    pub async fn workloads(&self) -> Result<(Vec<Workload>, Vec<String>), Error> {
        let mut out = Vec::new();
        let mut unserved = Vec::new();
        let template = |t: k8s_openapi::api::core::v1::PodTemplateSpec| t.spec.unwrap_or_default();
        let mut specs: Vec<(Kind, String, PodSpec)> = Vec::new();
        for d in self.api::<Deployment>().list(&Default::default()).await?.items {
            let spec = d.spec.map(|s| template(s.template)).unwrap_or_default();
            specs.push((Kind::Deployment, d.metadata.name.unwrap_or_default(), spec));
        }
        for s in self.api::<StatefulSet>().list(&Default::default()).await?.items {
            let spec = s.spec.map(|s| template(s.template)).unwrap_or_default();
            specs.push((Kind::StatefulSet, s.metadata.name.unwrap_or_default(), spec));
        }
        for d in self.api::<DaemonSet>().list(&Default::default()).await?.items {
            let spec = d.spec.map(|s| template(s.template)).unwrap_or_default();
            specs.push((Kind::DaemonSet, d.metadata.name.unwrap_or_default(), spec));
        }
        match self.api::<CronJob>().list(&Default::default()).await {
            Ok(list) => {
                for c in list.items {
                    let spec =
                        c.spec.and_then(|s| s.job_template.spec).map(|j| template(j.template)).unwrap_or_default();
                    specs.push((Kind::CronJob, c.metadata.name.unwrap_or_default(), spec));
                }
            }
            // Before Kubernetes 1.21 CronJobs are served as batch/v1beta1 only; the pod spec sits where it
            // sits in batch/v1.
            Err(kube::Error::Api(e)) if e.code == 404 => match self.cron_jobs_v1beta1().await {
                Ok(found) => specs.extend(found),
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    unserved.push("CronJob (batch/v1, batch/v1beta1)".to_owned())
                }
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
        for (kind, name, spec) in specs {
            out.push(self.workload_of(kind, name, spec).await?);
        }
        Ok((out, unserved))
    }

    /// The namespace's batch/v1beta1 CronJobs and their pod specs (read as dynamic objects: the typed
    /// API of this build knows batch/v1 only).
    async fn cron_jobs_v1beta1(&self) -> Result<Vec<(Kind, String, PodSpec)>, kube::Error> {
        let resource = kube::api::ApiResource {
            group: "batch".into(),
            version: "v1beta1".into(),
            api_version: "batch/v1beta1".into(),
            kind: "CronJob".into(),
            plural: "cronjobs".into(),
        };
        let api: kube::Api<kube::api::DynamicObject> =
            kube::Api::namespaced_with(self.client().clone(), self.namespace(), &resource);
        let mut out = Vec::new();
        for cron in api.list(&Default::default()).await?.items {
            let spec = cron.data["spec"]["jobTemplate"]["spec"]["template"]["spec"].clone();
            let spec: PodSpec = serde_json::from_value(spec).unwrap_or_default();
            out.push((Kind::CronJob, cron.metadata.name.unwrap_or_default(), spec));
        }
        Ok(out)
    }

    /// One workload (a Deployment, say) and what its pods pull.
    pub async fn workload(&self, kind: Kind, name: &str) -> Result<Workload, Error> {
        let (spec, _) = self.pod_spec(kind, name).await?;
        self.workload_of(kind, name.to_owned(), spec).await
    }

    /// The images of `spec` (init containers first) and the pull secrets its pods get: the pod spec's,
    /// then its service account's.
    async fn workload_of(&self, kind: Kind, name: String, spec: PodSpec) -> Result<Workload, Error> {
        let account = spec.service_account_name.clone().unwrap_or_else(|| "default".to_owned());
        let mut pull_secrets: Vec<String> = spec.image_pull_secrets.iter().flatten().map(|r| r.name.clone()).collect();
        if let Some(sa) = self.api::<ServiceAccount>().get_opt(&account).await? {
            pull_secrets.extend(sa.image_pull_secrets.iter().flatten().map(|r| r.name.clone()));
        }
        pull_secrets.dedup();
        let images = spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .map(|c| ContainerImage {
                container: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                pull_policy: c.image_pull_policy.clone(),
            })
            .collect();
        Ok(Workload { kind, name, images, pull_secrets })
    }

    /// The pull secret `name` of the namespace, as the kubelet would use it.
    pub async fn pull_secret(&self, name: &str) -> Result<PullSecret, Error> {
        let Some(secret) = self.api::<Secret>().get_opt(name).await.map_err(not_found)? else {
            return Ok(PullSecret::Unusable(format!("secret {name} does not exist in {}", self.namespace())));
        };
        let kind = secret.type_.unwrap_or_default();
        let key = match kind.as_str() {
            "kubernetes.io/dockerconfigjson" => ".dockerconfigjson",
            "kubernetes.io/dockercfg" => ".dockercfg",
            other => {
                return Ok(PullSecret::Unusable(format!("secret {name} has type {other:?}, not dockerconfigjson")))
            }
        };
        match secret.data.and_then(|mut d| d.remove(key)) {
            // The legacy format is the `auths` map alone.
            Some(bytes) if key == ".dockercfg" => {
                let auths: serde_json::Value = serde_json::from_slice(&bytes.0).unwrap_or_default();
                Ok(PullSecret::DockerConfig(serde_json::json!({ "auths": auths }).to_string().into_bytes()))
            }
            Some(bytes) => Ok(PullSecret::DockerConfig(bytes.0)),
            None => Ok(PullSecret::Unusable(format!("secret {name} has no {key}"))),
        }
    }
}
