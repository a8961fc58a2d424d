//! Registry faults: a failing chunk, a stale token, a dropped connection.

use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc,
};

use crate::{dg, push_to, r, tag_list};
use ghcr_client::{
    layout::{Layout, Selector},
    registry::{BlobOutcome, Credentials, Registry, RegistryOptions, UploadMode},
};
use offinfra_http::RetryPolicy;
use offinfra_test_support::fast_retry;
use offinfra_test_support::oci::{Auth, Builder, LocalRegistry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::{
    matchers::{header, method, path, path_regex},
    Mock, MockServer, ResponseTemplate,
};

/// Blobs of repository `r` are missing, and an upload opens the session `/upload/1`.
async fn upload_session(server: &MockServer) {
    Mock::given(method("HEAD"))
        .and(path_regex("^/v2/r/blobs/"))
        .respond_with(ResponseTemplate::new(404))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/r/blobs/uploads/"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/upload/1"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_failed_chunk_is_sent_again() {
    let server = MockServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    b.write_index(vec![b.image("app", 1)]);
    let layout = Layout::open(tmp.path()).unwrap();
    let image = layout.select(&Selector::default()).unwrap();

    upload_session(&server).await;
    Mock::given(method("PATCH"))
        .and(path("/upload/1"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/upload/1"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/upload/1"))
        .mount(&server)
        .await;
    Mock::given(method("PUT")).and(path("/upload/1")).respond_with(ResponseTemplate::new(201)).mount(&server).await;
    Mock::given(method("PUT"))
        .and(path("/v2/r/manifests/t"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;

    let host = server.address().to_string();
    let opts = RegistryOptions {
        upload: UploadMode::Chunked,
        chunk_size: 4096,
        retry: fast_retry(),
        concurrency: 1,
        ..RegistryOptions::default()
    };
    let registry = Registry::new(&host, Credentials::Anonymous, opts).unwrap();
    let report = push_to(&registry, &layout, &image, "r", &["t"]).await.unwrap();
    assert!(report.blobs.iter().all(|(_, o)| *o == BlobOutcome::Uploaded));
    let requests = server.received_requests().await.unwrap();
    let patches: Vec<String> = requests
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .map(|r| r.headers.get("content-range").unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(patches[0], patches[1], "the failed chunk went again, same range");
    let expected_chunks: u64 = image.blobs().iter().map(|b| b.size().div_ceil(4096)).sum();
    assert_eq!(patches.len() as u64, expected_chunks + 1);
}

#[tokio::test]
async fn a_stale_token_is_replaced() {
    let server = MockServer::start().await;
    let challenge = format!("Bearer realm=\"{}/token\",service=\"test\"", server.uri());
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(header("authorization", "Basic dTpw"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"token": "t1"})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "t2"})))
        .mount(&server)
        .await;
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    // t1 expires after one use.
    Mock::given(method("GET"))
        .and(path("/v2/r/manifests/t"))
        .and(header("authorization", "Bearer t1"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(manifest.to_vec()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/r/manifests/t"))
        .and(header("authorization", "Bearer t2"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(manifest.to_vec()))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/r/manifests/t"))
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", challenge.as_str()))
        .with_priority(10)
        .mount(&server)
        .await;

    let creds = Credentials::Basic { username: "u".into(), password: "p".into() };
    let registry = Registry::new(
        &server.address().to_string(),
        creds,
        RegistryOptions { retry: fast_retry(), ..RegistryOptions::default() },
    )
    .unwrap();
    assert!(registry.manifest(&registry.image("r").unwrap(), &r("t")).await.unwrap().is_some(), "first token");
    assert!(
        registry.manifest(&registry.image("r").unwrap(), &r("t")).await.unwrap().is_some(),
        "t1 went stale: a new token, same call"
    );
    let token_calls = server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/token").count();
    assert_eq!(token_calls, 2);
}

/// Forwards loopback TCP to `upstream`, cutting the first connection that carries more than `limit`
/// bytes towards the registry.
async fn cutting_proxy(upstream: String, limit: u64) -> (String, Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cut = Arc::new(AtomicBool::new(false));
    let cut_flag = cut.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { return };
            let upstream = upstream.clone();
            let cut = cut_flag.clone();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let sent = AtomicU64::new(0);
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = cr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                        if total > limit && !cut.swap(true, Ordering::SeqCst) {
                            return; // drop both halves mid-upload
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                };
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    (addr, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_a_clear_error_and_a_rerun_finishes() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    // Four layers of about 11 KiB: a cut after 20 KiB leaves some sent and some not.
    let image = b.image("app", 4);
    b.write_index(vec![image]);
    let layout = Layout::open(tmp.path()).unwrap();
    let image = layout.select(&Selector::default()).unwrap();
    let (proxy, cut) = cutting_proxy(reg.host(), 20 * 1024).await;

    let once = RegistryOptions { retry: RetryPolicy::none(), concurrency: 1, ..RegistryOptions::default() };
    let registry = Registry::new(&proxy, Credentials::Anonymous, once.clone()).unwrap();
    let err = push_to(&registry, &layout, &image, "cut/app", &["v1"]).await.unwrap_err();
    assert!(cut.load(Ordering::SeqCst), "the proxy cut a connection");
    assert!(err.to_string().contains(&proxy), "the error names the request: {err}");

    let direct = Registry::new(&reg.host(), Credentials::Anonymous, once).unwrap();
    assert_eq!(
        direct.manifest_digest(&direct.image("cut/app").unwrap(), &r("v1")).await.unwrap(),
        None,
        "no tag after the failure"
    );
    let rerun = push_to(&direct, &layout, &image, "cut/app", &["v1"]).await.unwrap();
    let present = rerun.blobs.iter().filter(|(_, o)| *o == BlobOutcome::Present).count();
    assert!(present >= 1, "blobs sent before the cut are not sent again: {:?}", rerun.blobs);
    assert!(rerun.bytes_uploaded < image.blob_bytes());
    assert_eq!(
        direct.manifest_digest(&direct.image("cut/app").unwrap(), &r("v1")).await.unwrap().map(|d| d.to_string()),
        Some(image.digest())
    );
}

#[tokio::test]
async fn a_blob_that_does_not_match_its_digest_is_refused() {
    let server = MockServer::start().await;
    let digest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"; // "hello"
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/r/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/r/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"jello".to_vec()))
        .mount(&server)
        .await;
    let registry =
        Registry::new(&server.address().to_string(), Credentials::Anonymous, RegistryOptions::default()).unwrap();
    let mut out = Vec::new();
    let err = registry.pull_blob(&registry.image("r").unwrap(), &dg(digest), &mut out).await.unwrap_err();
    assert!(matches!(err, ghcr_client::Error::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(digest), "{err}");
}

#[tokio::test]
async fn no_retry_of_a_blob_starts_after_its_deadline() {
    let server = MockServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    let image = b.image("app", 1);
    b.write_index(vec![image]);
    let layout = Layout::open(tmp.path()).unwrap();
    let image = layout.select(&Selector::default()).unwrap();
    Mock::given(method("HEAD")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/v2/r/blobs/uploads/"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/upload/1"))
        .mount(&server)
        .await;
    Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(500)).mount(&server).await;

    // Five attempts allowed, but a deadline that has passed before the first retry could start.
    let retry = RetryPolicy {
        max_attempts: 5,
        initial_backoff: std::time::Duration::from_millis(5),
        max_backoff: std::time::Duration::from_millis(5),
        deadline: std::time::Duration::from_millis(1),
    };
    let opts = RegistryOptions {
        upload: UploadMode::Chunked,
        chunk_size: 4096,
        retry,
        concurrency: 1,
        ..RegistryOptions::default()
    };
    let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, opts).unwrap();
    let err = push_to(&registry, &layout, &image, "r", &["t"]).await.unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    let requests = server.received_requests().await.unwrap();
    let count = |m: &str| requests.iter().filter(|r| r.method.as_str() == m).count();
    assert_eq!((count("POST"), count("PATCH")), (1, 1), "one session, one chunk: the deadline ends every retry layer");
    assert_eq!(count("PUT"), 0, "no manifest for a failed push");
}

/// A registry that speaks only with a token from its realm, handed out for the Basic credentials u:p.
async fn token_registry(server: &MockServer) {
    let challenge = format!("Bearer realm=\"{}/token\",service=\"home\"", server.uri());
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(header("authorization", "Basic dTpw"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"token": "home-token"})))
        .mount(server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", challenge.as_str()))
        .with_priority(100)
        .mount(server)
        .await;
}

/// What a server on another origin saw: every request's `authorization` header, and token requests.
async fn credentials_seen(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap();
    let mut seen: Vec<String> = requests
        .iter()
        .filter_map(|r| r.headers.get("authorization"))
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    seen.extend(requests.iter().filter(|r| r.url.path() == "/token").map(|r| format!("token request {}", r.url)));
    seen
}

#[tokio::test]
async fn a_hostile_registry_cannot_send_credentials_to_another_origin() {
    let (home, elsewhere) = (MockServer::start().await, MockServer::start().await);
    token_registry(&home).await;
    // The other origin answers like a registry of its own: a challenge naming its own realm.
    token_registry(&elsewhere).await;

    // A `Link` to the other origin.
    let next = format!("<{}/v2/r/tags/list?last=a>; rel=\"next\"", elsewhere.uri());
    Mock::given(method("GET"))
        .and(path("/v2/r/tags/list"))
        .and(header("authorization", "Bearer home-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"name": "r", "tags": ["a"]}))
                .insert_header("link", next.as_str()),
        )
        .mount(&home)
        .await;
    // An upload `Location` on the other origin.
    let location = format!("{}/upload/1", elsewhere.uri());
    Mock::given(method("HEAD"))
        .and(path_regex("^/v2/r/blobs/"))
        .and(header("authorization", "Bearer home-token"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&home)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/r/blobs/uploads/"))
        .and(header("authorization", "Bearer home-token"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", location.as_str()))
        .mount(&home)
        .await;

    let creds = Credentials::Basic { username: "u".into(), password: "p".into() };
    let opts = RegistryOptions { retry: fast_retry(), concurrency: 1, ..RegistryOptions::default() };
    let registry = Registry::new(&home.address().to_string(), creds, opts).unwrap();
    assert!(
        registry.tags(&registry.image("r").unwrap()).await.is_err(),
        "the other origin's page answers 401: an error, not a login"
    );

    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    b.write_index(vec![b.image("app", 1)]);
    let layout = Layout::open(tmp.path()).unwrap();
    let image = layout.select(&Selector::default()).unwrap();
    assert!(push_to(&registry, &layout, &image, "r", &["t"]).await.is_err());

    assert!(!elsewhere.received_requests().await.unwrap().is_empty(), "the other origin was reached");
    let seen = credentials_seen(&elsewhere).await;
    assert!(seen.is_empty(), "credentials or token exchanges reached another origin: {seen:?}");
}

#[tokio::test]
async fn an_identity_token_is_exchanged_never_sent() {
    let server = MockServer::start().await;
    let challenge = format!("Bearer realm=\"{}/token\",service=\"home\"", server.uri());
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(wiremock::matchers::body_string_contains("grant_type=refresh_token"))
        .and(wiremock::matchers::body_string_contains("refresh_token=id-t0ken"))
        .and(wiremock::matchers::body_string_contains("service=home"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "access"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/r/tags/list"))
        .and(header("authorization", "Bearer access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"name": "r", "tags": ["a"]})))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", challenge.as_str()))
        .with_priority(100)
        .mount(&server)
        .await;
    let opts = RegistryOptions { retry: fast_retry(), ..RegistryOptions::default() };
    let registry =
        Registry::new(&server.address().to_string(), Credentials::IdentityToken("id-t0ken".into()), opts).unwrap();
    assert_eq!(registry.tags(&registry.image("r").unwrap()).await.unwrap(), ["a"]);
    let requests = server.received_requests().await.unwrap();
    let bearer_identity = requests
        .iter()
        .filter_map(|r| r.headers.get("authorization"))
        .any(|v| v.to_str().unwrap_or_default().contains("id-t0ken"));
    assert!(!bearer_identity, "the identity token went out as a credential");
}

#[tokio::test]
async fn an_interrupted_copy_resumes_on_rerun_without_sending_finished_blobs() {
    let CopySource { source_reg: _source_reg, target_reg, source, image, _layout } = copy_source().await;
    let once = once();
    let (from, v1) = (source.image("app").unwrap().with_reference(&r("v1")), tag_list(&["v1"]).remove(0));

    // The destination is reached through a proxy that drops the connection after 20 KiB of blobs.
    let (proxy, cut) = cutting_proxy(target_reg.host(), 20 * 1024).await;
    let through_proxy = Registry::new(&proxy, Credentials::Anonymous, once.clone()).unwrap();
    let err =
        through_proxy.copy_from(&source, &from, &through_proxy.image("copy").unwrap(), Some(&v1)).await.unwrap_err();
    assert!(cut.load(Ordering::SeqCst), "the proxy cut a connection: {err}");

    let target = Registry::new(&target_reg.host(), Credentials::Anonymous, once).unwrap();
    assert_eq!(
        target.manifest_digest(&target.image("copy").unwrap(), &r("v1")).await.unwrap(),
        None,
        "no tag after the failure"
    );
    let rerun = target.copy_from(&source, &from, &target.image("copy").unwrap(), Some(&v1)).await.unwrap();
    let present = rerun.blobs.iter().filter(|(_, o)| *o == BlobOutcome::Present).count();
    assert!(present >= 1, "blobs copied before the cut are not sent again: {:?}", rerun.blobs);
    assert!(rerun.bytes_copied < image.blob_bytes());
    assert_eq!(
        target.manifest_digest(&target.image("copy").unwrap(), &r("v1")).await.unwrap().map(|d| d.to_string()),
        Some(image.digest()),
        "same digest"
    );
}

#[tokio::test]
async fn a_broken_blob_transfer_starts_again_and_the_copy_goes_on() {
    let CopySource { source_reg: _source_reg, target_reg, source, image, _layout } = copy_source().await;
    let (from, v1) = (source.image("app").unwrap().with_reference(&r("v1")), tag_list(&["v1"]).remove(0));

    // The proxy drops one connection mid-blob; the blob starts again and the one run finishes.
    let (proxy, cut) = cutting_proxy(target_reg.host(), 20 * 1024).await;
    let patient = RegistryOptions { retry: fast_retry(), concurrency: 1, ..RegistryOptions::default() };
    let through_proxy = Registry::new(&proxy, Credentials::Anonymous, patient).unwrap();
    let report =
        through_proxy.copy_from(&source, &from, &through_proxy.image("copy").unwrap(), Some(&v1)).await.unwrap();
    assert!(cut.load(Ordering::SeqCst), "the proxy cut a connection");
    assert_eq!(report.digest, image.digest());
    assert!(report.blobs.iter().all(|(_, o)| *o == BlobOutcome::Uploaded), "{:?}", report.blobs);
    assert_eq!(report.bytes_copied, image.blob_bytes(), "each blob counted once, the restarted one included");
    let target = Registry::new(&target_reg.host(), Credentials::Anonymous, RegistryOptions::default()).unwrap();
    assert_eq!(
        target.manifest_digest(&target.image("copy").unwrap(), &r("v1")).await.unwrap().map(|d| d.to_string()),
        Some(image.digest())
    );
}

/// Serves `bytes` at `route` (GET and HEAD) with their digest, as a registry serves a manifest or blob.
async fn serve(server: &MockServer, route: String, bytes: Vec<u8>, media_type: &str) {
    let digest = offinfra_test_support::oci::sha256_digest(&bytes);
    for verb in ["GET", "HEAD"] {
        let body = if verb == "GET" { bytes.clone() } else { Vec::new() };
        Mock::given(method(verb))
            .and(path(route.clone()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(body, media_type)
                    .insert_header("docker-content-digest", digest.as_str())
                    .insert_header("content-length", bytes.len().to_string().as_str()),
            )
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn referrers_the_api_lists_are_copied_and_listed_in_the_fallback_tag_where_the_api_is_missing() {
    use offinfra_test_support::oci::{sha256_digest, CONFIG, LAYER, MANIFEST};
    use serde_json::json;

    let source_server = MockServer::start().await;
    let blob = |bytes: &[u8], media_type: &str| {
        (json!({"mediaType": media_type, "digest": sha256_digest(bytes), "size": bytes.len()}), bytes.to_vec())
    };
    let (config, config_bytes) = blob(br#"{"architecture":"amd64","os":"linux"}"#, CONFIG);
    let (layer, layer_bytes) = blob(b"the layer", LAYER);
    let image =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": MANIFEST, "config": config, "layers": [layer]}))
            .unwrap();
    let image_digest = sha256_digest(&image);
    let (empty, empty_bytes) = blob(b"{}", "application/vnd.oci.empty.v1+json");
    let (sbom_layer, sbom_bytes) = blob(b"{\"spdxVersion\":\"SPDX-2.3\"}", "application/spdx+json");
    let subject = json!({"mediaType": MANIFEST, "digest": image_digest, "size": image.len()});
    let sbom =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": MANIFEST, "artifactType": "application/spdx+json",
                                          "config": empty, "layers": [sbom_layer], "subject": subject}))
        .unwrap();
    let sbom_descriptor = json!({"mediaType": MANIFEST, "digest": sha256_digest(&sbom), "size": sbom.len(),
                                 "artifactType": "application/spdx+json"});
    serve(&source_server, "/v2/src/manifests/v1".into(), image.clone(), MANIFEST).await;
    serve(&source_server, format!("/v2/src/manifests/{image_digest}"), image.clone(), MANIFEST).await;
    serve(&source_server, format!("/v2/src/manifests/{}", sha256_digest(&sbom)), sbom.clone(), MANIFEST).await;
    for (descriptor, bytes) in
        [(&config, &config_bytes), (&layer, &layer_bytes), (&empty, &empty_bytes), (&sbom_layer, &sbom_bytes)]
    {
        serve(
            &source_server,
            format!("/v2/src/blobs/{}", descriptor["digest"].as_str().unwrap()),
            bytes.clone(),
            "application/octet-stream",
        )
        .await;
    }
    let referrers = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [sbom_descriptor]});
    Mock::given(method("GET"))
        .and(path(format!("/v2/src/referrers/{image_digest}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(referrers))
        .mount(&source_server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/src/tags/list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "src", "tags": ["v1"]})))
        .mount(&source_server)
        .await;

    let target_reg = LocalRegistry::start(Auth::Anonymous);
    let opts = RegistryOptions { retry: fast_retry(), ..RegistryOptions::default() };
    let source = Registry::new(&source_server.address().to_string(), Credentials::Anonymous, opts.clone()).unwrap();
    let target = Registry::new(&target_reg.host(), Credentials::Anonymous, opts).unwrap();
    let options = ghcr_client::registry::CopyOptions::default().referrers(true);
    let (from, dst) = (source.image("src").unwrap().with_reference(&r("v1")), target.image("dst").unwrap());
    let (v1, fallback_tag) = (tag_list(&["v1"]).remove(0), r(&format!("sha256-{}", &image_digest[7..])));
    let report = target.copy_with(&source, &from, &dst, Some(&v1), &options).await.unwrap();
    assert_eq!(report.digest, image_digest);
    assert_eq!(report.referrers, [sha256_digest(&sbom)]);
    // Distribution 2 has no referrers API: the SBOM is findable through its subject's fallback tag.
    let fallback = target.manifest(&dst, &fallback_tag).await.unwrap().expect("the fallback tag");
    let listed: serde_json::Value = serde_json::from_slice(&fallback.bytes).unwrap();
    assert_eq!(listed["manifests"][0]["digest"], json!(sha256_digest(&sbom)), "{listed}");
    assert_eq!(listed["manifests"][0]["artifactType"], "application/spdx+json");
    assert!(target.manifest_digest(&dst, &r(&sha256_digest(&sbom))).await.unwrap().is_some());

    // A second copy lists it once, not twice.
    target.copy_with(&source, &from, &dst, Some(&v1), &options).await.unwrap();
    let again = target.manifest(&dst, &fallback_tag).await.unwrap().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&again.bytes).unwrap();
    assert_eq!(listed["manifests"].as_array().unwrap().len(), 1);
}

/// Two registries, and a four-layer image pushed to `app:v1` of the first: the source of a copy.
struct CopySource {
    source_reg: LocalRegistry,
    target_reg: LocalRegistry,
    source: Registry,
    image: ghcr_client::layout::SelectedImage,
    _layout: tempfile::TempDir,
}

async fn copy_source() -> CopySource {
    let source_reg = LocalRegistry::start(Auth::Anonymous);
    let target_reg = LocalRegistry::start(Auth::Anonymous);
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    b.write_index(vec![b.image("app", 4)]);
    let layout = Layout::open(tmp.path()).unwrap();
    let image = layout.select(&Selector::default()).unwrap();
    let source = Registry::new(&source_reg.host(), Credentials::Anonymous, once()).unwrap();
    push_to(&source, &layout, &image, "app", &["v1"]).await.unwrap();
    CopySource { source_reg, target_reg, source, image, _layout: tmp }
}

/// One attempt per request, one blob at a time.
fn once() -> RegistryOptions {
    RegistryOptions { retry: RetryPolicy::none(), concurrency: 1, ..RegistryOptions::default() }
}

/// A registry stand-in for uploads: blobs absent, `POST` opens `/upload/1` (with `post_headers`), `PUT` of
/// a whole blob answers `whole_blob`, `PATCH` and the closing `PUT` succeed; the manifest is taken.
async fn upload_server(post_headers: &[(&str, &str)], whole_blob: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(path_regex("^/v2/r/blobs/"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let mut opened = ResponseTemplate::new(202).insert_header("location", "/upload/1");
    for (name, value) in post_headers {
        opened = opened.insert_header(*name, *value);
    }
    Mock::given(method("POST")).and(path("/v2/r/blobs/uploads/")).respond_with(opened).mount(&server).await;
    Mock::given(method("PATCH"))
        .and(path("/upload/1"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/upload/1"))
        .mount(&server)
        .await;
    // The closing PUT of a chunked upload carries no body; a monolithic one carries the blob.
    Mock::given(method("PUT"))
        .and(path("/upload/1"))
        .and(header("content-length", "0"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/upload/1"))
        .respond_with(ResponseTemplate::new(whole_blob))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/r/manifests/t"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    server
}

/// Pushes a one-layer image in Auto mode with 4 KiB chunks; returns what the server saw:
/// `(method, content-length)` of each upload request, and the image's blob sizes.
async fn push_auto(server: &MockServer) -> (Vec<(String, u64)>, Vec<u64>) {
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    b.write_index(vec![b.image("app", 1)]);
    let layout = Layout::open(tmp.path()).unwrap();
    let image = layout.select(&Selector::default()).unwrap();
    let opts = RegistryOptions { chunk_size: 4096, retry: fast_retry(), concurrency: 1, ..RegistryOptions::default() };
    assert_eq!(opts.upload, UploadMode::Auto);
    let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, opts).unwrap();
    let report = push_to(&registry, &layout, &image, "r", &["t"]).await.unwrap();
    assert!(report.blobs.iter().all(|(_, o)| *o == BlobOutcome::Uploaded));
    let requests = server.received_requests().await.unwrap();
    let uploads = requests
        .iter()
        .filter(|r| r.url.path() == "/upload/1")
        .map(|r| (r.method.to_string(), r.body.len() as u64))
        .collect();
    (uploads, image.blobs().iter().map(|b| b.size()).collect())
}

#[tokio::test]
async fn auto_uploads_each_blob_in_one_streamed_put_as_containerd_does_on_ghcr_too() {
    let server = upload_server(&[], 201).await;
    let (uploads, sizes) = push_auto(&server).await;
    let mut puts: Vec<u64> = uploads.iter().filter(|(m, _)| m == "PUT").map(|(_, n)| *n).collect();
    let mut sizes = sizes;
    puts.sort_unstable();
    sizes.sort_unstable();
    assert_eq!(puts, sizes, "one PUT carrying each whole blob");
    assert!(uploads.iter().all(|(m, _)| m != "PATCH"), "no chunks: {uploads:?}");
}

#[tokio::test]
async fn auto_sends_chunks_when_the_session_advertises_a_maximum_chunk_length() {
    let server = upload_server(&[("oci-chunk-max-length", "1000")], 500).await;
    let (uploads, sizes) = push_auto(&server).await;
    let patches: Vec<u64> = uploads.iter().filter(|(m, _)| m == "PATCH").map(|(_, n)| *n).collect();
    assert!(patches.iter().all(|n| *n <= 1000), "each chunk within the advertised 1000 bytes: {patches:?}");
    assert_eq!(patches.iter().sum::<u64>(), sizes.iter().sum::<u64>(), "every byte sent once");
    assert_eq!(patches.len() as u64, sizes.iter().map(|s| s.div_ceil(1000)).sum::<u64>());
}

#[tokio::test]
async fn auto_falls_back_to_chunks_when_the_registry_refuses_a_whole_blob() {
    for refusal in [413, 416] {
        let server = upload_server(&[], refusal).await;
        let (uploads, sizes) = push_auto(&server).await;
        let whole: Vec<u64> = uploads.iter().filter(|(m, n)| m == "PUT" && *n > 0).map(|(_, n)| *n).collect();
        assert_eq!(whole.len(), sizes.len(), "{refusal}: each blob was offered whole once: {uploads:?}");
        let patches: Vec<u64> = uploads.iter().filter(|(m, _)| m == "PATCH").map(|(_, n)| *n).collect();
        assert!(patches.iter().all(|n| *n <= 4096), "{refusal}: {patches:?}");
        assert_eq!(patches.iter().sum::<u64>(), sizes.iter().sum::<u64>(), "{refusal}: then sent in chunks");
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_events_of_concurrent_blobs_carry_their_digests() {
    let server = upload_server(&[], 201).await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    b.write_index(vec![b.image("app", 2)]);
    let layout = Layout::open(tmp.path()).unwrap();
    let image = layout.select(&Selector::default()).unwrap();
    let opts = RegistryOptions { retry: fast_retry(), concurrency: 4, ..RegistryOptions::default() };
    let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, opts).unwrap();
    push_to(&registry, &layout, &image, "r", &["t"]).await.unwrap();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // Each blob's session is opened by a POST whose URL does not name the blob: only its span does.
    for blob in image.blobs() {
        let digest = blob.digest().to_string();
        let opened =
            log.lines().filter(|l| l.contains(&format!("digest={digest}")) && l.contains("request method=POST"));
        assert_eq!(opened.count(), 1, "the POST of {digest} is in its blob's span:\n{log}");
    }
}

#[tokio::test]
async fn a_link_back_to_a_page_is_an_error_not_a_loop() {
    let server = MockServer::start().await;
    // Every page links to itself (absolute) or to the first page (relative): a hostile or broken registry.
    let own = format!("<{}/v2/r/tags/list?n=1>; rel=\"next\"", server.uri());
    Mock::given(method("GET"))
        .and(path("/v2/r/tags/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", own.as_str())
                .set_body_json(serde_json::json!({"name": "r", "tags": ["a"]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/_catalog"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", "</v2/_catalog>; rel=\"next\"")
                .set_body_json(serde_json::json!({"repositories": ["r"]})),
        )
        .mount(&server)
        .await;
    let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, once()).unwrap();
    let err = registry.tags(&registry.image("r").unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("the pages do not end"), "{err}");
    let err = registry.catalog().await.unwrap_err();
    assert!(err.to_string().contains("the pages do not end"), "{err}");
    let requests = server.received_requests().await.unwrap().len();
    assert!(requests <= 4, "each page read at most once: {requests} requests");
}

#[tokio::test]
async fn an_index_nested_too_deep_is_an_error_not_a_silent_cut() {
    use offinfra_test_support::oci::sha256_digest;
    const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    let server = MockServer::start().await;
    // Eleven indexes, each the only child of the one before: deeper than any image, and each served.
    let mut child: Option<String> = None;
    for _ in 0..11 {
        let manifests = match &child {
            Some(digest) => serde_json::json!([{"mediaType": INDEX, "digest": digest, "size": 1}]),
            None => serde_json::json!([]),
        };
        let bytes =
            serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}))
                .unwrap();
        let digest = sha256_digest(&bytes);
        serve(&server, format!("/v2/deep/manifests/{digest}"), bytes.clone(), INDEX).await;
        child = Some(digest);
    }
    let root = child.unwrap();
    let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, once()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let image = registry.image("deep").unwrap().with_reference(&r(&root));
    let err = registry.save_to_layout(&image, out.path(), None).await.unwrap_err();
    assert!(err.to_string().contains("nested deeper than 8"), "{err}");
}

#[tokio::test]
async fn a_config_larger_than_it_says_is_capped_as_it_arrives() {
    use offinfra_test_support::oci::{sha256_digest, CONFIG, MANIFEST};
    let server = MockServer::start().await;
    // The manifest declares a 100-byte config; the registry streams 5 MiB for it (not even the bytes the
    // digest names: reading them all would end in a digest mismatch, stopping at the cap ends sooner).
    let config = vec![b'{'; 5 << 20];
    let config_digest = sha256_digest(b"{}");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": config_digest, "size": 100},
        "layers": []
    }))
    .unwrap();
    serve(&server, "/v2/big/manifests/v1".into(), manifest, MANIFEST).await;
    serve(&server, format!("/v2/big/blobs/{config_digest}"), config, "application/octet-stream").await;
    let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, once()).unwrap();
    let image = registry.image("big").unwrap().with_reference(&r("v1"));
    let platform = ghcr_client::layout::PlatformSpec::default();
    let err = registry.platform_image(&image, &platform).await.unwrap_err();
    assert!(err.to_string().contains("byte cap"), "{err}");
}

#[tokio::test]
async fn an_upload_status_with_any_range_is_an_error_or_a_resume_never_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let b = Builder::new(tmp.path());
    b.write_index(vec![b.image("app", 1)]);
    let layout = Layout::open(tmp.path()).unwrap();
    let image = layout.select(&Selector::default()).unwrap();
    // After a failed chunk the client asks where the upload stands; a hostile registry answers ranges that
    // overflow, go backwards, lie beyond the blob, or are not numbers.
    for range in
        ["0-18446744073709551615", "18446744073709551615-18446744073709551615", "5-1", "0-99999999999", "x-y", "-"]
    {
        let server = MockServer::start().await;
        upload_session(&server).await;
        Mock::given(method("PATCH"))
            .and(path("/upload/1"))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/upload/1"))
            .respond_with(
                ResponseTemplate::new(204).insert_header("range", range).insert_header("location", "/upload/1"),
            )
            .mount(&server)
            .await;
        let opts = RegistryOptions {
            upload: UploadMode::Chunked,
            chunk_size: 4096,
            retry: fast_retry(),
            concurrency: 1,
            ..RegistryOptions::default()
        };
        let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, opts).unwrap();
        let pushed = push_to(&registry, &layout, &image, "r", &["t"]).await;
        assert!(pushed.is_err(), "{range}: the chunk never lands, so the push fails cleanly");
    }
}

/// A registry that answers `HEAD` of a blob at once and then streams its `GET` a byte at a time, every
/// `gap`: alive (the read timeout never fires) but useless.
async fn trickling_registry(blob: Vec<u8>, gap: std::time::Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let blob = blob.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request head at a time (keep-alive: HEAD, then GET on the same connection).
                    let mut byte = [0u8; 1];
                    while !buf.ends_with(b"\r\n\r\n") {
                        if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        buf.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    buf.clear();
                    let length = blob.len();
                    if head.starts_with("HEAD") {
                        let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n");
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n");
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    for b in &blob {
                        tokio::time::sleep(gap).await;
                        if socket.write_all(&[*b]).await.is_err() || socket.flush().await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

#[tokio::test]
async fn a_blob_that_trickles_is_a_stall_not_a_wait_for_ever() {
    let blob = vec![b'x'; 4096];
    let digest = offinfra_test_support::oci::sha256_digest(&blob);
    let address = trickling_registry(blob, std::time::Duration::from_millis(20)).await;
    // The floor, scaled down for a test: 10 KiB/s over 300 ms (the default is 1 KiB/s over a minute).
    let floor = ghcr_client::registry::MinThroughput {
        bytes_per_second: 10 * 1024,
        window: std::time::Duration::from_millis(300),
    };
    let opts = RegistryOptions { min_throughput: floor, retry: RetryPolicy::none(), ..RegistryOptions::default() };
    let registry = Registry::new(&address, Credentials::Anonymous, opts).unwrap();
    let mut out = Vec::new();
    let pulled = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        registry.pull_blob(&registry.image("r").unwrap(), &dg(&digest), &mut out),
    )
    .await
    .expect("the stall is noticed long before the 80 s the blob would take");
    let err = pulled.unwrap_err();
    assert!(matches!(err, ghcr_client::Error::Stalled { .. }), "{err}");
    assert!(err.to_string().contains("under the floor of 10240 bytes/s"), "{err}");
}

#[tokio::test]
async fn a_catalog_name_is_held_to_the_repository_rule_before_it_becomes_a_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/_catalog"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"repositories": ["ok/app", "../../v2/x"]})),
        )
        .mount(&server)
        .await;
    let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, once()).unwrap();
    let err = registry.orphan_report(&[], None).await.unwrap_err();
    assert!(
        matches!(&err, ghcr_client::Error::BadRepository { repository, .. } if repository == "../../v2/x"),
        "{err}"
    );
    let paths: Vec<String> =
        server.received_requests().await.unwrap().iter().map(|r| r.url.path().to_owned()).collect();
    assert_eq!(paths, ["/v2/_catalog"], "nothing read from a listed name before every name was checked");
}

#[tokio::test]
async fn an_index_of_too_many_manifests_is_refused_at_the_cap() {
    use offinfra_test_support::oci::{sha256_digest, MANIFEST};
    const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    // 1001 distinct image manifests, served by digest from one responder, and an index listing them all.
    let mut by_digest = std::collections::HashMap::new();
    let mut children = Vec::new();
    for n in 0..=ghcr_client::registry::copy::MAX_MANIFESTS {
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": MANIFEST, "config": {}, "layers": [], "annotations": {"n": n.to_string()}
        }))
        .unwrap();
        let digest = sha256_digest(&bytes);
        children.push(serde_json::json!({"mediaType": MANIFEST, "digest": digest, "size": bytes.len()}));
        by_digest.insert(format!("/v2/many/manifests/{digest}"), bytes);
    }
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": children}))
        .unwrap();
    let index_digest = sha256_digest(&index);
    by_digest.insert(format!("/v2/many/manifests/{index_digest}"), index);
    let served = std::sync::Arc::new(by_digest);
    let server = MockServer::start().await;
    let lookup = served.clone();
    Mock::given(method("GET"))
        .and(path_regex("^/v2/many/manifests/"))
        .respond_with(move |request: &wiremock::Request| match lookup.get(request.url.path()) {
            Some(bytes) => ResponseTemplate::new(200).set_body_raw(bytes.clone(), MANIFEST),
            None => ResponseTemplate::new(404),
        })
        .mount(&server)
        .await;
    let registry = Registry::new(&server.address().to_string(), Credentials::Anonymous, once()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let image = registry.image("many").unwrap().with_reference(&r(&index_digest));
    let err = registry.save_to_layout(&image, out.path(), None).await.unwrap_err();
    assert!(err.to_string().contains("more than 1000 manifests"), "{err}");
    let fetched = server.received_requests().await.unwrap().len();
    // The index, the cap's worth of children, and the one that crossed it: nothing after.
    assert!(fetched <= ghcr_client::registry::copy::MAX_MANIFESTS + 2, "stopped at the cap: {fetched} requests");
}

#[tokio::test]
async fn an_https_registry_naming_an_http_realm_gets_no_credentials_end_to_end() {
    // The realm: plain http, recording what reaches it.
    let realm = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"token": "t"})))
        .mount(&realm)
        .await;
    // The registry: https (self-signed, trusted by this client only), challenging with that http realm.
    let challenge = format!("Bearer realm=\"{}/token\",service=\"registry\"", realm.uri());
    let registry_server = offinfra_test_support::tls::serve(401, &[("www-authenticate", challenge.as_str())], "{}");
    let host = registry_server.url.trim_start_matches("https://").to_owned();
    let trusting = offinfra_http::ReqwestClient::builder().danger_accept_invalid_certs(true).build().unwrap();
    let registry = Registry::builder(&host)
        .credentials(Credentials::Basic { username: "u".into(), password: "s3cret".into() })
        .options(RegistryOptions { plain_http: Some(false), ..once() })
        .http_client(trusting)
        .build()
        .unwrap();
    let err = registry.tags(&registry.image("r").unwrap()).await.unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(realm.received_requests().await.unwrap().is_empty(), "a plain-http realm was sent the token request");
}
