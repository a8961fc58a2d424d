//! `kubectl set image` and `kubectl rollout status` as a library, with kubectl's exact rules and
//! messages (users grep their logs for them).
//!
//! This first part is the pure core: [`rollout`] decides, from a fetched object, what `kubectl rollout
//! status` would print and whether the rollout is done; [`set_image`] plans the strategic merge patch
//! `kubectl set image` sends (nothing when nothing changes). The client side (fetch, patch, watch,
//! undo) and the `deploy` example build on them.
//!
//! ```
//! use deployer::rollout::deployment_status;
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

mod client;
pub mod rollout;
pub mod set_image;

pub use client::{Deployer, Error, Kind, SetImageReport, UndoOutcome, WaitOutcome, FIELD_MANAGER};
pub use kube;
