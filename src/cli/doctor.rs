//! The `doctor` example's flags: [`DoctorArgs`] gives the [`Checks`] to run.

use std::path::PathBuf;

use crate::{
    doctor::Checks,
    secrets::{VaultAuth, VaultSource},
    types::RepoName,
    Error,
};

/// Which checks run (each when its inputs are given) and whether `--fix` repairs. `--format` is not here.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct DoctorArgs {
    /// The repository (webhook check), owner/name
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// Forgejo\'s address and token.
    #[command(flatten)]
    pub forgejo: super::ForgejoFlags,
    /// The in-cluster Woodpecker URL the webhook must point at
    #[arg(long, env = "WOODPECKER_INTERNAL_URL", value_name = "URL")]
    pub woodpecker_internal_url: Option<String>,
    /// Woodpecker\'s address and token.
    #[command(flatten)]
    pub woodpecker: super::WoodpeckerFlags,
    /// Two Woodpecker repo ids registering the same repository: their secrets must match
    #[arg(long, value_delimiter = ',', value_name = "ID,ID")]
    pub repo_ids: Vec<i64>,
    /// Vault address: where --fix takes secret values from
    #[arg(long, env = "VAULT_ADDR", value_name = "URL")]
    pub vault_url: Option<String>,
    /// Vault token (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "VAULT_TOKEN", hide_env_values = true)]
    pub vault_token: Option<String>,
    /// The KV v2 mount
    #[arg(long, default_value = "secret")]
    pub vault_mount: String,
    /// Accept any TLS certificate from Vault (VAULT_SKIP_VERIFY is not read)
    #[arg(long)]
    pub vault_skip_verify: bool,
    /// Allow plain http to a Vault that is not on loopback
    #[arg(long)]
    pub vault_plain_http: bool,
    /// The KV v2 path holding the repository's secrets
    #[arg(long)]
    pub vault_path: Option<String>,
    /// A registry to check for orphaned index children
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
    /// Repositories to check there (default: the catalog)
    #[arg(long = "repository", value_name = "NAME")]
    pub repositories: Vec<String>,
    /// A Forgejo user or organisation whose container packages must have no orphaned index children
    #[arg(long, value_name = "OWNER")]
    pub forgejo_packages: Option<String>,
    /// The registry host serving Forgejo's packages (default: the host of --forgejo-url)
    #[arg(long, value_name = "HOST")]
    pub forgejo_registry: Option<String>,
    /// Send the Forgejo token to --forgejo-registry although it is not Forgejo's host
    #[arg(long)]
    pub forgejo_registry_token: bool,
    /// A pull-through cache that must answer /v2/ and /v2/_catalog:
    /// `[http://|https://]HOST[:PORT][=UPSTREAM]`, its scheme for this cache only (repeat, e.g. --cache
    /// `http://10.0.20.10:5010=ghcr.io`)
    #[arg(long, value_name = "CACHE")]
    pub cache: Vec<crate::doctor::CacheSpec>,
    /// Speak plain HTTP to every registry that is not on loopback
    #[arg(long)]
    pub plain_http: bool,
    /// Speak plain HTTP to this registry only, `HOST[:PORT]` (repeat)
    #[arg(long = "plain-http-to", value_name = "HOST")]
    pub plain_http_to: Vec<String>,
    /// With --owner: the fleet's release status instead of its checks: per repository the newest tag,
    /// whether its image was pushed, what the cluster runs (kubeconfig) and the last deploy; exit 1 when a
    /// cluster does not run its repository's newest build
    #[arg(long, requires = "owners")]
    pub status: bool,
    /// A Deployment whose images must exist in their registries
    #[arg(long)]
    pub deployment: Option<String>,
    /// Its namespace (default: the kubeconfig context's)
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// A namespace whose workloads' images must be pullable as the kubelet would pull them (repeat)
    #[arg(long = "images-in", value_name = "NAMESPACE")]
    pub images_in: Vec<String>,
    /// Woodpecker pipeline files or directories to lint
    #[arg(long, value_name = "PATH")]
    pub lint: Vec<PathBuf>,
    /// Check the --lint files' steps live: the service account Woodpecker really uses, its rights on the
    /// deploy target, each image (exists, pinned, entrypoint) and /bin/sh for commands:
    #[arg(long)]
    pub seams: bool,
    /// An onboarded repository whose .woodpecker pipelines (read from Forgejo) --seams checks (repeat)
    #[arg(long = "seams-repo", value_name = "OWNER/NAME")]
    pub seams_repos: Vec<String>,
    /// The Woodpecker agent's Deployment or StatefulSet, for --seams (its settings decide the account)
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub agent: Option<String>,
    /// Repair what is safe to: re-point webhooks, write missing secrets from Vault
    #[arg(long)]
    pub fix: bool,
    /// Check every onboarded repository of these Forgejo users or organisations instead (repeat, or
    /// comma-separated): workflow, mirror, registration, webhook (with --woodpecker-internal-url) and secrets
    #[arg(long = "owner", value_delimiter = ',', value_name = "OWNER")]
    pub owners: Vec<String>,
    /// Repositories checked at a time with --owner
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

impl DoctorArgs {
    /// What reads an image host for the status: the credentials `~/.docker/config.json` has for it, else
    /// anonymous; plain HTTP as `--plain-http`/`--plain-http-to` say.
    pub fn registry_client(
        &self,
    ) -> impl Fn(&str) -> Result<crate::ghcr_client::registry::Registry, Error> + Sync + use<'_> {
        move |host: &str| {
            let credentials = super::resolve_login(None, None, None, host)?;
            let options = crate::ghcr_client::registry::RegistryOptions {
                plain_http: self.plain_http().for_host(host),
                ..Default::default()
            };
            Ok(crate::ghcr_client::registry::Registry::builder(host)
                .credentials(credentials)
                .options(options)
                .build()?)
        }
    }

    /// The registries spoken to in plain HTTP.
    pub fn plain_http(&self) -> crate::doctor::PlainHttp {
        crate::doctor::PlainHttp { all: self.plain_http, hosts: self.plain_http_to.clone() }
    }

    /// The fleet run `--owner` asks for (`None` without it).
    pub fn fleet(&self) -> Result<Option<crate::doctor::fleet::Fleet>, Error> {
        if self.owners.is_empty() {
            return Ok(None);
        }
        let mut fleet = crate::doctor::fleet::Fleet::new(
            self.forgejo.client()?,
            self.woodpecker.client()?,
            self.owners.iter().map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect(),
        );
        fleet.woodpecker_internal_url = self.woodpecker_internal_url.clone();
        fleet.woodpecker_urls = self.woodpecker.woodpecker_url.iter().cloned().collect();
        fleet.concurrency = usize::from(self.concurrency);
        Ok(Some(fleet))
    }

    /// The checks these flags ask for, each input held to its rule.
    pub fn checks(&self) -> Result<Checks, Error> {
        let webhook = match &self.woodpecker_internal_url {
            Some(internal) => {
                let repo =
                    self.repo.as_deref().ok_or_else(|| Error::invalid("the webhook check needs --repo owner/name"))?;
                Some((RepoName::parse(repo)?, internal.clone()))
            }
            None => None,
        };
        let secret_parity = match self.repo_ids[..] {
            [] => None,
            [a, b] => Some((a, b)),
            _ => {
                return Err(Error::invalid(format!(
                    "--repo-ids {:?}: expected exactly two Woodpecker repo ids",
                    self.repo_ids
                )))
            }
        };
        let vault = match (&self.vault_url, &self.vault_token, &self.vault_path) {
            (Some(url), Some(token), Some(path)) => Some(VaultSource {
                url: url.clone(),
                auth: VaultAuth::Token(token.clone().into()),
                mount: self.vault_mount.clone(),
                path: path.clone(),
                skip_tls_verify: self.vault_skip_verify,
                plain_http: self.vault_plain_http,
            }),
            _ => None,
        };
        let forgejo_packages = match &self.forgejo_packages {
            Some(owner) => {
                let url =
                    super::required(&self.forgejo.forgejo_url, "--forgejo-url (FORGEJO_URL) of --forgejo-packages")?;
                let token = super::required(
                    &self.forgejo.forgejo_token,
                    "--forgejo-token (FORGEJO_TOKEN) of --forgejo-packages",
                )?;
                let host = self.forgejo_registry.as_deref();
                // The registry is Forgejo's own host unless --forgejo-registry names another.
                let registry_host = host.map(str::to_owned).or_else(|| crate::http::scope::host_of(url));
                let plain_http = self.plain_http().for_host(registry_host.as_deref().unwrap_or_default());
                let mut scope = crate::http::CredentialScope::new(token.to_owned().into());
                if let (true, Some(host)) = (self.forgejo_registry_token, host) {
                    scope = scope.allow(host);
                }
                let reach = crate::forgejo_registry::RegistryReach { plain_http, reach: self.forgejo.reach.reach()? };
                let registry = crate::forgejo_registry::registry(url, host, owner, scope, &reach)?;
                Some((owner.clone(), registry))
            }
            None => None,
        };
        Ok(Checks {
            forgejo: self.forgejo.client_if_given()?,
            woodpecker: self.woodpecker.client_if_given()?,
            webhook,
            woodpecker_urls: self.woodpecker.woodpecker_url.iter().cloned().collect(),
            secret_parity,
            vault,
            registry: self.registry.clone(),
            repositories: self.repositories.clone(),
            forgejo_packages,
            caches: self.cache.clone(),
            plain_http: self.plain_http(),
            deployment: self.deployment.clone().map(|name| (self.namespace.clone(), name)),
            images_in: self.images_in.clone(),
            lint: self.lint.clone(),
            seams: self.seams,
            seams_repos: self
                .seams_repos
                .iter()
                .map(|r| RepoName::parse(r).map_err(|e| Error::invalid(format!("--seams-repo {r:?}: {e}"))))
                .collect::<Result<_, _>>()?,
            agent: match &self.agent {
                Some(agent) => Some(
                    agent
                        .split_once('/')
                        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
                        .map(|(ns, name)| (ns.to_owned(), name.to_owned()))
                        .ok_or_else(|| Error::invalid(format!("--agent {agent:?}: expected NAMESPACE/NAME")))?,
                ),
                None => None,
            },
            fix: self.fix,
        })
    }
}

/// The cluster from the kubeconfig (`KUBECONFIG`, `~/.kube/config`, or in-cluster), when there is one: the
/// status reads what the workloads run through it.
pub async fn kube() -> Option<crate::deployer::kube::Client> {
    crate::deployer::Deployer::infer(None).await.ok().map(|d| d.client().clone())
}
