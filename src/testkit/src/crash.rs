//! A storage that knows what a power cut may leave behind.
//!
//! Every call goes to the inner storage (the *written* state, what the
//! running manager sees). Next to it `CrashStorage` keeps the *durable*
//! state (a [`MemStorage`] holding what the last successful `sync` made
//! durable) and the list of operations since that sync. A simulated power
//! cut rebuilds a disk from the durable state plus a [`Plan`] saying which
//! of those operations survive and what became of the contents written.
//!
//! The model (doc/RELIABILITY.md gives the reasoning):
//! - `sync` makes everything before it durable; nothing synced is lost.
//! - Each metadata operation (create_dir, create file, remove, rename) is
//!   atomic: after a cut it is done or not, never half done.
//! - [`MetaOrder::Prefix`]: the operations since the last sync survive as a
//!   prefix, in the order they were made. This is what an ext4 journal
//!   gives (lwext4 included): metadata changes go into transactions that are
//!   committed and replayed in order, all or nothing, so a crash keeps some
//!   prefix of them. Any prefix of single operations is at least as many
//!   outcomes as prefixes of whole transactions.
//! - [`MetaOrder::AnySubset`]: each operation survives or not on its own
//!   (an operation whose precondition is then missing, such as a file in a
//!   directory whose creation was lost, is dropped with it). A file system
//!   without a journal, or a cache that writes blocks back in any order,
//!   could do this; the engine is meant to survive it too, since every
//!   commit and purge point is separated from what it depends on by a sync.
//! - The contents of a file created since the last sync may be complete,
//!   empty, cut short, torn (a prefix, then garbage), zeros or garbage
//!   ([`Fate`]), even when its creation survived: ext4 with delayed
//!   allocation can commit the inode before the data, and lwext4's block
//!   cache flushes in no defined order.
//! - An in-place write (`write_at`) is kept or lost like the other
//!   operations, and its [`Fate`] applies to the range it wrote, never to a
//!   byte outside it: lost ([`Fate::Empty`]) the range keeps its old bytes;
//!   cut short ([`Fate::Truncated`]) the first bytes are new and the rest
//!   of the range old; torn, zeros or garbage likewise within the range.
//!   Data and size reach the disk apart, so a write that grew the file
//!   leaves the old length where it is lost, the new one where its bytes
//!   arrived whole, torn, zeroed or garbled, and where it was cut short, the
//!   length up to the last new byte (one `write` call per part grows the
//!   file step by step, on Linux as in lwext4). A gap it left between the
//!   old end and its offset reads as zeros.
//! - There is no rename over an existing name, so none is modelled: the
//!   inner storage refuses it as the real one must.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use snapper_core::storage::MemNode;
use snapper_core::{DirEntry, MemStorage, Storage, StorageError};

use crate::image::read_image;
use crate::rng::Rng;

/// A state-changing operation that a power cut may or may not keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `create_dir(path)`.
    CreateDir(String),
    /// `write_new_file(path, bytes)`.
    Write(String, Vec<u8>),
    /// `write_at(path, offset, bytes)`.
    WriteAt(String, u64, Vec<u8>),
    /// `remove(path)`.
    Remove(String),
    /// `rename(from, to)`.
    Rename(String, String),
}

impl Op {
    /// One line for logs and failure messages.
    pub fn describe(&self) -> String {
        match self {
            Op::CreateDir(p) => format!("create_dir {p}"),
            Op::Write(p, b) => format!("write {p} ({} bytes)", b.len()),
            Op::WriteAt(p, at, b) => format!("write_at {p} at {at} ({} bytes)", b.len()),
            Op::Remove(p) => format!("remove {p}"),
            Op::Rename(a, b) => format!("rename {a} -> {b}"),
        }
    }
}

/// What became of the contents of a file written since the last sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fate {
    /// Every byte arrived.
    Full,
    /// The file exists with no bytes (inode committed, data not).
    Empty,
    /// Only the first `n` bytes (clamped to the length).
    Truncated(usize),
    /// The first `n` bytes, then garbage up to the full length.
    Torn(usize, u64),
    /// The full length, all zeros (allocated, never written).
    Zeros,
    /// The full length of garbage from the seed.
    Garbage(u64),
}

impl Fate {
    fn apply(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Fate::Full => bytes.to_vec(),
            Fate::Empty => Vec::new(),
            Fate::Truncated(n) => bytes[..n.min(bytes.len())].to_vec(),
            Fate::Torn(n, seed) => {
                let keep = n.min(bytes.len());
                let mut out = bytes[..keep].to_vec();
                out.extend(Rng::new(seed).bytes(bytes.len() - keep));
                out
            }
            Fate::Zeros => vec![0; bytes.len()],
            Fate::Garbage(seed) => Rng::new(seed).bytes(bytes.len()),
        }
    }

    /// What a cut leaves of `bytes`, written in place at `offset` of a file
    /// that held `old`: only the range `offset..offset + bytes.len()`
    /// changes, and the length as the module documentation says.
    fn apply_at(self, old: &[u8], offset: usize, bytes: &[u8]) -> Vec<u8> {
        let new = match self {
            Fate::Empty => return old.to_vec(),
            Fate::Truncated(n) => &bytes[..n.min(bytes.len())],
            _ => bytes,
        };
        // as in the backends, a write of nothing changes nothing
        if new.is_empty() {
            return old.to_vec();
        }
        let landed = self.apply(new);
        let mut out = old.to_vec();
        let end = offset + landed.len();
        out.resize(end.max(old.len()), 0);
        out[offset..end].copy_from_slice(&landed);
        out
    }

    /// Every damaged fate for a file of `len` bytes that a sweep tries at a
    /// cut in the middle of writing it.
    pub fn damaged(len: usize, seed: u64) -> Vec<Fate> {
        vec![
            Fate::Empty,
            Fate::Truncated(len / 2),
            Fate::Truncated(len.saturating_sub(1)),
            Fate::Torn(len / 3, seed),
            Fate::Zeros,
            Fate::Garbage(seed ^ 0x5A5A),
        ]
    }

    /// A random fate, complete half of the time.
    pub fn random(rng: &mut Rng, len: usize) -> Fate {
        let cut = rng.index(len + 1);
        match rng.below(10) {
            0 => Fate::Empty,
            1 => Fate::Truncated(cut),
            2 => Fate::Torn(cut, rng.next_u64()),
            3 => Fate::Zeros,
            4 => Fate::Garbage(rng.next_u64()),
            _ => Fate::Full,
        }
    }
}

/// How metadata operations since the last sync may survive a cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaOrder {
    /// A prefix, in order (ext4's journal; the default assumption).
    Prefix,
    /// Any subset (the pessimistic check).
    AnySubset,
}

/// Which pending operations survive a cut, and the fate of each write.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Plan {
    /// One per pending operation: survives, and the contents' fate (only
    /// read for writes).
    pub ops: Vec<(bool, Fate)>,
}

impl Plan {
    /// Nothing since the last sync survives.
    pub fn nothing(pending: usize) -> Self {
        Plan {
            ops: vec![(false, Fate::Full); pending],
        }
    }

    /// Everything survives with its contents.
    pub fn everything(pending: usize) -> Self {
        Self::prefix(pending, pending)
    }

    /// The first `keep` operations survive, complete.
    pub fn prefix(pending: usize, keep: usize) -> Self {
        Plan {
            ops: (0..pending).map(|i| (i < keep, Fate::Full)).collect(),
        }
    }

    /// A seeded random outcome: which operations survive per `order`, and
    /// a random fate for every write.
    pub fn random(pending: &[Op], order: MetaOrder, rng: &mut Rng) -> Self {
        let keep = rng.index(pending.len() + 1);
        Plan {
            ops: pending
                .iter()
                .enumerate()
                .map(|(i, op)| {
                    let survives = match order {
                        MetaOrder::Prefix => i < keep,
                        MetaOrder::AnySubset => rng.chance(1, 2),
                    };
                    let fate = match op {
                        Op::Write(_, bytes) | Op::WriteAt(_, _, bytes) => {
                            Fate::random(rng, bytes.len())
                        }
                        _ => Fate::Full,
                    };
                    (survives, fate)
                })
                .collect(),
        }
    }
}

/// See the module documentation.
pub struct CrashStorage<S> {
    inner: S,
    durable: MemStorage,
    pending: Vec<Op>,
    /// State-changing operations and syncs that succeeded: the cut points.
    ops: u64,
    cut_after: Option<u64>,
    dead: bool,
    trace: Vec<String>,
    overwrites: Vec<String>,
    check_deletions: bool,
    early_deletions: Vec<String>,
}

impl CrashStorage<MemStorage> {
    /// Over a memory storage whose present contents count as durable.
    pub fn over(inner: MemStorage) -> Self {
        CrashStorage {
            durable: inner.clone(),
            inner,
            pending: Vec::new(),
            ops: 0,
            cut_after: None,
            dead: false,
            trace: Vec::new(),
            overwrites: Vec::new(),
            check_deletions: false,
            early_deletions: Vec::new(),
        }
    }
}

impl<S: Storage> CrashStorage<S> {
    /// Over any storage; its present contents (read once, here) count as
    /// durable.
    pub fn new(mut inner: S) -> Result<Self, StorageError> {
        let durable = read_image(&mut inner)?;
        Ok(CrashStorage {
            inner,
            durable,
            pending: Vec::new(),
            ops: 0,
            cut_after: None,
            dead: false,
            trace: Vec::new(),
            overwrites: Vec::new(),
            check_deletions: false,
            early_deletions: Vec::new(),
        })
    }

    /// Cuts power right after the `n`th cut point (1-based): from then on
    /// every call fails with `Io` and changes nothing.
    pub fn cut_after(mut self, n: u64) -> Self {
        self.cut_after = Some(n);
        self
    }

    /// Files created or renamed onto a name that exists (DESIGN.md
    /// invariant 6 says never; the real stack could not do it atomically).
    pub fn overwrites(&self) -> &[String] {
        &self.overwrites
    }

    /// Checks every deletion of a pack against the durable state
    /// (DESIGN.md invariant 5: a pack goes only after the removal of the
    /// last archive that used a payload in it is durable). Decodes the
    /// durable archives at each deletion, so it is meant for one run, not a
    /// sweep.
    pub fn check_deletions(mut self) -> Self {
        self.check_deletions = true;
        self
    }

    /// Packs deleted while a durable valid archive used them.
    pub fn early_deletions(&self) -> &[String] {
        &self.early_deletions
    }

    /// Whether the power has been cut.
    pub fn is_cut(&self) -> bool {
        self.dead
    }

    /// Cut points so far (state-changing operations and syncs that succeeded).
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// One line per cut point so far, for failure messages.
    pub fn trace(&self) -> &[String] {
        &self.trace
    }

    /// The operations since the last sync (up to the cut, if any).
    pub fn pending(&self) -> &[Op] {
        &self.pending
    }

    /// The written state, as the running manager sees it.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The disk as a power cut now would leave it under `plan`. Surviving
    /// operations are replayed in order on the durable state; one whose
    /// precondition is missing (only possible with a subset) is dropped.
    pub fn image(&self, plan: &Plan) -> MemStorage {
        let mut disk = self.durable.clone();
        for (op, (survives, fate)) in self.pending.iter().zip(plan.ops.iter()) {
            if !survives {
                continue;
            }
            // Errors here are dropped operations, as explained above.
            let _ = match op {
                Op::CreateDir(p) => disk.create_dir(p),
                Op::Write(p, bytes) => disk.write_new_file(p, &[&fate.apply(bytes)]),
                Op::WriteAt(p, offset, bytes) => write_at_fate(&mut disk, p, *offset, bytes, *fate),
                Op::Remove(p) => disk.remove(p),
                Op::Rename(a, b) => disk.rename(a, b),
            };
        }
        disk
    }

    /// The durable outcomes a sweep tries at this cut, without duplicates:
    /// every prefix of the pending operations (nothing and everything among
    /// them); every prefix whose last operation is a write, with each
    /// damaged fate of that write; everything with every write damaged;
    /// and `random` seeded random plans in each [`MetaOrder`].
    pub fn outcomes(&self, random: u64, seed: u64) -> Vec<MemStorage> {
        let n = self.pending.len();
        let mut plans = Vec::new();
        for keep in 0..=n {
            plans.push(Plan::prefix(n, keep));
            if let Some(Op::Write(_, bytes) | Op::WriteAt(_, _, bytes)) =
                keep.checked_sub(1).map(|i| &self.pending[i])
            {
                for fate in Fate::damaged(bytes.len(), seed ^ keep as u64) {
                    let mut plan = Plan::prefix(n, keep);
                    plan.ops[keep - 1].1 = fate;
                    plans.push(plan);
                }
            }
        }
        for fate in [Fate::Empty, Fate::Garbage(seed)] {
            let mut plan = Plan::everything(n);
            for (slot, op) in plan.ops.iter_mut().zip(&self.pending) {
                if matches!(op, Op::Write(..) | Op::WriteAt(..)) {
                    slot.1 = fate;
                }
            }
            plans.push(plan);
        }
        let mut rng = Rng::new(seed);
        for _ in 0..random {
            plans.push(Plan::random(&self.pending, MetaOrder::Prefix, &mut rng));
            plans.push(Plan::random(&self.pending, MetaOrder::AnySubset, &mut rng));
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for plan in plans {
            let disk = self.image(&plan);
            if seen.insert(fingerprint(&disk)) {
                out.push(disk);
            }
        }
        out
    }

    fn alive(&self) -> Result<(), StorageError> {
        if self.dead {
            Err(StorageError::Io)
        } else {
            Ok(())
        }
    }

    fn point(&mut self, what: String) {
        self.ops += 1;
        self.trace.push(what);
        if self.cut_after == Some(self.ops) {
            self.dead = true;
        }
    }

    fn record(&mut self, result: Result<(), StorageError>, op: Op) -> Result<(), StorageError> {
        if result.is_ok() {
            let what = op.describe();
            self.pending.push(op);
            self.point(what);
        }
        result
    }
}

/// Replays a surviving `write_at` on `disk` with `fate` on its range; like
/// any replayed operation, it is dropped where its file is missing.
fn write_at_fate(
    disk: &mut MemStorage,
    path: &str,
    offset: u64,
    bytes: &[u8],
    fate: Fate,
) -> Result<(), StorageError> {
    let offset = usize::try_from(offset).map_err(|_| StorageError::NoSpace)?;
    match disk.nodes_mut().get_mut(path) {
        Some(MemNode::File(old)) => {
            *old = fate.apply_at(old, offset, bytes);
            Ok(())
        }
        Some(MemNode::Dir) => Err(StorageError::WrongKind),
        None => Err(StorageError::NotFound),
    }
}

/// A hash of a whole disk, to try each distinct outcome once.
fn fingerprint(disk: &MemStorage) -> u64 {
    let mut hasher = DefaultHasher::new();
    for (path, node) in disk.nodes() {
        path.hash(&mut hasher);
        match node {
            MemNode::Dir => 0u8.hash(&mut hasher),
            MemNode::File(bytes) => bytes.hash(&mut hasher),
        }
    }
    hasher.finish()
}

impl<S: Storage> Storage for CrashStorage<S> {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        self.alive()?;
        let result = self.inner.create_dir(path);
        self.record(result, Op::CreateDir(path.into()))
    }

    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.alive()?;
        let result = self.inner.write_new_file(path, parts);
        if result == Err(StorageError::AlreadyExists) {
            self.overwrites.push(format!("write_new_file {path}"));
        }
        self.record(result, Op::Write(path.into(), parts.concat()))
    }

    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.alive()?;
        let result = self.inner.write_at(path, offset, parts);
        self.record(result, Op::WriteAt(path.into(), offset, parts.concat()))
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        self.alive()?;
        self.inner.read_at(path, offset, buf)
    }

    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        self.alive()?;
        self.inner.file_size(path)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        self.alive()?;
        self.inner.list_dir(path)
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        self.alive()?;
        if self.check_deletions
            && path.contains("/pack/")
            && crate::image::used_packs(&self.durable)
                .values()
                .any(|p| p.path == path)
        {
            self.early_deletions.push(path.into());
        }
        let result = self.inner.remove(path);
        self.record(result, Op::Remove(path.into()))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        self.alive()?;
        let result = self.inner.rename(from, to);
        if result == Err(StorageError::AlreadyExists) {
            self.overwrites.push(format!("rename {from} -> {to}"));
        }
        self.record(result, Op::Rename(from.into(), to.into()))
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.alive()?;
        self.inner.sync()?;
        let survived = self.image(&Plan::everything(self.pending.len()));
        self.durable = survived;
        self.pending.clear();
        self.point("sync".into());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_operations_may_vanish_and_synced_ones_stay() {
        let mut fs = CrashStorage::over(MemStorage::new());
        fs.create_dir("a").unwrap();
        fs.write_new_file("a/f", &[b"hello"]).unwrap();
        fs.sync().unwrap();
        fs.write_new_file("a/g", &[b"world"]).unwrap();
        fs.remove("a/f").unwrap();
        assert_eq!(fs.pending().len(), 2);
        let nothing = fs.image(&Plan::nothing(2));
        assert!(nothing.nodes().contains_key("a/f"));
        assert!(!nothing.nodes().contains_key("a/g"));
        let all = fs.image(&Plan::everything(2));
        assert_eq!(all, *fs.inner());
        // A subset: the remove survives, the write does not.
        let odd = fs.image(&Plan {
            ops: vec![(false, Fate::Full), (true, Fate::Full)],
        });
        assert!(odd.nodes().is_empty() || odd.nodes().keys().all(|k| k == "a"));
        // A torn write keeps its length and its prefix.
        let torn = fs.image(&Plan {
            ops: vec![(true, Fate::Torn(2, 7)), (false, Fate::Full)],
        });
        match torn.nodes().get("a/g") {
            Some(MemNode::File(bytes)) => {
                assert_eq!(bytes.len(), 5);
                assert_eq!(&bytes[..2], b"wo");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cut_stops_everything_and_freezes_the_pending_list() {
        let mut fs = CrashStorage::over(MemStorage::new()).cut_after(2);
        fs.create_dir("a").unwrap();
        assert!(fs.create_dir("a").is_err(), "failed ops are no cut points");
        fs.create_dir("a/b").unwrap();
        assert!(fs.is_cut());
        assert_eq!(fs.create_dir("c"), Err(StorageError::Io));
        assert_eq!(fs.list_dir(""), Err(StorageError::Io));
        assert_eq!(fs.pending().len(), 2);
        assert_eq!(fs.ops(), 2);
        // Outcomes: every prefix (3), no writes, so no fates beyond those.
        assert_eq!(fs.outcomes(0, 1).len(), 3);
    }

    /// File `f` of `old`, synced, then `write_at(f, offset, new)` pending.
    fn after_write_at(old: &[u8], offset: u64, new: &[u8]) -> CrashStorage<MemStorage> {
        let mut fs = CrashStorage::over(MemStorage::new());
        fs.write_new_file("f", &[old]).unwrap();
        fs.sync().unwrap();
        fs.write_at("f", offset, &[new]).unwrap();
        assert_eq!(
            fs.pending(),
            [Op::WriteAt("f".into(), offset, new.to_vec())]
        );
        fs
    }

    fn file_after(fs: &CrashStorage<MemStorage>, survives: bool, fate: Fate) -> Vec<u8> {
        let disk = fs.image(&Plan {
            ops: vec![(survives, fate)],
        });
        match disk.nodes().get("f") {
            Some(MemNode::File(bytes)) => bytes.clone(),
            other => panic!("f is {other:?}"),
        }
    }

    #[test]
    fn a_cut_after_an_unsynced_write_at_gives_each_fate_on_its_range() {
        let fs = after_write_at(b"0123456789", 3, b"abcd");
        let garbage = |seed, len| Rng::new(seed).bytes(len);
        let cases: [(bool, Fate, Vec<u8>); 8] = [
            (false, Fate::Full, b"0123456789".to_vec()),
            (true, Fate::Full, b"012abcd789".to_vec()),
            (true, Fate::Empty, b"0123456789".to_vec()),
            (true, Fate::Truncated(2), b"012ab56789".to_vec()),
            (true, Fate::Truncated(0), b"0123456789".to_vec()),
            (
                true,
                Fate::Torn(1, 9),
                [&b"012a"[..], &garbage(9, 3), b"789"].concat(),
            ),
            (true, Fate::Zeros, [&b"012"[..], &[0; 4], b"789"].concat()),
            (
                true,
                Fate::Garbage(5),
                [&b"012"[..], &garbage(5, 4), b"789"].concat(),
            ),
        ];
        for (survives, fate, expected) in cases {
            assert_eq!(
                file_after(&fs, survives, fate),
                expected,
                "{survives} {fate:?}"
            );
        }
        // every outcome a sweep tries changes no byte outside the range,
        // and among them are the old bytes, the new ones and damaged ones
        let outcomes = fs.outcomes(20, 3);
        let files: Vec<Vec<u8>> = outcomes
            .iter()
            .map(|disk| match disk.nodes().get("f") {
                Some(MemNode::File(bytes)) => bytes.clone(),
                other => panic!("f is {other:?}"),
            })
            .collect();
        for bytes in &files {
            assert_eq!(bytes.len(), 10);
            assert_eq!((&bytes[..3], &bytes[7..]), (&b"012"[..], &b"789"[..]));
        }
        assert!(files.contains(&b"0123456789".to_vec()));
        assert!(files.contains(&b"012abcd789".to_vec()));
        // without random plans: old, new, five damaged fates of the last
        // write (Empty is the old bytes) and all writes garbled
        assert!(fs.outcomes(0, 3).len() >= 8);
    }

    #[test]
    fn a_write_at_that_grew_the_file_keeps_the_old_length_unless_its_bytes_arrived() {
        let fs = after_write_at(b"0123456789", 8, b"XYZW");
        let cases: [(bool, Fate, &[u8]); 7] = [
            (false, Fate::Full, b"0123456789"),
            (true, Fate::Empty, b"0123456789"),
            (true, Fate::Full, b"01234567XYZW"),
            (true, Fate::Truncated(1), b"01234567X9"),
            (true, Fate::Truncated(3), b"01234567XYZ"),
            (true, Fate::Zeros, b"01234567\0\0\0\0"),
            (true, Fate::Truncated(0), b"0123456789"),
        ];
        for (survives, fate, expected) in cases {
            assert_eq!(file_after(&fs, survives, fate), expected, "{fate:?}");
        }
        // past the end: the gap reads as zeros in every fate that grows
        let fs = after_write_at(b"0123456789", 12, b"QR");
        assert_eq!(file_after(&fs, true, Fate::Full), b"0123456789\0\0QR");
        assert_eq!(
            file_after(&fs, true, Fate::Truncated(1)),
            b"0123456789\0\0Q"
        );
        assert_eq!(file_after(&fs, true, Fate::Empty), b"0123456789");
        assert_eq!(file_after(&fs, false, Fate::Full), b"0123456789");
    }

    #[test]
    fn a_synced_write_at_survives_every_later_cut() {
        let mut fs = after_write_at(b"0123456789", 3, b"abcd");
        assert_eq!(*fs.inner(), fs.image(&Plan::everything(1)));
        fs.sync().unwrap();
        assert!(fs.pending().is_empty());
        fs.write_at("f", 0, &[b"??"]).unwrap();
        for plan in [Plan::nothing(1), Plan::everything(1)] {
            let disk = fs.image(&plan);
            match disk.nodes().get("f") {
                Some(MemNode::File(bytes)) => assert_eq!(&bytes[2..], b"2abcd789"),
                other => panic!("f is {other:?}"),
            }
        }
        let nothing = fs.image(&Plan::nothing(1));
        assert_eq!(
            nothing.nodes().get("f"),
            Some(&MemNode::File(b"012abcd789".to_vec()))
        );
        // a failed write_at is no cut point and nothing pending
        assert_eq!(
            fs.write_at("missing", 0, &[b"x"]),
            Err(StorageError::NotFound)
        );
        assert_eq!(fs.pending().len(), 1);
    }

    #[test]
    fn any_storage_can_be_wrapped() {
        let mut inner = MemStorage::new();
        inner.create_dir("x").unwrap();
        inner.write_new_file("x/y", &[b"abc"]).unwrap();
        let fs = CrashStorage::new(inner.clone()).unwrap();
        assert_eq!(fs.image(&Plan::nothing(0)), inner);
    }
}
