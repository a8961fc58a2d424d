//! `build-image` on a base held in a real registry on loopback, reached through a proxy that records every
//! request line: the pushed image is the base's layers plus ours (skopeo reads it), our layer holds the
//! files bit for bit with the modes given, a second build gives the same digest, the base's layers are
//! never downloaded, and `scratch` works.

use std::sync::{Arc, Mutex};

use offinfra_test_support::examples::{run_example, text};
use offinfra_test_support::oci::{platform, with, Auth, Builder, LocalRegistry};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TCP proxy to `upstream` that keeps a copy of every byte clients send (request lines included).
async fn recording_proxy(upstream: String) -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen: Arc<Mutex<Vec<u8>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (upstream, record) = (upstream.clone(), record.clone());
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                };
                let down = async {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                };
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    (addr, seen)
}

fn count(haystack: &[u8], needle: &str) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count()
}

fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("skopeo").args(args).output().expect("skopeo runs");
    assert!(out.status.success(), "skopeo {args:?}: {}", text(&out.stderr));
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_built_on_a_base_is_the_base_plus_our_layer_reproducibly_without_downloading_the_base() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let (proxy, seen) = recording_proxy(reg.host()).await;
    // The base: two layers, pushed to base/static:1.
    let base_dir = tempfile::tempdir().unwrap();
    let b = Builder::new(base_dir.path());
    let base_image = with(b.image("base", 2), "platform", platform("linux", "amd64"));
    b.write_index(vec![base_image.clone()]);
    let base_manifest: Value = serde_json::from_slice(
        &std::fs::read(base_dir.path().join("blobs/sha256").join(&base_image["digest"].as_str().unwrap()[7..]))
            .unwrap(),
    )
    .unwrap();
    let base_layers: Vec<String> =
        base_manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_owned()).collect();
    let base_ref = format!("{proxy}/base/static");
    let out = run_example(
        "push-image",
        None,
        &["--layout", base_dir.path().to_str().unwrap(), "--repository", &base_ref, "--tag", "1"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Our files: a "binary" and a CA bundle, with their modes.
    let files = tempfile::tempdir().unwrap();
    let binary: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(files.path().join("app"), &binary).unwrap();
    std::fs::write(files.path().join("ca.crt"), b"-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
    let add_binary = format!("{}:/usr/local/bin/app:0755", files.path().join("app").display());
    let add_ca = format!("{}:/etc/ssl/certs/ca-certificates.crt:0644", files.path().join("ca.crt").display());
    let env = [("SOURCE_DATE_EPOCH", "1700000000"), ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")];
    let from = format!("{base_ref}:1");
    let build = |extra: &[&str]| {
        let mut args = vec![
            "--from",
            from.as_str(),
            "--add",
            add_binary.as_str(),
            "--add",
            add_ca.as_str(),
            "--entrypoint",
            "/usr/local/bin/app --serve",
            "--env",
            "MODE=prod",
            "--user",
            "65532",
            "--image-version",
            "1.2.3",
            "--format",
            "json",
        ];
        args.extend(extra);
        let out = run_example("build-image", None, &args, &env);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };

    seen.lock().unwrap().clear();
    let app = format!("{proxy}/acme/app");
    let report = build(&["--repository", &app, "--tag", "v1"]);
    let digest = report["digest"].as_str().unwrap().to_owned();
    let requests = seen.lock().unwrap().clone();
    for layer in &base_layers {
        assert_eq!(
            count(&requests, &format!("GET /v2/base/static/blobs/{layer}")),
            0,
            "base layer {layer} was downloaded"
        );
    }
    let outcomes = report["pushed"]["blobs"].as_array().unwrap();
    for layer in &base_layers {
        let outcome = outcomes.iter().find(|o| o[0] == layer.as_str()).unwrap();
        assert_eq!(outcome[1], "mounted", "{outcome}");
    }

    // skopeo reads it: the base's layers, then ours.
    let image = format!("docker://{}/acme/app:v1", reg.host());
    let raw = skopeo(&["inspect", "--tls-verify=false", "--raw", &image]);
    assert_eq!(offinfra_test_support::oci::sha256_digest(&raw), digest);
    let manifest: Value = serde_json::from_slice(&raw).unwrap();
    let layers: Vec<&str> =
        manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap()).collect();
    assert_eq!(layers.len(), base_layers.len() + 1);
    assert_eq!(&layers[..base_layers.len()], base_layers.iter().map(String::as_str).collect::<Vec<_>>().as_slice());
    let config: Value =
        serde_json::from_slice(&skopeo(&["inspect", "--tls-verify=false", "--config", &image])).unwrap();
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/usr/local/bin/app", "--serve"]));
    assert_eq!(config["config"]["User"], "65532");
    assert!(config["config"]["Env"].as_array().unwrap().iter().any(|e| e == "MODE=prod"));
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
    assert_eq!(labels["org.opencontainers.image.revision"], "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(labels["org.opencontainers.image.version"], "1.2.3");

    // Our layer, as skopeo pulled it: the files bit for bit, with their modes, owned by root.
    let pulled = tempfile::tempdir().unwrap();
    let target = format!("dir:{}", pulled.path().display());
    skopeo(&["copy", "--src-tls-verify=false", &image, &target]);
    let ours = layers.last().unwrap();
    let compressed = std::fs::read(pulled.path().join(&ours[7..])).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(compressed.as_slice()), &mut plain).unwrap();
    // The test base's config lists no diff ids of its own: ours is appended, and it is our tar's.
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(diff_ids.last().unwrap(), offinfra_test_support::oci::sha256_digest(&plain).as_str());
    let gz = std::fs::File::open(pulled.path().join(&ours[7..])).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut found = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let (mode, uid, mtime) =
            (entry.header().mode().unwrap(), entry.header().uid().unwrap(), entry.header().mtime().unwrap());
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        assert_eq!((uid, mtime), (0, 1_700_000_000), "{path}");
        found.insert(path, (mode, content));
    }
    assert_eq!(found["usr/local/bin/app"], (0o755, binary.clone()));
    assert_eq!(found["etc/ssl/certs/ca-certificates.crt"].0, 0o644);

    // Again, and into a layout: the same digest; the layout is whole (skopeo reads it, push-image pushes it).
    let again = build(&["--repository", &app, "--tag", "v1-again"]);
    assert_eq!(again["digest"], digest.as_str(), "same inputs, same digest");
    let out_dir = tempfile::tempdir().unwrap();
    let layout = out_dir.path().join("app");
    let saved = build(&["--output", &format!("oci:{}:v1", layout.display())]);
    assert_eq!(saved["digest"], digest.as_str());
    let from_layout = skopeo(&["inspect", "--raw", &format!("oci:{}:v1", layout.display())]);
    assert_eq!(offinfra_test_support::oci::sha256_digest(&from_layout), digest);
    let restored = format!("{}/restored/app", reg.host());
    let out = run_example(
        "push-image",
        None,
        &["--layout", layout.to_str().unwrap(), "--repository", &restored, "--tag", "v1", "--ref", "v1"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), digest);

    // On scratch: what skopeo reads of the output `output` (oci:… or oci-archive:…) of a build with `args`.
    let on_scratch = |args: &[&str], output: &str| {
        let mut all = vec!["--from", "scratch"];
        all.extend(args);
        all.extend(["--output", output]);
        let out = run_example("build-image", None, &all, &env);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let read = if output.starts_with("oci:") { format!("{output}:latest") } else { output.to_owned() };
        serde_json::from_slice::<Value>(&skopeo(&["inspect", "--raw", &read])).unwrap()
    };

    // scratch: our layer alone, into a tar.
    let tar = format!("oci-archive:{}", out_dir.path().join("scratch.tar").display());
    let scratch = on_scratch(&["--add", &add_binary, "--entrypoint", "[\"/usr/local/bin/app\"]"], &tar);
    assert_eq!(scratch["layers"].as_array().unwrap().len(), 1);

    // Two platforms, one binary each: an index over two images, each layer holding its platform's binary.
    for arch in ["amd64", "arm64"] {
        std::fs::create_dir_all(files.path().join(arch)).unwrap();
        std::fs::write(files.path().join(arch).join("app"), format!("binary for {arch}")).unwrap();
    }
    let per_arch = format!("{}/{{arch}}/app:/app:0755", files.path().display());
    let multi = out_dir.path().join("multi");
    let platforms = ["--add", &per_arch, "--platform", "linux/amd64", "--platform", "linux/arm64"];
    let index = on_scratch(&platforms, &format!("oci:{}", multi.display()));
    let children = index["manifests"].as_array().unwrap();
    assert_eq!(children.len(), 2, "{index}");
    for (child, arch) in children.iter().zip(["amd64", "arm64"]) {
        assert_eq!(child["platform"]["architecture"], arch);
        let blob = |digest: &str| std::fs::read(multi.join("blobs/sha256").join(&digest[7..])).unwrap();
        let manifest: Value = serde_json::from_slice(&blob(child["digest"].as_str().unwrap())).unwrap();
        let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap());
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer.as_slice()));
        let mut app =
            archive.entries().unwrap().map(Result::unwrap).find(|e| e.path().unwrap().to_str() == Some("app")).unwrap();
        let mut content = String::new();
        std::io::Read::read_to_string(&mut app, &mut content).unwrap();
        assert_eq!(content, format!("binary for {arch}"));
        let config: Value = serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
        assert_eq!(config["architecture"], arch);
    }

    // A careless input: a clear error naming it, nothing on stdout.
    let out = run_example(
        "build-image",
        None,
        &["--from", "scratch", "--add", "nope:/x", "--output", "oci:/tmp/never"],
        &env,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nope"), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
}
