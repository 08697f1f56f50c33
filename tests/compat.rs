//! Stored roots: a format-2 root written by this engine must stay readable
//! byte for byte, and a format-1 root (one file per object, before packs)
//! must be recognised and refused with nothing in it changed.
//!
//! The fixtures under tests/fixtures/ are small on purpose (a few hundred
//! bytes each). `format2-root` is rewritten only with a new format version:
//! `cargo test --test compat -- --ignored write_format_2_fixture`;
//! `format1-root` was written once by the format-1 engine (commit
//! 38b122e), which no longer exists.

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

/// What the format-2 fixture holds: two generations, the second changing
/// the even objects; object 5 duplicates object 4's content (stored once),
/// small packs so that the root has several.
fn format_2_config() -> Config {
    Config {
        pack_size: 4096,
        redundancy: 2,
        ..Config::default()
    }
}

fn format_2_versions(generation: u32) -> Vec<(u64, Vec<u8>)> {
    (0..40u64)
        .map(|id| {
            let version = if id % 2 == 0 { generation } else { 0 };
            let content = if id == 5 {
                payload(4, version)
            } else {
                payload(id, version)
            };
            (id, content)
        })
        .collect()
}

#[test]
#[ignore]
fn write_format_2_fixture() {
    let dir = fixture("format2-root");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let storage = DirStorage::open(&dir).unwrap();
    let mut snapper =
        snapper_core::Snapper::open(storage, TestPlatform::at(T0), format_2_config()).unwrap();
    for generation in 0..3u32 {
        snapper.init_snapshot().unwrap();
        for (id, content) in format_2_versions(generation) {
            snapper.take_snapshot(ObjectId(id), &content).unwrap();
        }
        snapper.commit_snapshot().unwrap();
    }
}

/// The stored format-2 root restores byte for byte, and verifies intact:
/// a change to the format that would strand existing roots fails here.
#[test]
fn a_stored_format_2_root_restores_byte_for_byte() {
    let copy = std::env::temp_dir().join(format!("snapper-compat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(&fixture("format2-root"), &copy);
    let storage = DirStorage::open(&copy).unwrap();
    let mut snapper =
        snapper_core::Snapper::open(storage, TestPlatform::at(T0), format_2_config()).unwrap();
    let generations = snapper.generations();
    assert_eq!(generations.len(), 3);
    for (index, info) in generations.iter().enumerate() {
        let report = snapper.verify_generation(info.generation).unwrap();
        assert!(
            report.damaged.is_empty() && report.lost.is_empty(),
            "{report:?}"
        );
        snapper.open_generation(Some(&info.name)).unwrap();
        let mut buf = vec![0u8; 4096];
        for (id, content) in format_2_versions(index as u32) {
            let len = snapper.restore(ObjectId(id), &mut buf).unwrap();
            assert_eq!(&buf[..len], &content[..], "generation {index}, object {id}");
        }
        snapper.close_generation().unwrap();
    }
    assert!(snapper.unused_files().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&copy);
}

#[test]
fn a_stored_format_1_root_is_refused_untouched() {
    let copy = std::env::temp_dir().join(format!("snapper-compat1-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(&fixture("format1-root"), &copy);
    let before = listing(&copy);
    let platform = TestPlatform::at(T0);
    let storage = DirStorage::open(&copy).unwrap();
    let refused = snapper_core::Snapper::open(storage, platform.clone(), Config::default());
    assert!(matches!(refused, Err(snapper_core::Error::InvalidVersion)));
    assert!(platform.logged(snapper_core::Level::Error, "format 1"));
    assert_eq!(listing(&copy), before, "nothing changed");

    // Only uncommitted format-1 generations (no archive, a snapshot/
    // directory): recognised all the same.
    for entry in std::fs::read_dir(&copy).unwrap() {
        std::fs::remove_file(entry.unwrap().path().join("archive")).unwrap();
    }
    let before = listing(&copy);
    let storage = DirStorage::open(&copy).unwrap();
    let refused = snapper_core::Snapper::open(storage, TestPlatform::at(T0), Config::default());
    assert!(matches!(refused, Err(snapper_core::Error::InvalidVersion)));
    assert_eq!(listing(&copy), before, "nothing changed");
    let _ = std::fs::remove_dir_all(&copy);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes.
fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push((entry.path(), std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}
