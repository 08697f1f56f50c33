//! `gc`: the engine's purge_zombies (or, in a dry run, its unused_files),
//! with the records of commits cut short it clears from the archive log.

use serde::Serialize;
use snapper_core::engine::inspect::TornRecord;
use snapper_core::layout::ARCHIVE_LOG;
use snapper_core::{Config, Error as CoreError, Storage};

use super::change::{end_change, open_for_change};
use super::{engine_failure, print_json, Failure, Options, Outcome, Session};
use crate::inspect::read_only_config;
use crate::output;
use crate::storage::{Removals, RootSpec};

#[derive(Serialize)]
struct GcFile {
    path: String,
    size: u64,
}

/// A record of a commit cut short in the archive log, which
/// purge_zombies zeroes.
#[derive(Serialize)]
struct GcTorn {
    /// Its first block in `archives`.
    block: u64,
    /// The bytes its blocks span.
    bytes: u64,
    /// Zeroed by this run (always false in a dry run).
    cleared: bool,
}

#[derive(Serialize)]
struct GcReport {
    dry_run: bool,
    files: Vec<GcFile>,
    bytes: u64,
    /// Generations with a damaged archive that gc kept (without --drop-damaged).
    kept_damaged: Vec<String>,
    /// Records of commits cut short: those this run cleared, those it
    /// could not, or in a dry run those it would clear.
    torn_records: Vec<GcTorn>,
}

impl GcReport {
    /// Torn records left in place by a real run.
    fn not_cleared(&self) -> usize {
        if self.dry_run {
            return 0;
        }
        self.torn_records.iter().filter(|t| !t.cleared).count()
    }
}

/// Runs `gc`.
pub fn run(
    root: &RootSpec,
    g: &Options,
    dry_run: bool,
    drop_damaged: bool,
    write_image: bool,
) -> Outcome {
    let mut storage = open_for_change(root, dry_run, write_image)?;
    let config = Config {
        integrity: !drop_damaged,
        ..read_only_config()
    };
    let recorder = Removals::new(&mut *storage, !dry_run);
    let mut session = Session::open(root, g, recorder, config)?;
    let (report, outcome) = report(&mut session, dry_run, drop_damaged)?;
    let finished = end_change(session, root, g, dry_run);
    if g.json {
        print_json(&report)?;
    } else {
        print(&report);
    }
    finished?;
    match outcome {
        Ok(()) if report.not_cleared() > 0 => Err(Failure::Io(format!(
            "gc: {} in archives not cleared (an I/O error; -v shows it); the engine tries again at its next snapshot or gc",
            torn_count(report.not_cleared())
        ))),
        Ok(()) => {
            if dry_run && !report.kept_damaged.is_empty() && !g.json {
                out!("{}", kept_message(&report.kept_damaged));
            }
            Ok(())
        }
        // Under integrity=yes the engine keeps a damaged generation (and
        // the packs it may use) and says so with IntegrityFailed.
        Err(CoreError::IntegrityFailed) => Err(Failure::Damage(kept_message(&report.kept_damaged))),
        Err(e) => Err(engine_failure("gc", e)),
    }
}

/// Asks the engine what gc would do (a dry run) or runs its purge_zombies,
/// and builds the report; the engine's answer to purge_zombies comes back
/// with it, to be told after the report is printed.
fn report<S: Storage>(
    session: &mut Session<Removals<S>>,
    dry_run: bool,
    drop_damaged: bool,
) -> Result<(GcReport, Result<(), CoreError>), Failure> {
    let damaged: Vec<String> = session
        .gens
        .iter()
        .filter(|v| v.status.is_damaged())
        .map(|v| v.name.clone())
        .collect();
    let mut report = GcReport {
        dry_run,
        files: Vec::new(),
        bytes: 0,
        kept_damaged: if drop_damaged { Vec::new() } else { damaged },
        torn_records: Vec::new(),
    };
    let outcome = if dry_run {
        let unused = session.engine.unused_files();
        session.flush_log();
        let unused = unused.map_err(|e| engine_failure("gc --dry-run", e))?;
        for path in unused {
            let size = session.engine.storage_mut().file_size(&path).unwrap_or(0);
            report.files.push(GcFile { path, size });
        }
        // purge_zombies clears every record the engine holds as torn
        // (unused_files has re-read what it needed, as purge_zombies would).
        report.torn_records = torn_report(&session.engine.torn_records(), &[], false);
        Ok(())
    } else {
        let before = session.engine.torn_records();
        let outcome = session.engine.purge_zombies();
        session.flush_log();
        report.torn_records = torn_report(&before, &session.engine.torn_records(), true);
        for removed in session.engine.storage().removed() {
            if let Some(size) = removed.size {
                report.files.push(GcFile {
                    path: removed.path.clone(),
                    size,
                });
            }
        }
        outcome
    };
    report.bytes = report.files.iter().map(|f| f.size).sum();
    Ok((report, outcome))
}

/// The torn records of a run: each held `before` it is cleared unless
/// still held `after`; one found during the run and left is not cleared.
/// A dry run (`ran` false) clears nothing.
fn torn_report(before: &[TornRecord], after: &[TornRecord], ran: bool) -> Vec<GcTorn> {
    let mut all: Vec<TornRecord> = before.iter().chain(after).copied().collect();
    all.sort_unstable();
    all.dedup();
    all.into_iter()
        .map(|t| GcTorn {
            block: t.block,
            bytes: t.bytes,
            cleared: ran && before.contains(&t) && !after.contains(&t),
        })
        .collect()
}

/// `1 record of a commit cut short`, `2 records of commits cut short`.
fn torn_count(n: usize) -> String {
    output::counted(
        n,
        "record of a commit cut short",
        "records of commits cut short",
    )
}

/// The table: one line per file and per torn record, then the totals.
/// Without torn records the output is what it was before gc reported them.
fn print(report: &GcReport) {
    let dry_run = report.dry_run;
    for file in &report.files {
        out!(
            "{} {} ({})",
            if dry_run { "would delete" } else { "deleted" },
            file.path,
            output::size(file.size)
        );
    }
    for torn in &report.torn_records {
        let verb = match (dry_run, torn.cleared) {
            (true, _) => "would clear",
            (false, true) => "cleared",
            (false, false) => "could not clear",
        };
        out!(
            "{verb} record of a commit cut short at block {} of {ARCHIVE_LOG} ({})",
            torn.block,
            output::size(torn.bytes)
        );
    }
    let mut totals = format!(
        "gc {} {} ({})",
        if dry_run { "would delete" } else { "deleted" },
        output::count(report.files.len(), "unused file"),
        output::size(report.bytes)
    );
    let cleared: Vec<&GcTorn> = report
        .torn_records
        .iter()
        .filter(|t| dry_run || t.cleared)
        .collect();
    if !cleared.is_empty() {
        totals.push_str(&format!(
            " and {} {} in {ARCHIVE_LOG} ({})",
            if dry_run { "clear" } else { "cleared" },
            torn_count(cleared.len()),
            output::size(cleared.iter().map(|t| t.bytes).sum())
        ));
    }
    if report.not_cleared() > 0 {
        totals.push_str(&format!(
            "; {} not cleared",
            torn_count(report.not_cleared())
        ));
    }
    out!("{totals}");
}

fn kept_message(names: &[String]) -> String {
    format!(
        "kept generation(s) with a damaged archive for inspection: {}; `gc --drop-damaged` deletes them",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::Collect;
    use snapper_core::storage::MemNode;
    use snapper_core::{Generation, MemStorage, ObjectId, Snapper, StorageError};
    use snapper_testkit::{Fault, FaultStorage};

    /// Two generations and the record of a third's commit cut short.
    fn torn_root() -> (MemStorage, TornRecord) {
        let mut engine =
            Snapper::open(MemStorage::new(), Collect::default(), Config::default()).unwrap();
        for round in 0..2u8 {
            engine.init_snapshot().unwrap();
            engine.take_snapshot(ObjectId(1), &[round; 100]).unwrap();
            engine.commit_snapshot().unwrap();
        }
        let mut storage = engine.into_storage();
        let Some(MemNode::File(log)) = storage.nodes_mut().get_mut(ARCHIVE_LOG) else {
            panic!("no archive log");
        };
        let extent = snapper_testkit::torn::tear_record(log, Generation(3)).unwrap();
        let torn = TornRecord {
            block: extent.block,
            bytes: extent.blocks * snapper_core::archive_log::BLOCK,
        };
        (storage, torn)
    }

    fn gc<S: Storage>(storage: S, dry_run: bool) -> GcReport {
        let mut session = Session::open(
            &"test root",
            &Options::default(),
            Removals::new(storage, !dry_run),
            read_only_config(),
        )
        .unwrap();
        let (report, outcome) = report(&mut session, dry_run, false).unwrap();
        assert_eq!(outcome, Ok(()));
        report
    }

    fn records(report: &GcReport) -> Vec<(u64, u64, bool)> {
        report
            .torn_records
            .iter()
            .map(|t| (t.block, t.bytes, t.cleared))
            .collect()
    }

    /// A record the engine cannot zero (every write fails: a full disk) is
    /// reported as not cleared, never as cleared; the run then fails.
    #[test]
    fn a_record_gc_cannot_zero_is_not_claimed_cleared() {
        let (storage, torn) = torn_root();
        let mut full = FaultStorage::new(storage.clone());
        // Sticky from before the first call: every write fails, the rest work.
        full.arm(Fault {
            sticky: true,
            ..Fault::once(0, StorageError::NoSpace)
        });
        let report = gc(&mut full, false);
        assert!(full.fired(), "the clearing write was not attempted");
        assert_eq!(records(&report), [(torn.block, torn.bytes, false)]);
        assert_eq!(report.not_cleared(), 1);
        assert!(full.inner() == &storage, "the root changed");

        let report = gc(storage.clone(), true);
        assert_eq!(records(&report), [(torn.block, torn.bytes, false)]);
        assert_eq!(report.not_cleared(), 0, "a dry run leaves it for gc");
        let mut writable = storage;
        let report = gc(&mut writable, false);
        assert_eq!(records(&report), [(torn.block, torn.bytes, true)]);
        assert_eq!(report.not_cleared(), 0);
    }
}
