//! `/repos/{owner}/{repo}/tags`.

use offinfra_http::{Client, PageNumbers, Request};
use offinfra_types::CommitId;

use crate::{CreateTag, Error, Tag};

/// What [`Tags::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOutcome {
    /// The tag was created.
    Created(Tag),
    /// The tag already pointed at the requested commit (a rerun): nothing to do.
    AlreadyThere(Tag),
}

impl TagOutcome {
    /// The tag, either way.
    pub fn tag(&self) -> &Tag {
        match self {
            TagOutcome::Created(tag) | TagOutcome::AlreadyThere(tag) => tag,
        }
    }

    /// Whether this call created it.
    pub fn created(&self) -> bool {
        matches!(self, TagOutcome::Created(_))
    }
}

/// The tags of one repository.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Tags<'a> {
    pub(crate) http: &'a Client,
    pub(crate) base: String,
    pub(crate) repo: String,
}

/// Tag names may contain `/`: each segment is encoded, the slashes kept (the route is a wildcard).
fn tag_path(base: &str, name: &str) -> String {
    let encoded: Vec<String> = name.split('/').map(crate::encode).collect();
    format!("{base}/{}", encoded.join("/"))
}

impl Tags<'_> {
    /// One tag, or `None` if it does not exist.
    pub async fn get(&self, name: &str) -> Result<Option<Tag>, Error> {
        match self.http.json(&Request::get(tag_path(&self.base, name))).await {
            Ok(tag) => Ok(Some(tag)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every tag (50 a page, up to `X-Total-Count`), at most `limit` when given.
    pub async fn list(&self, limit: Option<usize>) -> Result<Vec<Tag>, Error> {
        Ok(self.http.collect_pages(&Request::get(self.base.clone()), &PageNumbers::FORGEJO, limit).await?)
    }

    /// Creates a tag, idempotently: when the tag already exists (409) on the commit `target` names (a
    /// commit id), the answer is [`TagOutcome::AlreadyThere`]; on another commit, an error that says
    /// so. The POST itself is never repeated after the server may have acted.
    pub async fn create(&self, tag: &CreateTag) -> Result<TagOutcome, Error> {
        let request = Request::post(self.base.clone()).json(tag)?;
        match self.http.json::<Tag>(&request).await {
            Ok(created) => Ok(TagOutcome::Created(created)),
            Err(e) if e.status() == Some(409) => {
                let existing = self.get(&tag.tag_name).await?.ok_or(Error::Http(e))?;
                let existing_sha = existing.commit.as_ref().map(|c| c.sha.clone()).unwrap_or_default();
                match &tag.target {
                    Some(target) if !existing_sha.is_empty() && same_commit(&existing_sha, target) => {
                        Ok(TagOutcome::AlreadyThere(existing))
                    }
                    None => Ok(TagOutcome::AlreadyThere(existing)),
                    Some(target) => Err(Error::TagOnOtherCommit {
                        repo: self.repo.clone(),
                        tag: tag.tag_name.clone(),
                        existing: existing_sha,
                        wanted: target.clone(),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a tag (409 when a release uses it: delete the release first).
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        self.http.execute(&Request::delete(tag_path(&self.base, name))).await?;
        Ok(())
    }
}

/// Whether the commit a tag points at and the target asked for name the same commit: both commit ids
/// ([`offinfra_types::CommitId`]'s rule), one a prefix of the other. A branch name as target never matches.
fn same_commit(full: &str, target: &str) -> bool {
    match (CommitId::parse(full), CommitId::parse(target)) {
        (Ok(full), Ok(target)) => full.matches(&target),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_commit_ids() {
        assert_eq!(tag_path("/repos/o/r/tags", "release/v1.0"), "/repos/o/r/tags/release/v1.0");
        assert_eq!(tag_path("/repos/o/r/tags", "v1+b"), "/repos/o/r/tags/v1%2Bb");
        assert!(same_commit("0123456789abcdef", "01234567"));
        assert!(same_commit("0123456789ABCDEF", "0123456789abcdef"));
        assert!(!same_commit("0123456789abcdef", "0123456"), "shorter than a commit id");
        assert!(!same_commit("0123456789abcdef", "01234568"));
        assert!(!same_commit("0123456789abcdef", "main"));
    }
}
