//! `gc`: the engine's purge_zombies (or, in a dry run, its unused_files).

use serde::Serialize;
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

#[derive(Serialize)]
struct GcReport {
    dry_run: bool,
    files: Vec<GcFile>,
    bytes: u64,
    /// Generations with a damaged archive that gc kept (without --drop-damaged).
    kept_damaged: Vec<String>,
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
    };
    let outcome = if dry_run {
        let unused = session.engine.unused_files();
        session.flush_log();
        let unused = unused.map_err(|e| engine_failure("gc --dry-run", e))?;
        for path in unused {
            let size = session.engine.storage_mut().file_size(&path).unwrap_or(0);
            report.files.push(GcFile { path, size });
        }
        Ok(())
    } else {
        let outcome = session.engine.purge_zombies();
        session.flush_log();
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
    let finished = end_change(session, root, g, dry_run);
    if g.json {
        print_json(&report)?;
    } else {
        for file in &report.files {
            out!(
                "{} {} ({})",
                if dry_run { "would delete" } else { "deleted" },
                file.path,
                output::size(file.size)
            );
        }
        out!(
            "gc {} {} ({})",
            if dry_run { "would delete" } else { "deleted" },
            output::count(report.files.len(), "unused file"),
            output::size(report.bytes)
        );
    }
    finished?;
    match outcome {
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

fn kept_message(names: &[String]) -> String {
    format!(
        "kept generation(s) with a damaged archive for inspection: {}; `gc --drop-damaged` deletes them",
        names.join(", ")
    )
}
