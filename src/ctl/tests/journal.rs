//! Images whose journal needs recovery, as a killed system leaves them,
//! made here with e2fsprogs: a snapper root of three generations in an
//! image; a copy of it gets a fourth generation (debugfs writes it in
//! place); the blocks that differ are then written into the first image's
//! journal as committed transactions (debugfs `jo`/`jw`/`jc`, which also
//! set `needs_recovery`), never to their place. With them: a revoked
//! block, a block overwritten by a later transaction, and a torn last
//! transaction. snapperctl must see what `e2fsck -fy` makes of a copy,
//! and leave the image's bytes as they were.
//!
//! The tests skip, saying so, only where e2fsprogs is missing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{payload, run, scrub, take_generation, take_generation_with, versions, OBJECTS};
use snapper_core::{EntryKind, Storage};
use snapperctl::image::ImageStorage;
use snapperctl::journal::JournalError;
use snapperctl::recovered::{self, OpenError};

/// The snapper root's place in the images (beside it: `escaped.bin`).
const IN_IMAGE: &str = "/snapper";

/// A block's worth of bytes that starts with the jbd2 magic: the journal
/// must store it escaped and the replay give back the magic.
const JBD2_MAGIC: [u8; 4] = [0xC0, 0x3B, 0x39, 0x98];

fn tool(name: &str) -> Option<PathBuf> {
    snapperctl::e2fs::find_tool(name)
}

/// Whether e2fsprogs is there; a test without it says so and passes.
fn have_e2fsprogs(test: &str) -> bool {
    let missing: Vec<&str> = ["mkfs.ext4", "debugfs", "e2fsck"]
        .into_iter()
        .filter(|t| tool(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    eprintln!(
        "SKIPPED {test}: {} not found; install e2fsprogs (apt-get install -y e2fsprogs)",
        missing.join(", ")
    );
    false
}

/// Runs debugfs -w with `script` on stdin; panics with its output when a
/// command in it reports an error.
fn debugfs(image: &Path, script: &str) {
    let mut child = Command::new(tool("debugfs").expect("debugfs"))
        .args(["-w", "-f", "-"])
        .arg(image)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("debugfs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script");
    let out = child.wait_with_output().expect("debugfs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // debugfs exits 0 whatever happens; its complaints go to stderr after
    // its banner line.
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("debugfs ") && !l.trim().is_empty())
        .collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "debugfs on {}:\n{script}\n{stderr}",
        image.display()
    );
}

/// The data blocks of `path` in `image` (debugfs `blocks`).
fn blocks_of(image: &Path, path: &str) -> Vec<u64> {
    let out = Command::new(tool("debugfs").expect("debugfs"))
        .args(["-R", &format!("blocks \"{path}\"")])
        .arg(image)
        .output()
        .expect("debugfs");
    let blocks: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|b| b.parse().expect("block number"))
        .collect();
    assert!(
        !blocks.is_empty(),
        "{path} has no blocks in {}",
        image.display()
    );
    blocks
}

fn mkfs(image: &Path, options: &[&str], content: &Path) {
    let out = Command::new(tool("mkfs.ext4").expect("mkfs.ext4"))
        .args(["-q", "-F"])
        .args(options)
        .arg("-d")
        .arg(content)
        .arg(image)
        .arg("32M")
        .output()
        .expect("mkfs.ext4");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of `image` after `e2fsck -fy` (which replays the journal).
fn fsck_copy(image: &Path, copy: &Path) {
    fs::copy(image, copy).expect("copy");
    let out = Command::new(tool("e2fsck").expect("e2fsck"))
        .arg("-fy")
        .arg(copy)
        .output()
        .expect("e2fsck");
    // 0: clean, 1: errors corrected (free counts after a replay).
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "e2fsck -fy: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Makes the directory tree of `image` (below IN_IMAGE) equal to `dir`
/// with debugfs writing in place: new directories and files, removed and
/// changed files.
fn sync_into(image: &Path, before: &BTreeMap<String, Vec<u8>>, dir: &Path) {
    let after = common::tree(dir);
    let mut script = String::new();
    let mut dirs = BTreeSet::new();
    for path in after.keys() {
        let mut at = path.as_str();
        while let Some((parent, _)) = at.rsplit_once('/') {
            dirs.insert(parent.to_string());
            at = parent;
        }
    }
    let old_dirs: BTreeSet<String> = before
        .keys()
        .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d.to_string()))
        .flat_map(|d| {
            let mut all = vec![d.clone()];
            let mut at = d.as_str();
            while let Some((parent, _)) = at.rsplit_once('/') {
                all.push(parent.to_string());
                at = parent;
            }
            all
        })
        .collect();
    for path in before.keys() {
        if after.get(path) != before.get(path) {
            script.push_str(&format!("rm \"{IN_IMAGE}/{path}\"\n"));
        }
    }
    // BTreeSet order puts a parent before its children.
    for new_dir in dirs.difference(&old_dirs) {
        script.push_str(&format!("mkdir \"{IN_IMAGE}/{new_dir}\"\n"));
    }
    for (path, bytes) in &after {
        if before.get(path) != Some(bytes) {
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            script.push_str(&format!("cd \"{IN_IMAGE}/{parent}\"\n"));
            script.push_str(&format!(
                "write \"{}\" \"{name}\"\n",
                dir.join(path).display()
            ));
        }
    }
    debugfs(image, &script);
}

/// The blocks whose bytes differ between two images of one size.
fn changed_blocks(a: &[u8], b: &[u8], block_size: usize) -> Vec<(u64, Vec<u8>)> {
    assert_eq!(a.len(), b.len());
    a.chunks(block_size)
        .zip(b.chunks(block_size))
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (_, y))| (i as u64, y.to_vec()))
        .collect()
}

/// Every file and directory of an image (the whole image, from "/"),
/// read through snapperctl's reader.
fn image_tree(image: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut storage = ImageStorage::open(image, "").expect("open image");
    let mut out = BTreeMap::new();
    let mut todo = vec![String::new()];
    while let Some(dir) = todo.pop() {
        for entry in storage.list_dir(&dir).expect("list") {
            let path = if dir.is_empty() {
                entry.name.clone()
            } else {
                format!("{dir}/{}", entry.name)
            };
            if path == "lost+found" {
                continue;
            }
            match entry.kind {
                EntryKind::Dir => {
                    out.insert(format!("{path}/"), Vec::new());
                    todo.push(path);
                }
                EntryKind::File => {
                    let size = storage.file_size(&path).expect("size");
                    let mut bytes = vec![0; size as usize];
                    let got = storage.read_at(&path, 0, &mut bytes).expect("read");
                    assert_eq!(got as u64, size, "{path}");
                    out.insert(path, bytes);
                }
            }
        }
    }
    out
}

fn fingerprint(bytes: &[u8]) -> u32 {
    snapper_core::format::crc32(&[bytes])
}

/// How the test journal is written.
struct Variant {
    name: &'static str,
    mkfs: &'static [&'static str],
    block_size: usize,
    /// debugfs journal_open options (checksum version).
    open: &'static str,
    /// Whether every transaction checks out. debugfs writes a v1
    /// checksum (`journal_checksum`) over a revoke-only transaction that
    /// the kernel's rule (descriptor and data blocks only) does not
    /// give: e2fsck ends the replay there, and so must snapperctl.
    whole: bool,
}

/// What a variant's images hold.
struct Made {
    _tmp: tempfile::TempDir,
    /// The image with the fourth generation in its journal only.
    killed: PathBuf,
    /// A copy of it after e2fsck -fy.
    fscked: PathBuf,
    /// The snapper root as a directory (four generations).
    dir: PathBuf,
}

fn garbage(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn make(variant: &Variant) -> Made {
    let tmp = tempfile::tempdir().expect("tempdir");
    let content = tmp.path().join("content");
    let dir = content.join("snapper");
    // Archives as files (archive_log: false): the transactions below aim
    // at the blocks of named generations' archives.
    for round in 0..3 {
        take_generation_with(&dir, &versions(round), false);
    }
    let before = common::tree(&dir);
    let killed = tmp.path().join("killed.img");
    mkfs(&killed, variant.mkfs, &content);
    let grown = tmp.path().join("grown.img");
    fs::copy(&killed, &grown).expect("copy");

    // The fourth generation, and a file starting with the jbd2 magic,
    // written in place into the copy.
    take_generation_with(&dir, &versions(3), false);
    sync_into(&grown, &before, &dir);
    let mut escaped = JBD2_MAGIC.to_vec();
    escaped.extend(garbage(7, variant.block_size - 4));
    let escaped_file = tmp.path().join("escaped.bin");
    fs::write(&escaped_file, &escaped).expect("write");
    debugfs(
        &grown,
        &format!("cd /\nwrite \"{}\" escaped.bin\n", escaped_file.display()),
    );

    let old = fs::read(&killed).expect("image");
    let new = fs::read(&grown).expect("image");
    let changed = changed_blocks(&old, &new, variant.block_size);
    assert!(changed.len() > 20, "{} blocks changed", changed.len());

    let names = common::names(&dir);
    // A block of generation 1's archive: written with garbage in one
    // transaction, revoked in the next. Unchanged by the fourth
    // generation, so only the revoke keeps it intact.
    let revoked = blocks_of(&killed, &format!("{IN_IMAGE}/{}/archive", names[0]))[0];
    // A block of generation 2's archive: garbage in a torn transaction.
    let torn = blocks_of(&killed, &format!("{IN_IMAGE}/{}/archive", names[1]))[0];
    // A block of the fourth generation's archive: garbage first, its real
    // content in a later transaction.
    let overwritten = blocks_of(&grown, &format!("{IN_IMAGE}/{}/archive", names[3]))[0];
    let changed_set: BTreeSet<u64> = changed.iter().map(|(b, _)| *b).collect();
    assert!(!changed_set.contains(&revoked) && !changed_set.contains(&torn));
    assert!(changed_set.contains(&overwritten));

    let mut script = format!("jo {}\n", variant.open);
    let mut transaction = |blocks: &[u64], bytes: &[u8], extra: &str| {
        let file = tmp
            .path()
            .join(format!("transaction-{}", script.lines().count()));
        fs::write(&file, bytes).expect("write");
        let list: Vec<String> = blocks.iter().map(u64::to_string).collect();
        script.push_str(&format!(
            "jw {extra} -b {} \"{}\"\n",
            list.join(","),
            file.display()
        ));
    };
    let junk = garbage(0x5A, 2 * variant.block_size);
    transaction(&[revoked, overwritten], &junk, "");
    for chunk in changed.chunks(16) {
        let blocks: Vec<u64> = chunk.iter().map(|(b, _)| *b).collect();
        let bytes: Vec<u8> = chunk.iter().flat_map(|(_, d)| d.clone()).collect();
        transaction(&blocks, &bytes, "");
    }
    // debugfs loses the commit block of a transaction that has both
    // blocks and revoke records: the revoke gets one of its own.
    script.push_str(&format!("jw -r {revoked}\n"));
    let mut transaction = |blocks: &[u64], bytes: &[u8], extra: &str| {
        let file = tmp.path().join("torn");
        fs::write(&file, bytes).expect("write");
        let list: Vec<String> = blocks.iter().map(u64::to_string).collect();
        script.push_str(&format!(
            "jw {extra} -b {} \"{}\"\n",
            list.join(","),
            file.display()
        ));
    };
    transaction(&[torn, overwritten], &junk, "-c");
    script.push_str("jc\n");
    debugfs(&killed, &script);
    assert_eq!(
        snapperctl::e2fs::needs_recovery(&killed),
        Some(true),
        "{}: debugfs did not leave the journal needing recovery",
        variant.name
    );
    // The fourth generation is in the journal only.
    assert!(!fs::read(&killed)
        .expect("image")
        .windows(16)
        .any(|w| w == &escaped[..16]));

    let fscked = tmp.path().join("fscked.img");
    fsck_copy(&killed, &fscked);
    Made {
        _tmp: tmp,
        killed,
        fscked,
        dir,
    }
}

/// Runs a `--json` command on the root inside `image`: exit code and
/// document (scrubbed of what differs between roots).
fn answer(image: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["--in-image", IN_IMAGE];
    all.extend_from_slice(args);
    all.push("--json");
    let (code, stdout, stderr) = run(image, &all);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: bad JSON ({e}): {stdout}\n{stderr}"));
    (code, scrub(value))
}

fn same_answers_as_after_e2fsck(variant: &Variant) {
    let made = make(variant);
    let image_before = fs::read(&made.killed).expect("image");
    let checksum_before = fingerprint(&image_before);

    for args in [
        &["list"][..],
        &["verify"],
        &["du"],
        &["show", "latest"],
        &["show", "2"],
        &["gc", "--dry-run"],
        &["purge", "2", "--dry-run"],
    ] {
        let replayed = answer(&made.killed, args);
        let fscked = answer(&made.fscked, args);
        assert_eq!(replayed, fscked, "{}: {args:?} differs", variant.name);
        if variant.whole {
            // And what the engine wrote into the directory.
            let mut with_json = args.to_vec();
            with_json.push("--json");
            let (code, stdout, _) = run(&made.dir, &with_json);
            let from_dir = (code, scrub(serde_json::from_str(&stdout).expect("json")));
            assert_eq!(replayed, from_dir, "{}: {args:?} differs", variant.name);
        }
    }
    let listed = answer(&made.killed, &["list"]).1;
    let generations = listed["generations"].as_array().expect("generations");
    assert_eq!(generations.len(), 4, "{}", variant.name);
    // Generation 1 is intact only where the revoke was replayed.
    let valid = generations
        .iter()
        .filter(|g| g["status"] == "valid")
        .count();
    assert_eq!(valid, if variant.whole { 4 } else { 3 }, "{listed}");

    // Restore the journal-only generation whole, from both.
    let tmp = tempfile::tempdir().expect("tempdir");
    for (image, out) in [(&made.killed, "replayed"), (&made.fscked, "fscked")] {
        let out = tmp.path().join(out);
        let report = answer(
            image,
            &[
                "restore",
                "latest",
                "--all",
                "-o",
                out.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(report.0, 0, "{report:?}");
        assert_eq!(report.1["restored"], OBJECTS);
        for (id, version) in versions(3).iter().enumerate() {
            let name = format!("{id:016x}");
            assert_eq!(
                fs::read(out.join(&name)).expect("restored"),
                payload(id as u64, *version),
                "{}: object {id}",
                variant.name
            );
        }
    }

    // Every file of the image, byte for byte, the escaped block included.
    let replayed = image_tree(&made.killed);
    let fscked = image_tree(&made.fscked);
    assert_eq!(
        replayed.keys().collect::<Vec<_>>(),
        fscked.keys().collect::<Vec<_>>()
    );
    assert!(replayed == fscked, "{}: file contents differ", variant.name);
    assert_eq!(
        replayed["escaped.bin"].get(..4),
        Some(&JBD2_MAGIC[..]),
        "{}",
        variant.name
    );

    // What was replayed, and what was left out.
    let (_, summary) = recovered::load(&made.killed).expect("load");
    let summary = summary.expect("a replay");
    assert!(summary.torn_tail, "{summary:?}");
    assert_eq!(summary.bad_checksums, 0, "{summary:?}");
    let (_, _, stderr) = run(&made.killed, &["--in-image", IN_IMAGE, "list"]);
    assert!(
        stderr.contains("replayed in memory") && stderr.contains("uncommitted"),
        "{stderr}"
    );
    if variant.whole {
        // The revoked block's one copy; the overwritten block's first
        // copy is replaced, not revoked.
        assert_eq!(summary.revoked, 1, "{summary:?}");
        assert!(stderr.contains("revoked"), "{stderr}");
    }

    // Writing commands refuse: debugfs would write beside the journal.
    for args in [
        &["--in-image", IN_IMAGE, "gc", "--write-image"][..],
        &["--in-image", IN_IMAGE, "purge", "2", "--write-image"],
    ] {
        let (code, _, stderr) = run(&made.killed, args);
        assert_eq!(code, 5, "{args:?}: {stderr}");
        assert!(
            stderr.contains("journal needs recovery") && stderr.contains("e2fsck"),
            "{stderr}"
        );
    }
    let image_after = fs::read(&made.killed).expect("image");
    assert_eq!(fingerprint(&image_after), checksum_before);
    assert!(
        image_after == image_before,
        "{}: the image changed",
        variant.name
    );
}

/// As the Genode scenario makes its image, and as lwext4 journals.
const NO_CHECKSUMS: Variant = Variant {
    name: "1 KiB blocks, no checksums",
    mkfs: &["-O", "^metadata_csum", "-b", "1024"],
    block_size: 1024,
    open: "",
    whole: true,
};

const CSUM_V3: Variant = Variant {
    name: "4 KiB blocks, metadata_csum, journal csum v3",
    mkfs: &["-O", "metadata_csum", "-b", "4096"],
    block_size: 4096,
    open: "-c -v 3",
    whole: true,
};

/// 32-bit block numbers in 10-byte tags.
const CSUM_V2: Variant = Variant {
    name: "1 KiB blocks, no 64bit, journal csum v2",
    mkfs: &["-O", "metadata_csum,^64bit", "-b", "1024"],
    block_size: 1024,
    open: "-c -v 2",
    whole: true,
};

const CSUM_V1: Variant = Variant {
    name: "1 KiB blocks, journal_checksum (v1)",
    mkfs: &["-O", "^metadata_csum", "-b", "1024"],
    block_size: 1024,
    open: "-c",
    whole: false,
};

#[test]
fn a_journal_without_checksums_replays_as_e2fsck_replays_it() {
    if have_e2fsprogs("a_journal_without_checksums_replays_as_e2fsck_replays_it") {
        same_answers_as_after_e2fsck(&NO_CHECKSUMS);
    }
}

#[test]
fn a_journal_with_csum_v3_replays_as_e2fsck_replays_it() {
    if have_e2fsprogs("a_journal_with_csum_v3_replays_as_e2fsck_replays_it") {
        same_answers_as_after_e2fsck(&CSUM_V3);
    }
}

#[test]
fn a_journal_with_csum_v2_replays_as_e2fsck_replays_it() {
    if have_e2fsprogs("a_journal_with_csum_v2_replays_as_e2fsck_replays_it") {
        same_answers_as_after_e2fsck(&CSUM_V2);
    }
}

#[test]
fn a_journal_with_v1_checksums_ends_where_e2fsck_ends_it() {
    if have_e2fsprogs("a_journal_with_v1_checksums_ends_where_e2fsck_ends_it") {
        same_answers_as_after_e2fsck(&CSUM_V1);
    }
}

/// Reads every file of an image through snapperctl's reader, stopping at
/// the first error (damage may make any read fail; none may panic).
fn try_read_all(image: &Path) -> Result<usize, String> {
    let mut storage = ImageStorage::open(image, "")?;
    let mut todo = vec![String::new()];
    let mut files = 0;
    while let Some(dir) = todo.pop() {
        for entry in storage.list_dir(&dir).map_err(|e| format!("{e:?}"))? {
            let path = if dir.is_empty() {
                entry.name.clone()
            } else {
                format!("{dir}/{}", entry.name)
            };
            match entry.kind {
                EntryKind::Dir => todo.push(path),
                EntryKind::File => {
                    let size = storage.file_size(&path).map_err(|e| format!("{e:?}"))?;
                    let mut bytes = vec![0; size.min(1 << 24) as usize];
                    storage
                        .read_at(&path, 0, &mut bytes)
                        .map_err(|e| format!("{e:?}"))?;
                    files += 1;
                }
            }
        }
    }
    Ok(files)
}

fn put_be32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// A damaged journal is an error that says which kind (corrupt, or the
/// image could not be read), never a panic, and never a view of half a
/// replay.
#[test]
fn a_damaged_journal_gives_an_error_never_a_panic() {
    if !have_e2fsprogs("a_damaged_journal_gives_an_error_never_a_panic") {
        return;
    }
    for variant in [NO_CHECKSUMS, CSUM_V3] {
        let made = make(&variant);
        let bs = variant.block_size;
        let clean = fs::read(&made.killed).expect("image");
        let journal = blocks_of(&made.killed, "<8>");
        let at = |log_block: usize| journal[log_block] as usize * bs;
        let damaged = made.killed.with_file_name("damaged.img");
        let load = |bytes: &[u8]| {
            fs::write(&damaged, bytes).expect("write");
            recovered::load(&damaged).map(|(_, summary)| summary)
        };

        // The journal superblock without its magic.
        let mut bytes = clean.clone();
        put_be32(&mut bytes, at(0), 0);
        let result = load(&bytes);
        assert!(
            matches!(result, Err(OpenError::Journal(JournalError::Corrupt(_)))),
            "{}: {result:?}",
            variant.name
        );
        let (code, _, stderr) = run(&damaged, &["list"]);
        assert_eq!(code, 3, "{stderr}");
        assert!(
            stderr.contains("corrupt journal") && stderr.contains("e2fsck -fy"),
            "{stderr}"
        );

        // A committed transaction that writes beyond the file system: the
        // first tag of the first descriptor (log block 1, as debugfs
        // starts the log there).
        let mut bytes = clean.clone();
        assert_eq!(&bytes[at(1)..at(1) + 4], &[0xC0, 0x3B, 0x39, 0x98]);
        put_be32(&mut bytes, at(1) + 12, 0xFFFF_FFF0);
        if variant.open.contains("-v 3") {
            // Keep the descriptor's own checksum out of the way: the
            // block number, not the checksum, is what is tested here.
            let seed = snapperctl::checksum::crc32c(!0, &bytes[at(0) + 0x30..at(0) + 0x40]);
            let end = at(1) + bs;
            bytes[end - 4..end].fill(0);
            let sum = snapperctl::checksum::crc32c(seed, &bytes[at(1)..end]);
            put_be32(&mut bytes, end - 4, sum);
        }
        let result = load(&bytes);
        assert!(
            matches!(&result, Err(OpenError::Journal(JournalError::Corrupt(what))) if what.contains("beyond")),
            "{}: {result:?}",
            variant.name
        );

        // The image cut short inside the log: an I/O error, not damage.
        let log_end = journal[1..].iter().min().expect("log") * bs as u64;
        let result = load(&clean[..log_end as usize]);
        assert!(
            matches!(result, Err(OpenError::Journal(JournalError::Io(_)))),
            "{}: {result:?}",
            variant.name
        );

        // Random damage in the used part of the journal.
        let (_, summary) = recovered::load(&made.killed).expect("clean load");
        let used = summary.expect("replay").blocks + 40;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut outcomes = BTreeMap::new();
        for _ in 0..100 {
            let mut bytes = clean.clone();
            for _ in 0..1 + next() % 4 {
                let block = (next() as usize) % used.min(journal.len());
                let offset = at(block) + (next() as usize) % 64.min(bs);
                bytes[offset] ^= 1 << (next() % 8);
            }
            fs::write(&damaged, &bytes).expect("write");
            let outcome = match try_read_all(&damaged) {
                Ok(_) => "read".to_string(),
                Err(e) => e.split(':').take(3).collect::<Vec<_>>().join(":"),
            };
            *outcomes.entry(outcome).or_insert(0u32) += 1;
        }
        eprintln!(
            "{}: outcomes of random journal damage: {outcomes:?}",
            variant.name
        );
        assert!(outcomes.len() > 1, "{outcomes:?}");
    }
}

/// With metadata checksums, the superblock ext4-view is shown must carry
/// a checksum of its own bytes once `needs_recovery` is cleared in it
/// (here the journal is empty and holds no copy of the superblock).
#[test]
fn a_flagged_image_with_metadata_checksums_reads_through_a_fresh_superblock_checksum() {
    if !have_e2fsprogs(
        "a_flagged_image_with_metadata_checksums_reads_through_a_fresh_superblock_checksum",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let content = tmp.path().join("content");
    take_generation(&content.join("snapper"), &versions(0));
    let image = tmp.path().join("flagged.img");
    mkfs(&image, CSUM_V3.mkfs, &content);
    let clean = answer(&image, &["verify"]);
    assert_eq!(clean.0, 0, "{clean:?}");
    // debugfs renews the superblock checksum with the flag set.
    debugfs(&image, "feature needs_recovery\n");
    assert_eq!(snapperctl::e2fs::needs_recovery(&image), Some(true));
    let before = fs::read(&image).expect("image");
    assert_eq!(answer(&image, &["verify"]), clean);
    assert!(fs::read(&image).expect("image") == before);
}

fn get_be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// The same journal with its log turned round its ring, so that it
/// starts `before_end` blocks before the end of the journal and wraps to
/// its first block: every log block moves, `s_start` with them (and the
/// journal superblock's checksum, where it has one).
fn wrap_log(image: &mut [u8], journal: &[u64], bs: usize, before_end: usize) {
    let at = |log_block: usize| journal[log_block] as usize * bs;
    let jsb = at(0);
    let maxlen = get_be32(image, jsb + 0x10) as usize;
    let first = get_be32(image, jsb + 0x14) as usize;
    let start = get_be32(image, jsb + 0x1C) as usize;
    assert_eq!((first, start), (1, 1), "debugfs starts the log at block 1");
    let len = maxlen - first;
    let shift = len - before_end;
    let old: Vec<Vec<u8>> = (first..maxlen)
        .map(|i| image[at(i)..at(i) + bs].to_vec())
        .collect();
    for (k, block) in old.iter().enumerate() {
        let to = first + (k + shift) % len;
        image[at(to)..at(to) + bs].copy_from_slice(block);
    }
    put_be32(image, jsb + 0x1C, (first + shift) as u32);
    // csum v2/v3: s_checksum over the 1024 bytes with itself zeroed.
    let incompat = get_be32(image, jsb + 0x28);
    if get_be32(image, jsb + 4) == 4 && incompat & 0x18 != 0 {
        image[jsb + 0xFC..jsb + 0x100].fill(0);
        let sum = snapperctl::checksum::crc32c(!0, &image[jsb..jsb + 1024]);
        put_be32(image, jsb + 0xFC, sum);
    }
}

/// A log that runs past the end of the journal and on from its first
/// block, as a journal in long use has it.
#[test]
fn a_log_that_wraps_replays_as_e2fsck_replays_it() {
    if !have_e2fsprogs("a_log_that_wraps_replays_as_e2fsck_replays_it") {
        return;
    }
    for variant in [NO_CHECKSUMS, CSUM_V3] {
        let made = make(&variant);
        let journal = blocks_of(&made.killed, "<8>");
        let mut bytes = fs::read(&made.killed).expect("image");
        wrap_log(&mut bytes, &journal, variant.block_size, 7);
        let wrapped = made.killed.with_file_name("wrapped.img");
        fs::write(&wrapped, &bytes).expect("write");
        let fscked = made.killed.with_file_name("wrapped-fscked.img");
        fsck_copy(&wrapped, &fscked);
        for args in [&["list"][..], &["verify"], &["show", "latest"]] {
            assert_eq!(
                answer(&wrapped, args),
                answer(&fscked, args),
                "{}: {args:?}",
                variant.name
            );
        }
        assert!(
            image_tree(&wrapped) == image_tree(&fscked),
            "{}",
            variant.name
        );
        // The same as before the turn: four generations, all valid.
        let listed = answer(&wrapped, &["list"]).1;
        let generations = listed["generations"].as_array().expect("generations");
        assert_eq!(generations.len(), 4, "{listed}");
        assert!(
            generations.iter().all(|g| g["status"] == "valid"),
            "{listed}"
        );
        let (_, summary) = recovered::load(&wrapped).expect("load");
        let (_, unturned) = recovered::load(&made.killed).expect("load");
        let (summary, unturned) = (summary.expect("replay"), unturned.expect("replay"));
        assert_eq!(summary.transactions, unturned.transactions);
        assert_eq!(summary.blocks, unturned.blocks);
    }
}
