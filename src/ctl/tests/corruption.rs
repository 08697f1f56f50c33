//! `verify` finds every kind of damage the reliability tests inject (a
//! flipped bit, a truncated file, a deleted file, a damaged archive), says
//! which objects are still restorable, and restore never writes a byte that
//! failed its check.

mod common;

use std::fs;
use std::path::Path;

use common::{build_root, copies, json, payload, run, versions, GENERATIONS, OBJECTS};
use serde_json::Value;

/// Object 4 never changes: generation 1 writes it, 2 links to that file,
/// 3 writes a fresh copy (redundancy=2) listed before generation 1's, 4
/// links to both.
const STEADY: u64 = 4;

fn fresh() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    (tmp, root)
}

fn flip_bit(path: &Path, at: usize) {
    let mut bytes = fs::read(path).expect("read");
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0x10;
    fs::write(path, bytes).expect("write");
}

fn truncate(path: &Path, len: u64) {
    let file = fs::OpenOptions::new().write(true).open(path).expect("open");
    file.set_len(len).expect("truncate");
}

/// The verdict of generation `n` (1-based) in a verify report.
fn verdict(report: &Value, n: u32) -> &Value {
    report["generations"]
        .as_array()
        .expect("generations")
        .iter()
        .find(|g| g["generation"] == n)
        .expect("generation in report")
}

/// Damage to the older copy of a steady object: generations 1 and 2 (one
/// copy) lose it, 3 and 4 still have their own copy.
fn check_lost_in_first_two(root: &Path, problem: &str) {
    let report = json(root, &["verify"], 1);
    assert_eq!(report["ok"], false);
    assert_eq!(report["objects_lost"], 2);
    let damaged = report["damaged_files"].as_array().expect("damaged");
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0]["object"], STEADY);
    assert!(
        damaged[0]["problem"]
            .as_str()
            .unwrap_or("")
            .contains(problem),
        "{damaged:?}"
    );
    assert_eq!(damaged[0]["used_by"], serde_json::json!([1, 2, 3, 4]));
    for n in [1, 2] {
        assert_eq!(
            verdict(&report, n)["lost_objects"],
            serde_json::json!([STEADY])
        );
    }
    for n in [3, 4] {
        assert_eq!(verdict(&report, n)["lost"], 0);
        assert_eq!(verdict(&report, n)["intact"], OBJECTS);
    }
    // The people's version names the lost object and ends with a summary.
    let (code, text, _) = run(root, &["verify"]);
    assert_eq!(code, 1);
    assert!(text.contains("LOST: 0x4"), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.contains("2 objects in 2 generations cannot be restored")),
        "{text}"
    );
}

#[test]
fn an_intact_root_verifies() {
    let (_tmp, root) = fresh();
    let report = json(&root, &["verify"], 0);
    assert_eq!(report["ok"], true);
    assert_eq!(report["damaged_files"], serde_json::json!([]));
    assert_eq!(report["unreferenced_files"], 0);
    let (code, text, _) = run(&root, &["verify"]);
    assert_eq!(code, 0);
    assert!(text.contains("everything intact"), "{text}");
}

#[test]
fn a_flipped_bit_is_found() {
    let (_tmp, root) = fresh();
    let older = copies(&root, "1", STEADY);
    flip_bit(&root.join(&older[0]), 48 + 100);
    check_lost_in_first_two(&root, "checksum mismatch");
}

#[test]
fn a_flipped_header_bit_is_found() {
    let (_tmp, root) = fresh();
    let older = copies(&root, "1", STEADY);
    flip_bit(&root.join(&older[0]), 9);
    check_lost_in_first_two(&root, "checksum mismatch");
}

#[test]
fn a_truncated_file_is_found() {
    let (_tmp, root) = fresh();
    let older = copies(&root, "1", STEADY);
    truncate(&root.join(&older[0]), 1000);
    check_lost_in_first_two(&root, "truncated");
}

#[test]
fn a_deleted_file_is_found() {
    let (_tmp, root) = fresh();
    let older = copies(&root, "1", STEADY);
    fs::remove_file(root.join(&older[0])).expect("delete");
    check_lost_in_first_two(&root, "missing");
}

#[test]
fn damage_covered_by_a_redundant_copy_is_reported_but_recoverable() {
    let (tmp, root) = fresh();
    let newer = copies(&root, "latest", STEADY);
    assert_eq!(newer.len(), 2, "a fresh copy and generation 1's: {newer:?}");
    flip_bit(&root.join(&newer[0]), 48 + 7);
    let report = json(&root, &["verify"], 0);
    assert_eq!(report["ok"], true);
    assert_eq!(report["damaged_files"].as_array().map(Vec::len), Some(1));
    for n in [3, 4] {
        assert_eq!(verdict(&report, n)["from_older_copy"], 1);
        assert_eq!(verdict(&report, n)["lost"], 0);
    }
    let (code, text, _) = run(&root, &["verify"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("still restorable from another copy"),
        "{text}"
    );
    let (code, _, _) = run(&root, &["verify", "--strict"]);
    assert_eq!(code, 1);
    // Restore falls back to the older copy: the bytes are still right.
    let out = tmp.path().join("steady");
    let (code, _, stderr) = run(
        &root,
        &["restore", "latest", "4", "-o", out.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(fs::read(&out).expect("restored"), payload(STEADY, 0));
}

#[test]
fn a_damaged_archive_is_found() {
    let (_tmp, root) = fresh();
    let names = common::names(&root);
    let archive = root.join(&names[1]).join("archive");
    flip_bit(&archive, 40);
    let report = json(&root, &["verify"], 1);
    assert_eq!(report["ok"], false);
    let archives = report["damaged_archives"].as_array().expect("archives");
    assert_eq!(archives.len(), 1);
    assert_eq!(archives[0]["generation"], 2);
    // The other generations are checked and intact.
    assert_eq!(report["objects_lost"], 0);
    for n in [1, 3, 4] {
        assert_eq!(verdict(&report, n)["intact"], OBJECTS);
    }
    let listed = json(&root, &["list"], 0);
    assert_eq!(listed["generations"][1]["status"], "damaged");
    assert!(listed["generations"][1]["problem"]
        .as_str()
        .is_some_and(|p| p.contains("checksum")));
    let (code, _, stderr) = run(&root, &["show", "2"]);
    assert_eq!(code, 1, "{stderr}");
    let (code, text, _) = run(&root, &["verify"]);
    assert_eq!(code, 1);
    assert!(text.contains("damaged archive: generation 2"), "{text}");
}

#[test]
fn restore_never_writes_a_byte_that_failed_its_check() {
    let (tmp, root) = fresh();
    let older = copies(&root, "1", STEADY);
    flip_bit(&root.join(&older[0]), 48 + 2000);

    // One object: nothing written, exit 1.
    let out = tmp.path().join("steady");
    let (code, _, stderr) = run(
        &root,
        &["restore", "1", "4", "-o", out.to_str().expect("utf-8")],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(!out.exists(), "a file was written for a damaged object");
    assert!(stderr.contains("no intact copy"), "{stderr}");

    // The whole generation: every other object, but not that one.
    let dir = tmp.path().join("gen1");
    let report = json(
        &root,
        &["restore", "1", "--all", "-o", dir.to_str().expect("utf-8")],
        1,
    );
    assert_eq!(report["restored"], OBJECTS - 1);
    assert_eq!(report["failed"][0]["id"], STEADY);
    assert!(!dir.join(format!("{STEADY:016x}")).exists());
    for (id, version) in versions(0).iter().enumerate() {
        if id as u64 != STEADY {
            let bytes = fs::read(dir.join(format!("{id:016x}"))).expect("restored");
            assert_eq!(bytes, payload(id as u64, *version));
        }
    }
    // Generation 4 has its own intact copy.
    let (code, _, _) = run(
        &root,
        &["restore", "4", "4", "-o", out.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0);
    assert_eq!(fs::read(&out).expect("restored"), payload(STEADY, 0));
    let _ = GENERATIONS;
}

#[test]
fn unreferenced_files_are_counted_and_gc_removes_them() {
    let (_tmp, root) = fresh();
    let names = common::names(&root);
    // A crash leftover: a file in a snapshot directory no archive lists.
    let stray = root.join(&names[0]).join("snapshot").join("stray");
    fs::write(&stray, b"left over").expect("write");
    let report = json(&root, &["verify"], 0);
    assert_eq!(report["unreferenced_files"], 1);
    let (code, text, _) = run(&root, &["gc", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(text.contains("stray"), "{text}");
    let planned = json(&root, &["gc", "--dry-run"], 0);
    assert_eq!(planned["files"].as_array().map(Vec::len), Some(1));
    assert_eq!(planned["bytes"], 9);
    assert!(stray.exists());
    let (code, text, stderr) = run(&root, &["gc"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("deleted 1 "), "{text}");
    assert!(!stray.exists());
    assert_eq!(json(&root, &["verify"], 0)["unreferenced_files"], 0);
}

#[test]
fn salvage_rescues_what_a_generation_with_a_damaged_archive_wrote() {
    let (tmp, root) = fresh();
    let names = common::names(&root);
    // Generation 3 wrote the objects changed in round 2 and fresh copies of
    // those unchanged since generation 1 (redundancy=2).
    let own: Vec<(u64, Vec<u8>)> = json(&root, &["show", "3"], 0)["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter(|o| o["copies"][0]["generation"] == 3)
        .map(|o| {
            let id = o["id"].as_u64().expect("id");
            (id, payload(id, versions(2)[id as usize]))
        })
        .collect();
    assert!(own.len() > 1);
    flip_bit(&root.join(&names[2]).join("archive"), 40);
    // A valid generation is restored, not salvaged.
    let out = tmp.path().join("salvaged");
    let out_arg = out.to_str().expect("utf-8");
    assert_eq!(run(&root, &["salvage", "2", "-o", out_arg]).0, 5);
    // Damage one of its files too: that object is not salvaged.
    let victim = json(&root, &["show", "4"], 0)["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .flat_map(|o| o["copies"].as_array().cloned().unwrap_or_default())
        .find(|c| c["generation"] == 3)
        .expect("generation 4 uses a file of generation 3");
    flip_bit(&root.join(victim["path"].as_str().expect("path")), 48 + 9);

    let report = json(&root, &["salvage", "3", "-o", out_arg], 1);
    assert_eq!(report["salvaged"], own.len() - 1);
    assert_eq!(report["damaged_files"].as_array().map(Vec::len), Some(1));
    let mut written = 0;
    for (id, expected) in &own {
        if let Ok(bytes) = fs::read(out.join(format!("{id:016x}"))) {
            assert_eq!(&bytes, expected, "object {id}");
            written += 1;
        }
    }
    assert_eq!(written, own.len() - 1);
    assert_eq!(fs::read_dir(&out).expect("out").count(), own.len() - 1);
}

#[test]
fn a_file_grown_past_its_header_is_found() {
    let (_tmp, root) = fresh();
    let older = copies(&root, "1", STEADY);
    let path = root.join(&older[0]);
    let mut bytes = fs::read(&path).expect("read");
    bytes.extend_from_slice(b"tail");
    fs::write(&path, bytes).expect("write");
    check_lost_in_first_two(&root, "longer than its header says");
}
