//! The `snapperbench` component's Rust code under `cargo test`: the bench
//! against the `snapper` server through the C ABI of
//! `src/genode/shim/snapper_genode.h`, here implemented on the host
//! (`genode_host`, `snapper_session::host`), storing into a temporary directory.
//!
//! On the host, server and bench are one "component" (one thread) sharing
//! one config and one VFS root: the floor's directory lands next to
//! Snapper's generations, as with the `root="/"` policy of the Genode
//! scenarios.
//!
//! Some tests serve the real server wrapped in a [`Faulty`] handler that
//! corrupts one restore or fails one commit, to show that the bench checks
//! bytes and replies rather than trusting them.

#[path = "common/root.rs"]
mod root;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use genode::log::Level;
use genode::vfs::Vfs;
use genode_host as host;
use root::{committed, entries};
use snapper_core::layout;
use snapper_core::Config;
use snapper_session::server::{self, Handler, SessionId};
use snapper_session::session::Reply;
use snapperbench::step;

fn temp_root(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("snapperbench-it-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Server attributes and the bench's, in one config as on the host both
/// read the same ROM. redundancy="0": no fresh copies, so the files written
/// are exactly the objects that changed.
fn config(bench: &str) -> String {
    format!(
        r#"<config verbose="no" redundancy="0" bufsize="1M" {bench}>
  <vfs> <fs/> </vfs>
</config>"#
    )
}

const SMALL: &str =
    r#"payload_num="64" payload_size="4K" generations="3" changed="25" restore="yes" floor="yes""#;

fn lines() -> Vec<(Level, String)> {
    host::log_lines()
}

fn errors() -> Vec<String> {
    lines()
        .into_iter()
        .filter(|(l, _)| *l == Level::Error)
        .map(|(_, m)| m)
        .collect()
}

/// The table's row for `step`, split into cells after the step name.
fn row(step: &str) -> Option<Vec<String>> {
    lines().into_iter().find_map(|(_, line)| {
        let rest = line.strip_prefix(step)?;
        // "generation 2" must not match "generation 2x": cells follow blanks
        rest.starts_with(' ')
            .then(|| rest.split_whitespace().map(String::from).collect())
    })
}

fn last_line() -> String {
    lines().last().map(|(_, l)| l.clone()).unwrap_or_default()
}

fn start_server(bench: &str, tag: &str) -> PathBuf {
    start_server_on(temp_root(tag), bench)
}

fn start_server_on(dir: PathBuf, bench: &str) -> PathBuf {
    host::install(&config(bench), &dir);
    snapper::start().unwrap_or_else(|e| panic!("server did not start: {e}"));
    dir
}

#[test]
fn bench_prints_one_table_and_succeeds() {
    let dir = start_server(SMALL, "table");

    let code = snapperbench::run_component();

    assert_eq!(code, snapperbench::EXIT_OK, "errors: {:?}", errors());
    assert!(errors().is_empty(), "{:?}", errors());
    assert_eq!(last_line(), snapperbench::DONE_LINE);

    // objects, bytes, ms, MiB/s[, vs floor]
    let whole = ["64", "262144"];
    let first = row(step::FIRST).expect("first snapshot row");
    assert_eq!(first[..2], whole);
    assert_eq!(first.len(), 5, "{first:?}");
    assert!(first[4].ends_with('x'), "ratio to the floor: {first:?}");
    for generation in [2, 3] {
        let r = row(&step::generation(generation, 16)).expect("generation row");
        assert_eq!(r[..2], whole, "every object is taken again: {r:?}");
        assert_eq!(r.len(), 4, "{r:?}");
    }
    assert!(row(&step::generation(4, 16)).is_none());
    let restore = row(step::RESTORE).expect("restore row");
    assert_eq!(restore[..2], whole);
    assert!(restore[4].ends_with('x'), "{restore:?}");
    for purge in [step::PURGE, step::ZOMBIES, step::FLOOR_REMOVE] {
        let r = row(purge).expect("purge row");
        assert_eq!(r[..2], ["-", "-"], "{purge}: {r:?}");
        assert_eq!(r[3], "-", "no throughput without bytes: {r:?}");
    }
    for floor in [step::FLOOR_WRITE, step::FLOOR_READ] {
        assert_eq!(row(floor).expect("floor row")[..2], whole);
    }
    let header = lines()
        .into_iter()
        .filter(|(_, l)| l.starts_with("step "))
        .count();
    assert_eq!(header, 1, "one table");

    // Snapper wrote every object once, then only the changed ones: the
    // payloads are the same bytes for an unchanged (id, version) and
    // different ones for a changed object. Each generation's new payloads
    // fit one pack; plus the archive log, made by the first commit (the
    // archives are records written in place into it), and the floor.
    let stats = host::stats();
    assert_eq!(stats.files_written, 3 + 1 + 1, "{stats:?}");
    // init + 64 takes + commit per generation, open + 64 restores + close,
    // purge, purge_zombies
    assert_eq!(snapper_session::host::rpcs(), 3 * 66 + 66 + 2);

    // The floor removed its directory. The oldest generation is purged: its
    // record is gone from the archive log, its directory stays for the
    // files the later generations still use.
    let left = entries(&dir);
    assert_eq!(left.len(), 3 + 1, "{left:?}");
    assert_eq!(left[3], layout::ARCHIVE_LOG, "{left:?}");
    for (name, generation) in left.iter().zip(1..4) {
        assert!(name.ends_with(&format!("-{generation:08}")), "{left:?}");
    }
    assert_eq!(committed(&dir), BTreeSet::from([2, 3]));
}

#[test]
fn a_leftover_floor_is_cleared_and_snapper_ignores_it() {
    // As an interrupted run leaves it, there before Snapper scans its root
    // and through every Snapper step.
    let dir = temp_root("leftover");
    fs::create_dir(dir.join(snapperbench::FLOOR_DIR)).unwrap();
    fs::write(dir.join(snapperbench::FLOOR_FILE), b"stale").unwrap();
    start_server_on(dir.clone(), SMALL);

    assert_eq!(
        snapperbench::run_component(),
        snapperbench::EXIT_OK,
        "{:?}",
        errors()
    );

    assert_eq!(
        row(step::FLOOR_READ).expect("floor read row")[..2],
        ["64", "262144"]
    );
    let left = entries(&dir);
    assert_eq!(
        left.len(),
        3 + 1,
        "only the generations and the archive log: {left:?}"
    );
    assert!(!left.iter().any(|n| n == snapperbench::FLOOR_DIR));
}

#[test]
fn restore_and_floor_can_be_left_out() {
    start_server(
        r#"payload_num="10" payload_size="100" generations="1" changed="0" restore="no" floor="no""#,
        "without",
    );
    assert_eq!(snapperbench::run_component(), snapperbench::EXIT_OK);
    let first = row(step::FIRST).expect("first snapshot row");
    assert_eq!(first[..2], ["10", "1000"]);
    assert_eq!(first.len(), 4, "no ratio without a floor: {first:?}");
    for absent in [step::RESTORE, step::FLOOR_WRITE, step::FLOOR_READ] {
        assert!(row(absent).is_none(), "{absent}");
    }
    assert!(row(step::PURGE).is_some() && row(step::ZOMBIES).is_some());
    assert_eq!(
        host::stats().files_written,
        1 + 1,
        "one pack, the archive log"
    );
    assert_eq!(last_line(), snapperbench::DONE_LINE);
}

/// The real server, with one fault.
struct Faulty<H: Handler> {
    inner: H,
    /// Flip a byte of this object's restored payload.
    corrupt_restore_of: Option<u64>,
    /// Answer StorageFailed to this commit (1 = the first).
    fail_commit: Option<u32>,
    commits: u32,
}

impl<H: Handler> Handler for Faulty<H> {
    fn init_snapshot(&mut self, s: SessionId) -> Reply {
        self.inner.init_snapshot(s)
    }
    fn take_snapshot(&mut self, s: SessionId, id: u64, payload: &[u8]) -> Reply {
        self.inner.take_snapshot(s, id, payload)
    }
    fn commit_snapshot(&mut self, s: SessionId) -> Reply {
        self.commits += 1;
        if self.fail_commit == Some(self.commits) {
            return Reply::StorageFailed;
        }
        self.inner.commit_snapshot(s)
    }
    fn open_generation(&mut self, s: SessionId, name: Option<&str>) -> Reply {
        self.inner.open_generation(s, name)
    }
    fn restore(&mut self, s: SessionId, id: u64, buf: &mut [u8]) -> Reply {
        let reply = self.inner.restore(s, id, buf);
        if self.corrupt_restore_of == Some(id) {
            if let Some(byte) = buf.get_mut(100) {
                *byte ^= 0x01;
            }
        }
        reply
    }
    fn close_generation(&mut self, s: SessionId) -> Reply {
        self.inner.close_generation(s)
    }
    fn purge(&mut self, s: SessionId, name: Option<&str>) -> Reply {
        self.inner.purge(s, name)
    }
    fn purge_expired(&mut self, s: SessionId) -> Reply {
        self.inner.purge_expired(s)
    }
    fn purge_zombies(&mut self, s: SessionId) -> Reply {
        self.inner.purge_zombies(s)
    }
    fn session_closed(&mut self, s: SessionId) {
        self.inner.session_closed(s)
    }
    fn take_unchanged(&mut self, s: SessionId, id: u64) -> Reply {
        self.inner.take_unchanged(s, id)
    }
    fn restore_sized(&mut self, s: SessionId, id: u64, buf: &mut [u8]) -> Result<usize, Reply> {
        let reply = self.inner.restore_sized(s, id, buf);
        if self.corrupt_restore_of == Some(id) {
            if let Some(byte) = buf.get_mut(100) {
                *byte ^= 0x01;
            }
        }
        reply
    }
}

fn start_faulty(tag: &str, corrupt_restore_of: Option<u64>, fail_commit: Option<u32>) -> PathBuf {
    let dir = temp_root(tag);
    host::install(&config(SMALL), &dir);
    let storage = snapper::VfsStorage::new(Vfs::init().unwrap(), "").unwrap();
    let core = snapper_core::Snapper::open(
        storage,
        snapper::GenodePlatform::default(),
        Config::from_attributes([("redundancy", "0")]).unwrap(),
    )
    .unwrap();
    let handler = Faulty {
        inner: snapper::Server::new(core),
        corrupt_restore_of,
        fail_commit,
        commits: 0,
    };
    server::serve(handler, 1 << 20).unwrap();
    dir
}

#[test]
fn restored_bytes_that_differ_fail_the_run() {
    start_faulty("corrupt", Some(5), None);

    assert_eq!(snapperbench::run_component(), snapperbench::EXIT_FAILED);

    let errors = errors();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("restored bytes differ for 1 of 64 objects (first: object 5)")),
        "{errors:?}"
    );
    assert!(
        row(step::RESTORE).is_none(),
        "a failed step has no timing row"
    );
    assert!(
        last_line().starts_with(snapperbench::FAILED_PREFIX),
        "{}",
        last_line()
    );
    assert!(!lines().iter().any(|(_, l)| l == snapperbench::DONE_LINE));
    // the table is still printed, with what did succeed
    assert!(row(step::FIRST).is_some());
}

#[test]
fn a_failed_snapper_call_fails_the_run() {
    start_faulty("commit", None, Some(2));

    assert_eq!(snapperbench::run_component(), snapperbench::EXIT_FAILED);

    let errors = errors();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("commit_snapshot answered StorageFailed (13)")),
        "{errors:?}"
    );
    assert!(row(step::FIRST).is_some());
    assert!(row(&step::generation(2, 16)).is_none());
    assert!(
        row(step::RESTORE).is_none(),
        "no Snapper step after a failure"
    );
    // The floor does not depend on Snapper's state and still ran.
    assert!(row(step::FLOOR_READ).is_some());
    assert!(
        last_line().starts_with(snapperbench::FAILED_PREFIX),
        "{}",
        last_line()
    );
}

/// Runs the bench with one malformed attribute: exit value 2, an error
/// naming the attribute, and not one call reached Snapper.
fn refused(attribute: &str, value: &str) {
    let dir = start_server(&format!(r#"{attribute}="{value}""#), attribute);

    assert_eq!(snapperbench::run_component(), snapperbench::EXIT_CONFIG);

    let errors = errors();
    let expected = format!("snapperbench: config attribute '{attribute}': expected ");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&expected) && e.contains(value)),
        "{errors:?}"
    );
    assert_eq!(snapper_session::host::rpcs(), 0);
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
}

#[test]
fn malformed_payload_num_is_refused() {
    refused("payload_num", "lots");
}

#[test]
fn malformed_payload_size_is_refused() {
    refused("payload_size", "4X");
}

#[test]
fn malformed_generations_is_refused() {
    refused("generations", "0");
}

#[test]
fn malformed_changed_is_refused() {
    refused("changed", "110");
}

#[test]
fn malformed_restore_is_refused() {
    refused("restore", "maybe");
}

#[test]
fn malformed_floor_is_refused() {
    refused("floor", "sometimes");
}

#[test]
fn payload_over_the_server_buffer_is_refused_before_any_call() {
    start_server(r#"payload_size="2M""#, "overbuf");
    assert_eq!(snapperbench::run_component(), snapperbench::EXIT_CONFIG);
    let errors = errors();
    assert!(
        errors.iter().any(|e| e.contains("'payload_size'")
            && e.contains("2097152 bytes")
            && e.contains("1048576 bytes")
            && e.contains("bufsize")),
        "{errors:?}"
    );
    assert_eq!(snapper_session::host::rpcs(), 0);
}

/// batch="yes" and hints="yes": the same steps through the batched calls,
/// every restored byte checked, in far fewer RPCs than objects.
#[test]
fn bench_through_batches_and_hints_succeeds_in_few_rpcs() {
    for (tag, options, max_rpcs) in [
        ("batch", r#"batch="yes""#, 40),
        ("hints", r#"batch="yes" hints="yes""#, 40),
        ("hints-only", r#"hints="yes" restore="no""#, 80),
        ("plain", "", 64 * 4),
    ] {
        let bench = format!("{SMALL} {options}");
        let bench = if options.contains("restore") {
            bench.replace(r#"restore="yes" "#, "")
        } else {
            bench
        };
        start_server(&bench, tag);
        let before = snapper_session::host::rpcs();
        let code = snapperbench::run_component();
        let rpcs = snapper_session::host::rpcs() - before;
        assert_eq!(code, snapperbench::EXIT_OK, "{tag}: errors: {:?}", errors());
        assert_eq!(last_line(), snapperbench::DONE_LINE, "{tag}");
        if tag == "plain" {
            assert!(rpcs >= 64 * 4, "{tag}: {rpcs} RPCs");
        } else {
            assert!(rpcs <= max_rpcs, "{tag}: {rpcs} RPCs");
        }
    }
}
