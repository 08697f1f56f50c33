//! `list`: every generation with its status and bytes.

use serde::Serialize;
use snapper_core::Storage;

use super::{distinct_copies, print_json, Failure, Options, Outcome, Session};
use crate::inspect::{now, read_only_config, Status};
use crate::output;
use crate::storage::RootSpec;

#[derive(Serialize)]
pub struct ListRow {
    generation: u32,
    name: String,
    created: u64,
    age_seconds: u64,
    status: Status,
    problem: Option<String>,
    objects: u32,
    /// Packs the generation wrote (when the engine knows).
    packs: Option<usize>,
    /// Payload bytes of its objects.
    bytes_represented: u64,
    /// Payload bytes it stored itself (new content and fresh copies).
    bytes_new: u64,
    /// Payload bytes of objects it takes from older generations' packs only.
    bytes_shared: u64,
}

#[derive(Serialize)]
pub struct ListReport {
    root: String,
    generations: Vec<ListRow>,
}

/// Runs `list`.
pub fn run(root: &RootSpec, g: &Options) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let report = report(&mut session, root)?;
    if g.json {
        return print_json(&report);
    }
    print(&report, root);
    Ok(())
}

/// The generations as the engine sees them.
pub fn report<S: Storage>(
    session: &mut Session<S>,
    root: &dyn std::fmt::Display,
) -> Result<ListReport, Failure> {
    let now = now();
    let mut rows = Vec::new();
    for view in session.gens.clone() {
        let mut row = ListRow {
            generation: view.generation.0,
            name: view.name.clone(),
            created: view.created,
            age_seconds: now.saturating_sub(view.created),
            status: view.status.clone(),
            problem: view.status.why(),
            objects: view.objects,
            packs: view.packs.as_ref().map(Vec::len),
            bytes_represented: 0,
            bytes_new: 0,
            bytes_shared: 0,
        };
        if view.status == Status::Valid {
            let archive = session.archive(&view)?;
            row.bytes_represented = archive.entries.iter().map(|e| u64::from(e.size)).sum();
            row.bytes_new = distinct_copies(&archive.entries)
                .iter()
                .filter(|(location, _)| location.pack.generation == view.generation)
                .map(|(_, length)| u64::from(*length))
                .sum();
            row.bytes_shared = archive
                .entries
                .iter()
                .filter(|e| e.copies.iter().all(|c| c.generation != view.generation))
                .map(|e| u64::from(e.size))
                .sum();
        }
        rows.push(row);
    }
    Ok(ListReport {
        root: root.to_string(),
        generations: rows,
    })
}

/// The table.
pub fn print(report: &ListReport, root: &dyn std::fmt::Display) {
    let rows = &report.generations;
    if rows.is_empty() {
        out!("no generations in {root}");
        return;
    }
    out!(
        "{:>5}  {:<28}  {:>5}  {:>7}  {:>5}  {:>10}  {:>10}  STATUS",
        "GEN",
        "NAME",
        "AGE",
        "OBJECTS",
        "PACKS",
        "NEW",
        "SHARED"
    );
    for row in rows {
        let valid = row.status == Status::Valid;
        let blank = |text: String| if valid { text } else { "-".into() };
        out!(
            "{:>5}  {:<28}  {:>5}  {:>7}  {:>5}  {:>10}  {:>10}  {}{}",
            row.generation,
            row.name,
            output::age(row.age_seconds),
            blank(row.objects.to_string()),
            row.packs.map_or("-".into(), |n| n.to_string()),
            blank(output::size(row.bytes_new)),
            blank(output::size(row.bytes_shared)),
            row.status.word(),
            row.problem
                .as_ref()
                .map_or(String::new(), |p| format!(" ({p})"))
        );
    }
}
