//! Sweeping: what crashes, aborted generations and failed deletions leave
//! behind is found by one pass over a generation directory, deleting every
//! file that is neither a valid archive nor a pack some valid archive uses.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Error;
use crate::layout::{self, ARCHIVE};
use crate::storage::{EntryKind, Storage, StorageError};
use crate::types::{Generation, PackNumber, PackRef};

use super::catalog::GenRecord;
use super::log_store;
use super::read::reread_unreadable;
use super::{log, Ctx, GenerationStatus, Level, Platform};

pub(crate) fn mark_for_sweep<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>, generation: Generation) {
    if let Some(record) = ctx.catalog.record_mut(generation) {
        record.needs_sweep = true;
    }
}

/// With integrity=yes, the newest generation whose archive is damaged. Once
/// repaired it may use its own packs and those of any older generation
/// (copies never point forward), so none of those is deleted until the
/// damage is repaired or that generation is purged by name.
pub(crate) fn damage_horizon<S: Storage, P: Platform>(ctx: &Ctx<S, P>) -> Option<Generation> {
    if !ctx.config.integrity {
        return None;
    }
    ctx.catalog
        .gens
        .iter()
        .rev()
        .find(|(_, r)| matches!(r.status, GenerationStatus::Damaged(_)))
        .map(|(g, _)| *g)
}

/// Sweeps every generation that may hold garbage (init_snapshot does this).
pub(crate) fn sweep_incomplete<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>) {
    if !reread_unreadable(ctx) {
        log!(
            ctx,
            Level::Warning,
            "incomplete generations not swept: an archive cannot be read, so the packs it uses are unknown"
        );
        return;
    }
    log_store::clear_torn(ctx);
    let pending: Vec<Generation> = ctx
        .catalog
        .gens
        .iter()
        .filter(|(_, r)| r.needs_sweep && !matches!(r.status, GenerationStatus::Damaged(_)))
        .map(|(g, _)| *g)
        .collect();
    for generation in pending {
        match sweep_generation(ctx, generation) {
            Ok(count) if count > 0 => log!(
                ctx,
                Level::Info,
                "dropped {count} unused files of an incomplete generation"
            ),
            Ok(_) => {}
            Err(e) => log!(
                ctx,
                Level::Warning,
                "incomplete generation not fully removed ({e}); retried later"
            ),
        }
    }
}

/// Deletes every file of one generation directory that is neither its
/// valid archive nor a pack in use, and the directories that become empty.
pub(crate) fn sweep_generation<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    generation: Generation,
) -> Result<u64, StorageError> {
    let Some(record) = ctx.catalog.record(generation).cloned() else {
        return Ok(0);
    };
    if damage_horizon(ctx).is_some_and(|newest_damaged| generation <= newest_damaged) {
        log!(
            ctx,
            Level::Debug,
            "'{}' not swept: a damaged archive may use its packs (integrity=yes)",
            record.name
        );
        return Ok(0);
    }
    let mut deleted = 0;
    let Some(emptied) = sweep_dir(
        ctx,
        &record,
        generation,
        record.name.as_str().into(),
        &mut deleted,
    )?
    else {
        // A generation whose archive is in the log and which wrote no pack
        // has no directory: nothing to sweep, and gone once its record is.
        ctx.catalog.forget_if_gone(generation);
        return Ok(deleted);
    };
    if emptied {
        ctx.storage.remove(record.name.as_str())?;
        ctx.catalog.forget_if_gone(generation);
    } else if let Some(r) = ctx.catalog.record_mut(generation) {
        r.needs_sweep = false;
    }
    Ok(deleted)
}

/// Sweeps `dir` recursively; whether nothing is left in it, `None` if it
/// does not exist.
fn sweep_dir<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    record: &GenRecord,
    generation: Generation,
    dir: String,
    deleted: &mut u64,
) -> Result<Option<bool>, StorageError> {
    let entries = match ctx.storage.list_dir(&dir) {
        Ok(entries) => entries,
        Err(StorageError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut kept = 0;
    for entry in entries {
        let path = alloc::format!("{dir}/{}", entry.name);
        let keep = match entry.kind {
            EntryKind::Dir => {
                if sweep_dir(ctx, record, generation, path.clone(), deleted)? == Some(true) {
                    ctx.storage.remove(&path)?;
                    false
                } else {
                    true
                }
            }
            EntryKind::File => is_live_file(ctx, record, generation, &path),
        };
        if keep {
            kept += 1;
        } else if entry.kind == EntryKind::File {
            ctx.storage.remove(&path)?;
            *deleted += 1;
            log!(ctx, Level::Debug, "deleted unused '{path}'");
        }
    }
    Ok(Some(kept == 0))
}

pub(crate) fn is_live_file<S: Storage, P: Platform>(
    ctx: &Ctx<S, P>,
    record: &GenRecord,
    generation: Generation,
    path: &str,
) -> bool {
    if record.status == GenerationStatus::Valid
        && path == layout::in_generation(record.name.as_str(), ARCHIVE)
    {
        return true;
    }
    let Some(fanout) = ctx.catalog.packs_of(generation).map(|p| p.fanout) else {
        return false;
    };
    let Some(number) = path
        .rsplit('/')
        .next()
        .and_then(|leaf| u32::from_str_radix(leaf, 16).ok())
    else {
        return false;
    };
    let pack = PackRef {
        generation,
        pack: PackNumber(number),
    };
    ctx.catalog.pack_is_live(pack)
        && layout::pack_path(record.name.as_str(), fanout, pack.pack) == path
}

/// Deletes every pack that no valid archive uses, in every generation
/// directory, in one pass over the directories.
pub(crate) fn purge_zombies<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>) -> Result<(), Error> {
    if !reread_unreadable(ctx) {
        log!(
            ctx,
            Level::Error,
            "purge_zombies: an archive cannot be read, so the packs it uses are unknown; nothing deleted"
        );
        return Err(Error::StorageFailed);
    }
    log_store::clear_torn(ctx);
    let mut held_for_integrity = false;
    let mut failed = false;
    let mut deleted = 0;
    let generations: Vec<Generation> = ctx.catalog.gens.keys().copied().collect();
    for generation in generations {
        let Some(record) = ctx.catalog.record(generation).cloned() else {
            continue;
        };
        if let GenerationStatus::Damaged(e) = record.status {
            if ctx.config.integrity {
                log!(
                    ctx,
                    Level::Error,
                    "purge_zombies: '{}' has a damaged archive ({e}); kept for inspection (integrity=yes)",
                    record.name
                );
                held_for_integrity = true;
                continue;
            }
            log!(
                ctx,
                Level::Warning,
                "purge_zombies: '{}' has a damaged archive ({e}); deleting it as garbage (integrity=no)",
                record.name
            );
            if let Some(extent) = record.log.map(|l| l.extent) {
                if let Err(e) = log_store::retire(ctx, extent) {
                    log!(
                        ctx,
                        Level::Error,
                        "purge_zombies: the damaged record of '{}' not retired ({e}); kept",
                        record.name
                    );
                    failed = true;
                    continue;
                }
            }
            if let Some(r) = ctx.catalog.record_mut(generation) {
                r.status = GenerationStatus::NoArchive;
                r.log = None;
            }
        }
        match sweep_generation(ctx, generation) {
            Ok(count) => deleted += count,
            Err(e) => {
                failed = true;
                log!(
                    ctx,
                    Level::Error,
                    "purge_zombies: '{}' not fully swept: {e}",
                    record.name
                );
            }
        }
    }
    log!(
        ctx,
        Level::Info,
        "purge_zombies: {deleted} unused files deleted"
    );
    if held_for_integrity {
        Err(Error::IntegrityFailed)
    } else if failed {
        Err(Error::StorageFailed)
    } else {
        Ok(())
    }
}
