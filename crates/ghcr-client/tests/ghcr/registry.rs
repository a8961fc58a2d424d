//! Pushes to and reads from a real Distribution registry on loopback (anonymous, htpasswd and token
//! auth), with skopeo reading back what we pushed.

use crate::{dg, push_to, r, tag_list};
use ghcr_client::{
    layout::{Layout, Selector},
    registry::{BlobOutcome, Credentials, Registry, RegistryOptions, UploadMode},
};
use offinfra_test_support::oci::{
    platform, skopeo_digest, skopeo_pull, with, Auth, Builder, LocalRegistry, PASSWORD, USER,
};
use serde_json::json;

fn creds() -> Credentials {
    Credentials::Basic { username: USER.into(), password: PASSWORD.into() }
}

fn single_image(dir: &std::path::Path) -> Layout {
    let b = Builder::new(dir);
    let image = b.image("app", 3);
    b.write_index(vec![image]);
    Layout::open(dir).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_push_repush_mount_and_read_back() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let tmp = tempfile::tempdir().unwrap();
    let layout = single_image(tmp.path());
    let image = layout.select(&Selector::default()).unwrap();
    layout.verify(&image).unwrap();
    let registry = Registry::new(&reg.host(), Credentials::Anonymous, RegistryOptions::default()).unwrap();

    let tags = tag_list(&["abc12345", "latest"]);
    let report = push_to(&registry, &layout, &image, "team/app", &tags).await.unwrap();
    assert_eq!(report.digest, image.digest());
    assert!(report.blobs.iter().all(|(_, o)| *o == BlobOutcome::Uploaded));
    assert_eq!(report.bytes_uploaded, image.blob_bytes());
    for tag in &tags {
        assert_eq!(
            skopeo_digest(&format!("{}/team/app:{tag}", reg.host()), None),
            image.digest(),
            "skopeo agrees on {tag}"
        );
    }
    let pulled = tempfile::tempdir().unwrap();
    skopeo_pull(&format!("{}/team/app:latest", reg.host()), None, &pulled.path().join("oci"));

    // Again: nothing is uploaded.
    let again = push_to(&registry, &layout, &image, "team/app", &tags).await.unwrap();
    assert!(again.blobs.iter().all(|(_, o)| *o == BlobOutcome::Present), "{:?}", again.blobs);
    assert_eq!(again.bytes_uploaded, 0);

    // Another repository of the same registry: blobs are mounted, not uploaded.
    let mounted = registry
        .push(&layout, &image, &registry.image("team/other").unwrap())
        .tags(&tag_list(&["v1"]))
        .mount_from(Some(&registry.image("team/app").unwrap()))
        .send()
        .await
        .unwrap();
    assert!(mounted.blobs.iter().all(|(_, o)| *o == BlobOutcome::Mounted), "{:?}", mounted.blobs);

    // Reads.
    let layer = image.blobs().last().unwrap();
    let mut pulled_layer = Vec::new();
    let n = registry
        .pull_blob(&registry.image("team/app").unwrap(), &dg(layer.digest().as_ref()), &mut pulled_layer)
        .await
        .unwrap();
    let (path, _, _) = layout.blob_location(layer).unwrap();
    assert_eq!((n, pulled_layer), (layer.size(), std::fs::read(path).unwrap()));
    let fetched = registry.manifest(&registry.image("team/app").unwrap(), &r("latest")).await.unwrap().unwrap();
    assert_eq!(fetched.bytes, image.root().bytes, "pushed byte for byte");
    assert_eq!(
        registry
            .manifest_digest(&registry.image("team/app").unwrap(), &r("abc12345"))
            .await
            .unwrap()
            .map(|d| d.to_string()),
        Some(image.digest())
    );
    assert_eq!(registry.manifest_digest(&registry.image("team/app").unwrap(), &r("nope")).await.unwrap(), None);
    let mut listed = registry.tags(&registry.image("team/app").unwrap()).await.unwrap();
    listed.sort();
    assert_eq!(listed, tags.iter().map(ToString::to_string).collect::<Vec<_>>());
    let mut catalog = registry.catalog().await.unwrap();
    catalog.sort();
    assert_eq!(catalog, ["team/app", "team/other"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_uploads_to_a_real_registry() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let tmp = tempfile::tempdir().unwrap();
    let layout = single_image(tmp.path());
    let image = layout.select(&Selector::default()).unwrap();
    // Small chunks, so that every layer takes several PATCH requests.
    let opts = RegistryOptions { upload: UploadMode::Chunked, chunk_size: 4096, ..RegistryOptions::default() };
    let registry = Registry::new(&reg.host(), Credentials::Anonymous, opts).unwrap();
    let report = push_to(&registry, &layout, &image, "chunked/app", &["t"]).await.unwrap();
    assert_eq!(skopeo_digest(&format!("{}/chunked/app:t", reg.host()), None), report.digest);
    let pulled = tempfile::tempdir().unwrap();
    skopeo_pull(&format!("{}/chunked/app:t", reg.host()), None, &pulled.path().join("oci"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_and_token_auth() {
    for mode in [Auth::Basic, Auth::Token] {
        let reg = LocalRegistry::start(mode);
        let tmp = tempfile::tempdir().unwrap();
        let layout = single_image(tmp.path());
        let image = layout.select(&Selector::default()).unwrap();

        let anonymous = Registry::new(&reg.host(), Credentials::Anonymous, RegistryOptions::default()).unwrap();
        let err = push_to(&anonymous, &layout, &image, "secure/app", &["v1"]).await.unwrap_err();
        assert!(err.to_string().contains("401"), "{mode:?}: {err}");

        let wrong = Credentials::Basic { username: USER.into(), password: "wrong".into() };
        let err = Registry::new(&reg.host(), wrong, RegistryOptions::default()).unwrap().ping().await.unwrap_err();
        assert!(err.to_string().contains("401"), "{mode:?}: {err}");
        assert!(!err.to_string().contains(PASSWORD) && !err.to_string().contains("wrong"), "{err}");

        let registry = Registry::new(&reg.host(), creds(), RegistryOptions::default()).unwrap();
        let report = push_to(&registry, &layout, &image, "secure/app", &["v1"]).await.unwrap();
        let user_creds = format!("{USER}:{PASSWORD}");
        assert_eq!(skopeo_digest(&format!("{}/secure/app:v1", reg.host()), Some(&user_creds)), report.digest);
        assert!(!format!("{registry:?}").contains(PASSWORD));
        // A mount needs pull on the source repository too: the token asks for both scopes.
        let mounted = registry
            .push(&layout, &image, &registry.image("secure/other").unwrap())
            .tags(&tag_list(&["v1"]))
            .mount_from(Some(&registry.image("secure/app").unwrap()))
            .send()
            .await
            .unwrap();
        assert!(mounted.blobs.iter().all(|(_, o)| *o == BlobOutcome::Mounted), "{mode:?}: {:?}", mounted.blobs);

        if mode == Auth::Token {
            // Anonymous clients get pull-only tokens, as on ghcr for a public package.
            assert_eq!(
                anonymous
                    .manifest_digest(&anonymous.image("secure/app").unwrap(), &r("v1"))
                    .await
                    .unwrap()
                    .map(|d| d.to_string()),
                Some(report.digest.clone())
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_index_children_are_found() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    let amd64 = with(b.image("amd64", 1), "platform", platform("linux", "amd64"));
    let arm64 = with(b.image("arm64", 1), "platform", json!({"os": "linux", "architecture": "arm64"}));
    b.write_index(vec![b.index_blob(vec![amd64.clone(), arm64.clone()])]);
    let layout = Layout::open(tmp.path()).unwrap();
    let image = layout.select(&Selector { keep_index: true, ..Selector::default() }).unwrap();
    let registry = Registry::new(&reg.host(), Credentials::Anonymous, RegistryOptions::default()).unwrap();
    push_to(&registry, &layout, &image, "multi/app", &["v2", "latest"]).await.unwrap();
    assert_eq!(skopeo_digest(&format!("{}/multi/app:v2", reg.host()), None), image.digest());
    assert!(registry.find_orphans(&registry.image("multi/app").unwrap(), None).await.unwrap().is_empty());

    let child = arm64["digest"].as_str().unwrap();
    registry.delete_manifest(&registry.image("multi/app").unwrap(), &dg(child)).await.unwrap();
    let orphans = registry.find_orphans(&registry.image("multi/app").unwrap(), None).await.unwrap();
    assert_eq!(orphans.len(), 2, "both tags lead to the broken index: {orphans:?}");
    assert!(orphans.iter().all(|o| o.missing_child == child && o.index == image.digest()));
    let only_v2 = registry.find_orphans(&registry.image("multi/app").unwrap(), Some(&tag_list(&["v2"]))).await.unwrap();
    assert_eq!(only_v2.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_through_cache_check() {
    let upstream = LocalRegistry::start(Auth::Anonymous);
    let tmp = tempfile::tempdir().unwrap();
    let layout = single_image(tmp.path());
    let image = layout.select(&Selector::default()).unwrap();
    let origin = Registry::new(&upstream.host(), Credentials::Anonymous, RegistryOptions::default()).unwrap();
    push_to(&origin, &layout, &image, "lib/app", &["1"]).await.unwrap();
    let cache = LocalRegistry::start_with(Auth::Anonymous, Some(&upstream.url()));
    let registry = Registry::new(&cache.host(), Credentials::Anonymous, RegistryOptions::default()).unwrap();
    assert!(registry.check_cache().await.unwrap().repositories.is_empty(), "nothing pulled through yet");
    assert_eq!(
        registry.manifest(&registry.image("lib/app").unwrap(), &r("1")).await.unwrap().unwrap().digest,
        image.digest()
    );
    // The cache lists a repository once blobs were pulled through it.
    let config = &image.blobs()[0];
    let mut bytes = Vec::new();
    let n = registry
        .pull_blob(&registry.image("lib/app").unwrap(), &dg(config.digest().as_ref()), &mut bytes)
        .await
        .unwrap();
    assert_eq!(n, config.size());
    // The proxy stores what it fetched in the background: give it a moment.
    let mut health = registry.check_cache().await.unwrap();
    for _ in 0..50 {
        if !health.repositories.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        health = registry.check_cache().await.unwrap();
    }
    assert_eq!(health.repositories, ["lib/app"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_blob_stops_the_push_before_any_manifest() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let tmp = tempfile::tempdir().unwrap();
    let layout = single_image(tmp.path());
    let image = layout.select(&Selector::default()).unwrap();
    let layer = image.blobs().last().unwrap().clone();
    let (path, offset, size) = layout.blob_location(&layer).unwrap();
    assert_eq!(offset, 0);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[size as usize / 2] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    for mode in [UploadMode::Monolithic, UploadMode::Chunked] {
        let opts = RegistryOptions { upload: mode, chunk_size: 4096, ..RegistryOptions::default() };
        let registry = Registry::new(&reg.host(), Credentials::Anonymous, opts).unwrap();
        let err = push_to(&registry, &layout, &image, "corrupt/app", &["v1"]).await.unwrap_err();
        assert!(
            err.to_string().contains(&layer.digest().to_string()) && err.to_string().contains("corrupt"),
            "{mode:?}: {err}"
        );
        assert_eq!(
            registry.manifest_digest(&registry.image("corrupt/app").unwrap(), &r("v1")).await.unwrap(),
            None,
            "no tag after a corrupt blob"
        );
        assert_eq!(
            registry.manifest_digest(&registry.image("corrupt/app").unwrap(), &r(&image.digest())).await.unwrap(),
            None,
            "no manifest either"
        );
    }
}

/// `team/app:v1` pushed to a fresh anonymous registry, and what the tests read it with.
struct Pushed {
    _reg: LocalRegistry,
    _tmp: tempfile::TempDir,
    layout: Layout,
    image: ghcr_client::layout::SelectedImage,
    registry: Registry,
    from: ghcr_client::registry::ImageRef,
}

async fn pushed_v1() -> Pushed {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let tmp = tempfile::tempdir().unwrap();
    let layout = single_image(tmp.path());
    let image = layout.select(&Selector::default()).unwrap();
    let registry = Registry::new(&reg.host(), Credentials::Anonymous, RegistryOptions::default()).unwrap();
    push_to(&registry, &layout, &image, "team/app", &["v1"]).await.unwrap();
    let from = registry.image("team/app").unwrap().with_reference(&r("v1"));
    Pushed { _reg: reg, _tmp: tmp, layout, image, registry, from }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_whose_index_is_not_an_object_is_an_error_not_a_panic() {
    let Pushed { _reg, _tmp, layout: _, image, registry, from } = pushed_v1().await;
    for written in ["[]", "\"index\"", "{\"manifests\": 1}"] {
        let out = tempfile::tempdir().unwrap();
        std::fs::write(out.path().join("index.json"), written).unwrap();
        let err = registry.save_to_layout(&from, out.path(), Some("v1")).await.unwrap_err();
        assert!(matches!(err, ghcr_client::Error::BadJson { .. }), "{written}: {err}");
    }
    // The same save into an empty directory works.
    let out = tempfile::tempdir().unwrap();
    let report = registry.save_to_layout(&from, out.path(), Some("v1")).await.unwrap();
    assert_eq!(report.digest, image.digest());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_in_the_layout_is_trusted_by_its_digest_not_its_size() {
    let Pushed { _reg, _tmp, layout, image, registry, from } = pushed_v1().await;
    let out = tempfile::tempdir().unwrap();
    registry.save_to_layout(&from, out.path(), Some("v1")).await.unwrap();
    // Corrupt one saved layer, keeping its size: the next save must fetch it again, not keep it.
    let layer = image.blobs().last().unwrap();
    let saved = out.path().join("blobs/sha256").join(layer.digest().to_string().trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&saved).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&saved, &bytes).unwrap();
    let again = registry.save_to_layout(&from, out.path(), Some("v1")).await.unwrap();
    let outcome = again.blobs.iter().find(|(d, _)| *d == layer.digest().to_string()).map(|(_, o)| *o);
    assert_eq!(outcome, Some(BlobOutcome::Uploaded), "the corrupt blob is fetched again");
    let present = again.blobs.iter().filter(|(_, o)| *o == BlobOutcome::Present).count();
    assert_eq!(present, again.blobs.len() - 1, "the intact ones are kept");
    let (path, _, _) = layout.blob_location(layer).unwrap();
    assert_eq!(std::fs::read(&saved).unwrap(), std::fs::read(path).unwrap());
}
