//! The few ext4 structures the journal replay needs before ext4-view can
//! open an image: the superblock's fields, one group descriptor, the
//! journal inode and its block map (extents or the old indirect blocks).
//! They are read from the image as it is: the kernel and e2fsck find the
//! journal through the on-disk inode too, never through the journal.
//!
//! Field offsets are those of the kernel's `struct ext4_super_block`,
//! `struct ext4_group_desc` and `struct ext4_inode` (all little-endian).

use crate::checksum::crc32c;
use crate::device::{le16, le32, Device};
use crate::journal_error::JournalError;

/// Where the superblock starts on the device, whatever the block size.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
/// Its size.
pub const SUPERBLOCK_SIZE: usize = 1024;

const MAGIC: u16 = 0xEF53;
const S_INODES_COUNT: usize = 0x0;
const S_BLOCKS_COUNT_LO: usize = 0x4;
const S_FIRST_DATA_BLOCK: usize = 0x14;
const S_LOG_BLOCK_SIZE: usize = 0x18;
const S_INODES_PER_GROUP: usize = 0x28;
const S_MAGIC: usize = 0x38;
const S_REV_LEVEL: usize = 0x4C;
const S_INODE_SIZE: usize = 0x58;
const S_FEATURE_COMPAT: usize = 0x5C;
const S_FEATURE_INCOMPAT: usize = 0x60;
const S_FEATURE_RO_COMPAT: usize = 0x64;
const S_JOURNAL_INUM: usize = 0xE0;
const S_DESC_SIZE: usize = 0xFE;
const S_BLOCKS_COUNT_HI: usize = 0x150;
const S_CHECKSUM: usize = 0x3FC;

const COMPAT_HAS_JOURNAL: u32 = 0x4;
const INCOMPAT_RECOVER: u32 = 0x4;
const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_64BIT: u32 = 0x80;
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;

/// The ext4 superblock, as 1024 raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
    raw: Vec<u8>,
}

impl Superblock {
    /// Reads the superblock of `dev`; `Corrupt` if it is not ext4's.
    pub fn read<D: Device + ?Sized>(dev: &D) -> Result<Self, JournalError> {
        let mut raw = vec![0; SUPERBLOCK_SIZE];
        dev.read_exact_at(SUPERBLOCK_OFFSET, &mut raw)?;
        Self::from_bytes(raw)
    }

    /// Takes 1024 bytes as a superblock; `Corrupt` without ext4's magic.
    pub fn from_bytes(raw: Vec<u8>) -> Result<Self, JournalError> {
        if raw.len() != SUPERBLOCK_SIZE || le16(&raw, S_MAGIC) != Some(MAGIC) {
            return Err(JournalError::Corrupt("no ext4 superblock".into()));
        }
        Ok(Superblock { raw })
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.raw
    }

    // The offsets are constants inside the 1024 bytes from_bytes checked,
    // so the readers below cannot miss.
    fn u16_at(&self, at: usize) -> u16 {
        le16(&self.raw, at).unwrap_or_default()
    }

    fn u32_at(&self, at: usize) -> u32 {
        le32(&self.raw, at).unwrap_or_default()
    }

    /// The block size in bytes.
    pub fn block_size(&self) -> Result<u64, JournalError> {
        // ext4 allows 1 KiB to 64 KiB.
        match self.u32_at(S_LOG_BLOCK_SIZE) {
            log @ 0..=6 => Ok(1024 << log),
            log => Err(JournalError::Corrupt(format!(
                "superblock: block size 2^{} KiB",
                log
            ))),
        }
    }

    /// The number of blocks.
    pub fn blocks_count(&self) -> u64 {
        let high = if self.incompat() & INCOMPAT_64BIT != 0 {
            u64::from(self.u32_at(S_BLOCKS_COUNT_HI))
        } else {
            0
        };
        high << 32 | u64::from(self.u32_at(S_BLOCKS_COUNT_LO))
    }

    fn incompat(&self) -> u32 {
        self.u32_at(S_FEATURE_INCOMPAT)
    }

    /// Whether the journal holds transactions not yet written to their
    /// place (`needs_recovery`, INCOMPAT_RECOVER).
    pub fn needs_recovery(&self) -> bool {
        self.incompat() & INCOMPAT_RECOVER != 0
    }

    /// Whether the file system has a journal.
    pub fn has_journal(&self) -> bool {
        self.u32_at(S_FEATURE_COMPAT) & COMPAT_HAS_JOURNAL != 0
    }

    /// Whether the journal lives on another device.
    pub fn external_journal(&self) -> bool {
        self.incompat() & INCOMPAT_JOURNAL_DEV != 0 || self.u32_at(S_JOURNAL_INUM) == 0
    }

    /// Clears `needs_recovery`, as e2fsck does once it has replayed the
    /// journal, and renews the checksum where the file system has
    /// metadata checksums (ext4-view checks it).
    pub fn clear_needs_recovery(&mut self) {
        let cleared = self.incompat() & !INCOMPAT_RECOVER;
        self.put_u32(S_FEATURE_INCOMPAT, cleared);
        if self.u32_at(S_FEATURE_RO_COMPAT) & RO_COMPAT_METADATA_CSUM != 0 {
            let sum = crc32c(!0, self.raw.get(..S_CHECKSUM).unwrap_or_default());
            self.put_u32(S_CHECKSUM, sum);
        }
    }

    fn put_u32(&mut self, at: usize, value: u32) {
        if let Some(field) = self.raw.get_mut(at..at + 4) {
            field.copy_from_slice(&value.to_le_bytes());
        }
    }

    /// Reads inode `number` (its first 128 bytes, all the replay needs).
    fn inode<D: Device + ?Sized>(&self, dev: &D, number: u32) -> Result<Vec<u8>, JournalError> {
        let corrupt = |what: &str| JournalError::Corrupt(format!("inode {number}: {what}"));
        let block_size = self.block_size()?;
        let per_group = self.u32_at(S_INODES_PER_GROUP);
        if number == 0 || number > self.u32_at(S_INODES_COUNT) || per_group == 0 {
            return Err(corrupt("no such inode"));
        }
        let group = u64::from((number - 1) / per_group);
        let index = u64::from((number - 1) % per_group);
        let wide = self.incompat() & INCOMPAT_64BIT != 0;
        let desc_size = if wide {
            u64::from(self.u16_at(S_DESC_SIZE))
        } else {
            32
        };
        if desc_size < 32 || (wide && desc_size < 64) {
            return Err(JournalError::Corrupt(format!(
                "superblock: group descriptor size {desc_size}"
            )));
        }
        if self.incompat() & INCOMPAT_META_BG != 0 && group > 0 {
            // Group 0's descriptor is where it always is; the journal
            // inode (8) is in group 0 on every file system mke2fs makes.
            return Err(JournalError::Unsupported(
                "the journal inode is beyond group 0 on a meta_bg file system".into(),
            ));
        }
        // The descriptors start in the block after the superblock's.
        let table_start = (u64::from(self.u32_at(S_FIRST_DATA_BLOCK)) + 1) * block_size;
        let mut desc = vec![0; desc_size as usize];
        dev.read_exact_at(table_start + group * desc_size, &mut desc)?;
        // bg_inode_table_lo at 0x8, bg_inode_table_hi at 0x28.
        let low = le32(&desc, 0x8).unwrap_or_default();
        let high = if wide {
            le32(&desc, 0x28).unwrap_or_default()
        } else {
            0
        };
        let inode_table = u64::from(high) << 32 | u64::from(low);
        let inode_size = if self.u32_at(S_REV_LEVEL) == 0 {
            128
        } else {
            u64::from(self.u16_at(S_INODE_SIZE))
        };
        if inode_size < 128 || inode_size > block_size {
            return Err(JournalError::Corrupt(format!(
                "superblock: inode size {inode_size}"
            )));
        }
        if inode_table == 0 || inode_table >= self.blocks_count() {
            return Err(corrupt(
                "its group's inode table is outside the file system",
            ));
        }
        let mut inode = vec![0; 128];
        dev.read_exact_at(inode_table * block_size + index * inode_size, &mut inode)?;
        Ok(inode)
    }

    /// The journal inode's block map and size in blocks.
    pub fn journal_map<D: Device + ?Sized>(&self, dev: &D) -> Result<BlockMap, JournalError> {
        let number = self.u32_at(S_JOURNAL_INUM);
        let inode = self.inode(dev, number)?;
        let corrupt =
            |what: String| JournalError::Corrupt(format!("journal inode {number}: {what}"));
        let mode = le16(&inode, 0x0).unwrap_or_default();
        if mode & 0xF000 != 0x8000 {
            return Err(corrupt(format!("not a regular file (mode {mode:#o})")));
        }
        let size = u64::from(le32(&inode, 0x6C).unwrap_or_default()) << 32
            | u64::from(le32(&inode, 0x4).unwrap_or_default());
        let block_size = self.block_size()?;
        let blocks = size / block_size;
        if blocks > self.blocks_count() {
            return Err(corrupt(format!(
                "{size} bytes, larger than the file system"
            )));
        }
        let flags = le32(&inode, 0x20).unwrap_or_default();
        let i_block = inode.get(0x28..0x28 + 60).unwrap_or_default();
        let mut walk = Walk {
            dev,
            block_size,
            fs_blocks: self.blocks_count(),
            length: blocks,
            runs: Vec::new(),
            nodes: 0,
        };
        // EXT4_EXTENTS_FL
        if flags & 0x8_0000 != 0 {
            walk.extents(i_block, None)?;
        } else {
            walk.indirect(i_block)?;
        }
        let mut runs = walk.runs;
        runs.sort_by_key(|r| r.logical);
        if runs
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.logical + a.len > b.logical))
        {
            return Err(corrupt("overlapping extents".into()));
        }
        Ok(BlockMap { runs, blocks })
    }
}

/// Logical blocks `logical..logical + len` of a file sit at `physical..`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    logical: u64,
    physical: u64,
    len: u64,
}

/// Where each block of a file (the journal) sits on the device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockMap {
    runs: Vec<Run>,
    blocks: u64,
}

impl BlockMap {
    /// The file's length in blocks (from its inode's size).
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// The physical block of logical block `logical`, if mapped.
    pub fn physical(&self, logical: u64) -> Option<u64> {
        let at = self.runs.partition_point(|r| r.logical + r.len <= logical);
        let run = self.runs.get(at)?;
        (run.logical <= logical).then(|| run.physical + (logical - run.logical))
    }
}

/// Walks an extent tree or an indirect block map, collecting runs.
struct Walk<'a, D: ?Sized> {
    dev: &'a D,
    block_size: u64,
    fs_blocks: u64,
    /// The file's length in blocks: nothing beyond it is mapped.
    length: u64,
    runs: Vec<Run>,
    /// Tree blocks read so far: a damaged tree must not make the walk
    /// read (or loop) without end.
    nodes: u64,
}

/// The deepest extent tree the kernel builds (EXT4_MAX_EXTENT_DEPTH).
const MAX_DEPTH: u16 = 5;

impl<D: Device + ?Sized> Walk<'_, D> {
    fn corrupt(what: String) -> JournalError {
        JournalError::Corrupt(format!("journal inode's block map: {what}"))
    }

    fn read_node(&mut self, block: u64) -> Result<Vec<u8>, JournalError> {
        if block == 0 || block >= self.fs_blocks {
            return Err(Self::corrupt(format!(
                "block {block} is outside the file system"
            )));
        }
        self.nodes += 1;
        if self.nodes > self.length + 64 {
            return Err(Self::corrupt(
                "more tree blocks than the file has blocks".into(),
            ));
        }
        let mut node = vec![0; self.block_size as usize];
        self.dev.read_exact_at(block * self.block_size, &mut node)?;
        Ok(node)
    }

    fn push(&mut self, logical: u64, physical: u64, len: u64) -> Result<(), JournalError> {
        if len == 0 || logical >= self.length {
            return Ok(());
        }
        let len = len.min(self.length - logical);
        if physical == 0
            || physical
                .checked_add(len)
                .is_none_or(|end| end > self.fs_blocks)
        {
            return Err(Self::corrupt(format!(
                "blocks {physical}+{len} are outside the file system"
            )));
        }
        match self.runs.last_mut() {
            Some(last)
                if last.logical + last.len == logical && last.physical + last.len == physical =>
            {
                last.len += len;
            }
            _ => self.runs.push(Run {
                logical,
                physical,
                len,
            }),
        }
        Ok(())
    }

    /// One extent tree node: the 60 bytes of i_block, or a tree block.
    /// `depth` is what the parent expects (None at the root).
    fn extents(&mut self, node: &[u8], expect: Option<u16>) -> Result<(), JournalError> {
        let header = |at| le16(node, at).ok_or_else(|| Self::corrupt("short node".into()));
        if header(0)? != 0xF30A {
            return Err(Self::corrupt("bad extent header magic".into()));
        }
        let entries = header(2)?;
        let depth = header(6)?;
        if depth > MAX_DEPTH || expect.is_some_and(|d| d != depth) {
            return Err(Self::corrupt(format!("extent tree depth {depth}")));
        }
        for i in 0..usize::from(entries) {
            let at = 12 + 12 * i;
            let field32 =
                |off| le32(node, at + off).ok_or_else(|| Self::corrupt("short node".into()));
            let field16 =
                |off| le16(node, at + off).ok_or_else(|| Self::corrupt("short node".into()));
            let logical = u64::from(field32(0)?);
            if depth == 0 {
                // ee_len above 32768 marks an unwritten extent of len - 32768.
                let len = match field16(4)? {
                    len @ 0..=32768 => len,
                    len => len - 32768,
                };
                let physical = u64::from(field16(6)?) << 32 | u64::from(field32(8)?);
                self.push(logical, physical, u64::from(len))?;
            } else {
                let child = u64::from(field16(8)?) << 32 | u64::from(field32(4)?);
                let block = self.read_node(child)?;
                self.extents(&block, Some(depth - 1))?;
            }
        }
        Ok(())
    }

    /// The classic map: 12 direct blocks, then single, double and triple
    /// indirect blocks of 32-bit block numbers.
    fn indirect(&mut self, i_block: &[u8]) -> Result<(), JournalError> {
        let per_block = self.block_size / 4;
        let mut logical = 0u64;
        for slot in 0..15usize {
            if logical >= self.length {
                break;
            }
            let block = u64::from(le32(i_block, slot * 4).unwrap_or_default());
            let level = slot.saturating_sub(11) as u32;
            let span = per_block.pow(level);
            if block != 0 {
                self.indirect_level(block, level, logical)?;
            }
            logical += span;
        }
        Ok(())
    }

    /// `block` maps `per_block^level` blocks from `logical` on (level 0:
    /// it is the data block itself).
    fn indirect_level(&mut self, block: u64, level: u32, logical: u64) -> Result<(), JournalError> {
        if level == 0 {
            return self.push(logical, block, 1);
        }
        let per_block = self.block_size / 4;
        let span = per_block.pow(level - 1);
        let node = self.read_node(block)?;
        for i in 0..per_block {
            let start = logical + i * span;
            if start >= self.length {
                break;
            }
            let child = u64::from(le32(&node, (i * 4) as usize).unwrap_or_default());
            if child != 0 {
                self.indirect_level(child, level - 1, start)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_map_finds_blocks_in_runs_and_none_in_holes() {
        let map = BlockMap {
            runs: vec![
                Run {
                    logical: 0,
                    physical: 100,
                    len: 4,
                },
                Run {
                    logical: 6,
                    physical: 50,
                    len: 2,
                },
            ],
            blocks: 8,
        };
        assert_eq!(map.physical(0), Some(100));
        assert_eq!(map.physical(3), Some(103));
        assert_eq!(map.physical(4), None);
        assert_eq!(map.physical(7), Some(51));
        assert_eq!(map.physical(8), None);
    }
}
