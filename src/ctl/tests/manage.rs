//! purge, gc, du and the exit codes scripts rely on, on a directory root;
//! a format-1 root refused by every command.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use common::{build_root, json, objects, run, tree, GENERATIONS};
use serde_json::Value;

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

fn statuses(root: &Path) -> Vec<String> {
    json(root, &["list"], 0)["generations"]
        .as_array()
        .expect("generations")
        .iter()
        .map(|g| g["status"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A fifth generation changes every object: purging the first four
/// leaves their packs without users.
#[test]
fn purge_dry_run_names_exactly_what_purge_deletes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    common::take_generation(&root, &[9; common::OBJECTS as usize]);
    let before = tree(&root);
    let args = ["purge", "1", "2", "3", "4"];

    let (code, text, _) = run(&root, &[&args[..], &["--dry-run"]].concat());
    assert_eq!(code, 0);
    assert!(text.contains("would purge"), "{text}");
    let planned = json(&root, &[&args[..], &["--dry-run"]].concat(), 0);
    assert_eq!(tree(&root), before, "a dry run changed the root");
    assert_eq!(planned["dry_run"], true);

    let purged = json(&root, &args, 0);
    assert_eq!(purged["dry_run"], false);
    // The dry run ran the engine's own purge: the same files, per generation.
    assert_eq!(planned["purged"], purged["purged"]);
    assert_eq!(planned["bytes_freed"], purged["bytes_freed"]);
    // And it is what left the disk.
    let after = tree(&root);
    let gone: BTreeSet<String> = before
        .keys()
        .filter(|path| !after.contains_key(*path))
        .cloned()
        .collect();
    let reported: BTreeSet<String> = purged["purged"]
        .as_array()
        .expect("purged")
        .iter()
        .flat_map(|p| strings(&p["files"]))
        .collect();
    assert_eq!(gone, reported);
    let freed: usize = gone.iter().map(|p| before[p].len()).sum();
    assert_eq!(purged["bytes_freed"], freed);
    // Every file of the first four generations went, directories too: the
    // fifth's 16 packs and the archive log are left. Their records were
    // retired in the log, in the dry run too.
    assert_eq!(after.len(), 1 + 16, "{:?}", after.keys());
    assert!(after.contains_key("archives"), "{:?}", after.keys());
    for row in planned["purged"].as_array().expect("purged") {
        assert_eq!(row["record_retired"], true, "{row}");
    }
    assert_eq!(statuses(&root), ["valid"]);
    assert_eq!(json(&root, &["verify"], 0)["ok"], true);
    assert_eq!(
        json(&root, &["gc", "--dry-run"], 0)["files"],
        serde_json::json!([])
    );
}

#[test]
fn purge_keeps_at_least_keep_generations() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    let (code, _, stderr) = run(&root, &["purge", "--oldest"]);
    assert_eq!(code, 0, "{stderr}");
    // --keep: never below this many valid generations.
    let (code, _, stderr) = run(&root, &["purge", "2", "3", "4", "--keep", "1"]);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("--keep"), "{stderr}");
    assert_eq!(statuses(&root).iter().filter(|s| *s == "valid").count(), 1);
    assert_eq!(json(&root, &["verify"], 0)["ok"], true);
    // A purged generation is not purged again.
    let (code, _, stderr) = run(&root, &["purge", "1"]);
    assert_eq!(code, 4, "{stderr}");
}

/// du's figures against what is on disk and in the archives: every file's
/// length, the live payload bytes (each stored payload a valid archive
/// uses, once), and the sparse packs after purges.
#[test]
fn du_adds_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    let (code, _, stderr) = run(&root, &["purge", "1", "2", "3"]);
    assert_eq!(code, 0, "{stderr}");
    let du = json(&root, &["du"], 0);
    let files = tree(&root);
    assert_eq!(
        du["bytes_stored"],
        files.values().map(Vec::len).sum::<usize>()
    );
    // The archives: records of the archive log, counted as the whole file
    // (it takes that much space), and archive files (none here).
    let archives: usize = files
        .iter()
        .filter(|(p, _)| *p == "archives" || p.ends_with("/archive"))
        .map(|(_, b)| b.len())
        .sum();
    assert!(archives >= 1 << 20, "the log is made 1 MiB at least");
    assert_eq!(du["archive_bytes"], archives);
    // Live: every distinct stored payload of the valid generations.
    let mut live: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for generation in ["4"] {
        for (_, copies) in objects(&root, generation) {
            for c in copies {
                live.insert((c.path, c.offset), c.length);
            }
        }
    }
    assert_eq!(du["live_bytes"], live.values().sum::<u64>());
    let packs: BTreeSet<&String> = live.keys().map(|(path, _)| path).collect();
    assert_eq!(du["packs_in_use"], packs.len());
    let pack_files: usize = packs.iter().map(|p| files[*p].len()).sum();
    assert_eq!(du["pack_file_bytes"], pack_files);
    // Payload bytes: each pack's bytes before its index (28 bytes per
    // record and a 32-byte trailer follow).
    let payload = du["pack_payload_bytes"].as_u64().expect("payload");
    let live_bytes = du["live_bytes"].as_u64().expect("live");
    assert!(payload > live_bytes, "generation 1's packs lost users");
    assert_eq!(du["dead_bytes"], payload - live_bytes);
    // Generation 1's packs of four objects keep one live object each:
    // sparse (under half their payload bytes live).
    let mut live_per_pack: BTreeMap<&String, u64> = BTreeMap::new();
    for ((path, _), length) in &live {
        *live_per_pack.entry(path).or_default() += length;
    }
    let sparse = live_per_pack
        .values()
        .filter(|bytes| **bytes * 2 < common::PACK_SIZE)
        .count();
    assert!(sparse > 0);
    assert_eq!(du["sparse_packs"], sparse);
    let rows = du["generations"].as_array().expect("rows");
    assert_eq!(rows.len(), GENERATIONS as usize);
    assert_eq!(
        rows.iter()
            .map(|r| r["sparse_packs"].as_u64().unwrap_or(0))
            .sum::<u64>(),
        sparse as u64
    );
    let (code, text, _) = run(&root, &["du"]);
    assert_eq!(code, 0);
    assert!(text.contains("sparse"), "{text}");
}

#[test]
fn gc_keeps_a_damaged_generation_unless_told() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    let names = common::names(&root);
    // generation 4's record in the archive log
    common::damage_archive(&root, 4, 20);
    let log = root.join("archives");
    let damaged = fs::read(&log).expect("archive log");
    let (code, _, stderr) = run(&root, &["gc"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--drop-damaged"), "{stderr}");
    assert_eq!(fs::read(&log).expect("log"), damaged, "the record is kept");
    assert!(root.join(&names[3]).exists());
    // The dry run lists what the real run deletes.
    let planned = json(&root, &["gc", "--dry-run", "--drop-damaged"], 0);
    let before = tree(&root);
    let (code, _, stderr) = run(&root, &["gc", "--drop-damaged"]);
    assert_eq!(code, 0, "{stderr}");
    let after = tree(&root);
    let gone: Vec<String> = before
        .keys()
        .filter(|p| !after.contains_key(*p))
        .cloned()
        .collect();
    let listed: Vec<String> = planned["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path").to_string())
        .collect();
    assert_eq!(listed, gone);
    assert!(!root.join(&names[3]).exists());
    assert_ne!(
        fs::read(&log).expect("log"),
        damaged,
        "the record is retired"
    );
    assert_eq!(statuses(&root), ["valid", "valid", "valid"]);
    assert_eq!(json(&root, &["verify"], 0)["ok"], true);
}

/// A commit cut short left an unsealed record in the archive log: gc
/// --dry-run says it would clear it and changes nothing; gc clears it
/// (its header and the archive's zeroed, nothing else) and says so; with
/// none, gc prints what it printed before it reported them.
#[test]
fn gc_reports_the_record_of_a_commit_cut_short_it_clears() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    build_root(&root);
    let quiet = (0, "gc deleted 0 unused files (0 B)\n".to_string());
    let quiet_dry = (0, "gc would delete 0 unused files (0 B)\n".to_string());
    let text = |args: &[&str]| {
        let (code, stdout, _) = run(&root, args);
        (code, stdout)
    };
    assert_eq!(text(&["gc", "--dry-run"]), quiet_dry);
    assert_eq!(
        json(&root, &["gc", "--dry-run"], 0)["torn_records"],
        serde_json::json!([])
    );

    let (extent, torn) = common::tear_record(&root, 5);
    let before = tree(&root);
    let line = format!(
        "record of a commit cut short at block {} of archives (4.0 KiB)",
        extent.block
    );
    assert_eq!(extent.blocks, 1);
    assert_eq!(
        text(&["gc", "--dry-run"]),
        (
            0,
            format!(
                "would clear {line}\ngc would delete 0 unused files (0 B) and clear 1 record of a commit cut short in archives (4.0 KiB)\n"
            )
        )
    );
    assert_eq!(
        json(&root, &["gc", "--dry-run"], 0)["torn_records"],
        serde_json::json!([{"block": extent.block, "bytes": 4096, "cleared": false}])
    );
    assert_eq!(tree(&root), before, "a dry run changed the root");

    // The JSON of a real run, on a copy.
    let copy = tmp.path().join("copy");
    fs::create_dir(&copy).expect("mkdir");
    for (path, bytes) in &before {
        let to = copy.join(path);
        fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        fs::write(to, bytes).expect("copy");
    }
    let report = json(&copy, &["gc"], 0);
    assert_eq!(
        report["torn_records"],
        serde_json::json!([{"block": extent.block, "bytes": 4096, "cleared": true}])
    );
    assert_eq!(report["files"], serde_json::json!([]));

    assert_eq!(
        text(&["gc"]),
        (
            0,
            format!(
                "cleared {line}\ngc deleted 0 unused files (0 B) and cleared 1 record of a commit cut short in archives (4.0 KiB)\n"
            )
        )
    );
    let cleared = common::cleared(torn, extent);
    assert!(
        fs::read(root.join("archives")).expect("log") == cleared,
        "gc did not zero exactly the torn record's headers"
    );
    let mut after = before;
    after.insert("archives".into(), cleared);
    assert_eq!(tree(&root), after, "gc changed more than the record");
    assert_eq!(text(&["gc"]), quiet);
    assert_eq!(text(&["gc", "--dry-run"]), quiet_dry);
    assert_eq!(statuses(&root), ["valid"; GENERATIONS as usize]);
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

/// Every command that takes a root, writing into `out`.
fn every_command(out: &Path) -> Vec<Vec<String>> {
    let out = out.to_str().expect("utf-8");
    [
        &["list"][..],
        &["show", "1"],
        &["verify"],
        &["verify", "1"],
        &["restore", "1", "0", "-o", &format!("{out}/one")],
        &["restore", "1", "--all", "-o", &format!("{out}/all")],
        &["salvage", "1", "-o", &format!("{out}/salvage")],
        &["du"],
        &["purge", "1", "--dry-run"],
        &["purge", "1", "--write-image"],
        &["gc", "--dry-run"],
        &["gc", "--drop-damaged", "--write-image"],
    ]
    .iter()
    .map(|args| args.iter().map(|a| a.to_string()).collect())
    .collect()
}

#[test]
fn a_format_1_root_is_refused_by_every_command_and_left_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/format1-root");
    let root = tmp.path().join("format1-root");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&fixture)
        .arg(&root)
        .status()
        .expect("cp");
    assert!(status.success());
    let before = tree(&root);
    assert!(!before.is_empty());
    let image = tmp.path().join("format1.img");
    common::image_of(&root, &image);
    let image_before = fs::read(&image).expect("image");
    let out = tmp.path().join("out");
    fs::create_dir(&out).expect("mkdir");
    for target in [&root, &image] {
        for args in every_command(&out) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, stdout, stderr) = run(target, &args);
            assert_eq!(code, 3, "{target:?} {args:?}: {stdout} {stderr}");
            assert!(
                stderr.contains("not a format-2 snapper root") && stderr.contains("format 1"),
                "{args:?}: {stderr}"
            );
        }
    }
    assert_eq!(tree(&root), before, "the format-1 root changed");
    assert!(
        fs::read(&image).expect("image") == image_before,
        "the image changed"
    );
    assert_eq!(
        fs::read_dir(&out).expect("out").count(),
        0,
        "output written"
    );
    // Nor is an image made of it.
    let made = tmp.path().join("made.img");
    let result = common::ctl(&[
        "mkimage",
        "16M",
        made.to_str().expect("utf-8"),
        "--from",
        root.to_str().expect("utf-8"),
    ]);
    assert_eq!(result.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&result.stderr).contains("format 1"));
    assert!(!made.exists());
}

/// With the archive log, a generation that writes no pack (nothing changed
/// since one that serves it) has no directory: every command still finds
/// it through its record, and purge retires the record, deleting no file.
#[test]
fn a_generation_without_a_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    common::take_generation(&root, &common::versions(0));
    common::take_generation(&root, &common::versions(0));
    let names = common::names(&root);
    assert_eq!(names.len(), 2);
    assert!(root.join(&names[0]).is_dir());
    assert!(!root.join(&names[1]).exists(), "{names:?}");
    assert_eq!(statuses(&root), ["valid", "valid"]);
    assert_eq!(objects(&root, "2").len(), common::OBJECTS as usize);
    let report = json(&root, &["verify"], 0);
    assert_eq!(report["ok"], true);
    let du = json(&root, &["du"], 0);
    assert_eq!(du["generations"][1]["bytes_in_directory"], 0);
    let out = tmp.path().join("out");
    let restored = json(
        &root,
        &["restore", "2", "--all", "-o", out.to_str().expect("utf-8")],
        0,
    );
    assert_eq!(restored["restored"], common::OBJECTS);

    let before = tree(&root);
    let planned = json(&root, &["purge", "2", "--dry-run"], 0);
    assert_eq!(tree(&root), before, "a dry run changed the root");
    let purged = json(&root, &["purge", "2"], 0);
    assert_eq!(planned["purged"], purged["purged"]);
    assert_eq!(purged["files_deleted"], 0);
    assert_eq!(purged["purged"][0]["record_retired"], true);
    assert_eq!(statuses(&root), ["valid"]);
    assert_eq!(json(&root, &["verify"], 0)["ok"], true);
}
