//! `salvage`: for a generation the engine cannot restore (no usable
//! archive), every payload of its packs that passes the pack's own index
//! (the engine's check_pack_file), the newest copy of each object.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;
use snapper_core::engine::inspect::check_pack_file;
use snapper_core::format::crc32;
use snapper_core::layout::{self, PACK_DIR};
use snapper_core::pack::{Codec, PackRecord};
use snapper_core::{Generation, ObjectId, PackNumber, Storage};

use super::{print_json, write_new, Failure, Options, Outcome, Session};
use crate::inspect::{files_below, pack_problem, read_only_config, GenView, Status};
use crate::output;
use crate::storage::RootSpec;

#[derive(Serialize)]
pub struct SalvageReport {
    generation: String,
    directory: String,
    with_older: bool,
    packs_checked: usize,
    salvaged: usize,
    bytes: u64,
    /// Older copies of salvaged objects that were passed over.
    superseded: usize,
    problems: Vec<SalvageProblem>,
}

#[derive(Serialize)]
struct SalvageProblem {
    path: String,
    problem: String,
}

/// The copy salvage takes for an object: the newest by (generation, pack,
/// offset) among the intact payloads of the packs scanned.
#[derive(Clone)]
struct Candidate {
    order: (Generation, PackNumber, u32),
    path: String,
    record: PackRecord,
}

/// Runs `salvage`.
pub fn run(root: &RootSpec, g: &Options, spec: &str, dir: &Path, with_older: bool) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let view = session.find(spec)?;
    if view.status == Status::Valid {
        return Err(Failure::Refused(format!(
            "generation {} is valid: use `snapperctl restore {} --all -o DIR`",
            view.name, view.generation
        )));
    }
    let scanned: Vec<GenView> = session
        .gens
        .iter()
        .filter(|v| {
            v.generation == view.generation || (with_older && v.generation < view.generation)
        })
        .cloned()
        .collect();
    let mut report = SalvageReport {
        generation: view.name.clone(),
        directory: dir.display().to_string(),
        with_older,
        packs_checked: 0,
        salvaged: 0,
        bytes: 0,
        superseded: 0,
        problems: Vec::new(),
    };
    let best = scan(&mut session, &scanned, &mut report);
    session.flush_log();
    fs::create_dir_all(dir).map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
    write_out(&mut session, &best, dir, &mut report)?;
    if g.json {
        print_json(&report)?;
    } else {
        print(&report);
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Damage(String::new()))
    }
}

/// Checks every pack of the `scanned` generation directories against its
/// own index and picks each object's newest intact payload; what is
/// wrong goes into the report.
fn scan<S: Storage>(
    session: &mut Session<S>,
    scanned: &[GenView],
    report: &mut SalvageReport,
) -> BTreeMap<ObjectId, Candidate> {
    let mut best: BTreeMap<ObjectId, Candidate> = BTreeMap::new();
    for source in scanned {
        let mut errors = Vec::new();
        let storage = session.engine.storage_mut();
        let paths = files_below(
            storage,
            &layout::in_generation(&source.name, PACK_DIR),
            &mut errors,
        );
        report
            .problems
            .extend(errors.into_iter().map(|problem| SalvageProblem {
                path: source.name.clone(),
                problem,
            }));
        for path in paths {
            report.packs_checked += 1;
            let check = check_pack_file(storage, &path);
            let trailer = match (check.error, check.trailer) {
                (None, Some(trailer)) => trailer,
                (Some(error), _) => {
                    report.problems.push(SalvageProblem {
                        path,
                        problem: pack_problem(&error),
                    });
                    continue;
                }
                (None, None) => continue,
            };
            if trailer.generation != source.generation {
                report.problems.push(SalvageProblem {
                    path,
                    problem: format!(
                        "its trailer names generation {}, not {}: not used",
                        trailer.generation, source.generation
                    ),
                });
                continue;
            }
            if check.damaged > 0 {
                report.problems.push(SalvageProblem {
                    path: path.clone(),
                    problem: if check.damaged == 1 {
                        "1 payload failed its CRC".to_string()
                    } else {
                        format!("{} payloads failed their CRC", check.damaged)
                    },
                });
            }
            for record in check.intact {
                if record.codec != Codec::RAW {
                    report.problems.push(SalvageProblem {
                        path: path.clone(),
                        problem: format!(
                            "object {}: codec {}, unknown to this build",
                            record.id, record.codec.0
                        ),
                    });
                    continue;
                }
                let candidate = Candidate {
                    order: (trailer.generation, trailer.pack, record.offset),
                    path: path.clone(),
                    record,
                };
                match best.get(&record.id) {
                    Some(old) if old.order >= candidate.order => report.superseded += 1,
                    Some(_) => {
                        report.superseded += 1;
                        best.insert(record.id, candidate);
                    }
                    None => {
                        best.insert(record.id, candidate);
                    }
                }
            }
        }
    }
    best
}

/// Writes each chosen payload to `dir/<id>`, read and checked again.
fn write_out<S: Storage>(
    session: &mut Session<S>,
    best: &BTreeMap<ObjectId, Candidate>,
    dir: &Path,
    report: &mut SalvageReport,
) -> Outcome {
    for (id, candidate) in best {
        let mut buf = vec![0u8; candidate.record.length as usize];
        let read = session.engine.storage_mut().read_at(
            &candidate.path,
            u64::from(candidate.record.offset),
            &mut buf,
        );
        // Checked again: the bytes written are the bytes whose CRC matched.
        match read {
            Ok(n) if n == buf.len() && crc32(&[&buf]) == candidate.record.crc => {
                write_new(&dir.join(format!("{:016x}", id.0)), &buf)?;
                report.salvaged += 1;
                report.bytes += buf.len() as u64;
            }
            Ok(_) => report.problems.push(SalvageProblem {
                path: candidate.path.clone(),
                problem: format!("object {id}: changed since it was checked; not written"),
            }),
            Err(e) => report.problems.push(SalvageProblem {
                path: candidate.path.clone(),
                problem: format!("object {id}: unreadable ({e}); not written"),
            }),
        }
    }
    Ok(())
}

/// The problems and the summary line.
pub fn print(report: &SalvageReport) {
    for problem in &report.problems {
        out!("problem: {}: {}", problem.path, problem.problem);
    }
    out!(
        "salvaged {} ({}) from {} of {}{} into {}{}",
        output::count(report.salvaged, "object"),
        output::size(report.bytes),
        output::count(report.packs_checked, "pack"),
        report.generation,
        if report.with_older {
            " and older generations"
        } else {
            ""
        },
        report.directory,
        if report.with_older {
            String::new()
        } else {
            "; objects it linked to older packs are not in its packs (--with-older)".into()
        }
    );
}
