//! A real Distribution registry on loopback, started with the project's shared recipe and stopped on drop.
#![allow(dead_code)]

use std::{net::TcpListener, path::PathBuf, process::Command};

/// How the registry authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Anonymous,
    Basic,
    Token,
}

pub const USER: &str = "pusher";
pub const PASSWORD: &str = "s3cret-pw";

pub struct LocalRegistry {
    pub port: u16,
    dir: tempfile::TempDir,
}

/// The shared recipes live in `shared/scripts` beside the checkout.
fn scripts() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/scripts"))
        .find(|dir| dir.join("registry-up.sh").is_file())
        .unwrap_or_else(|| panic!("shared/scripts/registry-up.sh not found above {}", manifest.display()))
}

/// A port that is free now, with its token-server twin (port + 10000) free too.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port <= 55_535 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

impl LocalRegistry {
    pub fn start(auth: Auth) -> Self {
        Self::start_with(auth, None)
    }

    /// With `proxy_of`, a pull-through cache of that upstream URL.
    pub fn start_with(auth: Auth, proxy_of: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new("sh");
            cmd.arg(scripts().join("registry-up.sh")).arg(port.to_string());
            cmd.env("LOCAL_REGISTRY_DIR", dir.path()).env("LOCAL_REGISTRY_CLEAN", "1");
            match auth {
                Auth::Anonymous => {}
                Auth::Basic => {
                    cmd.args([USER, PASSWORD]).env("LOCAL_REGISTRY_AUTH", "basic");
                }
                Auth::Token => {
                    cmd.args([USER, PASSWORD]).env("LOCAL_REGISTRY_AUTH", "token");
                }
            }
            if let Some(upstream) = proxy_of {
                cmd.env("LOCAL_REGISTRY_PROXY_URL", upstream);
            }
            let out = cmd.output().unwrap();
            if out.status.success() {
                return Self { port, dir };
            }
            eprintln!(
                "registry-up.sh {port} failed, retrying on another port: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        panic!("could not start a local registry");
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg(scripts().join("registry-down.sh"))
            .arg(self.port.to_string())
            .env("LOCAL_REGISTRY_DIR", self.dir.path())
            .output();
    }
}

/// `skopeo inspect` of `docker://<image>`: the manifest digest it reads.
pub fn skopeo_digest(image: &str, creds: Option<&str>) -> String {
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--tls-verify=false", "--raw"]);
    if let Some(creds) = creds {
        cmd.args(["--creds", creds]);
    }
    let out = cmd.arg(format!("docker://{image}")).output().expect("skopeo runs (Debian package skopeo)");
    assert!(out.status.success(), "skopeo inspect {image}: {}", String::from_utf8_lossy(&out.stderr));
    ghcr_client::layout::sha256_digest(&out.stdout)
}

/// `skopeo copy docker://<image> oci:<dir>:copy`, which verifies every blob it pulls.
pub fn skopeo_pull(image: &str, creds: Option<&str>, dest: &std::path::Path) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--src-tls-verify=false", "--all"]);
    if let Some(creds) = creds {
        cmd.args(["--src-creds", creds]);
    }
    let out =
        cmd.arg(format!("docker://{image}")).arg(format!("oci:{}:copy", dest.display())).output().expect("skopeo runs");
    assert!(out.status.success(), "skopeo copy {image}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `DELETE url` (e.g. a manifest, to break an index on purpose); the status.
pub async fn delete(url: &str) -> u16 {
    let client = offinfra_http::Client::builder(url).build().unwrap();
    client.send(&offinfra_http::Request::delete(url)).await.unwrap().status.as_u16()
}
