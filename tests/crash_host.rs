//! The crash and fault wrappers over the host's directory storage: the
//! written state the wrapper tracks is what the real file system holds, a
//! power cut's image over it recovers, and a failing disk under the real
//! backend loses nothing committed.

mod common;

use common::{payload, TempDir};
use snapper_core::{Config, GenerationStatus, MemStorage, ObjectId, Snapper, StorageError};
use snapper_host::DirStorage;
use snapper_testkit::image::read_image;
use snapper_testkit::sweep::{check_clean, check_recovery, restore_matches, Content, Expect};
use snapper_testkit::{CrashStorage, Fault, FaultStorage, Plan, SimPlatform};

const T0: u64 = 1_795_545_149;

/// 4 KiB packs: a generation of `content` spans two (one written
/// mid-take), in a trie of fan-out 2.
fn config() -> Config {
    Config {
        threshold: 2,
        pack_size: 4096,
        ..Config::default()
    }
}

fn content(version: u32) -> Content {
    (0..6u64)
        .map(|id| (id, payload(id, version, 500 * id as usize)))
        .collect()
}

fn take<S: snapper_core::Storage>(
    snapper: &mut Snapper<S, SimPlatform>,
    content: &Content,
) -> Result<(), snapper_core::Error> {
    snapper.init_snapshot()?;
    for (id, p) in content {
        snapper.take_snapshot(ObjectId(*id), p)?;
    }
    snapper.commit_snapshot()
}

#[test]
fn crash_images_over_the_directory_storage_recover() {
    let dir = TempDir::new("crash-host");
    let storage = CrashStorage::new(DirStorage::open(dir.path()).unwrap()).unwrap();
    let mut snapper = Snapper::open(storage, SimPlatform::at(T0), config()).unwrap();
    take(&mut snapper, &content(0)).unwrap();
    // A second generation, cut short before its commit: the pending list
    // holds its packs.
    snapper.init_snapshot().unwrap();
    for (id, p) in content(1) {
        snapper.take_snapshot(ObjectId(id), &p).unwrap();
    }
    let crash = snapper.into_storage();
    // What the wrapper believes was written is what the directory holds.
    let mut real = DirStorage::open(dir.path()).unwrap();
    assert_eq!(
        crash.image(&Plan::everything(crash.pending().len())),
        read_image(&mut real).unwrap()
    );
    assert!(crash
        .pending()
        .iter()
        .any(|op| matches!(op, snapper_testkit::Op::Write(path, _) if path.contains("/pack/"))));
    let generations: std::collections::BTreeMap<_, _> =
        [(snapper_core::Generation(1), content(0))].into();
    for disk in crash.outcomes(4, 7) {
        let violations = check_recovery(
            disk,
            &Expect {
                config: config(),
                clock: T0,
                content: &generations,
                required: [snapper_core::Generation(1)].into(),
                forbidden: Default::default(),
            },
        );
        assert!(violations.is_empty(), "{violations:?}");
    }
}

#[test]
fn a_full_or_failing_disk_under_the_directory_storage_loses_nothing() {
    let mut runs = 0;
    for at in 1..=40u64 {
        for (error, sticky) in [(StorageError::NoSpace, true), (StorageError::Io, false)] {
            let dir = TempDir::new("fault-host");
            let storage = FaultStorage::new(DirStorage::open(dir.path()).unwrap());
            let mut snapper = Snapper::open(storage, SimPlatform::at(T0), config()).unwrap();
            take(&mut snapper, &content(0)).unwrap();
            snapper.storage_mut().arm(Fault {
                sticky,
                ..Fault::once(at, error)
            });
            let result = take(&mut snapper, &content(1));
            let fired = snapper.storage().fired();
            snapper.abort();
            drop(snapper);
            if !fired {
                assert!(result.is_ok());
                break;
            }
            runs += 1;
            // Restart over the real directory, no fault.
            let mut snapper = Snapper::open(
                DirStorage::open(dir.path()).unwrap(),
                SimPlatform::at(T0),
                config(),
            )
            .unwrap();
            let valid: Vec<_> = snapper
                .generations()
                .into_iter()
                .filter(|g| g.status == GenerationStatus::Valid)
                .map(|g| g.name)
                .collect();
            restore_matches(&mut snapper, &valid[0], &content(0)).unwrap();
            if let Some(second) = valid.get(1) {
                restore_matches(&mut snapper, second, &content(1)).unwrap();
            }
            take(&mut snapper, &content(2)).unwrap();
            snapper.purge_zombies().unwrap();
            let disk: MemStorage = read_image(&mut DirStorage::open(dir.path()).unwrap()).unwrap();
            let mut violations = Vec::new();
            check_clean(&disk, &format!("{error} at {at}"), &mut violations);
            assert!(violations.is_empty(), "{violations:?}");
        }
    }
    eprintln!("faults under DirStorage: {runs} runs");
    assert!(runs > 10, "{runs}");
}
