//! purge and gc inside an ext4 image (--write-image, through debugfs) give
//! the same root as on a directory, and every write ends with e2fsck -fn
//! clean.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{build_root, image_of, image_of_with, json, run, scrub};
use snapper_core::{Storage, StorageError};
use snapperctl::image::ImageStorage;
use snapperctl::image_writer::ImageWriter;

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success());
}

fn fsck_clean(image: &Path) {
    let out = Command::new(common::mkfs().with_file_name("e2fsck"))
        .arg("-fn")
        .arg(image)
        .output()
        .expect("e2fsck");
    assert!(
        out.status.success(),
        "e2fsck -fn: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn same_answers(dir: &Path, image: &Path) {
    for args in [&["list"][..], &["verify"], &["du"], &["gc", "--dry-run"]] {
        assert_eq!(
            scrub(json(dir, args, 0)),
            scrub(json(image, args, 0)),
            "{args:?} differs"
        );
    }
}

/// The purged generations' records are zeroed in the archive log (zeros
/// written in place through debugfs).
#[test]
fn purge_in_an_image_matches_purge_in_a_directory() {
    purge_in_an_image(true);
}

/// The purged generations' archive files are removed (a root written with
/// `archive_log: false`).
#[test]
fn purge_of_archive_files_in_an_image_matches_purge_in_a_directory() {
    purge_in_an_image(false);
}

fn purge_in_an_image(archive_log: bool) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("root");
    common::build_root_with(&dir, archive_log);
    let image = tmp.path().join("snapper.img");
    image_of(&dir, &image);

    let (code, text, stderr) = run(&dir, &["purge", "1", "3"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("purged"), "{text}");
    assert_eq!(
        text.contains("its record in the archive log retired"),
        archive_log,
        "{text}"
    );
    let (code, text, stderr) = run(&image, &["purge", "1", "3", "--write-image"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("e2fsck -fn"), "{text}");
    fsck_clean(&image);
    same_answers(&dir, &image);
    let statuses: Vec<String> = json(&image, &["list"], 0)["generations"]
        .as_array()
        .expect("generations")
        .iter()
        .map(|g| g["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, ["purged", "valid", "purged", "valid"]);

    // Every generation left restores the same bytes from both.
    for root in [&dir, &image] {
        let out = tmp.path().join(format!(
            "out-{}",
            root.file_name().unwrap().to_string_lossy()
        ));
        json(
            root,
            &[
                "restore",
                "latest",
                "--all",
                "-o",
                out.to_str().expect("utf-8"),
            ],
            0,
        );
    }
    let a = tmp.path().join("out-root");
    let b = tmp.path().join("out-snapper.img");
    for entry in fs::read_dir(&a).expect("restored") {
        let name = entry.expect("entry").file_name();
        assert_eq!(fs::read(a.join(&name)).ok(), fs::read(b.join(&name)).ok());
    }
}

#[test]
fn gc_in_an_image_removes_leftovers_like_in_a_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("root");
    build_root(&dir);
    let names = common::names(&dir);
    // Leftovers of a crash: a stray file in a generation, and a generation
    // that never got its archive.
    fs::write(dir.join(&names[0]).join("pack").join("stray"), b"x").expect("write");
    let incomplete = dir.join("2026-11-24T23:59:59-00000009");
    fs::create_dir_all(incomplete.join("pack/1")).expect("mkdir");
    fs::write(incomplete.join("pack/1/0"), vec![7u8; 100]).expect("write");
    // And a damaged archive (its record in the archive log), dropped on
    // request: retired by zeros written in place.
    common::damage_archive(&dir, 3, 30);

    let noted = json(&dir, &["verify"], 1);
    assert_eq!(noted["incomplete_generations"][0]["generation"], 9);
    let image = tmp.path().join("snapper.img");
    image_of(&dir, &image);
    let dir2 = tmp.path().join("root2");
    copy_dir(&dir, &dir2);

    assert_eq!(
        scrub(json(&dir, &["gc", "--dry-run"], 0)),
        scrub(json(&image, &["gc", "--dry-run"], 0))
    );
    // Without --drop-damaged the damaged generation stays (exit 1).
    let (code, _, stderr) = run(&image, &["gc", "--write-image"]);
    assert_eq!(code, 1, "{stderr}");
    fsck_clean(&image);
    let (code, _, stderr) = run(&dir2, &["gc"]);
    assert_eq!(code, 1, "{stderr}");
    let listed = json(&image, &["list"], 0);
    assert_eq!(listed["generations"].as_array().map(Vec::len), Some(4));
    assert_eq!(scrub(json(&dir2, &["list"], 0)), scrub(listed));

    let (code, _, stderr) = run(&image, &["gc", "--drop-damaged", "--write-image"]);
    assert_eq!(code, 0, "{stderr}");
    fsck_clean(&image);
    let (code, _, stderr) = run(&dir2, &["gc", "--drop-damaged"]);
    assert_eq!(code, 0, "{stderr}");
    same_answers(&dir2, &image);
    let report = json(&image, &["verify"], 0);
    assert_eq!(report["ok"], true);
    assert_eq!(report["unused_files"], 0);
    assert_eq!(
        json(&image, &["gc", "--dry-run"], 0)["files"],
        serde_json::json!([])
    );
}

fn read_all(storage: &mut impl Storage, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    storage
        .read_file(path, 1 << 20, &mut out)
        .expect("read the file");
    out
}

/// The record a commit cut short left in the archive log of an image:
/// `gc --write-image` zeroes its header and the archive's (zap_block), as
/// gc does on a directory, says so, and the image stays clean.
#[test]
fn gc_in_an_image_clears_the_record_of_a_commit_cut_short() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("root");
    build_root(&dir);
    let (extent, torn) = common::tear_record(&dir, 5);
    let image = tmp.path().join("snapper.img");
    image_of(&dir, &image);
    let record = serde_json::json!([{"block": extent.block, "bytes": 4096, "cleared": false}]);
    assert_eq!(
        json(&image, &["gc", "--dry-run"], 0)["torn_records"],
        record
    );

    let (code, text, stderr) = run(&image, &["gc", "--write-image"]);
    assert_eq!(code, 0, "{text}{stderr}");
    let line = format!(
        "cleared record of a commit cut short at block {} of archives (4.0 KiB)\n",
        extent.block
    );
    assert!(text.contains(&line), "{text}");
    assert!(
        text.contains("and cleared 1 record of a commit cut short in archives (4.0 KiB)\n"),
        "{text}"
    );
    fsck_clean(&image);
    let mut after = ImageStorage::open(&image, "").expect("the image after gc");
    let mut log = Vec::new();
    after
        .read_file("archives", 1 << 26, &mut log)
        .expect("the archive log");
    assert!(
        log == common::cleared(torn, extent),
        "gc did not zero exactly the torn record's headers in the image"
    );
    let (code, _, stderr) = run(&dir, &["gc"]);
    assert_eq!(code, 0, "{stderr}");
    same_answers(&dir, &image);
    assert_eq!(
        json(&image, &["gc", "--dry-run"], 0)["torn_records"],
        serde_json::json!([])
    );
}

/// A write of zeros inside a file of an image (a purged record of an
/// archive log) reads as zeros at once, reaches the image at sync through
/// debugfs' zap_block, changes no other byte and leaves holes alone (there
/// zap_block would zero physical block 0). Any other write is refused.
#[test]
fn zeros_written_into_a_file_of_an_image_land_at_sync_and_change_nothing_else() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("root");
    fs::create_dir_all(dir.join("d")).expect("mkdir");
    let log: Vec<u8> = (0..3 * 4096 + 100).map(|i| (i % 251 + 1) as u8).collect();
    fs::write(dir.join("log"), &log).expect("write");
    fs::write(dir.join("other"), vec![9u8; 5000]).expect("write");
    // three blocks of hole, then "abc"
    let sparse = fs::File::create(dir.join("sparse")).expect("create");
    sparse.set_len(3 * 4096).expect("set_len");
    std::os::unix::fs::FileExt::write_at(&sparse, b"abc", 3 * 4096).expect("write");
    drop(sparse);
    let image = tmp.path().join("snapper.img");
    // 4 KiB blocks: block 0 holds the superblock (at 1024), so a zap that
    // wrongly hits physical block 0 breaks the image
    image_of_with(&dir, &image, &["-b", "4096"]);

    let mut writer = ImageWriter::open(&image, "").expect("open the image for writing");
    // across a block boundary, in two parts; and one ending on a boundary
    writer
        .write_at("log", 1000, &[&[0; 3000], &[0; 100]])
        .unwrap();
    writer.write_at("log", 3 * 4096 - 10, &[&[0; 10]]).unwrap();
    // holes and the block after them
    writer.write_at("sparse", 0, &[&[0; 8192]]).unwrap();
    writer.write_at("sparse", 3 * 4096, &[&[0; 2]]).unwrap();
    let mut expected = log.clone();
    expected[1000..4100].fill(0);
    expected[3 * 4096 - 10..3 * 4096].fill(0);
    let mut sparse_expected = vec![0u8; 3 * 4096];
    sparse_expected.extend_from_slice(b"\0\0c");

    // refusals: not zeros, past the end, no such file, a directory
    assert_eq!(writer.write_at("log", 0, &[b"\0x"]), Err(StorageError::Io));
    let end = log.len() as u64;
    assert_eq!(
        writer.write_at("log", end - 1, &[&[0, 0]]),
        Err(StorageError::Io)
    );
    assert_eq!(
        writer.write_at("missing", 0, &[&[0]]),
        Err(StorageError::NotFound)
    );
    assert_eq!(
        writer.write_at("d", 0, &[&[0]]),
        Err(StorageError::WrongKind)
    );

    // before the sync: the overlay reads zeros, the image is unchanged
    assert_eq!(read_all(&mut writer, "log"), expected);
    let mut before = ImageStorage::open(&image, "").expect("the image");
    assert_eq!(read_all(&mut before, "log"), log);

    writer.sync().expect("the zeros applied");
    let mut after = ImageStorage::open(&image, "").expect("the image after the zeros");
    assert_eq!(read_all(&mut after, "log"), expected);
    assert_eq!(read_all(&mut after, "sparse"), sparse_expected);
    assert_eq!(read_all(&mut after, "other"), vec![9u8; 5000]);
    fsck_clean(&image);
}
