//! snapperctl: inspect, verify and manage Snapper data on Linux, from a
//! directory or straight from an ext4 image. The binary is `src/main.rs`;
//! this library holds the parts the tests use as well.
//!
//! Everything about the bytes on disk comes from `snapper-core`; this crate
//! adds the storage backends a host tool needs and read-only views the
//! engine does not offer (yet).
#![deny(unsafe_code)]

pub mod e2fs;
pub mod inspect;
pub mod output;
pub mod storage;
