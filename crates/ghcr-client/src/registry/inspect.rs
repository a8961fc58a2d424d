//! Reading what an image holds without pulling it to disk: its manifest and config for one platform,
//! and the paths in one of its layers (streamed through gzip and tar, headers only).

use serde_json::Value;
use tokio::io::AsyncReadExt;

use offinfra_types::{ImageName, ImageRef};

use super::Registry;
use crate::{layout::PlatformSpec, Error};

/// The most config JSON read into memory: real configs are a few KiB.
pub const MAX_CONFIG_BYTES: usize = 4 << 20;
/// The most entries one layer may list (a layer holding more is refused, not listed for ever).
pub const MAX_LAYER_ENTRIES: usize = 1_000_000;

/// One platform's image: its manifest's digest and JSON, and its config.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PlatformImage {
    /// The image manifest's digest.
    pub digest: String,
    /// The image manifest.
    pub manifest: Value,
    /// The image config (`config.Entrypoint`, `config.Cmd`, `os`, `architecture`, …).
    pub config: Value,
}

impl PlatformImage {
    /// The config's entrypoint and command (`config.Entrypoint`, `config.Cmd`), each empty when unset.
    pub fn entrypoint_and_cmd(&self) -> (Vec<String>, Vec<String>) {
        let strings = |v: &Value| {
            v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect::<Vec<_>>()
        };
        (strings(&self.config["config"]["Entrypoint"]), strings(&self.config["config"]["Cmd"]))
    }

    /// The layer descriptors, base first.
    pub fn layers(&self) -> Vec<Value> {
        self.manifest["layers"].as_array().cloned().unwrap_or_default()
    }
}

impl Registry {
    /// The image `image` for `platform` (an index is narrowed to it), with its config read into memory
    /// ([`MAX_CONFIG_BYTES`] at most). The config must be of that platform.
    pub async fn platform_image(&self, image: &ImageRef, platform: &PlatformSpec) -> Result<PlatformImage, Error> {
        let repository = self.path_of(image.name())?;
        let reference = image.reference();
        let what = || image.to_string();
        let bad = |reason: String| Error::Image { what: what(), reason };
        let manifests = self.image_parts(repository, reference.as_str(), Some(platform)).await?.manifests;
        let root = manifests.last().ok_or_else(|| bad("no manifest".into()))?;
        if root.children().is_some() {
            return Err(bad("a nested index".into()));
        }
        let manifest: Value = serde_json::from_slice(&root.bytes).map_err(|e| bad(format!("its manifest: {e}")))?;
        let config_digest =
            manifest["config"]["digest"].as_str().ok_or_else(|| bad("a manifest without a config".into()))?;
        let declared = manifest["config"]["size"].as_u64().unwrap_or(0);
        if declared > MAX_CONFIG_BYTES as u64 {
            return Err(bad(format!("its config is {declared} bytes, over the {MAX_CONFIG_BYTES}-byte cap")));
        }
        // The declared size is the server's word: the bytes are capped as they arrive too.
        let mut capped = Capped { bytes: Vec::new(), limit: MAX_CONFIG_BYTES };
        if let Err(e) = self.pull_blob_at(repository, config_digest, &mut capped).await {
            return Err(match capped.bytes.len() >= MAX_CONFIG_BYTES {
                true => bad(format!("its config is over the {MAX_CONFIG_BYTES}-byte cap")),
                false => e,
            });
        }
        let bytes = capped.bytes;
        let config: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("its config: {e}")))?;
        let (os, arch) =
            (config["os"].as_str().unwrap_or_default(), config["architecture"].as_str().unwrap_or_default());
        if os != platform.os || arch != platform.architecture {
            return Err(bad(format!("it is {os}/{arch}, not {platform}")));
        }
        Ok(PlatformImage { digest: root.digest.clone(), manifest, config })
    }

    /// The paths in the layer `descriptor` of `image` (tar entry names without a leading `./` or
    /// `/`, whiteouts included as they are), read as the blob streams in: nothing is written to disk and
    /// only the headers are kept. gzip and uncompressed tar layers are read; another compression (zstd)
    /// is an error naming it. The blob's digest is checked once it is read whole.
    pub async fn layer_paths(&self, image: &ImageName, descriptor: &Value) -> Result<Vec<String>, Error> {
        let repository = self.path_of(image)?;
        let digest = descriptor["digest"].as_str().unwrap_or_default().to_owned();
        let media_type = descriptor["mediaType"].as_str().unwrap_or_default().to_owned();
        let place = format!("{}/{repository}@{digest}", self.host);
        let gzip = match media_type.as_str() {
            t if t.ends_with("tar+gzip") || t.ends_with(".tar.gzip") => true,
            t if t.ends_with(".tar") || t.ends_with("tar") => false,
            other => {
                return Err(Error::Image {
                    what: place,
                    reason: format!("layer media type {other:?}: only gzip and plain tar layers can be read"),
                })
            }
        };
        // The blob streams into one end of a pipe; a blocking thread reads gzip and tar from the other.
        let (mut writer, reader) = tokio::io::duplex(256 << 10);
        let handle = tokio::runtime::Handle::current();
        let lister_place = place.clone();
        let lister = tokio::task::spawn_blocking(move || {
            list_tar(BlockingReader { inner: reader, handle }, gzip, &lister_place)
        });
        let pulled = self.pull_blob_at(repository, &digest, &mut writer).await;
        drop(writer);
        let listed = lister.await.map_err(|e| Error::Image { what: place.clone(), reason: e.to_string() })?;
        pulled?;
        listed
    }
}

/// A buffer that refuses to grow past `limit`: a write that would is an error (and what fitted is kept,
/// so the caller can tell the cap from another failure).
struct Capped {
    bytes: Vec<u8>,
    limit: usize,
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let room = self.limit.saturating_sub(self.bytes.len());
        if buf.len() > room {
            let fits = &buf[..room];
            self.bytes.extend_from_slice(fits);
            return std::task::Poll::Ready(Err(std::io::Error::other(format!("over the {}-byte cap", self.limit))));
        }
        self.bytes.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A blocking `Read` over an async reader, for a thread of `spawn_blocking`.
struct BlockingReader {
    inner: tokio::io::DuplexStream,
    handle: tokio::runtime::Handle,
}

impl std::io::Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.handle.block_on(self.inner.read(buf))
    }
}

fn list_tar(reader: BlockingReader, gzip: bool, place: &str) -> Result<Vec<String>, Error> {
    let bad = |reason: String| Error::Image { what: place.to_owned(), reason };
    let reader: Box<dyn std::io::Read> = match gzip {
        true => Box::new(flate2::read::GzDecoder::new(reader)),
        false => Box::new(reader),
    };
    let mut archive = tar::Archive::new(reader);
    let mut paths = Vec::new();
    for entry in archive.entries().map_err(|e| bad(format!("not a tar: {e}")))? {
        let entry = entry.map_err(|e| bad(format!("a broken tar entry: {e}")))?;
        let path = entry.path().map_err(|e| bad(format!("an entry's path: {e}")))?;
        let text = path.to_string_lossy();
        paths.push(text.trim_start_matches("./").trim_start_matches('/').to_owned());
        if paths.len() > MAX_LAYER_ENTRIES {
            return Err(bad(format!("more than {MAX_LAYER_ENTRIES} entries")));
        }
    }
    // Read what follows the archive's end, so the whole blob streams through and its digest is checked.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| bad(format!("reading the layer: {e}")))?;
    Ok(paths)
}
