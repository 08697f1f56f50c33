//! `du`: space per generation (files, packs in use, live and exclusive
//! bytes) and in all, with what gc would free.

use serde::Serialize;
use snapper_core::{layout, Storage, StorageError};

use super::{archive_path, distinct_copies, print_json, Failure, Options, Outcome, Session};
use crate::inspect::{files_below, read_only_config, Status};
use crate::output;
use crate::storage::RootSpec;

#[derive(Serialize)]
pub struct DuRow {
    generation: u32,
    name: String,
    status: Status,
    objects: u32,
    /// Payload bytes its objects add up to.
    bytes_represented: u64,
    /// Bytes of every file in its directory (archive and packs).
    bytes_in_directory: u64,
    /// Its packs that valid archives use.
    packs_in_use: usize,
    /// Payload bytes of those packs.
    pack_payload_bytes: u64,
    /// Of those, bytes of payloads valid archives use.
    live_bytes: u64,
    /// Its packs less than half of whose payload bytes are live.
    sparse_packs: usize,
    /// Payload bytes only its archive uses.
    bytes_exclusive: u64,
}

#[derive(Serialize)]
pub struct DuReport {
    generations: Vec<DuRow>,
    /// Every file in every generation directory, and the archive log.
    bytes_stored: u64,
    /// Packs valid archives use, and their file bytes.
    packs_in_use: usize,
    pack_file_bytes: u64,
    /// The engine's disk_and_live_bytes: payload bytes of the packs in use,
    /// and of the payloads in them that are used.
    pack_payload_bytes: u64,
    live_bytes: u64,
    /// pack_payload_bytes - live_bytes: dead payloads kept because their
    /// pack still holds live ones.
    dead_bytes: u64,
    sparse_packs: usize,
    /// Dead payload bytes in sparse packs (copy-forward empties those).
    sparse_dead_bytes: u64,
    /// Archive files, and the whole archive log (records and free space).
    archive_bytes: u64,
    /// Sum of the valid generations' represented bytes.
    bytes_represented: u64,
    /// bytes_stored / bytes_represented.
    ratio: f64,
    /// What gc would delete (the engine's unused_files); absent when an
    /// archive could not be read.
    unused_files: Option<usize>,
    unused_bytes: u64,
}

/// Space per generation and in all, from the engine's pack usage.
pub fn report<S: Storage>(session: &mut Session<S>) -> Result<DuReport, Failure> {
    let usage = session.engine.pack_usage();
    let (payload, live) = session.engine.disk_and_live_bytes();
    let mut rows = Vec::new();
    let mut bytes_stored = 0;
    let mut archive_bytes = 0;
    let mut pack_file_bytes = 0;
    let mut bytes_represented = 0;
    for view in session.gens.clone() {
        let mut errors = Vec::new();
        let files = files_below(session.engine.storage_mut(), &view.name, &mut errors);
        for error in errors {
            eprintln!("snapperctl: warning: {error}");
        }
        let mut in_directory = 0;
        for path in &files {
            let size = session.engine.storage_mut().file_size(path).unwrap_or(0);
            in_directory += size;
            if *path == archive_path(&view.name) {
                archive_bytes += size;
            }
        }
        bytes_stored += in_directory;
        let own: Vec<_> = usage
            .iter()
            .filter(|u| u.pack.generation == view.generation)
            .collect();
        for u in &own {
            if let Some(path) = session.engine.pack_path(u.pack) {
                pack_file_bytes += session.engine.storage_mut().file_size(&path).unwrap_or(0);
            }
        }
        let (represented, exclusive) = if view.status == Status::Valid {
            let archive = session.archive(&view)?;
            let exclusive = distinct_copies(&archive.entries)
                .iter()
                .filter(|(location, _)| session.engine.references(**location) == 1)
                .map(|(_, length)| u64::from(*length))
                .sum();
            let represented = archive.entries.iter().map(|e| u64::from(e.size)).sum();
            (represented, exclusive)
        } else {
            (0, 0)
        };
        bytes_represented += represented;
        rows.push(DuRow {
            generation: view.generation.0,
            name: view.name.clone(),
            status: view.status.clone(),
            objects: view.objects,
            bytes_represented: represented,
            bytes_in_directory: in_directory,
            packs_in_use: own.len(),
            pack_payload_bytes: own.iter().filter_map(|u| u.payload_bytes).sum(),
            live_bytes: own.iter().map(|u| u.live_bytes).sum(),
            sparse_packs: own.iter().filter(|u| u.is_sparse()).count(),
            bytes_exclusive: exclusive,
        });
    }
    // The archive log holds the archives of generations committed into it,
    // in one file at the root: counted whole, as it takes that much space.
    match session.engine.storage_mut().file_size(layout::ARCHIVE_LOG) {
        Ok(size) => {
            bytes_stored += size;
            archive_bytes += size;
        }
        Err(StorageError::NotFound) => {}
        Err(e) => eprintln!(
            "snapperctl: warning: {}: {e}; not counted",
            layout::ARCHIVE_LOG
        ),
    }
    let unused = session.engine.unused_files().ok();
    session.flush_log();
    let unused_bytes = unused.as_ref().map_or(0, |files| {
        files
            .iter()
            .map(|p| session.engine.storage_mut().file_size(p).unwrap_or(0))
            .sum()
    });
    let sparse: Vec<_> = usage.iter().filter(|u| u.is_sparse()).collect();
    Ok(DuReport {
        generations: rows,
        bytes_stored,
        packs_in_use: usage.len(),
        pack_file_bytes,
        pack_payload_bytes: payload,
        live_bytes: live,
        dead_bytes: payload.saturating_sub(live),
        sparse_packs: sparse.len(),
        sparse_dead_bytes: sparse
            .iter()
            .map(|u| u.payload_bytes.unwrap_or(0).saturating_sub(u.live_bytes))
            .sum(),
        archive_bytes,
        bytes_represented,
        ratio: if bytes_represented == 0 {
            0.0
        } else {
            bytes_stored as f64 / bytes_represented as f64
        },
        unused_files: unused.as_ref().map(Vec::len),
        unused_bytes,
    })
}

/// Runs `du`.
pub fn run(root: &RootSpec, g: &Options) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let report = report(&mut session)?;
    if g.json {
        return print_json(&report);
    }
    print(&report);
    Ok(())
}

/// The table and the totals.
pub fn print(report: &DuReport) {
    out!(
        "{:>5}  {:<28}  {:>10}  {:>10}  {:>5}  {:>10}  {:>10}  {:>6}  {:>10}",
        "GEN",
        "NAME",
        "REPRESENTS",
        "IN DIR",
        "PACKS",
        "PAYLOADS",
        "LIVE",
        "SPARSE",
        "EXCLUSIVE"
    );
    for row in &report.generations {
        out!(
            "{:>5}  {:<28}  {:>10}  {:>10}  {:>5}  {:>10}  {:>10}  {:>6}  {:>10}{}",
            row.generation,
            row.name,
            output::size(row.bytes_represented),
            output::size(row.bytes_in_directory),
            row.packs_in_use,
            output::size(row.pack_payload_bytes),
            output::size(row.live_bytes),
            row.sparse_packs,
            output::size(row.bytes_exclusive),
            if row.status == Status::Valid {
                String::new()
            } else {
                format!("  ({})", row.status.word())
            }
        );
    }
    let percent = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        }
    };
    out!(
        "{} in use, {} on disk; payloads {}, live {} ({:.1}%), dead {} ({} of it in {}, which copy-forward empties)",
        output::count(report.packs_in_use, "pack"),
        output::size(report.pack_file_bytes),
        output::size(report.pack_payload_bytes),
        output::size(report.live_bytes),
        percent(report.live_bytes, report.pack_payload_bytes),
        output::size(report.dead_bytes),
        output::size(report.sparse_dead_bytes),
        output::count(report.sparse_packs, "sparse pack"),
    );
    out!(
        "stored {} (archives {}) for {} of generations: ratio {:.3}{}",
        output::size(report.bytes_stored),
        output::size(report.archive_bytes),
        output::size(report.bytes_represented),
        report.ratio,
        match report.unused_files {
            Some(0) => String::new(),
            Some(n) => format!(
                "; {} in {} unused files (`snapperctl gc`)",
                output::size(report.unused_bytes),
                n
            ),
            None => "; unused files unknown (an archive cannot be read)".into(),
        }
    );
    out!("(bytes are file lengths; the file system rounds each file up to its block size)");
}
