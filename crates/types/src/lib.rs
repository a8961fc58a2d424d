//! The values offinfra's crates and examples pass around, each parsed once, with one rule:
//!
//! - [`RepoName`]: a forge repository `owner/name` (Forgejo, GitHub, Woodpecker);
//! - [`CommitId`]: a git commit id, full or abbreviated to at least 8 hex digits;
//! - [`ImageName`]: an image repository with its registry, `ghcr.io/owner/app`, no tag or digest;
//! - [`ImageRef`]: an image reference as docker reads it, `name[:tag][@digest]`;
//! - [`Tag`]: an OCI image tag;
//! - [`Digest`]: a content digest, `sha256:<hex>`.
//!
//! Each parses with [`str::parse`], prints back what it parsed, and (de)serialises as that string.
//!
//! ```
//! use offinfra_types::{CommitId, ImageName, RepoName};
//!
//! let repo: RepoName = "ViktorBarzin/app".parse()?;
//! let image = ImageName::from_repo("ghcr.io", &repo)?; // registries want lower case
//! let sha: CommitId = "0123ABCD4567ef890123abcd4567ef8901234567".parse()?;
//! assert_eq!(image.with_tag(&sha.image_tag()).to_string(), "ghcr.io/viktorbarzin/app:0123abcd");
//! # Ok::<(), offinfra_types::Error>(())
//! ```

mod commit;
mod digest;
mod image;
mod reference;
mod repo;
mod tag;

pub use commit::CommitId;
pub use digest::Digest;
pub use image::{ImageName, ImageRef};
pub use reference::Reference;
pub use repo::RepoName;
pub use tag::Tag;

/// An input that breaks its type's rule; the message names the input and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not `owner/name`.
    #[error("repository {0:?}: expected owner/name")]
    Repo(String),
    /// Not a commit id.
    #[error("commit {0:?}: expected a git commit id (at least 8 hex digits)")]
    Commit(String),
    /// Not `registry/path` in lower case without a tag or digest.
    #[error("image {0:?}: expected registry/owner/name in lower case, e.g. ghcr.io/acme/app")]
    ImageName(String),
    /// Not an image reference.
    #[error("image reference {input:?}: {reason}")]
    ImageRef {
        /// What was given.
        input: String,
        /// Why it is not a reference.
        reason: String,
    },
    /// Not a content digest.
    #[error("digest {input:?}: {reason}")]
    Digest {
        /// What was given.
        input: String,
        /// Why it is not a digest.
        reason: String,
    },
    /// Not an OCI tag.
    #[error("image tag {0:?}: a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")]
    Tag(String),
}

/// `Display`, `FromStr` and string (de)serialisation for a newtype whose `parse` checks the rule.
macro_rules! string_type {
    ($ty:ident) => {
        impl std::str::FromStr for $ty {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, crate::Error> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = crate::Error;
            fn try_from(s: String) -> Result<Self, crate::Error> {
                Self::parse(&s)
            }
        }
        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.to_string()
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_type;
