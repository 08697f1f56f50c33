//! The crash and fault sweeps through the Genode component's storage path:
//! the engine over `snapper::VfsStorage` (below a root directory, as the
//! component's `root` attribute puts it) over the `sg_vfs_*` C ABI, here
//! its host implementation (`genode_host`, `snapper_session::host`), over the sweeps'
//! CrashStorage and FaultStorage. What lies between the engine and the VFS
//! (path building, the read loop of `read_file`, the mapping of errors
//! both ways across the ABI) is swept like the engine itself.
//!
//! The host ABI keeps its component per thread: each mount installs a
//! fresh one in the test's thread, so the tests run in parallel. Shorter
//! than tests/crash_sweep.rs and tests/faults.rs, whose workloads these
//! repeat over the other path: `SNAPPER_VFS_WORKLOADS` (default 16) random
//! workloads swept for power cuts, `SNAPPER_VFS_FAULT_WORKLOADS` (default
//! 4) for faults, `SNAPPER_CRASH_SEED`.

mod common;

use common::payload;
use genode::vfs::Vfs;
use genode_host as host;
use snapper::VfsStorage;
use snapper_core::{Config, DirEntry, Storage, StorageError};
use snapper_testkit::env_count;
use snapper_testkit::fault_sweep::{self, sweep_faults};
use snapper_testkit::sweep::{self, snapshot, sweep_mounted, Figures, Step, Workload, T0};
use snapper_testkit::{Mount, Shared};

/// The component's `root`: the engine's paths cross the ABI below it.
const ROOT: &str = "snapper";

/// The engine over VfsStorage over the host ABI over the sweep's storage.
struct Genode;

impl Mount for Genode {
    type Storage = VfsStorage;
    fn mount(&self, storage: Shared<dyn Storage + Send>) -> VfsStorage {
        host::install_storage("<config/>", Box::new(Below::new(storage)));
        let vfs = Vfs::init().expect("the host VFS on an installed storage");
        VfsStorage::new(vfs, ROOT).expect("VfsStorage below its root")
    }
}

/// The VFS as the component sees it, [`ROOT`] holding the snapper root,
/// over the sweep's storage, which holds the snapper root at its own root
/// (the sweeps' checks read it there). A path outside `ROOT` is a bug of
/// the path building: it fails and is recorded.
struct Below {
    inner: Shared<dyn Storage + Send>,
    /// Until the engine's first call: VfsStorage::new's create_dir of the
    /// root (there already) and its sync reach nothing, so that a sweep's
    /// first cut point is the engine's, as without the mount.
    mounting: bool,
}

impl Below {
    fn new(inner: Shared<dyn Storage + Send>) -> Self {
        Below {
            inner,
            mounting: true,
        }
    }

    fn path<'a>(&mut self, path: &'a str) -> Result<&'a str, StorageError> {
        self.mounting = false;
        match path.strip_prefix(ROOT) {
            Some("") => Ok(""),
            Some(rest) => match rest.strip_prefix('/') {
                Some(inside) if !inside.is_empty() => Ok(inside),
                _ => Err(outside(path)),
            },
            None => Err(outside(path)),
        }
    }
}

fn outside(path: &str) -> StorageError {
    eprintln!("VfsStorage named {path:?}, outside its root {ROOT:?}");
    StorageError::Io
}

impl Storage for Below {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        if self.mounting && path == ROOT {
            return Err(StorageError::AlreadyExists);
        }
        let path = self.path(path)?;
        self.inner.create_dir(path)
    }
    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        let path = self.path(path)?;
        self.inner.write_new_file(path, parts)
    }
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        let path = self.path(path)?;
        self.inner.write_at(path, offset, parts)
    }
    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        let path = self.path(path)?;
        self.inner.read_at(path, offset, buf)
    }
    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        let path = self.path(path)?;
        self.inner.file_size(path)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        let path = self.path(path)?;
        self.inner.list_dir(path)
    }
    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        let path = self.path(path)?;
        self.inner.remove(path)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        let (from, to) = (self.path(from)?, self.path(to)?);
        self.inner.rename(from, to)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        if self.mounting {
            return Ok(());
        }
        self.inner.sync()
    }
}

fn report(what: &str, figures: &Figures) {
    eprintln!(
        "vfs crash sweep {what:<24} cuts {:>5}  outcomes {:>6}  nested cuts {:>5}  outcomes {:>6}  violations {}\n  cut points: {:?}\n  snapshots: {:?}",
        figures.cuts,
        figures.outcomes,
        figures.nested_cuts,
        figures.nested_outcomes,
        figures.violations.len(),
        figures.coverage,
        figures.stats
    );
    assert!(
        figures.violations.is_empty(),
        "{what}: {} violations, first ones:\n{}",
        figures.violations.len(),
        figures.violations[..figures.violations.len().min(10)].join("\n")
    );
}

/// Packs and objects above VfsStorage's first read (16 KiB), so that
/// reading a whole pack (verify_generation) takes its second read, and a
/// restore reads a 20 KB payload; a second cut swept through the recovery
/// of some outcomes of each first cut.
#[test]
fn power_cuts_through_the_vfs_with_large_packs() {
    // With the archive log (the default), then with archive files, whose
    // commit point is a rename.
    large_packs(
        true,
        &[
            "pack write at commit",
            "archive record write (commit point)",
            "archive seal or unseal",
            "archive retire by purge",
            "pack delete by purge",
        ],
    );
    large_packs(
        false,
        &[
            "pack write at commit",
            "archive rename (commit point)",
            "pack delete by purge",
        ],
    );
}

fn large_packs(archive_log: bool, kinds: &[&str]) {
    let config = Config {
        threshold: 2,
        redundancy: 1,
        pack_size: 64 * 1024,
        archive_log,
        ..Config::default()
    };
    let objects = |version: u32| -> Vec<(u64, Vec<u8>)> {
        (0..6u64)
            .map(|id| {
                let len = [0, 20_000, 9_000, 64, 5_000, 1][id as usize];
                let version = if id % 2 == 0 { version } else { 0 };
                (id, payload(id, version, len))
            })
            .collect()
    };
    let workload = Workload {
        name: "large packs",
        config,
        start: T0,
        setup: snapshot(&objects(0)),
        steps: [
            snapshot(&objects(1)),
            vec![Step::Restore(0, vec![1, 2]), Step::PurgeNewest],
        ]
        .concat(),
    };
    let seed = env_count("SNAPPER_CRASH_SEED", 0x5eed);
    let figures = sweep_mounted(&Genode, &workload, 1, seed, Some(1));
    report("large packs", &figures);
    assert!(figures.cuts > 0 && figures.nested_cuts > 0);
    for kind in kinds {
        assert!(
            figures.covered(kind) > 0,
            "{kind} (archive_log {archive_log}): {:?}",
            figures.coverage
        );
    }
}

/// The random workloads of tests/crash_random.rs (snapshots with changed,
/// hinted, zero-page, dropped and repeated objects, aborts, purges,
/// retention, purge_zombies, restores), fewer of them.
#[test]
fn power_cuts_through_the_vfs_in_random_workloads() {
    let count = env_count("SNAPPER_VFS_WORKLOADS", 16);
    let seed = env_count("SNAPPER_CRASH_SEED", 0x5eed);
    let total = sweep::sweep_random_workloads(&Genode, count, seed, 1);
    report(&format!("{count} random workloads"), &total);
    assert!(total.cuts > 0);
}

/// 4 KiB packs, redundancy 2: a snapshot writes packs mid-take and at
/// commit, and redundant copies, some read back from the packs.
fn fault_config() -> Config {
    Config {
        threshold: 2,
        redundancy: 2,
        pack_size: 4096,
        ..Config::default()
    }
}

fn objects(version: u32) -> Vec<(u64, Vec<u8>)> {
    (0..6u64)
        .map(|id| {
            let version = if id % 2 == 0 { version } else { 0 };
            (
                id,
                payload(id, version, [0, 5, 1800, 3000][id as usize % 4]),
            )
        })
        .collect()
}

fn two_generations() -> Vec<Step> {
    [snapshot(&objects(0)), snapshot(&objects(1))].concat()
}

/// Every operation of a snapshot (changed objects, two hinted unchanged,
/// redundant copies) fails in turn, once, for good or after the fact, with
/// an I/O error or a full disk, with an abort or a restart after it.
#[test]
fn faults_through_the_vfs_during_a_snapshot() {
    let mut steps = snapshot(&objects(2));
    for step in steps.iter_mut() {
        if let Step::Take(id @ (1 | 5), _) = step {
            *step = Step::TakeUnchanged(*id);
        }
    }
    let figures = sweep_faults(
        &Genode,
        "vfs snapshot",
        fault_config(),
        &two_generations(),
        &steps,
        true,
    );
    figures.assert_clean();
    figures.assert_failed(&fault_sweep::SNAPSHOT_OPS);
}

/// Every operation of restores and purges fails in turn.
#[test]
fn faults_through_the_vfs_during_restores_and_purges() {
    let figures = sweep_faults(
        &Genode,
        "vfs restore, purges",
        fault_config(),
        &[two_generations(), snapshot(&objects(3))].concat(),
        &[
            Step::Restore(0, (0..6).collect()),
            Step::Purge(None),
            Step::PurgeNewest,
        ],
        true,
    );
    figures.assert_clean();
    figures.assert_failed(&[
        "archive read",
        "pack read",
        "other removal",
        "pack removal",
        "sync",
    ]);
}

/// Faults at every operation of random workloads (tests/faults.rs has more).
#[test]
fn faults_through_the_vfs_in_random_workloads() {
    let count = env_count("SNAPPER_VFS_FAULT_WORKLOADS", 4);
    let seed = env_count("SNAPPER_CRASH_SEED", 0x5eed);
    let figures = fault_sweep::sweep_random_workloads(&Genode, count, seed);
    let (runs, injected, violations) = (figures.runs, figures.injected, figures.violations);
    eprintln!(
        "vfs faults {count} random workloads: runs {runs}  injected {injected}  violations {}",
        violations.len()
    );
    assert!(runs > 0);
    assert!(
        violations.is_empty(),
        "{} violations, first ones:\n{}",
        violations.len(),
        violations[..violations.len().min(10)].join("\n")
    );
}
