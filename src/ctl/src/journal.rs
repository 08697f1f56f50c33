//! Replays an ext4 image's jbd2 journal in memory, read-only, so that an
//! image a killed system left (lwext4 leaves `needs_recovery` set until an
//! unmount a killed system never does) reads as a mount would see it.
//!
//! The walk follows the kernel's and e2fsck's recovery (fs/jbd2/recovery.c,
//! e2fsprogs' e2fsck/recovery.c): from the journal superblock's `s_start`
//! and `s_sequence` on, blocks are read in log order while each carries
//! the jbd2 magic and the expected sequence number. Descriptor blocks list
//! the file system blocks whose new contents follow them; revoke blocks
//! cancel earlier copies of blocks; a commit block closes a transaction.
//! Only transactions with their commit block are replayed: a torn last
//! one is left out, as the kernel leaves it out. A revoke record in
//! transaction R cancels every copy of its block from transactions up to
//! and including R, none from later ones.
//!
//! Nothing is written anywhere: the result is a map from file system
//! block to where its newest committed copy sits in the journal, which
//! [`crate::recovered`] lays over the image. Only the locations are kept,
//! so the memory needed is a few words per replayed block, whatever the
//! journal's size.
//!
//! Checksums (journal csum v2 and v3): the journal superblock's must
//! match; a descriptor or revoke block that fails its checksum in a
//! transaction that commits makes the journal corrupt (the kernel refuses
//! to mount it); a commit block that fails ends the log before its
//! transaction (as for a non-async commit in the kernel); a data block
//! that fails its tag's checksum is left out and counted, every other
//! block of the transaction is replayed (the kernel and e2fsck do the
//! same and then report the error). With the v1 `COMPAT_CHECKSUM` the
//! commit block holds a CRC32 of the transaction's descriptor and data
//! blocks; a transaction that fails it ends the log before it, as in the
//! kernel. A damaged descriptor or revoke block in a transaction whose
//! commit is older than the one before it is taken for an older
//! journal's leftovers and ends the log too (the kernel's
//! commit-time check).

use std::collections::{BTreeMap, BTreeSet};

use crate::checksum::{crc32_be, crc32c};
use crate::device::{be16, be32, Device};
use crate::ext4_layout::{BlockMap, Superblock};
pub use crate::journal_error::JournalError;

const MAGIC: u32 = 0xC03B_3998;
const HEADER: usize = 12;

const DESCRIPTOR_BLOCK: u32 = 1;
const COMMIT_BLOCK: u32 = 2;
const SUPERBLOCK_V1: u32 = 3;
const SUPERBLOCK_V2: u32 = 4;
const REVOKE_BLOCK: u32 = 5;

const COMPAT_CHECKSUM: u32 = 0x1;
const INCOMPAT_REVOKE: u32 = 0x1;
const INCOMPAT_64BIT: u32 = 0x2;
const INCOMPAT_ASYNC_COMMIT: u32 = 0x4;
const INCOMPAT_CSUM_V2: u32 = 0x8;
const INCOMPAT_CSUM_V3: u32 = 0x10;
const INCOMPAT_FAST_COMMIT: u32 = 0x20;
const KNOWN_INCOMPAT: u32 = INCOMPAT_REVOKE
    | INCOMPAT_64BIT
    | INCOMPAT_ASYNC_COMMIT
    | INCOMPAT_CSUM_V2
    | INCOMPAT_CSUM_V3
    | INCOMPAT_FAST_COMMIT;

const FLAG_ESCAPE: u32 = 0x1;
const FLAG_SAME_UUID: u32 = 0x2;
const FLAG_LAST_TAG: u32 = 0x8;

/// JBD2_CRC32C_CHKSUM, the only checksum type of csum v2 and v3.
const CHECKSUM_CRC32C: u8 = 4;
/// JBD2_CRC32_CHKSUM and its size, in a v1 commit block.
const CHECKSUM_CRC32: u8 = 1;
const CHECKSUM_CRC32_SIZE: u8 = 4;
/// h_commit_sec in a commit block.
const COMMIT_SEC: usize = 0x30;

/// Where the newest committed copy of a file system block sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copy {
    /// Byte offset of the copy in the image (a block inside the journal).
    pub offset: u64,
    /// The block started with the jbd2 magic, which the journal stores as
    /// zeros (`JBD2_FLAG_ESCAPE`): the first four bytes read back as the
    /// magic.
    pub escaped: bool,
}

/// The magic as an escaped block's first four bytes read back.
pub const ESCAPED_PREFIX: [u8; 4] = MAGIC.to_be_bytes();

/// The result of a replay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    /// File system block number -> its newest committed copy.
    pub blocks: BTreeMap<u64, Copy>,
    /// Transactions replayed (committed ones).
    pub transactions: u32,
    /// Data blocks left out because they failed their tag's checksum.
    pub bad_checksums: u32,
    /// Block copies left out because a revoke record cancelled them.
    pub revoked: u32,
    /// Whether a transaction without its commit block (torn) was left out.
    pub torn_tail: bool,
}

/// Replays the journal of the file system in `dev` whose superblock is
/// `sb`. An empty replay where the journal is clean (`s_start` 0).
pub fn replay<D: Device + ?Sized>(dev: &D, sb: &Superblock) -> Result<Replay, JournalError> {
    // Every block number below is checked against the file system's
    // size, so byte offsets cannot overflow once the size itself fits.
    if sb.blocks_count().checked_mul(sb.block_size()?).is_none() {
        return Err(JournalError::Corrupt(format!(
            "superblock: {} blocks do not fit in 64-bit byte offsets",
            sb.blocks_count()
        )));
    }
    if sb.external_journal() {
        return Err(JournalError::Unsupported(
            "the journal is on another device".into(),
        ));
    }
    let map = sb.journal_map(dev)?;
    let journal = Journal::open(dev, sb, map)?;
    journal.replay()
}

/// A descriptor tag's block, waiting for its transaction's commit.
struct Tagged {
    target: u64,
    copy: Copy,
}

struct Journal<'a, D: ?Sized> {
    dev: &'a D,
    map: BlockMap,
    block_size: u64,
    fs_blocks: u64,
    /// Log blocks are `first..last`; the log wraps from last to first.
    first: u64,
    last: u64,
    start: u64,
    sequence: u32,
    incompat: u32,
    /// v1 checksums: a CRC32 of each transaction in its commit block.
    v1_checksum: bool,
    /// The checksum seed (crc32c of the journal's UUID) with csum v2/v3.
    seed: Option<u32>,
}

impl<'a, D: Device + ?Sized> Journal<'a, D> {
    fn open(dev: &'a D, sb: &Superblock, map: BlockMap) -> Result<Self, JournalError> {
        let block_size = sb.block_size()?;
        let mut journal = Journal {
            dev,
            map,
            block_size,
            fs_blocks: sb.blocks_count(),
            first: 0,
            last: 0,
            start: 0,
            sequence: 0,
            incompat: 0,
            v1_checksum: false,
            seed: None,
        };
        let raw = journal.read_block(0)?;
        let field = |at| be32(&raw, at).unwrap_or_default();
        let corrupt = |what: String| JournalError::Corrupt(format!("journal superblock: {what}"));
        if field(0) != MAGIC {
            return Err(corrupt("no jbd2 magic".into()));
        }
        let v2 = match field(4) {
            SUPERBLOCK_V1 => false,
            SUPERBLOCK_V2 => true,
            other => return Err(corrupt(format!("block type {other}"))),
        };
        if u64::from(field(0xC)) != block_size {
            return Err(corrupt(format!(
                "block size {} on a file system of {block_size}",
                field(0xC)
            )));
        }
        let maxlen = u64::from(field(0x10));
        journal.first = u64::from(field(0x14));
        journal.sequence = field(0x18);
        journal.start = u64::from(field(0x1C));
        let (compat, incompat) = if v2 {
            (field(0x24), field(0x28))
        } else {
            (0, 0)
        };
        journal.incompat = incompat;
        journal.v1_checksum = compat & COMPAT_CHECKSUM != 0;
        if maxlen > journal.map.blocks() {
            return Err(corrupt(format!(
                "{maxlen} blocks, but the journal inode holds {}",
                journal.map.blocks()
            )));
        }
        if journal.first == 0 || journal.first >= maxlen {
            return Err(corrupt(format!(
                "log starts at block {} of {maxlen}",
                journal.first
            )));
        }
        if incompat & !KNOWN_INCOMPAT != 0 {
            return Err(JournalError::Unsupported(format!(
                "incompatible features {:#x}",
                incompat & !KNOWN_INCOMPAT
            )));
        }
        if incompat & INCOMPAT_FAST_COMMIT != 0 {
            // Fast commits are ext4's own log records after the last full
            // commit; replaying them means replaying ext4 operations.
            return Err(JournalError::Unsupported(
                "fast commits (journal feature fast_commit)".into(),
            ));
        }
        journal.last = maxlen;
        let v2_or_v3 = incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3);
        if v2_or_v3 != 0 {
            if v2_or_v3 == INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3 || compat & COMPAT_CHECKSUM != 0 {
                return Err(corrupt("more than one checksum version".into()));
            }
            if raw.get(0x50).copied() != Some(CHECKSUM_CRC32C) {
                return Err(corrupt(format!("checksum type {:?}", raw.get(0x50))));
            }
            // s_checksum at 0xFC covers the 1024 bytes of the journal
            // superblock with itself zeroed.
            let mut copy = raw.get(..1024).unwrap_or_default().to_vec();
            let stored = be32(&copy, 0xFC);
            if let Some(sum) = copy.get_mut(0xFC..0x100) {
                sum.fill(0);
            }
            if copy.len() != 1024 || stored != Some(crc32c(!0, &copy)) {
                return Err(corrupt("checksum mismatch".into()));
            }
            journal.seed = Some(crc32c(!0, raw.get(0x30..0x40).unwrap_or_default()));
        }
        if journal.start != 0 && (journal.start < journal.first || journal.start >= journal.last) {
            return Err(corrupt(format!(
                "log start {} outside {}..{}",
                journal.start, journal.first, journal.last
            )));
        }
        Ok(journal)
    }

    /// Byte offset in the image of journal block `logical`.
    fn offset(&self, logical: u64) -> Result<u64, JournalError> {
        let physical = self.map.physical(logical).ok_or_else(|| {
            JournalError::Corrupt(format!("journal block {logical} is not mapped"))
        })?;
        Ok(physical * self.block_size)
    }

    fn read_block(&self, logical: u64) -> Result<Vec<u8>, JournalError> {
        let mut block = vec![0; self.block_size as usize];
        self.dev.read_exact_at(self.offset(logical)?, &mut block)?;
        Ok(block)
    }

    /// The log position after `pos`, wrapping at the end of the log.
    fn next(&self, pos: u64) -> u64 {
        if pos + 1 >= self.last {
            self.first
        } else {
            pos + 1
        }
    }

    fn has(&self, feature: u32) -> bool {
        self.incompat & feature != 0
    }

    /// The size of a descriptor tag, as the kernel's journal_tag_bytes.
    fn tag_bytes(&self) -> usize {
        if self.has(INCOMPAT_CSUM_V3) {
            return 16;
        }
        let mut size = 12;
        if self.has(INCOMPAT_CSUM_V2) {
            size += 2;
        }
        if self.has(INCOMPAT_64BIT) {
            size
        } else {
            size - 4
        }
    }

    /// Bytes at the end of descriptor and revoke blocks that hold their
    /// checksum (`struct jbd2_journal_block_tail`).
    fn tail_bytes(&self) -> usize {
        if self.seed.is_some() {
            4
        } else {
            0
        }
    }

    /// Whether a descriptor or revoke block matches its tail checksum.
    fn tail_ok(&self, block: &[u8]) -> bool {
        let Some(seed) = self.seed else { return true };
        let at = block.len().saturating_sub(4);
        let stored = be32(block, at);
        let mut copy = block.to_vec();
        if let Some(tail) = copy.get_mut(at..) {
            tail.fill(0);
        }
        stored == Some(crc32c(seed, &copy))
    }

    /// Whether a commit block matches its checksum (h_chksum[0] at 0x10).
    fn commit_ok(&self, block: &[u8]) -> bool {
        let Some(seed) = self.seed else { return true };
        let stored = be32(block, 0x10);
        let mut copy = block.to_vec();
        if let Some(sum) = copy.get_mut(0x10..0x14) {
            sum.fill(0);
        }
        stored == Some(crc32c(seed, &copy))
    }

    /// Whether a commit block holds the v1 CRC32 of its transaction (or,
    /// as the kernel also accepts, no checksum at all).
    fn v1_commit_ok(&self, block: &[u8], sum: u32) -> bool {
        if !self.v1_checksum {
            return true;
        }
        let kind = (block.get(0xC).copied(), block.get(0xD).copied());
        let found = be32(block, 0x10);
        (found == Some(sum) && kind == (Some(CHECKSUM_CRC32), Some(CHECKSUM_CRC32_SIZE)))
            || (found == Some(0) && kind == (Some(0), Some(0)))
    }

    /// Whether a data block matches the checksum in its tag.
    fn data_ok(&self, tag: &[u8], sequence: u32, data: &[u8]) -> bool {
        let Some(seed) = self.seed else { return true };
        let sum = crc32c(crc32c(seed, &sequence.to_be_bytes()), data);
        if self.has(INCOMPAT_CSUM_V3) {
            be32(tag, 12) == Some(sum)
        } else {
            be16(tag, 4) == Some(sum as u16)
        }
    }

    fn replay(&self) -> Result<Replay, JournalError> {
        let mut out = Replay::default();
        if self.start == 0 {
            return Ok(out);
        }
        let mut pos = self.start;
        let mut sequence = self.sequence;
        let mut tagged: Vec<Tagged> = Vec::new();
        let mut revokes: BTreeSet<u64> = BTreeSet::new();
        let mut bad_checksums = 0u32;
        // What makes the transaction corrupt if it turns out to commit.
        let mut damage: Option<String> = None;
        let mut open = false;
        // The v1 CRC32 of the open transaction's descriptor and data blocks.
        let mut v1_sum = !0u32;
        let mut last_commit_time = 0u64;
        // Every step reads a new log block, and sequence numbers only
        // grow, so a walk longer than the log has lapped it: corrupt.
        let log_len = self.last - self.first;
        let mut steps = 0u64;
        loop {
            steps += 1;
            if steps > log_len + 1 {
                return Err(JournalError::Corrupt(
                    "the log runs longer than the journal".into(),
                ));
            }
            let block = self.read_block(pos)?;
            let field = |at| be32(&block, at).unwrap_or_default();
            if field(0) != MAGIC || field(8) != sequence {
                break;
            }
            match field(4) {
                DESCRIPTOR_BLOCK => {
                    open = true;
                    if !self.tail_ok(&block) {
                        damage.get_or_insert_with(|| {
                            format!("descriptor block at log block {pos}: checksum mismatch")
                        });
                    }
                    if self.v1_checksum {
                        v1_sum = crc32_be(v1_sum, &block);
                    }
                    let tag_bytes = self.tag_bytes();
                    let end = block.len() - self.tail_bytes();
                    let mut at = HEADER;
                    while at + tag_bytes <= end {
                        let Some(tag) = block.get(at..at + tag_bytes) else {
                            break;
                        };
                        let low = u64::from(be32(tag, 0).unwrap_or_default());
                        let flags = if self.has(INCOMPAT_CSUM_V3) {
                            be32(tag, 4).unwrap_or_default()
                        } else {
                            u32::from(be16(tag, 6).unwrap_or_default())
                        };
                        let high = if self.has(INCOMPAT_64BIT) {
                            u64::from(be32(tag, 8).unwrap_or_default())
                        } else {
                            0
                        };
                        let advance = tag_bytes + if flags & FLAG_SAME_UUID == 0 { 16 } else { 0 };
                        pos = self.next(pos);
                        let offset = self.offset(pos)?;
                        let mut intact = true;
                        if self.seed.is_some() || self.v1_checksum {
                            let mut data = vec![0; self.block_size as usize];
                            self.dev.read_exact_at(offset, &mut data)?;
                            intact = self.data_ok(tag, sequence, &data);
                            if self.v1_checksum {
                                v1_sum = crc32_be(v1_sum, &data);
                            }
                        }
                        if intact {
                            tagged.push(Tagged {
                                target: high << 32 | low,
                                copy: Copy {
                                    offset,
                                    escaped: flags & FLAG_ESCAPE != 0,
                                },
                            });
                        } else {
                            bad_checksums += 1;
                        }
                        at += advance;
                        if flags & FLAG_LAST_TAG != 0 {
                            break;
                        }
                    }
                }
                REVOKE_BLOCK => {
                    open = true;
                    if !self.tail_ok(&block) {
                        damage.get_or_insert_with(|| {
                            format!("revoke block at log block {pos}: checksum mismatch")
                        });
                    }
                    let count = field(12) as usize;
                    let record = if self.has(INCOMPAT_64BIT) { 8 } else { 4 };
                    if count < 16 || count > block.len() - self.tail_bytes() {
                        damage.get_or_insert_with(|| {
                            format!("revoke block at log block {pos}: {count} bytes of records")
                        });
                    } else {
                        let mut at = 16;
                        while at + record <= count {
                            let number = if record == 8 {
                                u64::from(field(at)) << 32 | u64::from(field(at + 4))
                            } else {
                                u64::from(field(at))
                            };
                            revokes.insert(number);
                            at += record;
                        }
                    }
                }
                COMMIT_BLOCK => {
                    if !self.commit_ok(&block) || !self.v1_commit_ok(&block, v1_sum) {
                        // A commit that does not check out did not happen.
                        break;
                    }
                    let commit_time = block
                        .get(COMMIT_SEC..COMMIT_SEC + 8)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, u64::from_be_bytes);
                    if let Some(what) = damage.take() {
                        if commit_time < last_commit_time {
                            // An older journal's leftovers, not ours.
                            break;
                        }
                        return Err(JournalError::Corrupt(format!(
                            "transaction {sequence}: {what}"
                        )));
                    }
                    last_commit_time = commit_time;
                    v1_sum = !0;
                    self.apply(&mut out, sequence, &mut tagged, &mut revokes)?;
                    out.bad_checksums += bad_checksums;
                    bad_checksums = 0;
                    open = false;
                    sequence = sequence.wrapping_add(1);
                }
                // A superblock in the log, or anything else: the kernel
                // ends its scan there too.
                _ => break,
            }
            pos = self.next(pos);
        }
        out.torn_tail = open;
        Ok(out)
    }

    /// Lays one committed transaction's blocks over the earlier ones.
    fn apply(
        &self,
        out: &mut Replay,
        sequence: u32,
        tagged: &mut Vec<Tagged>,
        revokes: &mut BTreeSet<u64>,
    ) -> Result<(), JournalError> {
        // A revoke record cancels copies from this transaction and every
        // earlier one: drop those already laid down, skip those here.
        for number in revokes.iter() {
            if out.blocks.remove(number).is_some() {
                out.revoked += 1;
            }
        }
        for tag in tagged.drain(..) {
            if tag.target >= self.fs_blocks {
                return Err(JournalError::Corrupt(format!(
                    "transaction {sequence} writes block {}, beyond the file system's {}",
                    tag.target, self.fs_blocks
                )));
            }
            if revokes.contains(&tag.target) {
                out.revoked += 1;
                continue;
            }
            out.blocks.insert(tag.target, tag.copy);
        }
        revokes.clear();
        out.transactions += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext4_layout::{SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE};

    /// A superblock alone: 64 KiB blocks, `count` of them, a journal in
    /// inode 8, needs_recovery.
    fn superblock(count: u64) -> (Vec<u8>, Superblock) {
        let mut image = vec![0u8; 2 * SUPERBLOCK_SIZE];
        let sb = &mut image[SUPERBLOCK_OFFSET as usize..];
        sb[0x4..0x8].copy_from_slice(&(count as u32).to_le_bytes());
        sb[0x150..0x154].copy_from_slice(&((count >> 32) as u32).to_le_bytes());
        sb[0x18..0x1C].copy_from_slice(&6u32.to_le_bytes());
        sb[0x38..0x3A].copy_from_slice(&0xEF53u16.to_le_bytes());
        sb[0x5C..0x60].copy_from_slice(&0x4u32.to_le_bytes());
        // RECOVER | 64BIT
        sb[0x60..0x64].copy_from_slice(&0x84u32.to_le_bytes());
        sb[0xE0..0xE4].copy_from_slice(&8u32.to_le_bytes());
        // s_inodes_count, s_inodes_per_group
        sb[0x0..0x4].copy_from_slice(&64u32.to_le_bytes());
        sb[0x28..0x2C].copy_from_slice(&64u32.to_le_bytes());
        sb[0xFE..0x100].copy_from_slice(&64u16.to_le_bytes());
        let parsed = Superblock::read(&image[..]).expect("superblock");
        (image, parsed)
    }

    #[test]
    fn a_file_system_too_large_for_byte_offsets_is_corrupt() {
        let (image, sb) = superblock(u64::MAX / 1024);
        let result = replay(&image[..], &sb);
        assert!(
            matches!(&result, Err(JournalError::Corrupt(what)) if what.contains("64-bit")),
            "{result:?}"
        );
    }

    #[test]
    fn an_image_that_ends_before_the_group_descriptors_is_an_io_error() {
        let (image, sb) = superblock(1 << 20);
        let result = replay(&image[..], &sb);
        assert!(matches!(result, Err(JournalError::Io(_))), "{result:?}");
    }
}
