//! Copying an image between registries: manifests as bytes (digests preserved exactly), blobs streamed from
//! source to destination without touching disk, several at once; a blob the destination has is skipped, a
//! blob whose transfer fails is started again on its own (the copy goes on), and the image's referrers
//! (signatures, SBOMs, attestations that name it as their subject) come along when asked.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use futures_util::{stream, StreamExt, TryStreamExt};
use offinfra_http::{
    header::{HeaderValue, ACCEPT, CONTENT_LENGTH},
    Request,
};
use serde::Serialize;

use offinfra_types::{ImageName, ImageRef, Tag};

use super::{BlobOutcome, FetchedManifest, Progress, ProgressFn, Registry};
use crate::{layout::PlatformSpec, Error};

/// Index nesting followed at most.
const MAX_DEPTH: usize = 8;
/// Manifests one copy reads at most (an index of every platform with attestations is a few dozen).
pub const MAX_MANIFESTS: usize = 1000;
/// Manifest bytes one copy holds at most (each manifest is capped at 4 MiB by the client).
pub const MAX_MANIFEST_BYTES: usize = 64 << 20;
/// Referrers of referrers followed at most (a signature of an SBOM of the image).
const MAX_REFERRER_DEPTH: usize = 4;
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// How [`Registry::copy_with`] and [`Registry::save_with`] copy.
///
/// ```
/// use ghcr_client::registry::CopyOptions;
/// let options = CopyOptions::default().referrers(true);
/// assert!(options.referrers && options.platform.is_none());
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct CopyOptions {
    /// One platform of an index, whose image manifest becomes the copied root; `None`: all of them.
    pub platform: Option<PlatformSpec>,
    /// Also copy the referrers of every copied manifest: those the source's referrers API lists, and
    /// those its tags name (cosign's `sha256-<hex>.sig`/`.att`/`.sbom`, OCI 1.1's `sha256-<hex>` index).
    pub referrers: bool,
    /// Called as blobs start, move and finish.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("platform", &self.platform)
            .field("referrers", &self.referrers)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl CopyOptions {
    /// Narrows an index to one platform's image manifest.
    pub fn platform(mut self, platform: Option<PlatformSpec>) -> Self {
        self.platform = platform;
        self
    }

    /// Also copies the referrers.
    pub fn referrers(mut self, referrers: bool) -> Self {
        self.referrers = referrers;
        self
    }

    /// Reports blobs as they start, move and finish.
    pub fn progress(mut self, progress: Option<ProgressFn>) -> Self {
        self.progress = progress;
        self
    }
}

/// Where one copy's blobs come from and go: the argument every blob transfer takes.
#[derive(Clone, Copy)]
pub(super) struct BlobTransfer<'a> {
    /// The source registry.
    pub(super) source: &'a Registry,
    /// The repository on the source.
    pub(super) from: &'a str,
    /// The repository here.
    pub(super) to: &'a str,
    /// Told as blobs start, move and finish.
    pub(super) progress: Option<&'a ProgressFn>,
}

/// An image's manifests (children first, the root last) and the config and layer blobs they reference.
#[derive(Default)]
pub(super) struct ImageParts {
    pub(super) manifests: Vec<FetchedManifest>,
    pub(super) blobs: BTreeSet<(String, u64)>,
}

/// A referrer found for a copied manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Referrer {
    /// The manifest it refers to.
    subject: String,
    /// Found by tag (copied under the same tag), or by the referrers API (copied by digest).
    tag: Option<String>,
    /// For the API's: its descriptor, for a destination without the API (its fallback tag lists it).
    descriptor: Option<serde_json::Value>,
}

impl Referrer {
    fn reference(&self) -> Option<&str> {
        self.tag.as_deref().or_else(|| self.descriptor.as_ref()?["digest"].as_str())
    }
}

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
    /// The referrers copied with it (their root manifests), when asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referrers: Vec<String>,
}

impl CopyReport {
    /// Adds a referrer's copy to this report.
    fn absorb(&mut self, referrer: CopyReport) {
        self.referrers.push(referrer.digest);
        self.manifests.extend(referrer.manifests);
        self.blobs.extend(referrer.blobs);
        self.bytes_copied += referrer.bytes_copied;
        self.referrers.extend(referrer.referrers);
    }
}

impl Registry {
    /// Copies `from` (a tag or digest of an image on `source`) into `to` on this registry, under `tag` when
    /// given (else by digest only). An index is copied whole: every child manifest (platforms,
    /// attestations) and their blobs. Manifests are copied as the bytes the source sent, so every digest
    /// is preserved; blobs stream through without touching disk, several at once, and one the destination
    /// already has is not sent again (a rerun of an interrupted copy sends only what is missing).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use ghcr_client::registry::{Credentials, Registry};
    ///
    /// let ghcr = Registry::builder("ghcr.io").build()?;
    /// let lan = Registry::builder("registry.lan:5000").credentials(Credentials::Anonymous).build()?;
    /// let from = "ghcr.io/viktorbarzin/infra-ci:latest".parse()?;
    /// let to = "registry.lan:5000/infra-ci".parse()?;
    /// let report = lan.copy_from(&ghcr, &from, &to, Some(&"latest".parse()?)).await?;
    /// println!("{}", report.digest);
    /// # Ok(()) }
    /// ```
    pub async fn copy_from(
        &self,
        source: &Registry,
        from: &ImageRef,
        to: &ImageName,
        tag: Option<&Tag>,
    ) -> Result<CopyReport, Error> {
        self.copy_with(source, from, to, tag, &CopyOptions::default()).await
    }

    /// [`Self::copy_from`] with everything [`CopyOptions`] holds: a platform (an index narrowed to that
    /// platform's image manifest, which becomes the copied root), the referrers, progress.
    #[tracing::instrument(level = "info", name = "copy", skip_all, fields(from = %from, to = %to))]
    pub async fn copy_with(
        &self,
        source: &Registry,
        from: &ImageRef,
        to: &ImageName,
        tag: Option<&Tag>,
        options: &CopyOptions,
    ) -> Result<CopyReport, Error> {
        let transfer = BlobTransfer {
            source,
            from: source.path_of(from.name())?,
            to: self.path_of(to)?,
            progress: options.progress.as_ref(),
        };
        let reference = from.reference();
        let parts = source.image_parts(transfer.from, reference.as_str(), options.platform.as_ref()).await?;
        let mut report = self.copy_parts(&transfer, tag.map(Tag::as_str), parts).await?;
        if !options.referrers {
            return Ok(report);
        }
        for (referrer, parts) in source.referrer_parts(transfer.from, &report.manifests).await? {
            let done = self.copy_parts(&transfer, referrer.tag.as_deref(), parts).await?;
            if let Some(descriptor) = &referrer.descriptor {
                self.list_in_fallback_tag(transfer.to, &referrer.subject, descriptor).await?;
            }
            report.absorb(done);
        }
        Ok(report)
    }

    /// Every referrer of `subjects` in `repository`, and theirs (to [`MAX_REFERRER_DEPTH`]), each once,
    /// with its manifests (children first) and blobs: what a copy or a save brings along.
    async fn referrer_parts(
        &self,
        repository: &str,
        subjects: &[String],
    ) -> Result<Vec<(Referrer, ImageParts)>, Error> {
        let mut out = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut subjects = subjects.to_vec();
        let tags = self.list_tags(repository).await?;
        for _ in 0..MAX_REFERRER_DEPTH {
            let mut next = Vec::new();
            for referrer in self.referrers(repository, &subjects, &tags).await? {
                let Some(reference) = referrer.reference().map(str::to_owned) else { continue };
                if !seen.insert(reference.clone()) {
                    continue;
                }
                let parts = self.image_parts(repository, &reference, None).await?;
                next.extend(parts.manifests.iter().map(|m| m.digest.clone()));
                out.push((referrer, parts));
            }
            if next.is_empty() {
                break;
            }
            subjects = next;
        }
        Ok(out)
    }

    /// The referrers of `subjects` in `repository`: what the referrers API lists (when the registry has
    /// it) and what the tags name (cosign's `sha256-<hex>.sig`/`.att`/`.sbom`, OCI 1.1's fallback
    /// `sha256-<hex>` index of referrers), `tags` being the repository's.
    async fn referrers(&self, repository: &str, subjects: &[String], tags: &[String]) -> Result<Vec<Referrer>, Error> {
        let mut found = Vec::new();
        for subject in subjects {
            if let Some(index) = self.referrers_index(repository, subject).await? {
                for descriptor in index["manifests"].as_array().into_iter().flatten() {
                    if descriptor["digest"].is_string() {
                        found.push(Referrer {
                            subject: subject.clone(),
                            tag: None,
                            descriptor: Some(descriptor.clone()),
                        });
                    }
                }
            }
            let Some(hex) = subject.strip_prefix("sha256:") else { continue };
            let exact = format!("sha256-{hex}");
            let dotted = format!("{exact}.");
            for tag in tags.iter().filter(|t| **t == exact || t.starts_with(&dotted)) {
                found.push(Referrer { subject: subject.clone(), tag: Some(tag.clone()), descriptor: None });
            }
        }
        Ok(found)
    }

    /// `GET /v2/<repository>/referrers/<digest>`: the referrers index, or `None` when the registry has no
    /// referrers API (Distribution 2 answers 404).
    async fn referrers_index(&self, repository: &str, digest: &str) -> Result<Option<serde_json::Value>, Error> {
        super::read::manifest_reference(digest)?;
        let request = Request::get(format!("/v2/{repository}/referrers/{digest}"))
            .header(ACCEPT, HeaderValue::from_static(INDEX_MEDIA_TYPE));
        match self.execute(request, &Self::pull(repository)).await {
            Ok(response) => Ok(serde_json::from_slice(&response.body)
                .ok()
                .filter(|v: &serde_json::Value| v["manifests"].is_array())),
            Err(e) if matches!(e.status(), Some(400 | 404 | 405 | 406)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Makes a referrer found through the source's referrers API findable here too: on a registry without
    /// the API, it is listed in the fallback tag `sha256-<hex>` of its subject (OCI 1.1's tag schema).
    async fn list_in_fallback_tag(
        &self,
        repository: &str,
        subject: &str,
        descriptor: &serde_json::Value,
    ) -> Result<(), Error> {
        if self.referrers_index(repository, subject).await?.is_some() {
            return Ok(());
        }
        let Some(hex) = subject.strip_prefix("sha256:") else { return Ok(()) };
        let tag = format!("sha256-{hex}");
        let existing = self.get_manifest(repository, &tag).await?;
        if let Some(bytes) = with_referrer(existing.as_ref().map(|m| m.bytes.as_slice()), descriptor) {
            self.put_manifest(repository, &tag, INDEX_MEDIA_TYPE, &bytes, &Self::push_scope(repository)).await?;
        }
        Ok(())
    }

    /// The manifests of `reference` (children first, the root last; narrowed to `platform` when given)
    /// and the config and layer blobs they reference.
    pub(super) async fn image_parts(
        &self,
        source_repository: &str,
        reference: &str,
        platform: Option<&PlatformSpec>,
    ) -> Result<ImageParts, Error> {
        let source = self;
        let missing = |what: String| Error::Selection {
            path: format!("{}/{source_repository}:{reference}", source.host).into(),
            reason: what,
        };
        let mut root = source
            .get_manifest(source_repository, reference)
            .await?
            .ok_or_else(|| missing("the registry has no such manifest".into()))?;
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
                .get_manifest(source_repository, &chosen)
                .await?
                .ok_or_else(|| missing(format!("the {platform} manifest {chosen} is missing")))?;
        }
        // Children first, so that no manifest is pushed before what it references.
        let mut parts = ImageParts::default();
        collect(source, source_repository, root, &mut parts, 0).await?;
        Ok(parts)
    }

    /// Sends an image's blobs and then its manifests (children first) as `transfer` says, and tags the
    /// root `tag` when given.
    async fn copy_parts(
        &self,
        transfer: &BlobTransfer<'_>,
        tag: Option<&str>,
        parts: ImageParts,
    ) -> Result<CopyReport, Error> {
        let ImageParts { manifests, blobs } = parts;
        let copied: Arc<Mutex<u64>> = Arc::default();
        let outcomes: Vec<(String, BlobOutcome)> = stream::iter(blobs.into_iter().map(|(digest, size)| {
            let copied = copied.clone();
            async move {
                let outcome = self.copy_blob(transfer, &digest, size).await?;
                if outcome == BlobOutcome::Uploaded {
                    *copied.lock().expect("byte count") += size;
                }
                Ok::<_, Error>((digest, outcome))
            }
        }))
        .buffered(self.options.concurrency.max(1))
        .try_collect()
        .await?;

        let repository = transfer.to;
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
            referrers: Vec::new(),
        })
    }

    /// One blob: skipped when here, mounted on the same registry, else streamed, and streamed again from
    /// the start when the transfer fails on the way. `progress` hears it start (again on a restart), move
    /// and finish.
    #[tracing::instrument(level = "debug", name = "blob", skip_all, fields(repository = %transfer.to, digest = %digest))]
    pub(super) async fn copy_blob(
        &self,
        transfer: &BlobTransfer<'_>,
        digest: &str,
        size: u64,
    ) -> Result<BlobOutcome, Error> {
        let tell = |event| {
            if let Some(progress) = transfer.progress {
                progress(event)
            }
        };
        tell(Progress::BlobStarted { digest: digest.to_owned(), size });
        let outcome = self.transfer_blob(transfer, digest, size).await?;
        tell(Progress::BlobDone { digest: digest.to_owned(), outcome });
        Ok(outcome)
    }

    async fn transfer_blob(&self, transfer: &BlobTransfer<'_>, digest: &str, size: u64) -> Result<BlobOutcome, Error> {
        let repository = transfer.to;
        if self.has_blob(repository, digest).await? {
            return Ok(BlobOutcome::Present);
        }
        // On the same registry, the blob is mounted from the source repository: nothing is sent.
        let mut session = None;
        if transfer.source.host == self.host {
            match self.try_mount(repository, digest, transfer.from).await? {
                super::push::Mount::Mounted => return Ok(BlobOutcome::Mounted),
                super::push::Mount::Declined(location) => session = location,
            }
        }
        let session = Mutex::new(session);
        let restarts = std::sync::atomic::AtomicBool::new(false);
        self.restarting(digest, |_deadline| async {
            // A fresh upload session on a restart; the declined mount's only the first time.
            let location = session.lock().expect("session").take();
            if let (true, Some(progress)) =
                (restarts.swap(true, std::sync::atomic::Ordering::Relaxed), transfer.progress)
            {
                progress(Progress::BlobStarted { digest: digest.to_owned(), size });
            }
            match self.stream_blob(transfer, digest, size, location).await {
                // The upload may have landed before the connection broke.
                Err(e) if self.has_blob(repository, digest).await.unwrap_or(false) => {
                    tracing::debug!(digest, error = %e, "the blob arrived although its upload failed");
                    Ok(())
                }
                other => other,
            }
        })
        .await?;
        Ok(BlobOutcome::Uploaded)
    }

    /// Saves `image` (narrowed to `platform` when given) into the OCI image layout directory `dir` (made
    /// when missing; an existing layout keeps its other images), named `name` in its `index.json`:
    /// readable by skopeo (`oci:DIR:NAME`) and by our `push-image`. Blobs the layout has are not fetched
    /// again; each fetched blob is checked against its digest.
    pub async fn save_to_layout(
        &self,
        image: &ImageRef,
        dir: &std::path::Path,
        name: Option<&str>,
    ) -> Result<CopyReport, Error> {
        self.save_with(image, dir, name, &CopyOptions::default()).await
    }

    /// [`Self::save_to_layout`] with everything [`CopyOptions`] holds. Each referrer is saved under its tag
    /// (cosign's and OCI's tag names), or unnamed when the referrers API found it.
    #[tracing::instrument(level = "info", name = "save", skip_all, fields(from = %image, dir = %dir.display()))]
    pub async fn save_with(
        &self,
        image: &ImageRef,
        dir: &std::path::Path,
        name: Option<&str>,
        options: &CopyOptions,
    ) -> Result<CopyReport, Error> {
        let repository = self.path_of(image.name())?;
        let parts = self.image_parts(repository, image.reference().as_str(), options.platform.as_ref()).await?;
        let progress = options.progress.as_ref();
        let mut report = self.save_parts(repository, dir, name, parts, progress).await?;
        if !options.referrers {
            return Ok(report);
        }
        for (referrer, parts) in self.referrer_parts(repository, &report.manifests).await? {
            let name = referrer.tag.as_deref();
            report.absorb(self.save_parts(repository, dir, name, parts, progress).await?);
        }
        Ok(report)
    }

    /// Fetches `blobs` of `repository` into the layout `dir` (`blobs/sha256/`), each checked against its
    /// digest and written under a temporary name first, so a broken download never looks finished; one the
    /// layout has is not fetched again, one whose download breaks is fetched again on its own. Each blob's
    /// outcome, and the bytes fetched.
    pub(super) async fn fetch_blobs(
        &self,
        repository: &str,
        dir: &std::path::Path,
        blobs: &BTreeSet<(String, u64)>,
        progress: Option<&ProgressFn>,
    ) -> Result<(Vec<(String, BlobOutcome)>, u64), Error> {
        let report = |event: Progress| {
            if let Some(progress) = progress {
                progress(event)
            }
        };
        let blob_dir = dir.join("blobs").join("sha256");
        tokio::fs::create_dir_all(&blob_dir).await.map_err(|e| Error::io(&blob_dir, e))?;
        let io = |path: &std::path::Path, e| Error::io(path, e);
        let mut outcomes = Vec::new();
        let mut copied = 0u64;
        for (digest, size) in blobs {
            let path = blob_file(dir, digest)?;
            report(Progress::BlobStarted { digest: digest.clone(), size: *size });
            if tokio::fs::metadata(&path).await.is_ok_and(|m| m.len() == *size) && file_has_digest(&path, digest).await
            {
                outcomes.push((digest.clone(), BlobOutcome::Present));
                report(Progress::BlobDone { digest: digest.clone(), outcome: BlobOutcome::Present });
                continue;
            }
            let partial = path.with_extension("partial");
            let fetched = Mutex::new(0u64);
            self.restarting(digest, |_deadline| async {
                let mut file = tokio::fs::File::create(&partial).await.map_err(|e| io(&partial, e))?;
                *fetched.lock().expect("size") = self.pull_blob_at(repository, digest, &mut file).await?;
                Ok(())
            })
            .await?;
            copied += *fetched.lock().expect("size");
            tokio::fs::rename(&partial, &path).await.map_err(|e| io(&path, e))?;
            report(Progress::BlobBytes { digest: digest.clone(), bytes: *size });
            report(Progress::BlobDone { digest: digest.clone(), outcome: BlobOutcome::Uploaded });
            outcomes.push((digest.clone(), BlobOutcome::Uploaded));
        }
        Ok((outcomes, copied))
    }

    /// Writes an image's blobs (fetched unless present), then its manifests, into the layout `dir`, and
    /// names the root `ref_name` in its `index.json`.
    async fn save_parts(
        &self,
        repository: &str,
        dir: &std::path::Path,
        ref_name: Option<&str>,
        parts: ImageParts,
        progress: Option<&ProgressFn>,
    ) -> Result<CopyReport, Error> {
        let ImageParts { manifests, blobs } = parts;
        let (outcomes, copied) = self.fetch_blobs(repository, dir, &blobs, progress).await?;
        let io = |path: &std::path::Path, e| Error::io(path, e);
        for manifest in &manifests {
            let path = blob_file(dir, &manifest.digest)?;
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
                serde_json::json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []})
            }
        };
        let mut entry =
            serde_json::json!({"mediaType": root.media_type, "digest": root.digest, "size": root.bytes.len()});
        if let Some(name) = ref_name {
            entry["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": name});
        }
        // `get_mut`, not `index[..]`: an index.json that is not an object must be an error, not a panic.
        let list = index.get_mut("manifests").and_then(serde_json::Value::as_array_mut).ok_or_else(|| {
            Error::BadJson { path: index_file.clone(), what: "index.json".into(), reason: "no manifests list".into() }
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
            referrers: Vec::new(),
        })
    }

    /// One blob from the source to this registry, on `session` when the registry opened one: the source's
    /// answer body is the upload's body.
    async fn stream_blob(
        &self,
        transfer: &BlobTransfer<'_>,
        digest: &str,
        size: u64,
        session: Option<String>,
    ) -> Result<(), Error> {
        let repository = transfer.to;
        let response = transfer.source.blob_stream(transfer.from, digest).await?;
        let (progress, name) = (transfer.progress.cloned(), digest.to_owned());
        // A source that trickles fails the upload's body, and the blob starts again (`restarting`).
        let mut rate = super::Throughput::new(transfer.source.options.min_throughput);
        let chunks = response.bytes_stream().map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            rate.add(chunk.len()).map_err(std::io::Error::other)?;
            if let Some(progress) = &progress {
                progress(Progress::BlobBytes { digest: name.clone(), bytes: chunk.len() as u64 });
            }
            Ok::<_, std::io::Error>(chunk)
        });
        // The body can be sent once: the request is not retried here ([`Self::restarting`] starts the
        // blob again with a new source stream and upload session).
        let body = Mutex::new(Some(offinfra_http::Body::wrap_stream(chunks)));
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

/// The fallback tag's index (`existing`, or a new one) with `descriptor` listed, or `None` when there is
/// nothing to write: it is listed already, or what the server keeps there is not an index (any JSON a
/// server sent is read with `get_mut`, never indexed mutably, which panics on a non-object).
fn with_referrer(existing: Option<&[u8]>, descriptor: &serde_json::Value) -> Option<Vec<u8>> {
    let mut index = match existing {
        Some(bytes) => serde_json::from_slice(bytes).unwrap_or_default(),
        None => serde_json::json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []}),
    };
    let list = index.get_mut("manifests").and_then(serde_json::Value::as_array_mut)?;
    if list.iter().any(|d| d["digest"] == descriptor["digest"]) {
        return None;
    }
    list.push(descriptor.clone());
    serde_json::to_vec(&index).ok()
}

/// Whether the file at `path` hashes to `digest`: a blob already in a layout is trusted by its content,
/// never by its size alone.
async fn file_has_digest(path: &std::path::Path, digest: &str) -> bool {
    use tokio::io::AsyncReadExt;
    let (Ok(mut file), Ok(mut hasher)) = (tokio::fs::File::open(path).await, crate::layout::Hasher::for_digest(digest))
    else {
        return false;
    };
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf).await {
            Ok(0) => return hasher.finish() == digest,
            Ok(n) => hasher.update(&buf[..n]),
            Err(_) => return false,
        }
    }
}

/// The file of blob `digest` in the layout `dir`: `blobs/<algorithm>/<hex>`, the digest checked first (it
/// becomes a path).
fn blob_file(dir: &std::path::Path, digest: &str) -> Result<std::path::PathBuf, Error> {
    Ok(dir.join(crate::layout::digest_path(digest)?))
}

/// Reads `manifest` and, for an index, every child manifest (recursively), pushing each onto `out` after
/// its children, and gathers the config and layer blobs of every image manifest.
fn collect<'a>(
    source: &'a Registry,
    repository: &'a str,
    manifest: FetchedManifest,
    parts: &'a mut ImageParts,
    depth: usize,
) -> futures_util::future::BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let place = || std::path::PathBuf::from(format!("{}/{repository}", source.host));
        let too_much = |reason: String| Error::Selection { path: place(), reason };
        if parts.manifests.iter().any(|m| m.digest == manifest.digest) {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(too_much(format!("index {} is nested deeper than {MAX_DEPTH} indexes", manifest.digest)));
        }
        let held: usize = parts.manifests.iter().map(|m| m.bytes.len()).sum::<usize>() + manifest.bytes.len();
        if parts.manifests.len() >= MAX_MANIFESTS || held > MAX_MANIFEST_BYTES {
            return Err(too_much(format!(
                "the image has more than {MAX_MANIFESTS} manifests or {MAX_MANIFEST_BYTES} bytes of them"
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap_or_default();
        if let Some(children) = manifest.children() {
            for child in children {
                // A child already read (an index listing it twice, or two indexes sharing it) is not fetched.
                if parts.manifests.iter().any(|m| m.digest == child) {
                    continue;
                }
                let fetched = source.get_manifest(repository, &child).await?.ok_or_else(|| Error::MissingBlob {
                    path: format!("{}/{repository}", source.host).into(),
                    digest: child.clone(),
                })?;
                collect(source, repository, fetched, parts, depth + 1).await?;
            }
        } else {
            let descriptors = value["layers"].as_array().into_iter().flatten().chain(std::iter::once(&value["config"]));
            for descriptor in descriptors {
                if let (Some(digest), Some(size)) = (descriptor["digest"].as_str(), descriptor["size"].as_u64()) {
                    parts.blobs.insert((digest.to_owned(), size));
                }
            }
        }
        parts.manifests.push(manifest);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fallback_tag_holding_anything_but_an_index_is_left_alone_not_a_panic() {
        let descriptor = serde_json::json!({"digest": "sha256:aa", "mediaType": INDEX_MEDIA_TYPE});
        for held in ["[]", "\"text\"", "7", "null", "{\"manifests\": {}}", "not json"] {
            assert_eq!(with_referrer(Some(held.as_bytes()), &descriptor), None, "{held}");
        }
        let fresh: serde_json::Value = serde_json::from_slice(&with_referrer(None, &descriptor).unwrap()).unwrap();
        assert_eq!(fresh["manifests"][0], descriptor);
        let listed = serde_json::to_vec(&fresh).unwrap();
        assert_eq!(with_referrer(Some(&listed), &descriptor), None, "listed once, not twice");
    }
}
