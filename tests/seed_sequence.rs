//! The seed's snappertests sequence (create, create again unchanged,
//! recover and check every value, purge, purge_zombies, purge) with TESTS
//! objects, on both host backends.

mod common;

use common::{tests_count, Counting, TempDir, TestPlatform};
use snapper_core::{Config, Error, InitOutcome, MemStorage, ObjectId, Snapper, Storage};
use snapper_host::DirStorage;

fn create<S: Storage>(snapper: &mut Snapper<S, TestPlatform>, objects: u32) -> Result<(), Error> {
    match snapper.init_snapshot()? {
        InitOutcome::Based(_) | InitOutcome::NoPriorGen => {}
    }
    for i in 1..=objects {
        snapper.take_snapshot(ObjectId(u64::from(i)), &(i as i32).to_le_bytes())?;
    }
    snapper.commit_snapshot()
}

fn recover<S: Storage>(snapper: &mut Snapper<S, TestPlatform>, objects: u32) -> Result<(), String> {
    snapper
        .open_generation(None)
        .map_err(|e| format!("open_generation: {e}"))?;
    for i in 1..=objects {
        let mut value = [0u8; 4];
        let len = snapper
            .restore(ObjectId(u64::from(i)), &mut value)
            .map_err(|e| format!("restore {i}: {e}"))?;
        if len != 4 || i32::from_le_bytes(value) != i as i32 {
            return Err(format!(
                "object {i} restored as {}",
                i32::from_le_bytes(value)
            ));
        }
    }
    snapper
        .close_generation()
        .map_err(|e| format!("close_generation: {e}"))
}

/// Runs the sequence and returns the storage's call counts of the second,
/// unchanged generation.
fn run_sequence<S: Storage>(storage: S) -> Counting<S> {
    let objects = tests_count();
    let platform = TestPlatform::at(1_795_545_149);
    let mut snapper =
        Snapper::open(Counting::new(storage), platform.clone(), Config::default()).unwrap();

    create(&mut snapper, objects).expect("first snapshot");
    // 4-byte payloads fill packs exactly: ceil(bytes / pack_size) packs,
    // plus the archive.
    let packs = (4 * u64::from(objects)).div_ceil(Config::default().pack_size);
    assert_eq!(snapper.last_snapshot_stats().packs_written, packs);
    assert_eq!(snapper.storage().count("write_new_file"), packs + 1);
    snapper.storage_mut().reset();
    create(&mut snapper, objects).expect("second, unchanged snapshot");
    // With the archive log (the default) an unchanged generation writes
    // its record into the existing `archives` file: no new file, no
    // directory, two writes in place (record, seal).
    let unchanged_writes = snapper.storage().count("write_new_file");
    assert_eq!(
        unchanged_writes, 0,
        "an unchanged generation makes no new file"
    );
    assert_eq!(
        snapper.storage().count("create_dir"),
        0,
        "an unchanged generation makes no directory"
    );
    assert_eq!(
        snapper.storage().count("write_at"),
        2,
        "an unchanged generation writes its record and its seal, nothing else"
    );
    let stats = snapper.last_snapshot_stats();
    assert_eq!((stats.payloads_written, stats.packs_written), (0, 0));
    assert_eq!(stats.objects, u64::from(objects));

    recover(&mut snapper, objects).expect("recovery");
    snapper.purge(None).expect("first purge");
    snapper.purge_zombies().expect("purge_zombies");
    snapper.purge(None).expect("second purge");
    assert_eq!(
        snapper.purge(None),
        Err(Error::NoPriorGen),
        "nothing left to purge"
    );
    assert!(
        snapper.generations().is_empty(),
        "{:?}",
        snapper.generations()
    );
    let mut storage = snapper.into_storage();
    // The archive log stays (its space is reused by the next commit);
    // nothing else is left.
    let left: Vec<String> = storage
        .list_dir("")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        left,
        ["archives"],
        "only the archive log is left after the last purge"
    );
    storage
}

#[test]
fn seed_sequence_on_memory_storage() {
    run_sequence(MemStorage::new());
}

#[test]
fn seed_sequence_on_directory_storage() {
    let dir = TempDir::new("seed");
    run_sequence(DirStorage::open(dir.path()).unwrap());
}
