use core::fmt;

use crate::sys;

/// Why a call across the ABI failed (`sg_status` other than `SG_OK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The path, or its parent directory, does not exist.
    NotFound,
    /// Something already exists under the name.
    Exists,
    /// The directory still has entries.
    NotEmpty,
    /// A file where a directory is needed, or the reverse.
    WrongKind,
    /// The file system is full.
    NoSpace,
    /// Any other I/O failure.
    Io,
    /// The component's RAM or capability quota is exhausted.
    NoMemory,
    /// An argument the other side refused, e.g. a path that is too long.
    Invalid,
    /// The service or config node is not there.
    Unavailable,
    /// A status this version does not know.
    Unknown(i32),
}

impl Error {
    /// `Ok(())` for `SG_OK`, the error otherwise.
    pub fn check(status: sys::sg_status) -> Result<(), Error> {
        Err(match status {
            sys::SG_OK => return Ok(()),
            sys::SG_ERR_NOT_FOUND => Error::NotFound,
            sys::SG_ERR_EXISTS => Error::Exists,
            sys::SG_ERR_NOT_EMPTY => Error::NotEmpty,
            sys::SG_ERR_WRONG_KIND => Error::WrongKind,
            sys::SG_ERR_NO_SPACE => Error::NoSpace,
            sys::SG_ERR_IO => Error::Io,
            sys::SG_ERR_NO_MEMORY => Error::NoMemory,
            sys::SG_ERR_INVALID => Error::Invalid,
            sys::SG_ERR_UNAVAILABLE => Error::Unavailable,
            other => Error::Unknown(other),
        })
    }

    /// The `sg_status` value, for implementations of the ABI.
    pub fn status(self) -> sys::sg_status {
        match self {
            Error::NotFound => sys::SG_ERR_NOT_FOUND,
            Error::Exists => sys::SG_ERR_EXISTS,
            Error::NotEmpty => sys::SG_ERR_NOT_EMPTY,
            Error::WrongKind => sys::SG_ERR_WRONG_KIND,
            Error::NoSpace => sys::SG_ERR_NO_SPACE,
            Error::Io => sys::SG_ERR_IO,
            Error::NoMemory => sys::SG_ERR_NO_MEMORY,
            Error::Invalid => sys::SG_ERR_INVALID,
            Error::Unavailable => sys::SG_ERR_UNAVAILABLE,
            Error::Unknown(status) => status,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound => f.write_str("not found"),
            Error::Exists => f.write_str("already exists"),
            Error::NotEmpty => f.write_str("directory not empty"),
            Error::WrongKind => f.write_str("file where a directory is needed or the reverse"),
            Error::NoSpace => f.write_str("no space left"),
            Error::Io => f.write_str("I/O error"),
            Error::NoMemory => f.write_str("out of RAM or caps"),
            Error::Invalid => f.write_str("invalid argument"),
            Error::Unavailable => f.write_str("not available"),
            Error::Unknown(status) => write!(f, "unknown status {status}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips() {
        for status in 1..=9 {
            let error = Error::check(status).unwrap_err();
            assert_eq!(error.status(), status);
            assert!(!matches!(error, Error::Unknown(_)));
        }
        assert_eq!(Error::check(sys::SG_OK), Ok(()));
        assert_eq!(Error::check(42), Err(Error::Unknown(42)));
    }
}
