//! The `tag..HEAD [-- paths]` commit walk, read straight from the object database.
//!
//! This is git's `limit_list` in miniature: a priority queue ordered by committer date holds both the
//! commits to show (reachable from HEAD) and the hidden ones (reachable from the tag); the walk ends when
//! nothing but hidden commits is queued. With paths it applies git's default history simplification:
//! a commit whose paths equal those of a parent is not shown, and for a merge only that parent is
//! followed. Every commit object is decompressed exactly once.

use std::collections::BinaryHeap;

use gix::{
    bstr::{BString, ByteSlice},
    hashtable::{HashMap, HashSet},
    objs::{commit::ref_iter::Token, CommitRefIter, Find, TreeRefIter},
    ObjectId,
};

use crate::{classify::Bump, Classifier, Error};

const QUEUED: u8 = 1;
const PROCESSED: u8 = 2;
const HIDDEN: u8 = 4;

struct Node {
    id: ObjectId,
    tree: ObjectId,
    time: i64,
    bump: Bump,
    flags: u8,
    /// Range into `Walk::parent_ids`; empty for a root or a shallow-boundary commit.
    parents: (u32, u32),
    /// The entries at the filtered paths, computed on first use.
    paths: Option<Box<[Option<ObjectId>]>>,
}

/// What a walk found.
#[derive(Debug, Clone, Default)]
pub(crate) struct RangeSummary {
    /// The largest bump among the shown commits.
    pub bump: Option<Bump>,
    /// The first shown commit (in `git log` order) that asks for `bump`.
    pub commit: Option<ObjectId>,
    /// How many commits were read, shown or not.
    pub commits_read: usize,
    /// A shown commit sat on the shallow boundary: its parents are not in this clone.
    pub truncated: bool,
}

pub(crate) struct Walk<'r> {
    repo: &'r gix::Repository,
    shallow: HashSet<ObjectId>,
    classifier: Option<Classifier>,
    truncated: bool,
    nodes: Vec<Node>,
    index: HashMap<ObjectId, u32>,
    parent_ids: Vec<ObjectId>,
    queue: BinaryHeap<(i64, std::cmp::Reverse<u64>, u32)>,
    seq: u64,
    visible_queued: usize,
    buf: Vec<u8>,
    tree_buf: Vec<u8>,
    tree_buf2: Vec<u8>,
}

impl<'r> Walk<'r> {
    pub(crate) fn new(repo: &'r gix::Repository, classifier: Option<Classifier>) -> Result<Self, Error> {
        let shallow = repo
            .shallow_commits()
            .map_err(|e| Error::git("read the shallow file", e))?
            .map(|commits| commits.iter().copied().collect())
            .unwrap_or_default();
        Ok(Self {
            repo,
            shallow,
            classifier,
            truncated: false,
            nodes: Vec::new(),
            index: HashMap::default(),
            parent_ids: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            visible_queued: 0,
            buf: Vec::new(),
            tree_buf: Vec::new(),
            tree_buf2: Vec::new(),
        })
    }

    /// Walks `head` minus everything reachable from `hide`, restricted to `paths` (repository-relative,
    /// `""` for the whole tree) when given. Stops early once a commit asking for `ceiling` is shown.
    pub(crate) fn classify_range(
        mut self,
        head: ObjectId,
        hide: Option<ObjectId>,
        paths: Option<&[BString]>,
        ceiling: Bump,
    ) -> Result<RangeSummary, Error> {
        let head = self.node(head)?;
        self.push(head);
        if let Some(hide) = hide {
            let hide = self.node(hide)?;
            self.mark_hidden(hide);
            self.push(hide);
        }
        let mut shown: Vec<u32> = Vec::new();
        let mut best = Bump::None;
        let mut truncated = false;
        while self.visible_queued > 0 {
            let Some((_, _, idx)) = self.queue.pop() else { break };
            let node = &mut self.nodes[idx as usize];
            node.flags |= PROCESSED;
            let hidden = node.flags & HIDDEN != 0;
            if !hidden {
                self.visible_queued -= 1;
            }
            let (start, end) = node.parents;
            if hidden {
                for p in start..end {
                    let parent = self.node(self.parent_ids[p as usize])?;
                    self.mark_hidden(parent);
                    self.push(parent);
                }
                continue;
            }
            if self.shallow.contains(&self.nodes[idx as usize].id) {
                truncated = true;
            }
            let (show, follow) = match paths {
                None => (true, start..end),
                Some(paths) => self.simplify(idx, paths)?,
            };
            for p in follow {
                let parent = self.node(self.parent_ids[p as usize])?;
                self.push(parent);
            }
            let bump = self.nodes[idx as usize].bump;
            if show && bump > Bump::None {
                shown.push(idx);
                best = best.max(bump);
                if best >= ceiling {
                    break;
                }
            }
        }
        // A commit shown early can turn out to be reachable from the tag after all (clock skew).
        shown.retain(|&idx| self.nodes[idx as usize].flags & HIDDEN == 0);
        let bump = shown.iter().map(|&i| self.nodes[i as usize].bump).max();
        let commit = bump.and_then(|b| {
            shown.iter().find(|&&i| self.nodes[i as usize].bump == b).map(|&i| self.nodes[i as usize].id)
        });
        Ok(RangeSummary { bump, commit, commits_read: self.nodes.len(), truncated })
    }

    /// git's `try_to_simplify_commit` for the default (non-`--full-history`) mode: which parents to
    /// follow, and whether the commit itself is shown.
    fn simplify(&mut self, idx: u32, paths: &[BString]) -> Result<(bool, std::ops::Range<u32>), Error> {
        let (start, end) = self.nodes[idx as usize].parents;
        let own = self.path_entries(idx, paths)?;
        if start == end {
            let touches = own.iter().any(Option::is_some);
            return Ok((touches, start..end));
        }
        let mut changed = false;
        for p in start..end {
            let parent = self.node(self.parent_ids[p as usize])?;
            let theirs = self.path_entries(parent, paths)?;
            if theirs == own {
                if self.nodes[parent as usize].flags & HIDDEN == 0 {
                    // TREESAME to a visible parent: history goes through it alone.
                    return Ok((false, p..p + 1));
                }
            } else {
                changed = true;
            }
        }
        Ok((changed, start..end))
    }

    fn path_entries(&mut self, idx: u32, paths: &[BString]) -> Result<Box<[Option<ObjectId>]>, Error> {
        if let Some(entries) = &self.nodes[idx as usize].paths {
            return Ok(entries.clone());
        }
        let tree = self.nodes[idx as usize].tree;
        let hash_kind = self.repo.object_hash();
        let mut entries = Vec::with_capacity(paths.len());
        for path in paths {
            if path.is_empty() {
                entries.push(Some(tree));
                continue;
            }
            let data = self
                .repo
                .objects
                .try_find(&tree, &mut self.tree_buf)
                .map_err(|e| Error::git(format!("read tree {tree}"), e))?
                .ok_or_else(|| Error::MissingObject { id: tree.to_string() })?;
            let entry = TreeRefIter::from_bytes(data.data, hash_kind)
                .lookup_entry(&self.repo.objects, &mut self.tree_buf2, path.split_str("/"))
                .map_err(|e| Error::git(format!("look up {path} in tree {tree}"), e))?;
            entries.push(entry.map(|e| e.oid));
        }
        let entries = entries.into_boxed_slice();
        self.nodes[idx as usize].paths = Some(entries.clone());
        Ok(entries)
    }

    fn push(&mut self, idx: u32) {
        let node = &mut self.nodes[idx as usize];
        if node.flags & (QUEUED | PROCESSED) != 0 {
            return;
        }
        node.flags |= QUEUED;
        if node.flags & HIDDEN == 0 {
            self.visible_queued += 1;
        }
        self.seq += 1;
        self.queue.push((node.time, std::cmp::Reverse(self.seq), idx));
    }

    /// Starts a walk of everything reachable from `tip`, to be driven by [`Self::reaches`].
    pub(crate) fn start_reachability(&mut self, tip: ObjectId) -> Result<(), Error> {
        let tip = self.node(tip)?;
        self.push(tip);
        Ok(())
    }

    /// Whether `target` (committed at `target_time`) is reachable from the tip given to
    /// [`Self::start_reachability`]. Walks, newest first, only as deep as `target_time` requires (with a
    /// day of slack for clock skew), so repeated queries share one walk. `None`: the walk hit the
    /// shallow boundary without finding `target`, so the answer is unknown.
    pub(crate) fn reaches(&mut self, target: ObjectId, target_time: i64) -> Result<Option<bool>, Error> {
        const SLACK: i64 = 24 * 60 * 60;
        while let Some(&(time, _, idx)) = self.queue.peek() {
            if self.index.contains_key(&target) || time < target_time.saturating_sub(SLACK) {
                break;
            }
            self.queue.pop();
            let node = &mut self.nodes[idx as usize];
            node.flags |= PROCESSED;
            let (start, end) = node.parents;
            if self.shallow.contains(&node.id) {
                self.truncated = true;
            }
            for p in start..end {
                let parent = self.node(self.parent_ids[p as usize])?;
                self.push(parent);
            }
        }
        Ok(match self.index.contains_key(&target) {
            true => Some(true),
            false if self.truncated => None,
            false => Some(false),
        })
    }

    /// The committer time of commit `id`.
    /// Reads it without adding the commit to the walk, whose nodes must all be reachable from the tip.
    pub(crate) fn commit_time(&mut self, id: ObjectId) -> Result<i64, Error> {
        if let Some(&idx) = self.index.get(&id) {
            return Ok(self.nodes[idx as usize].time);
        }
        let data = self
            .repo
            .objects
            .try_find(&id, &mut self.buf)
            .map_err(|e| Error::git(format!("read commit {id}"), e))?
            .ok_or_else(|| Error::MissingObject { id: id.to_string() })?;
        let committer = CommitRefIter::from_bytes(data.data, data.object_hash)
            .committer()
            .map_err(|e| Error::git(format!("decode commit {id}"), e))?;
        Ok(committer.seconds())
    }

    /// Marks `idx` hidden, and everything already read below it (git's `mark_parents_uninteresting`).
    fn mark_hidden(&mut self, idx: u32) {
        let mut stack = vec![idx];
        while let Some(idx) = stack.pop() {
            let node = &mut self.nodes[idx as usize];
            if node.flags & HIDDEN != 0 {
                continue;
            }
            node.flags |= HIDDEN;
            if node.flags & QUEUED != 0 && node.flags & PROCESSED == 0 {
                self.visible_queued -= 1;
            }
            if node.flags & PROCESSED != 0 {
                let (start, end) = node.parents;
                stack.extend((start..end).filter_map(|p| self.index.get(&self.parent_ids[p as usize]).copied()));
            }
        }
    }

    /// The node of commit `id`, reading and classifying the commit the first time it is seen.
    fn node(&mut self, id: ObjectId) -> Result<u32, Error> {
        if let Some(&idx) = self.index.get(&id) {
            return Ok(idx);
        }
        let data = self
            .repo
            .objects
            .try_find(&id, &mut self.buf)
            .map_err(|e| Error::git(format!("read commit {id}"), e))?
            .ok_or_else(|| Error::MissingObject { id: id.to_string() })?;
        if data.kind != gix::objs::Kind::Commit {
            return Err(Error::NotACommit { id: id.to_string(), kind: data.kind.to_string() });
        }
        let boundary = self.shallow.contains(&id);
        let parents_start = self.parent_ids.len() as u32;
        let mut tree = None;
        let mut time = 0;
        let mut message: &[u8] = &[];
        for token in CommitRefIter::from_bytes(data.data, data.object_hash) {
            match token.map_err(|e| Error::git(format!("decode commit {id}"), e))? {
                Token::Tree { id } => tree = Some(id),
                // A shallow-boundary commit's parents are not in this clone.
                Token::Parent { id } if !boundary => self.parent_ids.push(id),
                Token::Committer { signature } => time = signature.seconds(),
                Token::Message(m) => message = m,
                _ => {}
            }
        }
        let bump = match self.classifier {
            Some(classifier) => classifier.classify(&String::from_utf8_lossy(message)),
            None => Bump::None,
        };
        let idx = self.nodes.len() as u32;
        self.nodes.push(Node {
            id,
            tree: tree.ok_or_else(|| Error::git(format!("decode commit {id}"), "no tree"))?,
            time,
            bump,
            flags: 0,
            parents: (parents_start, self.parent_ids.len() as u32),
            paths: None,
        });
        self.index.insert(id, idx);
        Ok(idx)
    }
}

/// Reads one commit's raw message (for reporting the commit that decided the bump).
pub(crate) fn commit_title(repo: &gix::Repository, id: ObjectId) -> Result<String, Error> {
    let mut buf = Vec::new();
    let data = repo
        .objects
        .try_find(&id, &mut buf)
        .map_err(|e| Error::git(format!("read commit {id}"), e))?
        .ok_or_else(|| Error::MissingObject { id: id.to_string() })?;
    let message = CommitRefIter::from_bytes(data.data, data.object_hash)
        .message()
        .map_err(|e| Error::git(format!("decode commit {id}"), e))?;
    let message = String::from_utf8_lossy(message);
    Ok(crate::classify::split_message(&message).0.to_owned())
}
