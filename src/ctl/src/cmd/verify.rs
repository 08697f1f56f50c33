//! `verify`: every copy of every valid generation checked as restore
//! would (the engine's verify_generation), every pack in use against its
//! own index (check_pack), and what that means for each object: intact,
//! still restorable from another copy (degraded), or lost.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use snapper_core::engine::inspect::{PackCheck, PackError, Verification};
use snapper_core::{Generation, Location, ObjectId, PackRef, Storage};

use super::{print_json, Failure, Options, Outcome, Session};
use crate::inspect::{copy_problem, pack_problem, read_only_config, GenView, Status};
use crate::output::{self, Progress};
use crate::storage::RootSpec;

#[derive(Serialize)]
pub struct DamagedCopyRow {
    path: String,
    generation: u32,
    pack: u32,
    offset: u32,
    length: u32,
    /// The objects that use this stored payload (equal content is stored once).
    objects: Vec<u64>,
    problem: String,
    /// Generations in scope whose verification met it.
    used_by: Vec<u32>,
    /// Valid archives that use it.
    references: u32,
}

#[derive(Serialize)]
pub struct DamagedPack {
    path: String,
    generation: u32,
    pack: u32,
    problem: String,
}

#[derive(Serialize)]
pub struct DamagedArchive {
    generation: u32,
    name: String,
    problem: String,
}

#[derive(Serialize)]
pub struct GenVerdict {
    generation: u32,
    name: String,
    objects: u64,
    copies: u64,
    bytes: u64,
    /// Every copy intact.
    intact: u64,
    /// Some copy damaged, another intact: restore still succeeds.
    degraded: u64,
    /// No intact copy.
    lost: u64,
    lost_objects: Vec<u64>,
}

#[derive(Serialize)]
pub struct VerifyReport {
    scope: String,
    archives_checked: usize,
    copies_checked: u64,
    bytes_checked: u64,
    packs_checked: usize,
    damaged_archives: Vec<DamagedArchive>,
    damaged_copies: Vec<DamagedCopyRow>,
    damaged_packs: Vec<DamagedPack>,
    generations: Vec<GenVerdict>,
    /// Generations without an archive that no valid generation uses: an
    /// interrupted snapshot, or an archive that was lost.
    incomplete_generations: Vec<DamagedArchive>,
    /// Files gc would delete (the engine's unused_files); absent when an
    /// archive could not be read.
    unused_files: Option<usize>,
    objects_lost: u64,
    ok: bool,
}

/// Runs `verify`; `progress` draws a bar on a terminal.
pub fn run(
    root: &RootSpec,
    g: &Options,
    spec: Option<&str>,
    strict: bool,
    progress: bool,
) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let report = report(&mut session, spec, progress && !g.json)?;
    if g.json {
        print_json(&report)?;
    } else {
        print(&report);
    }
    outcome(&report, strict)
}

/// The exit a report means: damage when an object is lost or an archive
/// damaged; with `strict`, also when anything at all is damaged.
pub fn outcome(report: &VerifyReport, strict: bool) -> Outcome {
    if !report.ok {
        return Err(Failure::Damage(String::new()));
    }
    if strict && !(report.damaged_copies.is_empty() && report.damaged_packs.is_empty()) {
        return Err(Failure::Damage(
            "--strict: damage found (every object is still restorable)".into(),
        ));
    }
    Ok(())
}

/// What the engine's check of one generation means for its objects: an
/// object with a damaged copy is degraded while another copy is intact,
/// lost when none is (the engine's `lost`).
pub fn verdict(view: &GenView, checked: &Verification) -> GenVerdict {
    let lost: BTreeSet<ObjectId> = checked.lost.iter().copied().collect();
    let with_damage: BTreeSet<ObjectId> = checked.damaged.iter().map(|d| d.id).collect();
    GenVerdict {
        generation: view.generation.0,
        name: view.name.clone(),
        objects: checked.objects,
        copies: checked.copies,
        bytes: checked.bytes,
        intact: checked.objects.saturating_sub(with_damage.len() as u64),
        degraded: with_damage.difference(&lost).count() as u64,
        lost: lost.len() as u64,
        lost_objects: lost.iter().map(|id| id.0).collect(),
    }
}

/// What is wrong with a pack as a whole, if anything verify reports: a
/// damaged index or trailer, or a trailer that names another pack. A
/// missing or unreadable pack is left out: its copies fail already.
pub fn pack_damage(pack: PackRef, check: &PackCheck) -> Option<String> {
    match (&check.error, &check.trailer) {
        (Some(PackError::Unreadable(_)), _) => None,
        (Some(error), _) => Some(pack_problem(error)),
        (None, Some(t)) if t.generation != pack.generation || t.pack != pack.pack => Some(format!(
            "its trailer names pack {:x} of generation {}",
            t.pack.0, t.generation
        )),
        _ => None,
    }
}

fn damaged_archive(view: &GenView) -> DamagedArchive {
    DamagedArchive {
        generation: view.generation.0,
        name: view.name.clone(),
        problem: view.status.why().unwrap_or_default(),
    }
}

/// Checks generation `spec` (or all) and the packs in use (or those the
/// generation wrote).
pub fn report<S: Storage>(
    session: &mut Session<S>,
    spec: Option<&str>,
    progress: bool,
) -> Result<VerifyReport, Failure> {
    let scope: Vec<GenView> = match spec {
        Some(spec) => vec![session.find(spec)?],
        None => session.gens.clone(),
    };
    let in_scope: BTreeSet<Generation> = scope.iter().map(|v| v.generation).collect();
    let damaged_archives: Vec<DamagedArchive> = scope
        .iter()
        .filter(|v| v.status.is_damaged())
        .map(damaged_archive)
        .collect();
    // The packs whose own index is checked: every pack in use, or the
    // packs the one generation asked for wrote.
    let packs: Vec<PackRef> = session
        .engine
        .pack_usage()
        .iter()
        .map(|u| u.pack)
        .filter(|p| spec.is_none() || in_scope.contains(&p.generation))
        .collect();
    let valid: Vec<&GenView> = scope.iter().filter(|v| v.status == Status::Valid).collect();
    let mut bar = Progress::new("verify", (valid.len() + packs.len()) as u64, progress);
    let mut verdicts = Vec::new();
    let mut damaged: BTreeMap<Location, DamagedCopyRow> = BTreeMap::new();
    for view in valid {
        let checked = session.engine.verify_generation(view.generation);
        session.flush_log();
        bar.step();
        let checked = checked.map_err(|e| {
            Failure::Damage(format!(
                "generation {} ({}): cannot be verified ({e})",
                view.generation, view.name
            ))
        })?;
        for copy in &checked.damaged {
            let location = copy.copy.location();
            let path = session
                .engine
                .pack_path(copy.copy.pack_ref())
                .unwrap_or_default();
            let references = session.engine.references(location);
            let row = damaged.entry(location).or_insert_with(|| DamagedCopyRow {
                path,
                generation: copy.copy.generation.0,
                pack: copy.copy.pack.0,
                offset: copy.copy.offset,
                length: copy.copy.length,
                objects: Vec::new(),
                problem: copy_problem(&copy.problem),
                used_by: Vec::new(),
                references,
            });
            if !row.objects.contains(&copy.id.0) {
                row.objects.push(copy.id.0);
            }
            if row.used_by.last() != Some(&view.generation.0) {
                row.used_by.push(view.generation.0);
            }
        }
        verdicts.push(verdict(view, &checked));
    }
    let mut damaged_packs = Vec::new();
    for pack in &packs {
        let check = session.engine.check_pack(*pack);
        session.flush_log();
        bar.step();
        if let Some(problem) = pack_damage(*pack, &check) {
            damaged_packs.push(DamagedPack {
                path: session.engine.pack_path(*pack).unwrap_or_default(),
                generation: pack.generation.0,
                pack: pack.pack.0,
                problem,
            });
        }
    }
    bar.finish();
    let unused_files = session.engine.unused_files().ok().map(|f| f.len());
    session.flush_log();

    let objects_lost = verdicts.iter().map(|v| v.lost).sum();
    Ok(VerifyReport {
        scope: spec.map_or("all".into(), String::from),
        archives_checked: scope
            .iter()
            .filter(|v| v.status == Status::Valid || v.status.is_damaged())
            .count(),
        copies_checked: verdicts.iter().map(|v| v.copies).sum(),
        bytes_checked: verdicts.iter().map(|v| v.bytes).sum(),
        packs_checked: packs.len(),
        ok: objects_lost == 0 && damaged_archives.is_empty(),
        damaged_archives,
        damaged_copies: damaged.into_values().collect(),
        damaged_packs,
        generations: verdicts,
        incomplete_generations: scope
            .iter()
            .filter(|v| v.status == Status::Incomplete)
            .map(damaged_archive)
            .collect(),
        unused_files,
        objects_lost,
    })
}

/// The findings and the summary line.
pub fn print(report: &VerifyReport) {
    for archive in &report.damaged_archives {
        out!(
            "damaged archive: generation {} ({}): {}; the engine cannot restore it \
             (`snapperctl salvage {} -o DIR` rescues the objects it wrote itself)",
            archive.generation,
            archive.name,
            archive.problem,
            archive.generation
        );
    }
    for copy in &report.damaged_copies {
        let users: Vec<String> = copy.used_by.iter().map(u32::to_string).collect();
        let objects: Vec<String> = copy.objects.iter().map(|id| format!("{id:#x}")).collect();
        out!(
            "damaged copy: {}+{:#x} ({} bytes): {} (object {}, used by generation{} {})",
            copy.path,
            copy.offset,
            copy.length,
            copy.problem,
            objects.join(", "),
            if users.len() == 1 { "" } else { "s" },
            users.join(", ")
        );
    }
    for pack in &report.damaged_packs {
        out!(
            "damaged pack: {}: {} (restore reads the ranges its archives record; salvage cannot use this pack)",
            pack.path,
            pack.problem
        );
    }
    for gen in &report.incomplete_generations {
        out!(
            "note: generation {} ({}): {}; `snapperctl gc` removes it",
            gen.generation,
            gen.name,
            gen.problem
        );
    }
    for v in &report.generations {
        if v.lost == 0 && v.degraded == 0 {
            out!(
                "generation {} ({}): {} objects, all intact",
                v.generation,
                v.name,
                v.objects
            );
            continue;
        }
        let mut text = format!(
            "generation {} ({}): {} objects, {} intact",
            v.generation, v.name, v.objects, v.intact
        );
        if v.degraded > 0 {
            text += &format!(", {} restorable from another copy", v.degraded);
        }
        if v.lost > 0 {
            let ids: Vec<String> = v
                .lost_objects
                .iter()
                .take(16)
                .map(|id| format!("{id:#x}"))
                .collect();
            let more = if v.lost_objects.len() > 16 {
                ", ..."
            } else {
                ""
            };
            text += &format!(", {} LOST: {}{more}", v.lost, ids.join(", "));
        }
        out!("{text}");
    }
    let verdict = if report.ok {
        if report.damaged_copies.is_empty() {
            "everything intact".to_string()
        } else {
            "every object is still restorable from another copy".to_string()
        }
    } else {
        let gens = report.generations.iter().filter(|v| v.lost > 0).count();
        let mut parts = Vec::new();
        if report.objects_lost > 0 {
            parts.push(format!(
                "{} object{} in {gens} generation{} cannot be restored",
                report.objects_lost,
                if report.objects_lost == 1 { "" } else { "s" },
                if gens == 1 { "" } else { "s" }
            ));
        }
        if !report.damaged_archives.is_empty() {
            parts.push(format!(
                "{} generation(s) lost to a damaged archive",
                report.damaged_archives.len()
            ));
        }
        parts.join("; ")
    };
    let unused = match report.unused_files {
        Some(0) => String::new(),
        Some(n) => format!(" ({n} unused files: `snapperctl gc` removes them)"),
        None => " (unused files unknown: an archive cannot be read)".into(),
    };
    out!(
        "verify: {}, {} ({}) and {} checked; {}, {}, {}; {verdict}{unused}",
        output::count(report.archives_checked, "archive"),
        output::counted(report.copies_checked as usize, "copy", "copies"),
        output::size(report.bytes_checked),
        output::counted(report.packs_checked, "pack index", "pack indexes"),
        output::counted(
            report.damaged_copies.len(),
            "damaged copy",
            "damaged copies"
        ),
        output::count(report.damaged_packs.len(), "damaged pack"),
        output::count(report.damaged_archives.len(), "damaged archive"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::Collect;
    use snapper_core::pack::PackTrailer;
    use snapper_core::{Config, MemStorage, PackNumber, Snapper, StorageError};

    /// Three generations of eight objects, two objects per pack; the
    /// even objects change each round. redundancy=2 makes the third
    /// generation write a fresh copy of the odd objects, unchanged since
    /// the first, so that they have two copies there.
    fn root() -> MemStorage {
        let config = Config {
            threshold: 4,
            redundancy: 2,
            pack_size: 2 * 1000,
            ..Config::default()
        };
        let mut engine = Snapper::open(MemStorage::new(), Collect::default(), config).unwrap();
        for round in 0..3u8 {
            engine.init_snapshot().unwrap();
            for id in 0..8u8 {
                let version = if id % 2 == 0 { round } else { 0 };
                engine
                    .take_snapshot(ObjectId(id.into()), &[id ^ (version << 4); 1000])
                    .unwrap();
            }
            engine.commit_snapshot().unwrap();
        }
        engine.into_storage()
    }

    fn verify(storage: &mut MemStorage) -> VerifyReport {
        let mut session = Session::open(
            &"test root",
            &Options::default(),
            storage,
            read_only_config(),
        )
        .unwrap();
        report(&mut session, None, false).unwrap()
    }

    /// Flips the first payload byte of every pack of generation 1 that
    /// holds object `id`.
    fn damage_first_copy(storage: &mut MemStorage, id: u64) -> String {
        let mut session = Session::open(
            &"test root",
            &Options::default(),
            &mut *storage,
            read_only_config(),
        )
        .unwrap();
        let first = session.gens[0].clone();
        let archive = session.archive(&first).unwrap();
        let entry = snapper_core::archive::find_entry(&archive.entries, ObjectId(id)).unwrap();
        let copy = entry.copies.iter().last().unwrap();
        assert_eq!(copy.generation, first.generation);
        let path = session.engine.pack_path(copy.pack_ref()).unwrap();
        drop(session);
        match storage.nodes_mut().get_mut(&path) {
            Some(snapper_core::storage::MemNode::File(bytes)) => {
                bytes[copy.offset as usize] ^= 0xFF;
            }
            _ => panic!("{path} is not a file"),
        }
        path
    }

    #[test]
    fn an_intact_root_is_all_intact() {
        let mut storage = root();
        let report = verify(&mut storage);
        assert!(report.ok);
        assert_eq!(report.generations.len(), 3);
        for v in &report.generations {
            assert_eq!((v.objects, v.intact, v.degraded, v.lost), (8, 8, 0, 0));
        }
        assert!(report.damaged_copies.is_empty() && report.damaged_packs.is_empty());
        assert_eq!(report.unused_files, Some(0));
        assert!(outcome(&report, true).is_ok());
    }

    #[test]
    fn a_damaged_only_copy_is_lost_and_a_damaged_second_copy_degraded() {
        let mut storage = root();
        // Object 1 never changes: generation 1 holds its only copy, which
        // generation 2 links to; generation 3 wrote a fresh copy.
        let path = damage_first_copy(&mut storage, 1);
        let report = verify(&mut storage);
        let by_gen: Vec<(u64, u64, u64)> = report
            .generations
            .iter()
            .map(|v| (v.intact, v.degraded, v.lost))
            .collect();
        assert_eq!(by_gen, [(7, 0, 1), (7, 0, 1), (7, 1, 0)], "{by_gen:?}");
        assert_eq!(report.generations[0].lost_objects, [1]);
        assert_eq!(report.objects_lost, 2);
        assert!(!report.ok);
        assert!(matches!(outcome(&report, false), Err(Failure::Damage(_))));
        // One stored payload, met by every generation that uses it.
        assert_eq!(report.damaged_copies.len(), 1);
        let copy = &report.damaged_copies[0];
        assert_eq!(copy.path, path);
        assert_eq!(copy.objects, [1]);
        assert_eq!(copy.used_by, [1, 2, 3]);
        assert_eq!(copy.problem, "checksum mismatch");
        // A payload that fails its CRC leaves its pack's index and
        // trailer intact: no damaged pack.
        assert_eq!(report.damaged_packs.len(), 0);
    }

    #[test]
    fn strict_fails_on_damage_that_leaves_every_object_restorable() {
        let mut storage = root();
        damage_first_copy(&mut storage, 1);
        let mut report = verify(&mut storage);
        // As if only generation 3 had been asked for.
        report.generations.retain(|v| v.generation == 3);
        report.objects_lost = 0;
        report.ok = true;
        assert!(outcome(&report, false).is_ok());
        assert!(matches!(outcome(&report, true), Err(Failure::Damage(_))));
    }

    #[test]
    fn a_pack_is_damaged_by_its_index_or_a_foreign_trailer_not_by_being_missing() {
        let pack = PackRef {
            generation: Generation(2),
            pack: PackNumber(1),
        };
        let check = |trailer: Option<PackTrailer>, error: Option<PackError>| PackCheck {
            trailer,
            intact: Vec::new(),
            damaged: 0,
            error,
        };
        let trailer = |generation, number| PackTrailer {
            generation: Generation(generation),
            pack: PackNumber(number),
            records: 0,
            index_offset: 0,
            index_crc: 0,
        };
        assert_eq!(pack_damage(pack, &check(Some(trailer(2, 1)), None)), None);
        assert_eq!(
            pack_damage(
                pack,
                &check(None, Some(PackError::Unreadable(StorageError::NotFound)))
            ),
            None
        );
        assert!(pack_damage(pack, &check(Some(trailer(2, 3)), None))
            .is_some_and(|p| p.contains("pack 3 of generation 2")));
        assert!(pack_damage(pack, &check(Some(trailer(1, 1)), None)).is_some());
        let damaged = PackError::Damaged(snapper_core::format::DecodeError::BadMagic);
        assert!(pack_damage(pack, &check(None, Some(damaged)))
            .is_some_and(|p| p.contains("index or trailer damaged")));
    }
}
