//! Snapper's benchmark as a Genode client component, the counterpart of
//! Snapper 2.0's `snapperbench` (which took one generation of PAYLOAD_NUM
//! objects of PAYLOAD_SIZE megabytes and left the timing to `perf`).
//!
//! Steps, each timed with the Timer session: the first snapshot (init, take
//! every object, commit), each later generation with `changed` percent of
//! the objects changed, restoring every object of the last generation and
//! checking its bytes, purging the oldest generation, purge_zombies. Then
//! the floor, without Snapper, through the component's own `<vfs>`: the
//! first snapshot's bytes written as one file and synced, read back and
//! checked, removed. One table at the end (see [`table`]), then
//! [`DONE_LINE`] and exit value 0, or a line starting with
//! [`FAILED_PREFIX`] and exit value 1 if a Snapper call or the floor failed
//! or restored bytes differ. A malformed config attribute: a log line naming
//! it and exit value 2, before any Snapper call.
//!
//! The floor's files live in [`FLOOR_DIR`] at the root of the component's
//! VFS. In the shipped scenarios that is the same ext4 root as Snapper's
//! generations (the vfs server's policy for `snapperbench` is `root="/"`):
//! Snapper's core leaves every root entry alone that is not a generation
//! name, and the benchmark removes the directory when it is done.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod payload;
pub mod settings;
pub mod table;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use genode::vfs::Vfs;
use genode::{log_error, log_info, log_warning, timer};
use snapper_session::client::Client;
use snapper_session::session::Reply;

pub use settings::{Settings, SettingsError};
pub use table::Row;

/// The last line of a run in which everything succeeded.
pub const DONE_LINE: &str = "snapperbench: done";
/// How the last line of a failed run starts.
pub const FAILED_PREFIX: &str = "snapperbench: failed";

/// Exit value: every step succeeded and every byte checked out.
pub const EXIT_OK: i32 = 0;
/// Exit value: a Snapper call or the floor failed, or restored bytes differ.
pub const EXIT_FAILED: i32 = 1;
/// Exit value: the config (or the scenario: no Snapper session, a payload
/// over the server's buffer) does not allow a run.
pub const EXIT_CONFIG: i32 = 2;

/// Directory of the floor's file, at the VFS root. Not a generation name,
/// so Snapper ignores it if it shares the root.
pub const FLOOR_DIR: &str = "snapperbench-floor";
/// The floor's one file.
pub const FLOOR_FILE: &str = "snapperbench-floor/first-snapshot";
/// Bytes per part handed to the VFS when writing the floor's file, and
/// about the bytes per read when reading it back: large enough that the
/// floor pays per megabyte, not per object.
const FLOOR_CHUNK: usize = 1 << 20;

/// What a run produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The timed steps, in order.
    pub rows: Vec<Row>,
    /// What went wrong; empty if the run succeeded.
    pub failures: Vec<String>,
}

impl Report {
    /// Whether every step succeeded and every byte checked out.
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty()
    }

    /// The exit value for this outcome.
    pub fn exit_code(&self) -> i32 {
        if self.succeeded() {
            EXIT_OK
        } else {
            EXIT_FAILED
        }
    }

    fn fail(&mut self, why: String) {
        log_error!("snapperbench: {why}");
        self.failures.push(why);
    }

    fn row(&self, step: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.step == step)
    }

    /// Fills in the "vs floor" column of `step` from `floor_step`.
    fn compare(&mut self, step: &str, floor_step: &str) {
        let Some(floor_us) = self.row(floor_step).map(|r| r.us) else {
            return;
        };
        if let Some(row) = self.rows.iter_mut().find(|r| r.step == step) {
            row.vs_floor = table::hundredths(row.us, floor_us);
        }
    }

    /// Logs the table, the failures and the last line.
    pub fn print(&self) {
        for line in table::render(&self.rows) {
            log_info!("{line}");
        }
        if self.succeeded() {
            log_info!("{DONE_LINE}");
        } else {
            log_error!(
                "{FAILED_PREFIX}: {} error(s), first: {}",
                self.failures.len(),
                self.failures.first().map_or("", String::as_str)
            );
        }
    }
}

/// Step names, shared with the tests that read the table.
pub mod step {
    /// init, take every object, commit.
    pub const FIRST: &str = "first snapshot";
    /// Restore every object of the last generation and check it.
    pub const RESTORE: &str = "restore all";
    /// `purge` of the oldest generation.
    pub const PURGE: &str = "purge oldest";
    /// `purge_zombies`.
    pub const ZOMBIES: &str = "purge_zombies";
    /// The first snapshot's bytes as one file, synced.
    pub const FLOOR_WRITE: &str = "floor write+sync";
    /// That file read back and checked.
    pub const FLOOR_READ: &str = "floor read";
    /// That file and its directory removed.
    pub const FLOOR_REMOVE: &str = "floor remove";

    /// The row of later generation `generation` with `changed` objects changed.
    pub fn generation(generation: u32, changed: u32) -> alloc::string::String {
        alloc::format!("generation {generation} ({changed} changed)")
    }
}

fn expect(what: &str, reply: Reply, allowed: &[Reply]) -> Result<(), String> {
    if allowed.contains(&reply) {
        Ok(())
    } else {
        Err(format!("{what} answered {reply} ({})", reply.code()))
    }
}

/// The benchmark's state: the payload version of every object, so that any
/// object's expected bytes can be made again.
struct Bench<'a> {
    client: &'a mut Client,
    settings: Settings,
    /// `versions[id - 1]`: the generation that last changed object `id`.
    versions: Vec<u32>,
    /// Scratch for one payload (the bytes sent, or the bytes expected).
    payload: Vec<u8>,
    report: Report,
}

impl Bench<'_> {
    fn objects(&self) -> u64 {
        u64::from(self.settings.payload_num)
    }

    fn payload_len(&self) -> usize {
        self.payload.len()
    }

    /// Every object's payload at its current version, back to back: made
    /// before a generation is timed, so that the step measures Snapper and
    /// not the making of pages a real client already has.
    fn arena(&self) -> Vec<u8> {
        let size = self.payload_len();
        let mut arena = vec![0u8; size * self.versions.len()];
        for ((id, version), out) in (1u64..)
            .zip(self.versions.iter())
            .zip(arena.chunks_mut(size.max(1)))
        {
            payload::fill(id, *version, out);
        }
        arena
    }

    /// Takes every object from `arena` (see [`Bench::arena`]) and commits;
    /// `generation` numbers it (1 = the first).
    fn take_generation(&mut self, generation: u32, arena: &[u8]) -> Result<(), String> {
        let first = generation == 1;
        let allowed: &[Reply] = if first {
            &[Reply::Ok, Reply::NoPriorGen]
        } else {
            &[Reply::Ok]
        };
        let reply = self.client.init_snapshot();
        expect("init_snapshot", reply, allowed)?;
        if first && reply == Reply::Ok {
            // Generations from an earlier run: unchanged objects are linked,
            // so this "first" snapshot is not comparable to a fresh one.
            log_warning!(
                "snapperbench: the Snapper root already holds generations; the first snapshot is not a fresh one"
            );
        }
        let size = self.payload_len();
        if self.settings.batch || self.settings.hints {
            // hints only where there is a base, and only for objects this
            // generation did not change
            let hints = self.settings.hints && !first;
            let mut batch = self.client.batch();
            for ((id, payload), version) in (1u64..)
                .zip(arena.chunks(size.max(1)))
                .zip(self.versions.iter())
            {
                let taken = if hints && *version != generation {
                    batch.hint(id)
                } else {
                    batch.take(id, &payload[..size.min(payload.len())])
                };
                taken.map_err(|f| format!("object {}: batch answered {}", f.id, f.reply))?;
            }
            batch
                .flush()
                .map_err(|f| format!("object {}: take_batch answered {}", f.id, f.reply))?;
            drop(batch);
            return expect(
                "commit_snapshot",
                self.client.commit_snapshot(),
                &[Reply::Ok],
            );
        }
        for (id, payload) in (1u64..).zip(arena.chunks(size.max(1)).take(self.versions.len())) {
            let reply = self
                .client
                .take_snapshot(id, &payload[..size.min(payload.len())]);
            expect("take_snapshot", reply, &[Reply::Ok])
                .map_err(|e| format!("object {id}: {e}"))?;
        }
        expect(
            "commit_snapshot",
            self.client.commit_snapshot(),
            &[Reply::Ok],
        )
    }

    fn timed(
        &mut self,
        row: impl FnOnce(u64) -> Row,
        step: impl FnOnce(&mut Self) -> Result<(), String>,
    ) -> bool {
        let started = timer::elapsed_us();
        let result = step(self);
        let us = timer::elapsed_us().saturating_sub(started);
        match result {
            Ok(()) => {
                self.report.rows.push(row(us));
                true
            }
            Err(why) => {
                self.report.fail(why);
                false
            }
        }
    }

    /// Restores every object of the latest generation and checks its bytes.
    fn restore_all(&mut self) -> Result<(), String> {
        expect(
            "open_generation (latest)",
            self.client.open_generation(None),
            &[Reply::Ok],
        )?;
        let mut restored = vec![0u8; self.payload_len()];
        let mut result = Ok(());
        let mut differing = 0u64;
        let mut first_differing = None;
        if self.settings.batch {
            let ids: Vec<u64> = (1..=self.objects()).collect();
            let (versions, expected) = (&self.versions, &mut self.payload);
            let mut failed = None;
            let reply = self.client.restore_all(&ids, |id, got| match got {
                Ok(bytes) => {
                    let version = usize::try_from(id - 1)
                        .ok()
                        .and_then(|i| versions.get(i))
                        .copied()
                        .unwrap_or(0);
                    payload::fill(id, version, expected);
                    if bytes != &expected[..] {
                        differing += 1;
                        first_differing.get_or_insert(id);
                    }
                }
                Err(reply) => {
                    failed.get_or_insert(format!("object {id}: restore_batch answered {reply}"));
                }
            });
            if let Some(why) = failed {
                result = Err(why);
            } else if let Err(e) = expect("restore_batch", reply, &[Reply::Ok]) {
                result = Err(e);
            }
        }
        let one_by_one = if self.settings.batch {
            0
        } else {
            self.versions.len()
        };
        for (id, version) in (1u64..).zip(self.versions.iter()).take(one_by_one) {
            let reply = self.client.restore(id, &mut restored);
            if let Err(e) = expect("restore", reply, &[Reply::Ok]) {
                result = Err(format!("object {id}: {e}"));
                break;
            }
            payload::fill(id, *version, &mut self.payload);
            if restored != self.payload {
                differing += 1;
                first_differing.get_or_insert(id);
            }
        }
        if let (Ok(()), Some(id)) = (&result, first_differing) {
            result = Err(format!(
                "restored bytes differ for {differing} of {} objects (first: object {id})",
                self.objects()
            ));
        }
        // Close even after a failure: the server is not left restoring
        // for a session that is about to go away.
        let closed = expect(
            "close_generation",
            self.client.close_generation(),
            &[Reply::Ok],
        );
        result.and(closed)
    }

    /// The Snapper steps; stops at the first failure, after which the
    /// server's state no longer matches what later steps expect.
    fn snapper_steps(&mut self) {
        let objects = self.objects();
        let bytes = self.settings.total_bytes();
        let arena = self.arena();
        if !self.timed(
            |us| Row::moved(step::FIRST, objects, bytes, us),
            |b| b.take_generation(1, &arena),
        ) {
            return;
        }
        drop(arena);
        let changed = self.settings.changed_objects();
        for generation in 2..=self.settings.generations {
            // A window of `changed` objects that moves on each generation,
            // so that successive generations change different objects.
            let num = self.settings.payload_num;
            let start = (u64::from(generation - 2) * u64::from(changed)) % u64::from(num);
            for k in 0..u64::from(changed) {
                let index = usize::try_from((start + k) % u64::from(num)).unwrap_or(0);
                if let Some(version) = self.versions.get_mut(index) {
                    *version = generation;
                }
            }
            let name = step::generation(generation, changed);
            let arena = self.arena();
            if !self.timed(
                |us| Row::moved(name, objects, bytes, us),
                |b| b.take_generation(generation, &arena),
            ) {
                return;
            }
        }
        if self.settings.restore
            && !self.timed(
                |us| Row::moved(step::RESTORE, objects, bytes, us),
                Bench::restore_all,
            )
        {
            return;
        }
        if !self.timed(
            |us| Row::plain(step::PURGE, us),
            |b| expect("purge (oldest)", b.client.purge(None), &[Reply::Ok]),
        ) {
            return;
        }
        self.timed(
            |us| Row::plain(step::ZOMBIES, us),
            |b| expect("purge_zombies", b.client.purge_zombies(), &[Reply::Ok]),
        );
    }

    /// The floor: what the same bytes cost as one plain file on the same
    /// storage, without Snapper.
    fn floor_steps(&mut self) {
        let mut vfs = match Vfs::init() {
            Ok(vfs) => vfs,
            Err(e) => {
                self.report.fail(format!(
                    "floor: no VFS ({e}); give the component a <vfs> node or set floor=\"no\""
                ));
                return;
            }
        };
        // Left behind by an interrupted run: start from nothing.
        let prepared = match vfs.create_dir(FLOOR_DIR) {
            Ok(()) | Err(genode::Error::Exists) => match vfs.remove(FLOOR_FILE) {
                Ok(()) | Err(genode::Error::NotFound) => Ok(()),
                Err(e) => Err(format!("floor: cannot remove the old {FLOOR_FILE}: {e}")),
            },
            Err(e) => Err(format!("floor: cannot create {FLOOR_DIR}: {e}")),
        };
        if let Err(why) = prepared {
            self.report.fail(why);
            return;
        }

        let objects = self.objects();
        let bytes = self.settings.total_bytes();
        // Allocated and zeroed before the clock starts: Snapper's steps reuse
        // one payload buffer, the floor should not pay for the allocation.
        let mut file = Vec::new();
        let reserved = usize::try_from(bytes)
            .ok()
            .filter(|&n| file.try_reserve_exact(n).is_ok());
        let Some(len) = reserved else {
            self.report.fail(format!(
                "floor: cannot hold the first snapshot's {bytes} bytes in RAM; raise the component's RAM quota or set floor=\"no\""
            ));
            return;
        };
        file.resize(len, 0u8);
        let size = self.payload_len();

        let written = self.timed(
            |us| Row::moved(step::FLOOR_WRITE, objects, bytes, us),
            |_| {
                for (id, object) in (1u64..).zip(file.chunks_exact_mut(size.max(1))) {
                    payload::fill(id, 1, object);
                }
                let parts: Vec<&[u8]> = file.chunks(FLOOR_CHUNK).collect();
                vfs.write_new(FLOOR_FILE, &parts)
                    .map_err(|e| format!("floor: writing {FLOOR_FILE}: {e}"))?;
                vfs.sync().map_err(|e| format!("floor: sync: {e}"))
            },
        );
        drop(file);

        if written {
            self.timed(
                |us| Row::moved(step::FLOOR_READ, objects, bytes, us),
                |b| {
                    floor_read(&b.settings, &mut b.payload, |offset, buf| {
                        vfs.read_at(FLOOR_FILE, offset, buf)
                    })
                },
            );
        }
        self.timed(
            |us| Row::plain(step::FLOOR_REMOVE, us),
            |_| {
                match vfs.remove(FLOOR_FILE) {
                    Ok(()) | Err(genode::Error::NotFound) => {}
                    Err(e) => return Err(format!("floor: removing {FLOOR_FILE}: {e}")),
                }
                vfs.remove(FLOOR_DIR)
                    .map_err(|e| format!("floor: removing {FLOOR_DIR}: {e}"))
            },
        );
    }
}

/// Reads the floor's file back through `read_at(offset, buf)` in chunks of
/// whole objects and checks every object, as the restore checks Snapper's.
/// `payload` is scratch of one payload's size. (A function of its reader so
/// that the check can be tested with a file that lies.)
fn floor_read(
    settings: &Settings,
    payload: &mut [u8],
    mut read_at: impl FnMut(u64, &mut [u8]) -> Result<usize, genode::Error>,
) -> Result<(), String> {
    let size = payload.len().max(1);
    let objects = u64::from(settings.payload_num);
    let per_chunk = (FLOOR_CHUNK / size).max(1);
    let mut chunk = vec![0u8; per_chunk * size];
    let mut offset = 0u64;
    let mut differing = 0u64;
    let mut first_differing = None;
    let mut id = 1u64;
    while id <= objects {
        let count = per_chunk.min(usize::try_from(objects - id + 1).unwrap_or(per_chunk));
        let want = chunk.get_mut(..count * size).unwrap_or_default();
        let got = read_at(offset, want)
            .map_err(|e| format!("floor: reading {FLOOR_FILE} at {offset}: {e}"))?;
        if got != want.len() {
            return Err(format!(
                "floor: {FLOOR_FILE} ends at {} bytes, {} expected",
                offset + got as u64,
                settings.total_bytes()
            ));
        }
        for object in want.chunks_exact(size) {
            payload::fill(id, 1, payload);
            if object != &*payload {
                differing += 1;
                first_differing.get_or_insert(id);
            }
            id += 1;
        }
        offset += got as u64;
    }
    match first_differing {
        None => Ok(()),
        Some(first) => Err(format!(
            "floor: read-back bytes differ for {differing} of {objects} objects (first: object {first})"
        )),
    }
}

/// Runs the benchmark over an open session and returns what it measured;
/// logs the settings and each failure as it happens, not the table
/// ([`Report::print`]).
pub fn run(client: &mut Client, settings: &Settings) -> Report {
    let size = usize::try_from(settings.payload_size).unwrap_or(usize::MAX);
    log_info!(
        "snapperbench: {} objects x {} bytes, {} generation(s), {} % changed ({} objects) per later generation, restore {}, floor {}, batch {}, hints {}",
        settings.payload_num,
        settings.payload_size,
        settings.generations,
        settings.changed,
        settings.changed_objects(),
        if settings.restore { "yes" } else { "no" },
        if settings.floor { "yes" } else { "no" },
        if settings.batch { "yes" } else { "no" },
        if settings.hints { "yes" } else { "no" },
    );
    let mut bench = Bench {
        client,
        settings: *settings,
        versions: vec![1; usize::try_from(settings.payload_num).unwrap_or(0)],
        payload: vec![0u8; size],
        report: Report::default(),
    };
    bench.snapper_steps();
    if settings.floor {
        bench.floor_steps();
        bench.report.compare(step::FIRST, step::FLOOR_WRITE);
        bench.report.compare(step::RESTORE, step::FLOOR_READ);
    }
    bench.report
}

/// The settings from the component's config ROM. Without a config the
/// defaults apply (with a warning), as for any attribute left out.
pub fn configured() -> Result<Settings, SettingsError> {
    match genode::config::attributes() {
        Ok(attributes) => Settings::from_attributes(
            attributes
                .iter()
                .map(|a| (a.name.as_str(), a.value.as_str())),
        ),
        Err(e) => {
            log_warning!("snapperbench: no config ({e}), using the defaults");
            Ok(Settings::default())
        }
    }
}

/// The whole component: settings, session, run, table. Returns the exit
/// value (the Genode entry point passes it to the parent; tests check it).
pub fn run_component() -> i32 {
    let settings = match configured() {
        Ok(settings) => settings,
        Err(e) => {
            log_error!("snapperbench: {e}");
            return EXIT_CONFIG;
        }
    };
    let mut client = match Client::open() {
        Ok(client) => client,
        Err(e) => {
            log_error!("snapperbench: no Snapper session: {e}");
            return EXIT_CONFIG;
        }
    };
    // Checked here rather than per object: the server would refuse every
    // take_snapshot with PayloadTooLarge.
    if usize::try_from(settings.payload_size).map_or(true, |n| n > client.buffer_size()) {
        log_error!(
            "snapperbench: config attribute 'payload_size': {} bytes do not fit the Snapper server's buffer of {} bytes; raise the server's bufsize",
            settings.payload_size,
            client.buffer_size()
        );
        return EXIT_CONFIG;
    }
    let report = run(&mut client, &settings);
    // Closed before the table, so that whatever the server logs about the
    // session's end comes before it and the last line stays ours.
    drop(client);
    report.print();
    report.exit_code()
}

/// Entry point called by the C++ shim's `Component::construct`.
#[cfg(feature = "genode")]
#[no_mangle]
pub extern "C" fn sg_component_construct() {
    genode::exit(run_component());
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    /// The floor file as it should be: every object at version 1.
    fn floor_file(settings: &Settings) -> Vec<u8> {
        let size = settings.payload_size as usize;
        let mut file = vec![0u8; settings.total_bytes() as usize];
        for (id, object) in (1u64..).zip(file.chunks_exact_mut(size)) {
            payload::fill(id, 1, object);
        }
        file
    }

    fn check(settings: &Settings, file: &[u8]) -> Result<(), String> {
        let mut payload = vec![0u8; settings.payload_size as usize];
        floor_read(settings, &mut payload, |offset, buf| {
            let from = (offset as usize).min(file.len());
            let n = buf.len().min(file.len() - from);
            buf[..n].copy_from_slice(&file[from..from + n]);
            Ok(n)
        })
    }

    #[test]
    fn floor_read_checks_every_object_across_chunks() {
        // 300 objects of 10000 bytes: several 1 MiB chunks, the last short
        let settings = Settings {
            payload_num: 300,
            payload_size: 10_000,
            ..Settings::default()
        };
        let mut file = floor_file(&settings);
        assert_eq!(check(&settings, &file), Ok(()));

        // object 250 lies in the third chunk (104 objects per chunk)
        file[249 * 10_000 + 7] ^= 0x80;
        let why = check(&settings, &file).unwrap_err();
        assert!(
            why.contains("differ for 1 of 300 objects (first: object 250)"),
            "{why}"
        );

        file[249 * 10_000 + 7] ^= 0x80;
        file.truncate(file.len() - 1);
        let why = check(&settings, &file).unwrap_err();
        assert!(
            why.contains("ends at 2999999 bytes, 3000000 expected"),
            "{why}"
        );
    }
}
