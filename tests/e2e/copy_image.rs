//! `copy-image` between two real registries on loopback: one in token mode standing in for ghcr.io, one with
//! htpasswd standing in for the LAN registry VM. skopeo reads both sides.

use offinfra_test_support::examples::{run_example, text};
use offinfra_test_support::oci::{self, platform, skopeo_digest, with, Auth, Builder, LocalRegistry};
use serde_json::{json, Value};

fn creds() -> String {
    format!("{}:{}", oci::USER, oci::PASSWORD)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_and_indexes_are_copied_with_their_digests_and_a_rerun_sends_nothing() {
    let ghcr = LocalRegistry::start(Auth::Token);
    let lan = LocalRegistry::start(Auth::Basic);
    // A multi-arch index (two platforms and an attestation) pushed whole to the ghcr stand-in.
    let src = tempfile::tempdir().unwrap();
    let b = Builder::new(src.path());
    let amd64 = with(b.image("amd64", 3), "platform", platform("linux", "amd64"));
    let amd64_manifest = amd64["digest"].as_str().unwrap().to_owned();
    let arm64 = with(b.image("arm64", 2), "platform", platform("linux", "arm64"));
    let att = oci::attestation(&b, &amd64);
    b.write_index(vec![b.index_blob(vec![amd64, arm64, att])]);
    let source = format!("{}/viktorbarzin/infra-ci", ghcr.host());
    let login = [("REGISTRY_USERNAME", oci::USER), ("REGISTRY_PASSWORD", oci::PASSWORD)];
    let args =
        ["--layout", src.path().to_str().unwrap(), "--repository", source.as_str(), "--tag", "latest", "--keep-index"];
    let out = run_example("push-image", None, &args, &login);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pushed = text(&out.stdout).trim().to_owned();

    let creds = creds();
    let env = [("SRC_CREDS", creds.as_str()), ("DEST_CREDS", creds.as_str())];
    let destination = format!("{}/infra-ci:latest", lan.host());
    let out = run_example("copy-image", None, &[&format!("{source}:latest"), &destination, "--format", "json"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["digest"], json!(pushed), "the index keeps its digest");
    assert_eq!(report["manifests"].as_array().unwrap().len(), 4, "three children and the index");
    assert!(report["blobs"].as_array().unwrap().iter().all(|b| b[1] == "uploaded"));
    let creds_arg = Some(creds.as_str());
    assert_eq!(skopeo_digest(&format!("{source}:latest"), creds_arg), pushed);
    assert_eq!(skopeo_digest(&destination, creds_arg), pushed, "skopeo reads the same digest on the copy");

    // Again: everything is there, nothing is sent.
    let out = run_example("copy-image", None, &[&format!("{source}:latest"), &destination, "--format", "json"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(again["blobs"].as_array().unwrap().iter().all(|b| b[1] == "present"), "{again}");
    assert_eq!(again["bytes_copied"], 0);

    // By digest, into another repository with a tag of its own; the digest alone on stdout.
    let by_digest = format!("{source}@{pushed}");
    let other = format!("{}/mirror/infra-ci:break-glass", lan.host());
    let out = run_example("copy-image", None, &[&by_digest, &other], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{pushed}\n"));
    assert_eq!(skopeo_digest(&other, creds_arg), pushed);

    // One platform: its image manifest is the copied root, with its own digest.
    let single = format!("{}/infra-ci-amd64:latest", lan.host());
    let out =
        run_example("copy-image", None, &[&format!("{source}:latest"), &single, "--platform", "linux/amd64"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), amd64_manifest, "the amd64 manifest, not the index");
    assert_eq!(skopeo_digest(&single, creds_arg), amd64_manifest);

    // Saved to an OCI layout (break-glass: carried over on a disk), read by skopeo, pushed back with
    // push-image to a third repository: the same digest all the way.
    let saved = tempfile::tempdir().unwrap();
    let dir = saved.path().join("infra-ci");
    let out =
        run_example("copy-image", None, &[&format!("{source}:latest"), &format!("oci:{}:latest", dir.display())], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), pushed);
    assert_eq!(oci::sha256_digest(&std::fs::read(dir.join("blobs/sha256").join(&pushed[7..])).unwrap()), pushed);
    let inspected = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", &format!("oci:{}:latest", dir.display())])
        .output()
        .unwrap();
    assert!(inspected.status.success(), "{}", text(&inspected.stderr));
    assert_eq!(oci::sha256_digest(&inspected.stdout), pushed, "skopeo reads the saved layout");
    let third = format!("{}/restored/infra-ci", lan.host());
    let login = [("REGISTRY_USERNAME", oci::USER), ("REGISTRY_PASSWORD", oci::PASSWORD)];
    let args = ["--layout", dir.to_str().unwrap(), "--repository", third.as_str(), "--tag", "latest", "--keep-index"];
    let out = run_example("push-image", None, &args, &login);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), pushed);
    assert_eq!(skopeo_digest(&format!("{third}:latest"), creds_arg), pushed);

    // On one registry, blobs are mounted from the source repository: nothing is streamed.
    let lan_env = [("SRC_CREDS", creds.as_str()), ("DEST_CREDS", creds.as_str())];
    let sibling = format!("{}/infra-ci-sibling:latest", lan.host());
    let out = run_example("copy-image", None, &[&destination, &sibling, "--format", "json"], &lan_env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mounted: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(mounted["blobs"].as_array().unwrap().iter().all(|b| b[1] == "mounted"), "{mounted}");
    assert_eq!(skopeo_digest(&sibling, creds_arg), pushed);

    // A tar to carry over, and back from it to a registry: same digest.
    let tar = saved.path().join("infra-ci.tar");
    let out = run_example(
        "copy-image",
        None,
        &[&format!("{source}:latest"), &format!("oci-archive:{}", tar.display())],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let login = [("REGISTRY_USERNAME", oci::USER), ("REGISTRY_PASSWORD", oci::PASSWORD)];
    let pushed_tar = format!("{}/from-tar-push/infra-ci", lan.host());
    let args =
        ["--layout", tar.to_str().unwrap(), "--repository", pushed_tar.as_str(), "--tag", "latest", "--keep-index"];
    let out = run_example("push-image", None, &args, &login);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), pushed, "push-image reads the saved tar: the same digest");
    let back = format!("{}/from-tar/infra-ci:latest", lan.host());
    let out = run_example("copy-image", None, &[&format!("oci-archive:{}:latest", tar.display()), &back], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), pushed);
    assert_eq!(skopeo_digest(&back, creds_arg), pushed);

    // Every tag of a repository.
    let tagged = format!("{}/infra-ci:v2", lan.host());
    assert!(run_example("copy-image", None, &[&destination, &tagged], &lan_env).status.success());
    let everything = format!("{}/everything", lan.host());
    let out = run_example(
        "copy-image",
        None,
        &[&format!("{}/infra-ci", lan.host()), &everything, "--all-tags", "--format", "json"],
        &lan_env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2, "latest and v2: {all}");
    for tag in ["latest", "v2"] {
        assert_eq!(skopeo_digest(&format!("{everything}:{tag}"), creds_arg), pushed, "{tag}");
    }

    // Wrong destination credentials: a clear error, and the password never printed.
    let bad = format!("{}:wrong-pw", oci::USER);
    let out = run_example(
        "copy-image",
        None,
        &[&format!("{source}:latest"), &other],
        &[("SRC_CREDS", creds.as_str()), ("DEST_CREDS", bad.as_str())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("wrong-pw"));
}

/// Pushes the single manifest or index in layout `dir` under `tag` with push-image.
fn push_layout(dir: &std::path::Path, repository: &str, tag: &str, keep_index: bool) -> String {
    let login = [("REGISTRY_USERNAME", oci::USER), ("REGISTRY_PASSWORD", oci::PASSWORD)];
    let mut args = vec!["--layout", dir.to_str().unwrap(), "--repository", repository, "--tag", tag];
    if keep_index {
        args.push("--keep-index");
    }
    let out = run_example("push-image", None, &args, &login);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// An artifact manifest (empty config, one layer) whose `subject` is `subject`, in the layout of `b`.
fn referrer(b: &Builder, subject: &Value, artifact_type: &str, content: &[u8]) -> Value {
    let config = b.blob(b"{}", "application/vnd.oci.empty.v1+json");
    let layer = b.blob(content, "application/octet-stream");
    let manifest = json!({"schemaVersion": 2, "mediaType": oci::MANIFEST, "artifactType": artifact_type,
                          "config": config, "layers": [layer], "subject": subject});
    let mut descriptor = b.blob(&serde_json::to_vec(&manifest).unwrap(), oci::MANIFEST);
    descriptor["artifactType"] = json!(artifact_type);
    descriptor
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_come_along_only_when_asked() {
    let ghcr = LocalRegistry::start(Auth::Token);
    let lan = LocalRegistry::start(Auth::Basic);
    let src = tempfile::tempdir().unwrap();
    let b = Builder::new(src.path());
    let amd64 = with(b.image("amd64", 1), "platform", platform("linux", "amd64"));
    let index = b.index_blob(vec![amd64.clone()]);
    b.write_index(vec![index.clone()]);
    let source = format!("{}/viktorbarzin/signed", ghcr.host());
    let pushed = push_layout(src.path(), &source, "latest", true);
    let hex = |d: &Value| d["digest"].as_str().unwrap()[7..].to_owned();

    // A cosign-style signature of the index, under its `sha256-<hex>.sig` tag.
    let sig_dir = tempfile::tempdir().unwrap();
    let sb = Builder::new(sig_dir.path());
    let signature = referrer(&sb, &index, "application/vnd.dev.cosign.artifact.sig.v1+json", b"signature");
    sb.write_index(vec![signature.clone()]);
    let sig_tag = format!("sha256-{}.sig", hex(&index));
    assert_eq!(push_layout(sig_dir.path(), &source, &sig_tag, false), signature["digest"].as_str().unwrap());
    // An SBOM of the amd64 image, listed in OCI 1.1's fallback tag `sha256-<hex>` (an index of referrers).
    let sbom_dir = tempfile::tempdir().unwrap();
    let bb = Builder::new(sbom_dir.path());
    let sbom = referrer(&bb, &amd64, "application/spdx+json", br#"{"spdxVersion":"SPDX-2.3"}"#);
    let fallback = bb.index_blob(vec![sbom.clone()]);
    bb.write_index(vec![fallback.clone()]);
    let fallback_tag = format!("sha256-{}", hex(&amd64));
    push_layout(sbom_dir.path(), &source, &fallback_tag, true);

    let creds = creds();
    let env = [("SRC_CREDS", creds.as_str()), ("DEST_CREDS", creds.as_str())];
    let creds_arg = Some(creds.as_str());
    let lan_registry = offinfra::ghcr_client::registry::Registry::builder(&lan.host())
        .credentials(offinfra::ghcr_client::registry::Credentials::Basic {
            username: oci::USER.into(),
            password: oci::PASSWORD.to_owned().into(),
        })
        .build()
        .unwrap();

    // Without --referrers: the image alone.
    let plain = format!("{}/plain/signed:latest", lan.host());
    let out = run_example("copy-image", None, &[&format!("{source}:latest"), &plain], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(lan_registry.tags(&lan_registry.image("plain/signed").unwrap()).await.unwrap(), ["latest"]);

    // With it: the signature and the SBOM, under their tags, digests kept.
    let signed = format!("{}/with/signed", lan.host());
    let out = run_example(
        "copy-image",
        None,
        &[&format!("{source}:latest"), &format!("{signed}:latest"), "--referrers", "--format", "json"],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["digest"], json!(pushed));
    let referrers: Vec<&str> = report["referrers"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(referrers.contains(&signature["digest"].as_str().unwrap()), "{report}");
    assert!(referrers.contains(&fallback["digest"].as_str().unwrap()), "{report}");
    assert_eq!(skopeo_digest(&format!("{signed}:{sig_tag}"), creds_arg), signature["digest"].as_str().unwrap());
    assert_eq!(skopeo_digest(&format!("{signed}:{fallback_tag}"), creds_arg), fallback["digest"].as_str().unwrap());
    let (signed, sbom_digest) =
        (lan_registry.image("with/signed").unwrap(), sbom["digest"].as_str().unwrap().parse().unwrap());
    assert!(lan_registry.manifest_digest(&signed, &sbom_digest).await.unwrap().is_some());

    // Saved to a layout: each referrer under its tag.
    let saved = tempfile::tempdir().unwrap();
    let dir = saved.path().join("signed");
    let out = run_example(
        "copy-image",
        None,
        &[&format!("{source}:latest"), &format!("oci:{}:latest", dir.display()), "--referrers"],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let index_json: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let names: Vec<&str> = index_json["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .collect();
    for name in ["latest", sig_tag.as_str(), fallback_tag.as_str()] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}
