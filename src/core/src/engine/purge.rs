//! Purging: purge by name or the oldest, retention (max_snapshots,
//! expiration), and deleting the packs that no valid archive uses any more.
//!
//! The removal of a generation's archive is the commit point of a purge;
//! packs are deleted only after that removal is synced.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Error;
use crate::layout::{self, GenerationName, ARCHIVE, ARCHIVE_PURGED, PACK_DIR};
use crate::storage::{Storage, StorageError};
use crate::types::{Generation, PackNumber, PackRef};

use super::log_store;
use super::read::{self, reread_unreadable};
use super::sweep::{damage_horizon, mark_for_sweep, sweep_generation};
use super::{log, Ctx, GenerationStatus, Level, Platform};

/// `purge(name)`: `None` or `""` for the oldest valid generation.
pub(crate) fn purge_named<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    name: Option<&str>,
) -> Result<(), Error> {
    let oldest = ctx.catalog.valid().next().map(|(g, _)| *g);
    let target = match name.filter(|n| !n.is_empty()) {
        None => match oldest {
            Some(generation) => generation,
            None => {
                log!(ctx, Level::Info, "purge: there is no generation");
                return Err(Error::NoPriorGen);
            }
        },
        Some(text) => match GenerationName::parse(text).map(|(_, _, g)| g).filter(|g| {
            ctx.catalog
                .record(*g)
                .is_some_and(|r| r.name.as_str() == text)
        }) {
            Some(generation) => generation,
            None => {
                log!(ctx, Level::Warning, "purge: no generation named '{text}'");
                return Err(Error::NoPriorGen);
            }
        },
    };
    match ctx.catalog.record(target).map(|r| r.status) {
        Some(GenerationStatus::Valid) => {
            let valid = ctx.catalog.valid().count();
            if (valid as u64) <= u64::from(ctx.config.min_snapshots) {
                log!(
                    ctx,
                    Level::Error,
                    "purge: refused, {valid} generation(s) left and min_snapshots is {}",
                    ctx.config.min_snapshots
                );
                return Err(Error::PurgeDenied);
            }
        }
        Some(GenerationStatus::Damaged(_) | GenerationStatus::Unreadable(_)) => {}
        _ => {
            let name = String::from(ctx.catalog.name_of(target));
            log!(
                ctx,
                Level::Warning,
                "purge: '{name}' is not a committed generation"
            );
            return Err(Error::NoPriorGen);
        }
    }
    purge_generation(ctx, target)
}

/// Purges `target` (valid or damaged).
pub(crate) fn purge_generation<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    target: Generation,
) -> Result<(), Error> {
    if !reread_unreadable(ctx) {
        log!(
            ctx,
            Level::Error,
            "purge refused: an archive cannot be read, so the packs it uses are unknown"
        );
        return Err(Error::StorageFailed);
    }
    let Some(record) = ctx.catalog.record(target).cloned() else {
        return Err(Error::NoPriorGen);
    };
    let entries = match record.status {
        GenerationStatus::Valid => match ctx.base.take() {
            Some(base) if base.generation == target => base.entries,
            other => {
                ctx.base = other;
                read::load(ctx, target)?.entries
            }
        },
        // Its references are unknown; the sweep below deletes what no
        // valid archive uses.
        _ => Vec::new(),
    };
    let removed = match record.log {
        Some(log_record) => log_store::unseal(ctx, log_record.extent)
            .and_then(|()| log_store::erase(ctx, log_record.extent)),
        None => retire_archive_file(ctx, &record.name),
    };
    if let Err(e) = removed {
        log!(
            ctx,
            Level::Error,
            "purge of '{}' failed: cannot retire its archive: {e}",
            record.name
        );
        if ctx.base.is_none() {
            reload_base(ctx);
        }
        return Err(Error::StorageFailed);
    }
    let was_valid = record.status == GenerationStatus::Valid;
    if let Some(r) = ctx.catalog.record_mut(target) {
        r.status = GenerationStatus::NoArchive;
        r.objects = 0;
        r.needs_sweep = true;
        r.log = None;
    }
    let dead = ctx.catalog.remove(&entries);
    if ctx.base.is_none() {
        reload_base(ctx);
    }
    if let Err(e) = ctx.storage.sync() {
        log!(
            ctx,
            Level::Error,
            "purge of '{}': removing its archive was not confirmed durable ({e}); its packs stay until the next sweep",
            record.name
        );
        // Packs it was the last user of may sit in older generations'
        // directories: those need the sweep too.
        for pack in &dead {
            mark_for_sweep(ctx, pack.generation);
        }
        return Err(Error::StorageFailed);
    }
    // Durably purged: the record's blocks may hold another one now; the
    // retired archive file is garbage. A cut while lwext4 removes it leaves
    // an empty or partial file under that name, which the sweep removes
    // like any other.
    if let Some(log_record) = record.log {
        ctx.log.space.release(log_record.extent);
    }
    let retired = layout::in_generation(record.name.as_str(), ARCHIVE_PURGED);
    let retired_gone = record.log.is_some()
        || match ctx.storage.remove(&retired) {
            Ok(()) | Err(StorageError::NotFound) => true,
            Err(e) => {
                log!(
                    ctx,
                    Level::Warning,
                    "purge of '{}': cannot remove '{retired}' ({e}); the next sweep does",
                    record.name
                );
                false
            }
        };
    let deleted = if was_valid {
        let mut doomed: BTreeSet<PackRef> = dead.into_iter().collect();
        let own = ctx
            .catalog
            .packs_of(target)
            .map_or(0, |p| p.payload_bytes.len() as u32);
        for n in 0..own {
            let pack = PackRef {
                generation: target,
                pack: PackNumber(n),
            };
            if !ctx.catalog.pack_is_live(pack) {
                doomed.insert(pack);
            }
        }
        let own_dirs = [
            String::from(record.name.as_str()),
            layout::in_generation(record.name.as_str(), PACK_DIR),
        ];
        let (deleted, complete) = delete_packs(ctx, &doomed, &own_dirs);
        if complete && retired_gone {
            if let Some(r) = ctx.catalog.record_mut(target) {
                r.needs_sweep = false;
            }
        }
        deleted
    } else {
        sweep_generation(ctx, target).unwrap_or(0)
    };
    log!(
        ctx,
        Level::Info,
        "purged '{}': {deleted} packs deleted",
        record.name
    );
    Ok(())
}

/// Retires a generation's `archive` file: renamed to `archive.purged`.
/// The commit point is that rename, which file systems make atomic, not
/// the removal, which lwext4 is not (see ARCHIVE_PURGED). A file left
/// under the retired name by an earlier purge is garbage; it must go so
/// that the rename, which never replaces a file, can happen.
fn retire_archive_file<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    name: &GenerationName,
) -> Result<(), StorageError> {
    let archive = layout::in_generation(name.as_str(), ARCHIVE);
    let retired = layout::in_generation(name.as_str(), ARCHIVE_PURGED);
    match ctx.storage.remove(&retired) {
        Ok(()) | Err(StorageError::NotFound) => {}
        Err(e) => log!(
            ctx,
            Level::Warning,
            "purge of '{name}': cannot remove the leftover '{retired}': {e}"
        ),
    }
    match ctx.storage.rename(&archive, &retired) {
        Ok(()) | Err(StorageError::NotFound) => Ok(()),
        // An error may come after the rename took effect; then the purge
        // has happened and goes on.
        Err(e) if ctx.storage.file_size(&archive) == Err(StorageError::NotFound) => {
            log!(
                ctx,
                Level::Warning,
                "purge of '{name}': retiring its archive answered {e}, but it is gone"
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Makes the newest valid generation the base again.
pub(crate) fn reload_base<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>) {
    let latest = ctx.catalog.valid().next_back().map(|(g, _)| *g);
    ctx.base = match latest {
        Some(generation) => match read::load(ctx, generation) {
            Ok(loaded) => Some(loaded),
            Err(e) => {
                log!(
                    ctx,
                    Level::Error,
                    "latest generation unusable as base ({e}); the next snapshot writes every object"
                );
                None
            }
        },
        None => None,
    };
}

/// Deletes packs, then every directory left empty above them and among
/// `also_dirs` (generation directories included). Returns how many packs
/// went and whether every deletion succeeded.
pub(crate) fn delete_packs<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    doomed: &BTreeSet<PackRef>,
    also_dirs: &[String],
) -> (u64, bool) {
    let mut deleted = 0;
    let mut complete = true;
    let mut dirs: BTreeSet<String> = also_dirs.iter().cloned().collect();
    let horizon = damage_horizon(ctx);
    let mut held = 0u64;
    for pack in doomed {
        if horizon.is_some_and(|newest_damaged| pack.generation <= newest_damaged) {
            held += 1;
            mark_for_sweep(ctx, pack.generation);
            continue;
        }
        let Some(name) = ctx.catalog.record(pack.generation).map(|r| r.name.clone()) else {
            continue;
        };
        let Some(fanout) = ctx.catalog.packs_of(pack.generation).map(|p| p.fanout) else {
            mark_for_sweep(ctx, pack.generation);
            continue;
        };
        let path = layout::pack_path(name.as_str(), fanout, pack.pack);
        match ctx.storage.remove(&path) {
            Ok(()) => deleted += 1,
            Err(StorageError::NotFound) => {}
            Err(e) => {
                complete = false;
                log!(ctx, Level::Warning, "cannot delete '{path}': {e}");
                // The pack may sit in another generation's directory (one
                // purged earlier): remember to sweep that one.
                mark_for_sweep(ctx, pack.generation);
            }
        }
        dirs.insert(name.as_str().into());
        dirs.extend(layout::pack_dirs(name.as_str(), fanout, pack.pack));
    }
    if held > 0 {
        log!(
            ctx,
            Level::Warning,
            "{held} unused packs kept: a damaged archive may use them (integrity=yes)"
        );
    }
    // Children sort after their parents: remove in reverse order.
    for dir in dirs.iter().rev() {
        match ctx.storage.remove(dir) {
            // NotFound: a generation of the archive log that wrote no pack
            // never had a directory; with its record retired it is gone.
            Ok(()) | Err(StorageError::NotFound) => {
                if let Some((_, _, generation)) = GenerationName::parse(dir) {
                    ctx.catalog.forget_if_gone(generation);
                }
            }
            Err(StorageError::NotEmpty) => {}
            Err(e) => {
                log!(ctx, Level::Debug, "cannot remove directory '{dir}': {e}");
                let owner = dir.split('/').next().and_then(GenerationName::parse);
                if let Some((_, _, generation)) = owner {
                    mark_for_sweep(ctx, generation);
                }
            }
        }
    }
    (deleted, complete)
}

/// Retention: while more than max_snapshots generations exist, purge the
/// oldest; then purge generations older than `expiration`. Never below
/// min_snapshots, and expiration never takes the newest generation (a
/// machine switched off for a long time must still find its last
/// snapshot).
pub(crate) fn apply_retention<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>) -> Result<(), Error> {
    let floor = ctx.config.min_snapshots as usize;
    if ctx.config.max_snapshots > 0 {
        loop {
            let valid = ctx.catalog.valid().count();
            if valid <= ctx.config.max_snapshots as usize || valid <= floor {
                break;
            }
            let Some(oldest) = ctx.catalog.valid().next().map(|(g, _)| *g) else {
                break;
            };
            log!(
                ctx,
                Level::Debug,
                "retention: {valid} generations, max_snapshots is {}",
                ctx.config.max_snapshots
            );
            purge_generation(ctx, oldest)?;
        }
    }
    if ctx.config.expiration > 0 {
        let now = ctx.platform.now();
        loop {
            let valid = ctx.catalog.valid().count();
            if valid <= floor.max(1) {
                break;
            }
            let Some((oldest, created)) = ctx.catalog.valid().next().map(|(g, r)| (*g, r.created))
            else {
                break;
            };
            if now.saturating_sub(created) <= ctx.config.expiration {
                break;
            }
            let name = String::from(ctx.catalog.name_of(oldest));
            log!(
                ctx,
                Level::Debug,
                "retention: '{name}' is older than {} s",
                ctx.config.expiration
            );
            purge_generation(ctx, oldest)?;
        }
    }
    Ok(())
}
