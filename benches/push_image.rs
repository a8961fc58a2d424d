//! `push-image` against `skopeo copy` on a local registry: first push and a second tag.
//!
//! ```sh
//! cargo bench --bench push_image                      # 512 MiB layer + 20 x 64 KiB, 5 runs each
//! PUSH_BENCH_MIB=2048 PUSH_BENCH_RUNS=3 cargo bench --bench push_image
//! ```
//!
//! The layout is generated once, deterministically (target/bench-layouts/): one gzip layer of
//! `PUSH_BENCH_MIB` MiB of pseudo-random data, 20 gzip layers of 64 KiB, a config, a manifest and an
//! `index.json` naming the image `bench`. Each run starts a fresh anonymous registry on loopback
//! (testenv/registry-up.sh), pushes `:tag1` (every blob uploaded), then `:tag2` (every blob
//! already present), for ours and for skopeo (with its blob-info cache removed first), alternating
//! which goes first. Wall time is the median; peak memory the largest max RSS (`/usr/bin/time`).

mod common;

use std::{io::Write, path::Path, process::Command};

use offinfra_test_support::oci::{Auth, LocalRegistry};
use sha2::{Digest, Sha256};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mib: u64 = std::env::var("PUSH_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    let runs: usize = std::env::var("PUSH_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let exe = std::env::current_exe().expect("current exe");
    let target_dir = exe.parent().and_then(Path::parent).and_then(Path::parent).expect("target dir").to_owned();
    let layout = target_dir.join("bench-layouts").join(format!("push-{mib}m"));
    if !layout.join("done").exists() {
        generate(&layout, mib);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--profile", "dist", "--example", "push-image"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building push-image failed");
    let ours = target_dir.join("dist").join("examples").join("push-image");

    let mut results: Vec<(&str, Vec<f64>, Vec<f64>, u64)> =
        vec![("push-image (offinfra)", vec![], vec![], 0), ("skopeo copy", vec![], vec![], 0)];
    for run in 0..runs {
        let order: [usize; 2] = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let registry = LocalRegistry::start(Auth::Anonymous);
            let repo = format!("{}/bench/img", registry.host());
            let mut times = Vec::new();
            let mut peak = 0;
            for tag in ["tag1", "tag2"] {
                let (program, args): (String, Vec<String>) = if which == 0 {
                    (
                        ours.display().to_string(),
                        vec![
                            "--layout".into(),
                            layout.display().to_string(),
                            "--repository".into(),
                            repo.clone(),
                            "--tag".into(),
                            tag.into(),
                        ],
                    )
                } else {
                    let _ = std::fs::remove_file("/var/lib/containers/cache/blob-info-cache-v1.boltdb");
                    (
                        "skopeo".into(),
                        vec![
                            "copy".into(),
                            "--quiet".into(),
                            "--dest-tls-verify=false".into(),
                            format!("oci:{}:bench", layout.display()),
                            format!("docker://{repo}:{tag}"),
                        ],
                    )
                };
                let (secs, kib) = common::measure(Path::new("."), &program, &args);
                times.push(secs);
                peak = peak.max(kib);
            }
            results[which].1.push(times[0]);
            results[which].2.push(times[1]);
            results[which].3 = results[which].3.max(peak);
        }
    }
    let median = |v: &mut Vec<f64>| common::median(v);
    let mut rows = Vec::new();
    for (name, first, second, peak) in &mut results {
        rows.push((*name, median(first), median(second), *peak as f64 / 1024.0));
    }
    let (_, skopeo_first, skopeo_second, _) = rows[1];
    println!("| tool | first push (median) | second tag (median) | peak RSS | first vs skopeo | second vs skopeo |");
    println!("|---|---|---|---|---|---|");
    for (name, first, second, peak) in &rows {
        println!(
            "| {name} | {first:.2} s | {second:.3} s | {peak:.1} MiB | {:.2}x | {:.2}x |",
            first / skopeo_first,
            second / skopeo_second
        );
    }
    println!("({runs} runs each; one {mib} MiB layer + 20 x 64 KiB; fresh registry per run)");
}

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

fn generate(dir: &Path, mib: u64) {
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
