//! purge and gc inside an ext4 image (--write-image, through debugfs) give
//! the same root as on a directory, and every write ends with e2fsck -fn
//! clean.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{build_root, image_of, json, run, scrub};

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

#[test]
fn purge_in_an_image_matches_purge_in_a_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("root");
    build_root(&dir);
    let image = tmp.path().join("snapper.img");
    image_of(&dir, &image);

    let (code, text, stderr) = run(&dir, &["purge", "1", "3"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("purged"), "{text}");
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
    // And a damaged archive, dropped on request.
    let archive = dir.join(&names[2]).join("archive");
    let mut bytes = fs::read(&archive).expect("archive");
    bytes[30] ^= 4;
    fs::write(&archive, bytes).expect("write");

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
