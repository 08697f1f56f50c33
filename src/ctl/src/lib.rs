//! snapperctl: inspect, verify and manage Snapper data (format 2, pack
//! storage) on Linux, from a directory or straight from an ext4 image. The
//! binary is `src/main.rs`; this library holds the parts the tests use as
//! well.
//!
//! Everything about the bytes on disk and every rule about them comes from
//! `snapper-core`'s engine (its inspection API); this crate adds the
//! storage backends a host tool needs, and formatting.
#![deny(unsafe_code)]

#[macro_use]
pub mod cmd;
pub mod device;
pub mod e2fs;
pub mod ext4_layout;
pub mod inspect;
pub mod journal;
pub mod output;
pub mod recovered;
pub mod storage;
