//! The `tag..HEAD [-- paths]` commit walk, read straight from the object database.
//!
//! This is git's `limit_list` in miniature: a priority queue ordered by committer date holds both the
//! commits to show (reachable from HEAD) and the hidden ones (reachable from the tag); the walk ends when
//! nothing but hidden commits is queued. With paths it applies git's default history simplification
//! (`try_to_simplify_commit`): a commit whose paths equal those of a relevant parent (a visible one, or
//! the range's bottom) is not shown and only that parent is followed. Every commit object is
//! decompressed exactly once. `tests/git_log_baseline.rs` checks the result against `git log`.

use std::collections::BinaryHeap;

use gix::{
    bstr::{BString, ByteSlice},
    hashtable::{hash_table::HashTable, HashSet},
    objs::{commit::ref_iter::Token, CommitRefIter, Find, TreeRefIter},
    ObjectId,
};

use crate::{classify::Bump, Classifier, Error};

const QUEUED: u8 = 1;
const PROCESSED: u8 = 2;
const HIDDEN: u8 = 4;
const LOADED: u8 = 8;
/// The hidden tip itself (git's BOTTOM): hidden, yet still a relevant parent for simplification.
const BOTTOM: u8 = 16;

/// Per-commit walk state, kept small: a long history holds one per commit read. The id, tree and path
/// entries live in side tables so that walks without paths pay nothing for them.
struct Node {
    time: i64,
    /// Start of this commit's parents in `Walk::parents`.
    parents_start: u32,
    /// How many parents; 0 for a root or a shallow-boundary commit.
    parents_len: u16,
    bump: Bump,
    flags: u8,
}

impl Node {
    fn parents(&self) -> (u32, u32) {
        (self.parents_start, self.parents_start + u32::from(self.parents_len))
    }
}

/// Object ids are uniformly distributed: their first bytes are a good hash.
fn id_hash(id: &ObjectId) -> u64 {
    let bytes = id.as_bytes();
    u64::from_le_bytes(bytes[..8].try_into().expect("ids are longer than 8 bytes"))
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
    /// Every shown commit in `git log` order, when asked for.
    pub shown: Vec<ObjectId>,
}

pub(crate) struct Walk<'r> {
    repo: &'r gix::Repository,
    shallow: HashSet<ObjectId>,
    classifier: Option<Classifier>,
    truncated: bool,
    nodes: Vec<Node>,
    ids: Vec<ObjectId>,
    /// Tree ids, parallel to `nodes`, only while a path filter needs them.
    trees: Option<Vec<ObjectId>>,
    path_entries: std::collections::HashMap<u32, Box<[Option<ObjectId>]>>,
    /// Node index by commit id, hashed through `ids` so that each id is stored once.
    index: HashTable<u32>,
    parents: Vec<u32>,
    queue: BinaryHeap<(i64, std::cmp::Reverse<u64>, u32)>,
    seq: u64,
    visible_queued: usize,
    loaded: usize,
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
            ids: Vec::new(),
            trees: None,
            path_entries: Default::default(),
            index: HashTable::new(),
            parents: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            visible_queued: 0,
            loaded: 0,
            buf: Vec::new(),
            tree_buf: Vec::new(),
            tree_buf2: Vec::new(),
        })
    }

    /// Walks `head` minus everything reachable from `hide`, restricted to `paths` (repository-relative,
    /// `""` for the whole tree) when given. Stops early once a commit asking for `ceiling` is shown;
    /// with no ceiling, walks the whole range and lists every shown commit.
    pub(crate) fn classify_range(
        mut self,
        head: ObjectId,
        hide: Option<ObjectId>,
        paths: Option<&[BString]>,
        ceiling: Option<Bump>,
    ) -> Result<RangeSummary, Error> {
        if paths.is_some() {
            self.trees = Some(Vec::new());
        }
        let head = self.load_id(head)?;
        self.push(head);
        if let Some(hide) = hide {
            let hide = self.load_id(hide)?;
            self.mark_hidden(hide);
            self.nodes[hide as usize].flags |= BOTTOM;
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
            let (start, end) = node.parents();
            if hidden {
                for p in start..end {
                    let parent = self.parents[p as usize];
                    self.load(parent)?;
                    self.mark_hidden(parent);
                    self.push(parent);
                }
                continue;
            }
            self.visible_queued -= 1;
            if self.shallow.contains(&self.ids[idx as usize]) {
                truncated = true;
            }
            let (show, follow) = match paths {
                None => (true, start..end),
                Some(paths) => self.simplify(idx, paths)?,
            };
            for p in follow {
                let parent = self.parents[p as usize];
                self.load(parent)?;
                self.push(parent);
            }
            let bump = self.nodes[idx as usize].bump;
            if show && (bump > Bump::None || ceiling.is_none()) {
                shown.push(idx);
                best = best.max(bump);
                if ceiling.is_some_and(|ceiling| best >= ceiling) {
                    break;
                }
            }
        }
        // A commit shown early can turn out to be reachable from the tag after all (clock skew).
        shown.retain(|&idx| self.nodes[idx as usize].flags & HIDDEN == 0);
        let bump = shown.iter().map(|&i| self.nodes[i as usize].bump).filter(|&b| b > Bump::None).max();
        let commit =
            bump.and_then(|b| shown.iter().find(|&&i| self.nodes[i as usize].bump == b).map(|&i| self.ids[i as usize]));
        let shown = match ceiling {
            None => shown.iter().map(|&i| self.ids[i as usize]).collect(),
            Some(_) => Vec::new(),
        };
        Ok(RangeSummary { bump, commit, commits_read: self.loaded, truncated, shown })
    }

    /// git's `try_to_simplify_commit` for the default (non-`--full-history`) mode: which parents to
    /// follow, and whether the commit itself is shown.
    fn simplify(&mut self, idx: u32, paths: &[BString]) -> Result<(bool, std::ops::Range<u32>), Error> {
        let (start, end) = self.nodes[idx as usize].parents();
        let own = self.entries_at(idx, paths)?;
        if start == end {
            let touches = own.iter().any(Option::is_some);
            return Ok((touches, start..end));
        }
        let (mut relevant_parents, mut relevant_change, mut irrelevant_change) = (0, false, false);
        for p in start..end {
            let parent = self.parents[p as usize];
            self.load(parent)?;
            let flags = self.nodes[parent as usize].flags;
            // Visible parents and the range's bottom count; other hidden parents cannot make a merge
            // interesting when a relevant parent exists.
            let relevant = flags & HIDDEN == 0 || flags & BOTTOM != 0;
            relevant_parents += usize::from(relevant);
            let same = self.entries_at(parent, paths)? == own;
            match (same, relevant) {
                // TREESAME to a relevant parent: history goes through it alone, and this commit is hidden.
                (true, true) => return Ok((false, p..p + 1)),
                (true, false) => {}
                (false, true) => relevant_change = true,
                (false, false) => irrelevant_change = true,
            }
        }
        let treesame = if relevant_parents > 0 { !relevant_change } else { !irrelevant_change };
        Ok((!treesame, start..end))
    }

    /// The ids of the entries at `paths` in the tree of commit `idx`, computed once per commit.
    fn entries_at(&mut self, idx: u32, paths: &[BString]) -> Result<Box<[Option<ObjectId>]>, Error> {
        if let Some(entries) = self.path_entries.get(&idx) {
            return Ok(entries.clone());
        }
        let tree = self.trees.as_ref().expect("trees are kept while paths filter")[idx as usize];
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
        self.path_entries.insert(idx, entries.clone());
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
                let (start, end) = node.parents();
                stack.extend_from_slice(&self.parents[start as usize..end as usize]);
            }
        }
    }

    /// Starts a walk of everything reachable from `tip`, to be driven by [`Self::reaches`].
    pub(crate) fn start_reachability(&mut self, tip: ObjectId) -> Result<(), Error> {
        let tip = self.load_id(tip)?;
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
            if self.lookup(&target).is_some() || time < target_time.saturating_sub(SLACK) {
                break;
            }
            self.queue.pop();
            let node = &mut self.nodes[idx as usize];
            node.flags |= PROCESSED;
            let (start, end) = node.parents();
            if self.shallow.contains(&self.ids[idx as usize]) {
                self.truncated = true;
            }
            for p in start..end {
                let parent = self.parents[p as usize];
                self.load(parent)?;
                self.push(parent);
            }
        }
        Ok(match self.lookup(&target).is_some() {
            true => Some(true),
            false if self.truncated => None,
            false => Some(false),
        })
    }

    /// The committer time of commit `id`.
    ///
    /// Reads it without adding the commit to the walk, whose nodes must all be reachable from the tip.
    pub(crate) fn commit_time(&mut self, id: ObjectId) -> Result<i64, Error> {
        if let Some(idx) = self.lookup(&id) {
            self.load(idx)?;
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

    fn lookup(&self, id: &ObjectId) -> Option<u32> {
        self.index.find(id_hash(id), |&idx| self.ids[idx as usize] == *id).copied()
    }

    /// The node of commit `id`, created unread if it is new.
    fn intern(&mut self, id: ObjectId) -> u32 {
        if let Some(idx) = self.lookup(&id) {
            return idx;
        }
        let idx = self.nodes.len() as u32;
        self.nodes.push(Node { time: 0, parents_start: 0, parents_len: 0, bump: Bump::None, flags: 0 });
        self.ids.push(id);
        if let Some(trees) = &mut self.trees {
            trees.push(id); // replaced by the tree id when the commit is read
        }
        let ids = &self.ids;
        self.index.insert_unique(id_hash(&id), idx, |&i| id_hash(&ids[i as usize]));
        idx
    }

    fn load_id(&mut self, id: ObjectId) -> Result<u32, Error> {
        let idx = self.intern(id);
        self.load(idx)?;
        Ok(idx)
    }

    /// Reads and classifies commit `idx` unless that was done already; its parents are interned.
    fn load(&mut self, idx: u32) -> Result<(), Error> {
        if self.nodes[idx as usize].flags & LOADED != 0 {
            return Ok(());
        }
        let id = self.ids[idx as usize];
        let mut buf = std::mem::take(&mut self.buf);
        let data = self
            .repo
            .objects
            .try_find(&id, &mut buf)
            .map_err(|e| Error::git(format!("read commit {id}"), e))?
            .ok_or_else(|| Error::MissingObject { id: id.to_string() })?;
        if data.kind != gix::objs::Kind::Commit {
            return Err(Error::NotACommit { id: id.to_string(), kind: data.kind.to_string() });
        }
        // A shallow-boundary commit's parents are not in this clone.
        let boundary = self.shallow.contains(&id);
        let parents_start = self.parents.len() as u32;
        let mut tree = None;
        let mut time = 0;
        let mut message: &[u8] = &[];
        for token in CommitRefIter::from_bytes(data.data, data.object_hash) {
            match token.map_err(|e| Error::git(format!("decode commit {id}"), e))? {
                Token::Tree { id } => tree = Some(id),
                Token::Parent { id } if !boundary => {
                    let parent = self.intern(id);
                    self.parents.push(parent);
                }
                Token::Committer { signature } => time = signature.seconds(),
                Token::Message(m) => message = m,
                _ => {}
            }
        }
        let bump = match self.classifier {
            Some(classifier) => classifier.classify(&String::from_utf8_lossy(message)),
            None => Bump::None,
        };
        let tree = tree.ok_or_else(|| Error::git(format!("decode commit {id}"), "no tree"))?;
        if let Some(trees) = &mut self.trees {
            trees[idx as usize] = tree;
        }
        let node = &mut self.nodes[idx as usize];
        node.time = time;
        node.bump = bump;
        node.flags |= LOADED;
        node.parents_start = parents_start;
        node.parents_len = u16::try_from(self.parents.len() as u32 - parents_start)
            .map_err(|_| Error::git(format!("decode commit {id}"), "more than 65535 parents"))?;
        self.loaded += 1;
        self.buf = buf;
        Ok(())
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
