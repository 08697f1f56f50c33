//! The seed's Snapper test sequence as a client component: create a
//! generation of TESTS objects, create an unchanged one, restore and check
//! every value, purge, purge zombies, purge. Two tests are ours: restoring
//! again after the first purge and purge_zombies (the remaining generation
//! uses the purged one's files), and refusing a payload over the buffer.
//! One `[PASS]`/`[FAIL]` line per test and a summary; exit value 0 only if
//! all pass.
//!
//! TESTS comes from the environment at build time (default 1000); a `tests`
//! attribute in the component's config overrides it.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

use alloc::vec;
use snapper_genode::client::Client;
use snapper_genode::session::Reply;
use snapper_genode::{log_info, timer};

/// TESTS as given to the build, 1000 if unset or not a number.
pub fn build_time_tests() -> u32 {
    option_env!("TESTS")
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1000)
}

/// The number of objects: the config's `tests` attribute, else the build's.
pub fn configured_tests() -> u32 {
    match snapper_genode::config::attribute("tests") {
        Ok(Some(value)) => match value.trim().parse() {
            Ok(tests) => tests,
            Err(_) => {
                snapper_genode::log_warning!(
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

/// Runs the sequence with `tests` objects over `client`.
pub fn run(client: &mut Client, tests: u32) -> Outcome {
    let mut outcome = Outcome::default();
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

    log_info!("{}/{} tests passed.", outcome.passed, outcome.total);
    log_info!("-*- SNAPPER TESTS DONE -*-");
    outcome
}

/// Entry point called by the C++ shim's `Component::construct`.
#[cfg(feature = "genode")]
#[no_mangle]
pub extern "C" fn sg_component_construct() {
    let tests = configured_tests();
    let outcome = match Client::open() {
        Ok(mut client) => run(&mut client, tests),
        Err(e) => {
            snapper_genode::log_error!("snappertests: no Snapper session: {e}");
            snapper_genode::exit(2);
        }
    };
    snapper_genode::exit(if outcome.all_passed() { 0 } else { 1 });
}
