//! The archive log's I/O: reading it at start, committing a record,
//! retiring one, and zeroing what commits cut short left. The format and
//! the rules of what a cut leaves are in `crate::archive_log`.

use alloc::vec::Vec;

use crate::archive::Archive;
use crate::archive_log::{self, Extent, Found, Space, RECORD_HEADER_LEN, RETIRE_LEN, SEAL_AT};
use crate::format::DecodeError;
use crate::layout::ARCHIVE_LOG;
use crate::storage::{Storage, StorageError};
use crate::types::Generation;

use super::read::ReadError;
use super::{log, Ctx, Level, Platform};

/// Largest log read at start; a damaged size cannot exhaust memory.
const MAX_LOG_BYTES: u64 = 1 << 32;

/// Where a generation's archive is in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogRecord {
    pub extent: Extent,
    pub archive_len: u32,
}

/// What the engine knows of the log.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogState {
    /// The file exists.
    pub exists: bool,
    /// It could not be read at start (an I/O error): every generation it
    /// may hold is unknown, so nothing is deleted until it reads.
    pub unread: bool,
    /// Blocks in use.
    pub space: Space,
    /// Records of commits cut short, zeroed before their space is used.
    pub torn: Vec<Extent>,
}

/// Reads the whole log; `Ok(None)` if there is none.
pub(crate) fn read_log<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
) -> Result<Option<Vec<u8>>, StorageError> {
    let mut bytes = Vec::new();
    match ctx
        .storage
        .read_file(ARCHIVE_LOG, MAX_LOG_BYTES, &mut bytes)
    {
        Ok(()) => Ok(Some(bytes)),
        Err(StorageError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Classifies the log's records; an unknown record version refuses the
/// root (`Err`).
pub(crate) fn load(bytes: &[u8]) -> Result<(Space, Vec<Found>), DecodeError> {
    let found = archive_log::classify(bytes)?;
    let mut space = Space::new(bytes.len() as u64);
    for record in &found {
        space.occupy(record.extent());
    }
    Ok((space, found))
}

/// Reads and checks a generation's archive from its record.
pub(crate) fn read<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    record: LogRecord,
    generation: Generation,
) -> Result<Archive, ReadError> {
    let len = RECORD_HEADER_LEN + record.archive_len as usize;
    ctx.scratch.clear();
    ctx.scratch.resize(len, 0);
    let read = match ctx
        .storage
        .read_at(ARCHIVE_LOG, record.extent.offset(), &mut ctx.scratch)
    {
        Ok(read) => read,
        Err(StorageError::NotFound) => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Io(e)),
    };
    let bytes = ctx.scratch.get(..read).unwrap_or(&[]);
    let decoded = bytes
        .get(RECORD_HEADER_LEN..)
        .ok_or(DecodeError::Truncated)
        .and_then(Archive::decode)
        .and_then(|archive| {
            if archive.generation == generation {
                Ok(archive)
            } else {
                Err(DecodeError::Malformed(
                    "record holds another generation's archive",
                ))
            }
        });
    match decoded {
        Ok(archive) => Ok(archive),
        // The table of FORMAT.md: only a sealed record whose archive does
        // not check out is damage; unsealed, it is a commit cut short, and
        // with its header hit too, free space: no archive either way.
        Err(e) if archive_log::sealed(bytes) == Some(true) => Err(ReadError::Damaged(e)),
        Err(_) => Err(ReadError::Missing),
    }
}

/// Writes generation `generation`'s archive as a record and makes it
/// durable, then seals it. `Err`: not committed (the record may be durable
/// all the same: retire it); `Ok` with the seal's outcome: committed, since
/// the record is durable, sealed or not. `reserved` is the extent an earlier failed
/// attempt of the same commit took (written again in place); it is set to
/// the extent used, whatever the outcome, so that an abort can retire it.
/// The caller has made the generation's packs durable.
pub(crate) fn commit<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    generation: Generation,
    archive: &[u8],
    reserved: &mut Option<LogRecord>,
) -> Result<(LogRecord, Result<(), StorageError>), StorageError> {
    let record = archive_log::record_bytes(generation, archive).map_err(|_| StorageError::Io)?;
    let archive_len = u32::try_from(archive.len()).map_err(|_| StorageError::Io)?;
    let blocks = Extent::blocks_for(archive.len());
    let (extent, grown) = match *reserved {
        Some(r) if r.extent.blocks == blocks => (r.extent, None),
        other => {
            if let Some(r) = other {
                // A retried commit whose archive changed size: the old
                // extent is retired by the caller's abort or stays used.
                log!(
                    ctx,
                    Level::Debug,
                    "commit retry needs {blocks} blocks, not {}",
                    r.extent.blocks
                );
            }
            ctx.log.space.place(blocks)
        }
    };
    let mine = LogRecord {
        extent,
        archive_len,
    };
    // Reserved before writing: if the write fails halfway, its blocks are
    // not handed to anyone else until this record is retired.
    if *reserved != Some(mine) {
        ctx.log.space.occupy(extent);
    }
    *reserved = Some(mine);
    // Zeros only past everything in use (place() grows only there).
    let fill = grown.map_or(0, |g| {
        g.saturating_sub(extent.end())
            .saturating_mul(archive_log::BLOCK) as usize
    });
    let zeros = alloc::vec![0u8; fill];
    // The record goes in with a new file, or in place into the log.
    let mut written = false;
    if !ctx.log.exists {
        let lead = alloc::vec![0u8; extent.offset() as usize];
        match ctx
            .storage
            .write_new_file(ARCHIVE_LOG, &[&lead, &record, &zeros])
        {
            Ok(()) => written = true,
            // An earlier attempt created it and failed later.
            Err(StorageError::AlreadyExists) => {}
            Err(e) => return Err(e),
        }
        ctx.log.exists = true;
    }
    if !written {
        ctx.storage
            .write_at(ARCHIVE_LOG, extent.offset(), &[&record, &zeros])?;
    }
    ctx.log.space.grow_to(grown.unwrap_or(0).max(extent.end()));
    ctx.storage.sync()?;
    // Durable and complete: the generation is committed from here on,
    // sealed or not. The seal lets a later reader call a damaged archive
    // damage rather than a commit cut short.
    let mut header = [0u8; RECORD_HEADER_LEN];
    if let Some(h) = record.get(..RECORD_HEADER_LEN) {
        header.copy_from_slice(h);
    }
    let seal = archive_log::seal_of(&header);
    let sealed = ctx
        .storage
        .write_at(ARCHIVE_LOG, extent.offset() + SEAL_AT as u64, &[&seal])
        .and_then(|()| ctx.storage.sync());
    Ok((mine, sealed))
}

/// First step of retiring a committed record: zeros over its seal, made
/// durable, so that the second step cut short leaves a record that reads
/// as a commit cut short (garbage), never as damage.
pub(crate) fn unseal<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    extent: Extent,
) -> Result<(), StorageError> {
    ctx.storage
        .write_at(ARCHIVE_LOG, extent.offset() + SEAL_AT as u64, &[&[0u8; 4]])?;
    ctx.storage.sync()
}

/// Second step: zeros over the record header and the archive's header.
/// Not synced here: the caller's sync is the retirement's commit point,
/// and only after it may the extent be released.
pub(crate) fn erase<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    extent: Extent,
) -> Result<(), StorageError> {
    ctx.storage
        .write_at(ARCHIVE_LOG, extent.offset(), &[&[0u8; RETIRE_LEN]])
}

/// Retires a record: unseal, erase, sync, release.
pub(crate) fn retire<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    extent: Extent,
) -> Result<(), StorageError> {
    unseal(ctx, extent)?;
    erase(ctx, extent)?;
    ctx.storage.sync()?;
    ctx.log.space.release(extent);
    Ok(())
}

/// Zeroes the records of commits cut short (they are unsealed already, so
/// one write each) and releases their space once that is durable.
pub(crate) fn clear_torn<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>) {
    if ctx.log.torn.is_empty() {
        return;
    }
    let torn = core::mem::take(&mut ctx.log.torn);
    let mut erased = Vec::new();
    for extent in torn {
        match erase(ctx, extent) {
            Ok(()) => erased.push(extent),
            Err(e) => {
                log!(
                    ctx,
                    Level::Warning,
                    "cannot clear the record a cut commit left at block {} of the archive log ({e}); retried later",
                    extent.block
                );
                ctx.log.torn.push(extent);
            }
        }
    }
    if erased.is_empty() {
        return;
    }
    match ctx.storage.sync() {
        Ok(()) => {
            for extent in &erased {
                ctx.log.space.release(*extent);
            }
            log!(
                ctx,
                Level::Info,
                "cleared {} record(s) of commits cut short from the archive log",
                erased.len()
            );
        }
        Err(e) => {
            log!(
                ctx,
                Level::Warning,
                "clearing records of cut commits not confirmed durable ({e}); retried later"
            );
            ctx.log.torn.extend(erased);
        }
    }
}
