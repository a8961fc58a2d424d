//! Image assembly without a daemon: files (a release binary, a CA bundle, anything) become one new layer on
//! top of a base image read by reference, or on nothing (`scratch`).
//!
//! The layer is a reproducible tar.gz: entries sorted by path, their parent directories included, every
//! mtime the given `created` time (`SOURCE_DATE_EPOCH`), uid and gid 0 with no user or group names, the
//! modes given or the source files' own; gzip without a name or a time. The config is the base's with the
//! entrypoint, command, environment, user, working directory and labels set, the new layer's diff id and a
//! history entry appended. The same inputs give the same digests.
//!
//! The base's layers are never downloaded to build: only its manifest and config are read. A push sends
//! them registry to registry ([`Registry::push_built`]: skipped when the destination has them, mounted on
//! the same registry, streamed otherwise); a layout output fetches them ([`Registry::complete_layout`]),
//! since a layout must hold every blob.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{Read, Write},
    path::{Path, PathBuf},
    str::FromStr,
};

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use offinfra_types::{ImageName, ImageRef, Tag};

use super::{push::PushReport, BlobOutcome, ProgressFn, Registry};
use crate::{layout::PlatformSpec, Error};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// One file or directory to put in the new layer: `SRC:DEST[:MODE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// The file or directory on this machine; `{os}`, `{arch}` and `{variant}` are replaced per platform.
    pub source: PathBuf,
    /// Where it goes in the image: an absolute path.
    pub destination: String,
    /// Its mode (octal on the command line, `0755`); `None`: the source's.
    pub mode: Option<u32>,
}

impl FromStr for LayerFile {
    type Err = Error;

    /// `SRC:DEST` or `SRC:DEST:MODE`, `DEST` absolute, `MODE` octal (`755`, `0644`).
    ///
    /// ```
    /// let file: ghcr_client::registry::build::LayerFile = "target/deploy:/usr/local/bin/deploy:0755".parse()?;
    /// assert_eq!((file.destination.as_str(), file.mode), ("/usr/local/bin/deploy", Some(0o755)));
    /// # Ok::<(), ghcr_client::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::Build { what: format!("--add {text}"), reason: reason.to_owned() };
        let (rest, mode) = match text.rsplit_once(':') {
            Some((rest, mode))
                if !mode.is_empty() && mode.bytes().all(|b| b.is_ascii_digit()) && rest.contains(':') =>
            {
                let mode = u32::from_str_radix(mode, 8).map_err(|_| bad("MODE is an octal number like 0755"))?;
                if mode > 0o7777 {
                    return Err(bad("MODE is at most 7777"));
                }
                (rest, Some(mode))
            }
            _ => (text, None),
        };
        let (source, destination) = rest.rsplit_once(':').ok_or_else(|| bad("expected SRC:DEST[:MODE]"))?;
        if source.is_empty() {
            return Err(bad("SRC is empty"));
        }
        normalise(destination).map_err(|reason| bad(&reason))?;
        Ok(Self { source: source.into(), destination: destination.to_owned(), mode })
    }
}

impl LayerFile {
    /// This file for `platform`: `{os}`, `{arch}` and `{variant}` in the source replaced.
    pub fn for_platform(&self, platform: &PlatformSpec) -> LayerFile {
        let source = self
            .source
            .to_string_lossy()
            .replace("{os}", &platform.os)
            .replace("{arch}", &platform.architecture)
            .replace("{variant}", platform.variant.as_deref().unwrap_or(""));
        LayerFile { source: source.into(), ..self.clone() }
    }
}

/// `/usr/local/bin/x` as the tar path `usr/local/bin/x`; `..`, `.` and an empty or relative path refused.
fn normalise(destination: &str) -> Result<String, String> {
    let rest = destination.strip_prefix('/').ok_or("DEST is an absolute path in the image")?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return Err("DEST names a file or directory, not /".into());
    }
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err("DEST has no . or .. parts".into());
    }
    Ok(parts.join("/"))
}

/// What the config says besides the layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSettings {
    /// `Entrypoint` (setting it drops the base's `Cmd`, as a Dockerfile's `ENTRYPOINT` does).
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `Env` entries set (a name the base sets is replaced).
    pub env: Vec<(String, String)>,
    /// `User`.
    pub user: Option<String>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
    /// `Labels` set (merged over the base's).
    pub labels: BTreeMap<String, String>,
    /// Seconds since the epoch: the config's `created` and every layer entry's mtime.
    pub created: i64,
}

/// The base image: where its manifest and config are read.
#[derive(Debug, Clone, Copy)]
pub struct Base<'a> {
    /// Its registry: the client of `image`'s host.
    pub registry: &'a Registry,
    /// The image, by tag or digest.
    pub image: &'a ImageRef,
}

/// What [`build`] writes: the base, the platforms, the new layer's files and the config settings.
#[derive(Debug, Clone, Copy)]
pub struct BuildInput<'a> {
    /// The base image; `None`: from scratch.
    pub base: Option<Base<'a>>,
    /// One manifest per platform (an index over them when there are several).
    pub platforms: &'a [PlatformSpec],
    /// The new layer's files, the same for every platform after [`LayerFile::for_platform`].
    pub files: &'a [LayerFile],
    /// What the config says besides the layers.
    pub settings: &'a ImageSettings,
    /// The root's name in the layout's `index.json`.
    pub ref_name: Option<&'a str>,
}

/// An image written into an OCI layout directory by [`build`]: its own blobs and manifests, and the list
/// of the base's blobs (in the layout only after [`Registry::complete_layout`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BuiltImage {
    /// The root's digest: the index over the platforms, or the one platform's manifest.
    pub digest: String,
    /// The root's media type.
    pub media_type: String,
    /// Each platform and its manifest's digest.
    pub platforms: Vec<(String, String)>,
    /// The base's config-less blobs (its layers), by digest with their sizes.
    pub base_blobs: Vec<(String, u64)>,
    /// The blobs the build wrote (layers and configs).
    pub new_blobs: Vec<(String, u64)>,
    /// Every manifest written, children first: digest and media type.
    pub manifests: Vec<(String, String)>,
    /// The layout directory.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// Writes the image `input` describes into the OCI layout directory `dir` (made when missing), its root
/// named `input.ref_name` in `index.json`: one manifest per platform, and an index over them when there
/// are several.
pub async fn build(dir: &Path, input: &BuildInput<'_>) -> Result<BuiltImage, Error> {
    let BuildInput { base, platforms, files, settings, ref_name } = *input;
    if platforms.is_empty() {
        return Err(Error::Build { what: "--platform".into(), reason: "at least one platform".into() });
    }
    if files.is_empty() {
        return Err(Error::Build { what: "--add".into(), reason: "at least one file for the new layer".into() });
    }
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| Error::io(&blobs, e))?;
    let mut built = BuiltImage {
        digest: String::new(),
        media_type: MANIFEST.into(),
        platforms: Vec::new(),
        base_blobs: Vec::new(),
        new_blobs: Vec::new(),
        manifests: Vec::new(),
        dir: dir.to_owned(),
    };
    let mut descriptors = Vec::new();
    for platform in platforms {
        let (base_manifest, base_config) = match base {
            Some(base) => {
                let (manifest, config) = base.registry.base_parts(base, platform).await?;
                (Some(manifest), Some(config))
            }
            None => (None, None),
        };
        let files: Vec<LayerFile> = files.iter().map(|f| f.for_platform(platform)).collect();
        let layer = write_layer(&blobs, &files, settings.created)?;
        let config = image_config(base_config, platform, settings, &layer.diff_id)?;
        let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
        let config_blob = write_blob(&blobs, &config_bytes)?;
        let mut layers: Vec<Value> = Vec::new();
        if let Some((_, manifest)) = &base_manifest {
            for layer in manifest["layers"].as_array().into_iter().flatten() {
                let (Some(digest), Some(size)) = (layer["digest"].as_str(), layer["size"].as_u64()) else {
                    return Err(Error::Build {
                        what: "the base image".into(),
                        reason: "a layer without digest or size".into(),
                    });
                };
                if !built.base_blobs.iter().any(|(d, _)| d == digest) {
                    built.base_blobs.push((digest.to_owned(), size));
                }
                layers.push(layer.clone());
            }
        }
        layers.push(json!({"mediaType": LAYER, "digest": layer.digest, "size": layer.size}));
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, "digest": config_blob.0, "size": config_blob.1},
            "layers": layers,
        });
        if let (Some(base), Some((digest, _))) = (base, &base_manifest) {
            manifest["annotations"] = json!({
                "org.opencontainers.image.base.name": base.image.to_string(),
                "org.opencontainers.image.base.digest": digest,
            });
        }
        let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
        let (digest, size) = write_blob(&blobs, &manifest_bytes)?;
        for blob in [(layer.digest.clone(), layer.size), config_blob] {
            if !built.new_blobs.contains(&blob) {
                built.new_blobs.push(blob);
            }
        }
        built.manifests.push((digest.clone(), MANIFEST.into()));
        built.platforms.push((platform.to_string(), digest.clone()));
        let mut platform_json = json!({"os": platform.os, "architecture": platform.architecture});
        if let Some(variant) = &platform.variant {
            platform_json["variant"] = json!(variant);
        }
        descriptors.push(json!({"mediaType": MANIFEST, "digest": digest, "size": size, "platform": platform_json}));
    }
    let mut root = match descriptors.as_slice() {
        [one] => {
            let mut one = one.clone();
            if let Some(object) = one.as_object_mut() {
                object.remove("platform");
            }
            one
        }
        several => {
            let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": several});
            let (digest, size) = write_blob(&blobs, &serde_json::to_vec(&index).unwrap_or_default())?;
            built.manifests.push((digest.clone(), INDEX.into()));
            json!({"mediaType": INDEX, "digest": digest, "size": size})
        }
    };
    built.digest = root["digest"].as_str().unwrap_or_default().to_owned();
    built.media_type = root["mediaType"].as_str().unwrap_or(MANIFEST).to_owned();
    if let Some(name) = ref_name {
        root["annotations"] = json!({"org.opencontainers.image.ref.name": name});
    }
    let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [root]});
    let write =
        |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).map_err(|e| Error::io(dir.join(name), e));
    write("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    write("index.json", &serde_json::to_vec_pretty(&index).unwrap_or_default())?;
    Ok(built)
}

/// The config: the base's (or an empty one) with the platform, the settings, the new layer's diff id and a
/// history entry.
fn image_config(
    base: Option<Value>,
    platform: &PlatformSpec,
    settings: &ImageSettings,
    diff_id: &str,
) -> Result<Value, Error> {
    let created = jiff::Timestamp::from_second(settings.created)
        .map_err(|e| Error::Build { what: format!("the creation time {}", settings.created), reason: e.to_string() })?
        .to_string();
    let mut config = base.filter(Value::is_object).unwrap_or_else(|| json!({}));
    config["created"] = json!(created);
    config["architecture"] = json!(platform.architecture);
    config["os"] = json!(platform.os);
    match &platform.variant {
        Some(variant) => config["variant"] = json!(variant),
        None => {
            if let Some(object) = config.as_object_mut() {
                object.remove("variant");
            }
        }
    }
    if !config["config"].is_object() {
        config["config"] = json!({});
    }
    let run = &mut config["config"];
    if let Some(entrypoint) = &settings.entrypoint {
        run["Entrypoint"] = json!(entrypoint);
        if let Some(object) = run.as_object_mut() {
            object.remove("Cmd");
        }
    }
    if let Some(cmd) = &settings.cmd {
        run["Cmd"] = json!(cmd);
    }
    if !settings.env.is_empty() {
        let mut env: Vec<String> =
            run["Env"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        for (name, value) in &settings.env {
            let entry = format!("{name}={value}");
            match env.iter_mut().find(|e| e.split_once('=').map(|(n, _)| n) == Some(name.as_str())) {
                Some(existing) => *existing = entry,
                None => env.push(entry),
            }
        }
        run["Env"] = json!(env);
    }
    if let Some(user) = &settings.user {
        run["User"] = json!(user);
    }
    if let Some(dir) = &settings.working_dir {
        run["WorkingDir"] = json!(dir);
    }
    if !settings.labels.is_empty() {
        if !run["Labels"].is_object() {
            run["Labels"] = json!({});
        }
        for (name, value) in &settings.labels {
            run["Labels"][name] = json!(value);
        }
    }
    let mut diff_ids: Vec<Value> = config["rootfs"]["diff_ids"].as_array().cloned().unwrap_or_default();
    diff_ids.push(json!(diff_id));
    config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
    let mut history: Vec<Value> = config["history"].as_array().cloned().unwrap_or_default();
    history.push(json!({"created": created, "created_by": "offinfra build-image"}));
    config["history"] = json!(history);
    Ok(config)
}

/// Stores `bytes` as a blob; its digest and size.
fn write_blob(blobs: &Path, bytes: &[u8]) -> Result<(String, u64), Error> {
    let digest = crate::layout::sha256_digest(bytes);
    let path = blobs.join(&digest[7..]);
    std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    Ok((digest, bytes.len() as u64))
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn hex_digest(hasher: Sha256) -> String {
    let hash = hasher.finalize();
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The new layer blob.
struct Layer {
    digest: String,
    size: u64,
    diff_id: String,
}

/// What goes into the layer at a path.
enum Entry {
    Directory(u32),
    File { source: PathBuf, mode: u32, size: u64 },
}

/// The entries `files` make: each file, each directory's contents (recursively), every parent directory.
fn entries(files: &[LayerFile]) -> Result<BTreeMap<String, Entry>, Error> {
    let mut out = BTreeMap::new();
    for file in files {
        let what = || format!("--add {}:{}", file.source.display(), file.destination);
        let target = normalise(&file.destination).map_err(|reason| Error::Build { what: what(), reason })?;
        let metadata = std::fs::symlink_metadata(&file.source).map_err(|e| Error::io(&file.source, e))?;
        let mut pending = vec![(file.source.clone(), target, metadata)];
        while let Some((source, path, metadata)) = pending.pop() {
            let mode = file.mode.unwrap_or_else(|| own_mode(&metadata));
            if metadata.is_dir() {
                out.insert(path.clone(), Entry::Directory(file.mode.unwrap_or_else(|| own_mode(&metadata))));
                let listing = std::fs::read_dir(&source).map_err(|e| Error::io(&source, e))?;
                for child in listing {
                    let child = child.map_err(|e| Error::io(&source, e))?;
                    let name = child.file_name().to_string_lossy().into_owned();
                    let meta = std::fs::symlink_metadata(child.path()).map_err(|e| Error::io(child.path(), e))?;
                    pending.push((child.path(), format!("{path}/{name}"), meta));
                }
            } else if metadata.is_file() {
                out.insert(path, Entry::File { source, mode, size: metadata.len() });
            } else {
                return Err(Error::Build {
                    what: what(),
                    reason: format!("{} is neither a file nor a directory (links are not followed)", source.display()),
                });
            }
        }
    }
    let parents: BTreeSet<String> = out
        .keys()
        .flat_map(|path| {
            let parts: Vec<&str> = path.split('/').collect();
            (1..parts.len()).map(move |n| parts[..n].join("/"))
        })
        .collect();
    for parent in parents {
        out.entry(parent).or_insert(Entry::Directory(0o755));
    }
    Ok(out)
}

#[cfg(unix)]
fn own_mode(metadata: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn own_mode(metadata: &std::fs::Metadata) -> u32 {
    if metadata.is_dir() {
        0o755
    } else {
        0o644
    }
}

/// Writes the reproducible tar.gz of `files` into `blobs`, streaming: the tar is hashed (the diff id) as it
/// goes into gzip, whose output is hashed (the digest) as it goes to disk.
fn write_layer(blobs: &Path, files: &[LayerFile], created: i64) -> Result<Layer, Error> {
    let entries = entries(files)?;
    let partial = blobs.join(format!(".layer-{}.partial", std::process::id()));
    let io = |e| Error::io(&partial, e);
    let file = std::fs::File::create(&partial).map_err(io)?;
    let compressed = Hashing { inner: file, hasher: Sha256::new(), count: 0 };
    let gzip = flate2::GzBuilder::new().mtime(0).write(compressed, flate2::Compression::default());
    let plain = Hashing { inner: gzip, hasher: Sha256::new(), count: 0 };
    let mut tar = tar::Builder::new(plain);
    let mtime = u64::try_from(created).unwrap_or(0);
    for (path, entry) in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        match entry {
            Entry::Directory(mode) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), std::io::empty()).map_err(io)?;
            }
            Entry::File { source, mode, size } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(*size);
                let reader = std::fs::File::open(source).map_err(|e| Error::io(source, e))?;
                // Exactly the size in the header, even if the file grows meanwhile.
                tar.append_data(&mut header, path, reader.take(*size)).map_err(|e| Error::io(source, e))?;
            }
        }
    }
    let plain = tar.into_inner().map_err(io)?;
    let diff_id = hex_digest(plain.hasher);
    let mut compressed = plain.inner.finish().map_err(io)?;
    compressed.flush().map_err(io)?;
    let (digest, size) = (hex_digest(compressed.hasher), compressed.count);
    let path = blobs.join(&digest[7..]);
    std::fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))?;
    Ok(Layer { digest, size, diff_id })
}

impl Registry {
    /// The base's manifest for `platform` (its digest and JSON) and its config.
    async fn base_parts(&self, base: Base<'_>, platform: &PlatformSpec) -> Result<((String, Value), Value), Error> {
        let image = self.platform_image(base.image, platform).await.map_err(|e| match e {
            Error::Image { reason, .. } => Error::Build { what: format!("base {}", base.image), reason },
            other => other,
        })?;
        Ok(((image.digest, image.manifest), image.config))
    }

    /// Fetches the base's blobs into the built image's layout (a layout holds every blob); a blob the
    /// layout has is not fetched again. Each is checked against its digest.
    pub async fn complete_layout(&self, built: &BuiltImage, base: &ImageName) -> Result<u64, Error> {
        let blobs = built.base_blobs.iter().cloned().collect();
        Ok(self.fetch_blobs(self.path_of(base)?, &built.dir, &blobs, None).await?.1)
    }

    /// Pushes a built image to `to` on this registry under `tags`: the base's layers from `base` registry
    /// to registry (skipped when here, mounted on the same registry, streamed otherwise; never to disk),
    /// the new blobs from the layout, then the manifests, children first.
    #[tracing::instrument(level = "info", name = "push", skip_all, fields(to = %to, digest = %built.digest))]
    pub async fn push_built(
        &self,
        built: &BuiltImage,
        base: Option<Base<'_>>,
        to: &ImageName,
        tags: &[Tag],
        progress: Option<ProgressFn>,
    ) -> Result<PushReport, Error> {
        let repository = self.path_of(to)?;
        let tags: Vec<String> = tags.iter().map(Tag::to_string).collect();
        let mut outcomes: Vec<(String, BlobOutcome)> = Vec::new();
        let mut bytes = 0u64;
        if let Some(base) = base {
            let transfer = super::copy::BlobTransfer {
                source: base.registry,
                from: base.registry.path_of(base.image.name())?,
                to: repository,
                progress: progress.as_ref(),
            };
            for (digest, size) in &built.base_blobs {
                let outcome = self.copy_blob(&transfer, digest, *size).await?;
                if outcome == BlobOutcome::Uploaded {
                    bytes += size;
                }
                outcomes.push((digest.clone(), outcome));
            }
        }
        let layout = crate::layout::Layout::open(&built.dir)?;
        for (digest, size) in &built.new_blobs {
            let descriptor = oci_spec::image::Descriptor::new(
                oci_spec::image::MediaType::Other(LAYER.into()),
                *size,
                oci_spec::image::Digest::from_str(digest)
                    .map_err(|e| Error::Build { what: digest.clone(), reason: e.to_string() })?,
            );
            let route = super::push::Route { repository, mount_from: None, progress: progress.as_ref() };
            let (digest, outcome, sent) = self.push_blob(&layout, &descriptor, &route).await?;
            bytes += sent;
            outcomes.push((digest, outcome));
        }
        let scopes = Self::push_scope(repository);
        let blobs = built.dir.join("blobs").join("sha256");
        for (digest, media_type) in &built.manifests {
            let path = blobs.join(digest.trim_start_matches("sha256:"));
            let body = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            self.put_manifest(repository, digest, media_type, &body, &scopes).await?;
            if *digest == built.digest {
                for tag in &tags {
                    self.put_manifest(repository, tag, media_type, &body, &scopes).await?;
                }
            }
        }
        Ok(PushReport { digest: built.digest.clone(), blobs: outcomes, bytes_uploaded: bytes, tags })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_files_parse_with_and_without_a_mode_and_refuse_what_escapes() {
        let file: LayerFile = "a:b:/usr/bin/x".parse().unwrap();
        assert_eq!((file.source.to_str(), file.destination.as_str(), file.mode), (Some("a:b"), "/usr/bin/x", None));
        let file: LayerFile = "target/deploy:/deploy:755".parse().unwrap();
        assert_eq!(file.mode, Some(0o755));
        for bad in
            ["nodest", "src:relative/path", "src:/", "src:/a/../etc/passwd", ":/x", "src:/x:99999", "src:/x:0789"]
        {
            let error = bad.parse::<LayerFile>().unwrap_err().to_string();
            assert!(error.contains(bad) || error.contains("MODE"), "{bad}: {error}");
        }
        let per_arch = LayerFile { source: "out/{os}-{arch}/deploy".into(), destination: "/d".into(), mode: None };
        let arm = PlatformSpec { os: "linux".into(), architecture: "arm64".into(), variant: None };
        assert_eq!(per_arch.for_platform(&arm).source, PathBuf::from("out/linux-arm64/deploy"));
    }

    #[test]
    fn the_layer_is_the_same_bytes_for_the_same_inputs_and_holds_what_was_asked() {
        let src = tempfile::tempdir().unwrap();
        let binary = src.path().join("deploy");
        std::fs::write(&binary, b"\x7fELF pretend").unwrap();
        let certs = src.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("ca.crt"), b"-----BEGIN CERTIFICATE-----").unwrap();
        let files = vec![
            LayerFile { source: binary.clone(), destination: "/usr/local/bin/deploy".into(), mode: Some(0o755) },
            LayerFile { source: certs.clone(), destination: "/etc/ssl/certs".into(), mode: None },
        ];
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = write_layer(one.path(), &files, 1_700_000_000).unwrap();
        // Touch the sources: their own mtimes must not matter.
        std::fs::write(&binary, b"\x7fELF pretend").unwrap();
        let b = write_layer(two.path(), &files, 1_700_000_000).unwrap();
        assert_eq!((&a.digest, &a.diff_id, a.size), (&b.digest, &b.diff_id, b.size));
        let c = write_layer(two.path(), &files, 1_700_000_001).unwrap();
        assert_ne!(a.digest, c.digest, "the time is in the layer");

        let gz = std::fs::File::open(one.path().join(&a.digest[7..])).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            assert_eq!((header.uid().unwrap(), header.gid().unwrap(), header.mtime().unwrap()), (0, 0, 1_700_000_000));
            seen.push((path, header.mode().unwrap(), content));
        }
        let paths: Vec<&str> = seen.iter().map(|(p, ..)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "etc/",
                "etc/ssl/",
                "etc/ssl/certs/",
                "etc/ssl/certs/ca.crt",
                "usr/",
                "usr/local/",
                "usr/local/bin/",
                "usr/local/bin/deploy"
            ]
        );
        let deploy = seen.iter().find(|(p, ..)| p == "usr/local/bin/deploy").unwrap();
        assert_eq!((deploy.1, deploy.2.as_slice()), (0o755, &b"\x7fELF pretend"[..]));
    }

    #[test]
    fn the_config_keeps_the_base_and_sets_what_was_asked() {
        let base = json!({"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/usr/bin", "A=1"], "Cmd": ["sh"], "Labels": {"x": "y"}},
                          "rootfs": {"type": "layers", "diff_ids": ["sha256:base"]}, "history": [{"created_by": "base"}]});
        let settings = ImageSettings {
            entrypoint: Some(vec!["/deploy".into()]),
            env: vec![("A".into(), "2".into()), ("B".into(), "3".into())],
            user: Some("65532".into()),
            labels: BTreeMap::from([("org.opencontainers.image.version".into(), "1.2.3".into())]),
            created: 0,
            ..ImageSettings::default()
        };
        let platform = PlatformSpec { os: "linux".into(), architecture: "amd64".into(), variant: None };
        let config = image_config(Some(base), &platform, &settings, "sha256:ours").unwrap();
        assert_eq!(config["config"]["Entrypoint"], json!(["/deploy"]));
        assert!(config["config"].get("Cmd").is_none(), "ENTRYPOINT drops the base's CMD");
        assert_eq!(config["config"]["Env"], json!(["PATH=/usr/bin", "A=2", "B=3"]));
        assert_eq!(config["config"]["Labels"], json!({"x": "y", "org.opencontainers.image.version": "1.2.3"}));
        assert_eq!(config["rootfs"]["diff_ids"], json!(["sha256:base", "sha256:ours"]));
        assert_eq!(config["history"].as_array().unwrap().len(), 2);
        assert_eq!(config["created"], "1970-01-01T00:00:00Z");
        assert_eq!(config["config"]["User"], "65532");
    }
}
