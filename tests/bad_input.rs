//! Bad input from a client or a config: each gets a clear Result and a log
//! line, and nothing stored changes. Also the bounded property test over
//! arbitrary bytes for every decoder (the fuzz targets' bodies), which is
//! what CI runs instead of a fuzzer: `SNAPPER_FUZZ_ITERATIONS` per target
//! (default 100000), `SNAPPER_FUZZ_SEED`.

mod common;

use common::payload;
use snapper_core::{
    Config, ConfigError, Error, GenerationStatus, Level, MemStorage, ObjectId, Snapper, State,
};
use snapper_testkit::fuzz::{accepts, mutate, seeds, TARGETS};
use snapper_testkit::{env_count, Rng, SimPlatform};

const T0: u64 = 1_795_545_149;

type MemSnapper = Snapper<MemStorage, SimPlatform>;

fn config() -> Config {
    Config {
        threshold: 3,
        bufsize: 1024,
        ..Config::default()
    }
}

/// Two committed generations of objects 0, 1 and u64::MAX.
fn two_generations(config: Config) -> (MemSnapper, SimPlatform) {
    let platform = SimPlatform::at(T0);
    let mut snapper = Snapper::open(MemStorage::new(), platform.clone(), config).unwrap();
    for version in 0..2 {
        snapper.init_snapshot().unwrap();
        for id in [0, 1, u64::MAX] {
            snapper
                .take_snapshot(ObjectId(id), &payload(id, version, 100))
                .unwrap();
        }
        snapper.commit_snapshot().unwrap();
    }
    (snapper, platform)
}

fn names(snapper: &MemSnapper) -> Vec<String> {
    snapper
        .generations()
        .into_iter()
        .filter(|g| g.status == GenerationStatus::Valid)
        .map(|g| g.name)
        .collect()
}

/// Runs `call`, which must answer `expected`, log a line of at least
/// `level` severity, and leave the disk and the state as they were.
fn refused<T: std::fmt::Debug>(
    snapper: &mut MemSnapper,
    platform: &SimPlatform,
    what: &str,
    expected: Error,
    call: impl FnOnce(&mut MemSnapper) -> Result<T, Error>,
) {
    let disk = snapper.storage().clone();
    let state = snapper.state();
    let lines = platform.line_count();
    let result = call(snapper);
    assert_eq!(result.as_ref().err(), Some(&expected), "{what}: {result:?}");
    assert_eq!(snapper.storage(), &disk, "{what} changed the disk");
    assert_eq!(snapper.state(), state, "{what} changed the state");
    // A missing id is an ordinary answer (a lookup), logged only when
    // verbose; everything else refused is worth a line.
    if expected != Error::NoMatches {
        let logged = platform.lines_since(lines);
        assert!(
            logged
                .iter()
                .any(|(l, _)| matches!(l, Level::Error | Level::Warning | Level::Info)),
            "{what}: no log line"
        );
    }
}

#[test]
fn a_payload_larger_than_bufsize_is_refused_and_the_generation_stays_open() {
    let (mut snapper, platform) = two_generations(config());
    snapper.init_snapshot().unwrap();
    snapper.take_snapshot(ObjectId(5), b"kept").unwrap();
    for len in [1025usize, 4096, 1 << 20] {
        refused(
            &mut snapper,
            &platform,
            "oversized payload",
            Error::PayloadTooLarge,
            |s| s.take_snapshot(ObjectId(6), &vec![1u8; len]),
        );
    }
    assert!(platform.logged(Level::Error, "exceeds bufsize"));
    snapper
        .take_snapshot(ObjectId(7), &vec![7u8; 1024])
        .unwrap();
    snapper.commit_snapshot().unwrap();
    snapper.open_generation(None).unwrap();
    let mut buf = vec![0u8; 1024];
    assert_eq!(snapper.restore(ObjectId(5), &mut buf), Ok(4));
    assert_eq!(snapper.restore(ObjectId(7), &mut buf), Ok(1024));
    assert_eq!(
        snapper.restore(ObjectId(6), &mut buf),
        Err(Error::NoMatches)
    );
}

#[test]
fn restore_into_smaller_and_larger_buffers() {
    let (mut snapper, platform) = two_generations(config());
    snapper.open_generation(None).unwrap();
    for len in [0usize, 1, 99] {
        let mut small = vec![0xAAu8; len];
        refused(
            &mut snapper,
            &platform,
            "small buffer",
            Error::BufferTooSmall,
            |s| s.restore(ObjectId(1), &mut small),
        );
        assert!(
            small.iter().all(|b| *b == 0xAA),
            "a refused restore leaves the buffer alone"
        );
    }
    for len in [100usize, 101, 4096] {
        let mut big = vec![0xAAu8; len];
        assert_eq!(snapper.restore(ObjectId(1), &mut big), Ok(100));
        assert_eq!(&big[..100], &payload(1, 1, 100)[..]);
        assert!(big[100..].iter().all(|b| *b == 0), "the rest is zeroed");
    }
    refused(
        &mut snapper,
        &platform,
        "unknown id",
        Error::NoMatches,
        |s| s.restore(ObjectId(2), &mut [0u8; 200]),
    );
}

#[test]
fn unknown_empty_and_malformed_generation_names() {
    let (mut snapper, platform) = two_generations(config());
    let valid = names(&snapper);
    let unknown = valid[0].replace("-00000001", "-00000009");
    let long = "x".repeat(10_000);
    let bad = [
        unknown.as_str(),
        "garbage",
        "..",
        "../etc",
        "/",
        "2026-11-24T18:32:29",
        "2026-11-24T18:32:29-",
        "2026-02-30T18:32:29-00000001",
        "2026-11-24T18:32:29-00000001/archive",
        "2026-11-24T18:32:29-0000001",
        "2026-11-24T18:32:29-00000001\0",
        "２０２６-11-24T18:32:29-00000001",
        long.as_str(),
    ];
    for name in bad {
        refused(
            &mut snapper,
            &platform,
            &format!("open_generation({name:.40})"),
            Error::LoadGenFailed,
            |s| s.open_generation(Some(name)),
        );
        refused(
            &mut snapper,
            &platform,
            &format!("purge({name:.40})"),
            Error::NoPriorGen,
            |s| s.purge(Some(name)),
        );
    }
    // Empty means the latest for open_generation and the oldest for purge.
    snapper.open_generation(Some("")).unwrap();
    assert_eq!(snapper.open_generation_name(), Some(valid[1].as_str()));
    snapper.close_generation().unwrap();
    snapper.purge(Some("")).unwrap();
    assert_eq!(names(&snapper), vec![valid[1].clone()]);
    // The name of a purged generation.
    refused(
        &mut snapper,
        &platform,
        "purged name",
        Error::NoPriorGen,
        |s| s.purge(Some(&valid[0])),
    );
    refused(
        &mut snapper,
        &platform,
        "open purged",
        Error::LoadGenFailed,
        |s| s.open_generation(Some(&valid[0])),
    );
}

/// [`refused`], and without an error line: a name that is not a committed
/// generation is an ordinary refusal, not a disk error.
fn refused_as_uncommitted(
    snapper: &mut MemSnapper,
    platform: &SimPlatform,
    what: &str,
    expected: Error,
    call: impl FnOnce(&mut MemSnapper) -> Result<(), Error>,
) {
    let lines = platform.line_count();
    refused(snapper, platform, what, expected, call);
    let errors: Vec<_> = platform
        .lines_since(lines)
        .into_iter()
        .filter(|(level, _)| *level == Level::Error)
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:?}");
}

/// A generation that was never committed, found on disk after a restart
/// (with a pack written mid-take) or left by an abort, cannot be opened or
/// purged by its name; nothing on disk changes. The name is refused as
/// one that was never committed, from the catalog: not after trying to read
/// its archive, which would log a false disk error (the archive "vanished").
#[test]
fn an_uncommitted_generation_cannot_be_opened_or_purged_by_name() {
    let small_packs = Config {
        pack_size: 4096,
        ..config()
    };
    let (mut snapper, _) = two_generations(small_packs);
    let committed = names(&snapper);
    snapper.init_snapshot().unwrap();
    for id in 0..6u64 {
        snapper
            .take_snapshot(ObjectId(100 + id), &payload(id, 9, 1000))
            .unwrap();
    }
    // The manager goes away before the commit.
    let platform = SimPlatform::at(T0);
    let mut snapper = Snapper::open(snapper.into_storage(), platform.clone(), small_packs).unwrap();
    let uncommitted = snapper
        .generations()
        .into_iter()
        .find(|g| g.status == GenerationStatus::NoArchive)
        .expect("the uncommitted generation is listed")
        .name;
    assert!(
        snapper
            .storage()
            .nodes()
            .keys()
            .any(|k| k.starts_with(&format!("{uncommitted}/pack/1/"))),
        "it wrote a pack"
    );
    refused_as_uncommitted(
        &mut snapper,
        &platform,
        "open uncommitted",
        Error::LoadGenFailed,
        |s| s.open_generation(Some(&uncommitted)),
    );
    refused_as_uncommitted(
        &mut snapper,
        &platform,
        "purge uncommitted",
        Error::NoPriorGen,
        |s| s.purge(Some(&uncommitted)),
    );
    assert_eq!(names(&snapper), committed);

    // An aborted generation: its name is refused too once it is dropped.
    let (mut snapper, platform) = two_generations(small_packs);
    snapper.init_snapshot().unwrap();
    let aborted = snapper
        .storage()
        .nodes()
        .keys()
        .find(|k| !k.contains('/') && !committed.contains(k))
        .cloned()
        .expect("init_snapshot created the generation's directory");
    snapper.take_snapshot(ObjectId(1), b"pending").unwrap();
    snapper.abort();
    refused_as_uncommitted(
        &mut snapper,
        &platform,
        "open aborted",
        Error::LoadGenFailed,
        |s| s.open_generation(Some(&aborted)),
    );
    refused_as_uncommitted(
        &mut snapper,
        &platform,
        "purge aborted",
        Error::NoPriorGen,
        |s| s.purge(Some(&aborted)),
    );
    assert_eq!(names(&snapper), committed);
}

/// take_unchanged of an id the base does not hold (or with no base at
/// all): NoMatches, nothing stored, the generation stays open.
#[test]
fn take_unchanged_of_an_id_the_base_lacks_is_refused() {
    let platform = SimPlatform::at(T0);
    let mut snapper = Snapper::open(MemStorage::new(), platform.clone(), config()).unwrap();
    snapper.init_snapshot().unwrap();
    refused(
        &mut snapper,
        &platform,
        "take_unchanged without a base",
        Error::NoMatches,
        |s| s.take_unchanged(ObjectId(0)),
    );
    assert!(platform.logged(Level::Warning, "does not hold it"));
    snapper.abort();
    let (mut snapper, platform) = two_generations(config());
    snapper.init_snapshot().unwrap();
    snapper.take_unchanged(ObjectId(u64::MAX)).unwrap();
    refused(
        &mut snapper,
        &platform,
        "take_unchanged of an unknown id",
        Error::NoMatches,
        |s| s.take_unchanged(ObjectId(2)),
    );
    snapper.commit_snapshot().unwrap();
    snapper.open_generation(None).unwrap();
    let mut buf = [0u8; 100];
    assert_eq!(snapper.restore(ObjectId(u64::MAX), &mut buf), Ok(100));
    assert_eq!(&buf[..], &payload(u64::MAX, 1, 100)[..]);
    assert_eq!(
        snapper.restore(ObjectId(2), &mut buf),
        Err(Error::NoMatches)
    );
    assert_eq!(
        snapper.restore(ObjectId(0), &mut buf),
        Err(Error::NoMatches),
        "only what was taken is in the generation"
    );
}

/// Every call in every state where it is not allowed.
#[test]
fn every_call_in_every_wrong_state_is_refused_and_changes_nothing() {
    let (mut snapper, platform) = two_generations(config());
    let oldest = names(&snapper)[0].clone();
    type Call = (&'static str, fn(&mut MemSnapper, &str) -> Result<(), Error>);
    let calls: [Call; 10] = [
        ("init_snapshot", |s, _| s.init_snapshot().map(|_| ())),
        ("take_snapshot", |s, _| s.take_snapshot(ObjectId(0), b"x")),
        ("take_unchanged", |s, _| s.take_unchanged(ObjectId(0))),
        ("commit_snapshot", |s, _| s.commit_snapshot()),
        ("open_generation", |s, n| s.open_generation(Some(n))),
        ("restore", |s, _| {
            s.restore(ObjectId(0), &mut [0u8; 200]).map(|_| ())
        }),
        ("close_generation", |s, _| s.close_generation()),
        ("purge", |s, n| s.purge(Some(n))),
        ("purge_expired", |s, _| s.purge_expired()),
        ("purge_zombies", |s, _| s.purge_zombies()),
    ];
    let allowed = |state: State, call: &str| match state {
        State::Dormant => !matches!(
            call,
            "take_snapshot" | "take_unchanged" | "commit_snapshot" | "restore" | "close_generation"
        ),
        State::Creation => matches!(call, "take_snapshot" | "take_unchanged" | "commit_snapshot"),
        State::Restoration => matches!(call, "restore" | "close_generation"),
    };
    let mut refusals = 0;
    for state in [State::Dormant, State::Creation, State::Restoration] {
        match state {
            State::Creation => {
                snapper.init_snapshot().unwrap();
                snapper.take_snapshot(ObjectId(9), b"in progress").unwrap();
            }
            State::Restoration => snapper.open_generation(None).unwrap(),
            _ => {}
        }
        for (name, call) in calls {
            if allowed(state, name) {
                continue;
            }
            refused(
                &mut snapper,
                &platform,
                &format!("{name} in {state:?}"),
                Error::InvalidState,
                |s| call(s, &oldest),
            );
            refusals += 1;
        }
        match state {
            State::Creation => snapper.commit_snapshot().unwrap(),
            State::Restoration => snapper.close_generation().unwrap(),
            _ => {}
        }
    }
    assert_eq!(refusals, 5 + 7 + 8);
    // The generation created around the refusals holds what was taken.
    snapper.open_generation(None).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(snapper.restore(ObjectId(9), &mut buf), Ok(11));
}

#[test]
fn commit_with_no_objects_drops_the_generation() {
    let (mut snapper, platform) = two_generations(config());
    let disk = snapper.storage().clone();
    snapper.init_snapshot().unwrap();
    assert_eq!(snapper.commit_snapshot(), Err(Error::NoData));
    assert!(platform.logged(Level::Warning, "no objects"));
    assert_eq!(snapper.state(), State::Dormant);
    assert_eq!(snapper.storage(), &disk, "nothing is left of it");
    // A refused payload does not count as an object either.
    snapper.init_snapshot().unwrap();
    let _ = snapper.take_snapshot(ObjectId(1), &[0u8; 2000]);
    assert_eq!(snapper.commit_snapshot(), Err(Error::NoData));
    assert_eq!(snapper.storage(), &disk);
}

#[test]
fn purge_below_min_snapshots_is_denied() {
    let (mut snapper, platform) = two_generations(Config {
        min_snapshots: 2,
        ..config()
    });
    let oldest = names(&snapper)[0].clone();
    refused(
        &mut snapper,
        &platform,
        "purge oldest",
        Error::PurgeDenied,
        |s| s.purge(None),
    );
    refused(
        &mut snapper,
        &platform,
        "purge by name",
        Error::PurgeDenied,
        |s| s.purge(Some(&oldest)),
    );
    assert_eq!(snapper.purge_expired(), Ok(()));
    assert_eq!(names(&snapper).len(), 2);
}

#[test]
fn ids_zero_and_max_survive_every_operation() {
    let (mut snapper, _) = two_generations(Config {
        redundancy: 1,
        ..config()
    });
    snapper.purge(None).unwrap();
    snapper.purge_zombies().unwrap();
    let snapper_storage = snapper.into_storage();
    let mut snapper = Snapper::open(snapper_storage, SimPlatform::at(T0), config()).unwrap();
    snapper.open_generation(None).unwrap();
    let mut buf = [0u8; 100];
    for id in [0, u64::MAX] {
        assert_eq!(snapper.restore(ObjectId(id), &mut buf), Ok(100));
        assert_eq!(&buf[..], &payload(id, 1, 100)[..]);
    }
    assert_eq!(
        snapper.restore(ObjectId(u64::MAX - 1), &mut buf),
        Err(Error::NoMatches)
    );
}

#[test]
fn configs_with_bad_values_are_refused_naming_the_attribute() {
    let bad = [
        ("threshold", "0"),
        ("threshold", "1"),
        ("threshold", "-1"),
        ("threshold", "4294967296"),
        ("threshold", ""),
        ("threshold", " 5"),
        ("threshold", "0x10"),
        ("redundancy", "3.5"),
        ("redundancy", "99999999999999999999"),
        ("max_snapshots", "many"),
        ("min_snapshots", "-2"),
        ("expiration", "1h"),
        ("expiration", "18446744073709551616"),
        ("bufsize", "0"),
        ("bufsize", "4G"),
        ("bufsize", "1T"),
        ("bufsize", "K"),
        ("bufsize", "99999999999999999999M"),
        ("verbose", "maybe"),
        ("integrity", "YES!"),
        ("integrity", ""),
        ("pack_size", "0"),
        ("pack_size", "4095"),
        ("pack_size", "2G"),
        ("pack_size", "4MB"),
        ("pack_size", ""),
    ];
    for (attribute, value) in bad {
        let xml = format!("<config {attribute}=\"{value}\"/>");
        match Config::from_xml(&xml) {
            Err(ConfigError::BadValue {
                attribute: named, ..
            }) => {
                assert_eq!(named, attribute, "{xml}");
                let text = Config::from_xml(&xml).unwrap_err().to_string();
                assert!(text.contains(attribute), "{text}");
            }
            other => panic!("{xml}: {other:?}"),
        }
    }
    assert_eq!(
        Config::from_xml("<config max_snapshots=\"2\" min_snapshots=\"3\"/>"),
        Err(ConfigError::Contradiction)
    );
    for not_config in [
        "",
        "garbage",
        "<conf/>",
        "<config threshold=5/>",
        "<config threshold=\"5\" threshold=\"6\"/>",
        "<config threshold=\"5/>",
        "<config bufsize=\"&bogus;\"/>",
        "<!-- unterminated <config/>",
    ] {
        assert!(Config::from_xml(not_config).is_err(), "{not_config:?}");
    }
    assert_eq!(
        Config::from_xml("<config unknown=\"whatever\" threshold=\"2\"/>").map(|c| c.threshold),
        Ok(2),
        "unknown attributes are ignored"
    );
}

#[test]
fn foreign_entries_in_the_root_are_left_alone() {
    let (snapper, _) = two_generations(config());
    let mut disk = snapper.into_storage();
    use snapper_core::Storage;
    disk.create_dir("lost+found").unwrap();
    disk.write_new_file("README", &[b"not ours"]).unwrap();
    // A file under a generation-like name, and a directory with a
    // non-canonical one.
    disk.write_new_file("2026-11-24T18:40:00-00000077", &[b"file"])
        .unwrap();
    disk.create_dir("2026-11-24T18:40:00-77").unwrap();
    let mut snapper = Snapper::open(disk, SimPlatform::at(T0), config()).unwrap();
    assert_eq!(names(&snapper).len(), 2);
    snapper.purge_zombies().unwrap();
    snapper.purge(None).unwrap();
    snapper.purge(None).unwrap();
    let left: Vec<&String> = snapper.storage().nodes().keys().collect();
    assert_eq!(
        left,
        [
            "2026-11-24T18:40:00-00000077",
            "2026-11-24T18:40:00-77",
            "README",
            // The archive log, Snapper's, with no record left after the purges.
            "archives",
            "lost+found"
        ]
    );
}

/// The bounded property test: every fuzz target on seeded random bytes and
/// on mutations of valid encodings. A broken property panics with the seed
/// and the input.
#[test]
fn decoders_keep_their_properties_on_arbitrary_bytes() {
    let iterations = env_count("SNAPPER_FUZZ_ITERATIONS", 100_000);
    let seed = env_count("SNAPPER_FUZZ_SEED", 0xF022);
    let mut total = 0u64;
    let mut accepted = Vec::new();
    for (name, target) in TARGETS {
        let mut taken = 0u64;
        let corpus = seeds(name);
        assert!(!corpus.is_empty());
        for input in &corpus {
            target(input);
        }
        let mut rng = Rng::new(seed ^ name.len() as u64);
        for i in 0..iterations {
            let mut input = if rng.chance(1, 5) {
                let len = rng.index(300);
                rng.bytes(len)
            } else {
                corpus[rng.index(corpus.len())].clone()
            };
            mutate(&mut rng, &mut input);
            let outcome = std::panic::catch_unwind(|| target(&input));
            if let Err(panic) = outcome {
                panic!(
                    "{name}: iteration {i} (SNAPPER_FUZZ_SEED={seed}) broke a property: {}\ninput: {input:02x?}",
                    snapper_testkit::sweep::panic_text(&*panic)
                );
            }
            total += 1;
            taken += u64::from(accepts(name, &input));
        }
        accepted.push((name, taken));
    }
    eprintln!(
        "property test: {total} executions over {} targets, mutated inputs accepted: {accepted:?}",
        TARGETS.len()
    );
    if iterations >= 10_000 {
        for (name, taken) in accepted {
            assert!(
                taken > 0,
                "{name}: no mutated input gets past the first checks"
            );
        }
    }
}

/// The seeds are valid encodings, so that mutations of them reach past
/// the first checks (magic, length, CRC) into the rules behind them.
#[test]
fn the_seed_corpus_is_valid() {
    // A target without seeds would check nothing here.
    let some_seeds = |target: &str| {
        let corpus = seeds(target);
        assert!(!corpus.is_empty(), "no seeds for {target}");
        corpus
    };
    for input in some_seeds("archive") {
        assert!(snapper_core::archive::Archive::decode(&input).is_ok());
    }
    for input in some_seeds("pack") {
        let (_, records, damaged) = snapper_core::pack::check(&input).unwrap();
        assert_eq!(damaged, 0);
        assert!(input.len() == 32 || !records.is_empty());
    }
    for input in some_seeds("pack_index") {
        let offset = u32::from_le_bytes(input[..4].try_into().unwrap());
        let index = &input[4..];
        let trailer = snapper_core::pack::PackTrailer {
            generation: snapper_core::Generation(1),
            pack: snapper_core::PackNumber(0),
            records: (index.len() / snapper_core::pack::PACK_RECORD_LEN) as u32,
            index_offset: offset,
            index_crc: snapper_core::format::crc32(&[index]),
        };
        assert!(snapper_core::pack::parse_index(&trailer, index).is_ok());
    }
    for input in some_seeds("config") {
        let text = String::from_utf8(input).unwrap();
        assert!(Config::from_xml(&text).is_ok(), "{text}");
    }
}

/// Writes the seed corpus for cargo-fuzz into fuzz/corpus/<target>/.
/// `cargo test --test bad_input -- --ignored write_fuzz_corpus`
#[test]
#[ignore]
fn write_fuzz_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, _) in TARGETS {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, input) in seeds(name).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), input).unwrap();
        }
    }
}
