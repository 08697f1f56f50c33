//! Damage on disk: every file of a root (packs, redundant copies in them,
//! archives, a leftover archive.tmp, the packs of a crashed generation)
//! gets bit flips (in payloads, in the index records, in the trailer),
//! truncations, garbage, extra bytes or is deleted, one at a time, under
//! both integrity policies. Restore never returns wrong bytes, falls back
//! to an intact copy when there is one and answers IntegrityFailed (or
//! InvalidVersion) when there is none; `verify_generation` names exactly
//! the objects without an intact copy and `check_pack` sees every damage
//! to a pack; a damaged archive invalidates its own generation only, and
//! no pack another generation needs is ever deleted because of it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::payload;
use snapper_core::layout;
use snapper_core::pack::{self, PACK_RECORD_LEN, PACK_TRAILER_LEN};
use snapper_core::storage::MemNode;
use snapper_core::{Config, Error, GenerationStatus, MemStorage, ObjectId, PackRef, Snapper};
use snapper_testkit::image::{file, missing_files, used_packs, valid_archives};
use snapper_testkit::sweep::{panic_text, run_steps, snapshot, Content, Run};
use snapper_testkit::{CrashStorage, Plan, Rng, SimPlatform};

const T0: u64 = 1_795_545_149;

/// Redundancy 1 (every unchanged object gets a fresh copy: up to three
/// copies), 4 KiB packs (each generation spans several), fan-out 3.
/// Archive files (`archive_log: false`): this suite damages files one at a
/// time, `archive` and `archive.tmp` among them; damage to records of the
/// archive log is `tests/engine_regressions.rs`'s and `archive_log.rs`'s.
fn config(integrity: bool) -> Config {
    Config {
        threshold: 3,
        redundancy: 1,
        pack_size: 4096,
        integrity,
        archive_log: false,
        ..Config::default()
    }
}

fn objects(version: &[u32]) -> Vec<(u64, Vec<u8>)> {
    version
        .iter()
        .enumerate()
        .map(|(id, v)| (id as u64, payload(id as u64, *v, 10 + 700 * id)))
        .collect()
}

/// Three generations with redundant copies, and a fourth that crashed
/// after writing its packs and its archive.tmp.
fn build() -> (MemStorage, BTreeMap<String, Content>) {
    let platform = SimPlatform::at(T0);
    let mut snapper = Snapper::open(
        CrashStorage::over(MemStorage::new()),
        platform.clone(),
        config(true),
    )
    .unwrap();
    let mut run = Run::default();
    let steps = [
        snapshot(&objects(&[0, 0, 0, 0, 0, 0])),
        snapshot(&objects(&[0, 0, 0, 0, 0, 1])),
        snapshot(&objects(&[0, 2, 0, 2, 0, 1])),
    ]
    .concat();
    run_steps(&mut snapper, &platform, &steps, &mut run, |_| false);
    assert!(!run.ok.contains(&false));
    let names: BTreeMap<_, _> = snapper
        .generations()
        .into_iter()
        .map(|g| (g.generation, g.name))
        .collect();
    let content = run
        .content
        .into_iter()
        .map(|(g, c)| (names[&g].clone(), c))
        .collect();
    // The fourth generation: cut power right after its archive.tmp.
    let disk = snapper.into_storage().inner().clone();
    let mut probe = Snapper::open(
        CrashStorage::over(disk.clone()),
        platform.clone(),
        config(true),
    )
    .unwrap();
    let tail = snapshot(&objects(&[3, 3, 3, 3, 3, 3]));
    run_steps(&mut probe, &platform, &tail, &mut Run::default(), |_| false);
    let cut = probe
        .storage()
        .trace()
        .iter()
        .position(|t| t.contains("archive.tmp") && t.starts_with("write"))
        .unwrap()
        + 1;
    let mut crashed = Snapper::open(
        CrashStorage::over(disk).cut_after(cut as u64),
        platform.clone(),
        config(true),
    )
    .unwrap();
    run_steps(&mut crashed, &platform, &tail, &mut Run::default(), |s| {
        s.is_cut()
    });
    let pending = crashed.storage().pending().len();
    let disk = crashed.storage().image(&Plan::everything(pending));
    assert!(disk.nodes().keys().any(|k| k.ends_with("/archive.tmp")));
    (disk, content)
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    Flip(usize, u8),
    Truncate(usize),
    Garbage(u64),
    Zeros,
    Append,
    Delete,
}

/// Where a damage hits (for the figures).
fn region(disk: &MemStorage, used: &BTreeSet<String>, path: &str, damage: Damage) -> &'static str {
    if path.ends_with("/archive") {
        return "archive";
    }
    if path.ends_with("/archive.tmp") {
        return "archive.tmp";
    }
    if !used.contains(path) {
        return "unused pack";
    }
    let len = file(disk, path).map_or(0, <[u8]>::len);
    let index_at = file(disk, path)
        .and_then(|b| pack::check(b).ok())
        .map_or(0, |(t, _, _)| t.index_offset as usize);
    match damage {
        Damage::Flip(at, _) if at < index_at => "pack payload",
        Damage::Flip(at, _) if at + PACK_TRAILER_LEN < len => "pack index",
        Damage::Flip(..) => "pack trailer",
        Damage::Truncate(_) => "pack truncated",
        Damage::Delete => "pack missing",
        _ => "pack whole",
    }
}

fn damages(disk: &MemStorage, path: &str, rng: &mut Rng) -> Vec<Damage> {
    let bytes = file(disk, path).unwrap_or_default();
    let len = bytes.len();
    let mut out = vec![Damage::Delete, Damage::Append, Damage::Zeros];
    out.push(Damage::Garbage(rng.next_u64()));
    let mut cuts = vec![0, 1, len / 2, len.saturating_sub(1)];
    let mut positions = vec![len.saturating_sub(1)];
    positions.extend((0..4).map(|_| rng.index(len.max(1))));
    match pack::check(bytes) {
        Ok((trailer, records, _)) => {
            let index = trailer.index_offset as usize;
            let trailer_at = len - PACK_TRAILER_LEN;
            // Cut at the end of the payloads, inside the index, inside
            // the trailer.
            cuts.extend([index, index + PACK_RECORD_LEN / 2, trailer_at + 3]);
            // The first and last byte of every payload.
            for r in &records {
                if r.length > 0 {
                    positions.push(r.offset as usize);
                    positions.push((r.offset + r.length) as usize - 1);
                }
            }
            // Every field of the first and the last index record.
            for record in [0, trailer.records.saturating_sub(1) as usize] {
                let at = index + record * PACK_RECORD_LEN;
                positions.extend([0, 8, 12, 16, 20, 24, 25, 27].map(|f| at + f));
            }
            // Every trailer field.
            positions.extend([0, 4, 6, 8, 12, 16, 20, 24, 28, 31].map(|f| trailer_at + f));
        }
        // An archive: every header field, the start of the body.
        Err(_) => positions.extend([0, 4, 6, 8, 12, 16, 20, 24, 40, 44, 47, 48]),
    }
    for at in cuts {
        if at < len {
            out.push(Damage::Truncate(at));
        }
    }
    positions.sort_unstable();
    positions.dedup();
    for at in positions {
        if at < len {
            out.push(Damage::Flip(at, 1 << rng.below(8)));
        }
    }
    out
}

fn apply(disk: &mut MemStorage, path: &str, damage: Damage) {
    let nodes = disk.nodes_mut();
    if let Damage::Delete = damage {
        nodes.remove(path);
        return;
    }
    let Some(MemNode::File(bytes)) = nodes.get_mut(path) else {
        return;
    };
    match damage {
        Damage::Flip(at, mask) => bytes[at] ^= mask,
        Damage::Truncate(len) => bytes.truncate(len),
        Damage::Garbage(seed) => *bytes = Rng::new(seed).bytes(bytes.len()),
        Damage::Zeros => bytes.fill(0),
        Damage::Append => bytes.push(0),
        Damage::Delete => {}
    }
}

/// One stored copy of an object: its pack's path and its byte range.
#[derive(Clone, Debug)]
struct CopyAt {
    path: String,
    start: usize,
    end: usize,
}

/// Each object's copies, newest first, in each valid generation.
type Copies = BTreeMap<String, BTreeMap<u64, Vec<CopyAt>>>;

fn copies(disk: &MemStorage) -> Copies {
    valid_archives(disk)
        .into_values()
        .map(|archive| {
            let objects = archive
                .entries
                .iter()
                .map(|entry| {
                    let at = entry
                        .copies
                        .iter()
                        .filter_map(|c| {
                            let source = archive.source(c.generation)?;
                            Some(CopyAt {
                                path: layout::pack_path(&source.name, source.fanout, c.pack),
                                start: c.offset as usize,
                                end: (c.offset + c.length) as usize,
                            })
                        })
                        .collect();
                    (entry.id.0, at)
                })
                .collect();
            (archive.name.clone(), objects)
        })
        .collect()
}

/// Whether a copy's bytes are on the hurt disk as they were written.
fn intact(original: &MemStorage, hurt: &MemStorage, copy: &CopyAt) -> bool {
    let (Some(before), Some(now)) = (file(original, &copy.path), file(hurt, &copy.path)) else {
        return false;
    };
    // An empty payload reads as nothing wherever the file ends.
    copy.start == copy.end || now.get(copy.start..copy.end) == before.get(copy.start..copy.end)
}

/// The objects of each generation with no intact copy on `hurt`.
fn lost(original: &MemStorage, hurt: &MemStorage, copies: &Copies) -> BTreeMap<String, Vec<u64>> {
    copies
        .iter()
        .map(|(name, objects)| {
            let lost = objects
                .iter()
                .filter(|(_, at)| !at.iter().any(|c| intact(original, hurt, c)))
                .map(|(id, _)| *id)
                .collect();
            (name.clone(), lost)
        })
        .collect()
}

/// Restores every object of every generation that should be valid; checks
/// each answer against whether an intact copy exists, and
/// `verify_generation` against the same.
fn check_restores(
    snapper: &mut Snapper<MemStorage, SimPlatform>,
    content: &BTreeMap<String, Content>,
    lost: &BTreeMap<String, Vec<u64>>,
    damaged_archive: Option<&str>,
    violations: &mut Vec<String>,
) {
    for (name, objects) in content {
        let listed = snapper
            .generations()
            .into_iter()
            .find(|g| &g.name == name)
            .map(|g| (g.generation, g.status));
        if damaged_archive == Some(name.as_str()) {
            if listed.is_some_and(|(_, s)| s == GenerationStatus::Valid) {
                violations.push(format!("{name}: valid with a damaged archive"));
            }
            continue;
        }
        let Some((generation, GenerationStatus::Valid)) = listed else {
            violations.push(format!("{name}: no longer valid ({listed:?})"));
            continue;
        };
        let gone = &lost[name];
        match snapper.verify_generation(generation) {
            Ok(report) if &report.lost.iter().map(|i| i.0).collect::<Vec<_>>() == gone => {}
            Ok(report) => violations.push(format!(
                "{name}: verify_generation lost {:?}, the disk shows {gone:?}",
                report.lost
            )),
            Err(e) => violations.push(format!("{name}: verify_generation: {e}")),
        }
        if let Err(e) = snapper.open_generation(Some(name)) {
            violations.push(format!("{name}: open_generation: {e}"));
            continue;
        }
        for (id, expected) in objects {
            let mut buf = vec![0xEEu8; 4000];
            let has_intact = !gone.contains(id);
            match snapper.restore(ObjectId(*id), &mut buf) {
                Ok(len) if len == expected.len() && buf[..len] == expected[..] => {
                    if !has_intact {
                        violations.push(format!("{name}/{id}: restored from nothing intact?"));
                    }
                }
                Ok(_) => violations.push(format!("{name}/{id}: WRONG BYTES returned")),
                Err(e) => {
                    if has_intact {
                        violations.push(format!("{name}/{id}: {e} although a copy is intact"));
                    } else if !matches!(e, Error::IntegrityFailed | Error::InvalidVersion) {
                        violations.push(format!("{name}/{id}: answered {e:?}"));
                    }
                    if buf.iter().any(|b| *b != 0) {
                        violations.push(format!("{name}/{id}: buffer not zeroed on failure"));
                    }
                }
            }
        }
        let _ = snapper.close_generation();
    }
}

struct Root {
    disk: MemStorage,
    content: BTreeMap<String, Content>,
    copies: Copies,
    /// The packs the valid archives use, by path.
    used: BTreeMap<String, PackRef>,
}

fn one_case(root: &Root, path: &str, damage: Damage, integrity: bool) -> Vec<String> {
    let mut violations = Vec::new();
    let mut hurt = root.disk.clone();
    apply(&mut hurt, path, damage);
    let lost = lost(&root.disk, &hurt, &root.copies);
    let platform = SimPlatform::at(T0 + 10);
    let mut snapper = match Snapper::open(hurt, platform.clone(), config(integrity)) {
        Ok(s) => s,
        Err(e) => return vec![format!("open: {e}")],
    };
    let damaged_gen = path
        .ends_with("/archive")
        .then(|| layout::parent_dir(path).to_string());
    check_restores(
        &mut snapper,
        &root.content,
        &lost,
        damaged_gen.as_deref(),
        &mut violations,
    );
    // A used pack's own index and trailer show every damage to it.
    if let Some(pack) = root.used.get(path) {
        let check = snapper.check_pack(*pack);
        if check.error.is_none() && check.damaged == 0 {
            violations.push(format!("check_pack finds nothing wrong: {check:?}"));
        }
    }
    let newest = root.content.keys().next_back().cloned().unwrap_or_default();

    // The integrity policy when the newest archive is damaged (not
    // deleted: a missing archive is an uncommitted generation).
    if damaged_gen.as_deref() == Some(newest.as_str()) && !matches!(damage, Damage::Delete) {
        let opened = snapper.open_generation(None);
        match (integrity, opened) {
            (true, Err(Error::IntegrityFailed | Error::InvalidVersion)) => {}
            (false, Ok(())) => {
                if snapper.open_generation_name() == Some(newest.as_str()) {
                    violations.push("integrity=no opened the damaged generation".into());
                }
                let _ = snapper.close_generation();
            }
            (_, other) => violations.push(format!(
                "open_generation(latest) with a damaged latest, integrity={integrity}: {other:?}"
            )),
        }
    }

    // purge_zombies: a damaged generation is kept (yes) or deleted (no),
    // and nothing another generation needs goes.
    let before = snapper.storage().clone();
    let swept = snapper.purge_zombies();
    let kept_damaged = damaged_gen.as_ref().is_some_and(|g| {
        before
            .nodes()
            .keys()
            .filter(|k| k.starts_with(&format!("{g}/")))
            .all(|k| snapper.storage().nodes().contains_key(k))
    });
    match (&damaged_gen, integrity, damage) {
        (Some(_), _, Damage::Delete) | (None, _, _) => {
            if let Err(e) = swept {
                violations.push(format!("purge_zombies: {e}"));
            }
        }
        (Some(_), true, _) => {
            if swept != Err(Error::IntegrityFailed) || !kept_damaged {
                violations.push(format!(
                    "integrity=yes: purge_zombies {swept:?}, damaged directory kept: {kept_damaged}"
                ));
            }
        }
        (Some(g), false, _) => {
            if swept.is_err()
                || snapper
                    .storage()
                    .nodes()
                    .contains_key(&format!("{g}/archive"))
            {
                violations.push(format!(
                    "integrity=no: purge_zombies {swept:?}, damaged archive left"
                ));
            }
        }
    }
    let mut missing = missing_files(snapper.storage());
    missing.remove(path);
    if !missing.is_empty() {
        violations.push(format!("used packs deleted: {missing:?}"));
    }
    check_restores(
        &mut snapper,
        &root.content,
        &lost,
        damaged_gen.as_deref(),
        &mut violations,
    );

    // A damaged generation can be purged by name; others keep their packs.
    if let Some(g) = &damaged_gen {
        if snapper.generations().iter().any(|r| &r.name == g) {
            match snapper.purge(Some(g)) {
                Ok(()) | Err(Error::NoPriorGen) => {}
                Err(e) => violations.push(format!("purge of the damaged generation: {e}")),
            }
            let mut missing = missing_files(snapper.storage());
            missing.remove(path);
            if !missing.is_empty() {
                violations.push(format!("purging the damaged one deleted {missing:?}"));
            }
        }
    }

    // The next snapshot, every object changed, restores exactly.
    let next: Content = objects(&[7, 7, 7, 7, 7, 7]).into_iter().collect();
    let attempt = (|| -> Result<(), Error> {
        snapper.init_snapshot()?;
        for (id, p) in &next {
            snapper.take_snapshot(ObjectId(*id), p)?;
        }
        snapper.commit_snapshot()
    })();
    match attempt {
        Err(e) => violations.push(format!("next snapshot: {e}")),
        Ok(()) => {
            let name = snapper
                .generations()
                .pop()
                .map(|g| g.name)
                .unwrap_or_default();
            if let Err(e) = snapper_testkit::sweep::restore_matches(&mut snapper, &name, &next) {
                violations.push(format!("next snapshot: {e}"));
            }
        }
    }
    if snapper
        .storage()
        .nodes()
        .keys()
        .any(|k| k.ends_with("/archive.tmp"))
    {
        violations.push("archive.tmp left after the next snapshot".into());
    }
    check_restores(
        &mut snapper,
        &root.content,
        &lost,
        damaged_gen.as_deref(),
        &mut violations,
    );
    violations
}

fn root() -> Root {
    let (disk, content) = build();
    let copies = copies(&disk);
    let used = used_packs(&disk)
        .into_values()
        .map(|p| (p.path, p.pack))
        .collect();
    Root {
        disk,
        content,
        copies,
        used,
    }
}

#[test]
fn every_file_damaged_every_way_under_both_policies() {
    let root = root();
    let used: BTreeSet<String> = root.used.keys().cloned().collect();
    let mut rng = Rng::new(0xC0DE);
    let mut cases = 0u64;
    let mut violations = Vec::new();
    let files: Vec<String> = snapper_testkit::image::files(&root.disk)
        .into_iter()
        .collect();
    let mut per_region: BTreeMap<&str, u64> = BTreeMap::new();
    // Packs holding a redundant copy (an object with more than one copy).
    let redundant = root
        .copies
        .values()
        .flat_map(|objects| objects.values())
        .filter(|at| at.len() > 1)
        .flat_map(|at| at.iter().map(|c| c.path.clone()))
        .collect::<BTreeSet<_>>();
    for path in &files {
        for damage in damages(&root.disk, path, &mut rng) {
            for integrity in [true, false] {
                cases += 1;
                *per_region
                    .entry(region(&root.disk, &used, path, damage))
                    .or_default() += 1;
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    one_case(&root, path, damage, integrity)
                }));
                let found = match outcome {
                    Ok(v) => v,
                    Err(panic) => vec![format!("panicked: {}", panic_text(&*panic))],
                };
                violations.extend(
                    found
                        .into_iter()
                        .map(|v| format!("{path} {damage:?} integrity={integrity}: {v}")),
                );
            }
        }
    }
    eprintln!(
        "corruption: {} files ({} packs in use, {} of them with redundant copies), {cases} cases {per_region:?}, violations {}",
        files.len(),
        used.len(),
        redundant.len(),
        violations.len()
    );
    for region in [
        "archive",
        "archive.tmp",
        "unused pack",
        "pack payload",
        "pack index",
        "pack trailer",
        "pack truncated",
        "pack missing",
        "pack whole",
    ] {
        assert!(
            per_region.contains_key(region),
            "no damage to {region}: {per_region:?}"
        );
    }
    assert!(!redundant.is_empty());
    assert!(
        violations.is_empty(),
        "{} violations, first ones:\n{}",
        violations.len(),
        violations[..violations.len().min(20)].join("\n")
    );
}

/// Damage to the tree rather than to a file's bytes: a directory where a
/// file belongs and the reverse, a whole trie directory gone, strangers
/// inside a generation. Nothing panics, the other generations restore, the
/// calls that delete still work (after at most what the policy keeps).
#[test]
fn damaged_directory_structure() {
    let root = root();
    let names: Vec<String> = root.content.keys().cloned().collect();
    let (first, last) = (names[0].clone(), names[names.len() - 1].clone());
    type Hurt = Box<dyn Fn(&mut MemStorage)>;
    let make_dir = |path: String| -> Hurt {
        Box::new(move |d: &mut MemStorage| {
            d.nodes_mut().insert(path.clone(), MemNode::Dir);
        })
    };
    let make_file = |path: String| -> Hurt {
        Box::new(move |d: &mut MemStorage| {
            let prefix = format!("{path}/");
            d.nodes_mut().retain(|k, _| !k.starts_with(&prefix));
            d.nodes_mut()
                .insert(path.clone(), MemNode::File(b"x".to_vec()));
        })
    };
    let remove_tree = |path: String| -> Hurt {
        Box::new(move |d: &mut MemStorage| {
            let prefix = format!("{path}/");
            d.nodes_mut()
                .retain(|k, _| k != &path && !k.starts_with(&prefix));
        })
    };
    let cases: Vec<(String, Hurt, Option<String>)> = vec![
        (
            "archive replaced by a directory".into(),
            make_dir(format!("{last}/archive")),
            Some(last.clone()),
        ),
        (
            "pack directory replaced by a file".into(),
            make_file(format!("{first}/pack")),
            None,
        ),
        (
            "a trie directory removed".into(),
            remove_tree(format!("{first}/pack/1")),
            None,
        ),
        (
            "a pack replaced by a directory".into(),
            make_dir(format!("{last}/pack/1/0")),
            None,
        ),
        (
            "strangers in a generation".into(),
            Box::new(move |d: &mut MemStorage| {
                let n = d.nodes_mut();
                n.insert(format!("{first}/notes.txt"), MemNode::File(b"hi".to_vec()));
                n.insert(format!("{first}/pack/zz"), MemNode::Dir);
                n.insert(format!("{first}/pack/1/ffff"), MemNode::File(vec![]));
            }),
            None,
        ),
    ];
    let mut violations = Vec::new();
    for (what, hurt, damaged_gen) in cases {
        for integrity in [true, false] {
            let mut hurt_disk = root.disk.clone();
            hurt(&mut hurt_disk);
            let lost = lost(&root.disk, &hurt_disk, &root.copies);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let mut found = Vec::new();
                let mut snapper =
                    Snapper::open(hurt_disk, SimPlatform::at(T0 + 10), config(integrity)).unwrap();
                check_restores(
                    &mut snapper,
                    &root.content,
                    &lost,
                    damaged_gen.as_deref(),
                    &mut found,
                );
                let swept = snapper.purge_zombies();
                let held = damaged_gen.is_some() && integrity;
                if swept.is_err() && !held {
                    found.push(format!("purge_zombies: {swept:?}"));
                }
                check_restores(
                    &mut snapper,
                    &root.content,
                    &lost,
                    damaged_gen.as_deref(),
                    &mut found,
                );
                let next = (|| -> Result<(), Error> {
                    snapper.init_snapshot()?;
                    snapper.take_snapshot(ObjectId(1), b"after")?;
                    snapper.commit_snapshot()
                })();
                if let Err(e) = next {
                    found.push(format!("next snapshot: {e}"));
                }
                if let Err(e) = snapper.purge(None) {
                    found.push(format!("purge: {e}"));
                }
                found
            }));
            match outcome {
                Ok(found) => violations.extend(
                    found
                        .into_iter()
                        .map(|v| format!("{what}, integrity={integrity}: {v}")),
                ),
                Err(p) => violations.push(format!(
                    "{what}, integrity={integrity}: panicked: {}",
                    panic_text(&*p)
                )),
            }
        }
    }
    eprintln!(
        "corruption: damaged directory structures 5 x 2 policies, violations {}",
        violations.len()
    );
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}
