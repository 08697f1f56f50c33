//! The Genode components' Rust code under `cargo test`: the `snapper` server
//! and the `snappertests` client talk through the C ABI of
//! `src/genode/shim/snapper_genode.h`, here implemented on the host
//! (`genode_host`, `snapper_session::host`), storing into a temporary directory.
//!
//! TESTS (environment, default 1000) sets the number of objects of the
//! seed's sequence, as for the Genode build.

#[path = "common/root.rs"]
mod root;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use genode::log::Level;
use genode_host as host;
use root::{committed, entries};
use snapper_core::layout;
use snapper_session::client::Client;
use snapper_session::session::Reply;

fn temp_root(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("snapper-genode-it-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn tests_from_env() -> u32 {
    std::env::var("TESTS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1000)
}

const CONFIG: &str = r#"<config verbose="false" redundancy="2" integrity="true"
    max_snapshots="0" min_snapshots="0" threshold="100" expiration="3600" bufsize="1M">
  <rtc/>
  <vfs> <fs/> </vfs>
</config>"#;

/// Starts the server on this thread's host component and opens a session.
fn start(config: &str, tag: &str) -> (Client, PathBuf) {
    let dir = temp_root(tag);
    host::install(config, &dir);
    snapper::start().unwrap_or_else(|e| panic!("server did not start: {e}"));
    let ready = host::log_lines()
        .iter()
        .any(|(level, line)| *level == Level::Info && line == snapper::READY_LINE);
    assert!(
        ready,
        "no '{}' line in {:?}",
        snapper::READY_LINE,
        host::log_lines()
    );
    (Client::open().expect("session"), dir)
}

/// Runs the seed's sequence through the host ABI under `config` and
/// checks its outcome and the I/O it cost: `pack_size` is the config's,
/// `archive_log` its attribute.
fn seed_sequence(config: &str, tag: &str, pack_size: u64, archive_log: bool) {
    let tests = tests_from_env();
    let (mut client, dir) = start(config, tag);
    assert_eq!(client.buffer_size(), 1 << 20);

    let outcome = snappertests::run(&mut client, tests);

    let lines = host::log_lines();
    let pass = lines
        .iter()
        .filter(|(_, l)| l.starts_with("[PASS]"))
        .count();
    let fail: Vec<_> = lines
        .iter()
        .filter(|(_, l)| l.starts_with("[FAIL]"))
        .collect();
    println!(
        "{}/{} tests passed with TESTS={tests}; {}",
        outcome.passed,
        outcome.total,
        host::describe()
    );
    assert!(fail.is_empty(), "failed: {fail:?}");
    assert_eq!(pass, 8);
    assert_eq!(
        outcome,
        snappertests::Outcome {
            passed: 8,
            total: 8
        }
    );
    assert!(lines.iter().any(|(_, l)| l == "8/8 tests passed."));

    // Both generations are purged; what is left is no generation at all:
    // the archive log (made once and kept) with no record in it.
    let left = entries(&dir);
    if archive_log {
        assert_eq!(left, [layout::ARCHIVE_LOG], "left behind: {left:?}");
    } else {
        assert!(left.is_empty(), "left behind: {left:?}");
    }
    assert_eq!(committed(&dir), BTreeSet::new());

    // Format 2: the first snapshot writes its TESTS 4-byte payloads into
    // ceil(4 * TESTS / pack_size) packs, the unchanged second one no pack
    // (redundancy 2: its payloads serve one generation before it), none
    // per object or pack (format 1: one file per object, TESTS + 2).
    let stats = host::stats();
    let packs = (4 * u64::from(tests)).div_ceil(pack_size);
    if archive_log {
        // The first commit makes the archive log with its record in it;
        // the second writes its record in place; each seals it (one write
        // in place), each purge zeroes the seal, then the header (two).
        // Syncs: the packs' (first commit only), the record's and the
        // seal's per commit; two per purge.
        assert_eq!(
            stats.files_written,
            packs + 1,
            "{packs} packs and the archive log: {stats:?}"
        );
        assert_eq!(stats.writes_in_place, 1 + 2 + 2 * 2, "{stats:?}");
        assert_eq!(
            stats.syncs,
            (1 + 2) + 2 + 2 * 2,
            "syncs of the sequence: {stats:?}"
        );
    } else {
        // Each commit writes its archive file: two syncs per commit, one
        // per purge.
        assert_eq!(
            stats.files_written,
            packs + 2,
            "{packs} packs and two archives: {stats:?}"
        );
        assert_eq!(stats.writes_in_place, 0, "{stats:?}");
        assert_eq!(stats.syncs, 2 * 2 + 2, "syncs of the sequence: {stats:?}");
    }
    drop(client);
}

#[test]
fn seed_sequence_passes_through_the_host_abi() {
    seed_sequence(
        CONFIG,
        "sequence",
        snapper_core::config::DEFAULT_PACK_SIZE,
        true,
    );
}

/// The same with archives as `<gen>/archive` files (`archive_log="no"`):
/// their I/O cost.
#[test]
fn seed_sequence_with_archive_files() {
    let config = CONFIG.replace("<config ", "<config archive_log=\"no\" ");
    seed_sequence(
        &config,
        "archive-files",
        snapper_core::config::DEFAULT_PACK_SIZE,
        false,
    );
}

/// The same with 4 KiB packs (the `pack_size` attribute): TESTS=1000
/// takes one pack, TESTS=5000 five.
#[test]
fn seed_sequence_with_small_packs() {
    let config = CONFIG.replace("<config ", "<config pack_size=\"4K\" ");
    seed_sequence(&config, "small-packs", 4096, true);
}

#[test]
fn payload_over_bufsize_is_refused_with_a_result() {
    let config = CONFIG.replace("bufsize=\"1M\"", "bufsize=\"4K\"");
    let (mut client, _dir) = start(&config, "oversize");
    assert_eq!(client.buffer_size(), 4096);

    assert!(matches!(
        client.init_snapshot(),
        Reply::Ok | Reply::NoPriorGen
    ));
    let big = vec![7u8; 4097];
    // Refused by the client before copying, and by the server for a client
    // that skips the check: Result 11, nothing stored, the session goes on.
    assert_eq!(client.take_snapshot(1, &big), Reply::PayloadTooLarge);
    assert_eq!(
        client.take_snapshot_in_place(1, 4097),
        Reply::PayloadTooLarge
    );
    assert_eq!(
        client.take_snapshot_in_place(1, usize::MAX),
        Reply::PayloadTooLarge
    );
    assert_eq!(Reply::PayloadTooLarge.code(), 11);

    assert_eq!(client.take_snapshot(2, &big[..4096]), Reply::Ok);
    assert_eq!(client.commit_snapshot(), Reply::Ok);
    assert_eq!(client.open_generation(None), Reply::Ok);
    let mut out = vec![0u8; 4096];
    assert_eq!(client.restore(2, &mut out), Reply::Ok);
    assert_eq!(out, big[..4096]);
    assert_eq!(client.restore(1, &mut out), Reply::NoMatches);
    // A restore buffer smaller than the object: refused, not truncated.
    let mut small = [0u8; 16];
    assert_eq!(client.restore(2, &mut small), Reply::BufferTooSmall);
    assert_eq!(client.close_generation(), Reply::Ok);
}

#[test]
fn unknown_generation_and_wrong_state_answer_results() {
    let (mut client, _dir) = start(CONFIG, "states");
    assert_eq!(client.commit_snapshot(), Reply::InvalidState);
    assert_eq!(client.restore(1, &mut [0u8; 4]), Reply::InvalidState);
    assert_eq!(
        client.open_generation(Some("1999-01-01 00:00:00")),
        Reply::LoadGenFailed
    );
    assert_eq!(
        client.open_generation(Some("../../etc")),
        Reply::LoadGenFailed
    );
    assert_eq!(client.purge(None), Reply::NoPriorGen);
}

#[test]
fn purge_by_name_purges_only_that_generation() {
    let (mut client, _dir) = start(CONFIG, "purge-name");
    assert_eq!(client.init_snapshot(), Reply::NoPriorGen);
    assert_eq!(client.take_snapshot(1, b"one"), Reply::Ok);
    assert_eq!(client.commit_snapshot(), Reply::Ok);
    // the name reaches the server: purge(None) would take the oldest
    assert_ne!(
        client.purge(Some("1999-01-01T00:00:00-00000001")),
        Reply::Ok
    );
    assert_eq!(client.open_generation(None), Reply::Ok);
    assert_eq!(client.close_generation(), Reply::Ok);
    assert_eq!(client.purge(None), Reply::Ok);
}

#[test]
fn closing_a_session_mid_creation_leaves_snapper_usable() {
    let (mut client, _dir) = start(CONFIG, "abort");
    assert!(matches!(
        client.init_snapshot(),
        Reply::Ok | Reply::NoPriorGen
    ));
    assert_eq!(client.take_snapshot(1, b"one"), Reply::Ok);
    drop(client);
    assert!(host::log_lines()
        .iter()
        .any(|(l, m)| *l == Level::Warning && m.contains("aborting")));

    let mut client = Client::open().unwrap();
    assert_eq!(
        client.init_snapshot(),
        Reply::NoPriorGen,
        "the aborted generation must not count"
    );
    assert_eq!(client.take_snapshot(1, b"uno"), Reply::Ok);
    assert_eq!(client.commit_snapshot(), Reply::Ok);
    assert_eq!(client.open_generation(None), Reply::Ok);
    let mut out = [0u8; 3];
    assert_eq!(client.restore(1, &mut out), Reply::Ok);
    assert_eq!(&out, b"uno");
}

#[test]
fn bad_config_refuses_to_start() {
    let dir = temp_root("badconfig");
    host::install(r#"<config max_snapshots="two"/>"#, &dir);
    let error = snapper::start().unwrap_err();
    assert!(format!("{error}").contains("max_snapshots"), "{error}");

    host::install("<config/>", &dir.join("missing"));
    assert!(matches!(snapper::start(), Err(snapper::StartError::Vfs(_))));
}

#[test]
fn root_attribute_keeps_generations_in_a_subdirectory() {
    let config = CONFIG.replace("<config ", "<config root=\"snapper/data\" ");
    let (mut client, dir) = start(&config, "subroot");
    fs::write(dir.join("unrelated"), b"x").unwrap();
    assert!(matches!(
        client.init_snapshot(),
        Reply::Ok | Reply::NoPriorGen
    ));
    assert_eq!(client.take_snapshot(9, b"nine"), Reply::Ok);
    assert_eq!(client.commit_snapshot(), Reply::Ok);
    // the generation's directory (it wrote a pack) and the archive log
    let root = dir.join("snapper/data");
    let gens = entries(&root);
    assert_eq!(gens.len(), 2, "{gens:?}");
    assert!(gens[0].ends_with("-00000001"), "{gens:?}");
    assert_eq!(gens[1], layout::ARCHIVE_LOG);
    assert_eq!(committed(&root), BTreeSet::from([1]));
    assert_eq!(client.purge_zombies(), Reply::Ok);
    assert!(dir.join("unrelated").exists());
    assert_eq!(entries(&dir), ["snapper", "unrelated"]);
}

/// 2.0's sequence, then the batched tests, as the component runs them.
#[test]
fn seed_sequence_then_batched_tests_pass() {
    let tests = tests_from_env().min(2000);
    let (mut client, dir) = start(CONFIG, "batched");
    let outcome = snappertests::run_all(&mut client, tests);
    let fail: Vec<_> = host::log_lines()
        .into_iter()
        .filter(|(_, l)| l.starts_with("[FAIL]"))
        .collect();
    assert!(fail.is_empty(), "failed: {fail:?}");
    assert_eq!(
        outcome,
        snappertests::Outcome {
            passed: 14,
            total: 14
        }
    );
    // the batched tests purge what they made; the archive log stays
    let left = entries(&dir);
    assert_eq!(left, [layout::ARCHIVE_LOG], "left behind: {left:?}");
    assert_eq!(committed(&dir), BTreeSet::new());
}
