//! The `Snapper` session's result values, as in
//! `include/snapper_session/snapper_session.h` (2.0's numbers, new ones
//! appended).

use core::fmt;

/// `Snapper::Result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Reply {
    /// Done.
    Ok = 0,
    /// init_snapshot: no previous generation; not an error.
    NoPriorGen = 1,
    /// Call not allowed in the current state.
    InvalidState = 2,
    /// init_snapshot could not create the generation.
    InitFailed = 3,
    /// open_generation: no such or unreadable generation.
    LoadGenFailed = 4,
    /// On-disk format version not understood.
    InvalidVersion = 5,
    /// A checksum did not match.
    IntegrityFailed = 6,
    /// restore: object not in the open generation.
    NoMatches = 7,
    /// Nothing to act on.
    NoData = 8,
    /// restore: no backlink could be read.
    RestoreFailed = 9,
    /// purge: refused by min_snapshots or the state.
    PurgeDenied = 10,
    /// take_snapshot: payload larger than the shared buffer.
    PayloadTooLarge = 11,
    /// restore: object larger than the given size.
    BufferTooSmall = 12,
    /// The file system reported an error.
    StorageFailed = 13,
    /// take_batch/restore_batch: the batch in the buffer is malformed
    /// (bad header, count or sizes overrunning the buffer, misaligned or
    /// overlapping payloads, unknown flags); nothing of it was acted on.
    MalformedBatch = 14,
    /// No session, or a value this version does not know.
    NoSession = 0xffff_ffff,
}

impl Reply {
    /// The value carried by the RPC.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The reply for an RPC's value; unknown values become `NoSession`.
    pub fn from_code(code: u32) -> Reply {
        match code {
            0 => Reply::Ok,
            1 => Reply::NoPriorGen,
            2 => Reply::InvalidState,
            3 => Reply::InitFailed,
            4 => Reply::LoadGenFailed,
            5 => Reply::InvalidVersion,
            6 => Reply::IntegrityFailed,
            7 => Reply::NoMatches,
            8 => Reply::NoData,
            9 => Reply::RestoreFailed,
            10 => Reply::PurgeDenied,
            11 => Reply::PayloadTooLarge,
            12 => Reply::BufferTooSmall,
            13 => Reply::StorageFailed,
            14 => Reply::MalformedBatch,
            _ => Reply::NoSession,
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_seeds_numbers() {
        assert_eq!(Reply::Ok.code(), 0);
        assert_eq!(Reply::PurgeDenied.code(), 10);
        for code in 0..=14 {
            assert_eq!(Reply::from_code(code).code(), code);
        }
        assert_eq!(Reply::from_code(15), Reply::NoSession);
    }
}
