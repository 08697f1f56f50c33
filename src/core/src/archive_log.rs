//! The archive log: one file at the root, `archives`, that holds the
//! archives of generations as records written in place, so that committing
//! a generation creates no file and no directory.
//!
//! Why: on lwext4 every new file costs 15-22 ms and every directory ~18 ms
//! (as many block requests as a small file system update takes), while
//! overwriting 36 KiB inside an existing file costs ~0.5 ms. A generation
//! whose objects are all unchanged writes nothing but its archive; with the
//! log that is two small writes into space the file already has.
//!
//! This module is the format and the space bookkeeping, without I/O; the
//! engine's `log_store` does the I/O. doc/FORMAT.md describes the bytes.
//!
//! A record starts at a multiple of [`BLOCK`]: a 32-byte header, then the
//! archive exactly as an `archive` file holds it, then zeros to the end of
//! its last block. Committing is two writes, each followed by a sync: the
//! record with its seal zero, then the seal. Retiring is two writes, each
//! followed by a sync: zeros over the seal, then zeros over the header and
//! the archive's header. Every outcome of a write cut short is then told
//! apart at start ([`classify`]):
//!
//! | header | archive | seal | means |
//! |---|---|---|---|
//! | checks out | checks out | any | committed |
//! | damaged | checks out | any | committed (only the header is hit) |
//! | checks out | damaged | set | damaged after its commit: kept, reported |
//! | checks out | damaged | zero | a commit cut short: garbage |
//! | damaged | damaged | any | free space |

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::archive::Archive;
use crate::format::{crc32, le_u16, le_u32, DecodeError};
use crate::types::Generation;

/// Records start at multiples of this (the block size of ext4 and lwext4:
/// a record never shares a block with another one, so a write cut short
/// cannot touch a neighbour).
pub const BLOCK: u64 = 4096;
/// Magic number of a record header.
pub const RECORD_MAGIC: [u8; 4] = *b"SNPR";
/// Version of the record header (and of the log's rules).
pub const LOG_VERSION: u16 = 1;
/// Bytes of a record header; the archive follows.
pub const RECORD_HEADER_LEN: usize = 32;
/// Where the seal sits in the header (not covered by the header CRC: it is
/// written after the rest has been made durable).
pub const SEAL_AT: usize = 28;
/// What a retirement zeroes: the record header and the archive's header,
/// so that neither half can pass for a record any more.
pub const RETIRE_LEN: usize = RECORD_HEADER_LEN + crate::format::ARCHIVE_HEADER_LEN;
/// Size the log is created with, and the least it grows by: room for a
/// few dozen PhantomOS-sized archives (36 KiB) without growing.
pub const MIN_LOG_BYTES: u64 = 1 << 20;
/// XORed into the header CRC to form the seal: a seal is never zero, and
/// never equals the CRC stored next to it.
const SEAL_MIX: u32 = 0x4C41_4553; // "SEAL"

/// Blocks `[block, block + blocks)` of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Extent {
    /// First block.
    pub block: u64,
    /// Number of blocks (at least 1).
    pub blocks: u64,
}

impl Extent {
    /// Byte offset of the record in the log.
    pub fn offset(&self) -> u64 {
        self.block.saturating_mul(BLOCK)
    }

    /// The block after the extent.
    pub fn end(&self) -> u64 {
        self.block.saturating_add(self.blocks)
    }

    /// Blocks a record of `archive_len` archive bytes needs.
    pub fn blocks_for(archive_len: usize) -> u64 {
        (RECORD_HEADER_LEN as u64 + archive_len as u64).div_ceil(BLOCK)
    }
}

/// The header of a record for `generation` holding `archive_len` bytes,
/// unsealed.
pub fn record_header(generation: Generation, archive_len: u32) -> [u8; RECORD_HEADER_LEN] {
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[..4].copy_from_slice(&RECORD_MAGIC);
    h[4..6].copy_from_slice(&LOG_VERSION.to_le_bytes());
    h[6..8].copy_from_slice(&(RECORD_HEADER_LEN as u16).to_le_bytes());
    h[8..12].copy_from_slice(&generation.0.to_le_bytes());
    h[12..16].copy_from_slice(&archive_len.to_le_bytes());
    // 16..24 reserved, zero
    let crc = crc32(&[&h[..24]]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The seal of a record with this header: written at [`SEAL_AT`] once the
/// record is durable.
pub fn seal_of(header: &[u8; RECORD_HEADER_LEN]) -> [u8; 4] {
    let crc = le_u32(header, 24).unwrap_or(0);
    (crc ^ SEAL_MIX).to_le_bytes()
}

/// A record's bytes: header, archive, zeros to the end of its last block.
pub fn record_bytes(generation: Generation, archive: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let len =
        u32::try_from(archive.len()).map_err(|_| DecodeError::Malformed("archive over 4 GiB"))?;
    let blocks = Extent::blocks_for(archive.len());
    let mut out = Vec::with_capacity((blocks * BLOCK) as usize);
    out.extend_from_slice(&record_header(generation, len));
    out.extend_from_slice(archive);
    out.resize((blocks * BLOCK) as usize, 0);
    Ok(out)
}

/// A decoded record header.
struct Head {
    generation: Generation,
    archive_len: u32,
    sealed: bool,
}

/// The header at the start of `bytes`: `Ok(None)` when it is not one (free
/// space, or a header hit by damage), `Err` for a header of a version this
/// build does not read.
fn read_head(bytes: &[u8]) -> Result<Option<Head>, DecodeError> {
    let Some(h) = bytes.get(..RECORD_HEADER_LEN) else {
        return Ok(None);
    };
    if h.get(..4) != Some(&RECORD_MAGIC[..]) {
        return Ok(None);
    }
    let crc_ok = le_u32(h, 24) == Some(crc32(&[&h[..24]]));
    if !crc_ok {
        return Ok(None);
    }
    let version = le_u16(h, 4).unwrap_or(0);
    if version != LOG_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    if le_u16(h, 6) != Some(RECORD_HEADER_LEN as u16) || h[16..24].iter().any(|b| *b != 0) {
        return Ok(None);
    }
    let (Some(generation), Some(archive_len), Some(crc), Some(seal)) = (
        le_u32(h, 8),
        le_u32(h, 12),
        le_u32(h, 24),
        le_u32(h, SEAL_AT),
    ) else {
        return Ok(None);
    };
    Ok(Some(Head {
        generation: Generation(generation),
        archive_len,
        sealed: seal == crc ^ SEAL_MIX,
    }))
}

/// Whether the record header at the start of `bytes` is sealed: `None` if
/// it does not check out (or is of another version).
pub fn sealed(bytes: &[u8]) -> Option<bool> {
    read_head(bytes).ok().flatten().map(|head| head.sealed)
}

/// What a place in the log holds.
#[derive(Debug)]
pub enum Found {
    /// A committed generation's archive (decoded and checked).
    Committed {
        /// Where the record is.
        extent: Extent,
        /// Length of the archive (it starts [`RECORD_HEADER_LEN`] bytes in).
        archive_len: u32,
        /// The archive.
        archive: Archive,
        /// The record header did not check out (the archive did).
        header_damaged: bool,
    },
    /// A sealed record whose archive no longer checks out: damage after
    /// the commit, kept for inspection and reported.
    Damaged {
        /// Where the record is.
        extent: Extent,
        /// The generation its header names.
        generation: Generation,
        /// What is wrong with the archive.
        error: DecodeError,
    },
    /// An unsealed record whose archive does not check out: a commit cut
    /// short. Garbage, to be zeroed before its space is used again.
    Torn {
        /// Where the record is.
        extent: Extent,
        /// The generation its header names.
        generation: Generation,
    },
}

impl Found {
    /// Where the record is.
    pub fn extent(&self) -> Extent {
        match self {
            Found::Committed { extent, .. }
            | Found::Damaged { extent, .. }
            | Found::Torn { extent, .. } => *extent,
        }
    }
}

/// The archive at `at` in `log`, if one is there and checks out.
fn archive_at(log: &[u8], at: usize, len: Option<usize>) -> Option<(Archive, usize)> {
    let rest = log.get(at..)?;
    let len = match len {
        Some(len) => len,
        None => crate::format::ARCHIVE_HEADER_LEN + le_u32(rest, 8)? as usize,
    };
    let bytes = rest.get(..len)?;
    Archive::decode(bytes).ok().map(|a| (a, len))
}

/// Every record of the log, in file order. `Err` if a record is of a
/// version this build does not read: the root must then be left alone.
pub fn classify(log: &[u8]) -> Result<Vec<Found>, DecodeError> {
    let mut found = Vec::new();
    let blocks = log.len() as u64 / BLOCK;
    let mut block = 0u64;
    while block < blocks {
        let at = (block * BLOCK) as usize;
        let here = log.get(at..).unwrap_or(&[]);
        let archive_from = at + RECORD_HEADER_LEN;
        let next = match read_head(here)? {
            Some(head) => {
                let extent = Extent {
                    block,
                    blocks: Extent::blocks_for(head.archive_len as usize).min(blocks - block),
                };
                let whole = archive_at(log, archive_from, Some(head.archive_len as usize));
                found.push(match whole {
                    Some((archive, _)) if archive.generation == head.generation => {
                        Found::Committed {
                            extent,
                            archive_len: head.archive_len,
                            archive,
                            header_damaged: false,
                        }
                    }
                    other => {
                        let error = match other {
                            Some(_) => DecodeError::Malformed("archive of another generation"),
                            None => log
                                .get(archive_from..)
                                .and_then(|rest| rest.get(..head.archive_len as usize))
                                .map_or(DecodeError::Truncated, |bytes| {
                                    Archive::decode(bytes)
                                        .err()
                                        .unwrap_or(DecodeError::Truncated)
                                }),
                        };
                        if head.sealed {
                            Found::Damaged {
                                extent,
                                generation: head.generation,
                                error,
                            }
                        } else {
                            Found::Torn {
                                extent,
                                generation: head.generation,
                            }
                        }
                    }
                });
                extent.end()
            }
            None => match archive_at(log, archive_from, None) {
                Some((archive, len)) => {
                    let extent = Extent {
                        block,
                        blocks: Extent::blocks_for(len).min(blocks - block),
                    };
                    found.push(Found::Committed {
                        extent,
                        archive_len: len as u32,
                        archive,
                        header_damaged: true,
                    });
                    extent.end()
                }
                None => block + 1,
            },
        };
        block = next.max(block + 1);
    }
    Ok(found)
}

/// Which blocks of the log are in use, and where a new record goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Space {
    /// The log's length in blocks.
    blocks: u64,
    /// Extents in use, by first block.
    used: BTreeMap<u64, u64>,
}

impl Space {
    /// The space of a log of `len` bytes with nothing in use.
    pub fn new(len: u64) -> Self {
        Space {
            blocks: len / BLOCK,
            used: BTreeMap::new(),
        }
    }

    /// The log's length in bytes.
    pub fn len(&self) -> u64 {
        self.blocks * BLOCK
    }

    /// Whether the log has no blocks.
    pub fn is_empty(&self) -> bool {
        self.blocks == 0
    }

    /// Marks an extent as in use; false (and nothing changed) if it
    /// overlaps one already in use.
    pub fn occupy(&mut self, extent: Extent) -> bool {
        let before = self.used.range(..extent.end()).next_back();
        if before.is_some_and(|(start, blocks)| start + blocks > extent.block) {
            return false;
        }
        self.used.insert(extent.block, extent.blocks);
        self.blocks = self.blocks.max(extent.end());
        true
    }

    /// Frees an extent (only once the zeros that retire its record are
    /// durable: until then a cut could bring the record back).
    pub fn release(&mut self, extent: Extent) {
        if self.used.get(&extent.block) == Some(&extent.blocks) {
            self.used.remove(&extent.block);
        }
    }

    /// Where a record of `blocks` blocks goes: the first gap that holds it,
    /// else after the last extent in use, growing the log. Returns the
    /// extent and, when the log must grow, its new length in blocks: only
    /// then may the writer zero-fill from the record's end up to there
    /// (nothing in use lies beyond the extent), so later records find room
    /// without growing the file each time.
    pub fn place(&self, blocks: u64) -> (Extent, Option<u64>) {
        let blocks = blocks.max(1);
        let mut cursor = 0u64;
        for (start, len) in &self.used {
            if start.saturating_sub(cursor) >= blocks {
                return (
                    Extent {
                        block: cursor,
                        blocks,
                    },
                    None,
                );
            }
            cursor = cursor.max(start + len);
        }
        let extent = Extent {
            block: cursor,
            blocks,
        };
        if extent.end() <= self.blocks {
            return (extent, None);
        }
        // Grow by at least the log's length (amortised: a log grows a few
        // times in its life), and at least to MIN_LOG_BYTES.
        let grown = extent
            .end()
            .max(self.blocks.saturating_mul(2))
            .max(MIN_LOG_BYTES / BLOCK);
        (extent, Some(grown))
    }

    /// Records that the log is now `blocks` blocks long (after a write
    /// that grew it).
    pub fn grow_to(&mut self, blocks: u64) {
        self.blocks = self.blocks.max(blocks);
    }

    /// Extents in use.
    pub fn used(&self) -> impl Iterator<Item = Extent> + '_ {
        self.used.iter().map(|(block, blocks)| Extent {
            block: *block,
            blocks: *blocks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::Header;
    use crate::layout::GenerationName;

    /// An archive of generation `g` with no entries.
    fn archive(g: u32) -> Vec<u8> {
        let name = GenerationName::new(1_795_545_149, Generation(g));
        Archive::encode(
            Header {
                generation: Generation(g),
                name: name.as_str(),
                created: 1_795_545_149,
                fanout: 100,
                packs: &[],
            },
            &[],
            &[],
        )
        .unwrap()
    }

    fn sealed(g: u32) -> Vec<u8> {
        let mut record = record_bytes(Generation(g), &archive(g)).unwrap();
        let mut header = [0u8; RECORD_HEADER_LEN];
        header.copy_from_slice(&record[..RECORD_HEADER_LEN]);
        record[SEAL_AT..SEAL_AT + 4].copy_from_slice(&seal_of(&header));
        record
    }

    fn kinds(log: &[u8]) -> Vec<(&'static str, u64)> {
        classify(log)
            .unwrap()
            .iter()
            .map(|f| match f {
                Found::Committed {
                    extent,
                    header_damaged: false,
                    ..
                } => ("committed", extent.block),
                Found::Committed { extent, .. } => ("committed, header damaged", extent.block),
                Found::Damaged { extent, .. } => ("damaged", extent.block),
                Found::Torn { extent, .. } => ("torn", extent.block),
            })
            .collect()
    }

    #[test]
    fn record_header_bytes_are_pinned() {
        // Checked independently (Python's struct and zlib.crc32 following
        // doc/FORMAT.md's example); a change must change the version.
        let header = record_header(Generation(2), 0x59);
        let hex: String = header.iter().map(|b| alloc::format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "534e5052 0100 2000 02000000 59000000 0000000000000000 823ffa6c 00000000"
                .replace(' ', "")
        );
        assert_eq!(seal_of(&header), [0xd1, 0x7a, 0xbb, 0x20]);
    }

    #[test]
    fn every_state_of_a_record_is_told_apart() {
        let free = alloc::vec![0u8; BLOCK as usize];
        let committed = sealed(1);
        let mut unsealed = record_bytes(Generation(2), &archive(2)).unwrap();
        let mut damaged = sealed(3);
        damaged[RECORD_HEADER_LEN + 20] ^= 1;
        let mut header_hit = sealed(4);
        header_hit[9] ^= 1;
        let mut torn = unsealed.clone();
        torn[RECORD_HEADER_LEN + 20] ^= 1;
        let log = [
            &free[..],
            &committed,
            &damaged,
            &header_hit,
            &torn,
            &unsealed,
        ]
        .concat();
        assert_eq!(
            kinds(&log),
            [
                ("committed", 1),
                ("damaged", 2),
                ("committed, header damaged", 3),
                ("torn", 4),
                // written and durable, the seal not yet: committed
                ("committed", 5),
            ]
        );
        // Retired: nothing left.
        unsealed[..RETIRE_LEN].fill(0);
        assert!(classify(&unsealed).unwrap().is_empty());
        // A record of a later version refuses the log.
        let mut newer = sealed(1);
        newer[4] = 2;
        let crc = crc32(&[&newer[..24]]);
        newer[24..28].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            classify(&newer).err(),
            Some(DecodeError::UnsupportedVersion(2))
        );
    }

    /// Every cut of a retirement leaves the record committed or gone, never
    /// damaged: the first write (zeros over the seal) is durable before the
    /// second (zeros over both headers) starts, and any part of either
    /// write landing is one of those two. Tried: every contiguous part of
    /// each write (a write cut into pieces).
    #[test]
    fn a_cut_retirement_leaves_committed_or_nothing() {
        let record = sealed(7);
        let mut seal_zeroed = record.clone();
        seal_zeroed[SEAL_AT..SEAL_AT + 4].fill(0);
        for (before, range) in [
            (&record, SEAL_AT..SEAL_AT + 4),
            (&seal_zeroed, 0..RETIRE_LEN),
        ] {
            for from in range.clone() {
                for to in from + 1..=range.end {
                    let mut log = before.clone();
                    log[from..to].fill(0);
                    let kinds = kinds(&log);
                    assert!(
                        kinds.is_empty()
                            || kinds == [("committed", 0)]
                            || kinds == [("committed, header damaged", 0)]
                            || kinds == [("torn", 0)],
                        "zeros over {from}..{to}: {kinds:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn space_takes_the_first_gap_and_grows_by_doubling() {
        let mut space = Space::new(0);
        let (a, grown) = space.place(3);
        assert_eq!(
            (a, grown),
            (
                Extent {
                    block: 0,
                    blocks: 3
                },
                Some(MIN_LOG_BYTES / BLOCK)
            )
        );
        let grown = grown.unwrap();
        assert!(space.occupy(a));
        space.grow_to(grown);
        let (b, _) = space.place(2);
        assert_eq!(
            b,
            Extent {
                block: 3,
                blocks: 2
            }
        );
        assert!(space.occupy(b));
        assert!(
            !space.occupy(Extent {
                block: 4,
                blocks: 1
            }),
            "overlap"
        );
        space.release(a);
        assert_eq!(space.place(3).0, a, "the freed gap is reused");
        assert_eq!(
            space.place(4).0,
            Extent {
                block: 5,
                blocks: 4
            }
        );
        let last = Extent {
            block: 5,
            blocks: grown - 5,
        };
        assert!(space.occupy(last));
        let (c, grown_again) = space.place(1);
        assert_eq!(
            c,
            Extent {
                block: 0,
                blocks: 1
            },
            "first fit"
        );
        assert_eq!(grown_again, None, "no growth, so no zero fill over records");
        assert!(space.occupy(Extent {
            block: 0,
            blocks: 3
        }));
        let (d, grown_again) = space.place(1);
        assert_eq!(d.block, grown);
        assert_eq!(grown_again, Some(2 * grown));
    }
}
