//! Opening the repository, choosing the current tag and resolving `--log.directory`.

use std::path::{Component, Path, PathBuf};

use gix::{bstr::BString, ObjectId};

use crate::{versionsort::versioncmp, walk::Walk, Error};

/// Which tags count as candidates for the current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TagMode {
    /// Every tag in the repository (svu's default).
    #[default]
    All,
    /// Only tags reachable from HEAD (`git tag --merged HEAD`).
    Current,
}

impl std::str::FromStr for TagMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "all" => Ok(TagMode::All),
            "current" => Ok(TagMode::Current),
            other => Err(Error::InvalidTagMode(other.to_owned())),
        }
    }
}

/// The tag the current version comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Its short name, e.g. `v1.2.3`.
    pub name: String,
    /// The commit it points at (annotated tags peeled).
    pub commit: ObjectId,
}

/// A git repository opened for version computation. Reads go straight to the object database; no
/// `git` process is started.
#[non_exhaustive]
pub struct Repository {
    pub(crate) repo: gix::Repository,
    /// The directory relative paths are resolved from, relative to the work tree root (empty at the root
    /// and in bare repositories).
    prefix: PathBuf,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").field("git_dir", &self.repo.git_dir()).field("prefix", &self.prefix).finish()
    }
}

impl Repository {
    /// Finds the repository containing `dir` (a work tree, any directory below one, a linked worktree or
    /// a bare repository). Relative `--log.directory` entries are resolved against `dir`, as git resolves
    /// pathspecs against the current directory.
    pub fn discover(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let dir = dir.as_ref();
        let repo =
            gix::discover(dir).map_err(|e| Error::NotARepository { path: dir.to_owned(), message: e.to_string() })?;
        let prefix = match repo.workdir() {
            Some(workdir) => {
                let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
                canon(dir).strip_prefix(canon(workdir)).map(Path::to_owned).unwrap_or_default()
            }
            None => PathBuf::new(),
        };
        Ok(Self { repo, prefix })
    }

    /// The underlying gitoxide repository.
    pub fn gix(&self) -> &gix::Repository {
        &self.repo
    }

    /// The git directory.
    pub fn git_dir(&self) -> &Path {
        self.repo.git_dir()
    }

    /// The top of the work tree, or `None` for a bare repository.
    pub fn workdir(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    /// Whether this is a shallow clone.
    pub fn is_shallow(&self) -> bool {
        self.repo.is_shallow().unwrap_or(false)
    }

    /// The commit HEAD points at.
    pub fn head(&self) -> Result<ObjectId, Error> {
        match self.repo.head_id() {
            Ok(id) => Ok(id.detach()),
            Err(e) => match self.repo.head() {
                Ok(head) if head.is_unborn() => Err(Error::UnbornHead { path: self.git_dir().to_owned() }),
                _ => Err(Error::git("resolve HEAD", e)),
            },
        }
    }

    /// HEAD's committer time, in seconds since the epoch: what reproducible builds use when
    /// `SOURCE_DATE_EPOCH` is not set (`git log -1 --format=%ct`).
    pub fn head_time(&self) -> Result<i64, Error> {
        let id = self.head()?;
        let commit = self.repo.find_commit(id).map_err(|e| Error::git("read HEAD's commit", e))?;
        let time = commit.time().map_err(|e| Error::git("read HEAD's commit time", e))?;
        Ok(time.seconds)
    }

    /// All tag names, ordered as `git -c versionsort.suffix=- tag --sort=-version:refname` prints them:
    /// highest version first.
    pub fn tags_by_version(&self) -> Result<Vec<String>, Error> {
        self.tags_by_version_with(&[])
    }

    /// [`Self::tags_by_version`] over this repository's tags and `extra` names (tags of another copy of the
    /// repository, e.g. the canonical forge's), each name once.
    fn tags_by_version_with(&self, extra: &[Tag]) -> Result<Vec<String>, Error> {
        let platform = self.repo.references().map_err(|e| Error::git("list references", e))?;
        let mut names: Vec<BString> = Vec::new();
        for reference in platform.tags().map_err(|e| Error::git("list tags", e))? {
            let reference = reference.map_err(|e| Error::git("list tags", e))?;
            names.push(reference.name().as_bstr().to_owned());
        }
        names.extend(extra.iter().map(|tag| BString::from(format!("refs/tags/{}", tag.name))));
        names.sort();
        names.dedup();
        // git sorts with a merge sort over the refname-ordered list; doing the same keeps the result
        // identical even where version order is not a strict total order.
        merge_sort(&mut names, &|a, b| versioncmp(b, a, &["-"]));
        Ok(names
            .into_iter()
            .map(|full| {
                let full = String::from_utf8_lossy(&full).into_owned();
                full.strip_prefix("refs/tags/").map(str::to_owned).unwrap_or(full)
            })
            .collect())
    }

    /// Whether this repository has object `id` (a tag of another copy may name a commit it lacks).
    pub fn has_commit(&self, id: ObjectId) -> bool {
        self.repo.has_object(id)
    }

    /// The commit tag `name` points at, peeling annotated tags.
    pub fn tag_commit(&self, name: &str) -> Result<ObjectId, Error> {
        let full = format!("refs/tags/{name}");
        let mut reference =
            self.repo.find_reference(full.as_str()).map_err(|e| Error::git(format!("find tag {name}"), e))?;
        let id = reference.peel_to_id().map_err(|e| Error::git(format!("peel tag {name}"), e))?;
        let object = id.object().map_err(|e| Error::git(format!("read tag {name}"), e))?;
        if object.kind != gix::objs::Kind::Commit {
            return Err(Error::TagNotACommit { tag: name.to_owned(), kind: object.kind.to_string() });
        }
        Ok(id.detach())
    }

    /// svu's tag discovery: the highest tag (by git's version sort) that matches `pattern` (a glob where
    /// `*` also matches `/`; empty matches all) and, in [`TagMode::Current`], is reachable from HEAD.
    /// `Ok(None)` when there is no tag at all; an error when a pattern matches none.
    pub fn find_tag(&self, pattern: &str, mode: TagMode) -> Result<Option<Tag>, Error> {
        Ok(self.find_tags_with(pattern, mode, &[])?.0)
    }

    /// [`Self::find_tag`] among this repository's tags and `extra` (the same name in `extra` wins: it is
    /// the canonical copy's), in one pass: the tag, and the newest candidate whose commit this repository has
    /// (the same tag unless it names a commit that is not here). [`TagMode::Current`] passes over tags whose
    /// commit is not here (HEAD cannot reach one).
    pub(crate) fn find_tags_with(
        &self,
        pattern: &str,
        mode: TagMode,
        extra: &[Tag],
    ) -> Result<(Option<Tag>, Option<Tag>), Error> {
        let glob = if pattern.is_empty() {
            None
        } else {
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| Error::InvalidPattern { pattern: pattern.to_owned(), reason: e.kind().to_string() })?;
            Some(glob.compile_matcher())
        };
        let tags = self.tags_by_version_with(extra)?;
        let extra: std::collections::HashMap<&str, ObjectId> =
            extra.iter().map(|tag| (tag.name.as_str(), tag.commit)).collect();
        let commit_of = |name: &str| match extra.get(name) {
            Some(commit) => Ok(*commit),
            None => self.tag_commit(name),
        };
        let candidates = tags.iter().filter(|name| glob.as_ref().is_none_or(|g| g.is_match(name.as_str())));
        let (found, present) = match mode {
            TagMode::All => {
                let (mut found, mut present) = (None, None);
                for name in candidates {
                    let tag = Tag { name: name.clone(), commit: commit_of(name)? };
                    let here = self.has_commit(tag.commit);
                    found.get_or_insert_with(|| tag.clone());
                    if here {
                        present = Some(tag);
                        break;
                    }
                }
                (found, present)
            }
            TagMode::Current => {
                let head = self.head()?;
                let mut walk = Walk::new(&self.repo, None)?;
                walk.start_reachability(head)?;
                let mut found = None;
                let mut unknown = false;
                for name in candidates {
                    let commit = match commit_of(name) {
                        Ok(commit) if self.has_commit(commit) => commit,
                        Ok(_) => continue,
                        // `git tag --merged` skips tags of trees and blobs.
                        Err(Error::TagNotACommit { .. }) => continue,
                        Err(e) => return Err(e),
                    };
                    let time = walk.commit_time(commit)?;
                    match walk.reaches(commit, time)? {
                        Some(true) => {
                            found = Some(Tag { name: name.clone(), commit });
                            break;
                        }
                        Some(false) => {}
                        None => {
                            unknown = true;
                            break;
                        }
                    }
                }
                if unknown && found.is_none() {
                    return Err(Error::ShallowHistory {
                        what: "HEAD's history is cut before a tag could be found".into(),
                        path: self.git_dir().to_owned(),
                    });
                }
                (found.clone(), found)
            }
        };
        match found {
            None if glob.is_some() => Err(Error::NoTagMatches(pattern.to_owned())),
            None if self.is_shallow() => {
                Err(Error::ShallowHistory { what: "no tag is visible".into(), path: self.git_dir().to_owned() })
            }
            found => Ok((found, present)),
        }
    }

    /// Turns `--log.directory` entries into repository-relative paths (`""` is the whole tree), resolving
    /// relative ones against the directory the repository was discovered from.
    pub fn resolve_directories(&self, dirs: &[String]) -> Result<Vec<BString>, Error> {
        dirs.iter().map(|dir| self.resolve_directory(dir)).collect()
    }

    fn resolve_directory(&self, dir: &str) -> Result<BString, Error> {
        let invalid = |reason: &str| Error::InvalidDirectory { path: dir.to_owned(), reason: reason.to_owned() };
        if dir.is_empty() {
            return Err(invalid("empty path"));
        }
        if dir.starts_with(':') || dir.contains(['*', '?', '[']) {
            return Err(invalid("wildcards and pathspec magic are not supported: name a directory or a file"));
        }
        let path = Path::new(dir);
        let relative = if path.is_absolute() {
            let workdir = self.workdir().ok_or_else(|| invalid("absolute paths need a work tree"))?;
            let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
            path.strip_prefix(workdir)
                .or_else(|_| path.strip_prefix(canon(workdir)))
                .map(Path::to_owned)
                .map_err(|_| invalid("outside the repository"))?
        } else {
            self.prefix.join(path)
        };
        let mut parts: Vec<String> = Vec::new();
        for component in relative.components() {
            match component {
                Component::CurDir => {}
                Component::ParentDir => {
                    parts.pop().ok_or_else(|| invalid("outside the repository"))?;
                }
                Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
                Component::RootDir | Component::Prefix(_) => return Err(invalid("outside the repository")),
            }
        }
        Ok(parts.join("/").into())
    }
}

/// git's `msort_with_tmp`: a stable top-down merge sort taking the left element on ties.
fn merge_sort<T: Clone>(items: &mut [T], cmp: &dyn Fn(&T, &T) -> std::cmp::Ordering) {
    if items.len() <= 1 {
        return;
    }
    let mid = items.len() / 2;
    merge_sort(&mut items[..mid], cmp);
    merge_sort(&mut items[mid..], cmp);
    let mut merged = Vec::with_capacity(items.len());
    let (mut i, mut j) = (0, mid);
    while i < mid && j < items.len() {
        if cmp(&items[i], &items[j]) != std::cmp::Ordering::Greater {
            merged.push(items[i].clone());
            i += 1;
        } else {
            merged.push(items[j].clone());
            j += 1;
        }
    }
    merged.extend_from_slice(&items[i..mid]);
    merged.extend_from_slice(&items[j..]);
    items.clone_from_slice(&merged);
}

#[cfg(test)]
mod tests {
    use super::merge_sort;

    #[test]
    fn merge_sort_is_stable() {
        let mut v = vec![(1, 'a'), (0, 'b'), (1, 'c'), (0, 'd')];
        merge_sort(&mut v, &|a, b| a.0.cmp(&b.0));
        assert_eq!(v, [(0, 'b'), (0, 'd'), (1, 'a'), (1, 'c')]);
    }
}
