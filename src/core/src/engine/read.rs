//! The one archive reader: the start-up scan, the re-read of archives an
//! I/O error kept from being read, and loading a generation for restore all
//! go through [`read_archive`], so "unreadable" (I/O, may read later) and
//! "damaged" (corrupt, stays) are told apart in one place.

use alloc::string::String;
use alloc::vec::Vec;

use crate::archive::{self, Archive};
use crate::archive_log::Found;
use crate::error::Error;
use crate::format::{self, DecodeError, FORMAT_1};
use crate::layout::{self, GenerationName, ARCHIVE, SNAPSHOT_DIR};
use crate::storage::{EntryKind, Storage, StorageError};
use crate::types::Generation;

use super::catalog::GenRecord;
use super::log_store;
use super::{log, Ctx, GenerationStatus, Level, Loaded, Platform};

/// Largest archive read from disk; a damaged size cannot exhaust memory.
pub(crate) const MAX_ARCHIVE_BYTES: u64 = 1 << 30;

/// Why an archive was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// There is no archive: uncommitted, or purged.
    Missing,
    /// The storage failed; the archive may read on a later try.
    Io(StorageError),
    /// The archive is there and corrupt (or of another format).
    Damaged(DecodeError),
}

/// Reads and checks the archive of generation `generation`, named `name`:
/// its record in the archive log, or its `archive` file.
pub(crate) fn read_archive<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    generation: Generation,
    name: &GenerationName,
) -> Result<Archive, ReadError> {
    if let Some(record) = ctx.catalog.record(generation).and_then(|r| r.log) {
        let archive = match log_store::read(ctx, record, generation) {
            Ok(archive) => archive,
            Err(ReadError::Missing) => {
                // A commit cut short (an aborted generation whose record
                // could not be retired then): its blocks are cleared at the
                // next snapshot.
                ctx.log.torn.push(record.extent);
                if let Some(r) = ctx.catalog.record_mut(generation) {
                    r.log = None;
                }
                return Err(ReadError::Missing);
            }
            Err(e) => return Err(e),
        };
        if archive.name != name.as_str() {
            return Err(ReadError::Damaged(DecodeError::Malformed(
                "archive names another generation",
            )));
        }
        return Ok(archive);
    }
    let path = layout::in_generation(name.as_str(), ARCHIVE);
    match ctx
        .storage
        .read_file(&path, MAX_ARCHIVE_BYTES, &mut ctx.scratch)
    {
        Ok(()) => {}
        Err(StorageError::NotFound) => return Err(ReadError::Missing),
        // A directory under the archive's name, or an archive over the size
        // limit (read_file answers Io for that), is damage that stays:
        // taken for an I/O error, it would block every deletion for good.
        Err(StorageError::WrongKind) => {
            return Err(ReadError::Damaged(DecodeError::Malformed(
                "the archive is not a file",
            )))
        }
        Err(StorageError::Io)
            if ctx
                .storage
                .file_size(&path)
                .is_ok_and(|s| s > MAX_ARCHIVE_BYTES) =>
        {
            return Err(ReadError::Damaged(DecodeError::Malformed(
                "the archive is larger than any archive written",
            )))
        }
        Err(e) => return Err(ReadError::Io(e)),
    }
    let archive = Archive::decode(&ctx.scratch).map_err(ReadError::Damaged)?;
    if archive.name != name.as_str() {
        return Err(ReadError::Damaged(DecodeError::Malformed(
            "archive names another directory",
        )));
    }
    Ok(archive)
}

fn remember(
    ctx_gens: &mut alloc::collections::BTreeMap<Generation, GenRecord>,
    generation: Generation,
    name: GenerationName,
    created: u64,
) {
    ctx_gens.insert(
        generation,
        GenRecord {
            name,
            created,
            status: GenerationStatus::NoArchive,
            objects: 0,
            needs_sweep: true,
            log: None,
        },
    );
}

/// Records a generation directory without a (read) archive.
pub(crate) fn remember_incomplete<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    generation: Generation,
    name: GenerationName,
    created: u64,
) {
    remember(&mut ctx.catalog.gens, generation, name, created);
}

/// Takes a valid archive into the catalog.
pub(crate) fn adopt<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>, archive: Archive) {
    let generation = archive.generation;
    ctx.catalog
        .learn(generation, archive.fanout, &archive.packs);
    for source in &archive.sources {
        if ctx.catalog.record(source.generation).is_none() {
            log!(
                ctx,
                Level::Warning,
                "generation '{}' uses packs of '{}', whose directory is missing",
                archive.name,
                source.name
            );
        }
    }
    ctx.catalog.learn_sources(&archive.sources);
    ctx.catalog.add(&archive.entries);
    if let Some(record) = ctx.catalog.record_mut(generation) {
        record.status = GenerationStatus::Valid;
        record.objects = u32::try_from(archive.entries.len()).unwrap_or(u32::MAX);
        record.needs_sweep = false;
    }
    if ctx.base.as_ref().is_none_or(|b| b.generation < generation) {
        ctx.base = Some(Loaded::from_archive(archive));
    }
}

fn set_status<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    generation: Generation,
    status: GenerationStatus,
) {
    if let Some(record) = ctx.catalog.record_mut(generation) {
        record.status = status;
    }
}

/// Whether a generation directory was left by format 1 (one file per
/// object): its archive is an intact archive of version 1, or it has no
/// archive and a `snapshot` directory. Reads 8 bytes (the whole archive
/// only when it says version 1), or lists one directory. A damaged
/// archive that merely reads as version 1 (a flipped bit) fails its CRC
/// and invalidates its own generation only.
fn is_format_1<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>, name: &GenerationName) -> bool {
    let mut head = [0u8; 8];
    let path = layout::in_generation(name.as_str(), ARCHIVE);
    match ctx.storage.read_at(&path, 0, &mut head) {
        Ok(n) => {
            let says_1 = head
                .get(..n)
                .and_then(archive::version_of)
                .is_some_and(|v| v == FORMAT_1);
            says_1
                && ctx
                    .storage
                    .read_file(&path, MAX_ARCHIVE_BYTES, &mut ctx.scratch)
                    .is_ok()
                && format::archive_checksum_ok(&ctx.scratch)
        }
        Err(StorageError::NotFound) => ctx.storage.list_dir(name.as_str()).is_ok_and(|entries| {
            entries
                .iter()
                .any(|e| e.kind == EntryKind::Dir && e.name == SNAPSHOT_DIR)
        }),
        Err(_) => false,
    }
}

fn refuse_format_1<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>, name: &GenerationName) -> Error {
    log!(
        ctx,
        Level::Error,
        "generation '{name}' is of format 1 (one file per object); this Snapper stores format 2 (packs) and neither reads nor changes a format-1 root: give it another root, or restore the old generations with a Snapper of format 1"
    );
    Error::InvalidVersion
}

/// Lists the root, reads every archive, derives the reference counts and
/// finds the latest generation. A root holding format-1 generations is
/// refused as a whole, and nothing in it is touched.
pub(crate) fn scan<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>) -> Result<(), Error> {
    let entries = ctx.storage.list_dir("").map_err(|e| {
        log!(ctx, Level::Error, "cannot list the snapper root: {e}");
        Error::StorageFailed
    })?;
    for entry in entries {
        match (entry.kind, GenerationName::parse(&entry.name)) {
            (EntryKind::Dir, Some((name, created, generation))) => {
                if ctx.catalog.record(generation).is_some() {
                    log!(
                        ctx,
                        Level::Warning,
                        "two directories claim generation {generation}; ignoring '{}'",
                        entry.name
                    );
                    continue;
                }
                remember_incomplete(ctx, generation, name, created);
            }
            _ => log!(
                ctx,
                Level::Debug,
                "ignoring '{}' in the snapper root",
                entry.name
            ),
        }
    }
    let generations: Vec<(Generation, GenerationName)> = ctx
        .catalog
        .gens
        .iter()
        .map(|(g, r)| (*g, r.name.clone()))
        .collect();
    // Look at every directory before reading any archive: a format-1 root
    // is refused before anything could lead to a deletion.
    for (_, name) in &generations {
        if is_format_1(ctx, name) {
            return Err(refuse_format_1(ctx, name));
        }
    }
    load_log(ctx)?;
    for (generation, name) in generations {
        if ctx
            .catalog
            .record(generation)
            .is_some_and(|r| r.log.is_some())
        {
            continue;
        }
        let outcome = read_archive(ctx, generation, &name);
        settle(ctx, generation, &name, outcome, false);
    }
    if let Some((generation, _)) = ctx.catalog.gens.iter().next_back() {
        ctx.next_generation = ctx
            .next_generation
            .max(Generation(generation.0.saturating_add(1)));
        ctx.last_created = ctx
            .catalog
            .gens
            .values()
            .map(|r| r.created)
            .max()
            .unwrap_or(0);
    }
    let valid = ctx.catalog.valid().count();
    let latest = match &ctx.base {
        Some(base) => alloc::format!(", latest {}", ctx.catalog.name_of(base.generation)),
        None => String::new(),
    };
    log!(
        ctx,
        Level::Info,
        "snapper root holds {valid} generation(s){latest}"
    );
    Ok(())
}

/// Reads the archive log, if there is one, and takes its records into the
/// catalog. An I/O error leaves it unread (retried before anything is
/// deleted or written to it); a record of an unknown version refuses the
/// root, as format 1 does.
fn load_log<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>) -> Result<(), Error> {
    let bytes = match log_store::read_log(ctx) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(()),
        Err(e) => {
            log!(
                ctx,
                Level::Error,
                "the archive log cannot be read ({e}); its generations are not used, and nothing is deleted, until it reads"
            );
            ctx.log.exists = true;
            ctx.log.unread = true;
            return Ok(());
        }
    };
    let (space, found) = match log_store::load(&bytes) {
        Ok(loaded) => loaded,
        Err(e) => {
            log!(
                ctx,
                Level::Error,
                "the archive log holds a record this Snapper does not read ({e}); nothing in the root is changed: use a newer Snapper"
            );
            return Err(Error::InvalidVersion);
        }
    };
    ctx.log.exists = true;
    ctx.log.unread = false;
    ctx.log.space = space;
    // In generation order, as a scan of directories goes: the base is the
    // newest, and warnings name generations in the order they were made.
    let mut found = found;
    found.sort_by_key(|f| match f {
        Found::Committed { archive, .. } => archive.generation,
        Found::Damaged { generation, .. } | Found::Torn { generation, .. } => *generation,
    });
    for record in found {
        take_record(ctx, record);
    }
    Ok(())
}

/// The catalog's record of `generation`, made if it has none (a generation
/// whose archive is in the log and which wrote no pack has no directory).
fn ensure_record<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    generation: Generation,
    name: GenerationName,
    created: u64,
) {
    if ctx.catalog.record(generation).is_none() {
        remember_incomplete(ctx, generation, name, created);
    }
}

fn take_record<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>, found: Found) {
    match found {
        Found::Committed {
            extent,
            archive_len,
            archive,
            header_damaged,
        } => {
            let generation = archive.generation;
            // Archive::decode checked that the name spells this generation.
            let Some((name, created, _)) = GenerationName::parse(&archive.name) else {
                return;
            };
            if let Some(r) = ctx.catalog.record(generation) {
                if r.log.is_some() || r.name != name {
                    log!(
                        ctx,
                        Level::Warning,
                        "the archive log holds a second archive of generation {generation} at block {}; ignored, and its space kept",
                        extent.block
                    );
                    return;
                }
            }
            if header_damaged {
                log!(
                    ctx,
                    Level::Warning,
                    "generation '{name}': its record header in the archive log is damaged, its archive is intact and used"
                );
            }
            ensure_record(ctx, generation, name, created);
            if let Some(r) = ctx.catalog.record_mut(generation) {
                r.log = Some(log_store::LogRecord {
                    extent,
                    archive_len,
                });
            }
            adopt(ctx, archive);
        }
        Found::Damaged {
            extent,
            generation,
            error,
        } => {
            if ctx
                .catalog
                .record(generation)
                .is_some_and(|r| r.log.is_some())
            {
                return;
            }
            // Its name is in the damaged archive; a directory, if it wrote
            // packs, gives it, else it is named by its number alone.
            ensure_record(ctx, generation, GenerationName::new(0, generation), 0);
            if let Some(r) = ctx.catalog.record_mut(generation) {
                r.log = Some(log_store::LogRecord {
                    extent,
                    archive_len: 0,
                });
            }
            let name = ctx.catalog.name_of(generation);
            let name = String::from(name);
            log!(
                ctx,
                Level::Error,
                "generation '{name}': its archive in the archive log is damaged ({error}); the generation is not valid"
            );
            set_status(ctx, generation, GenerationStatus::Damaged(error));
        }
        Found::Torn { extent, generation } => {
            log!(
                ctx,
                Level::Info,
                "the archive log holds the record of a commit cut short (generation {generation}); it is cleared at the next snapshot"
            );
            ctx.log.torn.push(extent);
            ctx.next_generation = ctx
                .next_generation
                .max(Generation(generation.0.saturating_add(1)));
        }
    }
}

/// Re-reads the archives an I/O error kept from being read. A transient
/// error at start must not make a committed generation garbage (a sweep
/// would delete it, or the packs it uses). Returns whether none is left
/// unread.
pub(crate) fn reread_unreadable<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>) -> bool {
    let pending: Vec<(Generation, GenerationName)> = ctx
        .catalog
        .gens
        .iter()
        .filter(|(_, r)| matches!(r.status, GenerationStatus::Unreadable(_)))
        .map(|(g, r)| (*g, r.name.clone()))
        .collect();
    let mut all_read = true;
    if ctx.log.unread {
        // A failed re-read keeps it unread; a record of an unknown version
        // found only now is as bad: nothing may be deleted either way.
        if load_log(ctx).is_err() {
            ctx.log.unread = true;
        }
        if ctx.log.unread {
            all_read = false;
        } else {
            log!(ctx, Level::Info, "the archive log read on retry");
        }
    }
    for (generation, name) in pending {
        let outcome = read_archive(ctx, generation, &name);
        all_read &= settle(ctx, generation, &name, outcome, true);
    }
    all_read
}

/// Takes the outcome of reading a generation's archive into the catalog,
/// at start or on a retry: valid, none, damaged (stays), or unreadable (an
/// I/O error; retried before use). Returns false only for unreadable.
fn settle<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    generation: Generation,
    name: &GenerationName,
    outcome: Result<Archive, ReadError>,
    retry: bool,
) -> bool {
    match outcome {
        Ok(archive) => {
            if retry {
                log!(
                    ctx,
                    Level::Info,
                    "generation '{name}': archive read on retry"
                );
            }
            adopt(ctx, archive);
        }
        Err(ReadError::Missing) => set_status(ctx, generation, GenerationStatus::NoArchive),
        Err(ReadError::Damaged(e)) => {
            log!(
                ctx,
                Level::Error,
                "generation '{name}': archive damaged ({e}); the generation is not valid"
            );
            set_status(ctx, generation, GenerationStatus::Damaged(e));
        }
        Err(ReadError::Io(e)) => {
            log!(
                ctx,
                Level::Error,
                "generation '{name}': archive unreadable ({e}); not used, and nothing deleted, until it reads"
            );
            set_status(ctx, generation, GenerationStatus::Unreadable(e));
            return false;
        }
    }
    true
}

/// The wire error for a damaged archive.
pub(crate) fn damage_error(error: DecodeError) -> Error {
    match error {
        DecodeError::UnsupportedVersion(_) => Error::InvalidVersion,
        _ => Error::IntegrityFailed,
    }
}

/// Loads the archive of a valid generation (the base is not re-read by
/// callers that can share it).
pub(crate) fn load<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    generation: Generation,
) -> Result<Loaded, Error> {
    let Some(name) = ctx.catalog.record(generation).map(|r| r.name.clone()) else {
        return Err(Error::LoadGenFailed);
    };
    match read_archive(ctx, generation, &name) {
        Ok(archive) => Ok(Loaded::from_archive(archive)),
        Err(ReadError::Missing) => {
            log!(ctx, Level::Error, "generation '{name}': archive vanished");
            set_status(ctx, generation, GenerationStatus::NoArchive);
            Err(Error::LoadGenFailed)
        }
        Err(ReadError::Io(e)) => {
            log!(
                ctx,
                Level::Error,
                "generation '{name}': cannot read the archive: {e}"
            );
            Err(match e {
                StorageError::NotFound => Error::LoadGenFailed,
                _ => Error::StorageFailed,
            })
        }
        Err(ReadError::Damaged(e)) => {
            log!(
                ctx,
                Level::Error,
                "generation '{name}': archive damaged ({e})"
            );
            set_status(ctx, generation, GenerationStatus::Damaged(e));
            Err(damage_error(e))
        }
    }
}
