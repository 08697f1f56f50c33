//! One behaviour for every `Storage` backend: each test body runs over
//! MemStorage (the reference), DirStorage (std::fs) and the component's
//! VfsStorage over the host implementation of the Genode C ABI, itself over
//! a host directory and over a MemStorage. What the Genode shim does is
//! not run here (no Genode); it keeps to the same C ABI.

mod common;

use common::TempDir;
use genode::vfs::Vfs;
use genode_host as host;
use snapper::VfsStorage;
use snapper_core::{MemStorage, Storage, StorageError};
use snapper_host::DirStorage;

/// The whole file, through `read_at` only (what `read_file` adds is not
/// under test).
fn content(fs: &mut impl Storage, path: &str) -> Vec<u8> {
    let size = fs.file_size(path).expect("the file's size");
    let mut out = vec![0xAA; size as usize + 8];
    let read = fs.read_at(path, 0, &mut out).expect("the file's bytes");
    out.truncate(read);
    out
}

/// `write_at` replaces bytes in place, grows the file past its end with a
/// gap of zeros, concatenates its parts, changes nothing else, and refuses
/// a missing file or a directory.
fn write_at_conforms(fs: &mut impl Storage, what: &str) {
    fs.create_dir("d").unwrap();
    fs.write_new_file("d/f", &[b"0123456789"]).unwrap();
    fs.write_new_file("d/other", &[b"untouched"]).unwrap();
    fs.sync().unwrap();

    // in the middle, parts concatenated (an empty one among them)
    fs.write_at("d/f", 3, &[b"ab", b"", b"c"]).unwrap();
    assert_eq!(content(fs, "d/f"), b"012abc6789", "{what}: in the middle");
    assert_eq!(fs.file_size("d/f"), Ok(10), "{what}");

    // across the end: replaces the last bytes and grows
    fs.write_at("d/f", 8, &[b"XY", b"Z"]).unwrap();
    assert_eq!(content(fs, "d/f"), b"012abc67XYZ", "{what}: across the end");

    // past the end: a gap of zeros
    fs.write_at("d/f", 14, &[b"E"]).unwrap();
    assert_eq!(
        content(fs, "d/f"),
        b"012abc67XYZ\0\0\0E",
        "{what}: past the end"
    );

    // no bytes: nothing changes, not even past the end
    fs.write_at("d/f", 100, &[]).unwrap();
    fs.write_at("d/f", 100, &[b""]).unwrap();
    assert_eq!(fs.file_size("d/f"), Ok(15), "{what}: an empty write");

    // larger than a block, across block boundaries, at an odd offset
    let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    fs.write_at("d/f", 4093, &[&big[..5000], &big[5000..]])
        .unwrap();
    let mut expected = b"012abc67XYZ\0\0\0E".to_vec();
    expected.resize(4093, 0);
    expected.extend_from_slice(&big);
    assert_eq!(content(fs, "d/f"), expected, "{what}: across blocks");

    // and it stays so through a sync
    fs.sync().unwrap();
    assert_eq!(content(fs, "d/f"), expected, "{what}: after sync");

    // refusals, which create nothing
    assert_eq!(
        fs.write_at("d/missing", 0, &[b"x"]),
        Err(StorageError::NotFound),
        "{what}"
    );
    assert_eq!(
        fs.file_size("d/missing"),
        Err(StorageError::NotFound),
        "{what}: a refused write created the file"
    );
    assert_eq!(
        fs.write_at("nodir/f", 0, &[b"x"]),
        Err(StorageError::NotFound),
        "{what}"
    );
    assert_eq!(
        fs.write_at("d", 0, &[b"x"]),
        Err(StorageError::WrongKind),
        "{what}"
    );

    // no other file changed
    assert_eq!(content(fs, "d/other"), b"untouched", "{what}");
    let mut names: Vec<String> = fs
        .list_dir("d")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort();
    assert_eq!(names, ["f", "other"], "{what}");
}

#[test]
fn write_at_on_memory() {
    write_at_conforms(&mut MemStorage::new(), "MemStorage");
}

#[test]
fn write_at_on_a_host_directory() {
    let dir = TempDir::new("conformance-dir");
    let mut fs = DirStorage::open(dir.path()).unwrap();
    write_at_conforms(&mut fs, "DirStorage");
}

/// VfsStorage below a root, over the host ABI, as the component stores.
fn vfs_storage() -> VfsStorage {
    let vfs = Vfs::init().expect("the host VFS");
    VfsStorage::new(vfs, "snapper").expect("VfsStorage below its root")
}

#[test]
fn write_at_through_the_genode_abi_on_a_host_directory() {
    let dir = TempDir::new("conformance-abi");
    host::install("<config/>", dir.path());
    write_at_conforms(
        &mut vfs_storage(),
        "VfsStorage over the host ABI on a directory",
    );
    assert_eq!(host::stats().writes_in_place, 6);
}

#[test]
fn write_at_through_the_genode_abi_on_memory() {
    host::install_storage("<config/>", Box::new(MemStorage::new()));
    write_at_conforms(&mut vfs_storage(), "VfsStorage over the host ABI on memory");
}
