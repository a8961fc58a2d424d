//! offinfra: build off-infra, deploy in-cluster, with typed Rust instead of shell, curl and kubectl glue.
//!
//! This facade re-exports the workspace crates so that a tool can depend on one crate:
//!
//! - [`svu`]: the next semantic version from conventional commits (a pure-Rust svu v3).
//! - [`forgejo_client`]: the Forgejo REST API (version, repos, tags, hooks, push mirrors, contents, …).
//! - [`woodpecker_client`]: the Woodpecker CI API (lookup, activation, pipelines, logs, secrets, crons).
//! - [`ghcr_client`]: OCI image layouts, registry push and reads, GitHub Packages versions, prune plans.
//! - [`deployer`]: kubectl's rollout-status rules and set-image planning.
//! - [`http`]: the HTTP plumbing the clients share.
//!
//! ```no_run
//! let repo = offinfra::svu::Repository::discover(".")?;
//! let next = repo.compute(&offinfra::svu::Options::default())?;
//! println!("v{}", next.version);
//! # Ok::<(), offinfra::svu::Error>(())
//! ```

pub mod ci;
pub mod doctor;
pub mod flow;
pub mod notify;
pub mod onboard;
pub mod prune;
pub mod secrets;

pub use deployer;
pub use forgejo_client;
pub use ghcr_client;
pub use offinfra_http as http;
pub use svu;
pub use woodpecker_client;
