//! The `sync-secrets` example's flags: [`SyncSecretsArgs`] gives the Vault source, the Woodpecker client,
//! the events and the prune mode.

use std::path::PathBuf;

use crate::{
    secrets::{Prune, VaultAuth, VaultSource, DEFAULT_EVENTS, SERVICE_ACCOUNT_TOKEN},
    woodpecker_client::Woodpecker,
    Error,
};

/// Where the secrets come from and go to. `--dry-run`/`--format` are not here ([`super::Output`]).
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct SyncSecretsArgs {
    /// Vault address
    #[arg(long, env = "VAULT_ADDR", value_name = "URL")]
    pub vault_url: String,
    /// Vault token (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "VAULT_TOKEN", hide_env_values = true)]
    pub vault_token: Option<String>,
    /// Log in with Vault's Kubernetes auth as this role (in a pod: no long-lived token)
    #[arg(long, env = "VAULT_K8S_ROLE", value_name = "ROLE")]
    pub vault_k8s_role: Option<String>,
    /// Where Vault's Kubernetes auth method is mounted
    #[arg(long, env = "VAULT_K8S_MOUNT", default_value = "kubernetes", value_name = "PATH")]
    pub vault_k8s_mount: String,
    /// The service-account token file sent to Vault
    #[arg(long, env = "VAULT_K8S_TOKEN_FILE", default_value = SERVICE_ACCOUNT_TOKEN, value_name = "FILE")]
    pub vault_k8s_token_file: PathBuf,
    /// The KV v2 mount
    #[arg(long, env = "VAULT_MOUNT", default_value = "secret")]
    pub mount: String,
    /// The secret's path in the mount; each of its keys becomes a Woodpecker secret
    #[arg(long, env = "VAULT_PATH")]
    pub path: String,
    /// Woodpecker web address
    #[arg(long, env = "WOODPECKER_URL", value_name = "URL")]
    pub woodpecker_url: String,
    /// Woodpecker token (an admin's for global secrets) (prefer the variable: a flag shows in the process list)
    #[arg(long, env = "WOODPECKER_TOKEN", hide_env_values = true)]
    pub woodpecker_token: String,
    /// Write organisation secrets of this org (one of --org and --global is required)
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Write global secrets, which every repository's pipelines see (one of --org and --global is required)
    #[arg(long, required_unless_present = "org", conflicts_with = "org")]
    pub global: bool,
    /// Take over secrets of the same name that this source did not write (made by hand, or by another
    /// sync): without it they are conflicts, left alone
    #[arg(long)]
    pub adopt: bool,
    /// Events the secrets are available to
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_EVENTS.iter().map(|e| e.to_string()))]
    pub events: Vec<String>,
    /// Delete secrets this sync made (from this Vault and path) whose key left the Vault secret
    #[arg(long)]
    pub prune: bool,
    /// With --prune: delete even when the Vault secret is empty (a wrong path reads as empty too)
    #[arg(long, requires = "prune")]
    pub prune_from_empty: bool,
    /// Accept any TLS certificate from Vault (VAULT_SKIP_VERIFY is not read)
    #[arg(long)]
    pub vault_skip_verify: bool,
    /// Allow plain http to a Vault that is not on loopback (an in-cluster service address)
    #[arg(long, env = "VAULT_PLAIN_HTTP")]
    pub vault_plain_http: bool,
}

impl SyncSecretsArgs {
    /// The Vault secret to read: Kubernetes auth when a role is given, else the token.
    pub fn vault(&self) -> Result<VaultSource, Error> {
        let auth = match &self.vault_k8s_role {
            Some(role) => VaultAuth::Kubernetes {
                role: role.clone(),
                mount: self.vault_k8s_mount.clone(),
                token_file: self.vault_k8s_token_file.clone(),
            },
            None => VaultAuth::Token(
                self.vault_token
                    .clone()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Error::invalid("Vault needs VAULT_TOKEN, or --vault-k8s-role in a cluster"))?
                    .into(),
            ),
        };
        Ok(VaultSource {
            url: self.vault_url.clone(),
            auth,
            mount: self.mount.clone(),
            path: self.path.clone(),
            skip_tls_verify: self.vault_skip_verify,
            plain_http: self.vault_plain_http,
        })
    }

    /// The Woodpecker client.
    pub fn woodpecker(&self) -> Result<Woodpecker, Error> {
        Ok(Woodpecker::new(&self.woodpecker_url, self.woodpecker_token.clone().into())?)
    }

    /// `--prune` and `--prune-from-empty` as one mode.
    pub fn prune(&self) -> Prune {
        match (self.prune, self.prune_from_empty) {
            (false, _) => Prune::Off,
            (true, false) => Prune::On,
            (true, true) => Prune::EvenFromEmpty,
        }
    }
}
