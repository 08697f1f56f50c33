//! Shared by the snapperctl tests: a snapper root written by the engine
//! itself (snapper-core over snapper_host::DirStorage), images made by
//! mkfs.ext4, and a runner for the binary.
#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use snapper_core::{archive_log, layout, Config, Level, ObjectId, Platform, Snapper};
use snapper_host::DirStorage;

/// Objects per generation, payload bytes, generations.
pub const OBJECTS: u64 = 64;
pub const SIZE: usize = 4096;
pub const GENERATIONS: u32 = 4;

/// A fixed clock, one second per call, and no log output.
pub struct TestPlatform(pub u64);

impl Platform for TestPlatform {
    fn now(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
    fn log(&mut self, _level: Level, _message: fmt::Arguments<'_>) {}
}

/// Content of object `id` at `version`, reproducible.
pub fn payload(id: u64, version: u32) -> Vec<u8> {
    snapper_testkit::payload::payload(id, version, SIZE)
}

/// Which version each object has in generation `round` (0-based): a
/// quarter of the objects change each round, object 0 never does.
pub fn versions(round: u32) -> Vec<u32> {
    let mut versions = vec![0u32; OBJECTS as usize];
    for r in 1..=round {
        for (id, version) in versions.iter_mut().enumerate() {
            if id != 0 && (id as u32 + r).is_multiple_of(4) {
                *version = r;
            }
        }
    }
    versions
}

/// Payload bytes per pack in the test roots: four objects.
pub const PACK_SIZE: u64 = 4 * SIZE as u64;

fn config() -> Config {
    Config {
        threshold: 4,
        redundancy: 2,
        pack_size: PACK_SIZE,
        ..Config::default()
    }
}

/// Takes one more generation into `root`: object `id` at `versions[id]`.
pub fn take_generation(root: &Path, versions: &[u32]) {
    take_generation_with(root, versions, true);
}

/// [`take_generation`] with the archive in the archive log
/// (`archive_log`, the default) or as a `<gen>/archive` file.
pub fn take_generation_with(root: &Path, versions: &[u32], archive_log: bool) {
    let storage = DirStorage::open(root).expect("root");
    let config = Config {
        archive_log,
        ..config()
    };
    let mut snapper = Snapper::open(storage, TestPlatform(1_795_600_000), config).expect("open");
    snapper.init_snapshot().expect("init");
    for (id, version) in versions.iter().enumerate() {
        snapper
            .take_snapshot(ObjectId(id as u64), &payload(id as u64, *version))
            .expect("take");
    }
    snapper.commit_snapshot().expect("commit");
}

/// Writes GENERATIONS generations into `root` through the engine.
/// pack_size of four objects gives a generation 16 packs, and threshold=4
/// a pack trie two levels deep; redundancy=2 makes the third generation
/// write fresh copies of the objects unchanged since the first.
pub fn build_root(root: &Path) {
    build_root_with(root, true);
}

/// [`build_root`] with the archives in the archive log (`archive_log`,
/// the default) or as `<gen>/archive` files.
pub fn build_root_with(root: &Path, archive_log: bool) {
    let config = Config {
        archive_log,
        ..config()
    };
    let storage = DirStorage::open(root).expect("root");
    let mut snapper =
        Snapper::open(storage, TestPlatform(1_795_545_149), config).expect("open root");
    for round in 0..GENERATIONS {
        snapper.init_snapshot().expect("init");
        for (id, version) in versions(round).iter().enumerate() {
            snapper
                .take_snapshot(ObjectId(id as u64), &payload(id as u64, *version))
                .expect("take");
        }
        snapper.commit_snapshot().expect("commit");
    }
}

/// mkfs.ext4, where Debian keeps it too; a clear failure when absent.
pub fn mkfs() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join("mkfs.ext4"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "mkfs.ext4 not found: the image tests need e2fsprogs \
                 (Debian/Ubuntu: apt-get install -y e2fsprogs)"
            )
        })
}

/// An ext4 image holding a copy of `dir`, made as the Genode scenario makes
/// its image (mkfs.ext4 -O ^metadata_csum), populated with -d (no root, no
/// mount needed).
pub fn image_of(dir: &Path, image: &Path) {
    image_of_with(dir, image, &[]);
}

/// [`image_of`] with more options for mkfs.ext4 (`-b 4096`, ...).
pub fn image_of_with(dir: &Path, image: &Path, options: &[&str]) {
    let out = Command::new(mkfs())
        .args(["-q", "-F", "-O", "^metadata_csum"])
        .args(options)
        .arg("-d")
        .arg(dir)
        .arg(image)
        .arg("32M")
        .output()
        .expect("run mkfs.ext4");
    assert!(
        out.status.success(),
        "mkfs.ext4 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs snapperctl with `args`.
pub fn ctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snapperctl"))
        .args(args)
        .env_remove("SNAPPER_ROOT")
        .output()
        .expect("run snapperctl")
}

/// Runs snapperctl on `root` and returns (exit code, stdout, stderr).
pub fn run(root: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--root", root.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = ctl(&all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a `--json` command and parses its output; `expect_code` is checked.
pub fn json(root: &Path, args: &[&str], expect_code: i32) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, stdout, stderr) = run(root, &all);
    assert_eq!(
        code, expect_code,
        "{args:?}: stdout {stdout}\nstderr {stderr}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: bad JSON ({e}): {stdout}"))
}

/// Removes fields that legitimately differ between two runs or two roots.
pub fn scrub(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("root");
                map.remove("age_seconds");
                map.remove("directory");
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// One stored copy, as `show --json` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copy {
    pub generation: u64,
    pub path: String,
    pub offset: u64,
    pub length: u64,
}

/// The copies of object `id` in generation `generation`, newest first,
/// from `show --json`.
pub fn copies(root: &Path, generation: &str, id: u64) -> Vec<Copy> {
    objects(root, generation)
        .into_iter()
        .find(|(object, _)| *object == id)
        .expect("object listed")
        .1
}

/// Every object of a generation with its copies, from `show --json`.
pub fn objects(root: &Path, generation: &str) -> Vec<(u64, Vec<Copy>)> {
    let shown = json(root, &["show", generation], 0);
    shown["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            let copies = o["copies"]
                .as_array()
                .expect("copies")
                .iter()
                .map(|c| Copy {
                    generation: c["generation"].as_u64().expect("generation"),
                    path: c["path"].as_str().expect("path").to_string(),
                    offset: c["offset"].as_u64().expect("offset"),
                    length: c["length"].as_u64().expect("length"),
                })
                .collect();
            (o["id"].as_u64().expect("id"), copies)
        })
        .collect()
}

/// Every file below `dir`, relative to it, with its length.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .expect("below")
                    .to_string_lossy()
                    .into_owned();
                out.insert(relative, std::fs::read(&path).expect("read"));
            }
        }
    }
    out
}

/// The names of the generations, oldest first.
pub fn names(root: &Path) -> Vec<String> {
    json(root, &["list"], 0)["generations"]
        .as_array()
        .expect("generations")
        .iter()
        .map(|g| g["name"].as_str().expect("name").to_string())
        .collect()
}

/// Where generation `generation`'s archive lies: its file, the offset of
/// the archive's first byte in it and its length. A committed record of the
/// archive log (the archive starts after the record's header), or
/// `<gen>/archive`.
pub fn archive_at(root: &Path, generation: u32) -> (PathBuf, u64, u64) {
    let log = root.join(layout::ARCHIVE_LOG);
    if let Ok(bytes) = std::fs::read(&log) {
        for found in archive_log::classify(&bytes).expect("a log this build reads") {
            if let archive_log::Found::Committed {
                extent,
                archive_len,
                archive,
                ..
            } = found
            {
                if archive.generation.0 == generation {
                    let at = extent.offset() + archive_log::RECORD_HEADER_LEN as u64;
                    return (log, at, u64::from(archive_len));
                }
            }
        }
    }
    let suffix = format!("-{generation:08}");
    let dir = std::fs::read_dir(root)
        .expect("root")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(&suffix))
        .unwrap_or_else(|| panic!("no archive of generation {generation}"));
    let file = dir.join(layout::ARCHIVE);
    let len = std::fs::metadata(&file).expect("archive file").len();
    (file, 0, len)
}

/// Flips bit 4 of byte `at` of generation `generation`'s archive, wherever
/// it lies (see [`archive_at`]); `at` past its end takes its last byte.
pub fn damage_archive(root: &Path, generation: u32, at: u64) {
    let (path, start, len) = archive_at(root, generation);
    let mut bytes = std::fs::read(&path).expect("read");
    let at = (start + at.min(len - 1)) as usize;
    bytes[at] ^= 0x10;
    std::fs::write(&path, bytes).expect("write");
}

/// Leaves in `root`'s archive log the record of a commit of generation
/// `generation` cut short (see `snapper_testkit::torn`); returns its extent
/// and the log's bytes with it.
pub fn tear_record(root: &Path, generation: u32) -> (archive_log::Extent, Vec<u8>) {
    let path = root.join(layout::ARCHIVE_LOG);
    let mut log = std::fs::read(&path).expect("archive log");
    let extent = snapper_testkit::torn::tear_record(&mut log, snapper_core::Generation(generation))
        .expect("room for a torn record");
    std::fs::write(&path, &log).expect("write the archive log");
    (extent, log)
}

/// `log` as gc leaves it once the torn record at `extent` is cleared: its
/// header and the archive's zeroed, nothing else.
pub fn cleared(mut log: Vec<u8>, extent: archive_log::Extent) -> Vec<u8> {
    let at = extent.offset() as usize;
    log[at..at + archive_log::RETIRE_LEN].fill(0);
    log
}
