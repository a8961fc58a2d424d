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
