//! A real Kubernetes control plane for tests (etcd, kube-apiserver, kube-controller-manager on loopback,
//! `testenv/k8s-up.sh`), and a test that plays the scheduler and the kubelet.
//!
//! [`Cluster::get`] finds the control plane that `cargo xtask test-env up` or `cargo xtask test` started
//! in `<state dir>/k8s` (see [`crate::env::state_dir`]). When there is none, the first test of the process
//! starts one in a temp dir, shared by every test of that process and stopped by a watcher process when
//! the test process ends (however it ends). Building the binaries is `cargo xtask test-env up`'s job:
//! without them the test fails and says so.

use std::{
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::Duration,
};

use kube::{
    config::{KubeConfigOptions, Kubeconfig},
    Client, Config,
};

/// A running control plane.
pub struct Cluster {
    /// Its kubeconfig (admin token, CA data, namespace `default`).
    pub kubeconfig: PathBuf,
}

/// The API server's `(host, port)` named in `kubeconfig`.
fn server_of(kubeconfig: &Path) -> Option<(String, u16)> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).ok()?;
    let server = kubeconfig.clusters.first()?.cluster.as_ref()?.server.clone()?;
    let (host, port) = server.trim_start_matches("https://").rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

/// Whether something accepts connections at the API server `kubeconfig` names.
fn answers(kubeconfig: &Path) -> bool {
    let Some((host, port)) = server_of(kubeconfig) else { return false };
    let Ok(addr) = format!("{host}:{port}").parse::<SocketAddr>() else { return false };
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

/// Starts a control plane in a new temp dir, and a watcher that stops it and deletes the dir once this
/// process has exited. The watcher ignores SIGINT and SIGHUP, so a Ctrl-C that ends the tests does not
/// leave the control plane running.
fn start_own() -> PathBuf {
    let dir = tempfile::Builder::new().prefix("offinfra-k8s-test.").tempdir().expect("a temp dir").keep();
    let recipes = crate::env::recipes();
    // Watched before it starts: neither a Ctrl-C during the recipe nor the end of the tests leaves a
    // control plane behind.
    let down = recipes.join("k8s-down.sh");
    crate::env::watch(&dir, &["sh".as_ref(), down.as_os_str(), dir.as_os_str()]);
    let out = Command::new("sh")
        .arg(recipes.join("k8s-up.sh"))
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("sh runs testenv/k8s-up.sh");
    if !out.status.success() {
        panic!(
            "no running control plane in {} and none could be started (`cargo xtask test-env up` installs, \
             builds and starts one):\n{}",
            crate::env::state_dir().join("k8s").display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("started a control plane for this test process in {}", dir.display());
    dir.join("kubeconfig")
}

impl Cluster {
    /// The control plane of the test environment, or one of this process's own (see the module doc).
    pub fn get() -> &'static Self {
        static CLUSTER: OnceLock<Cluster> = OnceLock::new();
        CLUSTER.get_or_init(|| {
            let shared = crate::env::state_dir().join("k8s/kubeconfig");
            let kubeconfig = if shared.is_file() && answers(&shared) { shared } else { start_own() };
            Cluster { kubeconfig }
        })
    }

    /// The API server's `(host, port)`.
    pub fn server(&self) -> (String, u16) {
        server_of(&self.kubeconfig).expect("the kubeconfig names an https://host:port server")
    }

    /// A fresh namespace (named after `prefix`, this process and the time) whose default ServiceAccount
    /// has its token, so pods can be created in it at once.
    pub async fn namespace(&self, client: &Client, prefix: &str) -> String {
        use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
        use kube::api::{Api, PostParams};

        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        let name = format!("{prefix}-{}-{:x}", std::process::id(), nanos % 0x10000);
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
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("serviceaccount/default in {name} never got its token");
    }

    /// An admin client.
    pub async fn client(&self) -> Client {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
        Client::try_from(config).unwrap()
    }
}

/// The scheduler's and kubelet's part for one namespace, as testenv/k8s-up.sh describes it: every
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
    /// Creates the Ready fake Node (once) and starts playing the kubelet in `namespace`.
    pub async fn start(client: Client, namespace: &str) -> Self {
        use k8s_openapi::api::core::v1::Node;
        use kube::api::{Api, Patch, PatchParams, PostParams};

        let nodes: Api<Node> = Api::all(client.clone());
        let node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}}
        }))
        .unwrap();
        match nodes.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
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

async fn kubelet_pass(client: &Client, namespace: &str) -> Result<(), kube::Error> {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};

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

/// Deletes namespace `name` (and, through the controllers, everything in it).
pub async fn delete_namespace(client: &Client, name: &str) {
    let namespaces: kube::api::Api<k8s_openapi::api::core::v1::Namespace> = kube::api::Api::all(client.clone());
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
