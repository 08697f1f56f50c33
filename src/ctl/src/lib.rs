//! snapperctl: inspect, verify and manage Snapper data (format 2, pack
//! storage) on Linux, from a directory or straight from an ext4 image. The
//! binary (`src/main.rs`) is the command line only; the commands and
//! everything under them are here, where the tests reach them too.
//!
//! Everything about the bytes on disk and every rule about them comes from
//! `snapper-core`'s engine (its inspection API); this crate adds the
//! storage backends a host tool needs, and formatting:
//!
//! - `cmd`: one module per command (run, report, print) and what they
//!   share; `inspect`: the engine as the commands see it; `output`: sizes,
//!   counts, progress.
//! - `storage`: the roots (directory, image) and the wrappers the commands
//!   put around them; `image`: the image reader (ext4-view);
//!   `image_writer`: removals through debugfs; `e2fs`: the e2fsprogs
//!   tools and the checks before writing.
//! - `recovered`, `journal`, `ext4_layout`, `device`, `checksum`,
//!   `journal_error`: an image whose journal needs recovery, replayed in
//!   memory.
#![deny(unsafe_code)]

pub mod checksum;
pub mod cmd;
pub mod device;
pub mod e2fs;
pub mod ext4_layout;
pub mod image;
pub mod image_writer;
pub mod inspect;
pub mod journal;
pub mod journal_error;
pub mod output;
pub mod recovered;
pub mod storage;
