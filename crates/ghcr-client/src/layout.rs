//! Reading an OCI image layout, as a directory or as the tar `docker buildx --output type=oci` writes.
//!
//! Nothing is extracted: blobs in a tar are read in place, by offset. Every blob is checked against its
//! descriptor (size and digest) before a push can start, so a corrupt layout pushes nothing.

use std::{
    collections::{HashMap, HashSet},
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
};

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use sha2::Digest as _;

use crate::Error;

/// `org.opencontainers.image.ref.name`: the tag of an image inside a layout.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// buildx marks attestation manifests with this annotation…
pub const ANNOTATION_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// …set to this value.
pub const ATTESTATION_MANIFEST: &str = "attestation-manifest";

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Manifests and indexes are small; a larger "manifest" is a broken layout, not something to load.
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// What kind of document a descriptor points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// An image manifest (OCI or Docker v2).
    Image,
    /// An image index (OCI) or manifest list (Docker).
    Index,
}

impl ManifestKind {
    /// The kind of `media_type`, if it is a manifest or an index.
    pub fn of(media_type: &MediaType) -> Option<Self> {
        match media_type {
            MediaType::ImageManifest => Some(ManifestKind::Image),
            MediaType::ImageIndex => Some(ManifestKind::Index),
            MediaType::Other(m) if m == DOCKER_MANIFEST => Some(ManifestKind::Image),
            MediaType::Other(m) if m == DOCKER_MANIFEST_LIST => Some(ManifestKind::Index),
            _ => None,
        }
    }
}

/// An `os/architecture[/variant]` platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlatformSpec {
    /// e.g. `linux`
    pub os: String,
    /// e.g. `amd64`
    pub architecture: String,
    /// e.g. `v8`; `None` matches any variant.
    pub variant: Option<String>,
}

impl Default for PlatformSpec {
    fn default() -> Self {
        Self { os: "linux".into(), architecture: "amd64".into(), variant: None }
    }
}

impl std::str::FromStr for PlatformSpec {
    type Err = String;
    /// Parses `os/arch[/variant]`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => {
                Ok(Self { os: (*os).into(), architecture: (*arch).into(), variant: None })
            }
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Self { os: (*os).into(), architecture: (*arch).into(), variant: Some((*variant).into()) })
            }
            _ => Err(format!("invalid platform {s:?}: expected os/architecture[/variant], e.g. linux/amd64")),
        }
    }
}

impl std::fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl PlatformSpec {
    /// Whether a descriptor in an index's JSON (`{"platform": {"os", "architecture", "variant"}}`) is for
    /// this platform.
    pub fn matches_json(&self, descriptor: &serde_json::Value) -> bool {
        let platform = &descriptor["platform"];
        platform["os"].as_str() == Some(self.os.as_str())
            && platform["architecture"].as_str() == Some(self.architecture.as_str())
            && self.variant.as_ref().is_none_or(|v| platform["variant"].as_str() == Some(v.as_str()))
    }

    fn matches(&self, descriptor: &Descriptor) -> bool {
        descriptor.platform().as_ref().is_some_and(|p| {
            p.os().to_string() == self.os
                && p.architecture().to_string() == self.architecture
                && self.variant.as_ref().is_none_or(|v| p.variant().as_deref() == Some(v.as_str()))
        })
    }
}

fn describe_platform(descriptor: &Descriptor) -> String {
    match descriptor.platform() {
        Some(p) => {
            let mut s = format!("{}/{}", p.os(), p.architecture());
            if let Some(v) = p.variant() {
                s.push('/');
                s.push_str(v);
            }
            s
        }
        None => "no platform".into(),
    }
}

/// Whether `descriptor` is a buildx attestation manifest (provenance or SBOM), not a runnable image.
pub fn is_attestation(descriptor: &Descriptor) -> bool {
    let marked = descriptor
        .annotations()
        .as_ref()
        .is_some_and(|a| a.get(ANNOTATION_REFERENCE_TYPE).is_some_and(|v| v == ATTESTATION_MANIFEST));
    let unknown_platform = descriptor
        .platform()
        .as_ref()
        .is_some_and(|p| p.os().to_string() == "unknown" && p.architecture().to_string() == "unknown");
    marked || unknown_platform
}

/// Which image of a layout to take.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// The `org.opencontainers.image.ref.name` of the entry in `index.json`.
    pub reference: Option<String>,
    /// The platform wanted (default linux/amd64).
    pub platform: PlatformSpec,
    /// Push an index whole (children and attestations) instead of its one platform manifest.
    pub keep_index: bool,
}

/// A manifest or index to push, with its exact bytes (re-serialising would change the digest).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ManifestBlob {
    /// Its descriptor (media type, digest, size).
    pub descriptor: Descriptor,
    /// Its kind.
    pub kind: ManifestKind,
    /// The bytes, verified against the digest.
    pub bytes: Vec<u8>,
}

/// The image chosen from a layout: what a push sends.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SelectedImage {
    // Private: only `Layout::select` makes one, so there is always a root manifest.
    manifests: Vec<ManifestBlob>,
    blobs: Vec<Descriptor>,
}

impl SelectedImage {
    /// The manifests to push in order: children before the index that lists them; the last is the root.
    pub fn manifests(&self) -> &[ManifestBlob] {
        &self.manifests
    }

    /// The config and layer blobs those manifests reference, each once.
    pub fn blobs(&self) -> &[Descriptor] {
        &self.blobs
    }

    /// The manifest tags will point at.
    pub fn root(&self) -> &ManifestBlob {
        // `select` pushes the root last and never returns an empty selection.
        &self.manifests[self.manifests.len() - 1]
    }

    /// The root manifest's digest (`sha256:…`), what `push-image` prints.
    pub fn digest(&self) -> String {
        self.root().descriptor.digest().to_string()
    }

    /// Total bytes of the config and layer blobs.
    pub fn blob_bytes(&self) -> u64 {
        self.blobs.iter().map(|d| d.size()).sum()
    }
}

#[derive(Debug)]
enum Source {
    Dir(PathBuf),
    /// Blob path inside the tar → (offset of the data, size).
    Tar {
        file: PathBuf,
        entries: HashMap<String, (u64, u64)>,
    },
}

/// An opened OCI image layout.
///
/// ```no_run
/// use ghcr_client::layout::{Layout, Selector};
///
/// let layout = Layout::open("image.tar")?;
/// let image = layout.select(&Selector::default())?; // linux/amd64, attestations dropped
/// layout.verify(&image)?;
/// println!("{} ({} blobs)", image.digest(), image.blobs().len());
/// # Ok::<(), ghcr_client::Error>(())
/// ```
#[derive(Debug)]
pub struct Layout {
    path: PathBuf,
    source: Source,
    index: ImageIndex,
}

impl Layout {
    /// Opens a layout directory, or a tar of one. Checks `oci-layout` and parses `index.json`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        let source = if meta.is_dir() { Source::Dir(path.clone()) } else { Self::index_tar(&path)? };
        let mut layout = Self { path, source, index: ImageIndex::default() };
        let marker = layout.read_file("oci-layout")?;
        let marker: serde_json::Value =
            serde_json::from_slice(&marker).map_err(|e| layout.bad_json("oci-layout", e))?;
        match marker.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some(v) if v.starts_with("1.") => {}
            other => {
                return Err(Error::NotALayout {
                    path: layout.path.clone(),
                    reason: format!("oci-layout has imageLayoutVersion {other:?}, expected \"1.0.0\""),
                })
            }
        }
        let index = layout.read_file("index.json")?;
        layout.index = serde_json::from_slice(&index).map_err(|e| layout.bad_json("index.json", e))?;
        Ok(layout)
    }

    fn index_tar(path: &Path) -> Result<Source, Error> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut archive = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let not_tar = |e: std::io::Error| Error::NotALayout {
            path: path.to_owned(),
            reason: format!("not a directory or a readable tar: {e}"),
        };
        for entry in archive.entries().map_err(not_tar)? {
            let entry = entry.map_err(not_tar)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry.path().map_err(not_tar)?.to_string_lossy().trim_start_matches("./").to_owned();
            entries.insert(name, (entry.raw_file_position(), entry.size()));
        }
        Ok(Source::Tar { file: path.to_owned(), entries })
    }

    /// The layout's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parsed `index.json`.
    pub fn index(&self) -> &ImageIndex {
        &self.index
    }

    fn bad_json(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::BadJson { path: self.path.clone(), what: what.to_owned(), reason: e.to_string() }
    }

    /// The file `name` of a directory layout, which must stay inside the layout: a symlink that leads out
    /// of it (to `/etc/shadow`, to a home directory) is refused, whatever it points at.
    fn inside(&self, dir: &Path, name: &str) -> Result<PathBuf, std::io::Error> {
        let root = dir.canonicalize()?;
        let path = dir.join(name).canonicalize()?;
        if !path.starts_with(&root) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{name} leads outside the layout (to {})", path.display()),
            ));
        }
        Ok(path)
    }

    fn read_file(&self, name: &str) -> Result<Vec<u8>, Error> {
        let missing = || Error::NotALayout { path: self.path.clone(), reason: format!("no {name}") };
        let too_big = |size: u64| Error::NotALayout {
            path: self.path.clone(),
            reason: format!("{name} has {size} bytes, more than the {MAX_MANIFEST_BYTES} a layout's index may have"),
        };
        match &self.source {
            Source::Dir(dir) => {
                let path = self.inside(dir, name).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => missing(),
                    _ => Error::io(dir.join(name), e),
                })?;
                let size = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
                if size > MAX_MANIFEST_BYTES {
                    return Err(too_big(size));
                }
                std::fs::read(&path).map_err(|e| Error::io(&path, e))
            }
            Source::Tar { file, entries } => {
                let &(offset, size) = entries.get(name).ok_or_else(missing)?;
                if size > MAX_MANIFEST_BYTES {
                    return Err(too_big(size));
                }
                let mut buf = Vec::with_capacity(size as usize);
                self.open_at(file, offset, size)?.read_to_end(&mut buf).map_err(|e| Error::io(file, e))?;
                Ok(buf)
            }
        }
    }

    fn open_at(&self, file: &Path, offset: u64, size: u64) -> Result<std::io::Take<File>, Error> {
        let mut f = File::open(file).map_err(|e| Error::io(file, e))?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(file, e))?;
        Ok(f.take(size))
    }

    /// The size on disk of the blob `descriptor` names; an error naming the digest if it is missing.
    pub fn blob_size(&self, descriptor: &Descriptor) -> Result<u64, Error> {
        let name = blob_path(descriptor)?;
        match &self.source {
            Source::Dir(dir) => match self.inside(dir, &name) {
                Ok(path) => std::fs::metadata(path).map(|m| m.len()).map_err(|_| self.missing(descriptor)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(self.missing(descriptor)),
                Err(e) => Err(Error::io(dir.join(&name), e)),
            },
            Source::Tar { entries, .. } => {
                entries.get(&name).map(|&(_, size)| size).ok_or_else(|| self.missing(descriptor))
            }
        }
    }

    fn missing(&self, descriptor: &Descriptor) -> Error {
        Error::MissingBlob { path: self.path.clone(), digest: descriptor.digest().to_string() }
    }

    /// Where the blob's bytes are: a file, the offset of the bytes in it, and their count. Lets an
    /// async uploader stream them without going through [`Self::open_blob`].
    pub fn blob_location(&self, descriptor: &Descriptor) -> Result<(PathBuf, u64, u64), Error> {
        let name = blob_path(descriptor)?;
        match &self.source {
            Source::Dir(dir) => {
                let path = self.inside(dir, &name).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => self.missing(descriptor),
                    _ => Error::io(dir.join(&name), e),
                })?;
                let size = std::fs::metadata(&path).map_err(|_| self.missing(descriptor))?.len();
                Ok((path, 0, size))
            }
            Source::Tar { file, entries } => {
                let &(offset, size) = entries.get(&name).ok_or_else(|| self.missing(descriptor))?;
                Ok((file.clone(), offset, size))
            }
        }
    }

    /// A reader over the blob's bytes, straight from the file (not verified; see [`Self::verify_blob`]).
    pub fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send>, Error> {
        let name = blob_path(descriptor)?;
        match &self.source {
            Source::Dir(dir) => {
                let path = self.inside(dir, &name).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => self.missing(descriptor),
                    _ => Error::io(dir.join(&name), e),
                })?;
                let file = File::open(&path).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => self.missing(descriptor),
                    _ => Error::io(&path, e),
                })?;
                Ok(Box::new(file))
            }
            Source::Tar { file, entries } => {
                let &(offset, size) = entries.get(&name).ok_or_else(|| self.missing(descriptor))?;
                Ok(Box::new(self.open_at(file, offset, size)?))
            }
        }
    }

    /// Streams the blob through its digest's hash and checks size and digest.
    pub fn verify_blob(&self, descriptor: &Descriptor) -> Result<(), Error> {
        let actual_size = self.blob_size(descriptor)?;
        if actual_size != descriptor.size() {
            return Err(Error::SizeMismatch {
                path: self.path.clone(),
                digest: descriptor.digest().to_string(),
                expected: descriptor.size(),
                actual: actual_size,
            });
        }
        let mut hasher = Hasher::for_digest(descriptor.digest().as_ref())?;
        let mut reader = self.open_blob(descriptor)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(|e| Error::io(&self.path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        self.check_digest(descriptor, hasher.finish())
    }

    fn check_digest(&self, descriptor: &Descriptor, actual: String) -> Result<(), Error> {
        if actual != descriptor.digest().to_string() {
            return Err(Error::DigestMismatch {
                path: self.path.clone(),
                digest: descriptor.digest().to_string(),
                actual,
            });
        }
        Ok(())
    }

    /// Reads a manifest or index blob whole, verified against its descriptor.
    pub fn read_manifest(&self, descriptor: &Descriptor) -> Result<ManifestBlob, Error> {
        let kind = ManifestKind::of(descriptor.media_type()).ok_or_else(|| Error::UnsupportedMediaType {
            digest: descriptor.digest().to_string(),
            media_type: descriptor.media_type().to_string(),
        })?;
        let size = self.blob_size(descriptor)?;
        if size != descriptor.size() || size > MAX_MANIFEST_BYTES {
            return Err(Error::SizeMismatch {
                path: self.path.clone(),
                digest: descriptor.digest().to_string(),
                expected: descriptor.size(),
                actual: size,
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        self.open_blob(descriptor)?.read_to_end(&mut bytes).map_err(|e| Error::io(&self.path, e))?;
        let mut hasher = Hasher::for_digest(descriptor.digest().as_ref())?;
        hasher.update(&bytes);
        self.check_digest(descriptor, hasher.finish())?;
        Ok(ManifestBlob { descriptor: descriptor.clone(), kind, bytes })
    }

    /// Chooses the image to push (see [`Selector`]) and lists everything it needs. Manifests are read
    /// and verified here; config and layer blobs must exist with the right size, and their digests
    /// are checked by [`Self::verify`] or, during a push, as they stream out.
    pub fn select(&self, selector: &Selector) -> Result<SelectedImage, Error> {
        let entry = self.choose_entry(selector)?;
        let root = self.read_manifest(&entry)?;
        let mut manifests = Vec::new();
        match root.kind {
            ManifestKind::Image => manifests.push(root),
            ManifestKind::Index if selector.keep_index => self.collect_index(root, &mut manifests, 0)?,
            ManifestKind::Index => {
                let index = self.parse_index(&root)?;
                let runnable: Vec<&Descriptor> = index.manifests().iter().filter(|d| !is_attestation(d)).collect();
                let matching: Vec<&&Descriptor> = runnable.iter().filter(|d| selector.platform.matches(d)).collect();
                let chosen = match (matching.as_slice(), runnable.as_slice()) {
                    ([one], _) => **one,
                    // One runnable image without a platform: buildx with provenance, single platform.
                    ([], [only]) if only.platform().is_none() => *only,
                    _ => {
                        let available: Vec<String> = runnable.iter().map(|d| describe_platform(d)).collect();
                        return Err(Error::Selection {
                            path: self.path.clone(),
                            reason: format!(
                                "index {} has no single {} image (it has: {}); pass another platform or --keep-index",
                                root.descriptor.digest(),
                                selector.platform,
                                available.join(", ")
                            ),
                        });
                    }
                };
                let child = self.read_manifest(chosen)?;
                if child.kind != ManifestKind::Image {
                    return Err(Error::UnsupportedMediaType {
                        digest: chosen.digest().to_string(),
                        media_type: chosen.media_type().to_string(),
                    });
                }
                manifests.push(child);
            }
        }
        let mut seen = HashSet::new();
        let mut blobs = Vec::new();
        for manifest in manifests.iter().filter(|m| m.kind == ManifestKind::Image) {
            let parsed = self.parse_manifest(manifest)?;
            for descriptor in std::iter::once(parsed.config()).chain(parsed.layers()) {
                if seen.insert(descriptor.digest().to_string()) {
                    let actual = self.blob_size(descriptor)?;
                    if actual != descriptor.size() {
                        return Err(Error::SizeMismatch {
                            path: self.path.clone(),
                            digest: descriptor.digest().to_string(),
                            expected: descriptor.size(),
                            actual,
                        });
                    }
                    blobs.push(descriptor.clone());
                }
            }
        }
        Ok(SelectedImage { manifests, blobs })
    }

    /// Verifies every config and layer blob of `image` (size and digest). Manifests were verified
    /// when they were read.
    pub fn verify(&self, image: &SelectedImage) -> Result<(), Error> {
        image.blobs.iter().try_for_each(|d| self.verify_blob(d))
    }

    fn collect_index(&self, index_blob: ManifestBlob, out: &mut Vec<ManifestBlob>, depth: usize) -> Result<(), Error> {
        if depth > 8 {
            return Err(Error::Selection { path: self.path.clone(), reason: "indexes nested more than 8 deep".into() });
        }
        let index = self.parse_index(&index_blob)?;
        for child in index.manifests() {
            // A child listed twice, or by two nested indexes, is read and pushed once.
            if out.iter().any(|m| m.descriptor.digest() == child.digest()) {
                continue;
            }
            let blob = self.read_manifest(child)?;
            match blob.kind {
                ManifestKind::Image => out.push(blob),
                ManifestKind::Index => self.collect_index(blob, out, depth + 1)?,
            }
        }
        out.push(index_blob);
        Ok(())
    }

    fn parse_index(&self, blob: &ManifestBlob) -> Result<ImageIndex, Error> {
        serde_json::from_slice(&blob.bytes)
            .map_err(|e| self.bad_json(&format!("index {}", blob.descriptor.digest()), e))
    }

    fn parse_manifest(&self, blob: &ManifestBlob) -> Result<ImageManifest, Error> {
        serde_json::from_slice(&blob.bytes)
            .map_err(|e| self.bad_json(&format!("manifest {}", blob.descriptor.digest()), e))
    }

    fn choose_entry(&self, selector: &Selector) -> Result<Descriptor, Error> {
        let entries = self.index.manifests();
        let name_of = |d: &Descriptor| d.annotations().as_ref().and_then(|a| a.get(ANNOTATION_REF_NAME).cloned());
        let names: Vec<String> = entries.iter().filter_map(name_of).collect();
        let fail = |reason: String| Error::Selection { path: self.path.clone(), reason };
        if let Some(reference) = &selector.reference {
            let found: Vec<&Descriptor> =
                entries.iter().filter(|d| name_of(d).as_deref() == Some(reference.as_str())).collect();
            return match found.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(fail(format!("no image named {reference:?} (names: {})", list(&names)))),
                _ => Err(fail(format!("{} images are named {reference:?}", found.len()))),
            };
        }
        match entries.as_slice() {
            [] => Err(fail("index.json lists no image".into())),
            [one] => Ok(one.clone()),
            many => {
                let matching: Vec<&Descriptor> = many.iter().filter(|d| selector.platform.matches(d)).collect();
                match matching.as_slice() {
                    [one] => Ok((*one).clone()),
                    _ => Err(fail(format!(
                        "index.json lists {} images; choose one by name (names: {}) or by platform",
                        many.len(),
                        list(&names)
                    ))),
                }
            }
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// `blobs/<algorithm>/<hex>` for a descriptor.
fn blob_path(descriptor: &Descriptor) -> Result<String, Error> {
    digest_path(descriptor.digest().as_ref())
}

/// `blobs/<algorithm>/<hex>` for `digest`, checked first (it becomes a path).
pub(crate) fn digest_path(digest: &str) -> Result<String, Error> {
    let digest = Error::checked_digest(digest)?;
    Ok(format!("blobs/{}/{}", digest.algorithm(), digest.hex()))
}

/// sha256 or sha512, chosen by a digest's algorithm.
pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub(crate) fn for_digest(digest: &str) -> Result<Self, Error> {
        match digest.split_once(':').map(|(alg, _)| alg) {
            Some("sha256") => Ok(Hasher::Sha256(sha2::Sha256::new())),
            Some("sha512") => Ok(Hasher::Sha512(sha2::Sha512::new())),
            _ => Err(Error::UnsupportedDigest { digest: digest.to_owned() }),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// `algorithm:hex`.
    pub(crate) fn finish(self) -> String {
        let (alg, bytes) = match self {
            Hasher::Sha256(h) => ("sha256", h.finalize().to_vec()),
            Hasher::Sha512(h) => ("sha512", h.finalize().to_vec()),
        };
        let mut out = String::with_capacity(alg.len() + 1 + bytes.len() * 2);
        out.push_str(alg);
        out.push(':');
        for b in bytes {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// The `algorithm:hex` sha256 digest of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    let mut h = Hasher::Sha256(sha2::Sha256::new());
    h.update(data);
    h.finish()
}

/// Writes the layout directory `dir` as the tar `path` (entries in name order, as `docker buildx` writes
/// one), through a temporary file renamed into place.
pub fn write_tar(dir: &Path, path: &Path) -> Result<(), Error> {
    let partial = path.with_extension("partial");
    let file = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
    let mut builder = tar::Builder::new(file);
    builder.follow_symlinks(false);
    let mut names: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).map_err(|e| Error::io(&current, e))? {
            let entry = entry.map_err(|e| Error::io(&current, e))?;
            let file_type = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            if file_type.is_dir() {
                stack.push(entry.path());
            } else if file_type.is_file() {
                names.push(entry.path());
            }
        }
    }
    names.sort();
    for file in names {
        let name = file.strip_prefix(dir).unwrap_or(&file).to_owned();
        builder.append_path_with_name(&file, &name).map_err(|e| Error::io(&file, e))?;
    }
    builder.into_inner().and_then(|mut f| std::io::Write::flush(&mut f)).map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
}
