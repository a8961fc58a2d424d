//! The deployer's integration tests, in one binary: a real control plane (`cluster`, `kubelet_rollouts`,
//! `undo_kinds`; see `offinfra_test_support::cluster`) and a mocked API server (`cronjob_mocked`,
//! `watch_faults`).

mod cluster;
mod cronjob_mocked;
mod kubelet_rollouts;
mod undo_kinds;
mod watch_faults;
