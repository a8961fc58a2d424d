//! OCI image layouts built on disk, real Distribution registries on loopback (started with
//! `testenv/registry-up.sh`, stopped on drop), and `skopeo` to read back what a test pushed.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// OCI image manifest media type.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI gzip layer media type.
pub const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI image config media type.
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Writes blobs into `blobs/sha256/` of an OCI layout and returns descriptors as JSON values.
pub struct Builder {
    /// The layout's directory.
    pub dir: PathBuf,
}

impl Builder {
    /// A new layout in `dir` (`oci-layout` and `blobs/sha256/`).
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Self { dir: dir.to_owned() }
    }

    /// Stores `bytes` as a blob; its descriptor.
    pub fn blob(&self, bytes: &[u8], media_type: &str) -> Value {
        let digest = sha256_digest(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(&digest[7..]), bytes).unwrap();
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    /// An image manifest with a config and `layers` layers of distinct content.
    pub fn image(&self, name: &str, layers: usize) -> Value {
        let config = self
            .blob(format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"name\":\"{name}\"}}").as_bytes(), CONFIG);
        let layers: Vec<_> =
            (0..layers).map(|i| self.blob(format!("{name} layer {i}").repeat(1000).as_bytes(), LAYER)).collect();
        // Pretty-printed on purpose: a push must send these exact bytes, not a re-serialisation.
        let manifest = serde_json::to_vec_pretty(
            &json!({"schemaVersion": 2, "mediaType": MANIFEST, "config": config, "layers": layers}),
        )
        .unwrap();
        self.blob(&manifest, MANIFEST)
    }

    /// An image index over `manifests`, stored as a blob; its descriptor.
    pub fn index_blob(&self, manifests: Vec<Value>) -> Value {
        let bytes =
            serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests})).unwrap();
        self.blob(&bytes, INDEX)
    }

    /// Writes the layout's `index.json` over `manifests`.
    pub fn write_index(&self, manifests: Vec<Value>) {
        let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }
}

/// `descriptor` with `key` set to `value`.
pub fn with(mut descriptor: Value, key: &str, value: Value) -> Value {
    descriptor[key] = value;
    descriptor
}

/// A `platform` object.
pub fn platform(os: &str, arch: &str) -> Value {
    json!({"os": os, "architecture": arch})
}

/// A buildx-style attestation manifest for the image `of`, as its index lists it.
pub fn attestation(builder: &Builder, of: &Value) -> Value {
    let att = builder.image("attestation", 1);
    let att = with(att, "platform", platform("unknown", "unknown"));
    with(
        att,
        "annotations",
        json!({"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": of["digest"]}),
    )
}

/// `dir` as a tar file `image.tar` in a new temp dir (kept alive by the returned guard).
pub fn tar_of(dir: &Path) -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("image.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&path).unwrap());
    builder.append_dir_all(".", dir).unwrap();
    builder.finish().unwrap();
    (out, path)
}

/// How a [`LocalRegistry`] authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No authentication.
    Anonymous,
    /// HTTP Basic (htpasswd) for [`USER`] / [`PASSWORD`].
    Basic,
    /// Bearer tokens from `testenv/registry-token-server.py`, as on ghcr.io: Basic credentials get every
    /// action, anonymous clients pull only.
    Token,
}

/// The one user of an authenticating [`LocalRegistry`].
pub const USER: &str = "pusher";
/// [`USER`]'s password.
pub const PASSWORD: &str = "s3cret-pw";

/// A Distribution registry (Debian's `docker-registry`) on 127.0.0.1 with its own storage, stopped and
/// deleted on drop.
pub struct LocalRegistry {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
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
    /// Starts a registry with `auth`. Panics, with the recipe's words (a missing tool is named), when it
    /// cannot.
    pub fn start(auth: Auth) -> Self {
        Self::start_with(auth, None)
    }

    /// With `proxy_of`, a pull-through cache of that upstream URL.
    pub fn start_with(auth: Auth, proxy_of: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new("sh");
            cmd.arg(crate::env::recipes().join("registry-up.sh")).arg(port.to_string());
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
            // Watched before it starts: a Ctrl-C during the recipe must not leave a registry behind.
            let down = crate::env::recipes().join("registry-down.sh");
            let dir_var = format!("LOCAL_REGISTRY_DIR={}", dir.path().display());
            let port_arg = port.to_string();
            crate::env::watch(
                dir.path(),
                &["env".as_ref(), dir_var.as_ref(), "sh".as_ref(), down.as_os_str(), port_arg.as_ref()],
            );
            let out = cmd.output().expect("sh runs testenv/registry-up.sh");
            if out.status.success() {
                return Self { port, dir };
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            if last.contains("missing:") {
                break;
            }
            eprintln!("registry-up.sh {port} failed, retrying on another port: {last}");
        }
        panic!("could not start a local registry (`cargo xtask test-env up` installs what it needs):\n{last}");
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg(crate::env::recipes().join("registry-down.sh"))
            .arg(self.port.to_string())
            .env("LOCAL_REGISTRY_DIR", self.dir.path())
            .output();
    }
}

fn run_skopeo(mut cmd: Command, what: &str) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("skopeo did not run ({e}): install the Debian package skopeo, or run `cargo xtask test`")
    });
    assert!(out.status.success(), "skopeo {what}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `skopeo inspect` of `docker://<image>`: the manifest digest it reads.
pub fn skopeo_digest(image: &str, creds: Option<&str>) -> String {
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--tls-verify=false", "--raw"]);
    if let Some(creds) = creds {
        cmd.args(["--creds", creds]);
    }
    cmd.arg(format!("docker://{image}"));
    sha256_digest(&run_skopeo(cmd, &format!("inspect {image}")))
}

/// `skopeo copy docker://<image> oci:<dir>:copy`, which verifies every blob it pulls.
pub fn skopeo_pull(image: &str, creds: Option<&str>, dest: &Path) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--src-tls-verify=false", "--all"]);
    if let Some(creds) = creds {
        cmd.args(["--src-creds", creds]);
    }
    cmd.arg(format!("docker://{image}")).arg(format!("oci:{}:copy", dest.display()));
    run_skopeo(cmd, &format!("copy {image}"));
}

/// `DELETE url` (e.g. a manifest, to break an index on purpose); the status.
pub async fn delete(url: &str) -> u16 {
    let client = offinfra_http::Client::builder(url).build().unwrap();
    client.send(&offinfra_http::Request::delete(url)).await.unwrap().status.as_u16()
}
