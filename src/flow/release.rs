//! The tag step against the canonical forge. The build runs on the GitHub mirror's checkout, whose tags
//! lag: the tag an earlier run created on Forgejo reaches the mirror only at its next sync. So the version
//! is computed from the checkout's tags and the forge's (one listing); when another run takes the tag
//! between that listing and the create, the version is recomputed once; and a run whose commit a newer
//! release already contains stands down instead of tagging, pushing `:latest` or deploying.

use offinfra_types::{CommitId, RepoName};
use serde::Serialize;

use super::{Forge, VersionPlan};
use crate::Error;

/// A tag on the forge and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForgeTag {
    /// Its name (`v1.3.0`).
    pub name: String,
    /// The commit id, lower case.
    pub commit: String,
}

/// The newest release among `tags`: the highest `prefix`-version without a prerelease part.
///
/// ```
/// use offinfra::flow::{newest_release, ForgeTag};
/// let tag = |name: &str| ForgeTag { name: name.into(), commit: "c".into() };
/// let tags = [tag("v1.2.0"), tag("v1.10.0"), tag("v2.0.0-rc.1"), tag("latest")];
/// assert_eq!(newest_release(&tags, "v").map(|t| t.name.as_str()), Some("v1.10.0"));
/// ```
pub fn newest_release<'a>(tags: &'a [ForgeTag], prefix: &str) -> Option<&'a ForgeTag> {
    tags.iter()
        .filter_map(|t| {
            let version = semver::Version::parse(t.name.strip_prefix(prefix)?).ok()?;
            version.pre.is_empty().then_some((version, t))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, tag)| tag)
}

/// The version recomputed with the forge's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForgeVersion {
    /// The version, as the plan shows it.
    pub version: VersionPlan,
    /// The tag the current version comes from, with its commit.
    pub current: Option<ForgeTag>,
    /// Whether the checkout has the current tag's commit (when not, it is newer than the checkout or on
    /// another line of history).
    pub current_in_checkout: bool,
}

/// Recomputes the plan's version with the forge's tags ([`super::CheckoutVersions`] does it with svu on
/// the checkout).
pub trait Versions: Send + Sync {
    /// The version from the checkout's tags and `forge_tags`.
    fn with_forge_tags(&self, forge_tags: &[ForgeTag]) -> Result<ForgeVersion, Error>;
}

/// What [`tag_release`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tagged {
    /// The tag is on the commit: `created` by this call or already there. `retook` says which tag another
    /// run took meanwhile, when the version had to be recomputed.
    Tag {
        /// The version tagged.
        version: VersionPlan,
        /// Whether this call created the tag (else it was there already, on this commit).
        created: bool,
        /// The tag another run took meanwhile, when the version had to be recomputed.
        retook: Option<String>,
    },
    /// No commit since the current tag asks for a version.
    NothingToRelease(VersionPlan),
    /// A newer release on the forge already contains the commit.
    Superseded(ForgeTag),
}

/// What a [`Tagged`] comes to, for people and for CI outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagSummary {
    /// The tag that names this commit's release: the one created or found, the current one when nothing
    /// was released, or the newer release that contains it.
    pub tag: String,
    /// Its version.
    pub version: String,
    /// Whether this run created the tag.
    pub created: bool,
    /// One line saying what happened.
    pub line: String,
}

impl Tagged {
    /// The outcome for `sha` in `repo`.
    pub fn summary(&self, repo: &RepoName, sha: &CommitId) -> TagSummary {
        match self {
            Tagged::Tag { version, created, retook } => {
                let mut line = match created {
                    true => format!("created {} on {repo} at {sha}", version.tag),
                    false => format!("{} already on {sha}: nothing to do", version.tag),
                };
                if let Some(taken) = retook {
                    line += &format!(" ({taken} was taken by another run meanwhile: recomputed)");
                }
                TagSummary { tag: version.tag.clone(), version: version.version.clone(), created: *created, line }
            }
            Tagged::NothingToRelease(version) => TagSummary {
                tag: version.current_tag.clone().unwrap_or_else(|| version.tag.clone()),
                version: version.version.clone(),
                created: false,
                line: format!("nothing to release: {}", version.no_release_reason()),
            },
            Tagged::Superseded(newer) => TagSummary {
                tag: newer.name.clone(),
                version: newer.name.trim_start_matches(|c: char| !c.is_ascii_digit()).to_owned(),
                created: false,
                line: format!(
                    "nothing to release: {} (at {}) already contains {}",
                    newer.name,
                    short(&newer.commit),
                    sha.image_tag()
                ),
            },
        }
    }
}

/// Tags the next version on the forge, safe against other runs: lists the forge's tags, computes the
/// version with them (`versions`), and creates its tag on `sha`; recomputes once when another run took the
/// tag meanwhile. A newer release that already contains `sha` makes it stand down
/// ([`Tagged::Superseded`]); one on another line of history is an error naming both commits.
///
/// ```no_run
/// # async fn run(forgejo: offinfra::forgejo_client::Forgejo) -> Result<(), offinfra::Error> {
/// use offinfra::flow::{backends::ForgejoTags, tag_release, CheckoutVersions, Tagged};
///
/// let forge = ForgejoTags::new(forgejo, None);
/// let versions = CheckoutVersions::new(".", offinfra::svu::Options::default());
/// let sha = "0123abcd4567ef890123abcd4567ef8901234567".parse()?;
/// if let Tagged::Tag { version, .. } = tag_release(&forge, &versions, &"viktor/app".parse()?, &sha).await? {
///     println!("{}", version.tag);
/// }
/// # Ok(()) }
/// ```
pub async fn tag_release(
    forge: &dyn Forge,
    versions: &dyn Versions,
    repo: &RepoName,
    sha: &CommitId,
) -> Result<Tagged, Error> {
    let mut retook = None;
    loop {
        let forge_tags = forge.tags(repo).await?;
        let computed = versions.with_forge_tags(&forge_tags)?;
        if let (Some(current), false) = (&computed.current, computed.current_in_checkout) {
            if forge.is_ancestor(repo, sha.as_str(), &current.commit).await? {
                return Ok(Tagged::Superseded(current.clone()));
            }
            return Err(Error::invalid(format!(
                "not tagging {sha8}: {} (at {}) is on a commit this checkout lacks and which does not contain \
                 {sha8}, so {sha8} is not on the released line of history",
                current.name,
                short(&current.commit),
                sha8 = sha.image_tag()
            )));
        }
        if !computed.version.release {
            return Ok(match &computed.current {
                Some(current) if current.commit == sha.as_str() => {
                    Tagged::Tag { version: computed.version, created: false, retook }
                }
                _ => Tagged::NothingToRelease(computed.version),
            });
        }
        match forge.create_tag(repo, &computed.version.tag, sha).await {
            Ok(created) => return Ok(Tagged::Tag { version: computed.version, created, retook }),
            Err(e) if retook.is_none() && taken(&e) => {
                tracing::info!(tag = %computed.version.tag, "another run took the tag meanwhile: recomputing");
                retook = Some(computed.version.tag);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether `e` is the forge saying the tag exists on another commit.
fn taken(e: &Error) -> bool {
    matches!(e.root(), Error::Forgejo(forgejo_client::Error::TagOnOtherCommit { .. }))
}

/// The first eight characters of a commit id.
pub(super) fn short(commit: &str) -> String {
    commit.chars().take(8).collect()
}
