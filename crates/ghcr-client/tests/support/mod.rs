//! Test support: OCI layouts built on disk, and real registries started on loopback.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ghcr_client::layout::sha256_digest;
use serde_json::json;

pub mod registry;

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Writes blobs into `blobs/sha256/` and returns descriptors as JSON values.
pub struct Builder {
    pub dir: PathBuf,
}

impl Builder {
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Self { dir: dir.to_owned() }
    }

    pub fn blob(&self, bytes: &[u8], media_type: &str) -> serde_json::Value {
        let digest = sha256_digest(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(&digest[7..]), bytes).unwrap();
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    /// An image manifest with a config and `layers` layers of distinct content.
    pub fn image(&self, name: &str, layers: usize) -> serde_json::Value {
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

    pub fn index_blob(&self, manifests: Vec<serde_json::Value>) -> serde_json::Value {
        let bytes =
            serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests})).unwrap();
        self.blob(&bytes, INDEX)
    }

    pub fn write_index(&self, manifests: Vec<serde_json::Value>) {
        let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }
}

pub fn with(mut descriptor: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    descriptor[key] = value;
    descriptor
}

pub fn platform(os: &str, arch: &str) -> serde_json::Value {
    json!({"os": os, "architecture": arch})
}

pub fn attestation(builder: &Builder, of: &serde_json::Value) -> serde_json::Value {
    let att = builder.image("attestation", 1);
    let att = with(att, "platform", platform("unknown", "unknown"));
    with(
        att,
        "annotations",
        json!({"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": of["digest"]}),
    )
}

pub fn tar_of(dir: &Path) -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("image.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&path).unwrap());
    builder.append_dir_all(".", dir).unwrap();
    builder.finish().unwrap();
    (out, path)
}
