//! Reading OCI image layouts built on disk, as directories and as tars.

use ghcr_client::{
    layout::{Layout, ManifestKind, Selector},
    Error,
};
use offinfra_test_support::oci::{attestation, platform, tar_of, with, Builder};
use serde_json::json;

#[test]
fn single_manifest_from_directory_and_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    let image = b.image("app", 3);
    b.write_index(vec![with(image.clone(), "annotations", json!({"org.opencontainers.image.ref.name": "latest"}))]);

    let (_keep, tar) = tar_of(tmp.path());
    for path in [tmp.path().to_owned(), tar] {
        let layout = Layout::open(&path).unwrap();
        let selected = layout.select(&Selector::default()).unwrap();
        assert_eq!(selected.digest(), image["digest"].as_str().unwrap());
        assert_eq!(selected.manifests().len(), 1);
        assert_eq!(selected.blobs().len(), 4, "config + 3 layers");
        let on_disk = std::fs::read(tmp.path().join("blobs/sha256").join(&selected.digest()[7..])).unwrap();
        assert_eq!(selected.root().bytes, on_disk, "manifest bytes are kept exactly");
        layout.verify(&selected).unwrap();
        let by_name = Selector { reference: Some("latest".into()), ..Selector::default() };
        assert_eq!(layout.select(&by_name).unwrap().digest(), selected.digest());
    }
}

#[test]
fn buildx_attestations_are_dropped_unless_the_index_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    let amd64 = with(b.image("amd64", 2), "platform", platform("linux", "amd64"));
    let att = attestation(&b, &amd64);
    let index = b.index_blob(vec![amd64.clone(), att.clone()]);
    b.write_index(vec![index.clone()]);

    let layout = Layout::open(tmp.path()).unwrap();
    let single = layout.select(&Selector::default()).unwrap();
    assert_eq!(single.digest(), amd64["digest"].as_str().unwrap(), "provenance: false shape");
    assert_eq!(single.manifests().len(), 1);

    let whole = layout.select(&Selector { keep_index: true, ..Selector::default() }).unwrap();
    let order: Vec<String> = whole.manifests().iter().map(|m| m.descriptor.digest().to_string()).collect();
    assert_eq!(
        order,
        [amd64["digest"].as_str().unwrap(), att["digest"].as_str().unwrap(), index["digest"].as_str().unwrap()]
    );
    assert_eq!(whole.root().kind, ManifestKind::Index);
    assert_eq!(whole.blobs().len(), 3 + 2, "both manifests' configs and layers");
    layout.verify(&whole).unwrap();
}

#[test]
fn multi_platform_index_picks_by_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    let amd64 = with(b.image("amd64", 1), "platform", platform("linux", "amd64"));
    let arm64 = with(b.image("arm64", 1), "platform", json!({"os": "linux", "architecture": "arm64", "variant": "v8"}));
    b.write_index(vec![b.index_blob(vec![amd64.clone(), arm64.clone()])]);
    let layout = Layout::open(tmp.path()).unwrap();
    assert_eq!(layout.select(&Selector::default()).unwrap().digest(), amd64["digest"].as_str().unwrap());
    let arm = Selector { platform: "linux/arm64".parse().unwrap(), ..Selector::default() };
    assert_eq!(layout.select(&arm).unwrap().digest(), arm64["digest"].as_str().unwrap());
    let riscv = Selector { platform: "linux/riscv64".parse().unwrap(), ..Selector::default() };
    let err = layout.select(&riscv).unwrap_err().to_string();
    assert!(err.contains("linux/riscv64") && err.contains("linux/arm64/v8"), "{err}");
    assert!("linux".parse::<ghcr_client::layout::PlatformSpec>().is_err());
}

#[test]
fn bad_layouts_fail_before_anything_is_pushed() {
    // No oci-layout file.
    let tmp = tempfile::tempdir().unwrap();
    let err = Layout::open(tmp.path()).unwrap_err();
    assert!(matches!(err, Error::NotALayout { .. }), "{err}");

    // index.json that is not JSON.
    let b = Builder::new(tmp.path());
    std::fs::write(tmp.path().join("index.json"), "{not json").unwrap();
    let err = Layout::open(tmp.path()).unwrap_err();
    assert!(matches!(err, Error::BadJson { ref what, .. } if what == "index.json"), "{err}");

    // A missing layer is named by digest at selection time.
    let image = b.image("app", 2);
    b.write_index(vec![image.clone()]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("blobs/sha256").join(&image["digest"].as_str().unwrap()[7..])).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][1]["digest"].as_str().unwrap().to_owned();
    let layer_path = tmp.path().join("blobs/sha256").join(&layer[7..]);
    let saved = std::fs::read(&layer_path).unwrap();
    std::fs::remove_file(&layer_path).unwrap();
    let err = Layout::open(tmp.path()).unwrap().select(&Selector::default()).unwrap_err();
    assert!(matches!(err, Error::MissingBlob { ref digest, .. } if *digest == layer), "{err}");

    // Same size, other content: caught by verify, naming the digest.
    let mut corrupt = saved.clone();
    corrupt[0] ^= 0xff;
    std::fs::write(&layer_path, &corrupt).unwrap();
    let layout = Layout::open(tmp.path()).unwrap();
    let selected = layout.select(&Selector::default()).unwrap();
    let err = layout.verify(&selected).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { ref digest, .. } if *digest == layer), "{err}");

    // Truncated: a size mismatch.
    std::fs::write(&layer_path, &saved[..10]).unwrap();
    let err = layout.verify(&selected).unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { expected, actual: 10, .. } if expected == saved.len() as u64), "{err}");
    std::fs::write(&layer_path, &saved).unwrap();
    layout.verify(&selected).unwrap();

    // Two images and no selector.
    let other = b.image("other", 1);
    b.write_index(vec![
        with(image, "annotations", json!({"org.opencontainers.image.ref.name": "one"})),
        with(other, "annotations", json!({"org.opencontainers.image.ref.name": "two"})),
    ]);
    let layout = Layout::open(tmp.path()).unwrap();
    let err = layout.select(&Selector::default()).unwrap_err().to_string();
    assert!(err.contains("one, two"), "{err}");
    let err =
        layout.select(&Selector { reference: Some("three".into()), ..Selector::default() }).unwrap_err().to_string();
    assert!(err.contains("\"three\"") && err.contains("one, two"), "{err}");
    assert!(layout.select(&Selector { reference: Some("two".into()), ..Selector::default() }).is_ok());

    // A tar with no layout in it.
    let junk = tmp.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive at all").unwrap();
    assert!(Layout::open(&junk).is_err());
}

#[test]
fn a_directory_layout_cannot_point_outside_itself() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"not yours").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    let image = b.image("app", 1);
    b.write_index(vec![image]);
    let layout = Layout::open(tmp.path()).unwrap();
    let selected = layout.select(&Selector::default()).unwrap();
    // Swap a layer for a symlink that leads out of the layout.
    let layer = selected.blobs().last().unwrap().digest().to_string();
    let blob = tmp.path().join("blobs/sha256").join(&layer[7..]);
    std::fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), &blob).unwrap();
    let err = layout.select(&Selector::default()).unwrap_err();
    assert!(err.to_string().contains("outside the layout"), "{err}");
    assert!(Layout::open(tmp.path()).unwrap().blob_location(selected.blobs().last().unwrap()).is_err());

    // index.json itself a symlink out.
    std::fs::remove_file(tmp.path().join("index.json")).unwrap();
    std::fs::write(outside.path().join("index.json"), br#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
    std::os::unix::fs::symlink(outside.path().join("index.json"), tmp.path().join("index.json")).unwrap();
    let err = Layout::open(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("outside the layout"), "{err}");
}

#[test]
fn an_oversized_index_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    b.write_index(vec![b.image("app", 1)]);
    let padding = " ".repeat(5 * 1024 * 1024);
    std::fs::write(tmp.path().join("index.json"), format!("{{\"schemaVersion\":2,\"manifests\":[]{padding}}}"))
        .unwrap();
    let err = Layout::open(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");
}
