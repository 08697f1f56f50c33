//! Creating a generation: init_snapshot, take_snapshot, commit_snapshot.
//!
//! New payloads are appended to a pack held in memory and written as one
//! file when it reaches `pack_size` or at commit; no sync until the commit.
//! An object equal to the base's costs no I/O; one equal to content stored
//! under another id (a zero page, a duplicated page) is linked to it. Two
//! kinds of extra copy are written, each under a per-generation budget so
//! that no snapshot pays a full rewrite: redundant copies (the seed's rule:
//! once a copy serves `redundancy` generations) and copy-forward out of
//! sparse packs (so that mostly dead packs can go).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use crate::archive::{self, Archive, Copies, Entry, Header, Source, Stored};
use crate::error::Error;
use crate::layout::{self, GenerationName, ARCHIVE, ARCHIVE_TMP};
use crate::pack::{FinishedPack, PackBuilder};
use crate::storage::{Storage, StorageError};
use crate::types::{Digest, Generation, ObjectId, PackNumber, PackRef};

use super::catalog::GenRecord;
use super::log_store::{self, LogRecord};
use super::read::remember_incomplete;
use super::window::{read_copy, Window};
use super::{
    log, sweep, Ctx, GenerationStatus, InitOutcome, Level, Loaded, Platform, SnapshotStats,
};

/// Budgets of extra copies per generation, as fractions of the base:
/// redundant copies of at most 1/`redundancy` of its objects (the seed's
/// rule would otherwise copy nearly every object in the same generation),
/// copy-forward of at most 1/8 of its bytes plus one pack.
const COPY_FORWARD_SHARE: u64 = 8;

/// A pack whose write failed: kept in memory and retried (after removing
/// whatever the failed write left) before the next pack or at commit, so
/// that no object already taken is lost.
struct Unwritten {
    number: PackNumber,
    pack: FinishedPack,
}

/// The generation being created.
pub(crate) struct Creation {
    generation: Generation,
    name: GenerationName,
    created: u64,
    fanout: u32,
    /// Payload bytes of the packs written so far, by number.
    packs: Vec<u64>,
    current: Option<PackBuilder>,
    unwritten: Option<Unwritten>,
    next_pack: u32,
    entries: Vec<Entry>,
    /// This generation's new payloads by content, for dedup.
    written: BTreeMap<(Digest, u32), Stored>,
    /// The base's entries by content (built when the first payload that
    /// differs from the base arrives, so an unchanged generation never pays).
    base_by_content: Option<Vec<(Digest, u32, usize)>>,
    /// The directory chain of the last pack; packs are numbered in order,
    /// so a directory once left is never needed again.
    open_dirs: Vec<String>,
    /// Where the extra copies of hinted objects are read back from: they
    /// come in the base's order, which is its packs', so through one
    /// read-ahead window they cost a few large reads.
    pub(super) window: Window,
    redundant_budget: u64,
    forward_budget: u64,
    stats: SnapshotStats,
    /// A write failed and may have left a file: sweep after commit.
    failed_writes: bool,
    /// Where the last id was found in the base (ids come in ascending
    /// order, so the next one is most often the next entry).
    base_cursor: usize,
    /// The sources of the archive once it is in place.
    sources_committed: Option<Vec<Source>>,
    /// Its directory exists (made at init without the archive log, else
    /// with the first pack).
    dir_made: bool,
    /// The sources of an archive whose commit to the log failed: if its
    /// record cannot be retired and reads back whole, the generation is
    /// kept as committed with them.
    attempted_sources: Option<Vec<Source>>,
    /// Its record in the archive log, once a commit wrote one (kept on a
    /// failed commit: a retry writes the same place, an abort retires it).
    log_record: Option<LogRecord>,
    /// Its durable record could not be sealed: committed, but the commit
    /// answers this error.
    unsealed: Option<StorageError>,
}

impl Creation {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn name(&self) -> &GenerationName {
        &self.name
    }
}

/// Takes the next generation number and creates its directories.
pub(crate) fn init<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
) -> Result<(Creation, InitOutcome), Error> {
    let generation = ctx.next_generation;
    if generation.0 == u32::MAX {
        log!(ctx, Level::Error, "generation numbers exhausted");
        return Err(Error::InitFailed);
    }
    // Names sort by time: never let a clock that went back put a new
    // generation before an old one.
    let created = ctx.platform.now().max(ctx.last_created);
    let name = GenerationName::new(created, generation);
    // Its `pack` directory comes with its first pack (write_pack): a
    // generation of hints and unchanged objects writes none, and on lwext4
    // every directory costs a few milliseconds of the client's pause.
    // With the archive log, the generation directory also comes with the
    // first pack: a generation that writes none creates nothing at all.
    let dir_made = !ctx.config.archive_log;
    let made = if dir_made {
        ctx.storage.create_dir(name.as_str())
    } else {
        Ok(())
    };
    // Whatever happens, this number is used: a failed attempt may have
    // left a directory under it.
    ctx.next_generation = Generation(generation.0 + 1);
    if let Err(e) = made {
        log!(ctx, Level::Error, "cannot create generation '{name}': {e}");
        remember_incomplete(ctx, generation, name, created);
        return Err(Error::InitFailed);
    }
    ctx.last_created = created;
    // A read error may have kept the base from being reloaded after a
    // purge of the newest generation: try again, or every object of this
    // generation would be written anew and hints refused.
    if ctx.base.is_none() && ctx.catalog.valid().next().is_some() {
        super::purge::reload_base(ctx);
    }
    let outcome = match &ctx.base {
        Some(base) => InitOutcome::Based(base.generation),
        None => InitOutcome::NoPriorGen,
    };
    let (base_objects, base_bytes) = ctx.base.as_ref().map_or((0, 0), |b| {
        (
            b.entries.len() as u64,
            b.entries.iter().map(|e| u64::from(e.size)).sum::<u64>(),
        )
    });
    let redundancy = u64::from(ctx.config.redundancy.max(1));
    log!(ctx, Level::Debug, "generation '{name}' started");
    let creation = Creation {
        generation,
        name,
        created,
        fanout: ctx.config.threshold.max(2),
        packs: Vec::new(),
        current: None,
        unwritten: None,
        next_pack: 0,
        // One allocation of the expected size: no doubling garbage.
        entries: Vec::with_capacity(base_objects as usize),
        written: BTreeMap::new(),
        base_by_content: None,
        open_dirs: Vec::new(),
        window: Window::with_buffer(core::mem::take(&mut ctx.spare_window)),
        redundant_budget: base_objects.div_ceil(redundancy),
        forward_budget: base_bytes / COPY_FORWARD_SHARE + ctx.config.pack_size,
        stats: SnapshotStats::default(),
        failed_writes: false,
        base_cursor: 0,
        sources_committed: None,
        dir_made,
        log_record: None,
        unsealed: None,
        attempted_sources: None,
    };
    Ok((creation, outcome))
}

/// Stores one object.
pub(crate) fn take<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
    id: ObjectId,
    payload: &[u8],
) -> Result<(), Error> {
    if payload.len() as u64 > ctx.config.bufsize {
        let (len, bufsize) = (payload.len(), ctx.config.bufsize);
        log!(
            ctx,
            Level::Error,
            "object {id}: payload of {len} bytes exceeds bufsize {bufsize}; not stored"
        );
        return Err(Error::PayloadTooLarge);
    }
    // bufsize is below 4 GiB (Config), so the length fits.
    let size = payload.len() as u32;
    let digest = crate::types::Digest::of(payload);
    let unchanged = ctx
        .base
        .as_ref()
        .and_then(|base| {
            let at = archive::find_entry_near(&base.entries, id, creation.base_cursor)?;
            creation.base_cursor = at;
            base.entries.get(at)
        })
        .filter(|old| old.digest == digest && old.size == size)
        .map(|old| old.copies);
    let copies = match unchanged {
        Some(old) => keep_unchanged(ctx, creation, id, Some(payload), old)?,
        None => match find_equal(ctx, creation, digest, size) {
            Some(copies) => {
                creation.stats.deduplicated += 1;
                copies
            }
            None => {
                let fresh = append(ctx, creation, id, payload)?;
                creation.written.insert((digest, size), fresh);
                Copies::one(fresh)
            }
        },
    };
    creation.entries.push(Entry {
        id,
        size,
        digest,
        copies,
    });
    creation.stats.objects += 1;
    Ok(())
}

/// An object equal to the base's: link to its copies, unless a budgeted
/// extra copy is due (redundancy, or its newest copy sits in a sparse pack).
/// Without the payload (a client's hint), the copy is made from the newest
/// stored copy, read back and checked; if that fails, the object is linked
/// and the copy left for a later generation.
fn keep_unchanged<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
    id: ObjectId,
    payload: Option<&[u8]>,
    old: Copies,
) -> Result<Copies, Error> {
    let newest = *old.newest();
    let redundancy = ctx.config.redundancy;
    let owes_copy = redundancy != 0
        && ctx.catalog.count(newest.location()) >= redundancy
        && creation.redundant_budget > 0;
    let sparse = ctx.catalog.is_sparse(newest.pack_ref())
        && creation.forward_budget >= u64::from(newest.length);
    if !owes_copy && !sparse {
        return Ok(old);
    }
    let read_back;
    let payload = match payload {
        Some(payload) => payload,
        None => match read_stored(ctx, &mut creation.window, &newest) {
            Some(bytes) => {
                read_back = bytes;
                &read_back
            }
            None => {
                log!(
                    ctx,
                    Level::Warning,
                    "object {id}: its stored copy did not read back intact; linked without the extra copy"
                );
                return Ok(old);
            }
        },
    };
    let fresh = append(ctx, creation, id, payload)?;
    if sparse {
        creation.forward_budget -= u64::from(newest.length);
        creation.stats.copied_forward += 1;
    } else {
        creation.redundant_budget -= 1;
        creation.stats.redundant_copies += 1;
    }
    // Copies in sparse packs are dropped: keeping them would keep the
    // pack alive for this generation too.
    let catalog = &ctx.catalog;
    Ok(Copies::prepend(fresh, &old, |c| {
        !catalog.is_sparse(c.pack_ref())
    }))
}

/// The stored bytes of a copy the base uses, read and CRC-checked; `None`
/// if they do not read back intact (or use a codec other than raw).
fn read_stored<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    window: &mut Window,
    copy: &Stored,
) -> Option<Vec<u8>> {
    // No object larger than bufsize was ever taken: a larger length is
    // damage, and must not size an allocation.
    if u64::from(copy.length) > ctx.config.bufsize {
        return None;
    }
    let source = ctx
        .base
        .as_ref()
        .and_then(|base| base.source(copy.generation))?;
    // no read ahead past the pack's payloads into its index
    let payload_end = source
        .packs
        .get(copy.pack.0 as usize)
        .copied()
        .unwrap_or(u64::MAX);
    let path = layout::pack_path(&source.name, source.fanout, copy.pack);
    read_copy(&mut ctx.storage, window, copy, payload_end, || Some(&path))
        .ok()
        .map(<[u8]>::to_vec)
}

/// Takes an object the client says is unchanged since the base, without
/// its payload: linked to the base's copies, no digest computed. An id the
/// base does not hold is refused (NoMatches): nothing is guessed.
pub(crate) fn take_unchanged<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
    id: ObjectId,
) -> Result<(), Error> {
    let Some(old) = ctx
        .base
        .as_ref()
        .and_then(|base| archive::find_entry(&base.entries, id))
        .copied()
    else {
        log!(
            ctx,
            Level::Warning,
            "object {id}: hinted unchanged, but the base generation does not hold it; not stored"
        );
        return Err(Error::NoMatches);
    };
    let copies = keep_unchanged(ctx, creation, id, None, old.copies)?;
    creation.entries.push(Entry {
        id,
        size: old.size,
        digest: old.digest,
        copies,
    });
    creation.stats.objects += 1;
    creation.stats.hinted += 1;
    Ok(())
}

/// Content stored under another id: in this generation, or in the base.
fn find_equal<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
    digest: Digest,
    size: u32,
) -> Option<Copies> {
    if let Some(stored) = creation.written.get(&(digest, size)) {
        return Some(Copies::one(*stored));
    }
    let base = ctx.base.as_ref()?;
    let index = creation.base_by_content.get_or_insert_with(|| {
        let mut index: Vec<(Digest, u32, usize)> = base
            .entries
            .iter()
            .enumerate()
            .map(|(at, e)| (e.digest, e.size, at))
            .collect();
        index.sort_unstable_by_key(|a| (a.0, a.1));
        index
    });
    let at = index
        .binary_search_by_key(&(digest, size), |probe| (probe.0, probe.1))
        .ok()?;
    let (_, _, entry_at) = index.get(at)?;
    let copies = base.entries.get(*entry_at)?.copies;
    // A copy in a sparse pack is not worth linking to: store afresh.
    (!ctx.catalog.is_sparse(copies.newest().pack_ref())).then_some(copies)
}

/// Appends a payload to the current pack, writing the pack first when the
/// payload would take it past `pack_size`.
fn append<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
    id: ObjectId,
    payload: &[u8],
) -> Result<Stored, Error> {
    retry_unwritten(ctx, creation)?;
    let full = creation.current.as_ref().is_some_and(|pack| {
        !pack.is_empty() && pack.payload_bytes() + payload.len() as u64 > ctx.config.pack_size
    });
    if full {
        flush(ctx, creation)?;
    }
    let pack_size = ctx.config.pack_size;
    let generation = creation.generation;
    if creation.current.is_none() {
        let number = PackNumber(creation.next_pack);
        creation.next_pack = creation
            .next_pack
            .checked_add(1)
            .ok_or(Error::StorageFailed)?;
        // The previous pack's buffer, once written, is reused: no fresh
        // allocation (on Genode: no new dataspace to fault in) per pack.
        let buffer = ctx
            .spare_pack
            .take()
            .unwrap_or_else(|| Vec::with_capacity(pack_size.max(payload.len() as u64) as usize));
        creation.current = Some(PackBuilder::new(generation, number, buffer));
    }
    let Some(pack) = creation.current.as_mut() else {
        return Err(Error::StorageFailed);
    };
    let record = pack.push(id, payload).ok_or_else(|| {
        log!(ctx, Level::Error, "object {id}: pack cannot address it");
        Error::StorageFailed
    })?;
    creation.stats.payloads_written += 1;
    Ok(Stored {
        generation,
        pack: pack.number(),
        offset: record.offset,
        length: record.length,
        crc: record.crc,
        codec: record.codec,
    })
}

/// Writes the current pack as one file.
fn flush<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
) -> Result<(), Error> {
    retry_unwritten(ctx, creation)?;
    let Some(pack) = creation.current.take() else {
        return Ok(());
    };
    let number = pack.number();
    write_pack(ctx, creation, number, pack.finish())
}

fn retry_unwritten<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
) -> Result<(), Error> {
    let Some(unwritten) = creation.unwritten.take() else {
        return Ok(());
    };
    let path = layout::pack_path(creation.name.as_str(), creation.fanout, unwritten.number);
    match ctx.storage.remove(&path) {
        Ok(()) | Err(StorageError::NotFound) => {}
        Err(e) => {
            log!(
                ctx,
                Level::Error,
                "cannot remove the partly written '{path}': {e}"
            );
            creation.unwritten = Some(unwritten);
            return Err(Error::StorageFailed);
        }
    }
    write_pack(ctx, creation, unwritten.number, unwritten.pack)
}

fn write_pack<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
    number: PackNumber,
    pack: FinishedPack,
) -> Result<(), Error> {
    if !creation.dir_made {
        match ctx.storage.create_dir(creation.name.as_str()) {
            Ok(()) | Err(StorageError::AlreadyExists) => creation.dir_made = true,
            Err(e) => {
                creation.failed_writes = true;
                log!(
                    ctx,
                    Level::Error,
                    "cannot create generation directory '{}': {e}",
                    creation.name
                );
                creation.unwritten = Some(Unwritten { number, pack });
                return Err(Error::StorageFailed);
            }
        }
    }
    let dirs = layout::pack_dirs(creation.name.as_str(), creation.fanout, number);
    for (depth, dir) in dirs.iter().enumerate() {
        if creation.open_dirs.get(depth) == Some(dir) {
            continue;
        }
        match ctx.storage.create_dir(dir) {
            Ok(()) | Err(StorageError::AlreadyExists) => {}
            Err(e) => {
                creation.failed_writes = true;
                log!(ctx, Level::Error, "cannot create directory '{dir}': {e}");
                creation.unwritten = Some(Unwritten { number, pack });
                return Err(Error::StorageFailed);
            }
        }
    }
    creation.open_dirs = dirs;
    let path = layout::pack_path(creation.name.as_str(), creation.fanout, number);
    if let Err(e) = ctx
        .storage
        .write_new_file(&path, &[&pack.payloads, &pack.tail])
    {
        creation.failed_writes = true;
        log!(
            ctx,
            Level::Error,
            "cannot write pack '{path}': {e}; its objects are kept and the write retried"
        );
        creation.unwritten = Some(Unwritten { number, pack });
        return Err(Error::StorageFailed);
    }
    let payload_bytes = pack.payloads.len() as u64;
    let file_len = pack.len();
    if ctx.spare_pack.is_none() {
        ctx.spare_pack = Some(pack.payloads);
    }
    let index = number.0 as usize;
    if creation.packs.len() <= index {
        creation.packs.resize(index + 1, 0);
    }
    if let Some(slot) = creation.packs.get_mut(index) {
        *slot = payload_bytes;
    }
    creation.stats.packs_written += 1;
    creation.stats.pack_bytes += file_len;
    Ok(())
}

/// Writes the last pack and the archive, and commits: archive.tmp, sync,
/// rename (the commit point), sync. On failure the generation stays open.
pub(crate) fn write_archive<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
) -> Result<(), Error> {
    flush(ctx, creation)?;
    // A pack number is only taken when a payload goes in, so every number
    // below next_pack was written.
    sort_and_dedupe(&mut creation.entries);
    let mut referenced = BTreeSet::new();
    for entry in &creation.entries {
        referenced.extend(entry.copies.iter().map(|c| c.generation));
    }
    let mut sources = Vec::with_capacity(referenced.len());
    for generation in referenced {
        let source = if generation == creation.generation {
            Source {
                generation,
                name: creation.name.as_str().into(),
                fanout: creation.fanout,
                packs: creation.packs.clone(),
            }
        } else {
            match ctx.catalog.source(generation) {
                Some(source) => source,
                None => {
                    log!(
                        ctx,
                        Level::Error,
                        "internal: no source for generation {generation}; commit refused"
                    );
                    return Err(Error::StorageFailed);
                }
            }
        };
        sources.push(source);
    }
    let header = Header {
        generation: creation.generation,
        name: creation.name.as_str(),
        created: creation.created,
        fanout: creation.fanout,
        packs: &creation.packs,
    };
    let bytes = match Archive::encode(header, &sources, &creation.entries) {
        Ok(bytes) => bytes,
        Err(e) => {
            log!(ctx, Level::Error, "cannot encode the archive: {e}");
            return Err(Error::StorageFailed);
        }
    };
    if ctx.config.archive_log {
        return commit_to_log(ctx, creation, &bytes, sources);
    }
    let tmp = layout::in_generation(creation.name.as_str(), ARCHIVE_TMP);
    let archive = layout::in_generation(creation.name.as_str(), ARCHIVE);
    // A failed earlier attempt may have left the temporary file.
    let _ = ctx.storage.remove(&tmp);
    let staged = ctx
        .storage
        .write_new_file(&tmp, &[&bytes])
        .and_then(|()| ctx.storage.sync())
        .and_then(|()| ctx.storage.rename(&tmp, &archive));
    if let Err(e) = staged {
        let _ = ctx.storage.remove(&tmp);
        creation.failed_writes = true;
        log!(
            ctx,
            Level::Error,
            "commit of '{}' failed: {e}; the generation stays open",
            creation.name
        );
        return Err(Error::StorageFailed);
    }
    creation.stats.archive_bytes = bytes.len() as u64;
    creation.sources_committed = Some(sources);
    Ok(())
}

/// The commit through the archive log: the packs made durable, then the
/// record written, synced and sealed (`log_store::commit`). A generation
/// that wrote no pack costs two small writes into the log's existing space
/// and no new file or directory.
fn commit_to_log<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    creation: &mut Creation,
    bytes: &[u8],
    sources: Vec<Source>,
) -> Result<(), Error> {
    if ctx.log.unread && !super::read::reread_unreadable(ctx) {
        log!(
            ctx,
            Level::Error,
            "commit of '{}' refused: the archive log cannot be read, and a commit must not write over what it holds; the generation stays open",
            creation.name
        );
        return Err(Error::StorageFailed);
    }
    // Packs before the record: a durable record must never name a pack
    // that a cut could still take away.
    let packs_durable = if creation.stats.packs_written > 0 {
        ctx.storage.sync()
    } else {
        Ok(())
    };
    let committed = packs_durable.and_then(|()| {
        log_store::commit(ctx, creation.generation, bytes, &mut creation.log_record)
    });
    // A record that is durable is committed (FORMAT.md "Archive log"),
    // whether the seal after it made it or not: adopted as such, and the
    // seal's error answered once adopted, as a failed final sync is.
    if let Ok((_, Err(e))) = committed {
        creation.unsealed = Some(e);
    }
    if let Err(e) = committed {
        creation.failed_writes = true;
        creation.attempted_sources = Some(sources);
        log!(
            ctx,
            Level::Error,
            "commit of '{}' to the archive log failed: {e}; the generation stays open",
            creation.name
        );
        return Err(Error::StorageFailed);
    }
    creation.stats.archive_bytes = bytes.len() as u64;
    creation.sources_committed = Some(sources);
    Ok(())
}

/// After the rename: sync, count the new archive's references, make it the
/// base. Answers StorageFailed if the last sync failed (the archive is in
/// place, but may not survive a crash).
pub(crate) fn adopt_committed<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    mut creation: Creation,
) -> Result<(), Error> {
    // A record of the archive log is durable already: its seal's sync was
    // the commit's last operation, and a sync costs milliseconds on lwext4.
    let durable = match (creation.log_record, creation.unsealed) {
        (Some(_), None) => Ok(()),
        (Some(_), Some(e)) => Err(e),
        (None, _) => ctx.storage.sync(),
    };
    let sources = creation.sources_committed.take().unwrap_or_default();
    ctx.catalog
        .learn(creation.generation, creation.fanout, &creation.packs);
    ctx.catalog.learn_sources(&sources);
    ctx.catalog.add(&creation.entries);
    // A pack none of whose payloads the archive uses (every object in it
    // was taken again later in the generation) is garbage from the start.
    let dead_own = (0..creation.next_pack)
        .map(|n| PackRef {
            generation: creation.generation,
            pack: PackNumber(n),
        })
        .any(|pack| !ctx.catalog.pack_is_live(pack));
    ctx.catalog.gens.insert(
        creation.generation,
        GenRecord {
            name: creation.name.clone(),
            created: creation.created,
            status: GenerationStatus::Valid,
            objects: u32::try_from(creation.entries.len()).unwrap_or(u32::MAX),
            needs_sweep: creation.failed_writes || dead_own,
            log: creation.log_record,
        },
    );
    let stats = creation.stats;
    ctx.last_stats = stats;
    log!(
        ctx,
        Level::Info,
        "generation '{}' committed: {} objects, {} payloads written in {} packs ({} redundant copies, {} copied forward, {} deduplicated), {} bytes",
        creation.name,
        creation.entries.len(),
        stats.payloads_written,
        stats.packs_written,
        stats.redundant_copies,
        stats.copied_forward,
        stats.deduplicated,
        stats.pack_bytes + stats.archive_bytes
    );
    let name = creation.name.clone();
    ctx.base = Some(Loaded {
        generation: creation.generation,
        sources,
        entries: creation.entries,
    });
    if let Err(e) = durable {
        log!(
            ctx,
            Level::Error,
            "generation '{name}' is in place but the final sync or seal failed ({e}); it may not survive a crash, or later damage to it may read as a commit cut short"
        );
        return Err(Error::StorageFailed);
    }
    Ok(())
}

/// Drops a generation being created: its packs are unreferenced garbage.
pub(crate) fn drop_creation<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>, mut creation: Creation) {
    ctx.last_stats = creation.stats;
    let generation = creation.generation;
    let name = creation.name.clone();
    if let Some(record) = creation.log_record {
        // A failed commit may still have made its record durable: retire
        // it, or it would come back as a committed generation at start,
        // naming packs the sweep below would have deleted.
        if let Err(e) = log_store::retire(ctx, record.extent) {
            // Not retired, so the record is what the next start finds: the
            // generation is taken as that start would take it (a failed
            // commit may end complete or gone).
            let read = match log_store::read(ctx, record, generation) {
                // Whole, but nothing to adopt it with (cannot happen: a
                // record is only written with its sources at hand): kept
                // as unreadable rather than its packs deleted.
                Ok(_) if creation.attempted_sources.is_none() => {
                    Err(super::read::ReadError::Io(StorageError::Io))
                }
                other => other,
            };
            match read {
                Ok(_) => {
                    if let Some(sources) = creation.attempted_sources.take() {
                        log!(
                            ctx,
                            Level::Warning,
                            "aborted generation '{name}': its record in the archive log cannot be retired ({e}) and reads back whole; the generation is kept as committed"
                        );
                        creation.sources_committed = Some(sources);
                        let _ = adopt_committed(ctx, creation);
                        return;
                    }
                }
                // Broken or gone: a commit cut short, cleared at the next
                // snapshot; the generation is dropped.
                Err(super::read::ReadError::Damaged(_) | super::read::ReadError::Missing) => {
                    ctx.log.torn.push(record.extent)
                }
                // Unknown: kept, like an archive that cannot be read, with
                // nothing deleted until it reads.
                Err(super::read::ReadError::Io(io)) => {
                    log!(
                        ctx,
                        Level::Warning,
                        "aborted generation '{name}': its record in the archive log can neither be retired ({e}) nor read ({io}); kept as unreadable, nothing deleted until it reads"
                    );
                    remember_incomplete(ctx, generation, creation.name, creation.created);
                    if let Some(r) = ctx.catalog.record_mut(generation) {
                        r.status = super::GenerationStatus::Unreadable(io);
                        r.log = Some(record);
                    }
                    return;
                }
            }
        }
    }
    remember_incomplete(ctx, generation, creation.name, creation.created);
    if let Err(e) = sweep::sweep_generation(ctx, generation) {
        log!(
            ctx,
            Level::Warning,
            "aborted generation not yet removed ({e}); the next init_snapshot retries"
        );
    }
}

/// Sorts entries by id; of two entries for one id the later wins (its
/// predecessor's payload stays in the pack, unused). In place: no second
/// vector of entries at the commit's peak, and no sort when the client took
/// its ids in ascending order.
fn sort_and_dedupe(entries: &mut Vec<Entry>) {
    if !entries.is_sorted_by_key(|e| e.id) {
        // Stable: equal ids keep the order they were taken in.
        entries.sort_by_key(|e| e.id);
    }
    // `later` is removed when it repeats `kept`'s id; swapping first keeps
    // the later entry's content in the earlier slot.
    entries.dedup_by(|later, kept| {
        if later.id == kept.id {
            core::mem::swap(later, kept);
            true
        } else {
            false
        }
    });
}
