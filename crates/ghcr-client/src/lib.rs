//! ghcr.io and OCI registries for the build job: read the OCI image layout `docker buildx` wrote, pick the
//! one image to push (the `provenance: false` shape), and plan safe prunes of GitHub Packages versions.
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

pub use error::Error;
