//! The `push-image` example's flags: [`PushArgs`] gives the tags, the image selector and the registry
//! client.

use std::path::PathBuf;

use crate::{
    ghcr_client::{
        layout::{PlatformSpec, Selector},
        registry::{push::image_tags, Registry, RegistryOptions, UploadMode},
    },
    types::{CommitId, ImageName, Tag},
    Error,
};

/// What to push, where, and how. `--dry-run`/`--format` are not here ([`super::Output`]).
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct PushArgs {
    /// The OCI layout: a directory, or the tar `buildx --output type=oci,dest=image.tar` wrote
    #[arg(long, env = "PLUGIN_LAYOUT", value_name = "DIR|TAR")]
    pub layout: PathBuf,
    /// Where to push: <registry>/<namespace>/<name>, e.g. ghcr.io/owner/app
    #[arg(long, env = "PLUGIN_REPOSITORY", value_name = "REPOSITORY")]
    pub repository: ImageName,
    /// A tag to push (repeat for more)
    #[arg(long = "tag", value_name = "TAG", env = "PLUGIN_TAGS", value_delimiter = ',')]
    pub tags: Vec<Tag>,
    /// Also tag the image with the first 8 characters of this git commit
    #[arg(long, env = "GITHUB_SHA", value_name = "SHA")]
    pub sha: Option<String>,
    /// The image's org.opencontainers.image.ref.name in the layout (default: the only image)
    #[arg(long = "ref", value_name = "NAME")]
    pub reference: Option<String>,
    /// The platform to push from a multi-platform index
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH[/VARIANT]")]
    pub platform: PlatformSpec,
    /// Push an index whole (all platforms and attestations) instead of the one platform manifest
    #[arg(long)]
    pub keep_index: bool,
    /// The registry login.
    #[command(flatten)]
    pub login: super::RegistryLogin,
    /// Try to mount blobs from this image of the same registry before uploading them (e.g.
    /// ghcr.io/acme/base)
    #[arg(long, value_name = "IMAGE")]
    pub mount_from: Option<ImageName>,
    /// How blobs are sent: chunked (ghcr's 4 MiB cap), monolithic (one streamed request), or auto
    #[arg(long, value_enum, default_value = "auto")]
    pub upload: Upload,
    /// Blobs sent at once
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Hash every blob before sending anything (by default blobs are hashed as they are sent, and a
    /// mismatch stops the push before any manifest or tag)
    #[arg(long)]
    pub verify_first: bool,
}

/// `--upload`: how blobs are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Upload {
    /// One streamed PUT per blob, as containerd pushes (ghcr.io too); chunks when the registry asks for them
    Auto,
    /// `PATCH` chunks, each retried and resumed on its own.
    Chunked,
    /// One streamed request per blob.
    Monolithic,
}

impl PushArgs {
    /// The tags to push: `--tag`s, then the commit's 8-character tag; an error when there are none.
    pub fn tags(&self) -> Result<Vec<Tag>, Error> {
        let sha = self.sha.as_deref().map(CommitId::parse).transpose()?;
        let tags = image_tags(&self.tags, sha.as_ref());
        match tags.is_empty() {
            true => Err(Error::invalid("nothing to tag: give --tag and/or --sha (GITHUB_SHA)")),
            false => Ok(tags),
        }
    }

    /// Which image of the layout to push.
    pub fn selector(&self) -> Selector {
        Selector { reference: self.reference.clone(), platform: self.platform.clone(), keep_index: self.keep_index }
    }

    /// The registry client for `--repository`, logged in as `--username`/`--password-stdin`/the docker
    /// config say.
    pub fn registry(&self) -> Result<Registry, Error> {
        let registry = self.repository.registry();
        let options = RegistryOptions {
            plain_http: self.login.plain_http(),
            upload: match self.upload {
                Upload::Auto => UploadMode::Auto,
                Upload::Chunked => UploadMode::Chunked,
                Upload::Monolithic => UploadMode::Monolithic,
            },
            concurrency: self.concurrency.max(1),
            ..RegistryOptions::default()
        };
        let credentials = self.login.credentials(registry)?;
        Ok(Registry::builder(self.repository.api_host()).credentials(credentials).options(options).build()?)
    }
}
