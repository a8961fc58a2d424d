//! ghcr-client's integration tests, in one binary: OCI layouts on disk, real registries on loopback
//! (`offinfra_test_support::oci`), and the GitHub Packages API on wiremock.

mod layout;
mod packages;
mod registry;
mod registry_faults;

use ghcr_client::registry::{Digest, Reference, Tag};

/// Tags from literals.
pub(crate) fn tag_list(list: &[&str]) -> Vec<Tag> {
    list.iter().map(|t| t.parse().unwrap()).collect()
}

/// A tag or digest from a literal.
pub(crate) fn r(reference: &str) -> Reference {
    reference.parse().unwrap()
}

/// A digest from a literal.
pub(crate) fn dg(digest: &str) -> Digest {
    digest.parse().unwrap()
}

/// Pushes `image` of `layout` to `repository` of `registry` under `tags`.
pub(crate) async fn push_to(
    registry: &ghcr_client::registry::Registry,
    layout: &ghcr_client::layout::Layout,
    image: &ghcr_client::layout::SelectedImage,
    repository: &str,
    tags: &[impl std::fmt::Display],
) -> Result<ghcr_client::registry::PushReport, ghcr_client::Error> {
    let tags: Vec<Tag> = tags.iter().map(|t| t.to_string().parse().unwrap()).collect();
    registry.push(layout, image, &registry.image(repository)?).tags(&tags).send().await
}
