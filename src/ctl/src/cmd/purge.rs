//! `purge`: the engine's purge of named generations, through a recorder
//! that lists (or, in a dry run, only pretends) each removal.

use serde::Serialize;
use snapper_core::{layout, Config};

use super::change::{end_change, open_for_change};
use super::{engine_failure, print_json, Failure, Options, Outcome, Session};
use crate::inspect::{read_only_config, Status};
use crate::output;
use crate::storage::{Removals, Removed, RootSpec};

#[derive(Serialize)]
struct PurgedRow {
    name: String,
    files: Vec<String>,
    bytes: u64,
    /// Directories left empty and removed.
    directories: Vec<String>,
    /// Its archive was a record of the archive log, zeroed in place there
    /// (the log file stays; its blocks are free for later commits).
    record_retired: bool,
}

#[derive(Serialize)]
struct PurgeReport {
    dry_run: bool,
    purged: Vec<PurgedRow>,
    files_deleted: usize,
    bytes_freed: u64,
}

/// The files among `removed`, their bytes, and the directories.
fn removed_files(removed: &[Removed]) -> (Vec<String>, u64, Vec<String>) {
    let (files, dirs): (Vec<_>, Vec<_>) = removed.iter().partition(|r| r.size.is_some());
    (
        files.iter().map(|r| r.path.clone()).collect(),
        files.iter().filter_map(|r| r.size).sum(),
        dirs.iter().map(|r| r.path.clone()).collect(),
    )
}

/// Runs `purge`.
pub fn run(
    root: &RootSpec,
    g: &Options,
    specs: &[String],
    oldest: bool,
    keep: u32,
    dry_run: bool,
    write_image: bool,
) -> Outcome {
    let mut storage = open_for_change(root, dry_run, write_image)?;
    let config = Config {
        min_snapshots: keep,
        ..read_only_config()
    };
    let recorder = Removals::new(&mut *storage, !dry_run);
    let mut session = Session::open(root, g, recorder, config)?;
    let specs: Vec<String> = if oldest {
        vec!["oldest".into()]
    } else {
        specs.to_vec()
    };
    let mut names = Vec::new();
    for spec in &specs {
        let view = session.find(spec)?;
        if matches!(view.status, Status::Purged | Status::Incomplete) {
            return Err(Failure::NotFound(format!(
                "generation {} is {}: nothing to purge (gc removes leftovers)",
                view.name,
                view.status.word()
            )));
        }
        names.push(view.name);
    }
    let mut report = PurgeReport {
        dry_run,
        purged: Vec::new(),
        files_deleted: 0,
        bytes_freed: 0,
    };
    let mut result = Ok(());
    for name in &names {
        let before = session.engine.storage().removed().len();
        let rewrites_before = session.engine.storage().rewritten().len();
        let outcome = session.engine.purge(Some(name));
        session.flush_log();
        if let Err(e) = outcome {
            result = Err(engine_failure(&format!("purge {name}"), e));
            break;
        }
        let record_retired = session
            .engine
            .storage()
            .rewritten()
            .get(rewrites_before..)
            .unwrap_or_default()
            .iter()
            .any(|w| w.path == layout::ARCHIVE_LOG);
        let (files, bytes, directories) = removed_files(
            session
                .engine
                .storage()
                .removed()
                .get(before..)
                .unwrap_or_default(),
        );
        if !g.json {
            out!(
                "{} {name}: {} ({}){}",
                if dry_run { "would purge" } else { "purged" },
                output::count(
                    files.len(),
                    if dry_run {
                        "file to delete"
                    } else {
                        "file deleted"
                    }
                ),
                output::size(bytes),
                if record_retired {
                    match dry_run {
                        true => ", its record in the archive log to retire",
                        false => ", its record in the archive log retired",
                    }
                } else {
                    ""
                }
            );
        }
        report.files_deleted += files.len();
        report.bytes_freed += bytes;
        report.purged.push(PurgedRow {
            name: name.clone(),
            files,
            bytes,
            directories,
            record_retired,
        });
    }
    let finished = end_change(session, root, g, dry_run);
    if g.json {
        print_json(&report)?;
    } else {
        out!(
            "{} {}",
            if dry_run { "would free" } else { "freed" },
            output::size(report.bytes_freed)
        );
    }
    finished.and(result)
}
