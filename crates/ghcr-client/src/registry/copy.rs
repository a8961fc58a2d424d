//! Copying an image between registries: manifests as bytes (digests preserved exactly), blobs streamed from
//! source to destination without touching disk, several at once; a blob the destination has is skipped.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use futures_util::{stream, StreamExt, TryStreamExt};
use offinfra_http::{
    header::{HeaderValue, CONTENT_LENGTH},
    Request,
};
use serde::Serialize;

use super::{BlobOutcome, FetchedManifest, Registry};
use crate::{layout::PlatformSpec, Error};

/// Index nesting followed at most.
const MAX_DEPTH: usize = 8;

/// What [`Registry::copy_from`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// The copied root manifest's digest (the same on both sides).
    pub digest: String,
    /// The manifests copied, children first.
    pub manifests: Vec<String>,
    /// Each blob and whether it was copied or already there.
    pub blobs: Vec<(String, BlobOutcome)>,
    /// Bytes streamed to the destination.
    pub bytes_copied: u64,
}

impl Registry {
    /// Copies `reference` (a tag or digest) of `source_repository` on `source` into `repository` of this
    /// registry, under `tag` when given (else by digest only). An index is copied whole: every child
    /// manifest (platforms, attestations) and their blobs. Manifests are copied as the bytes the source
    /// sent, so every digest is preserved; blobs stream through without touching disk, `concurrency` of
    /// them at once, and one the destination already has is not sent again (a rerun of an interrupted
    /// copy sends only what is missing).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), ghcr_client::Error> {
    /// use ghcr_client::registry::{Credentials, Registry};
    ///
    /// let ghcr = Registry::builder("ghcr.io").build()?;
    /// let lan = Registry::builder("registry.lan:5000").credentials(Credentials::Anonymous).build()?;
    /// let report = lan.copy_from(&ghcr, "viktorbarzin/infra-ci", "latest", "infra-ci", Some("latest")).await?;
    /// println!("{}", report.digest);
    /// # Ok(()) }
    /// ```
    pub async fn copy_from(
        &self,
        source: &Registry,
        source_repository: &str,
        reference: &str,
        repository: &str,
        tag: Option<&str>,
    ) -> Result<CopyReport, Error> {
        self.copy_platform_from(source, source_repository, reference, repository, tag, None).await
    }

    /// [`Self::copy_from`]; with `platform`, an index is narrowed to that platform's image manifest, which
    /// becomes the copied root (its digest is the one printed and tagged).
    pub async fn copy_platform_from(
        &self,
        source: &Registry,
        source_repository: &str,
        reference: &str,
        repository: &str,
        tag: Option<&str>,
        platform: Option<&PlatformSpec>,
    ) -> Result<CopyReport, Error> {
        let (manifests, blobs) = source.image_parts(source_repository, reference, platform).await?;
        self.copy_parts(source, source_repository, repository, tag, manifests, blobs).await
    }

    /// The manifests of `reference` (children first, the root last; narrowed to `platform` when given)
    /// and the config and layer blobs they reference.
    async fn image_parts(
        &self,
        source_repository: &str,
        reference: &str,
        platform: Option<&PlatformSpec>,
    ) -> Result<(Vec<FetchedManifest>, BTreeSet<(String, u64)>), Error> {
        let source = self;
        let missing = |what: String| {
            Error::Http(offinfra_http::Error::Decode {
                method: "GET".into(),
                url: format!("{}/{source_repository}:{reference}", source.host),
                reason: what,
            })
        };
        let mut root =
            source.manifest(source_repository, reference).await?.ok_or_else(|| missing("no such manifest".into()))?;
        if let (Some(platform), Some(_)) = (platform, root.children()) {
            let index: serde_json::Value = serde_json::from_slice(&root.bytes).unwrap_or_default();
            let chosen = index["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|d| platform.matches_json(d))
                .and_then(|d| d["digest"].as_str())
                .ok_or_else(|| Error::Selection {
                    path: format!("{}/{source_repository}", source.host).into(),
                    reason: format!("index {} has no {platform} image", root.digest),
                })?
                .to_owned();
            root = source
                .manifest(source_repository, &chosen)
                .await?
                .ok_or_else(|| missing(format!("the {platform} manifest {chosen} is missing")))?;
        }
        // Children first, so that no manifest is pushed before what it references.
        let mut manifests: Vec<FetchedManifest> = Vec::new();
        let mut blobs: BTreeSet<(String, u64)> = BTreeSet::new();
        collect(source, source_repository, root, &mut manifests, &mut blobs, 0).await?;
        Ok((manifests, blobs))
    }

    /// Sends `blobs` and then `manifests` (children first) from `source` into `repository`.
    async fn copy_parts(
        &self,
        source: &Registry,
        source_repository: &str,
        repository: &str,
        tag: Option<&str>,
        manifests: Vec<FetchedManifest>,
        blobs: BTreeSet<(String, u64)>,
    ) -> Result<CopyReport, Error> {
        let copied: Arc<Mutex<u64>> = Arc::default();
        let outcomes: Vec<(String, BlobOutcome)> = stream::iter(blobs.into_iter().map(|(digest, size)| {
            let copied = copied.clone();
            async move {
                if self.blob_exists(repository, &digest).await? {
                    return Ok::<_, Error>((digest, BlobOutcome::Present));
                }
                // On the same registry, the blob is mounted from the source repository: nothing is sent.
                let mut session = None;
                if source.host == self.host {
                    match self.try_mount(repository, &digest, source_repository).await? {
                        super::push::Mount::Mounted => return Ok((digest, BlobOutcome::Mounted)),
                        super::push::Mount::Declined(location) => session = location,
                    }
                }
                self.stream_blob(source, source_repository, repository, &digest, size, session).await?;
                *copied.lock().expect("byte count") += size;
                Ok((digest, BlobOutcome::Uploaded))
            }
        }))
        .buffered(self.options.concurrency.max(1))
        .try_collect()
        .await?;

        let scopes = Self::push_scope(repository);
        let digest = manifests.last().map(|m| m.digest.clone()).unwrap_or_default();
        for manifest in &manifests {
            self.put_manifest(repository, &manifest.digest, &manifest.media_type, &manifest.bytes, &scopes).await?;
        }
        if let (Some(tag), Some(root)) = (tag, manifests.last()) {
            self.put_manifest(repository, tag, &root.media_type, &root.bytes, &scopes).await?;
        }
        let bytes_copied = *copied.lock().expect("byte count");
        Ok(CopyReport {
            digest,
            manifests: manifests.iter().map(|m| m.digest.clone()).collect(),
            blobs: outcomes,
            bytes_copied,
        })
    }

    /// Saves `reference` of `repository` (narrowed to `platform` when given) into the OCI image layout
    /// directory `dir` (made when missing; an existing layout keeps its other images), named `ref_name`
    /// in its `index.json`: readable by skopeo (`oci:DIR:REF`) and by our `push-image`. Blobs the layout
    /// has are not fetched again; each fetched blob is checked against its digest.
    pub async fn save_to_layout(
        &self,
        repository: &str,
        reference: &str,
        platform: Option<&PlatformSpec>,
        dir: &std::path::Path,
        ref_name: Option<&str>,
    ) -> Result<CopyReport, Error> {
        let (manifests, blobs) = self.image_parts(repository, reference, platform).await?;
        let blob_dir = dir.join("blobs").join("sha256");
        tokio::fs::create_dir_all(&blob_dir).await.map_err(|e| Error::io(&blob_dir, e))?;
        let io = |path: &std::path::Path, e| Error::io(path, e);
        let file_of = |digest: &str| -> Result<std::path::PathBuf, Error> {
            let hex =
                digest.strip_prefix("sha256:").filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            hex.map(|h| blob_dir.join(h)).ok_or_else(|| Error::UnsupportedDigest { digest: digest.to_owned() })
        };
        let mut outcomes = Vec::new();
        let mut copied = 0u64;
        for (digest, size) in &blobs {
            let path = file_of(digest)?;
            if tokio::fs::metadata(&path).await.is_ok_and(|m| m.len() == *size) {
                outcomes.push((digest.clone(), BlobOutcome::Present));
                continue;
            }
            // Into a temporary name first: a broken download never looks like a finished blob.
            let partial = path.with_extension("partial");
            let mut file = tokio::fs::File::create(&partial).await.map_err(|e| io(&partial, e))?;
            copied += self.pull_blob(repository, digest, &mut file).await?;
            tokio::fs::rename(&partial, &path).await.map_err(|e| io(&path, e))?;
            outcomes.push((digest.clone(), BlobOutcome::Uploaded));
        }
        for manifest in &manifests {
            let path = file_of(&manifest.digest)?;
            tokio::fs::write(&path, &manifest.bytes).await.map_err(|e| io(&path, e))?;
        }
        let root = manifests
            .last()
            .ok_or_else(|| Error::Selection { path: dir.to_owned(), reason: "nothing to save".into() })?;
        let layout_file = dir.join("oci-layout");
        tokio::fs::write(&layout_file, br#"{"imageLayoutVersion":"1.0.0"}"#).await.map_err(|e| io(&layout_file, e))?;
        let index_file = dir.join("index.json");
        let mut index: serde_json::Value = match tokio::fs::read(&index_file).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::BadJson {
                path: index_file.clone(),
                what: "index.json".into(),
                reason: e.to_string(),
            })?,
            Err(_) => {
                serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
            }
        };
        let mut entry =
            serde_json::json!({"mediaType": root.media_type, "digest": root.digest, "size": root.bytes.len()});
        if let Some(name) = ref_name {
            entry["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": name});
        }
        let list = index["manifests"].as_array_mut().ok_or_else(|| Error::BadJson {
            path: index_file.clone(),
            what: "index.json".into(),
            reason: "no manifests list".into(),
        })?;
        // The name now means this image: an entry of the same name (or, unnamed, the same digest) goes.
        list.retain(|m| match ref_name {
            Some(name) => m["annotations"]["org.opencontainers.image.ref.name"].as_str() != Some(name),
            None => m["digest"].as_str() != Some(root.digest.as_str()),
        });
        list.push(entry);
        let text = serde_json::to_vec_pretty(&index).unwrap_or_default();
        tokio::fs::write(&index_file, text).await.map_err(|e| io(&index_file, e))?;
        Ok(CopyReport {
            digest: root.digest.clone(),
            manifests: manifests.iter().map(|m| m.digest.clone()).collect(),
            blobs: outcomes,
            bytes_copied: copied,
        })
    }

    /// One blob from `source` to this registry: the source's answer body is the upload's body.
    async fn stream_blob(
        &self,
        source: &Registry,
        source_repository: &str,
        repository: &str,
        digest: &str,
        size: u64,
        session: Option<String>,
    ) -> Result<(), Error> {
        let response = source.blob_stream(source_repository, digest).await?;
        // The body can be sent once: the request is not retried (a rerun copies what is still missing).
        let body = Mutex::new(Some(offinfra_http::Body::wrap_stream(response.bytes_stream())));
        let factory: offinfra_http::BodyFactory = Arc::new(move || {
            body.lock().expect("body").take().unwrap_or_else(|| offinfra_http::Body::from(Vec::new()))
        });
        let location = match session {
            Some(location) => location,
            None => self.start_upload(repository).await?,
        };
        let put = Request::put(location.as_str())
            .query("digest", digest)
            .header(CONTENT_LENGTH, HeaderValue::from(size))
            .stream_body(factory, "application/octet-stream")
            .idempotent(false);
        self.execute(put, &Self::push_scope(repository)).await?;
        tracing::debug!(digest, size, "blob copied");
        Ok(())
    }
}

/// Reads `manifest` and, for an index, every child manifest (recursively), pushing each onto `out` after
/// its children, and gathers the config and layer blobs of every image manifest.
fn collect<'a>(
    source: &'a Registry,
    repository: &'a str,
    manifest: FetchedManifest,
    out: &'a mut Vec<FetchedManifest>,
    blobs: &'a mut BTreeSet<(String, u64)>,
    depth: usize,
) -> futures_util::future::BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        if depth > MAX_DEPTH || out.iter().any(|m| m.digest == manifest.digest) {
            return Ok(());
        }
        let value: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap_or_default();
        if let Some(children) = manifest.children() {
            for child in children {
                let fetched = source.manifest(repository, &child).await?.ok_or_else(|| Error::MissingBlob {
                    path: format!("{}/{repository}", source.host).into(),
                    digest: child.clone(),
                })?;
                collect(source, repository, fetched, out, blobs, depth + 1).await?;
            }
        } else {
            let descriptors = value["layers"].as_array().into_iter().flatten().chain(std::iter::once(&value["config"]));
            for descriptor in descriptors {
                if let (Some(digest), Some(size)) = (descriptor["digest"].as_str(), descriptor["size"].as_u64()) {
                    blobs.insert((digest.to_owned(), size));
                }
            }
        }
        out.push(manifest);
        Ok(())
    })
}
