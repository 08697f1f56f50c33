//! `show`: the objects of one generation and where each copy is.

use serde::Serialize;
use snapper_core::Storage;

use super::{print_json, require_valid, Failure, Options, Outcome, Session};
use crate::inspect::read_only_config;
use crate::output;
use crate::storage::RootSpec;

#[derive(Serialize)]
struct CopyRow {
    generation: u32,
    pack: u32,
    offset: u32,
    length: u32,
    crc: String,
    codec: u8,
    path: String,
    /// Valid archives that use this stored payload.
    references: u32,
}

#[derive(Serialize)]
struct ObjectRow {
    id: u64,
    size: u32,
    digest: String,
    copies: Vec<CopyRow>,
}

#[derive(Serialize)]
struct SourceRow {
    generation: u32,
    name: String,
    fanout: u32,
    /// Payload bytes of each of its packs.
    packs: Vec<u64>,
}

#[derive(Serialize)]
pub struct ShowReport {
    generation: u32,
    name: String,
    created: u64,
    fanout: u32,
    /// Payload bytes of each pack it wrote.
    packs: Vec<u64>,
    sources: Vec<SourceRow>,
    objects: Vec<ObjectRow>,
}

/// Runs `show`.
pub fn run(root: &RootSpec, g: &Options, spec: &str) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let report = report(&mut session, spec)?;
    if g.json {
        return print_json(&report);
    }
    print(&report);
    Ok(())
}

/// The objects of generation `spec`, from its archive.
pub fn report<S: Storage>(session: &mut Session<S>, spec: &str) -> Result<ShowReport, Failure> {
    let view = session.find(spec)?;
    require_valid(&view)?;
    let archive = session.archive(&view)?;
    let objects: Vec<ObjectRow> = archive
        .entries
        .iter()
        .map(|entry| ObjectRow {
            id: entry.id.0,
            size: entry.size,
            digest: format!("{:?}", entry.digest),
            copies: entry
                .copies
                .iter()
                .map(|copy| CopyRow {
                    generation: copy.generation.0,
                    pack: copy.pack.0,
                    offset: copy.offset,
                    length: copy.length,
                    crc: format!("{:08x}", copy.crc),
                    codec: copy.codec.0,
                    path: session.pack_path(&archive, copy.pack_ref()),
                    references: session.engine.references(copy.location()),
                })
                .collect(),
        })
        .collect();
    let report = ShowReport {
        generation: view.generation.0,
        name: view.name.clone(),
        created: view.created,
        fanout: archive.fanout,
        packs: archive.packs.clone(),
        sources: archive
            .sources
            .iter()
            .map(|s| SourceRow {
                generation: s.generation.0,
                name: s.name.clone(),
                fanout: s.fanout,
                packs: s.packs.clone(),
            })
            .collect(),
        objects,
    };
    Ok(report)
}

/// The table.
pub fn print(report: &ShowReport) {
    out!(
        "generation {} ({}): {} objects, {} packs written ({} of payloads), fan-out {}, uses packs of {}",
        report.generation,
        report.name,
        report.objects.len(),
        report.packs.len(),
        output::size(report.packs.iter().sum()),
        report.fanout,
        output::count(report.sources.len(), "generation")
    );
    out!(
        "{:>18}  {:>9}  {:<32}  COPIES (newest first: generation:pack+offset, archives using the payload)",
        "ID",
        "SIZE",
        "DIGEST"
    );
    for object in &report.objects {
        let copies: Vec<String> = object
            .copies
            .iter()
            .map(|c| {
                let own = if c.generation == report.generation {
                    "own, "
                } else {
                    ""
                };
                format!(
                    "{}:{:x}+{:#x} ({own}{})",
                    c.generation,
                    c.pack,
                    c.offset,
                    output::count(c.references as usize, "archive")
                )
            })
            .collect();
        out!(
            "{:>#18x}  {:>9}  {:<32}  {}",
            object.id,
            object.size,
            object.digest,
            copies.join(", ")
        );
    }
}
