//! The prune planner: which package versions to delete so that the newest N *images* stay whole.
//!
//! A pure function from (versions, what the kept indexes reference, options) to a [`Plan`]. A version
//! is one manifest; an image is a tagged version plus everything it references (platform manifests and
//! attestation manifests of an index). Those children are untagged, and deleting them is how
//! actions/delete-package-versions breaks multi-arch images; here a version referenced by a kept index
//! is never deleted. The dry run prints the plan; the real run executes exactly that plan.
//!
//! What is never deleted, whatever the options: at least one image (`keep` is 1 or more); every version
//! carrying a tag of [`PruneOptions::always_keep_tags`] (`latest`: a re-tag or a rollback may point it at
//! an old digest); the digests in [`PruneOptions::keep_digests`] (the image just pushed); what a kept
//! index references; the cosign-style referrers (`sha256-<hex>.sig`, `.att`, `.sbom` tags) of a kept
//! digest; an untagged version younger than [`PruneOptions::untagged_grace`] (the children of a
//! multi-arch push still in flight).
//!
//! ```
//! use std::collections::HashMap;
//! use ghcr_client::prune::{plan, roots_to_read, Action, ManifestInfo, PruneOptions};
//! # use ghcr_client::packages::*;
//! # fn v(id: u64, digest: &str, at: &str, tags: &[&str]) -> PackageVersion {
//! #     PackageVersion::container(id, digest, at, tags.iter().map(|t| t.to_string()).collect())
//! # }
//! let versions = vec![
//!     v(3, "sha256:new-index", "2026-01-03T00:00:00Z", &["latest"]),
//!     v(2, "sha256:new-amd64", "2026-01-03T00:00:00Z", &[]),
//!     v(1, "sha256:old", "2026-01-01T00:00:00Z", &["v1"]),
//! ];
//! let opts = PruneOptions { keep: 1, ..PruneOptions::default() };
//! assert_eq!(roots_to_read(&versions, &opts), ["sha256:new-index"]);
//! // The caller reads that manifest from the registry:
//! let manifests = HashMap::from([(
//!     "sha256:new-index".to_string(),
//!     ManifestInfo::Index { children: vec!["sha256:new-amd64".into()] },
//! )]);
//! let plan = plan(&versions, &manifests, &opts).unwrap();
//! let deleted: Vec<u64> = plan.deletions().map(|d| d.version_id).collect();
//! assert_eq!(deleted, [1]); // the untagged child of the kept index survives
//! ```

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use regex::Regex;
use serde::Serialize;

use crate::{versions::PackageVersion, Error};

/// How to prune.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Keep the newest `keep` images (tagged versions, with what they reference); at least 1.
    pub keep: usize,
    /// Never delete a version with a tag matching this expression (e.g. `^v\d`).
    pub protect_tags: Option<Regex>,
    /// Never delete a version carrying one of these tags (default `latest`).
    pub always_keep_tags: Vec<String>,
    /// Never delete these digests (the image just pushed).
    pub keep_digests: Vec<String>,
    /// An untagged version younger than this is kept (default 1 hour).
    pub untagged_grace: Duration,
    /// Delete only untagged versions; every tagged one (and what it references) is kept.
    pub untagged_only: bool,
    /// Delete at most this many versions in one run (the oldest first).
    pub max_deletions: Option<usize>,
    /// The time the grace period counts back from (default: now).
    pub now: Option<jiff::Timestamp>,
}

impl Default for PruneOptions {
    /// Keep 10 images and `latest`; a one-hour grace for untagged versions.
    fn default() -> Self {
        Self {
            keep: 10,
            protect_tags: None,
            always_keep_tags: vec!["latest".to_owned()],
            keep_digests: Vec::new(),
            untagged_grace: Duration::from_secs(3600),
            untagged_only: false,
            max_deletions: None,
            now: None,
        }
    }
}

impl PruneOptions {
    /// Compiles a `--protect-tags` expression.
    pub fn protect(pattern: &str) -> Result<Regex, Error> {
        Regex::new(pattern).map_err(|e| Error::InvalidPattern { pattern: pattern.to_owned(), reason: e.to_string() })
    }
}

/// What the registry says about a kept version's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestInfo {
    /// An image manifest: references no other manifest.
    Image,
    /// An index: its `manifests[].digest`, platform and attestation manifests alike.
    Index {
        /// The child manifest digests.
        children: Vec<String>,
    },
    /// An OCI 1.1 referrer: a manifest whose `subject` names another manifest (a signature, an SBOM).
    Referrer {
        /// The digest of the manifest it refers to.
        subject: String,
    },
    /// It could not be read (a 429, a 5xx, a broken answer): what it refers to is unknown, so it is kept.
    Unreadable {
        /// Why.
        reason: String,
    },
}

/// Keep or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The version stays.
    Keep,
    /// The version is deleted.
    Delete,
}

/// Why a version is kept or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// One of the newest `keep` images (rank 1 is the newest).
    Newest {
        /// 1-based rank among tagged versions, newest first.
        rank: usize,
    },
    /// The digest the run was told to keep (the image just pushed).
    KeptDigest,
    /// A referrer (signature, attestation, SBOM) of a kept digest.
    ReferrerOf {
        /// The kept digest it refers to.
        subject: String,
    },
    /// Untagged, but younger than the grace period (a push may still be in flight).
    InGrace,
    /// It carries a protected tag.
    ProtectedTag {
        /// The tag that matched.
        tag: String,
    },
    /// A kept index references it.
    ReferencedBy {
        /// The digest of the kept index.
        index: String,
    },
    /// Tagged, and only untagged versions are pruned.
    Tagged,
    /// It would be deleted, but this run's deletion cap was reached; a later run takes it.
    OverCap,
    /// A tagged image older than the newest `keep`.
    OlderImage {
        /// 1-based rank among tagged versions, newest first.
        rank: usize,
    },
    /// Untagged and referenced by no kept index.
    Unreferenced,
    /// It could not be read, so whether a kept image needs it is unknown (a later run decides).
    Unreadable {
        /// Why it could not be read.
        error: String,
    },
}

/// One version's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Decision {
    /// The version id (what the API deletes).
    pub version_id: u64,
    /// The manifest digest.
    pub digest: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// When it was created.
    pub created_at: String,
    /// Keep or delete.
    pub action: Action,
    /// Why.
    #[serde(flatten)]
    pub reason: Reason,
}

/// Every version's decision, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// The decisions.
    pub decisions: Vec<Decision>,
}

impl Plan {
    /// The versions to delete, in the order to delete them (oldest first).
    pub fn deletions(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().rev().filter(|d| d.action == Action::Delete)
    }

    /// How many versions are deleted.
    pub fn deletion_count(&self) -> usize {
        self.decisions.iter().filter(|d| d.action == Action::Delete).count()
    }
}

impl std::fmt::Display for Plan {
    /// One line per version: action, id, digest, tags, reason.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.decisions {
            let tags = if d.tags.is_empty() { "-".to_owned() } else { d.tags.join(",") };
            writeln!(f, "{} {:>12} {} {} {tags} ({})", d.action, d.version_id, d.digest, d.created_at, d.reason)?;
        }
        write!(f, "{} to delete, {} to keep", self.deletion_count(), self.decisions.len() - self.deletion_count())
    }
}

impl std::fmt::Display for Action {
    /// `keep  ` or `delete`: one width, so that plan lines align.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Keep => "keep  ",
            Action::Delete => "delete",
        })
    }
}

impl std::fmt::Display for Reason {
    /// The reason in words, as plans print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Newest { rank } => write!(f, "newest image #{rank}"),
            Reason::ProtectedTag { tag } => write!(f, "protected tag {tag}"),
            Reason::KeptDigest => f.write_str("the image just pushed"),
            Reason::ReferrerOf { subject } => write!(f, "referrer of kept {subject}"),
            Reason::InGrace => f.write_str("untagged, younger than the grace period"),
            Reason::ReferencedBy { index } => write!(f, "referenced by kept index {index}"),
            Reason::Tagged => f.write_str("tagged (untagged-only)"),
            Reason::OverCap => f.write_str("deletion cap reached"),
            Reason::OlderImage { rank } => write!(f, "image #{rank}, older than the newest kept"),
            Reason::Unreferenced => f.write_str("untagged, referenced by no kept index"),
            Reason::Unreadable { error } => write!(f, "could not be read ({error}): kept until a run can"),
        }
    }
}

/// When a version last changed: the newer of its creation and its update (a re-tag updates it).
fn last_changed(v: &PackageVersion) -> i64 {
    let created = rfc3339_seconds(&v.created_at).unwrap_or(i64::MIN);
    let updated = v.updated_at.as_deref().and_then(rfc3339_seconds).unwrap_or(i64::MIN);
    created.max(updated)
}

/// Versions newest first: by the newer of creation and update time, then by id.
fn newest_first(versions: &[PackageVersion]) -> Vec<&PackageVersion> {
    let mut sorted: Vec<&PackageVersion> = versions.iter().collect();
    sorted.sort_by_key(|v| std::cmp::Reverse((last_changed(v), v.id)));
    sorted
}

/// The digest a cosign-style referrer tag (`sha256-<hex>.sig`, `.att`, `.sbom`, or bare) refers to.
pub fn referrer_subject(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("sha256-")?;
    let hex = rest.split('.').next()?;
    offinfra_types::Digest::parse(&format!("sha256:{hex}")).ok().map(|digest| digest.to_string())
}

/// Whether every tag of `v` is a referrer tag: an attachment, not an image of its own.
fn is_referrer(v: &PackageVersion) -> bool {
    !v.tags().is_empty() && v.tags().iter().all(|t| referrer_subject(t).is_some())
}

/// The root versions the plan keeps on their own (newest images, protected tags, or every tagged one
/// with `untagged_only`): the caller must read each one's manifest from the registry and pass it to
/// [`plan`], which refuses to guess what an unread index references.
pub fn roots_to_read(versions: &[PackageVersion], opts: &PruneOptions) -> Vec<String> {
    root_decisions(versions, opts).into_iter().filter_map(|(v, reason)| reason.map(|_| v.name.clone())).collect()
}

/// The untagged versions the caller should also read, to learn which are OCI 1.1 referrers (a manifest
/// with a `subject`) of a kept image: pass each as [`ManifestInfo::Referrer`] to [`plan`], or leave it
/// out when it has no subject.
pub fn untagged_to_read(versions: &[PackageVersion], opts: &PruneOptions) -> Vec<String> {
    versions
        .iter()
        .filter(|v| v.tags().is_empty() && !opts.keep_digests.contains(&v.name))
        .map(|v| v.name.clone())
        .collect()
}

/// Tagged versions newest first, each with the reason it is kept on its own (or `None`).
fn root_decisions<'a>(
    versions: &'a [PackageVersion],
    opts: &PruneOptions,
) -> Vec<(&'a PackageVersion, Option<Reason>)> {
    let mut rank = 0;
    newest_first(versions)
        .into_iter()
        .filter(|v| (!v.tags().is_empty() && !is_referrer(v)) || opts.keep_digests.contains(&v.name))
        .map(|v| {
            let tagged = !v.tags().is_empty();
            rank += usize::from(tagged);
            let always = v.tags().iter().find(|t| opts.always_keep_tags.contains(t));
            let protected = opts.protect_tags.as_ref().and_then(|re| v.tags().iter().find(|t| re.is_match(t)));
            let reason = if opts.keep_digests.contains(&v.name) {
                Some(Reason::KeptDigest)
            } else if rank <= opts.keep {
                Some(Reason::Newest { rank })
            } else if let Some(tag) = always.or(protected) {
                Some(Reason::ProtectedTag { tag: tag.clone() })
            } else if opts.untagged_only {
                Some(Reason::Tagged)
            } else {
                None
            };
            (v, reason)
        })
        .collect()
}

/// Decides every version. `manifests` must describe each digest [`roots_to_read`] returned (and any
/// nested index); a kept root without an entry is an error, never a guess.
pub fn plan(
    versions: &[PackageVersion],
    manifests: &HashMap<String, ManifestInfo>,
    opts: &PruneOptions,
) -> Result<Plan, Error> {
    if opts.keep == 0 {
        return Err(Error::UnsafePlan("keep 0 would delete every image: keep at least 1".into()));
    }
    let now = opts.now.unwrap_or_else(jiff::Timestamp::now).as_second();
    let grace = i64::try_from(opts.untagged_grace.as_secs()).unwrap_or(i64::MAX);
    let mut keep: HashMap<&str, Reason> = HashMap::new();
    let mut older: HashMap<&str, usize> = HashMap::new();
    let mut rank = 0;
    for (version, reason) in root_decisions(versions, opts) {
        rank += 1;
        match reason {
            Some(reason) => {
                keep.insert(version.name.as_str(), reason);
            }
            None => {
                older.insert(version.name.as_str(), rank);
            }
        }
    }

    // Everything a kept root references, through nested indexes too.
    let mut referenced: HashMap<String, String> = HashMap::new();
    let mut stack: Vec<(String, String)> = Vec::new();
    for root in keep.keys() {
        match manifests.get(*root) {
            None => return Err(Error::UnsafePlan(format!("the manifest of kept version {root} was not read"))),
            Some(ManifestInfo::Unreadable { reason }) => {
                return Err(Error::UnsafePlan(format!(
                    "the manifest of kept version {root} could not be read: {reason}"
                )))
            }
            Some(ManifestInfo::Image | ManifestInfo::Referrer { .. }) => {}
            Some(ManifestInfo::Index { children }) => {
                stack.extend(children.iter().map(|c| (c.clone(), (*root).to_owned())));
            }
        }
    }
    let mut visited = HashSet::new();
    while let Some((child, parent)) = stack.pop() {
        if !visited.insert(child.clone()) {
            continue;
        }
        if let Some(ManifestInfo::Index { children }) = manifests.get(&child) {
            stack.extend(children.iter().map(|c| (c.clone(), child.clone())));
        }
        referenced.entry(child).or_insert(parent);
    }

    // Referrers of what is kept, and theirs (a signature of an SBOM of a kept image), to a fixed point.
    // Each version's subjects, read once: its referrer tags' and its manifest's.
    let candidates: Vec<(&str, Vec<String>)> = versions
        .iter()
        .map(|v| {
            let by_tag = v.tags().iter().filter_map(|t| referrer_subject(t));
            let by_manifest = match manifests.get(&v.name) {
                Some(ManifestInfo::Referrer { subject }) => Some(subject.clone()),
                _ => None,
            };
            (v.name.as_str(), by_tag.chain(by_manifest).collect::<Vec<_>>())
        })
        .filter(|(_, subjects)| !subjects.is_empty())
        .collect();
    let mut referrers: HashMap<String, String> = HashMap::new();
    loop {
        let kept =
            |s: &String| keep.contains_key(s.as_str()) || referenced.contains_key(s) || referrers.contains_key(s);
        let found: Vec<(String, String)> = candidates
            .iter()
            .filter(|(name, _)| !referrers.contains_key(*name))
            .filter_map(|(name, subjects)| subjects.iter().find(|s| kept(s)).map(|s| (name.to_string(), s.clone())))
            .collect();
        if found.is_empty() {
            break;
        }
        referrers.extend(found);
    }

    let sorted = newest_first(versions);
    let mut decisions: Vec<Decision> = sorted
        .iter()
        .map(|v| {
            let (action, reason) = if let Some(reason) = keep.get(v.name.as_str()) {
                (Action::Keep, reason.clone())
            } else if let Some(index) = referenced.get(&v.name) {
                (Action::Keep, Reason::ReferencedBy { index: index.clone() })
            } else if let Some(subject) = referrers.get(&v.name) {
                (Action::Keep, Reason::ReferrerOf { subject: subject.clone() })
            } else if let Some(ManifestInfo::Unreadable { reason }) = manifests.get(&v.name) {
                (Action::Keep, Reason::Unreadable { error: reason.clone() })
            } else if v.tags().is_empty() && now.saturating_sub(last_changed(v)) < grace {
                (Action::Keep, Reason::InGrace)
            } else if let Some(&rank) = older.get(v.name.as_str()) {
                (Action::Delete, Reason::OlderImage { rank })
            } else {
                (Action::Delete, Reason::Unreferenced)
            };
            Decision {
                version_id: v.id,
                digest: v.name.clone(),
                tags: v.tags().to_vec(),
                created_at: v.created_at.clone(),
                action,
                reason,
            }
        })
        .collect();

    if let Some(cap) = opts.max_deletions {
        // Oldest first: the newest candidates wait for the next run.
        let mut allowed = cap;
        for d in decisions.iter_mut().rev().filter(|d| d.action == Action::Delete) {
            if allowed == 0 {
                d.action = Action::Keep;
                d.reason = Reason::OverCap;
            } else {
                allowed -= 1;
            }
        }
    }
    Ok(Plan { decisions })
}

/// Seconds since the epoch of an RFC 3339 time (`2024-01-29T08:40:05Z`, fractions and offsets allowed).
pub fn rfc3339_seconds(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::VersionMetadata;

    fn v(id: u64, digest: &str, day: u32, tags: &[&str]) -> PackageVersion {
        let tags = tags.iter().map(|t| t.to_string()).collect();
        PackageVersion::container(id, digest, format!("2026-01-{day:02}T00:00:00Z"), tags)
    }

    fn actions(plan: &Plan) -> Vec<(u64, Action)> {
        plan.decisions.iter().map(|d| (d.version_id, d.action)).collect()
    }

    /// Three multi-arch releases (index + amd64 + arm64 + 2 attestations each) and two single manifests.
    fn history() -> (Vec<PackageVersion>, HashMap<String, ManifestInfo>) {
        let mut versions = Vec::new();
        let mut manifests = HashMap::new();
        let mut id = 100;
        for day in 1..=3u32 {
            let children: Vec<String> =
                ["amd64", "arm64", "att-amd64", "att-arm64"].iter().map(|c| format!("sha256:{c}-{day}")).collect();
            for child in &children {
                id += 1;
                versions.push(v(id, child, day, &[]));
                manifests.insert(child.clone(), ManifestInfo::Image);
            }
            id += 1;
            versions.push(v(id, &format!("sha256:index-{day}"), day, &[&format!("v1.{day}.0")]));
            manifests.insert(format!("sha256:index-{day}"), ManifestInfo::Index { children });
        }
        versions.push(v(200, "sha256:single-4", 4, &["latest", "abc12345"]));
        versions.push(v(201, "sha256:dangling", 5, &[]));
        manifests.insert("sha256:single-4".into(), ManifestInfo::Image);
        (versions, manifests)
    }

    #[test]
    fn kept_indexes_keep_their_untagged_children() {
        let (versions, manifests) = history();
        let opts = PruneOptions { keep: 2, ..PruneOptions::default() };
        assert_eq!(roots_to_read(&versions, &opts), ["sha256:single-4", "sha256:index-3"]);
        let plan = plan(&versions, &manifests, &opts).unwrap();
        let deleted: HashSet<&str> = plan.deletions().map(|d| d.digest.as_str()).collect();
        let want: HashSet<&str> = [
            "sha256:dangling",
            "sha256:index-1",
            "sha256:amd64-1",
            "sha256:arm64-1",
            "sha256:att-amd64-1",
            "sha256:att-arm64-1",
            "sha256:index-2",
            "sha256:amd64-2",
            "sha256:arm64-2",
            "sha256:att-amd64-2",
            "sha256:att-arm64-2",
        ]
        .into();
        assert_eq!(deleted, want);
        let child = plan.decisions.iter().find(|d| d.digest == "sha256:att-arm64-3").unwrap();
        assert_eq!(
            (child.action, &child.reason),
            (Action::Keep, &Reason::ReferencedBy { index: "sha256:index-3".into() })
        );
        // Deletions go oldest first.
        assert_eq!(plan.deletions().next().unwrap().created_at, "2026-01-01T00:00:00Z");
    }

    #[test]
    fn protected_tags_untagged_only_and_cap() {
        let (versions, manifests) = history();
        let protect = PruneOptions {
            keep: 1,
            protect_tags: Some(PruneOptions::protect(r"^v1\.1\.").unwrap()),
            ..PruneOptions::default()
        };
        let plan_p = plan(&versions, &manifests, &protect).unwrap();
        let kept_index_1 = plan_p.decisions.iter().find(|d| d.digest == "sha256:index-1").unwrap();
        assert_eq!(kept_index_1.reason, Reason::ProtectedTag { tag: "v1.1.0".into() });
        assert!(plan_p.decisions.iter().filter(|d| d.digest.ends_with("-1")).all(|d| d.action == Action::Keep));
        assert!(plan_p.decisions.iter().filter(|d| d.digest.ends_with("-2")).all(|d| d.action == Action::Delete));

        let untagged = PruneOptions { untagged_only: true, ..PruneOptions::default() };
        let plan_u = plan(&versions, &manifests, &untagged).unwrap();
        assert_eq!(plan_u.deletions().map(|d| d.version_id).collect::<Vec<_>>(), [201], "only the dangling manifest");

        let capped = PruneOptions { keep: 2, max_deletions: Some(3), ..PruneOptions::default() };
        let plan_c = plan(&versions, &manifests, &capped).unwrap();
        assert_eq!(plan_c.deletion_count(), 3);
        assert!(plan_c.deletions().all(|d| d.created_at.starts_with("2026-01-01")), "the oldest go first");
        assert!(plan_c.decisions.iter().any(|d| d.reason == Reason::OverCap));
    }

    #[test]
    fn an_unread_kept_index_is_an_error_not_a_guess() {
        let (versions, mut manifests) = history();
        manifests.remove("sha256:index-3");
        let err = plan(&versions, &manifests, &PruneOptions { keep: 2, ..PruneOptions::default() }).unwrap_err();
        assert!(err.to_string().contains("sha256:index-3"), "{err}");
    }

    #[test]
    fn keep_zero_is_refused_and_ordering_uses_time_then_id() {
        let (versions, manifests) = history();
        let err = plan(&versions, &manifests, &PruneOptions { keep: 0, ..PruneOptions::default() }).unwrap_err();
        assert!(err.to_string().contains("keep at least 1"), "{err}");
        let plan = plan(&versions, &manifests, &PruneOptions { keep: 1, ..PruneOptions::default() }).unwrap();
        let first = &plan.decisions[0];
        assert_eq!(first.version_id, 201, "newest first");
        assert_eq!(actions(&plan).len(), versions.len());
        let text = plan.to_string();
        assert!(text.ends_with("16 to delete, 1 to keep"), "{text}");
    }

    #[test]
    fn what_is_in_use_is_never_deleted() {
        let (mut versions, mut manifests) = history();
        // `latest` moved back to the oldest release (a rollback); the newest build was just pushed untagged.
        for version in &mut versions {
            if let Some(VersionMetadata { container: Some(c), .. }) = &mut version.metadata {
                c.tags.retain(|t| t != "latest");
                if version.name == "sha256:index-1" {
                    c.tags.push("latest".into());
                }
            }
        }
        let signature = format!("sha256-{}.sig", "4".repeat(64));
        let single = format!("sha256:{}", "4".repeat(64));
        for version in &mut versions {
            if version.name == "sha256:single-4" {
                version.name = single.clone();
            }
        }
        manifests.insert(single.clone(), ManifestInfo::Image);
        manifests.insert("sha256:dangling".into(), ManifestInfo::Image);
        versions.push(v(300, "sha256:signature-of-4", 4, &[&signature]));
        let opts = PruneOptions { keep: 1, keep_digests: vec!["sha256:dangling".into()], ..PruneOptions::default() };
        let plan = plan(&versions, &manifests, &opts).unwrap();
        let decision = |digest: &str| plan.decisions.iter().find(|d| d.digest == digest).unwrap().clone();
        assert_eq!(decision("sha256:index-1").reason, Reason::ProtectedTag { tag: "latest".into() });
        assert_eq!(decision("sha256:amd64-1").action, Action::Keep, "what latest references stays");
        assert_eq!(decision("sha256:dangling").reason, Reason::KeptDigest);
        assert_eq!(decision("sha256:signature-of-4").reason, Reason::ReferrerOf { subject: single.clone() });
        assert_eq!(decision(&single).reason, Reason::Newest { rank: 1 }, "a signature is not an image of its own");
        assert_eq!(decision("sha256:index-2").action, Action::Delete);

        // An OCI 1.1 referrer: untagged, found by its subject.
        let mut with_sbom = versions.clone();
        with_sbom.push(v(301, "sha256:sbom-of-4", 4, &[]));
        let mut read = manifests.clone();
        read.insert("sha256:sbom-of-4".into(), ManifestInfo::Referrer { subject: single.clone() });
        read.insert("sha256:sbom-of-2".into(), ManifestInfo::Referrer { subject: "sha256:index-2".into() });
        with_sbom.push(v(302, "sha256:sbom-of-2", 2, &[]));
        let untagged = with_sbom.iter().filter(|v| v.tags().is_empty()).count();
        assert_eq!(
            untagged_to_read(&with_sbom, &opts).len(),
            untagged - 1,
            "every untagged version but the kept digest"
        );
        let plan = super::plan(&with_sbom, &read, &opts).unwrap();
        let reason = |digest: &str| plan.decisions.iter().find(|d| d.digest == digest).unwrap().reason.clone();
        assert_eq!(reason("sha256:sbom-of-4"), Reason::ReferrerOf { subject: single });
        assert_eq!(reason("sha256:sbom-of-2"), Reason::Unreferenced, "a referrer of a pruned image goes with it");

        // A signature of the kept image's SBOM: a referrer of a referrer stays too.
        let mut chain = with_sbom.clone();
        chain.push(v(303, "sha256:signature-of-sbom", 4, &[]));
        let mut read_chain = read.clone();
        read_chain
            .insert("sha256:signature-of-sbom".into(), ManifestInfo::Referrer { subject: "sha256:sbom-of-4".into() });
        let plan = super::plan(&chain, &read_chain, &opts).unwrap();
        let reason = |digest: &str| plan.decisions.iter().find(|d| d.digest == digest).unwrap().reason.clone();
        assert_eq!(reason("sha256:signature-of-sbom"), Reason::ReferrerOf { subject: "sha256:sbom-of-4".into() });

        // A version that could not be read (429, 5xx) might be a signature of a kept image: it is kept,
        // past its grace period, with the error in the plan.
        let mut unread = with_sbom.clone();
        unread.push(v(304, "sha256:unread", 1, &[]));
        let mut read_unread = read.clone();
        read_unread.insert("sha256:unread".into(), ManifestInfo::Unreadable { reason: "HTTP 429".into() });
        let plan = super::plan(&unread, &read_unread, &opts).unwrap();
        let decision = plan.decisions.iter().find(|d| d.digest == "sha256:unread").unwrap();
        assert_eq!(
            (decision.action, &decision.reason),
            (Action::Keep, &Reason::Unreadable { error: "HTTP 429".into() })
        );
        assert!(decision.reason.to_string().contains("could not be read (HTTP 429)"));
    }

    #[test]
    fn untagged_versions_get_a_grace_period_and_updates_count_as_new() {
        let (mut versions, manifests) = history();
        let now: jiff::Timestamp = "2026-01-05T00:30:00Z".parse().unwrap();
        let opts = PruneOptions { keep: 1, now: Some(now), ..PruneOptions::default() };
        let dangling = |plan: &Plan| plan.decisions.iter().find(|d| d.version_id == 201).unwrap().reason.clone();
        assert_eq!(dangling(&plan(&versions, &manifests, &opts).unwrap()), Reason::InGrace, "30 minutes old");
        let later = PruneOptions { now: Some("2026-01-05T02:00:00Z".parse().unwrap()), ..opts.clone() };
        assert_eq!(dangling(&plan(&versions, &manifests, &later).unwrap()), Reason::Unreferenced);
        // index-1 re-tagged on day 6: the newest image now.
        versions.iter_mut().find(|v| v.name == "sha256:index-1").unwrap().updated_at =
            Some("2026-01-06T00:00:00Z".into());
        let retagged = plan(&versions, &manifests, &later).unwrap();
        let index_1 = retagged.decisions.iter().find(|d| d.digest == "sha256:index-1").unwrap();
        assert_eq!(index_1.reason, Reason::Newest { rank: 1 });
    }

    #[test]
    fn rfc3339_parses_what_github_sends() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_seconds("2020-05-19T22:19:11Z"), Some(1_589_926_751));
        assert_eq!(rfc3339_seconds("2020-05-19T23:19:11.123+01:00"), Some(1_589_926_751));
        assert_eq!(rfc3339_seconds("yesterday"), None);
    }
}
