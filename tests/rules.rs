//! One test per rule of the engine (issue: "Tests that prove each rule"),
//! on format 2: rules about files are rules about packs and the payloads
//! in them. tests/packs.rs holds the pack engine's own rules (dedup,
//! copy-forward, read-ahead, the format-1 refusal); these are the session's.

mod common;

use std::collections::BTreeSet;

use common::{empty_dirs, files, payload, Counting, TempDir, TestPlatform};
use snapper_core::archive_log::{self, Extent};
use snapper_core::layout;
use snapper_core::storage::MemNode;
use snapper_core::{
    Config, Error, Generation, GenerationStatus, InitOutcome, Level, Location, MemStorage,
    ObjectId, Snapper, State, Storage,
};
use snapper_testkit::image::{referenced_files, unreferenced_files};

type MemSnapper = Snapper<MemStorage, TestPlatform>;

const T0: u64 = 1_795_545_149;

fn config() -> Config {
    Config {
        threshold: 4,
        pack_size: 4096,
        ..Config::default()
    }
}

fn open(storage: MemStorage, config: Config) -> (MemSnapper, TestPlatform) {
    let platform = TestPlatform::at(T0);
    (
        Snapper::open(storage, platform.clone(), config).unwrap(),
        platform,
    )
}

/// Takes a generation where object `id` has content version `versions[id]`.
fn snapshot<S: Storage>(snapper: &mut Snapper<S, TestPlatform>, versions: &[u32], len: usize) {
    snapper.init_snapshot().unwrap();
    for (id, version) in versions.iter().enumerate() {
        snapper
            .take_snapshot(ObjectId(id as u64), &payload(id as u64, *version, len))
            .unwrap();
    }
    snapper.commit_snapshot().unwrap();
}

fn restore_all<S: Storage>(
    snapper: &mut Snapper<S, TestPlatform>,
    name: Option<&str>,
    versions: &[u32],
    len: usize,
) {
    snapper.open_generation(name).unwrap();
    let mut buf = vec![0u8; len + 7];
    for (id, version) in versions.iter().enumerate() {
        assert_eq!(
            snapper.restore(ObjectId(id as u64), &mut buf),
            Ok(len),
            "object {id}"
        );
        assert_eq!(
            &buf[..len],
            &payload(id as u64, *version, len)[..],
            "object {id}"
        );
        assert!(
            buf[len..].iter().all(|b| *b == 0),
            "the rest of the buffer is zeroed"
        );
    }
    snapper.close_generation().unwrap();
}

fn valid_names<S: Storage>(snapper: &Snapper<S, TestPlatform>) -> Vec<String> {
    snapper
        .generations()
        .into_iter()
        .filter(|g| g.status == GenerationStatus::Valid)
        .map(|g| g.name)
        .collect()
}

fn newest_valid<S: Storage>(snapper: &Snapper<S, TestPlatform>) -> Generation {
    snapper
        .generations()
        .into_iter()
        .rfind(|g| g.status == GenerationStatus::Valid)
        .unwrap()
        .generation
}

/// Every pack file path of a memory storage.
fn pack_files(storage: &MemStorage) -> Vec<String> {
    files(storage)
        .into_iter()
        .filter(|p| p.contains("/pack/"))
        .collect()
}

/// How many packs a generation writes for stored payloads of `sizes`,
/// taken in order: a pack is written when the next payload would take a
/// non-empty pack past pack_size, and at commit.
fn packs_for(sizes: &[u64], pack_size: u64) -> u64 {
    let (mut packs, mut fill) = (0, None::<u64>);
    for size in sizes {
        fill = match fill {
            Some(bytes) if bytes + size > pack_size => {
                packs += 1;
                Some(*size)
            }
            Some(bytes) => Some(bytes + size),
            None => Some(*size),
        };
    }
    packs + u64::from(fill.is_some())
}

fn byte_flip(snapper: &mut MemSnapper, path: &str, at: usize) {
    match snapper.storage_mut().nodes_mut().get_mut(path) {
        Some(MemNode::File(bytes)) => bytes[at] ^= 0x40,
        other => panic!("{path}: {other:?}"),
    }
}

#[test]
fn unchanged_generation_costs_no_per_object_io() {
    for objects in [10usize, 1000] {
        let platform = TestPlatform::at(T0);
        let mut snapper =
            Snapper::open(Counting::new(MemStorage::new()), platform, config()).unwrap();
        let versions = vec![0u32; objects];
        snapshot(&mut snapper, &versions, 64);
        snapper.storage_mut().reset();
        snapshot(&mut snapper, &versions, 64);
        let storage = snapper.storage();
        // With the archive log: no directory (it only comes with a pack),
        // no new file; the record written in place into the log and
        // synced, its seal written and synced: the same for 10 and 1000
        // objects, and no pack.
        assert_eq!(storage.count("write_new_file"), 0, "{:?}", storage.calls);
        assert_eq!(storage.count("create_dir"), 0, "{:?}", storage.calls);
        assert_eq!(storage.count("write_at"), 2, "{:?}", storage.calls);
        assert_eq!(storage.count("sync"), 2);
        assert_eq!(storage.count("rename"), 0);
        assert_eq!(
            storage.count("read_at") + storage.count("file_size") + storage.count("list_dir"),
            0
        );
        let stats = snapper.last_snapshot_stats();
        assert_eq!((stats.payloads_written, stats.packs_written), (0, 0));
        // About 40 bytes of archive per object (id, size, digest, one copy);
        // written: the record (header, archive, zeros to its last block's
        // end) and the 4-byte seal.
        let record = Extent::blocks_for(stats.archive_bytes as usize) * archive_log::BLOCK;
        assert_eq!(record + 4, storage.bytes_written);
        assert!(
            stats.archive_bytes < 45 * objects as u64 + 200,
            "archive of {} bytes",
            stats.archive_bytes
        );
    }
}

#[test]
fn new_and_changed_objects_cost_one_pack_write_per_pack_size_and_only_they() {
    let platform = TestPlatform::at(T0);
    let mut snapper = Snapper::open(Counting::new(MemStorage::new()), platform, config()).unwrap();
    let mut versions = vec![0u32; 50];
    snapshot(&mut snapper, &versions, 100);
    let stats = snapper.last_snapshot_stats();
    // 5000 bytes in 4 KiB packs: 2 packs (ceil(5000 / 4096)), and the
    // archive log made with the first record.
    assert_eq!((stats.payloads_written, stats.packs_written), (50, 2));
    assert_eq!(snapper.storage().count("write_new_file"), 3);
    versions[3] = 1;
    versions[47] = 1;
    snapper.storage_mut().reset();
    snapshot(&mut snapper, &versions, 100);
    let stats = snapper.last_snapshot_stats();
    assert_eq!((stats.payloads_written, stats.packs_written), (2, 1));
    // The pack; the record goes into the existing log (record and seal).
    assert_eq!(snapper.storage().count("write_new_file"), 1);
    assert_eq!(snapper.storage().count("write_at"), 2);
    assert_eq!(snapper.storage().count("read_at"), 0);
    // A payload of another length with equal leading bytes is a change too.
    snapper.init_snapshot().unwrap();
    snapper
        .take_snapshot(ObjectId(0), &payload(0, 0, 99))
        .unwrap();
    snapper.commit_snapshot().unwrap();
    assert_eq!(snapper.last_snapshot_stats().payloads_written, 1);

    // Many objects of assorted sizes: the packs a greedy fill gives, which
    // is ceil(bytes / pack_size) up to the slack of the last payload of
    // each pack.
    for pack_size in [4096u64, 64 << 10] {
        let config = Config {
            pack_size,
            ..config()
        };
        let mut snapper = Snapper::open(
            Counting::new(MemStorage::new()),
            TestPlatform::at(T0),
            config,
        )
        .unwrap();
        let sizes: Vec<u64> = (0..1000u64)
            .map(|i| [4096, 100, 1500, 0][i as usize % 4])
            .collect();
        snapper.init_snapshot().unwrap();
        for (id, size) in sizes.iter().enumerate() {
            snapper
                .take_snapshot(ObjectId(id as u64), &payload(id as u64, 0, *size as usize))
                .unwrap();
        }
        snapper.commit_snapshot().unwrap();
        let stats = snapper.last_snapshot_stats();
        let bytes: u64 = sizes.iter().sum();
        // Empty payloads are equal content: only the first is stored.
        let stored: Vec<u64> = sizes
            .iter()
            .enumerate()
            .filter(|(i, size)| **size > 0 || *i == 3)
            .map(|(_, size)| *size)
            .collect();
        assert_eq!(stats.payloads_written, stored.len() as u64);
        let expected = packs_for(&stored, pack_size);
        assert_eq!(stats.packs_written, expected, "pack_size {pack_size}");
        assert!(expected >= bytes.div_ceil(pack_size));
        assert!(expected <= bytes.div_ceil(pack_size) * 2 + 1);
        assert_eq!(snapper.storage().count("write_new_file"), expected + 1);
        // The packs before the record, the record, its seal: three syncs
        // for the whole generation, none per pack.
        assert_eq!(snapper.storage().count("sync"), 3, "no sync per pack");
        // Every pack holds at most pack_size payload bytes (no payload is
        // larger here).
        for (path, node) in snapper.storage().inner.nodes() {
            if let MemNode::File(bytes) = node {
                if path.contains("/pack/") {
                    let (trailer, _, damaged) = snapper_core::pack::check(bytes).unwrap();
                    assert!(u64::from(trailer.index_offset) <= pack_size, "{path}");
                    assert_eq!(damaged, 0);
                }
            }
        }
    }
}

#[test]
fn a_redundant_copy_appears_once_a_payload_serves_redundancy_generations_within_a_budget() {
    for redundancy in [1u32, 2, 3, 5] {
        let (mut snapper, _) = open(
            MemStorage::new(),
            Config {
                redundancy,
                ..config()
            },
        );
        let versions = vec![0u32; 3];
        snapshot(&mut snapper, &versions, 16);
        let first: Location = snapper.archive(Generation(1)).unwrap().entries[0]
            .copies
            .newest()
            .location();
        // At most ceil(objects / redundancy) copies per generation.
        let budget = 3u64.div_ceil(u64::from(redundancy));
        for generation in 2..=redundancy + 1 {
            let uses_before = snapper.references(first);
            snapshot(&mut snapper, &versions, 16);
            let written = snapper.last_snapshot_stats().redundant_copies;
            // The new archive uses the first copy too (kept behind a new one).
            assert_eq!(snapper.references(first), uses_before + 1);
            if generation <= redundancy {
                assert_eq!(
                    written, 0,
                    "redundancy {redundancy}: generation {generation} copied early"
                );
            } else {
                assert_eq!(uses_before, redundancy);
                assert_eq!(
                    written,
                    budget.min(3),
                    "redundancy {redundancy}: generation {generation} copies within its budget"
                );
            }
        }
        // Within ceil(objects / budget) generations every object has a copy
        // of its own besides the first.
        for _ in 1..3u64.div_ceil(budget) {
            snapshot(&mut snapper, &versions, 16);
        }
        let newest = newest_valid(&snapper);
        let archive = snapper.archive(newest).unwrap();
        assert!(
            archive.entries.iter().all(|e| e.copies.len() >= 2),
            "redundancy {redundancy}: {:?}",
            archive.entries
        );
        restore_all(&mut snapper, None, &versions, 16);
    }
    // 0 switches copies off.
    let (mut snapper, _) = open(
        MemStorage::new(),
        Config {
            redundancy: 0,
            ..config()
        },
    );
    for _ in 0..8 {
        snapshot(&mut snapper, &[0, 0], 16);
        assert_eq!(
            snapper.last_snapshot_stats().payloads_written,
            u64::from(snapper.generations().len() == 1) * 2
        );
    }
}

#[test]
fn restore_falls_back_to_a_redundant_copy_and_never_returns_bad_bytes() {
    let (mut snapper, platform) = open(
        MemStorage::new(),
        Config {
            redundancy: 1,
            ..config()
        },
    );
    snapshot(&mut snapper, &[0, 0], 64);
    snapshot(&mut snapper, &[0, 0], 64);
    let archive = snapper.archive(Generation(2)).unwrap();
    let copies: Vec<_> = archive.entries[0].copies.iter().copied().collect();
    assert_eq!(copies.len(), 2, "{copies:?}");
    // Damage the newest copy of object 0 (in generation 2's pack).
    let newest = snapper.pack_path(copies[0].pack_ref()).unwrap();
    let last = (copies[0].offset + copies[0].length - 1) as usize;
    byte_flip(&mut snapper, &newest, last);
    snapper.open_generation(None).unwrap();
    let mut buf = vec![0xEE; 64];
    assert_eq!(snapper.restore(ObjectId(0), &mut buf), Ok(64));
    assert_eq!(buf, payload(0, 0, 64));
    assert!(platform.logged(Level::Warning, "damaged"));
    snapper.close_generation().unwrap();
    // Garbage in place of the older pack too: nothing intact is left.
    let older = snapper.pack_path(copies[1].pack_ref()).unwrap();
    snapper
        .storage_mut()
        .nodes_mut()
        .insert(older, MemNode::File(b"garbage".to_vec()));
    snapper.open_generation(None).unwrap();
    let mut buf = vec![0xEE; 64];
    assert_eq!(
        snapper.restore(ObjectId(0), &mut buf),
        Err(Error::IntegrityFailed)
    );
    assert!(
        buf.iter().all(|b| *b == 0),
        "no byte of a damaged copy reaches the client"
    );
    assert_eq!(
        snapper.restore(ObjectId(1), &mut buf),
        Ok(64),
        "other objects of the same pack are unaffected"
    );
    assert_eq!(buf, payload(1, 0, 64));
}

#[test]
fn purge_deletes_exactly_the_packs_no_valid_archive_uses_and_empty_directories() {
    let (mut snapper, _) = open(
        MemStorage::new(),
        Config {
            redundancy: 2,
            ..config()
        },
    );
    let mut versions = vec![0u32; 30];
    for round in 0..5u32 {
        for (id, version) in versions.iter_mut().enumerate() {
            if (id as u32 + round).is_multiple_of(4) {
                *version = round;
            }
        }
        snapshot(&mut snapper, &versions, 200);
    }
    let latest = versions.clone();
    let mut partly_used_kept = false;
    while valid_names(&snapper).len() > 1 {
        snapper.purge(None).unwrap();
        let storage = snapper.storage();
        let present: BTreeSet<String> = files(storage).into_iter().collect();
        assert_eq!(
            present,
            referenced_files(storage),
            "files left must be exactly the valid archives and the packs they use"
        );
        assert_eq!(empty_dirs(storage), Vec::<String>::new());
        // A pack some of whose payloads are still used stays whole.
        partly_used_kept |= snapper
            .pack_usage()
            .iter()
            .any(|u| u.payload_bytes.is_some_and(|b| u.live_bytes < b));
    }
    assert!(partly_used_kept, "no purge left a partly used pack");
    restore_all(&mut snapper, None, &latest, 200);
    snapper.purge(None).unwrap();
    only_an_empty_log_left(snapper.storage());
}

#[test]
fn retention_by_count_keeps_the_newest() {
    let (mut snapper, _) = open(
        MemStorage::new(),
        Config {
            max_snapshots: 3,
            ..config()
        },
    );
    let mut names = Vec::new();
    for round in 0..6u32 {
        snapshot(&mut snapper, &[round, 0, 1], 8);
        names.push(valid_names(&snapper).pop().unwrap());
        assert!(valid_names(&snapper).len() <= 3);
        assert!(unreferenced_files(snapper.storage()).is_empty());
    }
    assert_eq!(valid_names(&snapper), names[3..].to_vec());
    restore_all(&mut snapper, Some(&names[3]), &[3, 0, 1], 8);
}

#[test]
fn retention_by_age_spares_the_floor_and_the_newest() {
    let (mut snapper, platform) = open(
        MemStorage::new(),
        Config {
            expiration: 100,
            min_snapshots: 2,
            ..config()
        },
    );
    for (at, version) in [(T0, 0u32), (T0 + 50, 1), (T0 + 60, 2), (T0 + 200, 3)] {
        platform.clock.set(at);
        snapshot(&mut snapper, &[version], 8);
    }
    // At T0+200: T0 and T0+50 are older than 100 s and go; T0+60 is older
    // too, but min_snapshots=2 keeps it.
    let created: Vec<u64> = snapper
        .generations()
        .into_iter()
        .filter(|g| g.status == GenerationStatus::Valid)
        .map(|g| g.created)
        .collect();
    assert_eq!(created, vec![T0 + 60, T0 + 200]);
    assert!(unreferenced_files(snapper.storage()).is_empty());

    let (mut snapper, platform) = open(
        MemStorage::new(),
        Config {
            expiration: 10,
            ..config()
        },
    );
    snapshot(&mut snapper, &[0], 8);
    platform.clock.set(T0 + 10_000);
    snapper.purge_expired().unwrap();
    assert_eq!(
        valid_names(&snapper).len(),
        1,
        "the newest generation never expires"
    );
}

#[test]
fn min_snapshots_floor_denies_a_purge() {
    let (mut snapper, platform) = open(
        MemStorage::new(),
        Config {
            min_snapshots: 2,
            ..config()
        },
    );
    snapshot(&mut snapper, &[0], 8);
    snapshot(&mut snapper, &[1], 8);
    assert_eq!(snapper.purge(None), Err(Error::PurgeDenied));
    assert!(platform.logged(Level::Error, "min_snapshots"));
    assert_eq!(valid_names(&snapper).len(), 2);
    snapshot(&mut snapper, &[2], 8);
    assert_eq!(snapper.purge(None), Ok(()));
    assert_eq!(snapper.purge(None), Err(Error::PurgeDenied));
}

/// Where generation `name`'s archive is: its `archive` file, or its record
/// in the archive log (the archive starts 32 bytes into the record).
fn archive_at(storage: &MemStorage, name: &str) -> (String, usize) {
    let file = format!("{name}/archive");
    if storage.nodes().contains_key(&file) {
        return (file, 0);
    }
    let Some(MemNode::File(log)) = storage.nodes().get(layout::ARCHIVE_LOG) else {
        panic!("{name}: no archive file and no archive log");
    };
    let extent = archive_log::classify(log)
        .unwrap()
        .into_iter()
        .find_map(|found| match found {
            archive_log::Found::Committed {
                extent, archive, ..
            } if archive.name == name => Some(extent),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{name}: no record in the archive log"));
    (
        layout::ARCHIVE_LOG.to_string(),
        extent.offset() as usize + archive_log::RECORD_HEADER_LEN,
    )
}

/// The records of the archive log that name `generation`, whatever state.
fn records_of(storage: &MemStorage, generation: Generation) -> usize {
    let Some(MemNode::File(log)) = storage.nodes().get(layout::ARCHIVE_LOG) else {
        return 0;
    };
    archive_log::classify(log)
        .unwrap()
        .iter()
        .filter(|found| match found {
            archive_log::Found::Committed { archive, .. } => archive.generation == generation,
            archive_log::Found::Damaged { generation: g, .. }
            | archive_log::Found::Torn { generation: g, .. } => *g == generation,
        })
        .count()
}

/// Nothing left but the archive log, and no record in it.
fn only_an_empty_log_left(storage: &MemStorage) {
    let left: Vec<&String> = storage.nodes().keys().collect();
    assert_eq!(left, [layout::ARCHIVE_LOG], "{left:?}");
    let Some(MemNode::File(log)) = storage.nodes().get(layout::ARCHIVE_LOG) else {
        panic!("the archive log is not a file");
    };
    assert!(archive_log::classify(log).unwrap().is_empty());
}

/// Flips a bit in the latest generation's archive (20 bytes in, a field of
/// its header the CRC covers), in its file or its record of the log.
fn damage_latest_archive(snapper: &mut MemSnapper) -> String {
    let name = valid_names(snapper).pop().unwrap();
    let (path, at) = archive_at(snapper.storage(), &name);
    byte_flip(snapper, &path, at + 20);
    name
}

#[test]
fn integrity_yes_fails_hard_on_a_damaged_latest_generation() {
    let (mut snapper, _) = open(MemStorage::new(), config());
    snapshot(&mut snapper, &[0, 0], 8);
    snapshot(&mut snapper, &[1, 1], 8);
    let damaged = damage_latest_archive(&mut snapper);
    let (mut snapper, platform) = open(snapper.into_storage(), config());
    assert_eq!(snapper.open_generation(None), Err(Error::IntegrityFailed));
    assert!(platform.logged(Level::Error, "integrity=yes"));
    assert_eq!(snapper.state(), State::Dormant);
    assert_eq!(
        snapper.open_generation(Some(&damaged)),
        Err(Error::IntegrityFailed)
    );
    // The older generation is still there when asked for by name.
    let older = valid_names(&snapper)[0].clone();
    restore_all(&mut snapper, Some(&older), &[0, 0], 8);
    // purge_zombies keeps the damaged generation, its packs included, for
    // inspection.
    let before: Vec<String> = files(snapper.storage())
        .into_iter()
        .filter(|f| f.starts_with(&damaged))
        .collect();
    assert!(before.iter().any(|f| f.contains("/pack/")), "{before:?}");
    assert_eq!(snapper.purge_zombies(), Err(Error::IntegrityFailed));
    for file in before {
        assert!(snapper.storage().nodes().contains_key(&file), "{file} gone");
    }
}

#[test]
fn integrity_no_logs_and_goes_on() {
    let lax = Config {
        integrity: false,
        ..config()
    };
    let (mut snapper, _) = open(MemStorage::new(), lax);
    snapshot(&mut snapper, &[0, 0], 8);
    snapshot(&mut snapper, &[1, 1], 8);
    let damaged = damage_latest_archive(&mut snapper);
    let (mut snapper, platform) = open(snapper.into_storage(), lax);
    restore_all(&mut snapper, None, &[0, 0], 8);
    assert!(platform.logged(Level::Warning, "damaged"));
    let number = snapper
        .generations()
        .into_iter()
        .find(|g| g.name == damaged)
        .map(|g| g.generation)
        .unwrap();
    assert_eq!(records_of(snapper.storage(), number), 1);
    assert_eq!(snapper.purge_zombies(), Ok(()));
    assert!(
        !snapper
            .storage()
            .nodes()
            .keys()
            .any(|k| k.starts_with(&damaged)),
        "damaged generation deleted"
    );
    assert_eq!(
        records_of(snapper.storage(), number),
        0,
        "its record retired"
    );
    // The intact generation and its packs survived.
    restore_all(&mut snapper, None, &[0, 0], 8);
}

#[test]
fn single_objects_restore_from_an_older_generation() {
    let (mut snapper, _) = open(MemStorage::new(), config());
    let old = vec![0u32; 20];
    snapshot(&mut snapper, &old, 48);
    let mut new = old.clone();
    new[5] = 9;
    new[19] = 9;
    snapshot(&mut snapper, &new, 48);
    let older = valid_names(&snapper)[0].clone();
    snapper.open_generation(Some(&older)).unwrap();
    let mut buf = vec![0u8; 48];
    for id in [5u64, 19, 7] {
        assert_eq!(snapper.restore(ObjectId(id), &mut buf), Ok(48));
        assert_eq!(buf, payload(id, 0, 48));
    }
    assert_eq!(
        snapper.restore(ObjectId(20), &mut buf),
        Err(Error::NoMatches)
    );
    snapper.close_generation().unwrap();
    restore_all(&mut snapper, None, &new, 48);
}

#[test]
fn restart_finds_committed_generations_and_drops_an_uncommitted_one() {
    let dir = TempDir::new("restart");
    let versions = vec![0u32; 40];
    {
        let storage = snapper_host::DirStorage::open(dir.path()).unwrap();
        let mut snapper = Snapper::open(storage, TestPlatform::at(T0), config()).unwrap();
        snapshot(&mut snapper, &versions, 256);
        snapshot(&mut snapper, &versions, 256);
        // A third generation that never commits: the manager goes away
        // after its first packs were written.
        snapper.init_snapshot().unwrap();
        for id in 0..40u64 {
            snapper
                .take_snapshot(ObjectId(id), &payload(id, 7, 256))
                .unwrap();
        }
    }
    let storage = snapper_host::DirStorage::open(dir.path()).unwrap();
    let mut snapper = Snapper::open(storage, TestPlatform::at(T0 + 1), config()).unwrap();
    let gens = snapper.generations();
    assert_eq!(
        gens.iter()
            .filter(|g| g.status == GenerationStatus::Valid)
            .count(),
        2
    );
    assert_eq!(
        gens.last().map(|g| g.status),
        Some(GenerationStatus::NoArchive)
    );
    let uncommitted = gens.last().unwrap().name.clone();
    assert!(
        dir.path().join(&uncommitted).join("pack/1/0").is_file(),
        "the uncommitted generation wrote a pack"
    );
    restore_all(&mut snapper, None, &versions, 256);
    assert!(matches!(
        snapper.init_snapshot(),
        Ok(InitOutcome::Based(Generation(2)))
    ));
    assert!(
        !dir.path().join(&uncommitted).exists(),
        "the uncommitted generation is dropped"
    );
    for id in 0..40u64 {
        snapper
            .take_snapshot(ObjectId(id), &payload(id, 0, 256))
            .unwrap();
    }
    snapper.commit_snapshot().unwrap();
    assert_eq!(snapper.last_snapshot_stats().payloads_written, 0);
    let newest = snapper.generations().pop().unwrap();
    assert_eq!(
        newest.generation,
        Generation(4),
        "generation numbers are never reused"
    );
    restore_all(&mut snapper, None, &versions, 256);
}

#[test]
fn names_are_unique_and_sorted_without_waiting_even_if_the_clock_goes_back() {
    let (mut snapper, platform) = open(MemStorage::new(), config());
    for step in 0..5u64 {
        // Same second three times, then the clock jumps back an hour.
        platform.clock.set(if step < 3 { T0 } else { T0 - 3600 });
        snapshot(&mut snapper, &[step as u32], 8);
    }
    let names = valid_names(&snapper);
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 5);
}

#[test]
fn ids_zero_and_max_and_empty_payloads_round_trip() {
    let (mut snapper, _) = open(MemStorage::new(), config());
    snapper.init_snapshot().unwrap();
    snapper.take_snapshot(ObjectId(0), b"zero").unwrap();
    snapper.take_snapshot(ObjectId(u64::MAX), b"max").unwrap();
    snapper.take_snapshot(ObjectId(1), b"").unwrap();
    snapper.take_snapshot(ObjectId(2), b"").unwrap();
    snapper.commit_snapshot().unwrap();
    snapper.open_generation(None).unwrap();
    let mut buf = [9u8; 8];
    assert_eq!(snapper.restore(ObjectId(0), &mut buf), Ok(4));
    assert_eq!(&buf[..4], b"zero");
    assert_eq!(snapper.restore(ObjectId(u64::MAX), &mut buf), Ok(3));
    assert_eq!(&buf[..3], b"max");
    for id in [1, 2] {
        buf = [9u8; 8];
        assert_eq!(snapper.restore(ObjectId(id), &mut buf), Ok(0));
        assert_eq!(buf, [0; 8]);
    }
}

#[test]
fn payload_sizes_up_to_bufsize_are_accepted_and_beyond_refused() {
    let small = Config {
        bufsize: 1024,
        ..config()
    };
    let (mut snapper, platform) = open(MemStorage::new(), small);
    snapper.init_snapshot().unwrap();
    snapper
        .take_snapshot(ObjectId(1), &vec![1u8; 1024])
        .unwrap();
    assert_eq!(
        snapper.take_snapshot(ObjectId(2), &vec![2u8; 1025]),
        Err(Error::PayloadTooLarge)
    );
    assert!(platform.logged(Level::Error, "exceeds bufsize"));
    snapper.commit_snapshot().unwrap();
    snapper.open_generation(None).unwrap();
    let mut short = vec![0u8; 1023];
    assert_eq!(
        snapper.restore(ObjectId(1), &mut short),
        Err(Error::BufferTooSmall)
    );
    assert_eq!(
        snapper.restore(ObjectId(2), &mut short),
        Err(Error::NoMatches)
    );
}

/// A later take of the same id wins; the payload of the earlier one stays
/// in its pack unused, and a pack that holds nothing used any more is
/// deleted by the next sweep (the next init_snapshot).
#[test]
fn a_later_duplicate_id_wins_and_a_pack_left_unused_is_deleted() {
    let (mut snapper, _) = open(MemStorage::new(), config());
    snapper.init_snapshot().unwrap();
    snapper.take_snapshot(ObjectId(7), &[1u8; 3000]).unwrap();
    // Fills the first pack: it is written holding only the first take.
    snapper.take_snapshot(ObjectId(7), &[2u8; 3000]).unwrap();
    // Two takes of one id inside one pack.
    snapper.take_snapshot(ObjectId(8), b"first").unwrap();
    snapper.take_snapshot(ObjectId(8), b"second").unwrap();
    snapper.commit_snapshot().unwrap();
    assert_eq!(snapper.last_snapshot_stats().packs_written, 2);
    snapper.open_generation(None).unwrap();
    let mut buf = [0u8; 3000];
    assert_eq!(snapper.restore(ObjectId(7), &mut buf), Ok(3000));
    assert_eq!(buf, [2u8; 3000]);
    assert_eq!(snapper.restore(ObjectId(8), &mut buf), Ok(6));
    assert_eq!(&buf[..6], b"second");
    snapper.close_generation().unwrap();
    let name = valid_names(&snapper).pop().unwrap();
    let first_pack = format!("{name}/pack/1/0");
    assert_eq!(
        snapper.unused_files().unwrap(),
        vec![first_pack.clone()],
        "only the pack of the first take is unused"
    );
    assert_eq!(unreferenced_files(snapper.storage()), [first_pack].into());
    // The second pack keeps the unused "first" bytes: 3000 + 5 + 6 payload
    // bytes, 3006 of them live.
    let usage = snapper.pack_usage();
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (usage[0].payload_bytes, usage[0].live_bytes),
        (Some(3011), 3006)
    );
    snapper.init_snapshot().unwrap();
    assert!(unreferenced_files(snapper.storage())
        .iter()
        .all(|f| !f.starts_with(&name)));
    snapper.abort();
    let storage = snapper.storage();
    assert_eq!(
        files(storage).into_iter().collect::<BTreeSet<_>>(),
        referenced_files(storage)
    );
}

/// An aborted generation leaves nothing behind, the packs it wrote while
/// taking objects included, and its number is not used again.
#[test]
fn an_aborted_generation_leaves_nothing_and_its_number_is_not_reused() {
    let (mut snapper, _) = open(MemStorage::new(), config());
    snapshot(&mut snapper, &[0, 0], 100);
    let before = snapper.storage().clone();
    snapper.init_snapshot().unwrap();
    for id in 0..3u64 {
        snapper
            .take_snapshot(ObjectId(10 + id), &payload(id, 1, 3000))
            .unwrap();
    }
    assert_eq!(
        pack_files(snapper.storage()).len(),
        3,
        "two packs of the aborted generation were written"
    );
    snapper.abort();
    assert_eq!(snapper.state(), State::Dormant);
    assert!(
        snapper.storage() == &before,
        "left behind: {:?}",
        unreferenced_files(snapper.storage())
    );
    snapshot(&mut snapper, &[1, 1], 100);
    assert_eq!(newest_valid(&snapper), Generation(3));
    restore_all(&mut snapper, None, &[1, 1], 100);
}

/// A commit cut short leaves an unsealed record whose archive does not
/// check out: the engine reports it (`torn_records`, read-only) and
/// purge_zombies zeroes its header and the archive's, nothing else.
#[test]
fn a_record_of_a_commit_cut_short_is_reported_then_cleared_by_purge_zombies() {
    let (mut snapper, _) = open(MemStorage::new(), config());
    snapshot(&mut snapper, &[0, 0], 100);
    snapshot(&mut snapper, &[1, 1], 100);
    let mut storage = snapper.into_storage();
    let Some(MemNode::File(log)) = storage.nodes_mut().get_mut(layout::ARCHIVE_LOG) else {
        panic!("no archive log");
    };
    let extent = snapper_testkit::torn::tear_record(log, Generation(3)).unwrap();
    let at = extent.offset() as usize;
    let torn = log.clone();

    let (mut snapper, _) = open(storage, config());
    assert_eq!(records_of(snapper.storage(), Generation(3)), 1, "torn");
    let expected = snapper_core::engine::inspect::TornRecord {
        block: extent.block,
        bytes: extent.blocks * archive_log::BLOCK,
    };
    assert_eq!(snapper.torn_records(), [expected]);
    assert_eq!(
        snapper.storage().nodes().get(layout::ARCHIVE_LOG),
        Some(&MemNode::File(torn.clone())),
        "opening and asking changed the log"
    );
    snapper.purge_zombies().unwrap();
    assert_eq!(snapper.torn_records(), []);
    let Some(MemNode::File(after)) = snapper.storage().nodes().get(layout::ARCHIVE_LOG) else {
        panic!("no archive log");
    };
    let mut cleared = torn;
    cleared[at..at + archive_log::RETIRE_LEN].fill(0);
    assert!(after == &cleared, "only the two headers are zeroed");
    assert_eq!(records_of(snapper.storage(), Generation(3)), 0);
    assert_eq!(valid_names(&snapper).len(), 2);
}

/// Reference counts count archives, not objects: a payload shared by equal
/// objects of one generation counts once for it; the pack holding it goes
/// when the last archive using it is purged, not before.
#[test]
fn a_shared_payload_counts_once_per_archive_and_lives_as_long_as_one_uses_it() {
    let (mut snapper, _) = open(
        MemStorage::new(),
        Config {
            redundancy: 0,
            ..config()
        },
    );
    let zero = vec![0u8; 512];
    for round in 0..3u64 {
        snapper.init_snapshot().unwrap();
        for id in 0..4 {
            snapper.take_snapshot(ObjectId(id), &zero).unwrap();
        }
        snapper
            .take_snapshot(ObjectId(9), &payload(9, round as u32, 100))
            .unwrap();
        snapper.commit_snapshot().unwrap();
        let shared = snapper.archive(newest_valid(&snapper)).unwrap().entries[0]
            .copies
            .newest()
            .location();
        assert_eq!(snapper.references(shared), round as u32 + 1);
    }
    let shared = snapper.archive(Generation(3)).unwrap().entries[0]
        .copies
        .newest()
        .location();
    let path = snapper.pack_path(shared.pack).unwrap();
    snapper.purge(None).unwrap();
    snapper.purge(None).unwrap();
    assert_eq!(snapper.references(shared), 1);
    assert!(snapper.storage().nodes().contains_key(&path));
    snapper.purge(None).unwrap();
    assert_eq!(snapper.references(shared), 0);
    only_an_empty_log_left(snapper.storage());
}

/// A damaged archive kept for repair (integrity=yes) keeps the packs it
/// may use, in older generations too; once repaired, its generation restores.
#[test]
fn integrity_yes_keeps_what_a_damaged_archive_may_use_until_repaired() {
    let strict = Config {
        redundancy: 0,
        ..config()
    };
    let (mut snapper, _) = open(MemStorage::new(), strict);
    for _ in 0..3 {
        snapshot(&mut snapper, &[0, 0, 0], 32);
    }
    snapper.purge(None).unwrap();
    let names = valid_names(&snapper);
    let newest_archive = archive_at(snapper.storage(), &names[1]);
    damage_latest_archive(&mut snapper);
    let (mut snapper, platform) = open(snapper.into_storage(), strict);
    // Only the damaged generation still uses generation 1's pack now.
    snapper.purge(Some(&names[0])).unwrap();
    assert!(platform.logged(Level::Warning, "a damaged archive may use them"));
    assert!(pack_files(snapper.storage())
        .iter()
        .any(|p| p.ends_with("00000001/pack/1/0")));
    assert_eq!(snapper.purge_zombies(), Err(Error::IntegrityFailed));
    snapper.init_snapshot().unwrap();
    snapper.abort();
    // Repair: the flipped bit is flipped back (the archive's bytes come
    // back from a backup).
    let (path, at) = newest_archive;
    byte_flip(&mut snapper, &path, at + 20);
    let (mut snapper, _) = open(snapper.into_storage(), strict);
    restore_all(&mut snapper, Some(&names[1]), &[0, 0, 0], 32);

    // With integrity=no the same pack goes as garbage.
    let lax = Config {
        integrity: false,
        ..strict
    };
    let (mut snapper, _) = open(MemStorage::new(), lax);
    for _ in 0..3 {
        snapshot(&mut snapper, &[0, 0, 0], 32);
    }
    snapper.purge(None).unwrap();
    let names = valid_names(&snapper);
    damage_latest_archive(&mut snapper);
    let (mut snapper, _) = open(snapper.into_storage(), lax);
    snapper.purge(Some(&names[0])).unwrap();
    snapper.purge_zombies().unwrap();
    only_an_empty_log_left(snapper.storage());
}
