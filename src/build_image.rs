//! Building an image without a Docker daemon: files on a base image (or on nothing), into an OCI layout
//! (a directory or a tar, for `push-image` or skopeo) or pushed straight to a registry. The layer and the
//! config are reproducible ([`ghcr_client::registry::build`]): the same inputs and the same
//! `SOURCE_DATE_EPOCH` (or HEAD's commit time) give the same digest.
//!
//! ```no_run
//! # async fn run() -> Result<(), offinfra::Error> {
//! use offinfra::build_image::{BuildImage, Output};
//! use offinfra::copy::Access;
//!
//! let build = BuildImage {
//!     base: Some("gcr.io/distroless/static-debian12:nonroot".parse()?),
//!     files: vec!["target/release/deploy:/usr/local/bin/deploy:0755".parse()?],
//!     settings: offinfra::ghcr_client::registry::build::ImageSettings {
//!         entrypoint: Some(vec!["/usr/local/bin/deploy".into()]),
//!         created: offinfra::build_image::source_date_epoch(|n| std::env::var(n).ok(), ".".as_ref())?,
//!         ..Default::default()
//!     },
//!     platforms: vec![Default::default()],
//!     output: Output::parse("oci:image")?,
//! };
//! let report = build.run(&Access::default(), None).await?;
//! println!("{}", report.digest);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use ghcr_client::{
    layout::PlatformSpec,
    registry::{
        build::{build, Base, BuildInput, ImageSettings, LayerFile},
        ProgressFn, PushReport,
    },
};
use offinfra_types::{ImageName, ImageRef, Tag};
use serde::Serialize;

use crate::{
    copy::{Access, Endpoint},
    Error, ResultExt,
};

/// Where the built image goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// An OCI layout: a directory, or a tar (`archive`), the image named `name` in it.
    Layout {
        /// The directory or the tar.
        path: PathBuf,
        /// Its `org.opencontainers.image.ref.name` (default `latest`).
        name: Option<String>,
        /// A tar rather than a directory.
        archive: bool,
    },
    /// A registry repository, under these tags (none: by digest only).
    Registry {
        /// The repository.
        image: ImageName,
        /// The tags.
        tags: Vec<Tag>,
    },
}

impl Output {
    /// `oci:DIR[:NAME]` or `oci-archive:TAR[:NAME]`, as skopeo names layouts.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match Endpoint::parse(text)? {
            Endpoint::Layout { path, name, archive } => Ok(Output::Layout { path, name, archive }),
            Endpoint::Registry(_) => Err(Error::invalid(format!(
                "--output {text}: oci:DIR[:NAME] or oci-archive:TAR[:NAME] (push with --repository and --tag)"
            ))),
        }
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildImage {
    /// The base image; `None`: `scratch`.
    pub base: Option<ImageRef>,
    /// The new layer's files.
    pub files: Vec<LayerFile>,
    /// Entrypoint, env, user, working directory, labels, creation time.
    pub settings: ImageSettings,
    /// One image per platform (an index over them when several).
    pub platforms: Vec<PlatformSpec>,
    /// Where it goes.
    pub output: Output,
}

/// What [`BuildImage::run`] made.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BuildReport {
    /// The image's digest (the index's over several platforms).
    pub digest: String,
    /// Each platform and its manifest's digest.
    pub platforms: Vec<(String, String)>,
    /// The base, as given.
    pub base: Option<String>,
    /// Where it went: the layout path, or the repository.
    pub output: String,
    /// The push, when the output is a registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<PushReport>,
}

/// `SOURCE_DATE_EPOCH` when set (it must be a number), else the committer time of HEAD of the git
/// repository at or above `dir`, else 0: the time every layer entry and the config carry.
pub fn source_date_epoch(env: impl Fn(&str) -> Option<String>, dir: &Path) -> Result<i64, Error> {
    if let Some(value) = env("SOURCE_DATE_EPOCH").filter(|v| !v.trim().is_empty()) {
        return value
            .trim()
            .parse()
            .map_err(|_| Error::invalid(format!("SOURCE_DATE_EPOCH {value:?}: expected seconds since 1970")));
    }
    match svu::Repository::discover(dir) {
        Ok(repo) => Ok(repo.head_time()?),
        Err(_) => Ok(0),
    }
}

impl BuildImage {
    /// Builds, then writes the layout (the base's layers fetched into it) or pushes (the base's layers sent
    /// registry to registry, mounted where they already are). `access.source` logs in to the base's
    /// registry, `access.destination` to the output's.
    pub async fn run(&self, access: &Access, progress: Option<ProgressFn>) -> Result<BuildReport, Error> {
        let base_registry = match &self.base {
            Some(image) => Some(access.source_registry(image.api_host())?),
            None => None,
        };
        let base = match (&self.base, &base_registry) {
            (Some(image), Some(registry)) => Some(Base { registry, image }),
            _ => None,
        };
        // A tar is written from a directory beside it; a push reads the new blobs from a temporary one.
        let (dir, staging) = match &self.output {
            Output::Layout { path, archive: false, .. } => (path.clone(), None),
            Output::Layout { path, .. } => {
                let staging = crate::copy::tempfile_dir(path)?;
                (staging.path().to_owned(), Some(staging))
            }
            Output::Registry { .. } => {
                let staging = crate::copy::tempfile_dir(&std::env::temp_dir().join("offinfra-build"))?;
                (staging.path().to_owned(), Some(staging))
            }
        };
        let name = match &self.output {
            Output::Layout { name, .. } => Some(name.clone().unwrap_or_else(|| "latest".into())),
            Output::Registry { .. } => None,
        };
        let input = BuildInput {
            base,
            platforms: &self.platforms,
            files: &self.files,
            settings: &self.settings,
            ref_name: name.as_deref(),
        };
        let built = build(&dir, &input).await.with_context(|| match &self.base {
            Some(base) => format!("building on {base}"),
            None => "building on scratch".into(),
        })?;
        let mut report = BuildReport {
            digest: built.digest.clone(),
            platforms: built.platforms.clone(),
            base: self.base.as_ref().map(ToString::to_string),
            output: String::new(),
            pushed: None,
        };
        match &self.output {
            Output::Layout { path, archive, .. } => {
                if let Some(base) = base {
                    base.registry.complete_layout(&built, base.image.name()).await?;
                }
                if *archive {
                    ghcr_client::layout::write_tar(&dir, path)?;
                }
                report.output = path.display().to_string();
            }
            Output::Registry { image, tags } => {
                let target = access.destination_registry(image.api_host())?;
                let pushed = target.push_built(&built, base, image, tags, progress).await?;
                report.output = image.to_string();
                report.pushed = Some(pushed);
            }
        }
        drop(staging);
        Ok(report)
    }
}
