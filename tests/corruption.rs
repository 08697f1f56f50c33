//! Damage on disk: every file of a root (snapshot files, redundant copies,
//! archives, a leftover archive.tmp) gets bit flips, truncations, garbage,
//! extra bytes or is deleted, one at a time, under both integrity policies.
//! Restore never returns wrong bytes, falls back to an intact copy when
//! there is one and answers IntegrityFailed (or InvalidVersion) when there
//! is none; a damaged archive invalidates its own generation only, and no
//! file another generation needs is ever deleted because of it.

mod common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::payload;
use snapper_core::layout;
use snapper_core::storage::MemNode;
use snapper_core::{Config, Error, GenerationStatus, MemStorage, ObjectId, Snapper};
use snapper_testkit::image::{missing_files, valid_archives};
use snapper_testkit::sweep::{panic_text, run_steps, snapshot, Content, Run};
use snapper_testkit::{CrashStorage, Plan, Rng, SimPlatform};

const T0: u64 = 1_795_545_149;

fn config(integrity: bool) -> Config {
    Config {
        threshold: 3,
        redundancy: 1,
        integrity,
        ..Config::default()
    }
}

fn objects(version: &[u32]) -> Vec<(u64, Vec<u8>)> {
    version
        .iter()
        .enumerate()
        .map(|(id, v)| (id as u64, payload(id as u64, *v, 10 + 37 * id)))
        .collect()
}

/// Three generations with redundant copies (redundancy 1: every unchanged
/// object gets a fresh copy, up to three backlinks), and a fourth that
/// crashed after writing its archive.tmp.
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

fn damages(len: usize, rng: &mut Rng) -> Vec<Damage> {
    let mut out = vec![Damage::Delete, Damage::Append, Damage::Zeros];
    out.push(Damage::Garbage(rng.next_u64()));
    for at in [0, 1, len / 2, len.saturating_sub(1)] {
        if at < len {
            out.push(Damage::Truncate(at));
        }
    }
    // Every header field of both formats, the first payload byte, and a
    // few random positions.
    let mut positions = vec![
        0,
        4,
        6,
        8,
        12,
        16,
        20,
        24,
        40,
        44,
        47,
        48,
        len.saturating_sub(1),
    ];
    positions.extend((0..4).map(|_| rng.index(len.max(1))));
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

/// What each object of each generation must do after `damaged` is hurt:
/// the object's copies, newest first, by path.
fn copies(disk: &MemStorage) -> BTreeMap<String, BTreeMap<u64, Vec<String>>> {
    valid_archives(disk)
        .into_values()
        .map(|archive| {
            let objects = archive
                .entries
                .iter()
                .map(|entry| {
                    let paths = entry
                        .backlinks
                        .iter()
                        .filter_map(|l| {
                            let source = archive.source(l.generation)?;
                            Some(layout::file_path(&source.name, source.fanout, l.file))
                        })
                        .collect();
                    (entry.id.0, paths)
                })
                .collect();
            (archive.name.clone(), objects)
        })
        .collect()
}

/// Restores every object of every generation that should be valid; checks
/// each answer against whether an intact copy exists.
fn check_restores(
    snapper: &mut Snapper<MemStorage, SimPlatform>,
    content: &BTreeMap<String, Content>,
    copies: &BTreeMap<String, BTreeMap<u64, Vec<String>>>,
    damaged: &str,
    violations: &mut Vec<String>,
) {
    for (name, objects) in content {
        let damaged_archive = damaged == format!("{name}/archive");
        let listed = snapper
            .generations()
            .into_iter()
            .find(|g| &g.name == name)
            .map(|g| g.status);
        if damaged_archive {
            if listed == Some(GenerationStatus::Valid) {
                violations.push(format!("{name}: valid with a damaged archive"));
            }
            continue;
        }
        if listed != Some(GenerationStatus::Valid) {
            violations.push(format!("{name}: no longer valid ({listed:?})"));
            continue;
        }
        if let Err(e) = snapper.open_generation(Some(name)) {
            violations.push(format!("{name}: open_generation: {e}"));
            continue;
        }
        for (id, expected) in objects {
            let mut buf = vec![0xEEu8; 400];
            let intact = copies[name][id].iter().any(|p| p != damaged);
            match snapper.restore(ObjectId(*id), &mut buf) {
                Ok(len) if len == expected.len() && buf[..len] == expected[..] => {
                    if !intact {
                        violations.push(format!("{name}/{id}: restored from nothing intact?"));
                    }
                }
                Ok(_) => violations.push(format!("{name}/{id}: WRONG BYTES returned")),
                Err(e) => {
                    if intact {
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

fn one_case(
    disk: &MemStorage,
    content: &BTreeMap<String, Content>,
    copies: &BTreeMap<String, BTreeMap<u64, Vec<String>>>,
    path: &str,
    damage: Damage,
    integrity: bool,
) -> Vec<String> {
    let mut violations = Vec::new();
    let mut hurt = disk.clone();
    apply(&mut hurt, path, damage);
    let platform = SimPlatform::at(T0 + 10);
    let mut snapper = match Snapper::open(hurt, platform.clone(), config(integrity)) {
        Ok(s) => s,
        Err(e) => return vec![format!("open: {e}")],
    };
    check_restores(&mut snapper, content, copies, path, &mut violations);
    let damaged_gen = path
        .ends_with("/archive")
        .then(|| layout::parent_dir(path).to_string());
    let newest = content.keys().next_back().cloned().unwrap_or_default();

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
        violations.push(format!("referenced files deleted: {missing:?}"));
    }
    check_restores(&mut snapper, content, copies, path, &mut violations);

    // A damaged generation can be purged by name; others keep their files.
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
    check_restores(&mut snapper, content, copies, path, &mut violations);
    violations
}

#[test]
fn every_file_damaged_every_way_under_both_policies() {
    let (disk, content) = build();
    let copies = copies(&disk);
    let mut rng = Rng::new(0xC0DE);
    let mut cases = 0u64;
    let mut violations = Vec::new();
    let files: Vec<(String, usize)> = disk
        .nodes()
        .iter()
        .filter_map(|(p, n)| match n {
            MemNode::File(b) => Some((p.clone(), b.len())),
            MemNode::Dir => None,
        })
        .collect();
    let kinds = |p: &str| {
        if p.ends_with("/archive") {
            "archive"
        } else if p.ends_with("/archive.tmp") {
            "archive.tmp"
        } else if copies
            .values()
            .any(|g| g.values().any(|c| c.len() > 1 && c.iter().any(|x| x == p)))
        {
            "redundant copy"
        } else {
            "snapshot file"
        }
    };
    let mut per_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for (path, len) in &files {
        for damage in damages(*len, &mut rng) {
            for integrity in [true, false] {
                cases += 1;
                *per_kind.entry(kinds(path)).or_default() += 1;
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    one_case(&disk, &content, &copies, path, damage, integrity)
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
        "corruption: {} files, {cases} cases {per_kind:?}, violations {}",
        files.len(),
        violations.len()
    );
    assert!(
        per_kind.len() == 4,
        "every kind of file is damaged: {per_kind:?}"
    );
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
    let (disk, content) = build();
    let copies = copies(&disk);
    let names: Vec<String> = content.keys().cloned().collect();
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
            "snapshot directory replaced by a file".into(),
            make_file(format!("{first}/snapshot")),
            None,
        ),
        (
            "a trie directory removed".into(),
            remove_tree(format!("{first}/snapshot/2")),
            None,
        ),
        (
            "a snapshot file replaced by a directory".into(),
            make_dir(format!("{last}/snapshot/1/0")),
            None,
        ),
        (
            "strangers in a generation".into(),
            Box::new(move |d: &mut MemStorage| {
                let n = d.nodes_mut();
                n.insert(format!("{first}/notes.txt"), MemNode::File(b"hi".to_vec()));
                n.insert(format!("{first}/snapshot/zz"), MemNode::Dir);
                n.insert(format!("{first}/snapshot/1/ffff"), MemNode::File(vec![]));
            }),
            None,
        ),
    ];
    let mut violations = Vec::new();
    for (what, hurt, damaged_gen) in cases {
        for integrity in [true, false] {
            let mut hurt_disk = disk.clone();
            hurt(&mut hurt_disk);
            let gone: Vec<String> = disk
                .nodes()
                .keys()
                .filter(|k| !matches!(hurt_disk.nodes().get(*k), Some(MemNode::File(_))))
                .filter(|k| matches!(disk.nodes().get(*k), Some(MemNode::File(_))))
                .cloned()
                .collect();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let mut found = Vec::new();
                let mut snapper =
                    Snapper::open(hurt_disk, SimPlatform::at(T0 + 10), config(integrity)).unwrap();
                let content: BTreeMap<String, Content> = content
                    .iter()
                    .filter(|(n, _)| Some(*n) != damaged_gen.as_ref())
                    .map(|(n, c)| (n.clone(), c.clone()))
                    .collect();
                // Objects whose every copy is gone fail; the rest restore.
                let check = |snapper: &mut Snapper<MemStorage, SimPlatform>,
                             found: &mut Vec<String>| {
                    for (name, objects) in &content {
                        if snapper.open_generation(Some(name)).is_err() {
                            found.push(format!("{name} cannot be opened"));
                            continue;
                        }
                        for (id, expected) in objects {
                            let mut buf = vec![0u8; 400];
                            let intact = copies[name][id].iter().any(|p| !gone.contains(p));
                            match snapper.restore(ObjectId(*id), &mut buf) {
                                Ok(len) if buf[..len] == expected[..] => {}
                                Ok(_) => found.push(format!("{name}/{id}: WRONG BYTES")),
                                Err(e) if intact => found.push(format!("{name}/{id}: {e}")),
                                Err(_) => {}
                            }
                        }
                        let _ = snapper.close_generation();
                    }
                };
                check(&mut snapper, &mut found);
                let swept = snapper.purge_zombies();
                let held = damaged_gen.is_some() && integrity;
                if swept.is_err() && !held {
                    found.push(format!("purge_zombies: {swept:?}"));
                }
                check(&mut snapper, &mut found);
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
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}
