//! Snapper's engine: snapshots of objects (64-bit id, byte payload) into a
//! journaling file system, one generation at a time.
//!
//! - An unchanged object costs no I/O: the new generation's archive links to
//!   the file an earlier generation wrote. Change is detected by a 128-bit
//!   BLAKE3 digest kept in the archive.
//! - Reference counts are derived from the valid archives at start and kept
//!   up to date in memory; nothing on disk is rewritten to count.
//! - A generation exists if and only if its archive exists and checks out;
//!   the archive is committed by write, sync, rename, sync.
//!
//! `doc/DESIGN.md` gives the invariants and crash analysis, `doc/FORMAT.md`
//! every byte on disk.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

pub mod archive;
pub mod config;
pub mod engine;
pub mod error;
pub mod format;
pub mod layout;
pub mod pack;
mod refs;
mod snapper;
pub mod storage;
pub mod time;
pub mod types;

pub use config::{Config, ConfigError};
pub use error::{code_of, Error};
pub use snapper::{
    GenerationInfo, GenerationStatus, InitOutcome, Level, Platform, Snapper, SnapshotStats, State,
};
pub use storage::{DirEntry, EntryKind, MemStorage, Storage, StorageError};
pub use types::{Digest, FileNumber, FileRef, Generation, ObjectId};
