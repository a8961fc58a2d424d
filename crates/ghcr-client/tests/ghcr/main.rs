//! ghcr-client's integration tests, in one binary: OCI layouts on disk, real registries on loopback
//! (`offinfra_test_support::oci`), and the GitHub Packages API on wiremock.

mod layout;
mod packages;
mod registry;
mod registry_faults;
