//! The example binaries end to end, in one test binary: real git repositories, real registries, a real
//! control plane, and wiremock Forgejo, Woodpecker, GitHub and Vault servers (`offinfra_test_support`).

mod actions_output;
mod build_image;
mod copy_image;
mod deploy_example;
mod deploy_step;
mod docs;
mod doctor;
mod fixtures;
mod flow_dry_run;
mod flow_e2e;
mod forgejo_cleanup;
mod ghcr_examples;
mod help;
mod onboard;
mod platform_lint;
mod recipes;
mod release_tag;
mod release_workflow;
mod svu_cli;
mod sync_secrets;
mod trigger_deploy;
