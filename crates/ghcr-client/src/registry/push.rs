//! The push of a layout's image: every blob (skipped when present, mounted from another repository,
//! else streamed in one request or in chunks that resume), then the manifests, then the tags. Each blob
//! has one overall deadline across all retries.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Instant,
};

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use oci_spec::image::Descriptor;
use offinfra_http::{
    header::{HeaderValue, CONTENT_LENGTH, CONTENT_RANGE, LOCATION},
    Request, StatusCode,
};
use offinfra_types::{CommitId, ImageName, Tag};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{Registry, UploadMode, DOCKER_CONTENT_DIGEST};
use crate::{
    layout::{Hasher, Layout, SelectedImage},
    Error,
};

/// What happened to one blob during a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobOutcome {
    /// Already in the repository.
    Present,
    /// Mounted from another repository of the registry.
    Mounted,
    /// Uploaded.
    Uploaded,
}

/// Progress of a push, for progress bars.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A blob is starting.
    BlobStarted {
        /// Its digest.
        digest: String,
        /// Its size.
        size: u64,
    },
    /// Bytes of a blob were sent.
    BlobBytes {
        /// Its digest.
        digest: String,
        /// Bytes sent in this step.
        bytes: u64,
    },
    /// A blob is done.
    BlobDone {
        /// Its digest.
        digest: String,
        /// How.
        outcome: BlobOutcome,
    },
    /// A manifest was pushed under a reference (digest or tag).
    ManifestPushed {
        /// The reference.
        reference: String,
    },
}

/// A callback for [`Progress`] events.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// One blob to send: where it goes and where its bytes are.
#[derive(Clone, Copy)]
struct BlobUpload<'a> {
    repository: &'a str,
    location: &'a str,
    digest: &'a str,
    file: &'a Path,
    offset: u64,
    length: u64,
    progress: Option<&'a ProgressFn>,
    /// No retry of any kind for this blob starts after this instant.
    deadline: Instant,
    /// The most bytes one `PATCH` may carry (chunked uploads).
    chunk: u64,
}

fn emit(progress: Option<&ProgressFn>, event: Progress) {
    if let Some(progress) = progress {
        progress(event);
    }
}

/// The tags an image built from `sha` is pushed under: `tags` in order, then `<sha8>`, each once.
///
/// ```
/// use ghcr_client::registry::push::image_tags;
///
/// let tags = image_tags(&["latest".parse()?], Some(&"0123abcd4567".parse()?));
/// assert_eq!(tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["latest", "0123abcd"]);
/// # Ok::<(), offinfra_types::Error>(())
/// ```
pub fn image_tags(tags: &[Tag], sha: Option<&CommitId>) -> Vec<Tag> {
    let mut out: Vec<Tag> = Vec::new();
    for tag in tags.iter().cloned().chain(sha.map(CommitId::image_tag)) {
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

/// Where an upload stands, from the `Range` of its status (`0-N`: N+1 bytes received; `0-0` is how
/// Distribution says "nothing yet"); `None` for anything else, an overflow included. The caller still checks
/// the offset against the blob.
///
/// ```
/// use ghcr_client::registry::push::upload_offset;
/// assert_eq!(upload_offset("0-4095"), Some(4096));
/// assert_eq!(upload_offset("0-0"), Some(0));
/// assert_eq!(upload_offset("0-18446744073709551615"), None);
/// assert_eq!(upload_offset("bytes=x"), None);
/// ```
pub fn upload_offset(range: &str) -> Option<u64> {
    let (start, end) = range.trim().split_once('-')?;
    let end = end.parse::<u64>().ok()?;
    match (start, end) {
        ("0", 0) => Some(0),
        ("0", end) => end.checked_add(1),
        _ => None,
    }
}

/// One blob of a [`PushPlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PlannedBlob {
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What pushing a layout's image will send, decided before anything is (what a dry run prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PushPlan {
    /// Where it goes.
    pub repository: ImageName,
    /// The root manifest's digest, what the tags will point at.
    pub digest: String,
    /// The tags.
    pub tags: Vec<Tag>,
    /// The manifests, children first.
    pub manifests: Vec<String>,
    /// The config and layer blobs.
    pub blobs: Vec<PlannedBlob>,
}

impl PushPlan {
    /// The plan for pushing `image` to `repository` under `tags`.
    pub fn new(repository: &ImageName, image: &SelectedImage, tags: &[Tag]) -> Self {
        Self {
            repository: repository.clone(),
            digest: image.digest(),
            tags: tags.to_vec(),
            manifests: image.manifests().iter().map(|m| m.descriptor.digest().to_string()).collect(),
            blobs: image
                .blobs()
                .iter()
                .map(|b| PlannedBlob { digest: b.digest().to_string(), size: b.size() })
                .collect(),
        }
    }

    /// `would push <digest> (<n> blobs, <bytes> bytes) to <repository> as <tags>`.
    pub fn describe(&self) -> String {
        let bytes: u64 = self.blobs.iter().map(|b| b.size).sum();
        format!(
            "would push {} ({} blobs, {bytes} bytes) to {} as {}",
            self.digest,
            self.blobs.len(),
            self.repository,
            join(&self.tags)
        )
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
}

/// A finished push in numbers (what `push-image` reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PushSummary {
    /// Where it went.
    pub repository: ImageName,
    /// The digest the tags point at.
    pub digest: String,
    /// The tags pushed.
    pub tags: Vec<String>,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs already there.
    pub present: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
}

impl PushSummary {
    /// `pushed <repository>@<digest> as <tags> (<n> uploaded, <n> present, <n> mounted, <bytes> bytes)`.
    pub fn describe(&self) -> String {
        format!(
            "pushed {}@{} as {} ({} uploaded, {} present, {} mounted, {} bytes)",
            self.repository,
            self.digest,
            self.tags.join(", "),
            self.uploaded,
            self.present,
            self.mounted,
            self.bytes_uploaded
        )
    }
}

/// What a cross-repository mount attempt got.
pub(super) enum Mount {
    /// The blob is in the repository now.
    Mounted,
    /// Not mounted; the upload session the registry opened instead, if it did.
    Declined(Option<String>),
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PushReport {
    /// The digest the tags point at.
    pub digest: String,
    /// Each blob's digest and outcome.
    pub blobs: Vec<(String, BlobOutcome)>,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// The tags pushed.
    pub tags: Vec<String>,
}

impl PushReport {
    /// The report in numbers, for `repository`.
    pub fn summary(&self, repository: &ImageName) -> PushSummary {
        let count = |outcome| self.blobs.iter().filter(|(_, o)| *o == outcome).count();
        PushSummary {
            repository: repository.clone(),
            digest: self.digest.clone(),
            tags: self.tags.clone(),
            uploaded: count(BlobOutcome::Uploaded),
            present: count(BlobOutcome::Present),
            mounted: count(BlobOutcome::Mounted),
            bytes_uploaded: self.bytes_uploaded,
        }
    }
}

/// A push being set up: [`Registry::push`] (what, from where, to which repository), optionally tags, a mount source and
/// progress, then [`Push::send`]. The one way a layout's image goes to a registry.
///
/// ```no_run
/// use ghcr_client::{layout::{Layout, Selector}, registry::{Credentials, Registry}};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let layout = Layout::open("image.tar")?;
/// let image = layout.select(&Selector::default())?;
/// let registry = Registry::builder("ghcr.io").build()?;
/// let to = "ghcr.io/acme/app".parse()?;
/// let report = registry
///     .push(&layout, &image, &to)
///     .tags(&["latest".parse()?, "0123abcd".parse()?])
///     .send()
///     .await?;
/// println!("{}", report.digest);
/// # Ok(()) }
/// ```
#[must_use = "a push does nothing until it is sent"]
#[non_exhaustive]
pub struct Push<'a> {
    registry: &'a Registry,
    layout: &'a Layout,
    image: &'a SelectedImage,
    to: &'a ImageName,
    tags: Vec<Tag>,
    mount_from: Option<&'a ImageName>,
    progress: Option<ProgressFn>,
}

impl<'a> Push<'a> {
    /// The tags the image is pushed under (none: by digest only).
    pub fn tags(mut self, tags: &[Tag]) -> Self {
        self.tags = tags.to_vec();
        self
    }

    /// A repository of this registry to mount blobs from before uploading them.
    pub fn mount_from(mut self, image: Option<&'a ImageName>) -> Self {
        self.mount_from = image;
        self
    }

    /// Told as blobs start, move and finish, and as manifests land.
    pub fn progress(mut self, progress: Option<ProgressFn>) -> Self {
        self.progress = progress;
        self
    }

    /// Pushes: blobs (skipping present ones, mounting when asked), then manifests children first, then the
    /// tags. No tag is written before everything it points at is in the registry.
    #[tracing::instrument(level = "info", name = "push", skip_all, fields(to = %self.to, digest = %self.image.digest()))]
    pub async fn send(self) -> Result<PushReport, Error> {
        let registry = self.registry;
        let repository = registry.path_of(self.to)?;
        let mount_from = self.mount_from.map(|m| registry.path_of(m)).transpose()?;
        let tags: Vec<String> = self.tags.iter().map(Tag::to_string).collect();
        let route = Route { repository, mount_from, progress: self.progress.as_ref() };
        registry.push_parts(self.layout, self.image, &route, &tags).await
    }
}

/// Where a push's blobs go and how it is told.
pub(super) struct Route<'a> {
    pub(super) repository: &'a str,
    pub(super) mount_from: Option<&'a str>,
    pub(super) progress: Option<&'a ProgressFn>,
}

impl Registry {
    /// Starts a push of `image` from `layout` to the repository `to` of this registry ([`Push`]).
    pub fn push<'a>(&'a self, layout: &'a Layout, image: &'a SelectedImage, to: &'a ImageName) -> Push<'a> {
        Push { registry: self, layout, image, to, tags: Vec::new(), mount_from: None, progress: None }
    }

    /// How a blob goes up on a session that advertised `chunk_max` (`OCI-Chunk-Max-Length`), and the
    /// chunk size. `Auto` is what containerd does for every `docker buildx` push, to ghcr.io as elsewhere:
    /// `POST`, then one streamed `PUT` of the whole blob (containerd `core/remotes/docker/pusher.go`: chunked
    /// upload is a TODO there). ghcr.io's 4 MiB cap is on one `PATCH`, not on a `PUT` with the blob. Chunks
    /// are used when asked for, when the session advertises a maximum chunk length, and after a registry
    /// refused a whole blob (413/416, see [`Self::push_blob`]).
    fn upload_plan(&self, chunk_max: Option<u64>) -> (UploadMode, u64) {
        let ours = self.options.chunk_size.max(1) as u64;
        let chunk = chunk_max.filter(|m| *m > 0).map_or(ours, |max| max.min(ours));
        match self.options.upload {
            UploadMode::Auto if chunk_max.is_some() => (UploadMode::Chunked, chunk),
            UploadMode::Auto => (UploadMode::Monolithic, chunk),
            mode => (mode, chunk),
        }
    }

    async fn push_parts(
        &self,
        layout: &Layout,
        image: &SelectedImage,
        route: &Route<'_>,
        tags: &[String],
    ) -> Result<PushReport, Error> {
        let Route { repository, progress, .. } = *route;
        let notify = |event| emit(progress, event);
        let outcomes: Vec<(String, BlobOutcome, u64)> = stream::iter(image.blobs().iter().cloned())
            .map(|descriptor| async move {
                let pushed = self.push_blob(layout, &descriptor, route).await;
                if let Ok((digest, outcome, sent)) = &pushed {
                    tracing::debug!(repository, digest = %digest, size = descriptor.size(), ?outcome, sent, "blob");
                }
                pushed
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .try_collect()
            .await?;
        let scopes = Self::push_scope(repository);
        for manifest in image.manifests() {
            let digest = manifest.descriptor.digest().to_string();
            let is_root = std::ptr::eq(manifest, image.root());
            if !is_root || tags.is_empty() {
                self.put_manifest(
                    repository,
                    &digest,
                    manifest.descriptor.media_type().as_ref(),
                    &manifest.bytes,
                    &scopes,
                )
                .await?;
                notify(Progress::ManifestPushed { reference: digest.clone() });
            }
        }
        let root = image.root();
        for tag in tags {
            self.put_manifest(repository, tag, root.descriptor.media_type().as_ref(), &root.bytes, &scopes).await?;
            notify(Progress::ManifestPushed { reference: tag.clone() });
        }
        Ok(PushReport {
            digest: image.digest(),
            bytes_uploaded: outcomes.iter().filter(|(_, o, _)| *o == BlobOutcome::Uploaded).map(|(_, _, n)| n).sum(),
            blobs: outcomes.into_iter().map(|(d, o, _)| (d, o)).collect(),
            tags: tags.to_vec(),
        })
    }

    pub(super) async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        scopes: &[String],
    ) -> Result<(), Error> {
        super::read::manifest_reference(reference)?;
        let request = Request::put(format!("/v2/{repository}/manifests/{reference}"))
            .body(Bytes::copy_from_slice(bytes), media_type);
        let response = self.execute(request, scopes).await?;
        if let Some(returned) = response.header(DOCKER_CONTENT_DIGEST) {
            let sent = crate::layout::sha256_digest(bytes);
            if returned.starts_with("sha256:") && returned != sent {
                return Err(Error::DigestMismatch {
                    path: PathBuf::from(format!("{}/{repository}", self.host)),
                    digest: sent,
                    actual: returned.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// One blob, in a span that names it: every event under it (requests, retries, token exchanges) can be
    /// told apart from those of the blobs sent beside it.
    #[tracing::instrument(level = "debug", name = "blob", skip_all, fields(repository = %route.repository, digest = %descriptor.digest()))]
    pub(super) async fn push_blob(
        &self,
        layout: &Layout,
        descriptor: &Descriptor,
        route: &Route<'_>,
    ) -> Result<(String, BlobOutcome, u64), Error> {
        let Route { repository, mount_from, progress } = *route;
        let digest = descriptor.digest().to_string();
        let size = descriptor.size();
        let notify = |event| emit(progress, event);
        notify(Progress::BlobStarted { digest: digest.clone(), size });
        if self.has_blob(repository, &digest).await? {
            notify(Progress::BlobDone { digest: digest.clone(), outcome: BlobOutcome::Present });
            return Ok((digest, BlobOutcome::Present, 0));
        }
        let mut session = None;
        if let Some(from) = mount_from {
            match self.try_mount(repository, &digest, from).await? {
                Mount::Mounted => {
                    notify(Progress::BlobDone { digest: digest.clone(), outcome: BlobOutcome::Mounted });
                    return Ok((digest, BlobOutcome::Mounted, 0));
                }
                Mount::Declined(location) => session = location,
            }
        }
        let (file, offset, length) = layout.blob_location(descriptor)?;
        // One deadline for the whole blob: the shared client retries each request, the chunk loop
        // resumes a session, and `restarting` opens a new session, but none of them starts after it.
        let session = Mutex::new(session);
        // Set once a registry refused this blob whole: chunks from then on.
        let refused_whole = std::sync::atomic::AtomicBool::new(false);
        let (session, refused_whole, digest_ref, file) = (&session, &refused_whole, &digest, &file);
        self.restarting(&digest, |deadline| async move {
            let digest = digest_ref;
            let taken = session.lock().expect("session").take();
            let (location, chunk_max) = match taken {
                Some(location) => (location, None),
                None => self.start_upload_session(repository).await?,
            };
            let (mode, chunk) = self.upload_plan(chunk_max);
            let upload = BlobUpload {
                repository,
                location: &location,
                digest,
                file,
                offset,
                length,
                progress,
                deadline,
                chunk,
            };
            if mode == UploadMode::Chunked || refused_whole.load(std::sync::atomic::Ordering::Relaxed) {
                return self.upload_chunked(&upload).await;
            }
            match self.upload_monolithic(&upload).await {
                // Too large for one request (413), or a registry that wants ranges (416): in Auto mode the
                // blob goes again at once, in chunks, on a new session.
                Err(e) if self.options.upload == UploadMode::Auto && matches!(e.status(), Some(413 | 416)) => {
                    tracing::info!(repository, digest = %digest, status = ?e.status(), "the registry refused the blob whole: sending it in chunks");
                    refused_whole.store(true, std::sync::atomic::Ordering::Relaxed);
                    let (location, chunk_max) = self.start_upload_session(repository).await?;
                    let (_, chunk) = self.upload_plan(chunk_max);
                    self.upload_chunked(&BlobUpload { location: &location, chunk, ..upload }).await
                }
                other => other,
            }
        })
        .await?;
        notify(Progress::BlobDone { digest: digest.clone(), outcome: BlobOutcome::Uploaded });
        Ok((digest, BlobOutcome::Uploaded, size))
    }

    /// Asks the registry to mount `digest` from its repository `from` into `repository`.
    pub(super) async fn try_mount(&self, repository: &str, digest: &str, from: &str) -> Result<Mount, Error> {
        if from == repository {
            return Ok(Mount::Declined(None));
        }
        let scopes = vec![format!("repository:{repository}:pull,push"), format!("repository:{from}:pull")];
        let request =
            Request::post(format!("/v2/{repository}/blobs/uploads/")).query("mount", digest).query("from", from);
        let response = self.send(request, &scopes).await?;
        Ok(match response.status {
            StatusCode::CREATED => Mount::Mounted,
            // Mount declined: the registry opened an upload session instead.
            StatusCode::ACCEPTED => Mount::Declined(response.header(LOCATION.as_str()).map(str::to_owned)),
            _ => Mount::Declined(None),
        })
    }

    pub(super) async fn start_upload(&self, repository: &str) -> Result<String, Error> {
        Ok(self.start_upload_session(repository).await?.0)
    }

    /// Opens an upload session: its `Location`, and the most bytes one chunk may carry when the registry
    /// says so (`OCI-Chunk-Max-Length`, distribution-spec 1.1).
    async fn start_upload_session(&self, repository: &str) -> Result<(String, Option<u64>), Error> {
        let response = self
            .execute(Request::post(format!("/v2/{repository}/blobs/uploads/")), &Self::push_scope(repository))
            .await?;
        let chunk_max = response.header("oci-chunk-max-length").and_then(|v| v.trim().parse::<u64>().ok());
        let location = response.header(LOCATION.as_str()).map(str::to_owned).ok_or_else(|| {
            Error::from(offinfra_http::Error::Decode {
                method: "POST".into(),
                url: response.url.to_string(),
                reason: "no Location for the upload".into(),
            })
        })?;
        Ok((location, chunk_max))
    }

    /// One streamed `PUT` of the whole blob, hashed on the way out.
    async fn upload_monolithic(&self, upload: &BlobUpload<'_>) -> Result<(), Error> {
        let BlobUpload { repository, location, digest, file, offset, length, progress, .. } = *upload;
        let file_path = file.to_owned();
        let file = file.to_owned();
        let progress = progress.cloned();
        let digest_owned = digest.to_owned();
        // The stream hashes what it sends: a corrupt blob is caught here, before any manifest or tag.
        let corrupt: Arc<Mutex<Option<String>>> = Arc::default();
        let corrupt_in_stream = corrupt.clone();
        let factory: offinfra_http::BodyFactory = Arc::new(move || {
            let file = file.clone();
            let progress = progress.clone();
            let digest = digest_owned.clone();
            let corrupt = corrupt_in_stream.clone();
            let hasher = Hasher::for_digest(&digest).ok();
            let chunks =
                stream::try_unfold((None::<tokio::fs::File>, 0u64, hasher), move |(handle, sent, mut hasher)| {
                    let file = file.clone();
                    let progress = progress.clone();
                    let digest = digest.clone();
                    let corrupt = corrupt.clone();
                    async move {
                        if sent >= length {
                            return Ok::<_, std::io::Error>(None);
                        }
                        let mut handle = match handle {
                            Some(h) => h,
                            None => {
                                let mut h = tokio::fs::File::open(&file).await?;
                                h.seek(std::io::SeekFrom::Start(offset)).await?;
                                h
                            }
                        };
                        let want = (length - sent).min(1024 * 1024) as usize;
                        let mut buf = vec![0u8; want];
                        handle.read_exact(&mut buf).await?;
                        if let Some(h) = hasher.as_mut() {
                            h.update(&buf);
                        }
                        // Check before the last bytes leave: the HTTP stack stops reading at the length.
                        if sent + want as u64 == length {
                            if let Some(h) = hasher.take() {
                                let actual = h.finish();
                                if actual != digest {
                                    *corrupt.lock().expect("corrupt flag lock") = Some(actual);
                                    return Err(std::io::Error::new(
                                        std::io::ErrorKind::InvalidData,
                                        format!("blob {digest} is corrupt"),
                                    ));
                                }
                            }
                        }
                        if let Some(progress) = &progress {
                            progress(Progress::BlobBytes { digest, bytes: want as u64 });
                        }
                        Ok(Some((Bytes::from(buf), (Some(handle), sent + want as u64, hasher))))
                    }
                });
            offinfra_http::Body::wrap_stream(chunks)
        });
        let request = Request::put(location)
            .query("digest", digest)
            .header(CONTENT_LENGTH, HeaderValue::from(length))
            .stream_body(factory, "application/octet-stream")
            // A failed upload is restarted whole, on a new session, by the caller.
            .idempotent(false);
        let result = self.execute(request, &Self::push_scope(repository)).await;
        if let Some(actual) = corrupt.lock().expect("corrupt flag lock").take() {
            return Err(Error::DigestMismatch { path: file_path.clone(), digest: digest.to_owned(), actual });
        }
        result.map(|_| ())
    }

    /// `PATCH` chunks of at most the chunk size, each retried, resuming where the registry stands.
    async fn upload_chunked(&self, upload: &BlobUpload<'_>) -> Result<(), Error> {
        let BlobUpload { repository, location, digest, file, offset, length, progress, deadline, chunk } = *upload;
        let scopes = Self::push_scope(repository);
        let mut handle = tokio::fs::File::open(file).await.map_err(|e| Error::io(file, e))?;
        let mut location = location.to_owned();
        let mut sent = 0u64;
        let mut hasher = Hasher::for_digest(digest)?;
        let mut hashed = 0u64;
        let mut failures = 0u32;
        while sent < length {
            let want = (length - sent).min(chunk) as usize;
            let mut buf = vec![0u8; want];
            handle.seek(std::io::SeekFrom::Start(offset + sent)).await.map_err(|e| Error::io(file, e))?;
            handle.read_exact(&mut buf).await.map_err(|e| Error::io(file, e))?;
            // Hash each byte once, in order, even when a resume re-reads part of a chunk.
            if hashed >= sent && hashed < sent + want as u64 {
                hasher.update(&buf[(hashed - sent) as usize..]);
                hashed = sent + want as u64;
            }
            let range =
                HeaderValue::from_str(&format!("{}-{}", sent, sent + want as u64 - 1)).expect("digits and a dash");
            let request = Request::patch(location.as_str())
                .header(CONTENT_RANGE, range)
                .body(Bytes::from(buf), "application/octet-stream")
                // A chunk at a given range can be sent again: the registry checks the offset.
                .idempotent(true);
            match self.execute(request, &scopes).await {
                Ok(response) => {
                    failures = 0;
                    location = response.header(LOCATION.as_str()).map(str::to_owned).unwrap_or(location);
                    sent += want as u64;
                    if let Some(progress) = progress {
                        progress(Progress::BlobBytes { digest: digest.to_owned(), bytes: want as u64 });
                    }
                }
                Err(e) => {
                    failures += 1;
                    if failures >= self.options.retry.max_attempts.max(1) || Instant::now() >= deadline {
                        return Err(e);
                    }
                    // Ask where the upload stands and resume from there, or give up on this session.
                    let status = self.send(Request::get(location.as_str()), &scopes).await?;
                    let resumed = status.header("range").and_then(upload_offset);
                    match resumed {
                        // Resume where the registry stands (the same chunk again when it has none of it).
                        Some(at) if status.status == StatusCode::NO_CONTENT && at >= sent && at <= length => {
                            location = status.header(LOCATION.as_str()).map(str::to_owned).unwrap_or(location);
                            sent = at;
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
        let actual = hasher.finish();
        if hashed != length || actual != digest {
            return Err(Error::DigestMismatch { path: file.to_owned(), digest: digest.to_owned(), actual });
        }
        let request =
            Request::put(location.as_str()).query("digest", digest).header(CONTENT_LENGTH, HeaderValue::from(0u64));
        self.execute(request, &scopes).await?;
        Ok(())
    }
}
