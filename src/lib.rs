//! offinfra: build off-infra, deploy in-cluster, with typed Rust instead of shell, curl and kubectl glue.
//!
//! This facade re-exports the workspace crates so that a tool can depend on one crate:
//!
//! - [`svu`]: the next semantic version from conventional commits (a pure-Rust svu v3).
//! - [`forgejo_client`]: the Forgejo REST API (version, repos, tags, hooks, push mirrors, contents, …).
//! - [`woodpecker_client`]: the Woodpecker CI API (lookup, activation, pipelines, logs, secrets, crons).
//! - [`ghcr_client`]: OCI image layouts, registry push and reads, GitHub Packages versions, prune plans.
//! - [`deployer`]: kubectl's set image, rollout status and rollout undo on kube-rs.
//! - [`http`]: the HTTP plumbing the clients share.
//! - [`types`]: the inputs parsed once (repository names, commit ids, image names and references, tags).
//!
//! and composes them into the pipeline's jobs, which the example binaries run as CI steps:
//!
//! - [`flow`]: version, tag, push, prune and deploy as one typed plan and a runner over swappable seams.
//! - [`onboard`]: put a repository on the pipeline (mirror, pipeline files, activation, default branch).
//! - [`doctor`]: health checks with evidence and safe fixes.
//! - [`secrets`]: Woodpecker secrets kept in step with Vault KV v2.
//! - [`prune`], [`notify`], [`ci`]: prune planning from live data, Slack results, GitHub Actions outputs.
//!
//! ```no_run
//! let repo = offinfra::svu::Repository::discover(".")?;
//! let next = repo.compute(&offinfra::svu::Options::default())?;
//! println!("v{}", next.version);
//! # Ok::<(), offinfra::svu::Error>(())
//! ```

pub mod ci;
pub mod doctor;
pub mod error;
pub mod flow;
pub mod notify;
pub mod onboard;
pub mod prune;
pub mod secrets;

pub use error::{Error, ResultExt};

pub use deployer;
pub use forgejo_client;
pub use ghcr_client;
pub use offinfra_http as http;
pub use offinfra_types as types;
pub use svu;
pub use woodpecker_client;
