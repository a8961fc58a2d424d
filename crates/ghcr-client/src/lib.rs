//! ghcr.io and OCI registries for the build job:
//!
//! - [`layout`]: read the OCI image layout `docker buildx` wrote (directory or tar), pick the one image
//!   to push (the `provenance: false` shape) and verify it;
//! - [`registry`]: push it (streamed, skipping present blobs, cross-repository mounts, chunked uploads
//!   that resume, retries), read manifests, tags, catalogs and blobs, find orphaned index children,
//!   check a pull-through cache; auth as docker does it (anonymous, basic, bearer token exchange,
//!   `config.json`);
//! - [`packages`] and [`prune`]: list, delete and restore GitHub Packages versions, and plan prunes
//!   that never break a kept multi-arch image.
//!
//! ```no_run
//! use ghcr_client::layout::{Layout, Selector};
//!
//! let layout = Layout::open("image.tar")?;
//! let image = layout.select(&Selector::default())?;
//! layout.verify(&image)?; // every blob's size and digest, before anything is sent
//! println!("{}", image.digest());
//! # Ok::<(), ghcr_client::Error>(())
//! ```

mod error;
pub mod layout;
pub mod packages;
pub mod prune;
pub mod registry;
mod versions;

pub use error::Error;
