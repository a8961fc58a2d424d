//! The bench image, generated once as an OCI layout.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

use sha2::{Digest, Sha256};

struct Rng(u64);

impl Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let bytes = self.0.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Writes gzip(`mib` MiB + `kib` KiB of pseudo-random bytes) as a blob; returns its descriptor JSON.
fn gzip_blob(dir: &Path, rng: &mut Rng, bytes: u64) -> serde_json::Value {
    let tmp = dir.join("blobs/sha256/.tmp");
    let file = std::fs::File::create(&tmp).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    let mut buf = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        encoder.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    encoder.finish().unwrap().flush().unwrap();
    let data = std::fs::read(&tmp).unwrap();
    let digest = format!("{:x}", Sha256::digest(&data));
    std::fs::rename(&tmp, dir.join("blobs/sha256").join(&digest)).unwrap();
    serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{digest}"), "size": data.len()})
}

fn json_blob(dir: &Path, value: &serde_json::Value, media_type: &str) -> serde_json::Value {
    let data = serde_json::to_vec(value).unwrap();
    let digest = format!("{:x}", Sha256::digest(&data));
    std::fs::write(dir.join("blobs/sha256").join(&digest), &data).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{digest}"), "size": data.len()})
}

/// The bench image: one `mib` MiB gzip layer of pseudo-random data and 20 gzip layers of 64 KiB, as an OCI
/// layout named `bench` (deterministic: the same bytes every time).
pub fn generate(dir: &Path, mib: u64) {
    eprintln!("generating {} ({mib} MiB layer + 20 x 64 KiB)…", dir.display());
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let mut rng = Rng(0x6768_6372_2d62_656e);
    let mut layers = vec![gzip_blob(dir, &mut rng, mib << 20)];
    for _ in 0..20 {
        layers.push(gzip_blob(dir, &mut rng, 64 << 10));
    }
    let config = json_blob(
        dir,
        &serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {}}),
        "application/vnd.oci.image.config.v1+json",
    );
    let manifest = json_blob(
        dir,
        &serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": layers}),
        "application/vnd.oci.image.manifest.v1+json",
    );
    let mut entry = manifest;
    entry["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "bench"});
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [entry]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(dir.join("done"), b"").unwrap();
}

/// What an image bench runs on: the size (`<PREFIX>_MIB`, default 512) and run count (`<PREFIX>_RUNS`,
/// default 5), the bench image's layout (generated on first use), and each named example built as we ship
/// it (`--profile dist`), by path.
pub struct Setup {
    /// The big layer's size in MiB.
    pub mib: u64,
    /// Runs per tool.
    pub runs: usize,
    /// The layout directory.
    pub layout: PathBuf,
    /// The examples' paths, in the order asked.
    pub examples: Vec<String>,
}

/// See [`Setup`].
pub fn setup(prefix: &str, examples: &[&str]) -> Setup {
    let number = |name: &str, default: u64| {
        std::env::var(format!("{prefix}_{name}")).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    let (mib, runs) = (number("MIB", 512), number("RUNS", 5) as usize);
    let exe = std::env::current_exe().expect("current exe");
    let target_dir = exe.parent().and_then(Path::parent).and_then(Path::parent).expect("target dir").to_owned();
    let layout = target_dir.join("bench-layouts").join(format!("push-{mib}m"));
    if !layout.join("done").exists() {
        generate(&layout, mib);
    }
    let mut args = vec!["build", "--profile", "dist"];
    for example in examples {
        args.extend(["--example", example]);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo).args(&args).status().expect("cargo runs");
    assert!(status.success(), "building {examples:?} failed");
    let examples =
        examples.iter().map(|e| target_dir.join("dist").join("examples").join(e).display().to_string()).collect();
    Setup { mib, runs, layout, examples }
}
