//! purge, gc and the exit codes scripts rely on, on a directory root.

mod common;

use std::fs;

use common::{build_root, json, run, GENERATIONS};

#[test]
fn purge_removes_a_generation_and_keeps_the_others_restorable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    let du = json(&root, &["du"], 0);
    let frees = du["generations"][0]["purge_frees"].as_u64().expect("frees");
    assert!(frees > 0);

    let (code, text, _) = run(&root, &["purge", "--oldest", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(text.contains("would purge"), "{text}");
    let planned = json(&root, &["purge", "--oldest", "--dry-run"], 0);
    assert_eq!(planned[0]["frees"], frees);
    assert_eq!(common::names(&root).len(), GENERATIONS as usize);

    let stored = du["bytes_stored"].as_u64().expect("stored");
    let purged = json(&root, &["purge", "oldest"], 0);
    assert_eq!(
        purged["bytes_freed"], frees,
        "du predicted what purge frees"
    );
    assert_eq!(purged["purged"].as_array().map(Vec::len), Some(1));
    let after = json(&root, &["du"], 0);
    assert_eq!(
        stored - after["bytes_stored"].as_u64().expect("stored"),
        frees,
        "du predicted what purge frees"
    );
    let listed = json(&root, &["list"], 0);
    let statuses: Vec<&str> = listed["generations"]
        .as_array()
        .expect("generations")
        .iter()
        .map(|g| g["status"].as_str().unwrap_or(""))
        .collect();
    // Generation 1's directory stays: later generations use its files.
    assert_eq!(statuses, ["purged", "valid", "valid", "valid"]);
    assert_eq!(json(&root, &["verify"], 0)["ok"], true);

    // --keep: never below this many valid generations.
    let (code, _, stderr) = run(&root, &["purge", "2", "3", "4", "--keep", "1"]);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("--keep"), "{stderr}");
    let valid = json(&root, &["list"], 0)["generations"]
        .as_array()
        .expect("generations")
        .iter()
        .filter(|g| g["status"] == "valid")
        .count();
    assert_eq!(valid, 1);
    assert_eq!(json(&root, &["verify"], 0)["ok"], true);
}

#[test]
fn gc_keeps_a_damaged_generation_unless_told() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    let names = common::names(&root);
    let archive = root.join(&names[3]).join("archive");
    let mut bytes = fs::read(&archive).expect("archive");
    bytes[20] ^= 1;
    fs::write(&archive, bytes).expect("write");
    let (code, _, stderr) = run(&root, &["gc"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--drop-damaged"), "{stderr}");
    assert!(archive.exists());
    let (code, _, stderr) = run(&root, &["gc", "--drop-damaged"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!root.join(&names[3]).exists());
    assert_eq!(json(&root, &["verify"], 0)["ok"], true);
}

#[test]
fn exit_codes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    assert_eq!(run(&root, &["show", "99"]).0, 4);
    assert_eq!(run(&root, &["show", "no-such-name"]).0, 4);
    assert_eq!(
        run(&root, &["restore", "latest", "0x999", "-o", "/dev/null"]).0,
        4
    );
    assert_eq!(run(&root, &["frobnicate"]).0, 2);
    assert_eq!(run(&root, &["restore", "latest", "--all"]).0, 2);
    assert_eq!(run(&root, &["restore", "latest", "0xZZ", "-o", "x"]).0, 2);
    assert_eq!(
        common::ctl(&["mkimage", "12Q", "x.img"]).status.code(),
        Some(2)
    );
    let missing = tmp.path().join("missing");
    let (code, _, stderr) = run(&missing, &["list"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(!missing.exists(), "a read-only command created the root");
    let not_ext4 = tmp.path().join("not-ext4");
    fs::write(&not_ext4, vec![0u8; 65536]).expect("write");
    let (code, _, stderr) = run(&not_ext4, &["list"]);
    assert_eq!(code, 3);
    assert!(stderr.contains("ext4"), "{stderr}");
    let out = common::ctl(&["list"]);
    assert_eq!(out.status.code(), Some(2), "no root given");
    // Restoring over an existing file is refused.
    let existing = tmp.path().join("existing");
    fs::write(&existing, b"keep me").expect("write");
    let (code, _, _) = run(
        &root,
        &[
            "restore",
            "latest",
            "1",
            "-o",
            existing.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 5);
    assert_eq!(fs::read(&existing).expect("read"), b"keep me");
}
