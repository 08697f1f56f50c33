//! The pack-storage engine (format 2, `snapper_core::engine`), one test per
//! rule: a generation costs a few files, an unchanged one none, equal
//! content is stored once, extra copies stay within their budgets, sparse
//! packs are emptied by copy-forward and deleted, a restore reads few large
//! ranges, damage is caught per copy, a failed pack write loses nothing,
//! and a format-1 root is refused untouched.

mod common;

use common::{payload as page, Counting, TestPlatform};
use snapper_core::engine::{GenerationStatus, InitOutcome, Snapper};
use snapper_core::storage::MemNode;
use snapper_core::{archive_log, layout};
use snapper_core::{Config, Error, Level, MemStorage, ObjectId, Storage, StorageError};

const T0: u64 = 1_795_545_149;

fn config() -> Config {
    Config {
        redundancy: 0,
        ..Config::default()
    }
}

type Engine<S> = Snapper<S, TestPlatform>;

fn open<S: Storage>(storage: S, config: Config) -> Engine<S> {
    Snapper::open(storage, TestPlatform::at(T0), config).expect("open")
}

/// Takes one generation: object i at version `versions[i]`.
fn generation<S: Storage>(snapper: &mut Engine<S>, versions: &[u32], size: usize) {
    snapper.init_snapshot().expect("init");
    for (i, v) in versions.iter().enumerate() {
        snapper
            .take_snapshot(ObjectId(i as u64), &page(i as u64, *v, size))
            .expect("take");
    }
    snapper.commit_snapshot().expect("commit");
}

fn restore_all<S: Storage>(snapper: &mut Engine<S>, versions: &[u32], size: usize) {
    snapper.open_generation(None).expect("open_generation");
    let mut buf = vec![0u8; size];
    for (i, v) in versions.iter().enumerate() {
        let n = snapper
            .restore(ObjectId(i as u64), &mut buf)
            .expect("restore");
        assert_eq!(n, size);
        assert!(buf == page(i as u64, *v, size), "object {i} differs");
    }
    snapper.close_generation().expect("close");
}

fn files(storage: &MemStorage) -> Vec<(String, usize)> {
    storage
        .nodes()
        .iter()
        .filter_map(|(path, node)| match node {
            MemNode::File(bytes) => Some((path.clone(), bytes.len())),
            MemNode::Dir => None,
        })
        .collect()
}

#[test]
fn the_seed_sequence_passes_on_packs() {
    let n = common::tests_count().min(2000) as usize;
    let versions = vec![0u32; n];
    let mut snapper = open(MemStorage::new(), config());
    generation(&mut snapper, &versions, 4096);
    generation(&mut snapper, &versions, 4096);
    restore_all(&mut snapper, &versions, 4096);
    snapper.purge(None).expect("purge");
    snapper.purge_zombies().expect("purge_zombies");
    restore_all(&mut snapper, &versions, 4096);
    snapper.purge(None).expect("purge");
    // Everything deleted but the archive log, which stays for the next
    // commit and holds no record any more.
    let left = files(snapper.storage());
    assert_eq!(
        left.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        [layout::ARCHIVE_LOG],
        "everything deleted: {left:?}"
    );
    let Some(MemNode::File(log)) = snapper.storage().nodes().get(layout::ARCHIVE_LOG) else {
        panic!("no archive log");
    };
    assert!(
        archive_log::classify(log).unwrap().is_empty(),
        "records left in the log"
    );
}

#[test]
fn a_first_generation_costs_a_few_files_and_about_its_bytes() {
    let versions = vec![0u32; 1000];
    let mut snapper = open(Counting::new(MemStorage::new()), config());
    generation(&mut snapper, &versions, 4096);
    let storage = snapper.storage();
    // 4 MB of pages in 4 MiB packs: one pack and the archive log (its
    // first record written with the file). Syncs: the pack before the
    // record, the record, its seal.
    assert_eq!(storage.count("write_new_file"), 2, "{:?}", storage.calls);
    assert_eq!(storage.count("create_dir"), 3, "{:?}", storage.calls);
    assert_eq!(storage.count("sync"), 3);
    assert_eq!(storage.count("write_at"), 1, "{:?}", storage.calls);
    let payload = 1000 * 4096;
    // The archive log is created zero-filled to 1 MiB (FORMAT.md "Archive
    // log"), once, with the first record in it; the rest is the pack.
    let log = match storage.inner.nodes().get(layout::ARCHIVE_LOG) {
        Some(MemNode::File(bytes)) => bytes.len() as u64,
        _ => panic!("no archive log"),
    };
    assert_eq!(log, 1 << 20);
    let written = storage.bytes_written - log;
    assert!(
        written as f64 <= payload as f64 * 1.02,
        "{written} bytes on disk besides the log for {payload} of payload"
    );
    let stats = snapper.last_snapshot_stats();
    assert_eq!((stats.payloads_written, stats.packs_written), (1000, 1));
}

#[test]
fn packs_are_bounded_by_pack_size() {
    let versions = vec![0u32; 100];
    let config = Config {
        pack_size: 64 << 10,
        ..config()
    };
    let mut snapper = open(MemStorage::new(), config);
    generation(&mut snapper, &versions, 4096);
    let packs: Vec<(String, usize)> = files(snapper.storage())
        .into_iter()
        .filter(|(p, _)| p.contains("/pack/"))
        .collect();
    assert_eq!(packs.len(), 7, "{packs:?}");
    assert!(packs
        .iter()
        .all(|(_, len)| *len <= (64 << 10) + 16 * 28 + 32));
    // A payload above pack_size gets a pack of its own.
    snapper.init_snapshot().unwrap();
    snapper
        .take_snapshot(ObjectId(1), &page(1, 9, 100 << 10))
        .unwrap();
    snapper.commit_snapshot().unwrap();
    snapper.open_generation(None).unwrap();
    let mut buf = vec![0; 100 << 10];
    assert_eq!(snapper.restore(ObjectId(1), &mut buf), Ok(100 << 10));
    assert!(buf == page(1, 9, 100 << 10));
}

#[test]
fn an_unchanged_generation_writes_no_payload() {
    // 4-byte payloads as the seed's test: the pack's index outweighs its
    // payloads, which must not make the pack look sparse (a regression
    // seen on Genode: every object copied forward).
    for size in [4, 1000] {
        let versions = vec![0u32; 500];
        let mut snapper = open(Counting::new(MemStorage::new()), config());
        generation(&mut snapper, &versions, size);
        snapper.storage_mut().reset();
        generation(&mut snapper, &versions, size);
        let storage = snapper.storage();
        // Only the record in the existing archive log: no new file, no
        // directory, the record and its seal written in place, each synced.
        assert_eq!(storage.count("write_new_file"), 0, "no new file");
        assert_eq!(storage.count("create_dir"), 0, "no directory");
        assert_eq!(storage.count("write_at"), 2, "{:?}", storage.calls);
        assert_eq!(storage.count("sync"), 2, "{:?}", storage.calls);
        assert_eq!(storage.count("read_at"), 0);
        assert_eq!(
            snapper.last_snapshot_stats().payloads_written,
            0,
            "size {size}"
        );
    }
}

#[test]
fn equal_content_is_stored_once() {
    let mut snapper = open(MemStorage::new(), config());
    snapper.init_snapshot().unwrap();
    let zero = vec![0u8; 4096];
    for id in 0..100 {
        snapper.take_snapshot(ObjectId(id), &zero).unwrap();
    }
    snapper
        .take_snapshot(ObjectId(100), &page(7, 0, 4096))
        .unwrap();
    snapper.commit_snapshot().unwrap();
    let stats = snapper.last_snapshot_stats();
    assert_eq!((stats.payloads_written, stats.deduplicated), (2, 99));
    // Next generation: a new id with content the base holds is linked too.
    snapper.init_snapshot().unwrap();
    snapper
        .take_snapshot(ObjectId(500), &page(7, 0, 4096))
        .unwrap();
    snapper.take_snapshot(ObjectId(501), &zero).unwrap();
    snapper.commit_snapshot().unwrap();
    assert_eq!(snapper.last_snapshot_stats().payloads_written, 0);
    snapper.open_generation(None).unwrap();
    let mut buf = vec![1u8; 4096];
    assert_eq!(snapper.restore(ObjectId(501), &mut buf), Ok(4096));
    assert!(buf == zero);
    assert_eq!(snapper.restore(ObjectId(500), &mut buf), Ok(4096));
    assert!(buf == page(7, 0, 4096));
    assert_eq!(
        snapper.restore(ObjectId(3), &mut buf),
        Err(Error::NoMatches)
    );
}

#[test]
fn redundant_copies_follow_the_seed_rule_within_a_budget() {
    let n = 90;
    let versions = vec![0u32; n];
    let config = Config {
        redundancy: 3,
        ..config()
    };
    let mut snapper = open(MemStorage::new(), config);
    let mut copies_per_generation = Vec::new();
    for _ in 0..8 {
        generation(&mut snapper, &versions, 512);
        copies_per_generation.push(snapper.last_snapshot_stats().redundant_copies);
    }
    // Generations 1-3 use the first copies; from then on copies are owed,
    // at most n / redundancy per generation, until every object has one.
    assert_eq!(&copies_per_generation[..3], &[0, 0, 0]);
    assert!(
        copies_per_generation.iter().all(|c| *c <= 30),
        "{copies_per_generation:?}"
    );
    assert!(
        copies_per_generation.iter().sum::<u64>() >= 90,
        "{copies_per_generation:?}"
    );
    // Every object now has at least two copies, and restores from the
    // second when the first is damaged.
    let archive = snapper
        .archive(snapper.generations().last().unwrap().generation)
        .unwrap();
    assert!(archive.entries.iter().all(|e| e.copies.len() >= 2));
    restore_all(&mut snapper, &versions, 512);
}

#[test]
fn sparse_packs_are_copied_forward_and_deleted() {
    // 4 KiB objects in 64 KiB packs. Every generation rewrites 48 hot
    // objects and adds one cold object that never changes again, so every
    // pack keeps one live page once its hot pages are purged (retention
    // keeps 2 generations). Without copy-forward each such pack stays
    // whole for its one page: disk grows to ~7x the live bytes.
    let config = Config {
        pack_size: 64 << 10,
        max_snapshots: 2,
        ..config()
    };
    let mut snapper = open(MemStorage::new(), config);
    let hot = 48u64;
    let mut worst = 0f64;
    for round in 1..40u32 {
        snapper.init_snapshot().unwrap();
        // The new cold page goes first, into a pack with 15 hot ones.
        for cold in (1..=u64::from(round)).rev() {
            snapper
                .take_snapshot(ObjectId(1000 + cold), &page(1000 + cold, 0, 4096))
                .unwrap();
        }
        for id in 0..hot {
            snapper
                .take_snapshot(ObjectId(id), &page(id, round, 4096))
                .unwrap();
        }
        snapper.commit_snapshot().unwrap();
        let (disk, live) = snapper.disk_and_live_bytes();
        worst = worst.max(disk as f64 / live as f64);
    }
    let packs: Vec<u64> = files(snapper.storage())
        .iter()
        .filter(|(p, _)| p.contains("/pack/"))
        .map(|(_, l)| *l as u64)
        .collect();
    let on_disk: u64 = packs.iter().sum();
    let (disk, live) = snapper.disk_and_live_bytes();
    // Every pack on disk is accounted for: payloads plus 28 index bytes a
    // payload (0.7 % of a 4 KiB page) and a 32-byte trailer.
    assert!(disk <= on_disk && on_disk <= disk + disk / 100 + 32 * packs.len() as u64);
    assert!(
        worst <= 2.5,
        "disk / live bytes reached {worst:.2} (now {disk} on disk for {live} live)"
    );
    snapper.open_generation(None).unwrap();
    let mut buf = vec![0; 4096];
    for cold in 1..40u64 {
        assert_eq!(snapper.restore(ObjectId(1000 + cold), &mut buf), Ok(4096));
        assert!(buf == page(1000 + cold, 0, 4096));
    }
}

#[test]
fn a_generation_restores_in_few_large_reads() {
    let versions = vec![0u32; 1000];
    let mut snapper = open(Counting::new(MemStorage::new()), config());
    generation(&mut snapper, &versions, 4096);
    generation(&mut snapper, &vec![1u32; 1000], 4096);
    snapper.storage_mut().reset();
    restore_all(&mut snapper, &vec![1u32; 1000], 4096);
    let reads = snapper.storage().count("read_at");
    assert!(reads <= 8, "{reads} reads for 4 MB");
}

#[test]
fn a_damaged_payload_falls_back_to_another_copy_or_fails_clearly() {
    let n = 10;
    let versions = vec![0u32; n];
    let config = Config {
        redundancy: 1,
        ..config()
    };
    let mut snapper = open(MemStorage::new(), config);
    generation(&mut snapper, &versions, 100);
    generation(&mut snapper, &versions, 100);
    // The newest pack holds the redundant copies: damage one payload.
    let latest = snapper.generations().last().unwrap().clone();
    let pack = format!("{}/pack/1/0", latest.name);
    let Some(MemNode::File(bytes)) = snapper.storage_mut().nodes_mut().get_mut(&pack) else {
        panic!("no {pack}");
    };
    bytes[150] ^= 1; // object 1's payload
    restore_all(&mut snapper, &versions, 100);
    assert!(snapper
        .platform_mut()
        .logged(Level::Warning, "CRC mismatch"));
    // Damage the other copy too: IntegrityFailed, and nothing handed out.
    let first = snapper.generations().first().unwrap().clone();
    let pack = format!("{}/pack/1/0", first.name);
    let Some(MemNode::File(bytes)) = snapper.storage_mut().nodes_mut().get_mut(&pack) else {
        panic!("no {pack}");
    };
    bytes[150] ^= 1;
    snapper.open_generation(None).unwrap();
    let mut buf = vec![0xAA; 100];
    assert_eq!(
        snapper.restore(ObjectId(1), &mut buf),
        Err(Error::IntegrityFailed)
    );
    assert!(buf.iter().all(|b| *b == 0));
}

/// Fails the n-th write_new_file once.
struct FailOnce<S> {
    inner: S,
    fail_at: u32,
    writes: u32,
}

impl<S: Storage> Storage for FailOnce<S> {
    fn create_dir(&mut self, p: &str) -> Result<(), StorageError> {
        self.inner.create_dir(p)
    }
    fn write_new_file(&mut self, p: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.writes += 1;
        if self.writes == self.fail_at {
            // A torn write: part of the file is there.
            let _ = self
                .inner
                .write_new_file(p, &[&parts.concat()[..10.min(parts.concat().len())]]);
            return Err(StorageError::NoSpace);
        }
        self.inner.write_new_file(p, parts)
    }
    fn write_at(&mut self, p: &str, o: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.inner.write_at(p, o, parts)
    }
    fn read_at(&mut self, p: &str, o: u64, b: &mut [u8]) -> Result<usize, StorageError> {
        self.inner.read_at(p, o, b)
    }
    fn file_size(&mut self, p: &str) -> Result<u64, StorageError> {
        self.inner.file_size(p)
    }
    fn list_dir(&mut self, p: &str) -> Result<Vec<snapper_core::DirEntry>, StorageError> {
        self.inner.list_dir(p)
    }
    fn remove(&mut self, p: &str) -> Result<(), StorageError> {
        self.inner.remove(p)
    }
    fn rename(&mut self, f: &str, t: &str) -> Result<(), StorageError> {
        self.inner.rename(f, t)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        self.inner.sync()
    }
}

#[test]
fn a_failed_pack_write_loses_no_object_taken() {
    let config = Config {
        pack_size: 8 << 10,
        ..config()
    };
    let storage = FailOnce {
        inner: MemStorage::new(),
        fail_at: 2,
        writes: 0,
    };
    let mut snapper = open(storage, config);
    assert_eq!(snapper.init_snapshot(), Ok(InitOutcome::NoPriorGen));
    let mut taken = Vec::new();
    for id in 0..20u64 {
        match snapper.take_snapshot(ObjectId(id), &page(id, 0, 4096)) {
            Ok(()) => taken.push(id),
            Err(e) => assert_eq!(e, Error::StorageFailed),
        }
    }
    assert_eq!(
        taken.len(),
        19,
        "exactly the object whose pack write failed is refused"
    );
    snapper.commit_snapshot().expect("commit retries the pack");
    snapper.open_generation(None).unwrap();
    let mut buf = vec![0; 4096];
    for id in &taken {
        assert_eq!(
            snapper.restore(ObjectId(*id), &mut buf),
            Ok(4096),
            "object {id}"
        );
        assert!(buf == page(*id, 0, 4096));
    }
}

#[test]
fn damaged_generations_and_restart_keep_every_committed_generation() {
    let versions: Vec<u32> = (0..50).collect();
    let mut snapper = open(MemStorage::new(), config());
    generation(&mut snapper, &versions, 300);
    let changed: Vec<u32> = versions.iter().map(|v| v + (v % 2)).collect();
    generation(&mut snapper, &changed, 300);
    // An interrupted third generation: pack written, no archive. (With the
    // archive log its directory comes with that first pack: 4 KiB packs so
    // that one is full before the cut.)
    let storage = snapper.into_storage();
    let mut snapper = open(
        storage,
        Config {
            pack_size: 4096,
            ..config()
        },
    );
    snapper.init_snapshot().unwrap();
    for i in 0..50u64 {
        snapper
            .take_snapshot(ObjectId(i), &page(i, 99, 300))
            .unwrap();
    }
    assert!(
        files(snapper.storage())
            .iter()
            .any(|(p, _)| p.contains("-00000003/pack/")),
        "the interrupted generation wrote a pack"
    );
    let storage = snapper.into_storage();
    let mut snapper = open(storage, config());
    let gens = snapper.generations();
    assert_eq!(gens.len(), 3);
    assert_eq!(gens[2].status, GenerationStatus::NoArchive);
    restore_all(&mut snapper, &changed, 300);
    // The next init sweeps the incomplete generation away.
    generation(&mut snapper, &changed, 300);
    assert_eq!(snapper.generations().len(), 3);
    assert!(!files(snapper.storage())
        .iter()
        .any(|(p, _)| p.starts_with(&gens[2].name)));
}

#[test]
fn inspection_sees_what_restore_and_the_sweep_would() {
    let versions = vec![0u32; 20];
    let config = Config {
        pack_size: 64 << 10,
        ..config()
    };
    let mut snapper = open(MemStorage::new(), config);
    generation(&mut snapper, &versions, 200);
    let gen = snapper.generations()[0].clone();
    let report = snapper.verify_generation(gen.generation).unwrap();
    assert_eq!((report.objects, report.copies), (20, 20));
    assert!(report.damaged.is_empty() && report.lost.is_empty());
    assert!(snapper.unused_files().unwrap().is_empty());

    // Damage object 3's payload: verify names it, the pack's own index too.
    let pack = format!("{}/pack/1/0", gen.name);
    let Some(MemNode::File(bytes)) = snapper.storage_mut().nodes_mut().get_mut(&pack) else {
        panic!("no {pack}");
    };
    bytes[3 * 200 + 5] ^= 0x10;
    let report = snapper.verify_generation(gen.generation).unwrap();
    assert_eq!(report.lost, vec![ObjectId(3)]);
    assert_eq!(report.damaged.len(), 1);
    let usage = snapper.pack_usage();
    assert_eq!(usage.len(), 1);
    let check = snapper.check_pack(usage[0].pack);
    assert_eq!((check.intact.len(), check.damaged), (19, 1));

    // An interrupted generation leaves a pack the sweep would delete (a
    // pack goes out once full: three payloads of half a pack).
    snapper.init_snapshot().unwrap();
    let half = (config.pack_size / 2) as usize;
    for id in 97..100 {
        snapper
            .take_snapshot(ObjectId(id), &page(id, 1, half))
            .unwrap();
    }
    let storage = snapper.into_storage();
    let mut snapper = open(storage, config);
    let unused = snapper.unused_files().unwrap();
    assert!(
        !unused.is_empty(),
        "the interrupted generation's pack is unused"
    );
    assert!(
        unused.iter().all(|p| !p.starts_with(&gen.name)),
        "{unused:?}"
    );
    snapper.purge_zombies().unwrap();
    assert!(snapper.unused_files().unwrap().is_empty());
}

/// A small deterministic generator (xorshift64*), so that a failing
/// sequence can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Random sequences of snapshots (random shares changed, new and dropped
/// objects, zero pages) and purges (oldest, by name from the middle,
/// retention): the payload bytes of used packs stay within the documented
/// bound of the used bytes (doc/DESIGN.md, "Garbage, and its bound").
#[test]
fn garbage_stays_bounded_whatever_the_sequence() {
    let pack_size: u64 = 32 << 10;
    let mut worst = (0f64, 0u64);
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let config = Config {
            pack_size,
            redundancy: rng.below(3) as u32,
            max_snapshots: [0, 2, 3, 5][rng.below(4) as usize],
            ..config()
        };
        let mut snapper = open(MemStorage::new(), config);
        let mut versions: Vec<u32> = (0..64).map(|_| 0).collect();
        for round in 1..50u32 {
            if rng.below(5) == 0
                && snapper
                    .generations()
                    .iter()
                    .filter(|g| g.status == GenerationStatus::Valid)
                    .count()
                    > 1
            {
                // purge one generation by name, anywhere
                let valid: Vec<String> = snapper
                    .generations()
                    .into_iter()
                    .filter(|g| g.status == GenerationStatus::Valid)
                    .map(|g| g.name)
                    .collect();
                let victim = &valid[rng.below(valid.len() as u64) as usize];
                snapper.purge(Some(victim)).unwrap();
            }
            let share = [1, 5, 25, 50, 100][rng.below(5) as usize];
            for v in versions.iter_mut() {
                if rng.below(100) < share {
                    *v = round;
                }
            }
            snapper.init_snapshot().unwrap();
            for (id, v) in versions.iter().enumerate() {
                let size = 1024 + (id % 7) * 512;
                let content = if id % 16 == 0 {
                    vec![0u8; size]
                } else {
                    page(id as u64, *v, size)
                };
                snapper
                    .take_snapshot(ObjectId(id as u64), &content)
                    .unwrap();
            }
            snapper.commit_snapshot().unwrap();
            let (disk, live) = snapper.disk_and_live_bytes();
            let ratio = disk as f64 / live as f64;
            if ratio > worst.0 {
                worst = (ratio, seed);
            }
        }
    }
    eprintln!("worst disk/live: {:.2} (seed {})", worst.0, worst.1);
    assert!(
        worst.0 <= 3.0,
        "disk / live reached {:.2} with seed {}",
        worst.0,
        worst.1
    );
}

/// The extra copies of hinted objects are read back from the base's packs
/// through the read-ahead window, in the base's order: a few large reads,
/// not one per copy (on lwext4 each read is a VFS round trip; 500 copies
/// one by one took ~150 ms of a generation on Genode).
#[test]
fn hinted_copies_are_read_back_in_a_few_large_reads() {
    let n = 200usize;
    let size = 4096;
    let versions = vec![0u32; n];
    let config = Config {
        redundancy: 2,
        pack_size: 4 << 20,
        ..config()
    };
    let mut snapper = open(Counting::new(MemStorage::new()), config);
    generation(&mut snapper, &versions, size);
    // the second generation links (one use before it), the third owes
    // copies of what two generations use
    for round in 0..2 {
        snapper.storage_mut().reset();
        snapper.init_snapshot().unwrap();
        for id in 0..n as u64 {
            snapper.take_unchanged(ObjectId(id)).expect("hint");
        }
        snapper.commit_snapshot().unwrap();
        if round == 0 {
            assert_eq!(snapper.last_snapshot_stats().redundant_copies, 0);
        }
    }
    let copies = snapper.last_snapshot_stats().redundant_copies;
    assert_eq!(copies, (n as u64).div_ceil(2), "copies due at 2 references");
    // 100 copies of 4 KiB from one 800 KiB pack: a 64 KiB first read,
    // then 1 MiB windows
    let reads = snapper.storage().count("read_at");
    assert!(reads <= 3, "{reads} reads for {copies} copies");
    restore_all(&mut snapper, &versions, size);
}

#[test]
fn hints_link_unchanged_objects_without_their_payload() {
    let n = 60usize;
    let versions = vec![0u32; n];
    let config = Config {
        redundancy: 2,
        ..config()
    };
    let mut snapper = open(Counting::new(MemStorage::new()), config);
    assert_eq!(
        snapper.take_unchanged(ObjectId(1)),
        Err(Error::InvalidState)
    );
    generation(&mut snapper, &versions, 700);
    for round in 0..3 {
        snapper.init_snapshot().unwrap();
        for id in 0..n as u64 {
            snapper.take_unchanged(ObjectId(id)).expect("hint");
        }
        // An id the base does not hold: refused, nothing stored for it.
        assert_eq!(snapper.take_unchanged(ObjectId(999)), Err(Error::NoMatches));
        snapper.commit_snapshot().unwrap();
        let stats = snapper.last_snapshot_stats();
        assert_eq!((stats.objects, stats.hinted), (n as u64, n as u64));
        if round == 0 {
            assert_eq!(stats.payloads_written, 0, "copies not yet due");
        }
    }
    // Redundancy copies came due and were made from the stored bytes.
    let latest = snapper.generations().last().unwrap().generation;
    let archive = snapper.archive(latest).unwrap();
    assert!(
        archive.entries.iter().all(|e| e.copies.len() >= 2),
        "{:?}",
        archive.entries[0]
    );
    restore_all(&mut snapper, &versions, 700);
    snapper.open_generation(None).unwrap();
    let mut buf = vec![0u8; 700];
    assert_eq!(
        snapper.restore(ObjectId(999), &mut buf),
        Err(Error::NoMatches)
    );
}
