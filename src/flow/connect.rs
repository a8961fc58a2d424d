//! Our backends for a plan, from settings: the Forgejo, registry, GitHub Packages and Woodpecker clients a
//! real run needs, with their credentials, built only for the steps the plan runs.

use std::{path::PathBuf, time::Duration};

use forgejo_client::Forgejo;
use ghcr_client::{
    layout::{Layout, PlatformSpec, Selector},
    packages::{Packages, DEFAULT_API_URL},
    prune::PruneOptions,
    registry::{Credentials, Registry, RegistryOptions},
};
use offinfra_http::{CredentialScope, ExposeSecret, SecretString};
use woodpecker_client::Woodpecker;

use super::{
    backends::{ForgejoTags, GhcrPrune, LayoutPush, WoodpeckerDeploy},
    Backends, Plan,
};
use crate::{prune::OwnerKind, Error};

/// The registry the GitHub token belongs to.
const GHCR: &str = "ghcr.io";

/// What a real run connects to. Only the settings of the steps the plan runs are required; a missing
/// one is an error naming the flag and variable that give it.
///
/// ```no_run
/// # async fn run(plan: offinfra::flow::Plan) -> Result<(), offinfra::Error> {
/// use offinfra::flow::{self, connect::Connect};
///
/// let connect = Connect {
///     forgejo_url: Some("https://git.example.com".into()),
///     forgejo_token: Some(std::env::var("FORGEJO_TOKEN").unwrap_or_default().into()),
///     layout: Some("image.tar".into()),
///     github_token: Some(std::env::var("GITHUB_TOKEN").unwrap_or_default().into()),
///     woodpecker_url: Some("https://ci.example.com".into()),
///     woodpecker_token: Some(std::env::var("WOODPECKER_TOKEN").unwrap_or_default().into()),
///     ..Connect::default()
/// };
/// let connected = connect.connect(&plan)?;
/// let report = flow::run(&plan, &connected.backends(), &mut |step| eprintln!("{}", step.detail)).await;
/// assert!(report.success());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Connect {
    /// Forgejo's web address (the tag step).
    pub forgejo_url: Option<String>,
    /// A Forgejo token with write:repository (the tag step).
    pub forgejo_token: Option<SecretString>,
    /// How Forgejo's API is reached when DNS or the system's CAs are not enough.
    pub forgejo_reach: forgejo_client::Reach,
    /// The OCI layout `docker buildx --output type=oci` wrote, a directory or a tar (the push step).
    pub layout: Option<PathBuf>,
    /// The platform pushed from a multi-platform layout.
    pub platform: PlatformSpec,
    /// The registry user (ghcr.io takes any, e.g. `$GITHUB_ACTOR`); `offinfra` when not given.
    pub registry_username: Option<String>,
    /// Speak plain HTTP even to a registry that is not on loopback.
    pub plain_http: bool,
    /// The GitHub token: the Packages API's token (the prune step), and the registry's password when the
    /// image is on ghcr.io or on one of `token_registries`.
    pub github_token: Option<SecretString>,
    /// Registries besides ghcr.io that may receive the GitHub token as their password.
    pub token_registries: Vec<String>,
    /// A docker config directory whose stored login goes to the image's registry when the GitHub token
    /// does not (the workflow's `docker login` steps write `~/.docker/config.json`); `None` reads none.
    pub docker_config: Option<PathBuf>,
    /// The GitHub API's base URL.
    pub github_api_url: String,
    /// Versions with a tag matching this regular expression are never pruned.
    pub protect_tags: Option<String>,
    /// Woodpecker's web address (the deploy step).
    pub woodpecker_url: Option<String>,
    /// A Woodpecker token (the deploy step).
    pub woodpecker_token: Option<SecretString>,
    /// Wait for the deploy pipeline's result, at most this long.
    pub wait: Option<Duration>,
}

impl Default for Connect {
    fn default() -> Self {
        Self {
            forgejo_url: None,
            forgejo_token: None,
            forgejo_reach: forgejo_client::Reach::default(),
            layout: None,
            platform: PlatformSpec { os: "linux".into(), architecture: "amd64".into(), variant: None },
            registry_username: None,
            plain_http: false,
            github_token: None,
            token_registries: Vec::new(),
            docker_config: None,
            github_api_url: DEFAULT_API_URL.to_owned(),
            protect_tags: None,
            woodpecker_url: None,
            woodpecker_token: None,
            wait: None,
        }
    }
}

/// The backends [`Connect::connect`] built; [`Connected::backends`] lends them to [`super::run`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Connected {
    /// For the tag step.
    pub forge: Option<ForgejoTags>,
    /// For the push step.
    pub images: Option<LayoutPush>,
    /// For the prune step.
    pub packages: Option<GhcrPrune>,
    /// For the deploy step.
    pub deploy: Option<WoodpeckerDeploy>,
}

impl Connected {
    /// The seams [`super::run`] takes.
    pub fn backends(&self) -> Backends<'_> {
        Backends {
            forge: self.forge.as_ref().map(|f| f as _),
            versions: None,
            images: self.images.as_ref().map(|i| i as _),
            packages: self.packages.as_ref().map(|p| p as _),
            deploy: self.deploy.as_ref().map(|d| d as _),
        }
    }
}

fn required<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, Error> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| Error::invalid(format!("{what} (or skip the step)")))
}

fn required_secret(value: &Option<SecretString>, what: &str) -> Result<SecretString, Error> {
    let present = value.clone().filter(|v| !v.expose_secret().is_empty());
    present.ok_or_else(|| Error::invalid(format!("{what} (or skip the step)")))
}

impl Connect {
    /// The credentials for the image's registry: the GitHub token is offered to ghcr.io and to the
    /// registries the user named, never to whatever host an image reference names.
    pub fn registry_credentials(&self, registry: &str) -> Credentials {
        let scope = self.github_token.clone().map(|token| {
            self.token_registries.iter().fold(CredentialScope::new(token).allow(GHCR), |scope, r| scope.allow(r))
        });
        match scope.as_ref().and_then(|scope| scope.secret_for(registry)) {
            Some(token) => Credentials::Basic {
                username: self.registry_username.clone().unwrap_or_else(|| "offinfra".into()),
                password: token.clone(),
            },
            None => Credentials::Anonymous,
        }
    }

    /// The credentials the image's registry gets: [`Self::registry_credentials`], else the login
    /// [`Self::docker_config`] stores for it, else anonymous.
    pub fn image_credentials(&self, registry: &str) -> Result<Credentials, Error> {
        match (self.registry_credentials(registry), &self.docker_config) {
            (Credentials::Anonymous, Some(dir)) => {
                Ok(ghcr_client::registry::docker_config_credentials(dir, registry)?.unwrap_or(Credentials::Anonymous))
            }
            (credentials, _) => Ok(credentials),
        }
    }

    /// Builds the clients the plan's steps need: Forgejo for a due tag (and, when it is given, for the
    /// deploy's check that no newer release exists), one registry client for the push
    /// and the prune's reads (one token exchange), the Packages API for the prune, Woodpecker for the
    /// deploy. The layout is opened and its image selected here, so a bad layout fails before anything
    /// is sent.
    pub fn connect(&self, plan: &Plan) -> Result<Connected, Error> {
        let steps = plan.steps;
        let forge = match &plan.tag {
            Some(_) => Some(ForgejoTags {
                forgejo: Forgejo::reached(
                    required(&self.forgejo_url, "tagging needs --forgejo-url (FORGEJO_URL)").and_then(
                        |url| match &plan.forgejo_repo {
                            Some(_) => Ok(url),
                            None => Err(Error::invalid(
                                "tagging needs the Forgejo repository: --forgejo-repo (FORGEJO_REPOSITORY) or \
                                 forgejo_repository in .offinfra.yml (or skip the step)",
                            )),
                        },
                    )?,
                    required_secret(&self.forgejo_token, "tagging needs FORGEJO_TOKEN")?,
                    &self.forgejo_reach,
                )?,
                message: None,
            }),
            // Without a tag to create, Forgejo still answers the deploy's check that no newer release
            // is there, when the run can reach it.
            None => match (&self.forgejo_url, &plan.forgejo_repo, &self.forgejo_token) {
                (Some(url), Some(_), Some(token)) if steps.deploy && !url.is_empty() => Some(ForgejoTags {
                    forgejo: Forgejo::reached(url, token.clone(), &self.forgejo_reach)?,
                    message: None,
                }),
                _ => None,
            },
        };
        let credentials = self.image_credentials(plan.image.registry())?;
        let options = RegistryOptions { plain_http: self.plain_http.then_some(true), ..RegistryOptions::default() };
        // The API host (Docker Hub's is not `docker.io`); the credentials were picked by the image's name.
        let registry = Registry::new(plan.image.api_host(), credentials, options)?;
        let images = if steps.push {
            let path = self
                .layout
                .as_ref()
                .ok_or_else(|| Error::invalid("pushing needs --layout (or skip the step with --skip-push)"))?;
            let layout = Layout::open(path)?;
            let selector = Selector { reference: None, platform: self.platform.clone(), keep_index: false };
            let image = layout.select(&selector)?;
            Some(LayoutPush { registry: registry.clone(), layout, image })
        } else {
            None
        };
        let packages = if steps.prune {
            let token = required_secret(&self.github_token, "pruning needs GITHUB_TOKEN")?;
            let protect_tags = match &self.protect_tags {
                Some(pattern) => Some(PruneOptions::protect(pattern)?),
                None => None,
            };
            Some(GhcrPrune {
                packages: Packages::new(&self.github_api_url, token)?,
                registry,
                owner_kind: OwnerKind::Auto,
                options: PruneOptions { protect_tags, ..PruneOptions::default() },
            })
        } else {
            None
        };
        let deploy = if steps.deploy {
            Some(WoodpeckerDeploy {
                ci: Woodpecker::new(
                    required(&self.woodpecker_url, "deploying needs --woodpecker-url (WOODPECKER_URL)")?,
                    required_secret(&self.woodpecker_token, "deploying needs WOODPECKER_TOKEN")?,
                )?,
                wait: self.wait.map(woodpecker_client::Wait::up_to),
            })
        } else {
            None
        };
        Ok(Connected { forge, images, packages, deploy })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_github_token_goes_to_ghcr_and_named_registries_only() {
        let connect = Connect {
            github_token: Some("gh-token".to_owned().into()),
            token_registries: vec!["registry.lan:5000".into()],
            ..Connect::default()
        };
        assert!(matches!(connect.registry_credentials("ghcr.io"), Credentials::Basic { .. }));
        assert!(matches!(connect.registry_credentials("registry.lan:5000"), Credentials::Basic { .. }));
        for other in ["evil.example", "ghcr.io.evil.example", "127.0.0.1:5000", "registry.lan:5001"] {
            assert!(matches!(connect.registry_credentials(other), Credentials::Anonymous), "{other}");
        }
    }

    #[test]
    fn another_registry_gets_the_login_docker_stored_for_it_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let auth = offinfra_http::base64(b"hub-user:hub-token");
        let config = serde_json::json!({"auths": {"https://index.docker.io/v1/": {"auth": auth}}});
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let connect = Connect {
            github_token: Some("gh-token".to_owned().into()),
            docker_config: Some(dir.path().to_owned()),
            ..Connect::default()
        };
        match connect.image_credentials("docker.io").unwrap() {
            Credentials::Basic { username, password } => {
                assert_eq!((username.as_str(), password.expose_secret()), ("hub-user", "hub-token"))
            }
            other => panic!("{other:?}"),
        }
        // ghcr.io keeps the job's token; a registry docker has no login for stays anonymous.
        match connect.image_credentials("ghcr.io").unwrap() {
            Credentials::Basic { password, .. } => assert_eq!(password.expose_secret(), "gh-token"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(connect.image_credentials("registry.lan:5000").unwrap(), Credentials::Anonymous));
        let none = Connect { docker_config: None, ..connect };
        assert!(matches!(none.image_credentials("docker.io").unwrap(), Credentials::Anonymous), "none read");
    }
}
