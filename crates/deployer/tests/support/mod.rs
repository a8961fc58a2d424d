//! A real Kubernetes control plane for tests: the one `.ci/run` started, or one of our own.
#![allow(dead_code)]

use std::{path::PathBuf, process::Command};

use deployer::kube::{
    config::{KubeConfigOptions, Kubeconfig},
    Client, Config,
};

/// A control plane: the one `.ci/run` started (`OFFINFRA_K8S_KUBECONFIG`), or one of our own.
pub struct Cluster {
    pub kubeconfig: PathBuf,
    own: Option<tempfile::TempDir>,
}

fn scripts() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/scripts"))
        .find(|d| d.join("k8s-up.sh").is_file())
        .expect("shared/scripts/k8s-up.sh beside the checkout")
}

impl Cluster {
    pub fn get() -> Self {
        if let Some(path) = std::env::var_os("OFFINFRA_K8S_KUBECONFIG").filter(|p| !p.is_empty()) {
            return Self { kubeconfig: path.into(), own: None };
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("sh").arg(scripts().join("k8s-up.sh")).arg(dir.path()).output().unwrap();
        assert!(out.status.success(), "k8s-up.sh: {}", String::from_utf8_lossy(&out.stderr));
        Self { kubeconfig: dir.path().join("kubeconfig"), own: Some(dir) }
    }

    /// The API server's `(host, port)`.
    pub fn server(&self) -> (String, u16) {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let server = kubeconfig.clusters[0].cluster.as_ref().unwrap().server.clone().unwrap();
        let (host, port) = server.trim_start_matches("https://").rsplit_once(':').unwrap();
        (host.to_owned(), port.parse().unwrap())
    }

    /// A fresh namespace (named after `prefix` and this process) whose default ServiceAccount has its
    /// token, so pods can be created in it at once.
    pub async fn namespace(&self, client: &Client, prefix: &str) -> String {
        use deployer::kube::api::{Api, PostParams};
        use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};

        let name = format!("{prefix}-{}", std::process::id());
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        namespaces.create(&PostParams::default(), &ns).await.unwrap();
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        for _ in 0..100 {
            if let Ok(Some(sa)) = accounts.get_opt("default").await {
                if sa.secrets.is_some_and(|s| !s.is_empty()) {
                    return name;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("serviceaccount/default in {name} never got its token");
    }

    pub async fn client(&self) -> Client {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
        Client::try_from(config).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = &self.own {
            let _ = Command::new("sh").arg(scripts().join("k8s-down.sh")).arg(dir.path()).output();
        }
    }
}

/// The scheduler's and kubelet's part for one namespace, as shared/scripts/k8s-smoke.sh plays it: every
/// live pod is bound to a Ready fake Node and marked Running/Ready, except pods that run an image ending
/// in [`BROKEN`] (bound, never ready: a crash-looping release); pods being deleted are force-deleted.
/// Stops when dropped.
pub struct Kubelet {
    task: tokio::task::JoinHandle<()>,
}

/// Images ending in this never become ready.
pub const BROKEN: &str = ":broken";

const NODE: &str = "fake-node";

impl Kubelet {
    pub async fn start(client: Client, namespace: &str) -> Self {
        use deployer::kube::api::{Api, Patch, PatchParams, PostParams};
        use k8s_openapi::api::core::v1::Node;

        let nodes: Api<Node> = Api::all(client.clone());
        let node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}}
        }))
        .unwrap();
        match nodes.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(deployer::kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => panic!("create node: {e}"),
        }
        let ready = serde_json::json!({"status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "fake"}],
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}
        }});
        nodes.patch_status(NODE, &PatchParams::default(), &Patch::Merge(ready)).await.unwrap();
        let namespace = namespace.to_owned();
        let task = tokio::spawn(async move {
            loop {
                // Errors (a pod deleted between list and patch) are the next pass's problem.
                let _ = kubelet_pass(&client, &namespace).await;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        });
        Self { task }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn kubelet_pass(client: &Client, namespace: &str) -> Result<(), deployer::kube::Error> {
    use deployer::kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
    use k8s_openapi::api::core::v1::Pod;

    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    for pod in pods.list(&ListParams::default()).await?.items {
        let name = pod.metadata.name.clone().unwrap_or_default();
        if pod.metadata.deletion_timestamp.is_some() {
            pods.delete(&name, &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() }).await?;
            continue;
        }
        let spec = pod.spec.clone().unwrap_or_default();
        if spec.node_name.is_none() {
            let binding = serde_json::json!({
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}
            });
            pods.create_subresource::<_, serde_json::Value>("binding", &name, &PostParams::default(), &binding).await?;
        }
        let broken = spec.containers.iter().any(|c| c.image.as_deref().is_some_and(|i| i.ends_with(BROKEN)));
        let is_ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if broken || is_ready {
            continue;
        }
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let status = serde_json::json!({"status": {
            "phase": "Running", "hostIP": "127.0.0.1", "podIP": "10.244.0.10", "startTime": now,
            "conditions": [
                {"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
                {"type": "Ready", "status": "True", "lastTransitionTime": now}
            ],
            "containerStatuses": spec.containers.iter().map(|c| serde_json::json!({
                "name": c.name, "ready": true, "started": true, "restartCount": 0,
                "image": c.image, "imageID": c.image, "containerID": format!("containerd://{name}-{}", c.name),
                "state": {"running": {"startedAt": now}}
            })).collect::<Vec<_>>()
        }});
        pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status)).await?;
    }
    Ok(())
}

pub async fn delete_namespace(client: &Client, name: &str) {
    let namespaces: deployer::kube::api::Api<k8s_openapi::api::core::v1::Namespace> =
        deployer::kube::api::Api::all(client.clone());
    namespaces.delete(name, &Default::default()).await.unwrap();
}

/// A Deployment `name` of `replicas` pods running one container `app` (`registry.invalid/app:1`), with
/// `progressDeadlineSeconds` = `deadline`.
pub fn deployment(name: &str, replicas: i32, deadline: i32) -> k8s_openapi::api::apps::v1::Deployment {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "progressDeadlineSeconds": deadline, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}}}
    }))
    .unwrap()
}
