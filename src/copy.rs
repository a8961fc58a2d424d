//! Copying images between registries and OCI layouts, named as skopeo names them: `docker://REF` (or a
//! bare reference), `oci:DIR[:NAME]` and `oci-archive:TAR[:NAME]`. Registry to registry streams blobs and
//! keeps every digest ([`ghcr_client::registry::Registry::copy_with`]); registry to layout saves
//! ([`ghcr_client::registry::Registry::save_with`]); layout to registry is the push. Referrers (signatures,
//! SBOMs) come along with [`Copy::referrers`].

use std::path::PathBuf;

use ghcr_client::{
    layout::{Layout, PlatformSpec, Selector},
    registry::{BlobOutcome, CopyOptions, CopyReport, Credentials, ProgressFn, Registry, RegistryOptions},
};
use offinfra_types::{ImageRef, Tag};

use crate::{Error, ResultExt};

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An image in a registry.
    Registry(ImageRef),
    /// An OCI image layout: a directory, or a tar of one (`archive`), and the image's name in it.
    Layout {
        /// The directory or the tar.
        path: PathBuf,
        /// The `org.opencontainers.image.ref.name` (default: the other side's tag).
        name: Option<String>,
        /// A tar rather than a directory.
        archive: bool,
    },
}

impl Endpoint {
    /// Parses `docker://REF` or `REF`, `oci:DIR[:NAME]`, `oci-archive:TAR[:NAME]`.
    ///
    /// ```
    /// use offinfra::copy::Endpoint;
    ///
    /// assert!(matches!(Endpoint::parse("ghcr.io/acme/app:1")?, Endpoint::Registry(_)));
    /// let Endpoint::Layout { path, name, archive } = Endpoint::parse("oci-archive:/tmp/app.tar:v1")? else { panic!() };
    /// assert_eq!((path.to_str(), name.as_deref(), archive), (Some("/tmp/app.tar"), Some("v1"), true));
    /// # Ok::<(), offinfra::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, Error> {
        let layout = |rest: &str, archive: bool| {
            // `DIR:NAME` as skopeo writes it; a last part with a `/` is still the path.
            let (path, name) = match rest.rsplit_once(':') {
                Some((path, name)) if !name.contains('/') && !path.is_empty() => (path, Some(name.to_owned())),
                _ => (rest, None),
            };
            if path.is_empty() {
                return Err(Error::invalid(format!("{text:?}: the layout needs a path")));
            }
            Ok(Endpoint::Layout { path: path.into(), name, archive })
        };
        if let Some(rest) = text.strip_prefix("oci-archive:") {
            return layout(rest, true);
        }
        if let Some(rest) = text.strip_prefix("oci:") {
            return layout(rest, false);
        }
        Ok(Endpoint::Registry(ImageRef::parse(text.strip_prefix("docker://").unwrap_or(text))?))
    }
}

/// How to reach each side's registry.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The source registry's credentials.
    pub source: Credentials,
    /// The destination registry's credentials.
    pub destination: Credentials,
    /// Plain HTTP to a source registry off loopback.
    pub source_plain_http: bool,
    /// Plain HTTP to a destination registry off loopback.
    pub destination_plain_http: bool,
    /// Blobs copied at once.
    pub concurrency: usize,
}

/// What to copy.
#[derive(Debug, Clone)]
pub struct Copy {
    /// From.
    pub source: Endpoint,
    /// To.
    pub destination: Endpoint,
    /// One platform of an index (its image manifest becomes the root); `None`: all of them.
    pub platform: Option<PlatformSpec>,
    /// Every tag of the source repository (registry to registry).
    pub all_tags: bool,
    /// Also the referrers (signatures, SBOMs, attestations) of every copied manifest (from a registry).
    pub referrers: bool,
}

impl Access {
    /// The client of the source's registry at `host`.
    pub fn source_registry(&self, host: &str) -> Result<Registry, Error> {
        self.client(host, &self.source, self.source_plain_http)
    }

    /// The client of the destination's registry at `host`.
    pub fn destination_registry(&self, host: &str) -> Result<Registry, Error> {
        self.client(host, &self.destination, self.destination_plain_http)
    }

    fn client(&self, host: &str, credentials: &Credentials, plain: bool) -> Result<Registry, Error> {
        let options = RegistryOptions {
            plain_http: plain.then_some(true),
            concurrency: self.concurrency.max(1),
            ..RegistryOptions::default()
        };
        Ok(Registry::builder(host).credentials(credentials.clone()).options(options).build()?)
    }
}

impl Copy {
    /// Runs the copy; one report per image copied (several with `all_tags`). `progress` hears of every
    /// blob as it starts, moves and finishes.
    pub async fn run(&self, access: &Access, progress: Option<ProgressFn>) -> Result<Vec<CopyReport>, Error> {
        let platform = self.platform.as_ref();
        let options =
            CopyOptions::default().platform(self.platform.clone()).referrers(self.referrers).progress(progress.clone());
        match (&self.source, &self.destination) {
            (Endpoint::Registry(from), Endpoint::Registry(to)) => {
                if to.digest().is_some() {
                    return Err(Error::invalid(format!("destination {to}: a repository and a tag, not a digest")));
                }
                let source = access.source_registry(from.api_host())?;
                let target = access.destination_registry(to.api_host())?;
                let images: Vec<(ImageRef, Option<Tag>)> = if self.all_tags {
                    let tags = source
                        .tags(from.name())
                        .await
                        .with_context(|| format!("listing the tags of {}", from.name()))?;
                    // A tag the server lists is held to the tag rule before it goes anywhere.
                    let tags = tags.iter().map(|t| Tag::parse(t)).collect::<Result<Vec<_>, _>>()?;
                    tags.into_iter().map(|t| (from.name().with_tag(&t), Some(t))).collect()
                } else {
                    vec![(from.clone(), to.tag().or(from.tag()).cloned())]
                };
                let mut reports = Vec::new();
                for (image, tag) in images {
                    let report = target
                        .copy_with(&source, &image, to.name(), tag.as_ref(), &options)
                        .await
                        .with_context(|| format!("copying {image}"))?;
                    reports.push(report);
                }
                Ok(reports)
            }
            (Endpoint::Registry(from), Endpoint::Layout { path, name, archive }) => {
                let source = access.source_registry(from.api_host())?;
                let name = name.clone().or_else(|| from.tag().map(Tag::to_string));
                if !archive {
                    return Ok(vec![source.save_with(from, path, name.as_deref(), &options).await?]);
                }
                // A tar is written whole from a directory beside it, then renamed into place.
                let staging = tempfile_dir(path)?;
                let report = source.save_with(from, staging.path(), name.as_deref(), &options).await?;
                ghcr_client::layout::write_tar(staging.path(), path)?;
                Ok(vec![report])
            }
            (Endpoint::Layout { path, name, .. }, Endpoint::Registry(to)) => {
                if self.referrers {
                    return Err(Error::invalid("--referrers copies from a registry; a layout is pushed as it is"));
                }
                let layout = Layout::open(path)?;
                let selector = Selector {
                    reference: name.clone(),
                    platform: platform.cloned().unwrap_or_default(),
                    keep_index: platform.is_none(),
                };
                let image = layout.select(&selector)?;
                let target = access.destination_registry(to.api_host())?;
                let tags: Vec<Tag> = to.tag().cloned().into_iter().collect();
                let pushed = target.push(&layout, &image, to.name()).tags(&tags).progress(progress).send().await?;
                Ok(vec![CopyReport {
                    digest: pushed.digest,
                    manifests: image.manifests().iter().map(|m| m.descriptor.digest().to_string()).collect(),
                    bytes_copied: pushed.bytes_uploaded,
                    blobs: pushed.blobs,
                    referrers: Vec::new(),
                }])
            }
            (Endpoint::Layout { .. }, Endpoint::Layout { .. }) => {
                Err(Error::invalid("layout to layout: copy the directory, or push it to a registry first"))
            }
        }
    }
}

/// A directory for staging next to `path` (same file system, so the final rename is atomic).
pub(crate) fn tempfile_dir(path: &std::path::Path) -> Result<tempfile::TempDir, Error> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // A new directory of our own (made exclusively, mode 0700, a random name): never one that already
    // exists, and never a symlink someone placed in a shared `$TMPDIR`.
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(&format!(".{name}.staging-"))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(parent)
        .map_err(|source| Error::Io {
            what: format!("cannot create a staging directory in {}", parent.display()),
            source,
        })
}

/// `(copied, present, mounted)` blob counts of a report.
pub fn counts(report: &CopyReport) -> (usize, usize, usize) {
    let count = |o| report.blobs.iter().filter(|(_, outcome)| *outcome == o).count();
    (count(BlobOutcome::Uploaded), count(BlobOutcome::Present), count(BlobOutcome::Mounted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_directories_are_new_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("image.tar");
        // What a hostile user of a shared $TMPDIR could place: a directory and a symlink named like ours.
        std::fs::create_dir(tmp.path().join(".image.tar.staging-")).unwrap();
        std::os::unix::fs::symlink("/", tmp.path().join(".image.tar.staging-x")).unwrap();
        let (a, b) = (tempfile_dir(&target).unwrap(), tempfile_dir(&target).unwrap());
        assert_ne!(a.path(), b.path());
        for dir in [a.path(), b.path()] {
            assert_eq!(dir.parent(), Some(tmp.path()), "beside the target: the final rename stays on one file system");
            let meta = std::fs::symlink_metadata(dir).unwrap();
            assert!(meta.is_dir() && !meta.file_type().is_symlink());
            assert_eq!(meta.permissions().mode() & 0o777, 0o700, "private");
            assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0, "new and empty");
        }
        let gone = a.path().to_owned();
        drop(a);
        assert!(!gone.exists(), "removed when dropped");
    }
}
