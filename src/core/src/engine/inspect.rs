//! Read-only inspection for tools (snapperctl) and tests: every copy of a
//! generation checked, a pack's own index checked, the files a sweep would
//! delete, the records of commits cut short it would clear. Nothing here
//! writes; the rules are the engine's own (the same
//! CRC check as restore, the same liveness rule as the sweep), so a tool
//! never re-derives them.

use alloc::string::String;
use alloc::vec::Vec;

use crate::archive::Stored;
use crate::archive_log::BLOCK;
use crate::error::Error;
use crate::format::{crc32, DecodeError};
use crate::layout;
use crate::pack::{self, Codec, PackRecord, PackTrailer};
use crate::storage::{EntryKind, Storage, StorageError};
use crate::types::{Generation, ObjectId, PackRef};

use super::sweep::is_live_file;
use super::{read, Ctx, GenerationStatus, Platform, Snapper};

/// Largest pack read whole for a check; a damaged length cannot exhaust
/// memory (packs are at most pack_size, itself at most 1 GiB, plus one
/// payload).
const MAX_PACK_BYTES: u64 = 1 << 33;

/// What is wrong with one copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyProblem {
    /// The pack could not be read (I/O error, or missing).
    Unreadable(StorageError),
    /// The pack is shorter than the copy's range.
    Truncated,
    /// The stored bytes fail their CRC.
    CrcMismatch,
    /// A codec this build does not read.
    UnknownCodec(u8),
}

/// One damaged copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DamagedCopy {
    /// The object.
    pub id: ObjectId,
    /// The copy.
    pub copy: Stored,
    /// What is wrong.
    pub problem: CopyProblem,
}

/// Every copy of a generation, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verification {
    /// Objects in the archive.
    pub objects: u64,
    /// Copies checked.
    pub copies: u64,
    /// Bytes of the copies checked.
    pub bytes: u64,
    /// Copies that failed.
    pub damaged: Vec<DamagedCopy>,
    /// Objects none of whose copies is intact: not restorable.
    pub lost: Vec<ObjectId>,
}

/// A pack file checked against its own index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackCheck {
    /// The trailer, when it checks out.
    pub trailer: Option<PackTrailer>,
    /// Records whose payload is intact.
    pub intact: Vec<PackRecord>,
    /// Records whose payload fails its CRC.
    pub damaged: usize,
    /// Why the pack as a whole could not be read, if so.
    pub error: Option<PackError>,
}

/// Why a pack could not be read as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackError {
    /// I/O error or missing file.
    Unreadable(StorageError),
    /// Trailer or index corrupt.
    Damaged(DecodeError),
}

/// The record of a commit cut short in the archive log (`archives`): an
/// unsealed record whose archive does not check out. It is garbage that
/// the next init_snapshot or purge_zombies zeroes (its header and the
/// archive's) before its blocks are used again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TornRecord {
    /// Its first block in the log (blocks of [`BLOCK`] bytes).
    pub block: u64,
    /// The bytes its blocks span, freed once it is cleared.
    pub bytes: u64,
}

/// One pack held whole while a generation is verified.
struct PackCache {
    pack: Option<PackRef>,
    bytes: Result<Vec<u8>, StorageError>,
}

fn pack_path<S: Storage, P: Platform>(ctx: &Ctx<S, P>, pack: PackRef) -> Option<String> {
    let name = ctx.catalog.record(pack.generation)?.name.clone();
    let fanout = ctx.catalog.packs_of(pack.generation)?.fanout;
    Some(layout::pack_path(name.as_str(), fanout, pack.pack))
}

fn read_whole<S: Storage>(storage: &mut S, path: &str) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::new();
    storage.read_file(path, MAX_PACK_BYTES, &mut out)?;
    Ok(out)
}

impl<S: Storage, P: Platform> Snapper<S, P> {
    /// The path of a pack, when its generation's layout is known.
    pub fn pack_path(&self, pack: PackRef) -> Option<String> {
        pack_path(&self.ctx, pack)
    }

    /// Checks every copy of every object of a valid generation, as restore
    /// would (length and CRC), reading each pack once.
    pub fn verify_generation(&mut self, generation: Generation) -> Result<Verification, Error> {
        if self.ctx.catalog.record(generation).map(|r| r.status) != Some(GenerationStatus::Valid) {
            return Err(Error::LoadGenFailed);
        }
        let loaded = read::load(&mut self.ctx, generation)?;
        let mut entries = loaded.entries;
        // Check in pack order, so that each pack is read once.
        let mut order: Vec<(PackRef, u32, usize, usize)> = Vec::new();
        for (at, entry) in entries.iter().enumerate() {
            for (copy_at, copy) in entry.copies.iter().enumerate() {
                order.push((copy.pack_ref(), copy.offset, at, copy_at));
            }
        }
        order.sort_unstable();
        let mut report = Verification {
            objects: entries.len() as u64,
            ..Verification::default()
        };
        let mut intact = alloc::vec![false; entries.len()];
        let mut cache = PackCache {
            pack: None,
            bytes: Ok(Vec::new()),
        };
        for (pack, _, at, copy_at) in order {
            let Some(copy) = entries
                .get(at)
                .and_then(|e| e.copies.iter().nth(copy_at))
                .copied()
            else {
                continue;
            };
            if cache.pack != Some(pack) {
                cache.bytes = match loaded_path(&loaded.sources, &copy) {
                    Some(path) => read_whole(&mut self.ctx.storage, &path),
                    None => Err(StorageError::NotFound),
                };
                cache.pack = Some(pack);
            }
            report.copies += 1;
            report.bytes += u64::from(copy.length);
            let problem = match &cache.bytes {
                Err(e) => Some(CopyProblem::Unreadable(*e)),
                Ok(_) if copy.codec != Codec::RAW => Some(CopyProblem::UnknownCodec(copy.codec.0)),
                Ok(bytes) => {
                    let start = copy.offset as usize;
                    match bytes.get(start..start + copy.length as usize) {
                        None => Some(CopyProblem::Truncated),
                        Some(stored) if crc32(&[stored]) != copy.crc => {
                            Some(CopyProblem::CrcMismatch)
                        }
                        Some(_) => None,
                    }
                }
            };
            match problem {
                None => {
                    if let Some(flag) = intact.get_mut(at) {
                        *flag = true;
                    }
                }
                Some(problem) => report.damaged.push(DamagedCopy {
                    id: entries.get(at).map_or(ObjectId(0), |e| e.id),
                    copy,
                    problem,
                }),
            }
        }
        report.lost = entries
            .drain(..)
            .zip(intact)
            .filter(|(_, ok)| !ok)
            .map(|(e, _)| e.id)
            .collect();
        Ok(report)
    }

    /// Reads a pack whole and checks it against its own index (what
    /// `salvage` relies on when an archive is damaged).
    pub fn check_pack(&mut self, pack: PackRef) -> PackCheck {
        let Some(path) = pack_path(&self.ctx, pack) else {
            return PackCheck {
                trailer: None,
                intact: Vec::new(),
                damaged: 0,
                error: Some(PackError::Unreadable(StorageError::NotFound)),
            };
        };
        check_pack_file(&mut self.ctx.storage, &path)
    }

    /// The records of commits cut short that the engine holds for clearing
    /// at the next init_snapshot or purge_zombies, by block. Those found
    /// when the root was opened, and any an archive re-read since turned
    /// out to be: a record that was torn before purge_zombies and is not
    /// after it was cleared.
    pub fn torn_records(&self) -> Vec<TornRecord> {
        let mut out: Vec<TornRecord> = self
            .ctx
            .log
            .torn
            .iter()
            .map(|extent| TornRecord {
                block: extent.block,
                bytes: extent.blocks.saturating_mul(BLOCK),
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The files a sweep (purge_zombies) would delete now: neither a valid
    /// archive nor a pack some valid archive uses. Generations kept for a
    /// damaged archive (integrity=yes) are left out, as the sweep leaves
    /// them.
    pub fn unused_files(&mut self) -> Result<Vec<String>, Error> {
        if !read::reread_unreadable(&mut self.ctx) {
            return Err(Error::StorageFailed);
        }
        let horizon = super::sweep::damage_horizon(&self.ctx);
        let mut out = Vec::new();
        let records: Vec<(Generation, super::catalog::GenRecord)> = self
            .ctx
            .catalog
            .gens
            .iter()
            .map(|(g, r)| (*g, r.clone()))
            .collect();
        for (generation, mut record) in records {
            if horizon.is_some_and(|h| generation <= h) {
                continue;
            }
            // purge_zombies deletes a damaged generation as garbage when
            // integrity=no (with integrity=yes the horizon kept it above).
            if matches!(record.status, GenerationStatus::Damaged(_)) {
                record.status = GenerationStatus::NoArchive;
            }
            let mut dirs = alloc::vec![String::from(record.name.as_str())];
            while let Some(dir) = dirs.pop() {
                let entries = match self.ctx.storage.list_dir(&dir) {
                    Ok(entries) => entries,
                    Err(StorageError::NotFound) => continue,
                    Err(_) => return Err(Error::StorageFailed),
                };
                for entry in entries {
                    let path = alloc::format!("{dir}/{}", entry.name);
                    match entry.kind {
                        EntryKind::Dir => dirs.push(path),
                        EntryKind::File => {
                            if !is_live_file(&self.ctx, &record, generation, &path) {
                                out.push(path);
                            }
                        }
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

fn loaded_path(sources: &[crate::archive::Source], copy: &Stored) -> Option<String> {
    crate::archive::find_source(sources, copy.generation)
        .map(|s| layout::pack_path(&s.name, s.fanout, copy.pack))
}

/// Reads the pack at `path` whole and checks it against its own index.
pub fn check_pack_file<S: Storage>(storage: &mut S, path: &str) -> PackCheck {
    let bytes = match read_whole(storage, path) {
        Ok(bytes) => bytes,
        Err(e) => {
            return PackCheck {
                trailer: None,
                intact: Vec::new(),
                damaged: 0,
                error: Some(PackError::Unreadable(e)),
            }
        }
    };
    match pack::check(&bytes) {
        Ok((trailer, intact, damaged)) => PackCheck {
            trailer: Some(trailer),
            intact,
            damaged,
            error: None,
        },
        Err(e) => PackCheck {
            trailer: None,
            intact: Vec::new(),
            damaged: 0,
            error: Some(PackError::Damaged(e)),
        },
    }
}
