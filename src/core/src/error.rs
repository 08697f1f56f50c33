//! Result codes. The numbers 0 to 10 are the seed's (`Snapper::Result` of
//! Snapper 2.0), so existing C++ clients understand us; ours follow them.

use core::fmt;

/// Why a call did not do what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// There is no generation to work on (or to purge).
    NoPriorGen,
    /// The call is not allowed in the current state; nothing changed.
    InvalidState,
    /// A new generation could not be started.
    InitFailed,
    /// The named generation does not exist or cannot be loaded.
    LoadGenFailed,
    /// A file is of a format version this build does not read.
    InvalidVersion,
    /// Stored data failed its checksum and no intact copy was found.
    IntegrityFailed,
    /// The open generation holds no object with this id.
    NoMatches,
    /// A commit with no objects.
    NoData,
    /// Every copy of the object failed to read.
    RestoreFailed,
    /// The purge would leave fewer than min_snapshots generations.
    PurgeDenied,
    /// A payload larger than bufsize.
    PayloadTooLarge,
    /// The restore buffer is smaller than the stored object.
    BufferTooSmall,
    /// The file system failed (I/O error or full); what was committed
    /// before is intact.
    StorageFailed,
}

impl Error {
    /// The number on the wire (RPC and C ABI).
    pub const fn code(self) -> u32 {
        match self {
            Error::NoPriorGen => 1,
            Error::InvalidState => 2,
            Error::InitFailed => 3,
            Error::LoadGenFailed => 4,
            Error::InvalidVersion => 5,
            Error::IntegrityFailed => 6,
            Error::NoMatches => 7,
            Error::NoData => 8,
            Error::RestoreFailed => 9,
            Error::PurgeDenied => 10,
            Error::PayloadTooLarge => 11,
            Error::BufferTooSmall => 12,
            Error::StorageFailed => 13,
        }
    }

    /// Every error, in code order.
    pub const ALL: [Error; 13] = [
        Error::NoPriorGen,
        Error::InvalidState,
        Error::InitFailed,
        Error::LoadGenFailed,
        Error::InvalidVersion,
        Error::IntegrityFailed,
        Error::NoMatches,
        Error::NoData,
        Error::RestoreFailed,
        Error::PurgeDenied,
        Error::PayloadTooLarge,
        Error::BufferTooSmall,
        Error::StorageFailed,
    ];

    /// The error with wire number `code`; `None` for 0 (Ok) and unknown codes.
    pub fn from_code(code: u32) -> Option<Error> {
        Error::ALL.iter().copied().find(|e| e.code() == code)
    }
}

/// The wire number of a call's outcome: 0 for success.
pub fn code_of<T>(result: &Result<T, Error>) -> u32 {
    match result {
        Ok(_) => 0,
        Err(error) => error.code(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::NoPriorGen => "no prior generation",
            Error::InvalidState => "invalid state",
            Error::InitFailed => "init failed",
            Error::LoadGenFailed => "loading the generation failed",
            Error::InvalidVersion => "invalid version",
            Error::IntegrityFailed => "integrity check failed",
            Error::NoMatches => "no such object",
            Error::NoData => "no data",
            Error::RestoreFailed => "restore failed",
            Error::PurgeDenied => "purge denied",
            Error::PayloadTooLarge => "payload larger than bufsize",
            Error::BufferTooSmall => "buffer smaller than the object",
            Error::StorageFailed => "storage failed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_seeds_and_round_trip() {
        let seed = [
            (Error::NoPriorGen, 1),
            (Error::InvalidState, 2),
            (Error::InitFailed, 3),
            (Error::LoadGenFailed, 4),
            (Error::InvalidVersion, 5),
            (Error::IntegrityFailed, 6),
            (Error::NoMatches, 7),
            (Error::NoData, 8),
            (Error::RestoreFailed, 9),
            (Error::PurgeDenied, 10),
        ];
        for (error, code) in seed {
            assert_eq!(error.code(), code);
        }
        for error in Error::ALL {
            assert_eq!(Error::from_code(error.code()), Some(error));
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(14), None);
        assert_eq!(code_of::<()>(&Ok(())), 0);
    }
}
