//! The seed's Snapper test sequence as a client component: create a
//! generation of TESTS objects, create an unchanged one, restore and check
//! every value, purge, purge zombies, purge. Two tests are ours: restoring
//! again after the first purge and purge_zombies (the remaining generation
//! uses the purged one's files), and refusing a payload over the buffer.
//! [`run_all`] (what the component runs) then exercises the batched calls
//! appended after 2.0's ([`batched`]). One `[PASS]`/`[FAIL]` line per test and a summary; exit value 0 only if
//! all pass.
//!
//! TESTS comes from the environment at build time (default 1000); a `tests`
//! attribute in the component's config overrides it.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use genode::{log_info, timer};
use snapper_session::batch::{self, Header, Record, TakeWriter};
use snapper_session::client::{BatchReply, Client};
use snapper_session::session::Reply;

/// TESTS as given to the build, 1000 if unset or not a number.
pub fn build_time_tests() -> u32 {
    option_env!("TESTS")
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1000)
}

/// The number of objects: the config's `tests` attribute, else the build's.
pub fn configured_tests() -> u32 {
    match genode::config::attribute("tests") {
        Ok(Some(value)) => match value.trim().parse() {
            Ok(tests) => tests,
            Err(_) => {
                genode::log_warning!(
                    "config attribute tests=\"{value}\" is not a number, using {}",
                    build_time_tests()
                );
                build_time_tests()
            }
        },
        _ => build_time_tests(),
    }
}

/// How a run went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Tests that passed.
    pub passed: u32,
    /// Tests run.
    pub total: u32,
}

impl Outcome {
    /// Whether every test passed.
    pub fn all_passed(&self) -> bool {
        self.passed == self.total && self.total > 0
    }

    fn record(&mut self, name: &str, started_us: u64, result: Result<(), alloc::string::String>) {
        self.total += 1;
        let ms = timer::elapsed_us().saturating_sub(started_us) / 1000;
        match result {
            Ok(()) => {
                self.passed += 1;
                log_info!("[PASS] {name} ({ms} ms)");
            }
            Err(why) => log_info!("[FAIL] {name} ({ms} ms): {why}"),
        }
    }
}

/// The payload of object `i`, as 2.0's test: the 4-byte integer `i`.
fn payload(i: u32) -> [u8; 4] {
    i.to_le_bytes()
}

fn expect(what: &str, got: Reply, allowed: &[Reply]) -> Result<(), alloc::string::String> {
    if allowed.contains(&got) {
        Ok(())
    } else {
        Err(alloc::format!("{what} answered {got}"))
    }
}

fn snapshot_creation(client: &mut Client, tests: u32) -> Result<(), alloc::string::String> {
    expect(
        "init_snapshot",
        client.init_snapshot(),
        &[Reply::Ok, Reply::NoPriorGen],
    )?;
    for i in 1..=tests {
        expect(
            "take_snapshot",
            client.take_snapshot(u64::from(i), &payload(i)),
            &[Reply::Ok],
        )
        .map_err(|e| alloc::format!("object {i}: {e}"))?;
    }
    expect("commit_snapshot", client.commit_snapshot(), &[Reply::Ok])
}

fn successful_recovery(client: &mut Client, tests: u32) -> Result<(), alloc::string::String> {
    expect(
        "open_generation",
        client.open_generation(None),
        &[Reply::Ok],
    )?;
    let mut checked = Ok(());
    for i in 1..=tests {
        let mut value = [0u8; 4];
        let reply = client.restore(u64::from(i), &mut value);
        if reply != Reply::Ok {
            checked = Err(alloc::format!("restore of object {i} answered {reply}"));
            break;
        }
        if value != payload(i) {
            checked = Err(alloc::format!(
                "object {i} restored as {}",
                u32::from_le_bytes(value)
            ));
            break;
        }
    }
    // Close even after a failure, so that the purges below can run.
    let closed = expect("close_generation", client.close_generation(), &[Reply::Ok]);
    checked.and(closed)
}

fn oversized_payload_refused(client: &mut Client) -> Result<(), alloc::string::String> {
    let too_big = vec![0x5a; client.buffer_size() + 1];
    expect(
        "take_snapshot of bufsize+1 bytes",
        client.take_snapshot(1, &too_big),
        &[Reply::PayloadTooLarge],
    )?;
    // The server must refuse it too, for a client that skips the check.
    expect(
        "raw take_snapshot of bufsize+1 bytes",
        client.take_snapshot_in_place(1, client.buffer_size() + 1),
        &[Reply::PayloadTooLarge],
    )
}

/// Runs 2.0's sequence with `tests` objects over `client`.
pub fn run(client: &mut Client, tests: u32) -> Outcome {
    let mut outcome = Outcome::default();
    seed(client, tests, &mut outcome);
    summary(outcome)
}

/// Runs 2.0's sequence, then the batched tests ([`batched`]).
pub fn run_all(client: &mut Client, tests: u32) -> Outcome {
    let mut outcome = Outcome::default();
    seed(client, tests, &mut outcome);
    batched(client, tests, &mut outcome);
    summary(outcome)
}

fn summary(outcome: Outcome) -> Outcome {
    log_info!("{}/{} tests passed.", outcome.passed, outcome.total);
    log_info!("-*- SNAPPER TESTS DONE -*-");
    outcome
}

fn seed(client: &mut Client, tests: u32, outcome: &mut Outcome) {
    log_info!(
        "-*- SNAPPER TEST SUITE -*- ({tests} objects, buffer {} bytes)",
        client.buffer_size()
    );

    let t = timer::elapsed_us();
    outcome.record("snapshot_creation", t, snapshot_creation(client, tests));
    let t = timer::elapsed_us();
    // unchanged objects: linked to the first generation's files
    outcome.record(
        "snapshot_creation (unchanged)",
        t,
        snapshot_creation(client, tests),
    );
    let t = timer::elapsed_us();
    outcome.record("successful_recovery", t, successful_recovery(client, tests));
    let t = timer::elapsed_us();
    outcome.record(
        "snapshot_purge",
        t,
        expect("purge", client.purge(None), &[Reply::Ok]),
    );
    let t = timer::elapsed_us();
    outcome.record(
        "snapshot_purge_zombies",
        t,
        expect("purge_zombies", client.purge_zombies(), &[Reply::Ok]),
    );
    let t = timer::elapsed_us();
    // not in 2.0's sequence: the remaining generation links to the purged
    // one's files, which neither purge nor purge_zombies may have deleted
    outcome.record(
        "recovery_after_purges",
        t,
        successful_recovery(client, tests),
    );
    let t = timer::elapsed_us();
    outcome.record(
        "snapshot_purge",
        t,
        expect("purge", client.purge(None), &[Reply::Ok]),
    );
    let t = timer::elapsed_us();
    outcome.record(
        "oversized_payload_refused",
        t,
        oversized_payload_refused(client),
    );
}

type Checked = Result<(), alloc::string::String>;

/// The payload of object `i` in generation `generation` of the batched
/// tests: distinct from the seed's, so a stale object shows.
fn batch_payload(i: u32, generation: u32) -> [u8; 8] {
    let mut p = [0u8; 8];
    p[..4].copy_from_slice(&i.to_le_bytes());
    p[4..].copy_from_slice(&generation.to_le_bytes());
    p
}

fn batch_failed(what: &str, f: snapper_session::client::BatchFailure) -> alloc::string::String {
    alloc::format!(
        "{what}: object {} answered {} ({} dropped)",
        f.id,
        f.reply,
        f.dropped
    )
}

/// One generation through the `Batch` builder: object `i` changed (new
/// payload of `generation`) if `changed(i)`, else hinted.
fn batched_generation(
    client: &mut Client,
    tests: u32,
    generation: u32,
    changed: impl Fn(u32) -> bool,
) -> Checked {
    expect(
        "init_snapshot",
        client.init_snapshot(),
        &[Reply::Ok, Reply::NoPriorGen],
    )?;
    let mut batch = client.batch();
    for i in 1..=tests {
        let result = if changed(i) {
            batch.take(u64::from(i), &batch_payload(i, generation))
        } else {
            batch.hint(u64::from(i))
        };
        result.map_err(|f| batch_failed("batch", f))?;
    }
    batch.flush().map_err(|f| batch_failed("flush", f))?;
    drop(batch);
    expect("commit_snapshot", client.commit_snapshot(), &[Reply::Ok])
}

/// Restores objects 1..=tests with `restore_all` and checks that object
/// `i` holds generation `generation_of(i)`'s payload.
fn batched_recovery(
    client: &mut Client,
    tests: u32,
    generation_of: impl Fn(u32) -> u32,
) -> Checked {
    expect(
        "open_generation",
        client.open_generation(None),
        &[Reply::Ok],
    )?;
    let ids: Vec<u64> = (1..=u64::from(tests)).collect();
    let mut seen = 0u32;
    let mut wrong: Option<alloc::string::String> = None;
    let reply = client.restore_all(&ids, |id, got| {
        seen += 1;
        let i = id as u32;
        let want = batch_payload(i, generation_of(i));
        match got {
            Ok(bytes) if bytes == want => {}
            Ok(bytes) if wrong.is_none() => {
                wrong = Some(alloc::format!("object {id} restored as {bytes:?}"))
            }
            Err(reply) if wrong.is_none() => {
                wrong = Some(alloc::format!("restore of object {id} answered {reply}"))
            }
            _ => {}
        }
    });
    let closed = expect("close_generation", client.close_generation(), &[Reply::Ok]);
    expect("restore_all", reply, &[Reply::Ok])?;
    if let Some(why) = wrong {
        return Err(why);
    }
    if seen != tests {
        return Err(alloc::format!(
            "restore_all handed back {seen} of {tests} objects"
        ));
    }
    closed
}

fn expect_batch(what: &str, got: BatchReply, want: BatchReply) -> Checked {
    if got == want {
        Ok(())
    } else {
        Err(alloc::format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// A refused batch: nothing done; `failed` names the malformed record, if
/// one is at fault rather than the header.
fn refused(result: Reply, failed: Option<u32>) -> BatchReply {
    BatchReply {
        result,
        done: 0,
        failed,
    }
}

/// Ids the bad batches below use; none may be stored.
const BAD_IDS: [u64; 4] = [900_001, 900_002, 900_003, 900_004];

/// One generation of bad batches next to a good object: a hint for an id
/// the base lacks, a record larger than the buffer, a count overrunning
/// the buffer, sizes overrunning it. Each answers its code; afterwards
/// only the good objects are there.
fn bad_batches(client: &mut Client) -> Checked {
    expect(
        "init_snapshot",
        client.init_snapshot(),
        &[Reply::Ok, Reply::NoPriorGen],
    )?;
    let len = client.buffer_size();
    let [a, b, c, d] = BAD_IDS;

    // a hint for an unknown id between two good records: the first taken,
    // the hint fails with NoMatches, the third is not taken
    let mut w = TakeWriter::new(len);
    let ok = w.push(client.buffer_mut(), 1, b"good")
        && w.hint(a)
        && w.push(client.buffer_mut(), b, b"later");
    if !ok || !w.finish(client.buffer_mut()) {
        return Err("could not build the batch".into());
    }
    expect_batch(
        "hint for an unknown id",
        client.take_batch(),
        BatchReply {
            result: Reply::NoMatches,
            done: 1,
            failed: Some(1),
        },
    )?;

    // a record larger than the buffer: the builder refuses it, nothing sent
    let too_big = vec![0x5a; len + 1];
    match client.batch().take(c, &too_big) {
        Err(f) if f.reply == Reply::PayloadTooLarge => {}
        other => return Err(alloc::format!("record over the buffer: {other:?}")),
    }
    // ... and the server, for a client that writes the record itself
    let mut w = TakeWriter::new(len);
    let _ = w.push(client.buffer_mut(), c, b"x");
    let _ = w.finish(client.buffer_mut());
    let table = Header::read(client.buffer_mut()).map_or(0, |h| h.table_offset as usize);
    let oversized = Record {
        id: c,
        offset: batch::HEADER_LEN as u32,
        size: len as u32 + 1,
        ..Record::default()
    };
    oversized.write(client.buffer_mut(), table);
    expect_batch(
        "record over the buffer",
        client.take_batch(),
        refused(Reply::MalformedBatch, Some(0)),
    )?;

    // a count whose table overruns the buffer
    Header::request(
        batch::KIND_TAKE,
        (len / batch::RECORD_LEN) as u32,
        batch::HEADER_LEN as u32,
    )
    .write(client.buffer_mut());
    expect_batch(
        "count over the buffer",
        client.take_batch(),
        refused(Reply::MalformedBatch, None),
    )?;

    // a good record, then one whose size runs past the buffer: the whole
    // batch is refused, the good one included
    let mut w = TakeWriter::new(len);
    let _ = w.push(client.buffer_mut(), d, b"fine");
    let _ = w.push(client.buffer_mut(), b, b"overrun");
    let _ = w.finish(client.buffer_mut());
    let table = Header::read(client.buffer_mut()).map_or(0, |h| h.table_offset as usize);
    let at = table + batch::RECORD_LEN;
    if let Some(mut r) = Record::read(client.buffer_mut(), at) {
        r.size = u32::MAX - 4;
        r.write(client.buffer_mut(), at);
    }
    expect_batch(
        "sizes over the buffer",
        client.take_batch(),
        refused(Reply::MalformedBatch, Some(1)),
    )?;

    expect("commit_snapshot", client.commit_snapshot(), &[Reply::Ok])?;
    expect(
        "open_generation",
        client.open_generation(None),
        &[Reply::Ok],
    )?;
    let mut out = [0u8; 4];
    let good = expect(
        "restore of the good record",
        client.restore(1, &mut out),
        &[Reply::Ok],
    );
    let mut stored = Vec::new();
    for id in BAD_IDS {
        if client.restore(id, &mut [0u8; 16]) != Reply::NoMatches {
            stored.push(id);
        }
    }
    let closed = expect("close_generation", client.close_generation(), &[Reply::Ok]);
    good?;
    if &out != b"good" {
        return Err(alloc::format!("object 1 restored as {out:?}"));
    }
    if !stored.is_empty() {
        return Err(alloc::format!("stored from bad batches: {stored:?}"));
    }
    closed
}

/// The batched calls, after 2.0's sequence: a batched take of all
/// objects, batched restore, a generation of hints (every tenth object
/// changed), the bad batches, and a purge of what they left.
pub fn batched(client: &mut Client, tests: u32, outcome: &mut Outcome) {
    let t = timer::elapsed_us();
    outcome.record(
        "batched_take",
        t,
        batched_generation(client, tests, 1, |_| true),
    );
    let t = timer::elapsed_us();
    outcome.record("batched_restore", t, batched_recovery(client, tests, |_| 1));
    let t = timer::elapsed_us();
    outcome.record(
        "batched_take (hints, 10 % changed)",
        t,
        batched_generation(client, tests, 2, |i| i % 10 == 0),
    );
    let t = timer::elapsed_us();
    outcome.record(
        "batched_restore (after hints)",
        t,
        batched_recovery(client, tests, |i| if i % 10 == 0 { 2 } else { 1 }),
    );
    let t = timer::elapsed_us();
    outcome.record("bad_batches_store_nothing", t, bad_batches(client));
    let t = timer::elapsed_us();
    let mut purged = Ok(());
    for _ in 0..3 {
        purged = purged.and(expect("purge", client.purge(None), &[Reply::Ok]));
    }
    outcome.record("batched_purge", t, purged);
}

/// Entry point called by the C++ shim's `Component::construct`.
#[cfg(feature = "genode")]
#[no_mangle]
pub extern "C" fn sg_component_construct() {
    let tests = configured_tests();
    let outcome = match Client::open() {
        Ok(mut client) => run_all(&mut client, tests),
        Err(e) => {
            genode::log_error!("snappertests: no Snapper session: {e}");
            genode::exit(2);
        }
    };
    genode::exit(if outcome.all_passed() { 0 } else { 1 });
}
