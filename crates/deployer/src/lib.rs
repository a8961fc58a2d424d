//! `kubectl set image` and `kubectl rollout status` as a library, with kubectl's exact rules and
//! messages (users grep their logs for them).
//!
//! The pure core: [`rollout_status`] decides, from a fetched object, what `kubectl rollout status` would print
//! and whether the rollout is done; [`set_image`] plans the strategic merge patch `kubectl set image`
//! sends (nothing when nothing changes). [`Deployer`] does the I/O on kube-rs: set image, status, a
//! watch-based wait with a typed [`WaitOutcome`], and `rollout undo` for Deployments. [`roll_out`] is the
//! whole deploy as one call: set image, wait, and on failure (if asked) roll back and wait again.
//!
//! ```no_run
//! # async fn deploy() -> Result<(), deployer::Error> {
//! use deployer::{set_image::parse_pairs, Deployer, Kind, WaitOutcome};
//! use std::time::Duration;
//!
//! let deployer = Deployer::infer(Some("prod")).await?; // kubeconfig, else the service account
//! let pairs = parse_pairs(&["app=ghcr.io/owner/app:0123abcd".to_string()]).expect("NAME=IMAGE");
//! deployer.set_image(Kind::Deployment, "web", &pairs, false).await?;
//! let timeout = Some(Duration::from_secs(300));
//! match deployer.wait(Kind::Deployment, "web", timeout, &mut |line| print!("{line}")).await? {
//!     WaitOutcome::RolledOut(_) => {}
//!     WaitOutcome::Failed(_) | WaitOutcome::TimedOut(_) => {
//!         deployer.undo("web", 0).await?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ```
//! use deployer::rollout_status::deployment_status;
//! use k8s_openapi::api::apps::v1::Deployment;
//!
//! let deployment: Deployment = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "app", "generation": 2},
//!     "spec": {"replicas": 3, "selector": {}, "template": {}},
//!     "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}
//! })).unwrap();
//! let status = deployment_status(&deployment).unwrap();
//! assert!(status.done);
//! assert_eq!(status.message, "deployment \"app\" successfully rolled out\n");
//! ```

pub mod access;
mod client;
pub mod pull;
pub mod roll_out;
pub mod rollout_status;
pub mod set_image;

pub use client::{Deployer, Error, Kind, SetImageReport, UndoOutcome, WaitOutcome, FIELD_MANAGER, SERVICE_ACCOUNT_DIR};
pub use kube;
