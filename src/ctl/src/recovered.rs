//! Opens an ext4 image with ext4-view as a mount would see it: where the
//! superblock says the journal needs recovery, the journal is replayed in
//! memory ([`crate::journal`]) and ext4-view reads the image through that
//! replay, with `needs_recovery` cleared in the superblock it is shown.
//! The image itself is only ever read.
//!
//! ext4-view 1.0 replays journals itself only when they have the `64bit`
//! and `csum_v3` features (an image made with `-O ^metadata_csum`, as the
//! Genode scenario's is, never has them); it refuses the rest with
//! `missing required journal features`. With the flag cleared it does not
//! look at the journal at all, so every journal takes the one path here.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::path::Path;

use ext4_view::{Ext4, Ext4Error, Ext4Read};

use crate::device::Device;
use crate::ext4_layout::{Superblock, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE};
use crate::journal::{self, Copy, JournalError, Replay, ESCAPED_PREFIX};

/// What the replay did, for the line the tool prints about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Committed transactions replayed.
    pub transactions: u32,
    /// Distinct file system blocks they left.
    pub blocks: usize,
    /// Block copies cancelled by revoke records.
    pub revoked: u32,
    /// Data blocks left out because they failed their checksum.
    pub bad_checksums: u32,
    /// A last transaction without its commit block was left out.
    pub torn_tail: bool,
}

impl fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} committed transactions ({} blocks) replayed in memory",
            self.transactions, self.blocks
        )?;
        if self.revoked > 0 {
            write!(f, ", {} revoked block copies left out", self.revoked)?;
        }
        if self.torn_tail {
            write!(f, ", an uncommitted last transaction left out")?;
        }
        if self.bad_checksums > 0 {
            write!(
                f,
                ", {} blocks that fail their journal checksum left out (the kernel \
                 would refuse to mount it; e2fsck leaves them out too)",
                self.bad_checksums
            )?;
        }
        Ok(())
    }
}

/// Why an image did not open.
#[derive(Debug)]
pub enum OpenError {
    /// The image could not be opened or its superblock read.
    Io(std::io::Error),
    /// Its journal needs recovery and could not be replayed.
    Journal(JournalError),
    /// ext4-view refused the image (after any replay).
    Ext4(Ext4Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "{e}"),
            OpenError::Journal(e) => write!(f, "its journal needs recovery: {e}"),
            OpenError::Ext4(e) => write!(f, "{e}"),
        }
    }
}

/// Loads `image` with ext4-view, replaying its journal first if it needs
/// recovery. The summary is `Some` when a replay was needed.
pub fn load(image: &Path) -> Result<(Ext4, Option<ReplaySummary>), OpenError> {
    let file = File::open(image).map_err(OpenError::Io)?;
    // Not ext4 (or too short): let ext4-view say what it makes of it.
    let Ok(superblock) = Superblock::read(&file) else {
        return Ok((Ext4::load(Box::new(file)).map_err(OpenError::Ext4)?, None));
    };
    if !(superblock.needs_recovery() && superblock.has_journal()) {
        return Ok((Ext4::load(Box::new(file)).map_err(OpenError::Ext4)?, None));
    }
    let replay = journal::replay(&file, &superblock).map_err(OpenError::Journal)?;
    let summary = ReplaySummary {
        transactions: replay.transactions,
        blocks: replay.blocks.len(),
        revoked: replay.revoked,
        bad_checksums: replay.bad_checksums,
        torn_tail: replay.torn_tail,
    };
    let reader = Recovered::new(file, &superblock, replay).map_err(OpenError::Journal)?;
    let fs = Ext4::load(Box::new(reader)).map_err(OpenError::Ext4)?;
    Ok((fs, Some(summary)))
}

/// An image seen through a journal replay.
pub struct Recovered<D> {
    dev: D,
    block_size: u64,
    blocks: BTreeMap<u64, Copy>,
    /// The superblock as replayed, with `needs_recovery` cleared.
    superblock: Vec<u8>,
}

impl<D: Device> Recovered<D> {
    /// Lays `replay` over `dev`, whose superblock (as on disk) is `sb`.
    pub fn new(dev: D, sb: &Superblock, replay: Replay) -> Result<Self, JournalError> {
        let mut recovered = Recovered {
            dev,
            block_size: sb.block_size()?,
            blocks: replay.blocks,
            superblock: Vec::new(),
        };
        // The journal may carry the superblock's block: take it as
        // replayed, then clear the flag in that copy.
        let mut raw = vec![0; SUPERBLOCK_SIZE];
        recovered.read_replayed(SUPERBLOCK_OFFSET, &mut raw)?;
        let mut replayed = Superblock::from_bytes(raw)?;
        replayed.clear_needs_recovery();
        recovered.superblock = replayed.bytes().to_vec();
        Ok(recovered)
    }

    /// Reads through the replay: each block from its newest committed
    /// copy in the journal, or from its place.
    fn read_replayed(&self, start: u64, dst: &mut [u8]) -> std::io::Result<()> {
        let short = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        let end = start.checked_add(dst.len() as u64).ok_or_else(short)?;
        let mut pos = start;
        while pos < end {
            let block = pos / self.block_size;
            let in_block = pos % self.block_size;
            let at = (pos - start) as usize;
            match self.blocks.get(&block) {
                Some(copy) => {
                    let len = (self.block_size - in_block).min(end - pos);
                    let part = dst.get_mut(at..at + len as usize).ok_or_else(short)?;
                    self.dev.read_exact_at(copy.offset + in_block, part)?;
                    if copy.escaped {
                        for (i, byte) in part.iter_mut().enumerate() {
                            if let Some(magic) = ESCAPED_PREFIX.get(in_block as usize + i) {
                                *byte = *magic;
                            }
                        }
                    }
                    pos += len;
                }
                None => {
                    // Up to the next replayed block, in one read.
                    let stop = self
                        .blocks
                        .range(block..)
                        .next()
                        .map_or(end, |(next, _)| end.min(next * self.block_size));
                    let part = dst.get_mut(at..(stop - start) as usize).ok_or_else(short)?;
                    self.dev.read_exact_at(pos, part)?;
                    pos = stop;
                }
            }
        }
        Ok(())
    }
}

impl<D: Device> Ext4Read for Recovered<D> {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.read_replayed(start_byte, dst)?;
        // The superblock as replayed, with the flag cleared.
        let sb_start = SUPERBLOCK_OFFSET;
        let sb_end = sb_start + SUPERBLOCK_SIZE as u64;
        let end = start_byte.saturating_add(dst.len() as u64);
        let from = start_byte.max(sb_start);
        let to = end.min(sb_end);
        if from < to {
            let part = dst.get_mut((from - start_byte) as usize..(to - start_byte) as usize);
            let source = self
                .superblock
                .get((from - sb_start) as usize..(to - sb_start) as usize);
            if let (Some(part), Some(source)) = (part, source) {
                part.copy_from_slice(source);
            }
        }
        Ok(())
    }
}
