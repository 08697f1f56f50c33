//! The error of the journal replay and of the ext4 structures it reads
//! on the way: I/O and damage apart by type, and what is valid but not
//! handled.

use std::fmt;
use std::io;

/// Why a journal could not be replayed.
#[derive(Debug)]
pub enum JournalError {
    /// Reading the image failed.
    Io(io::Error),
    /// The journal, or the structures that lead to it, are damaged.
    Corrupt(String),
    /// Intact, but of a kind this replay does not handle.
    Unsupported(String),
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Io(e) => write!(f, "I/O error: {e}"),
            JournalError::Corrupt(what) => write!(f, "corrupt journal: {what}"),
            JournalError::Unsupported(what) => write!(f, "unsupported journal: {what}"),
        }
    }
}

impl std::error::Error for JournalError {}

impl From<io::Error> for JournalError {
    fn from(e: io::Error) -> Self {
        JournalError::Io(e)
    }
}
