//! Snapper's engine: snapshots of objects (64-bit id, byte payload) into a
//! journaling file system, one generation at a time.
//!
//! - A generation's new payloads go into a few pack files, written whole;
//!   an unchanged object costs no I/O (the new archive links to the copy an
//!   earlier generation stored), equal content is stored once. Change is
//!   detected by a 128-bit BLAKE3 digest kept in the archive.
//! - Reference counts (per stored payload) are derived from the valid
//!   archives at start and kept up to date in memory; nothing on disk is
//!   rewritten to count.
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
pub mod archive_log;
pub mod config;
#[cfg(feature = "std")]
pub mod dir;
pub mod engine;
pub mod error;
pub mod format;
pub mod layout;
pub mod pack;
pub mod platform;
pub mod storage;
pub mod time;
pub mod types;

pub use config::{Config, ConfigError};
pub use engine::{
    GenerationInfo, GenerationStatus, InitOutcome, PackUsage, Snapper, SnapshotStats, State,
};
pub use error::{code_of, Error};
pub use platform::{Level, Platform};
pub use storage::{DirEntry, EntryKind, MemStorage, Storage, StorageError};
pub use types::{Digest, Generation, Location, ObjectId, PackNumber, PackRef};
