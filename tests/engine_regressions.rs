//! Engine bugs the crash, fault and corruption harness found in format 2,
//! each pinned by a minimal test that failed before its fix: an empty
//! payload hiding the next one from the reference counts, a bit flip in
//! one archive's version locking out the whole root, a directory in place
//! of a pack answering as an I/O error, and a read error while reloading
//! the base after a purge leaving the manager without one.

mod common;

use common::TestPlatform;
use snapper_core::storage::MemNode;
use snapper_core::{archive_log, layout};
use snapper_core::{
    Config, Generation, GenerationStatus, InitOutcome, MemStorage, ObjectId, Snapper, StorageError,
};
use snapper_testkit::{Fault, FaultStorage};

const T0: u64 = 1_795_545_149;

/// An empty payload and the payload after it start at the same offset of
/// a pack, so they share a `Location` (pack, offset), which the catalog
/// takes for one payload: the archive uses two, the manager counts one,
/// of length 0. Live bytes are then under-counted, the pack looks sparse
/// (0 of 3000 bytes used), and the next, unchanged, generation copies both
/// objects forward: two payloads and a pack written where the rule says
/// none. Found by the crash sweeps' reference count check
/// (`check_refcounts`: "the manager holds ... live_bytes: 1800,
/// live_payloads: 2, the archives give 2 live payloads of 1801 bytes").
#[test]

fn an_empty_payload_does_not_hide_the_next_one_from_the_reference_counts() {
    let config = Config {
        redundancy: 0,
        ..Config::default()
    };
    let mut snapper = Snapper::open(MemStorage::new(), TestPlatform::at(T0), config).unwrap();
    for _ in 0..2 {
        snapper.init_snapshot().unwrap();
        snapper.take_snapshot(ObjectId(1), b"").unwrap();
        snapper.take_snapshot(ObjectId(2), &[7u8; 3000]).unwrap();
        snapper.commit_snapshot().unwrap();
    }
    assert_eq!(
        snapper.last_snapshot_stats().payloads_written,
        0,
        "an unchanged generation writes no payload"
    );
    let usage = snapper.pack_usage();
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(
        (usage[0].live_payloads, usage[0].live_bytes),
        (2, 3000),
        "both payloads of the pack are used"
    );
}

fn two_generations() -> Snapper<MemStorage, TestPlatform> {
    two_generations_with(Config::default())
}

fn two_generations_with(config: Config) -> Snapper<MemStorage, TestPlatform> {
    let mut snapper = Snapper::open(MemStorage::new(), TestPlatform::at(T0), config).unwrap();
    for version in 0..2u8 {
        snapper.init_snapshot().unwrap();
        snapper.take_snapshot(ObjectId(1), &[version; 100]).unwrap();
        snapper.commit_snapshot().unwrap();
    }
    snapper
}

/// One bit flipped in the version field of one archive (2 -> 0) makes the
/// start take the whole root for a format-1 root (`version < 2`), and
/// refuse it: no generation can be restored, the intact ones included,
/// until the archive is repaired or removed by hand. A damaged archive
/// should invalidate its own generation only (as a flip to 3 does); a
/// format-1 archive also has a valid CRC, which this one fails. Found by
/// tests/corruption.rs (`Flip(4, 2)` on an archive: "open: invalid
/// version").
#[test]

fn a_bit_flip_in_one_archive_version_does_not_lock_out_the_root() {
    // Archive files: the flip hits generation 1's `archive` file.
    let config = Config {
        archive_log: false,
        ..Config::default()
    };
    let mut storage = two_generations_with(config).into_storage();
    let older = storage
        .nodes()
        .keys()
        .find(|k| k.ends_with("00000001/archive"))
        .cloned()
        .expect("generation 1 has an archive file");
    let Some(MemNode::File(bytes)) = storage.nodes_mut().get_mut(&older) else {
        panic!("{older} is not a file");
    };
    bytes[4] ^= 2;
    only_the_older_generation_is_damaged(storage, config);
}

/// The same flip in generation 1's record of the archive log (its archive
/// starts 32 bytes into the record): the record is sealed, so it is damage
/// after the commit, which invalidates generation 1 only.
#[test]
fn a_bit_flip_in_one_logged_archive_version_does_not_lock_out_the_root() {
    let config = Config::default();
    assert!(config.archive_log);
    let mut storage = two_generations_with(config).into_storage();
    let Some(MemNode::File(log)) = storage.nodes_mut().get_mut(layout::ARCHIVE_LOG) else {
        panic!("no archive log");
    };
    let older = archive_log::classify(log)
        .unwrap()
        .into_iter()
        .find_map(|found| match found {
            archive_log::Found::Committed {
                extent, archive, ..
            } if archive.generation == Generation(1) => Some(extent),
            _ => None,
        })
        .expect("generation 1 has a record");
    log[older.offset() as usize + archive_log::RECORD_HEADER_LEN + 4] ^= 2;
    only_the_older_generation_is_damaged(storage, config);
}

fn only_the_older_generation_is_damaged(storage: MemStorage, config: Config) {
    let mut snapper = Snapper::open(storage, TestPlatform::at(T0), config)
        .expect("the root opens; only the damaged generation is invalid");
    let status: Vec<(Generation, GenerationStatus)> = snapper
        .generations()
        .into_iter()
        .map(|g| (g.generation, g.status))
        .collect();
    assert_eq!(status.len(), 2, "{status:?}");
    assert_eq!(status[0].0, Generation(1));
    assert!(
        matches!(status[0].1, GenerationStatus::Damaged(_)),
        "{status:?}"
    );
    assert_eq!(status[1], (Generation(2), GenerationStatus::Valid));
    snapper.open_generation(None).unwrap();
    let mut buf = [0u8; 100];
    assert_eq!(snapper.restore(ObjectId(1), &mut buf), Ok(100));
    assert_eq!(buf, [1u8; 100]);
}

/// A directory where a pack belongs is damage, not an I/O error: restore
/// answers RestoreFailed (the code of a failed read, which a client may
/// retry) instead of IntegrityFailed, as it does for a pack that is
/// missing, truncated or garbage. Format 1 answered IntegrityFailed for a
/// snapshot file replaced by a directory. Found by tests/corruption.rs
/// (`damaged_directory_structure`, "a pack replaced by a directory").
#[test]

fn a_directory_in_place_of_a_pack_is_damage_not_an_io_error() {
    let mut snapper = two_generations();
    let pack = snapper.pack_usage().last().unwrap().pack;
    let path = snapper.pack_path(pack).unwrap();
    let nodes = snapper.storage_mut().nodes_mut();
    nodes.remove(&path);
    nodes.insert(path, snapper_core::storage::MemNode::Dir);
    snapper.open_generation(None).unwrap();
    let mut buf = [0u8; 100];
    assert_eq!(
        snapper.restore(ObjectId(1), &mut buf),
        Err(snapper_core::Error::IntegrityFailed)
    );
}

/// Purging the newest generation reloads the one before as the base. If
/// reading its archive fails once (a transient I/O error), the manager
/// goes on without a base until the next commit or restart, although the
/// generation is valid: init_snapshot answers NoPriorGen ("no earlier
/// generation", wire code 1), take_unchanged hints are refused with
/// NoMatches, and the next snapshot writes every object again. The
/// unreadable archives of the start are re-read before use
/// (`reread_unreadable`); the base is not. Found by
/// `faults_in_random_workloads` (SNAPPER_FAULT_WORKLOADS=400
/// SNAPPER_CRASH_SEED=3, workload seed 3025: "first answer that differs is
/// Err(NoMatches)").
#[test]
fn a_transient_error_reloading_the_base_does_not_lose_the_base() {
    // Archive files: the reload is the first read of generation 1's file.
    transient_error_reloading_the_base(
        Config {
            archive_log: false,
            ..Config::default()
        },
        |t| t.contains("00000001/archive"),
    );
}

/// The same with the archive log: the reload is the purge's first read of
/// the log (the purge itself only writes and syncs).
#[test]
fn a_transient_error_reloading_a_logged_base_does_not_lose_the_base() {
    transient_error_reloading_the_base(Config::default(), |t| {
        t.starts_with("read_at ") && t.ends_with(layout::ARCHIVE_LOG)
    });
}

fn transient_error_reloading_the_base(config: Config, is_reload: fn(&str) -> bool) {
    let mut snapper = Snapper::open(
        FaultStorage::new(MemStorage::new()),
        TestPlatform::at(T0),
        config,
    )
    .unwrap();
    for version in 0..2u8 {
        snapper.init_snapshot().unwrap();
        snapper.take_snapshot(ObjectId(1), &[version; 100]).unwrap();
        snapper.take_snapshot(ObjectId(2), &[7; 100]).unwrap();
        snapper.commit_snapshot().unwrap();
    }
    let newest = snapper.generations()[1].name.clone();
    // The purge's operations: remove the archive, sync, then the reload of
    // generation 1's archive (its first read) fails once.
    let mut probe = Snapper::open(
        FaultStorage::new(snapper.storage().inner().clone()),
        TestPlatform::at(T0),
        config,
    )
    .unwrap();
    probe.storage_mut().arm(Fault::never());
    probe.purge(Some(&newest)).unwrap();
    let reload = probe
        .storage()
        .trace()
        .iter()
        .position(|t| is_reload(t))
        .expect("the purge reloads generation 1's archive") as u64
        + 1;
    snapper
        .storage_mut()
        .arm(Fault::once(reload, StorageError::Io));
    snapper.purge(Some(&newest)).unwrap();
    assert!(snapper.storage().fired());
    snapper.storage_mut().disarm();
    assert_eq!(
        snapper.init_snapshot(),
        Ok(InitOutcome::Based(Generation(1))),
        "generation 1 is valid and the base"
    );
    assert_eq!(snapper.take_unchanged(ObjectId(2)), Ok(()));
}

/// A file system that removes a file in two steps, as lwext4 does
/// (`ext4_fremove` truncates the file in transactions of its own before
/// the one that unlinks it): the removal of a file is torn by a power cut
/// after the truncation, leaving it empty. Everything else is MemStorage.
struct TornRemove {
    inner: MemStorage,
    armed: bool,
}

impl snapper_core::Storage for TornRemove {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        self.inner.create_dir(path)
    }
    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.inner.write_new_file(path, parts)
    }
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.inner.write_at(path, offset, parts)
    }
    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        self.inner.read_at(path, offset, buf)
    }
    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        self.inner.file_size(path)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<snapper_core::DirEntry>, StorageError> {
        self.inner.list_dir(path)
    }
    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        let is_file = self.inner.file_size(path).is_ok();
        if self.armed && is_file {
            // the truncation reached the disk, the unlink did not: power
            // is cut here, nothing after it happens
            self.inner.remove(path)?;
            self.inner.write_new_file(path, &[])?;
            self.armed = false;
            return Err(StorageError::Io);
        }
        self.inner.remove(path)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        self.inner.rename(from, to)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        self.inner.sync()
    }
}

/// Found by the crash scenario on the real stack (run/snappercrash.run,
/// lwext4): a purge cut while removing the archive left it empty, and the
/// generation came back "damaged (truncated)", neither complete nor gone.
/// The purge now renames the archive away (one transaction) before any
/// removal: a torn removal afterwards leaves only garbage.
#[test]
fn a_purge_torn_inside_a_file_removal_leaves_the_generation_complete_or_gone() {
    // Archive files: the torn removal is the retired archive's; the log's
    // retirement writes in place and removes nothing.
    let config = Config {
        redundancy: 0,
        archive_log: false,
        ..Config::default()
    };
    let storage = TornRemove {
        inner: MemStorage::new(),
        armed: false,
    };
    let mut snapper = Snapper::open(storage, TestPlatform::at(T0), config).unwrap();
    for version in 0..2u8 {
        snapper.init_snapshot().unwrap();
        snapper
            .take_snapshot(ObjectId(1), &[version; 3000])
            .unwrap();
        snapper.commit_snapshot().unwrap();
    }
    let oldest = snapper
        .generations()
        .first()
        .map(|g| g.name.clone())
        .unwrap();
    snapper.storage_mut().armed = true;
    // the cut: whatever purge answers, the machine stops here
    let _ = snapper.purge(Some(&oldest));
    assert!(!snapper.storage().armed, "the purge removed a file");
    let disk = snapper.into_storage();

    let snapper = Snapper::open(disk, TestPlatform::at(T0 + 10), config).unwrap();
    for generation in snapper.generations() {
        assert!(
            matches!(
                generation.status,
                snapper_core::GenerationStatus::Valid | snapper_core::GenerationStatus::NoArchive
            ),
            "after the cut: {} is {:?}",
            generation.name,
            generation.status
        );
    }
    let valid: Vec<String> = snapper
        .generations()
        .into_iter()
        .filter(|g| g.status == snapper_core::GenerationStatus::Valid)
        .map(|g| g.name)
        .collect();
    assert_eq!(valid.len(), 1, "the purged one is gone, the other stays");
    assert!(!valid.contains(&oldest));
}

/// With the archive log, a generation is committed once its record is
/// durable; the seal written after it only tells later damage from a
/// commit cut short. A seal that failed (here the device is gone for good
/// from the seal's write on) made the commit fail and the generation stay
/// open, and its abort could not retire the record: the manager listed one
/// generation fewer than any later start found on the disk. Found by
/// `faults_in_random_workloads` ("I/O error at op 9/13 (write_at archives)
/// for good, abort: the manager lists {Generation(1)}, the disk holds
/// {Generation(1), Generation(2)}").
#[test]
fn a_durable_record_whose_seal_fails_is_committed() {
    let config = Config::default();
    let mut snapper = Snapper::open(
        FaultStorage::new(MemStorage::new()),
        TestPlatform::at(T0),
        config,
    )
    .unwrap();
    snapper.init_snapshot().unwrap();
    snapper.take_snapshot(ObjectId(1), &[1; 100]).unwrap();
    snapper.commit_snapshot().unwrap();
    // The second commit's operations: the record, its sync, the seal.
    let mut probe = Snapper::open(
        FaultStorage::new(snapper.storage().inner().clone()),
        TestPlatform::at(T0),
        config,
    )
    .unwrap();
    probe.storage_mut().arm(Fault::never());
    probe.init_snapshot().unwrap();
    probe.take_snapshot(ObjectId(1), &[2; 100]).unwrap();
    probe.commit_snapshot().unwrap();
    let log_write = format!("write_at {}", layout::ARCHIVE_LOG);
    let writes: Vec<usize> = probe
        .storage()
        .trace()
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == log_write)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(writes.len(), 2, "record and seal");
    let seal = writes[1] as u64 + 1;

    snapper.storage_mut().arm(Fault {
        sticky: true,
        ..Fault::once(seal, StorageError::Io)
    });
    snapper.init_snapshot().unwrap();
    snapper.take_snapshot(ObjectId(1), &[2; 100]).unwrap();
    assert_eq!(
        snapper.commit_snapshot(),
        Err(snapper_core::Error::StorageFailed)
    );
    assert!(snapper.storage().fired());
    let listed: Vec<(Generation, GenerationStatus)> = snapper
        .generations()
        .into_iter()
        .map(|g| (g.generation, g.status))
        .collect();
    snapper.storage_mut().disarm();
    let disk = snapper.storage().inner().clone();
    let mut reopened = Snapper::open(disk, TestPlatform::at(T0), config).unwrap();
    let found: Vec<(Generation, GenerationStatus)> = reopened
        .generations()
        .into_iter()
        .map(|g| (g.generation, g.status))
        .collect();
    assert_eq!(
        listed,
        [
            (Generation(1), GenerationStatus::Valid),
            (Generation(2), GenerationStatus::Valid)
        ]
    );
    assert_eq!(found, listed, "the manager lists what the disk holds");
    reopened.open_generation(None).unwrap();
    let mut buf = [0u8; 100];
    assert_eq!(reopened.restore(ObjectId(1), &mut buf), Ok(100));
    assert_eq!(buf, [2u8; 100]);
}
