//! The `build-image` example's flags: [`BuildArgs`] gives the [`BuildImage`] and the registry logins.

use std::collections::BTreeMap;

use crate::{
    build_image::{source_date_epoch, BuildImage, Output},
    copy::Access,
    ghcr_client::{
        layout::PlatformSpec,
        registry::{build::ImageSettings, build::LayerFile, Credentials},
    },
    types::{ImageName, ImageRef, Tag},
    Error,
};

/// What to build, on what, and where it goes. `--format` is not here ([`super::Format`]).
#[derive(clap::Args, Debug, Clone)]
#[command(group = clap::ArgGroup::new("destination").required(true).args(["output", "repository"]))]
#[non_exhaustive]
pub struct BuildArgs {
    /// The base image (REGISTRY/REPO:TAG or @sha256:…), or scratch for none
    #[arg(long, value_name = "REF|scratch")]
    pub from: String,
    /// A file or directory for the new layer (repeat); {os}, {arch} and {variant} in SRC are the platform's
    #[arg(long = "add", value_name = "SRC:DEST[:MODE]", required = true)]
    pub files: Vec<LayerFile>,
    /// The entrypoint: a JSON array (["/deploy","--help"]) or words split on spaces
    #[arg(long, value_name = "JSON-OR-WORDS")]
    pub entrypoint: Option<String>,
    /// The command (arguments to the entrypoint): a JSON array or words
    #[arg(long, value_name = "JSON-OR-WORDS")]
    pub cmd: Option<String>,
    /// An environment variable (repeat)
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// The user the container runs as (e.g. 65532 or nonroot)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The working directory
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// A label (repeat)
    #[arg(long = "label", value_name = "NAME=VALUE")]
    pub labels: Vec<String>,
    /// org.opencontainers.image.source: where the image's source lives
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// org.opencontainers.image.revision: the commit built
    #[arg(long, env = "GITHUB_SHA", value_name = "SHA")]
    pub revision: Option<String>,
    /// org.opencontainers.image.version: the version built
    #[arg(long, value_name = "VERSION")]
    pub image_version: Option<String>,
    /// Seconds since 1970 for every file's time and the config's (default: HEAD's commit time, else 0)
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECONDS")]
    pub source_date_epoch: Option<i64>,
    /// A platform to build for (repeat for an index over several)
    #[arg(long = "platform", default_value = "linux/amd64", value_name = "OS/ARCH[/VARIANT]")]
    pub platforms: Vec<PlatformSpec>,
    /// Write an OCI layout: oci:DIR or oci-archive:TAR, with :NAME after either (default name: latest)
    #[arg(long, value_name = "oci:DIR|oci-archive:TAR")]
    pub output: Option<String>,
    /// Push to this repository instead: REGISTRY/NAMESPACE/NAME
    #[arg(long, value_name = "REPOSITORY")]
    pub repository: Option<ImageName>,
    /// A tag to push (repeat; with --repository)
    #[arg(long = "tag", value_name = "TAG", requires = "repository")]
    pub tags: Vec<Tag>,
    /// Base registry credentials USER:PASSWORD (default: the docker config's, else anonymous) (prefer the
    /// variable: a flag shows in the process list)
    #[arg(long, env = "FROM_CREDS", hide_env_values = true, value_name = "USER:PASSWORD")]
    pub from_creds: Option<String>,
    /// Speak plain HTTP to the base's registry even off loopback
    #[arg(long)]
    pub from_plain_http: bool,
    /// The destination registry's login.
    #[command(flatten)]
    pub login: super::RegistryLogin,
}

/// `["a","b"]` as JSON, or words split on white space.
fn words(flag: &str, text: &str) -> Result<Vec<String>, Error> {
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text)
            .map_err(|e| Error::invalid(format!("{flag} {text}: not a JSON array of strings: {e}")));
    }
    Ok(text.split_whitespace().map(str::to_owned).collect())
}

/// `NAME=VALUE` pairs, each with a name.
fn pairs(flag: &str, values: &[String]) -> Result<Vec<(String, String)>, Error> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
            _ => Err(Error::invalid(format!("{flag} {v:?}: expected NAME=VALUE"))),
        })
        .collect()
}

impl BuildArgs {
    /// The build these flags describe; the creation time from `--source-date-epoch`, else HEAD's commit.
    pub fn build(&self) -> Result<BuildImage, Error> {
        let base = match self.from.as_str() {
            "scratch" => None,
            reference => Some(ImageRef::parse(reference).map_err(|e| Error::invalid(format!("--from: {e}")))?),
        };
        let created = match self.source_date_epoch {
            Some(seconds) => seconds,
            None => source_date_epoch(|_| None, &std::env::current_dir().unwrap_or_default())?,
        };
        let mut labels: BTreeMap<String, String> = pairs("--label", &self.labels)?.into_iter().collect();
        let created_text = jiff::Timestamp::from_second(created)
            .map_err(|e| Error::invalid(format!("--source-date-epoch {created}: {e}")))?
            .to_string();
        labels.entry("org.opencontainers.image.created".into()).or_insert(created_text);
        let standard = [("source", &self.source), ("revision", &self.revision), ("version", &self.image_version)];
        for (name, value) in standard {
            if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
                labels.entry(format!("org.opencontainers.image.{name}")).or_insert_with(|| value.clone());
            }
        }
        let output = match (&self.output, &self.repository) {
            (Some(output), None) => Output::parse(output)?,
            (None, Some(image)) => Output::Registry { image: image.clone(), tags: self.tags.clone() },
            _ => return Err(Error::invalid("give --output oci:DIR|oci-archive:TAR, or --repository (and --tag)")),
        };
        Ok(BuildImage {
            base,
            files: self.files.clone(),
            settings: ImageSettings {
                entrypoint: self.entrypoint.as_deref().map(|e| words("--entrypoint", e)).transpose()?,
                cmd: self.cmd.as_deref().map(|c| words("--cmd", c)).transpose()?,
                env: pairs("--env", &self.env)?,
                user: self.user.clone(),
                working_dir: self.workdir.clone(),
                labels,
                created,
            },
            platforms: self.platforms.clone(),
            output,
        })
    }

    /// The base's and the destination's logins.
    pub fn access(&self, build: &BuildImage) -> Result<Access, Error> {
        let source = match &build.base {
            None => Credentials::Anonymous,
            Some(base) => super::user_password_or_docker_config(
                "--from-creds",
                self.from_creds.as_deref(),
                self.login.docker_config.as_deref(),
                base.api_host(),
            )?,
        };
        let destination = match &build.output {
            Output::Registry { image, .. } => self.login.credentials(image.registry())?,
            Output::Layout { .. } => Credentials::Anonymous,
        };
        Ok(Access {
            source,
            destination,
            source_plain_http: self.from_plain_http,
            destination_plain_http: self.login.plain_http,
            concurrency: 4,
        })
    }
}
