//! `restore`: objects written out through the engine's restore, which
//! hands out only bytes that passed their length and CRC checks.

use std::fs;
use std::io::{IsTerminal, Write};
use std::path::Path;

use serde::Serialize;
use snapper_core::archive::Entry;
use snapper_core::{Error as CoreError, ObjectId, Storage};

use super::{print_json, require_valid, write_new, Failure, Options, Outcome, Session};
use crate::inspect::read_only_config;
use crate::output::{self, Progress};
use crate::storage::RootSpec;

/// Runs `restore`: one object, or with `all` every object.
pub fn run(
    root: &RootSpec,
    g: &Options,
    spec: &str,
    id: Option<u64>,
    all: bool,
    output: Option<&Path>,
) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let view = session.find(spec)?;
    require_valid(&view)?;
    let entries = session.archive(&view)?.entries;
    let opened = session.engine.open_generation(Some(&view.name));
    session.flush_log();
    opened.map_err(|e| Failure::Damage(format!("cannot open generation {}: {e}", view.name)))?;
    let result = if all {
        // clap makes -o present with --all.
        let dir = output.unwrap_or(Path::new("."));
        restore_all(&mut session, g, &view.name, &entries, dir)
    } else {
        match id {
            Some(id) => restore_one(&mut session, g, &view.name, &entries, id, output),
            None => Err(Failure::Usage("give an object id or --all".into())),
        }
    };
    let _ = session.engine.close_generation();
    session.flush_log();
    result
}

/// Restores one object into a fresh buffer; `Err` carries the engine's
/// answer. The buffer holds verified bytes only (the engine's promise).
fn restore_bytes<S: Storage>(
    session: &mut Session<S>,
    id: ObjectId,
    size: u32,
) -> Result<Vec<u8>, CoreError> {
    let mut buf = vec![0u8; size as usize];
    let restored = session.engine.restore(id, &mut buf);
    session.flush_log();
    buf.truncate(restored?);
    Ok(buf)
}

fn restore_one<S: Storage>(
    session: &mut Session<S>,
    g: &Options,
    name: &str,
    entries: &[Entry],
    id: u64,
    output: Option<&Path>,
) -> Outcome {
    let Some(entry) = snapper_core::archive::find_entry(entries, ObjectId(id)) else {
        return Err(Failure::NotFound(format!(
            "generation {name} holds no object {id:#x}"
        )));
    };
    let to_stdout = output.is_none_or(|p| p == Path::new("-"));
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(Failure::Refused(
            "not writing binary data to a terminal; give -o FILE or redirect stdout".into(),
        ));
    }
    let bytes = restore_bytes(session, entry.id, entry.size).map_err(|e| {
        Failure::Damage(format!(
            "object {id:#x} of {name}: no intact copy ({e}); nothing written"
        ))
    })?;
    match output.filter(|_| !to_stdout) {
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .map_err(|e| Failure::Io(format!("stdout: {e}"))),
        Some(path) => {
            write_new(path, &bytes)?;
            if !g.json {
                eprintln!(
                    "restored object {id:#x} of {name}: {} bytes to {}",
                    bytes.len(),
                    path.display()
                );
            }
            Ok(())
        }
    }
}

#[derive(Serialize)]
pub struct RestoreReport {
    generation: String,
    directory: String,
    restored: usize,
    bytes: u64,
    failed: Vec<RestoreFailure>,
}

#[derive(Serialize)]
struct RestoreFailure {
    id: u64,
    error: String,
}

fn restore_all<S: Storage>(
    session: &mut Session<S>,
    g: &Options,
    name: &str,
    entries: &[Entry],
    dir: &Path,
) -> Outcome {
    fs::create_dir_all(dir).map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
    let mut report = RestoreReport {
        generation: name.into(),
        directory: dir.display().to_string(),
        restored: 0,
        bytes: 0,
        failed: Vec::new(),
    };
    let mut bar = Progress::new("restore", entries.len() as u64, !g.json);
    for entry in entries {
        bar.step();
        match restore_bytes(session, entry.id, entry.size) {
            Ok(bytes) => {
                write_new(&dir.join(format!("{:016x}", entry.id.0)), &bytes)?;
                report.restored += 1;
                report.bytes += bytes.len() as u64;
            }
            // Nothing is written for this object: no file is better than a
            // file with bytes that failed their check.
            Err(e) => report.failed.push(RestoreFailure {
                id: entry.id.0,
                error: e.to_string(),
            }),
        }
    }
    bar.finish();
    if g.json {
        print_json(&report)?;
    } else {
        print_all(&report);
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Damage(String::new()))
    }
}

/// What `restore --all` did: the objects without an intact copy, and a
/// summary line.
pub fn print_all(report: &RestoreReport) {
    for failure in &report.failed {
        out!("object {:#x}: not restored: {}", failure.id, failure.error);
    }
    out!(
        "restored {} of {} objects of {} ({}) into {}{}",
        report.restored,
        report.restored + report.failed.len(),
        report.generation,
        output::size(report.bytes),
        report.directory,
        if report.failed.is_empty() {
            String::new()
        } else {
            format!("; {} objects have no intact copy", report.failed.len())
        }
    );
}
