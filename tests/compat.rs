//! Stored roots: a format-2 root written by this engine must stay readable
//! byte for byte, and a format-1 root (one file per object, before packs)
//! must be recognised and refused with nothing in it changed.
//!
//! The fixtures under tests/fixtures/ are small on purpose (a few hundred
//! bytes each). `format2-root` is rewritten only with a new format version:
//! `cargo test --test compat -- --ignored write_format_2_fixture`.

mod common;

use std::path::{Path, PathBuf};

use common::TestPlatform;
use snapper_core::{Config, ObjectId};
use snapper_host::DirStorage;

const T0: u64 = 1_795_545_149;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Object `id` at `version`: what the fixtures hold.
fn payload(id: u64, version: u32) -> Vec<u8> {
    let len = 16 + (id as usize * 37) % 200;
    (0..len)
        .map(|i| (id as u8).wrapping_mul(31) ^ (version as u8).wrapping_mul(7) ^ i as u8)
        .collect()
}

#[test]
#[ignore]
fn write_format_1_fixture() {
    let dir = fixture("format1-root");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let storage = DirStorage::open(&dir).unwrap();
    let mut snapper =
        snapper_core::Snapper::open(storage, TestPlatform::at(T0), Config::default()).unwrap();
    for version in 0..2u32 {
        snapper.init_snapshot().unwrap();
        for id in 0..4u64 {
            let v = if id % 2 == 0 { version } else { 0 };
            snapper
                .take_snapshot(ObjectId(id), &payload(id, v))
                .unwrap();
        }
        snapper.commit_snapshot().unwrap();
    }
}
