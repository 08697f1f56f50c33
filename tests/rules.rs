//! One test per rule of the engine (issue: "Tests that prove each rule").

mod common;

use std::collections::BTreeSet;

use common::{empty_dirs, files, payload, Counting, TempDir, TestPlatform};
use snapper_core::format::Archive;
use snapper_core::storage::MemNode;
use snapper_core::{
    Config, Error, FileNumber, FileRef, Generation, GenerationStatus, InitOutcome, Level,
    MemStorage, ObjectId, Snapper, State, Storage,
};

type MemSnapper = Snapper<MemStorage, TestPlatform>;

const T0: u64 = 1_795_545_149;

fn config() -> Config {
    Config {
        threshold: 4,
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

/// Files referenced by the valid archives in a memory storage, decoded
/// independently of the manager.
fn referenced_files(storage: &MemStorage) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, node) in storage.nodes() {
        let MemNode::File(bytes) = node else { continue };
        if !path.ends_with("/archive") {
            continue;
        }
        let archive = Archive::decode(bytes).unwrap();
        out.insert(path.clone());
        for entry in &archive.entries {
            for link in entry.backlinks.iter() {
                let source = archive.source(link.generation).unwrap();
                out.insert(snapper_core::layout::file_path(
                    &source.name,
                    source.fanout,
                    link.file,
                ));
            }
        }
    }
    out
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
        // The generation directory and its snapshot directory, the archive
        // written, synced, renamed and synced: the same for 10 and 1000 objects.
        assert_eq!(storage.count("write_new_file"), 1, "{:?}", storage.calls);
        assert_eq!(storage.count("create_dir"), 2, "{:?}", storage.calls);
        assert_eq!(storage.count("sync"), 2);
        assert_eq!(storage.count("rename"), 1);
        assert_eq!(
            storage.count("read_at") + storage.count("file_size") + storage.count("list_dir"),
            0
        );
        assert_eq!(snapper.last_snapshot_stats().files_written, 0);
        assert!(
            storage.bytes_written < 40 * objects as u64 + 200,
            "archive of {} bytes",
            storage.bytes_written
        );
    }
}

#[test]
fn changed_objects_are_written_and_only_they() {
    let (mut snapper, _) = open(MemStorage::new(), config());
    let mut versions = vec![0u32; 50];
    snapshot(&mut snapper, &versions, 100);
    assert_eq!(snapper.last_snapshot_stats().files_written, 50);
    versions[3] = 1;
    versions[47] = 1;
    snapshot(&mut snapper, &versions, 100);
    assert_eq!(snapper.last_snapshot_stats().files_written, 2);
    // A payload of another length with equal leading bytes is a change too.
    snapper.init_snapshot().unwrap();
    snapper
        .take_snapshot(ObjectId(0), &payload(0, 0, 99))
        .unwrap();
    snapper.commit_snapshot().unwrap();
    assert_eq!(snapper.last_snapshot_stats().files_written, 1);
}

#[test]
fn redundant_copy_appears_exactly_when_a_file_serves_redundancy_generations() {
    for redundancy in [1u32, 2, 3, 5] {
        let (mut snapper, _) = open(
            MemStorage::new(),
            Config {
                redundancy,
                ..config()
            },
        );
        let versions = vec![0u32; 3];
        let first = FileRef {
            generation: Generation(1),
            file: FileNumber(0),
        };
        snapshot(&mut snapper, &versions, 16);
        for generation in 2..=redundancy + 1 {
            let uses_before = snapper.references(first);
            snapshot(&mut snapper, &versions, 16);
            let written = snapper.last_snapshot_stats().redundant_copies;
            if generation <= redundancy {
                assert_eq!(
                    written, 0,
                    "redundancy {redundancy}: generation {generation} copied early"
                );
                assert_eq!(snapper.references(first), uses_before + 1);
            } else {
                assert_eq!(uses_before, redundancy);
                assert_eq!(
                    written, 3,
                    "redundancy {redundancy}: generation {generation} must copy every object"
                );
            }
        }
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
            snapper.last_snapshot_stats().files_written,
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
    let name = valid_names(&snapper).pop().unwrap();
    // Damage the newest copy of object 0 (generation 2's file 0).
    let newest = snapper_core::layout::file_path(&name, 4, FileNumber(0));
    if let Some(MemNode::File(bytes)) = snapper.storage_mut().nodes_mut().get_mut(&newest) {
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
    }
    snapper.open_generation(None).unwrap();
    let mut buf = vec![0xEE; 64];
    assert_eq!(snapper.restore(ObjectId(0), &mut buf), Ok(64));
    assert_eq!(buf, payload(0, 0, 64));
    assert!(platform.logged(Level::Warning, "damaged"));
    // Damage the older copy too: nothing intact is left.
    let older =
        snapper_core::layout::file_path(valid_names(&snapper)[0].as_str(), 4, FileNumber(0));
    snapper
        .storage_mut()
        .nodes_mut()
        .insert(older, MemNode::File(b"garbage".to_vec()));
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
        "other objects are unaffected"
    );
}

#[test]
fn purge_deletes_exactly_the_unused_files_and_empty_directories() {
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
        snapshot(&mut snapper, &versions, 32);
    }
    let latest = versions.clone();
    while valid_names(&snapper).len() > 1 {
        snapper.purge(None).unwrap();
        let storage = snapper.storage();
        let present: BTreeSet<String> = files(storage).into_iter().collect();
        assert_eq!(
            present,
            referenced_files(storage),
            "files left must be exactly the referenced ones"
        );
        assert_eq!(empty_dirs(storage), Vec::<String>::new());
    }
    restore_all(&mut snapper, None, &latest, 32);
    snapper.purge(None).unwrap();
    assert!(
        snapper.storage().nodes().is_empty(),
        "{:?}",
        snapper.storage().nodes().keys()
    );
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

fn damage_latest_archive(snapper: &mut MemSnapper) -> String {
    let name = valid_names(snapper).pop().unwrap();
    let path = format!("{name}/archive");
    if let Some(MemNode::File(bytes)) = snapper.storage_mut().nodes_mut().get_mut(&path) {
        bytes[20] ^= 1;
    }
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
    // purge_zombies keeps the damaged generation for inspection.
    assert_eq!(snapper.purge_zombies(), Err(Error::IntegrityFailed));
    assert!(snapper
        .storage()
        .nodes()
        .contains_key(&format!("{damaged}/archive")));
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
    assert_eq!(snapper.purge_zombies(), Ok(()));
    assert!(
        !snapper
            .storage()
            .nodes()
            .keys()
            .any(|k| k.starts_with(&damaged)),
        "damaged generation deleted"
    );
    // The intact generation and its files survived.
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
        // A third generation that never commits: the manager goes away.
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
    assert_eq!(snapper.last_snapshot_stats().files_written, 0);
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
    snapper.commit_snapshot().unwrap();
    snapper.open_generation(None).unwrap();
    let mut buf = [9u8; 8];
    assert_eq!(snapper.restore(ObjectId(0), &mut buf), Ok(4));
    assert_eq!(&buf[..4], b"zero");
    assert_eq!(snapper.restore(ObjectId(u64::MAX), &mut buf), Ok(3));
    assert_eq!(&buf[..3], b"max");
    assert_eq!(snapper.restore(ObjectId(1), &mut buf), Ok(0));
    assert_eq!(buf, [0; 8]);
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

#[test]
fn a_later_duplicate_id_wins_and_its_predecessor_file_is_deleted() {
    let (mut snapper, _) = open(MemStorage::new(), config());
    snapper.init_snapshot().unwrap();
    snapper.take_snapshot(ObjectId(7), b"first").unwrap();
    snapper.take_snapshot(ObjectId(7), b"second").unwrap();
    snapper.commit_snapshot().unwrap();
    snapper.open_generation(None).unwrap();
    let mut buf = [0u8; 6];
    assert_eq!(snapper.restore(ObjectId(7), &mut buf), Ok(6));
    assert_eq!(&buf, b"second");
    let storage = snapper.storage();
    assert_eq!(
        files(storage).into_iter().collect::<BTreeSet<_>>(),
        referenced_files(storage)
    );
}

/// A damaged archive kept for repair (integrity=yes) keeps the files it
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
    let newest_archive = format!("{}/archive", names[1]);
    let intact = snapper
        .storage()
        .nodes()
        .get(&newest_archive)
        .cloned()
        .unwrap();
    damage_latest_archive(&mut snapper);
    let (mut snapper, platform) = open(snapper.into_storage(), strict);
    // Only the damaged generation still uses generation 1's files now.
    snapper.purge(Some(&names[0])).unwrap();
    assert!(platform.logged(Level::Warning, "a damaged archive may use them"));
    assert_eq!(snapper.purge_zombies(), Err(Error::IntegrityFailed));
    snapper.init_snapshot().unwrap();
    snapper.abort();
    // Repair: the archive comes back from a backup.
    let mut storage = snapper.into_storage();
    storage.nodes_mut().insert(newest_archive, intact);
    let (mut snapper, _) = open(storage, strict);
    restore_all(&mut snapper, Some(&names[1]), &[0, 0, 0], 32);

    // With integrity=no the same files go as garbage.
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
    assert!(
        files(snapper.storage()).is_empty(),
        "{:?}",
        files(snapper.storage())
    );
}
