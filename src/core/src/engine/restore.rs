//! Restoring: open_generation, restore.
//!
//! A restore reads the recorded byte range of one copy and checks its
//! length and CRC before a byte reaches the caller. Reads go through a
//! read-ahead window of one pack: clients restore in the order objects
//! were taken, which is the order of the pack, so a whole generation comes
//! back as a few large reads instead of one small read per object.

use alloc::string::String;

use crate::archive::Stored;
use crate::error::Error;
use crate::layout::{self, GenerationName};
use crate::storage::{Storage, StorageError};
use crate::types::{Generation, ObjectId};

use super::read::{self, damage_error};
use super::window::{read_copy, CopyFailure, Window};
use super::{log, Ctx, GenerationStatus, Level, Loaded, Platform};

/// The generation open for restoring.
pub(crate) struct Restoration {
    pub generation: Generation,
    /// `None`: the open generation is the base, shared rather than copied.
    loaded: Option<Loaded>,
    pub(super) window: Window,
    /// Where the last restored id was found: clients restore in ascending
    /// order, so the next id is most often the next entry.
    cursor: usize,
}

/// Opens a generation: `None` or `""` for the latest.
pub(crate) fn open<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    name: Option<&str>,
) -> Result<Restoration, Error> {
    // An archive the start could not read (a transient I/O error) may read
    // now; else the latest generation would stay out of reach.
    read::reread_unreadable(ctx);
    let target = match name.filter(|n| !n.is_empty()) {
        None => latest(ctx)?,
        Some(text) => {
            let Some(generation) = lookup(ctx, text) else {
                log!(
                    ctx,
                    Level::Warning,
                    "open_generation: no generation named '{text}'"
                );
                return Err(Error::LoadGenFailed);
            };
            match ctx.catalog.record(generation).map(|r| r.status) {
                Some(GenerationStatus::Valid) => generation,
                Some(GenerationStatus::Damaged(e)) => {
                    log!(
                        ctx,
                        Level::Error,
                        "open_generation: '{text}' has a damaged archive ({e})"
                    );
                    return Err(damage_error(e));
                }
                Some(GenerationStatus::Unreadable(e)) => {
                    log!(
                        ctx,
                        Level::Error,
                        "open_generation: the archive of '{text}' cannot be read ({e})"
                    );
                    return Err(Error::StorageFailed);
                }
                _ => {
                    log!(
                        ctx,
                        Level::Warning,
                        "open_generation: '{text}' was never committed or is purged"
                    );
                    return Err(Error::LoadGenFailed);
                }
            }
        }
    };
    let loaded = if ctx.base.as_ref().is_some_and(|b| b.generation == target) {
        None
    } else {
        Some(read::load(ctx, target)?)
    };
    let name = String::from(ctx.catalog.name_of(target));
    log!(ctx, Level::Debug, "generation '{name}' open for restoring");
    Ok(Restoration {
        generation: target,
        loaded,
        window: Window::with_buffer(core::mem::take(&mut ctx.spare_window)),
        cursor: 0,
    })
}

/// The newest generation, under the integrity policy: a damaged newest one
/// fails the call (integrity=yes) or is skipped with a warning.
fn latest<S: Storage, P: Platform>(ctx: &mut Ctx<S, P>) -> Result<Generation, Error> {
    let newest = ctx
        .catalog
        .gens
        .iter()
        .rev()
        .find(|(_, r)| r.status != GenerationStatus::NoArchive)
        .map(|(g, r)| (*g, r.status, r.name.clone()));
    match newest {
        None => {
            log!(ctx, Level::Info, "open_generation: there is no generation");
            Err(Error::NoPriorGen)
        }
        Some((generation, GenerationStatus::Valid, _)) => Ok(generation),
        Some((_, status, name)) if ctx.config.integrity => {
            log!(
                ctx,
                Level::Error,
                "open_generation: the latest generation '{name}' is damaged ({status:?}); integrity=yes forbids falling back to an older one"
            );
            Err(match status {
                GenerationStatus::Damaged(e) => damage_error(e),
                GenerationStatus::Unreadable(_) => Error::StorageFailed,
                _ => Error::IntegrityFailed,
            })
        }
        Some((_, _, name)) => {
            let fallback = ctx.catalog.valid().next_back().map(|(g, _)| *g);
            log!(
                ctx,
                Level::Warning,
                "open_generation: the latest generation '{name}' is damaged; opening the newest intact one"
            );
            fallback.ok_or(Error::NoPriorGen)
        }
    }
}

fn lookup<S: Storage, P: Platform>(ctx: &Ctx<S, P>, text: &str) -> Option<Generation> {
    let (_, _, generation) = GenerationName::parse(text)?;
    ctx.catalog
        .record(generation)
        .filter(|r| r.name.as_str() == text)
        .map(|_| generation)
}

/// The size of object `id` in the open generation, if it holds it: lets a
/// client pack several objects into one buffer without a failed call.
pub(crate) fn object_size<S: Storage, P: Platform>(
    ctx: &Ctx<S, P>,
    restoration: &Restoration,
    id: ObjectId,
) -> Option<u32> {
    let archive = restoration.loaded.as_ref().or(ctx.base.as_ref())?;
    let at = crate::archive::find_entry_near(&archive.entries, id, restoration.cursor)?;
    archive.entries.get(at).map(|e| e.size)
}

/// Copies object `id` into `buf`; returns its length, the rest zeroed.
pub(crate) fn restore<S: Storage, P: Platform>(
    ctx: &mut Ctx<S, P>,
    restoration: &mut Restoration,
    id: ObjectId,
    buf: &mut [u8],
) -> Result<usize, Error> {
    let archive = match &restoration.loaded {
        Some(loaded) => loaded,
        None => match &ctx.base {
            Some(base) => base,
            None => return Err(Error::InvalidState),
        },
    };
    let found = crate::archive::find_entry_near(&archive.entries, id, restoration.cursor);
    let Some((at, entry)) = found.and_then(|at| Some((at, *archive.entries.get(at)?))) else {
        log!(
            ctx,
            Level::Debug,
            "restore: object {id} is not in the open generation"
        );
        return Err(Error::NoMatches);
    };
    restoration.cursor = at;
    let size = entry.size as usize;
    if buf.len() < size {
        log!(
            ctx,
            Level::Error,
            "restore: object {id} has {size} bytes, the buffer only {}",
            buf.len()
        );
        return Err(Error::BufferTooSmall);
    }
    // A pack path is only made when the window misses.
    let sources = &archive.sources;
    let path_of = |copy: &Stored| {
        crate::archive::find_source(sources, copy.generation)
            .map(|s| layout::pack_path(&s.name, s.fanout, copy.pack))
    };
    // Where the copy's pack's payloads end: no read ahead past them.
    let payload_end = |copy: &Stored| {
        crate::archive::find_source(sources, copy.generation)
            .and_then(|s| s.packs.get(copy.pack.0 as usize).copied())
            .unwrap_or(u64::MAX)
    };
    let (mut io_failures, mut version_failures) = (0, 0);
    for copy in entry.copies.iter() {
        let mut path = String::new();
        let end = payload_end(copy);
        let failure = match read_copy(&mut ctx.storage, &mut restoration.window, copy, end, || {
            path = path_of(copy).unwrap_or_default();
            (!path.is_empty()).then_some(path.as_str())
        }) {
            Ok(stored) => {
                buf[..size].copy_from_slice(stored);
                buf[size..].fill(0);
                return Ok(size);
            }
            Err(failure) => failure,
        };
        // A copy found damaged in the window was read without its path.
        if path.is_empty() {
            path = path_of(copy).unwrap_or_default();
        }
        match failure {
            CopyFailure::Io(e) => {
                // A pack that is missing, or a directory in its place, is
                // damage that stays; only other errors may pass on a retry.
                if !matches!(e, StorageError::NotFound | StorageError::WrongKind) {
                    io_failures += 1;
                }
                log!(
                    ctx,
                    Level::Warning,
                    "restore: object {id}: copy in '{path}' unreadable ({e})"
                );
            }
            CopyFailure::Damaged(why) => {
                log!(
                    ctx,
                    Level::Warning,
                    "restore: object {id}: copy in '{path}' is damaged ({why})"
                );
            }
            CopyFailure::UnknownCodec(codec) => {
                version_failures += 1;
                log!(
                    ctx,
                    Level::Warning,
                    "restore: object {id}: copy in '{path}' uses codec {}, which this build does not read",
                    codec.0
                );
            }
        }
    }
    buf.fill(0);
    let copies = entry.copies.len();
    log!(
        ctx,
        Level::Error,
        "restore: object {id}: none of its {copies} copies is intact"
    );
    Err(if io_failures == copies {
        Error::RestoreFailed
    } else if version_failures == copies {
        Error::InvalidVersion
    } else {
        Error::IntegrityFailed
    })
}
