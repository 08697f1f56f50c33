//! `verify` finds every kind of damage the reliability tests inject (a
//! flipped payload bit, a truncated pack, a deleted pack, a damaged pack
//! index, a damaged archive), says which objects are still restorable,
//! restore never writes a byte that failed its check, and salvage rescues
//! what a generation with a damaged archive wrote.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::{build_root, copies, json, objects, payload, run, versions, Copy, OBJECTS};
use serde_json::Value;

/// Object 4 never changes: generation 1 stores it, 2 links to that copy,
/// 3 stores a fresh copy (redundancy=2) listed before generation 1's, 4
/// links to both.
const STEADY: u64 = 4;

fn fresh() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    (tmp, root)
}

fn flip_bit(path: &Path, at: u64) {
    let mut bytes = fs::read(path).expect("read");
    let at = (at as usize).min(bytes.len() - 1);
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

fn ids(value: &Value) -> BTreeSet<u64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_u64().expect("id"))
        .collect()
}

/// The objects of generation `generation` none of whose copies passes
/// `intact`: what verify must report lost, derived from `show`.
fn expected_lost(root: &Path, generation: &str, intact: impl Fn(&Copy) -> bool) -> BTreeSet<u64> {
    objects(root, generation)
        .into_iter()
        .filter(|(_, copies)| !copies.iter().any(&intact))
        .map(|(id, _)| id)
        .collect()
}

/// Damage to generation 1's copy of the steady object: generations 1 and
/// 2 (one copy) lose it, 3 and 4 still have their own copy.
fn check_lost_in_first_two(root: &Path, problem: &str) {
    let report = json(root, &["verify"], 1);
    assert_eq!(report["ok"], false);
    assert_eq!(report["objects_lost"], 2);
    let damaged = report["damaged_copies"].as_array().expect("damaged");
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0]["objects"], serde_json::json!([STEADY]));
    assert_eq!(damaged[0]["generation"], 1);
    assert!(
        damaged[0]["problem"]
            .as_str()
            .unwrap_or("")
            .contains(problem),
        "{damaged:?}"
    );
    assert_eq!(damaged[0]["used_by"], serde_json::json!([1, 2, 3, 4]));
    assert_eq!(damaged[0]["references"], 4);
    for n in [1, 2] {
        assert_eq!(
            verdict(&report, n)["lost_objects"],
            serde_json::json!([STEADY])
        );
    }
    for n in [3, 4] {
        assert_eq!(verdict(&report, n)["lost"], 0);
        assert_eq!(verdict(&report, n)["degraded"], 1);
        assert_eq!(verdict(&report, n)["intact"], OBJECTS - 1);
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
    assert_eq!(report["damaged_copies"], serde_json::json!([]));
    assert_eq!(report["damaged_packs"], serde_json::json!([]));
    assert_eq!(report["unused_files"], 0);
    // 16 + 4 + 12 + 8 packs, every one in use and checked.
    assert_eq!(report["packs_checked"], 40);
    for n in 1..=4 {
        assert_eq!(verdict(&report, n)["intact"], OBJECTS);
    }
    let (code, text, _) = run(&root, &["verify"]);
    assert_eq!(code, 0);
    assert!(text.contains("everything intact"), "{text}");
}

#[test]
fn a_flipped_payload_bit_is_found() {
    let (_tmp, root) = fresh();
    let older = &copies(&root, "1", STEADY)[0];
    flip_bit(&root.join(&older.path), older.offset + 100);
    check_lost_in_first_two(&root, "checksum mismatch");
}

#[test]
fn a_truncated_pack_is_found() {
    let (_tmp, root) = fresh();
    let older = copies(&root, "1", STEADY)[0].clone();
    let cut = older.offset + 10;
    truncate(&root.join(&older.path), cut);
    // Every copy in that pack that ends past the cut is lost where it is
    // the object's only intact copy.
    let survives = |c: &Copy| !(c.path == older.path && c.offset + c.length > cut);
    let report = json(&root, &["verify"], 1);
    for n in 1..=4u32 {
        assert_eq!(
            ids(&verdict(&report, n)["lost_objects"]),
            expected_lost(&root, &n.to_string(), survives),
            "generation {n}"
        );
    }
    assert!(ids(&verdict(&report, 1)["lost_objects"]).contains(&STEADY));
    assert!(report["damaged_copies"]
        .as_array()
        .expect("copies")
        .iter()
        .all(|c| c["problem"] == "pack shorter than the copy's range"));
    // Its trailer went with the cut: the pack index is reported too.
    let packs = report["damaged_packs"].as_array().expect("packs");
    assert_eq!(packs.len(), 1, "{packs:?}");
    assert_eq!(packs[0]["path"], older.path.as_str());
}

#[test]
fn a_deleted_pack_is_found() {
    let (_tmp, root) = fresh();
    let older = copies(&root, "1", STEADY)[0].clone();
    fs::remove_file(root.join(&older.path)).expect("delete");
    let report = json(&root, &["verify"], 1);
    for n in 1..=4u32 {
        assert_eq!(
            ids(&verdict(&report, n)["lost_objects"]),
            expected_lost(&root, &n.to_string(), |c| c.path != older.path),
            "generation {n}"
        );
    }
    let damaged = report["damaged_copies"].as_array().expect("copies");
    assert!(!damaged.is_empty());
    assert!(damaged
        .iter()
        .all(|c| c["problem"] == "pack missing" && c["path"] == older.path.as_str()));
    // A missing pack is reported once, through its copies.
    assert_eq!(report["damaged_packs"], serde_json::json!([]));
}

#[test]
fn damage_covered_by_a_redundant_copy_is_reported_but_recoverable() {
    let (tmp, root) = fresh();
    let newer = copies(&root, "latest", STEADY);
    assert_eq!(newer.len(), 2, "a fresh copy and generation 1's: {newer:?}");
    assert_eq!(newer[0].generation, 3);
    flip_bit(&root.join(&newer[0].path), newer[0].offset + 7);
    let report = json(&root, &["verify"], 0);
    assert_eq!(report["ok"], true);
    assert_eq!(report["damaged_copies"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        report["damaged_copies"][0]["used_by"],
        serde_json::json!([3, 4])
    );
    for n in [3, 4] {
        assert_eq!(verdict(&report, n)["degraded"], 1);
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
fn a_damaged_pack_index_is_found_and_restore_is_unaffected() {
    let (tmp, root) = fresh();
    let pack = copies(&root, "latest", STEADY)[0].path.clone();
    let len = fs::metadata(root.join(&pack)).expect("pack").len();
    // A bit of the index (between the payloads and the 32-byte trailer).
    flip_bit(&root.join(&pack), len - 32 - 3);
    let report = json(&root, &["verify"], 0);
    assert_eq!(report["ok"], true);
    assert_eq!(report["damaged_copies"], serde_json::json!([]));
    let packs = report["damaged_packs"].as_array().expect("packs");
    assert_eq!(packs.len(), 1, "{packs:?}");
    assert_eq!(packs[0]["path"], pack.as_str());
    assert!(
        packs[0]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("checksum mismatch")),
        "{packs:?}"
    );
    assert_eq!(run(&root, &["verify", "--strict"]).0, 1);
    // verify of one generation checks the indexes of the packs it wrote.
    assert_eq!(
        json(&root, &["verify", "3"], 0)["damaged_packs"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        json(&root, &["verify", "4"], 0)["damaged_packs"],
        serde_json::json!([])
    );
    let out = tmp.path().join("all");
    let restored = json(
        &root,
        &[
            "restore",
            "latest",
            "--all",
            "-o",
            out.to_str().expect("utf-8"),
        ],
        0,
    );
    assert_eq!(restored["restored"], OBJECTS);
}

/// A bit flip in a sealed record of the archive log.
#[test]
fn a_damaged_archive_is_found() {
    damaged_archive_is_found(true);
}

/// A bit flip in an `archive` file (a root written with
/// `archive_log: false`).
#[test]
fn a_damaged_archive_file_is_found() {
    damaged_archive_is_found(false);
}

fn damaged_archive_is_found(archive_log: bool) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    common::build_root_with(&root, archive_log);
    assert_eq!(root.join("archives").exists(), archive_log);
    common::damage_archive(&root, 2, 40);
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
    assert!(stderr.contains("salvage"), "{stderr}");
    let (code, text, _) = run(&root, &["verify"]);
    assert_eq!(code, 1);
    assert!(text.contains("damaged archive: generation 2"), "{text}");
}

#[test]
fn restore_never_writes_a_byte_that_failed_its_check() {
    let (tmp, root) = fresh();
    let older = &copies(&root, "1", STEADY)[0];
    flip_bit(&root.join(&older.path), older.offset + 2000);

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
}

#[test]
fn unused_files_are_counted_and_gc_removes_them() {
    let (_tmp, root) = fresh();
    let names = common::names(&root);
    // A crash leftover: a file in a pack directory no archive uses.
    let stray = root.join(&names[0]).join("pack").join("stray");
    fs::write(&stray, b"left over").expect("write");
    let report = json(&root, &["verify"], 0);
    assert_eq!(report["unused_files"], 1);
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
    assert_eq!(json(&root, &["verify"], 0)["unused_files"], 0);
}

/// Generation 3 stores the objects changed in round 2 and fresh copies of
/// those unchanged since generation 1 (redundancy=2): with its archive
/// damaged, salvage gets exactly those back from its packs' indexes.
#[test]
fn salvage_rescues_what_a_generation_with_a_damaged_archive_wrote() {
    let (tmp, root) = fresh();
    let gen3 = objects(&root, "3");
    let own: Vec<(u64, Copy)> = gen3
        .iter()
        .filter(|(_, copies)| copies[0].generation == 3)
        .map(|(id, copies)| (*id, copies[0].clone()))
        .collect();
    assert!(own.len() > 1 && own.len() < OBJECTS as usize);
    common::damage_archive(&root, 3, 40);
    // A valid generation is restored, not salvaged.
    let out = tmp.path().join("salvaged");
    let out_arg = out.to_str().expect("utf-8");
    assert_eq!(run(&root, &["salvage", "2", "-o", out_arg]).0, 5);

    let intact = json(&root, &["salvage", "3", "-o", out_arg], 0);
    assert_eq!(intact["salvaged"], own.len());
    assert_eq!(intact["packs_checked"], 12);
    let expected = versions(2);
    for (id, _) in &own {
        let bytes = fs::read(out.join(format!("{id:016x}"))).expect("salvaged");
        assert_eq!(bytes, payload(*id, expected[*id as usize]), "object {id}");
    }
    assert_eq!(fs::read_dir(&out).expect("out").count(), own.len());

    // Damage one of its payloads: that object is not salvaged, exit 1.
    let (victim, copy) = own[1].clone();
    flip_bit(&root.join(&copy.path), copy.offset + 9);
    let again = tmp.path().join("again");
    let again_arg = again.to_str().expect("utf-8");
    let report = json(&root, &["salvage", "3", "-o", again_arg], 1);
    assert_eq!(report["salvaged"], own.len() - 1);
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(1));
    assert!(!again.join(format!("{victim:016x}")).exists());

    // --with-older: every object, each as generation 3 had it (the newest
    // intact copy up to generation 3), but the damaged one, whose newest
    // intact copy is older.
    let all = tmp.path().join("all");
    let report = json(
        &root,
        &[
            "salvage",
            "3",
            "--with-older",
            "-o",
            all.to_str().expect("utf-8"),
        ],
        1,
    );
    assert_eq!(report["salvaged"], OBJECTS);
    for (id, version) in expected.iter().enumerate() {
        let bytes = fs::read(all.join(format!("{id:016x}"))).expect("salvaged");
        if id as u64 != victim {
            assert_eq!(bytes, payload(id as u64, *version), "object {id}");
        }
    }
}

#[test]
fn salvage_takes_the_newest_copy_of_an_object() {
    let (tmp, root) = fresh();
    // Generation 4's own packs hold objects changed in round 3 and fresh
    // copies; older packs hold older versions of the changed ones.
    common::damage_archive(&root, 4, 40);
    let out = tmp.path().join("all");
    let report = json(
        &root,
        &[
            "salvage",
            "4",
            "--with-older",
            "-o",
            out.to_str().expect("utf-8"),
        ],
        0,
    );
    assert_eq!(report["salvaged"], OBJECTS);
    assert!(report["superseded"].as_u64() > Some(0));
    for (id, version) in versions(3).iter().enumerate() {
        let bytes = fs::read(out.join(format!("{id:016x}"))).expect("salvaged");
        assert_eq!(bytes, payload(id as u64, *version), "object {id}");
    }
}
