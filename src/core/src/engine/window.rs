//! The read-ahead window through which stored copies are read: restore,
//! and the extra copies a generation makes of objects a client hinted
//! unchanged (their bytes are read back from the base's packs). Both read
//! copies in the order the objects were taken, which is the order of the
//! packs, so a run of them comes back as a few large reads instead of one
//! small read per object (on lwext4 each read is a VFS round trip).

use alloc::vec::Vec;

use crate::archive::Stored;
use crate::format::crc32;
use crate::pack::Codec;
use crate::storage::{Storage, StorageError};
use crate::types::PackRef;

/// Bytes read at once from a pack: large enough that a generation comes
/// back in few reads, small enough for a Genode component's heap.
pub(crate) const READ_AHEAD: usize = 1 << 20;
/// Bytes read from a pack not read from just before.
const FIRST_READ: usize = 64 << 10;

/// A window of one pack's bytes: `bytes[..valid]` are the pack's from
/// `start` on. The buffer keeps its length between reads, so a miss does
/// not zero a megabyte first.
#[derive(Default)]
pub(crate) struct Window {
    pack: Option<PackRef>,
    start: u64,
    valid: usize,
    bytes: Vec<u8>,
}

impl Window {
    /// A window reading into `buffer`, a previous window's (see
    /// `Ctx::spare_window`): its length and contents do not matter.
    pub(crate) fn with_buffer(buffer: Vec<u8>) -> Self {
        Window {
            bytes: buffer,
            ..Window::default()
        }
    }

    /// The buffer, for the next window.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.bytes
    }
}

/// Why one copy was not handed out.
pub(crate) enum CopyFailure {
    Io(StorageError),
    Damaged(&'static str),
    UnknownCodec(Codec),
}

/// The stored bytes of one copy, checked, through the read-ahead window.
pub(crate) fn read_copy<'w, 'p, S: Storage>(
    storage: &mut S,
    window: &'w mut Window,
    copy: &Stored,
    payload_end: u64,
    path: impl FnOnce() -> Option<&'p str>,
) -> Result<&'w [u8], CopyFailure> {
    if copy.codec != Codec::RAW {
        return Err(CopyFailure::UnknownCodec(copy.codec));
    }
    let start = u64::from(copy.offset);
    let end = start + u64::from(copy.length);
    let pack = copy.pack_ref();
    let hit = window.pack == Some(pack)
        && window.start <= start
        && end <= window.start + window.valid as u64;
    if !hit {
        let Some(path) = path() else {
            return Err(CopyFailure::Io(StorageError::NotFound));
        };
        // Read ahead once the pack is being read through; a first or a
        // random restore reads little more than it needs.
        let ahead = if window.pack == Some(pack) {
            READ_AHEAD
        } else {
            FIRST_READ
        };
        window.pack = None;
        let left = usize::try_from(payload_end.saturating_sub(start)).unwrap_or(usize::MAX);
        let want = ahead.min(left).max(copy.length as usize);
        if window.bytes.len() < want {
            window.bytes.resize(want, 0);
        }
        let target = window
            .bytes
            .get_mut(..want)
            .ok_or(CopyFailure::Damaged("window"))?;
        let read = storage
            .read_at(path, start, target)
            .map_err(CopyFailure::Io)?;
        window.valid = read.min(want);
        window.pack = Some(pack);
        window.start = start;
    }
    let from = (start - window.start) as usize;
    let stored = window
        .bytes
        .get(..window.valid)
        .and_then(|valid| valid.get(from..from + copy.length as usize))
        .ok_or(CopyFailure::Damaged("the pack is shorter than recorded"))?;
    if crc32(&[stored]) != copy.crc {
        return Err(CopyFailure::Damaged("CRC mismatch"));
    }
    Ok(stored)
}
