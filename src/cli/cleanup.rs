//! The `forgejo-cleanup` example's flags: [`CleanupArgs`] gives the Forgejo client, the registry client
//! for Forgejo's OCI endpoint and the planner's options.

use crate::{forgejo_client::Forgejo, ghcr_client::registry::Registry, http::CredentialScope, Error};

/// Whose packages, what to keep, and whether to delete. `--format` is not here ([`super::Format`]).
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct CleanupArgs {
    /// Forgejo's address and token (write:package to delete, read:package for the plan).
    #[command(flatten)]
    pub forgejo: super::ForgejoFlags,
    /// The user or organisation whose container packages are cleaned
    #[arg(long, value_name = "OWNER")]
    pub owner: String,
    /// A package to clean (repeat; default: every container package of the owner)
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// What to keep.
    #[command(flatten)]
    pub retention: super::prune::RetentionArgs,
    /// The registry host serving Forgejo's packages (default: the host of --forgejo-url)
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
    /// The user name sent with the token to the registry (Forgejo reads the token; default: --owner)
    #[arg(long, value_name = "USER")]
    pub registry_username: Option<String>,
    /// Send the Forgejo token to --registry although it is not Forgejo's host (else it is read anonymously)
    #[arg(long)]
    pub registry_token: bool,
    /// --registry serves this Forgejo's packages (an internal address of it): without this, a registry
    /// other than Forgejo's host is refused
    #[arg(long)]
    pub registry_is_forgejo: bool,
    /// Speak plain HTTP to a registry that is not on loopback
    #[arg(long)]
    pub plain_http: bool,
    /// Delete what the plan says (without it, the plan is printed and nothing is deleted)
    #[arg(long)]
    pub execute: bool,
}

impl CleanupArgs {
    /// The Forgejo client, or the error naming the missing flag.
    pub fn forgejo(&self) -> Result<Forgejo, Error> {
        self.forgejo.client()
    }

    /// The registry client for Forgejo's OCI endpoint, logged in with the Forgejo token.
    pub fn registry(&self) -> Result<Registry, Error> {
        let url = super::required(&self.forgejo.forgejo_url, "--forgejo-url (FORGEJO_URL)")?;
        let token = super::required(&self.forgejo.forgejo_token, "--forgejo-token (FORGEJO_TOKEN)")?;
        let username = self.registry_username.as_deref().unwrap_or(&self.owner);
        crate::forgejo_registry::check_registry_host(url, self.registry.as_deref(), self.registry_is_forgejo)?;
        let mut scope = CredentialScope::new(token.to_owned().into());
        if let (true, Some(host)) = (self.registry_token, self.registry.as_deref()) {
            scope = scope.allow(host);
        }
        crate::forgejo_registry::registry(
            url,
            self.registry.as_deref(),
            username,
            scope,
            &crate::forgejo_registry::RegistryReach {
                plain_http: self.plain_http.then_some(true),
                reach: self.forgejo.reach.reach()?,
            },
        )
    }
}
