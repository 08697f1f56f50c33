//! Power cut after every storage operation of every kind of workload, each
//! cut with many durable outcomes (src/testkit/src/sweep.rs lists the
//! invariants checked after each). `SNAPPER_CRASH_RANDOM` sets the random
//! outcomes per cut and metadata order (default 6), `SNAPPER_CRASH_SEED`
//! the seed, `SNAPPER_CRASH_NESTED` how many outcomes of each cut get a
//! second cut swept through their recovery (default 2),
//! `SNAPPER_CRASH_SCALE` multiplies the objects per workload (default 1).

mod common;

use snapper_core::Config;
use snapper_testkit::env_count;
use snapper_testkit::payload::{self, payload};
use snapper_testkit::sweep::{snapshot, sweep, sweep_nested, Figures, Step, Workload};

const T0: u64 = 1_795_545_149;

/// Fan-out 2 makes pack numbers cross into new trie directories, so cuts
/// land between create_dir and a pack write too; 4 KiB packs make a
/// generation of a few objects span several packs, the first ones written
/// mid-take, the last at commit.
fn config() -> Config {
    Config {
        threshold: 2,
        pack_size: 4096,
        ..Config::default()
    }
}

/// Objects 0..n at content `version`, of assorted lengths (empty
/// included, most of a pack included); `SNAPPER_CRASH_SCALE` multiplies n
/// for long runs.
fn objects(n: u64, version: u32) -> Vec<(u64, Vec<u8>)> {
    payload::objects(scaled(n), version, &SIZES)
}

/// `objects(n, 0)` with every `every`-th object changed to `version`.
fn changed(n: u64, every: u64, version: u32) -> Vec<(u64, Vec<u8>)> {
    payload::changed(scaled(n), every, version, &SIZES, 3)
}

const SIZES: [usize; 6] = [0, 1, 1800, 3000, 2500, 64];

fn scaled(n: u64) -> u64 {
    n * env_count("SNAPPER_CRASH_SCALE", 1).max(1)
}

/// Sweeps `workload`, prints its figures and fails on any violation.
fn run(workload: Workload) -> Figures {
    let random = env_count("SNAPPER_CRASH_RANDOM", 6);
    let seed = env_count("SNAPPER_CRASH_SEED", 0x5eed);
    let figures = sweep(&workload, random, seed);
    eprintln!(
        "crash sweep {:<26} cuts {:>4}  outcomes {:>6}  violations {}  {:?}  {:?}",
        workload.name,
        figures.cuts,
        figures.outcomes,
        figures.violations.len(),
        figures.coverage,
        figures.stats
    );
    assert!(figures.cuts > 0, "{}: no cut point", workload.name);
    assert!(
        figures.violations.is_empty(),
        "{} violations, first ones:\n{}",
        figures.violations.len(),
        figures.violations[..figures.violations.len().min(15)].join("\n")
    );
    figures
}

/// Fails unless the sweep cut power during each of `kinds`.
fn assert_covers(figures: &Figures, name: &str, kinds: &[&str]) {
    for kind in kinds {
        assert!(
            figures.covered(kind) > 0,
            "{name}: no cut during '{kind}': {:?}",
            figures.coverage
        );
    }
}

fn workload(name: &'static str, config: Config, setup: Vec<Step>, steps: Vec<Step>) -> Workload {
    Workload {
        name,
        config,
        start: T0,
        setup,
        steps,
    }
}

/// What a sweep of steps that commit a generation must have cut.
const COMMIT: [&str; 3] = [
    "sync",
    "archive record write (commit point)",
    "archive seal or unseal",
];

#[test]
fn first_snapshot() {
    // 3 packs: two written mid-take as the next object does not fit, the
    // last at commit; the second empty object is linked to the first.
    let figures = run(workload(
        "first snapshot",
        config(),
        vec![],
        snapshot(&objects(7, 0)),
    ));
    assert_covers(
        &figures,
        "first snapshot",
        &[
            &COMMIT[..],
            &["pack write mid-take", "pack write at commit"],
        ]
        .concat(),
    );
    if env_count("SNAPPER_CRASH_SCALE", 1) <= 1 {
        assert_eq!(figures.stats.packs_written, 3);
        assert_eq!(figures.stats.deduplicated, 1);
    }
    assert!(figures.stats.packs_written >= 3 && figures.stats.deduplicated >= 1);
}

#[test]
fn unchanged_snapshot() {
    let figures = run(workload(
        "unchanged snapshot",
        config(),
        snapshot(&objects(6, 0)),
        snapshot(&objects(6, 0)),
    ));
    assert_covers(&figures, "unchanged snapshot", &COMMIT);
    assert_eq!(figures.stats.packs_written, 0, "no pack for no change");
}

#[test]
fn partly_changed_snapshot_with_redundant_copies_and_dedup() {
    // redundancy 2: after two generations share the payloads, the third
    // writes redundant copies of the unchanged objects (within its
    // budget); a repeated id leaves its first payload unused; a new id
    // with the content of an unchanged one is linked to it.
    let config = Config {
        redundancy: 2,
        ..config()
    };
    let mut steps = snapshot(&changed(6, 3, 1));
    // Objects 1 and 5 hinted unchanged (take_unchanged): a copy that comes
    // due is made from the stored bytes, read back.
    for step in steps.iter_mut() {
        if let Step::Take(id @ (1 | 5), _) = step {
            *step = Step::TakeUnchanged(*id);
        }
    }
    steps.insert(2, Step::Take(4, payload(4, 77, 2000)));
    let commit = steps.len() - 1;
    steps.insert(commit, Step::Take(99, b"new object".to_vec()));
    steps.insert(commit, Step::Take(100, objects(6, 0)[2].1.clone()));
    let figures = run(workload(
        "partly changed, copies",
        config,
        [snapshot(&objects(6, 0)), snapshot(&objects(6, 0))].concat(),
        steps,
    ));
    assert_covers(
        &figures,
        "partly changed, copies",
        &[
            &COMMIT[..],
            &["pack write mid-take", "pack write at commit"],
        ]
        .concat(),
    );
    assert!(figures.stats.redundant_copies > 0, "{:?}", figures.stats);
    assert!(figures.stats.deduplicated > 0, "{:?}", figures.stats);
    assert_eq!(figures.stats.hinted, 2, "{:?}", figures.stats);
}

#[test]
fn purge_oldest_then_latest() {
    let figures = run(workload(
        "purge",
        config(),
        [
            snapshot(&objects(5, 0)),
            snapshot(&changed(5, 2, 1)),
            snapshot(&changed(5, 3, 2)),
        ]
        .concat(),
        vec![Step::Purge(None), Step::PurgeNewest],
    ));
    assert_covers(
        &figures,
        "purge",
        &["archive retire by purge", "sync", "pack delete by purge"],
    );
}

#[test]
fn purge_expired() {
    let config = Config {
        expiration: 100,
        ..config()
    };
    let figures = run(workload(
        "purge_expired",
        config,
        [
            snapshot(&objects(4, 0)),
            vec![Step::Clock(T0 + 50)],
            snapshot(&changed(4, 2, 1)),
            vec![Step::Clock(T0 + 90)],
            snapshot(&changed(4, 3, 2)),
        ]
        .concat(),
        vec![Step::Clock(T0 + 400), Step::PurgeExpired],
    ));
    assert_covers(
        &figures,
        "purge_expired",
        &["archive retire by retention", "pack delete by retention"],
    );
}

#[test]
fn retention_after_commit() {
    let config = Config {
        max_snapshots: 2,
        ..config()
    };
    let figures = run(workload(
        "retention after commit",
        config,
        [snapshot(&objects(5, 0)), snapshot(&changed(5, 2, 1))].concat(),
        snapshot(&changed(5, 3, 2)),
    ));
    assert_covers(
        &figures,
        "retention after commit",
        &[
            &COMMIT[..],
            &["archive retire by retention", "pack delete by retention"],
        ]
        .concat(),
    );
}

#[test]
fn retention_after_close_generation() {
    let config = Config {
        expiration: 100,
        ..config()
    };
    let figures = run(workload(
        "retention after close",
        config,
        [
            snapshot(&objects(4, 0)),
            vec![Step::Clock(T0 + 50)],
            snapshot(&changed(4, 3, 1)),
        ]
        .concat(),
        vec![Step::Clock(T0 + 700), Step::OpenClose],
    ));
    assert_covers(
        &figures,
        "retention after close",
        &["archive retire by retention", "pack delete by retention"],
    );
}

/// Leaves a purged generation whose packs a later one still uses, and an
/// uncommitted generation that wrote packs.
fn zombie_setup() -> Vec<Step> {
    [
        snapshot(&objects(5, 0)),
        snapshot(&changed(5, 2, 1)),
        vec![Step::Purge(None), Step::Init],
        objects(5, 9)
            .into_iter()
            .map(|(id, p)| Step::Take(id, p))
            .collect(),
    ]
    .concat()
}

#[test]
fn purge_zombies() {
    let figures = run(workload(
        "purge_zombies",
        config(),
        zombie_setup(),
        vec![Step::PurgeZombies],
    ));
    assert_covers(
        &figures,
        "purge_zombies",
        &["pack delete by sweep or abort"],
    );
}

#[test]
fn init_snapshot_sweeps_an_incomplete_generation() {
    let figures = run(workload(
        "init sweeps incomplete",
        config(),
        zombie_setup(),
        snapshot(&changed(5, 4, 3)),
    ));
    assert_covers(
        &figures,
        "init sweeps incomplete",
        &[&COMMIT[..], &["pack delete by sweep or abort"]].concat(),
    );
}

#[test]
fn abort_then_snapshot() {
    let mut steps = snapshot(&changed(5, 2, 4));
    steps.pop();
    steps.push(Step::Abort);
    steps.extend(snapshot(&changed(5, 2, 5)));
    let figures = run(workload(
        "abort, then snapshot",
        config(),
        snapshot(&objects(5, 0)),
        steps,
    ));
    assert_covers(
        &figures,
        "abort, then snapshot",
        &[
            &COMMIT[..],
            &["pack write mid-take", "pack delete by sweep or abort"],
        ]
        .concat(),
    );
}

/// Object `id` of the copy-forward workload at `version`: a large hot one
/// (id 0) and small cold ones.
fn hot_and_cold(version: u32) -> Vec<(u64, Vec<u8>)> {
    vec![
        (0, payload(0, version, 3000)),
        (1, payload(1, 0, 500)),
        (2, payload(2, 0, 20)),
    ]
}

/// Copy-forward out of a sparse pack and the deletion of that pack: the
/// first generation's pack holds the hot object and the cold ones; once
/// its generation is purged (max_snapshots 2) only the cold ones (520 of
/// 3520 payload bytes) are used, so the next snapshot copies them
/// forward, and retention then deletes the pack, and the directory of the
/// generation that wrote it. `rounds` (1 or 2) swept snapshots: the first
/// copies forward, the second deletes the sparse pack.
fn copy_forward_workload(rounds: u32) -> Workload {
    let config = Config {
        max_snapshots: 2,
        redundancy: 0,
        ..config()
    };
    workload(
        "copy-forward, sparse pack",
        config,
        [
            snapshot(&hot_and_cold(0)),
            snapshot(&hot_and_cold(1)),
            snapshot(&hot_and_cold(2)),
        ]
        .concat(),
        (3..3 + rounds)
            .flat_map(|version| snapshot(&hot_and_cold(version)))
            .collect(),
    )
}

#[test]
fn copy_forward_out_of_a_sparse_pack_then_its_deletion() {
    let figures = run(copy_forward_workload(2));
    assert_covers(
        &figures,
        "copy-forward",
        &[
            &COMMIT[..],
            &[
                "pack write at commit",
                "archive retire by retention",
                "pack delete by retention",
            ],
        ]
        .concat(),
    );
    assert_eq!(figures.stats.copied_forward, 2, "{:?}", figures.stats);
}

#[test]
fn dedup_links_within_a_generation_and_to_the_base() {
    let zero = vec![0u8; 1024];
    let first = vec![
        (0, payload(0, 0, 100)),
        (1, zero.clone()),
        (2, zero.clone()),
        (3, payload(3, 0, 2000)),
        (4, payload(4, 0, 3000)),
    ];
    // Object 2 takes object 3's content, new object 5 the zero page (both
    // held by the base), object 4 changes and new object 6 has its new
    // content (stored once in this generation).
    let second = vec![
        (0, payload(0, 0, 100)),
        (1, zero.clone()),
        (2, payload(3, 0, 2000)),
        (3, payload(3, 0, 2000)),
        (4, payload(4, 1, 3000)),
        (5, zero),
        (6, payload(4, 1, 3000)),
        (7, payload(7, 1, 2500)),
    ];
    let figures = run(workload(
        "dedup links",
        config(),
        snapshot(&first),
        snapshot(&second),
    ));
    assert_covers(
        &figures,
        "dedup links",
        &[
            &COMMIT[..],
            &["pack write mid-take", "pack write at commit"],
        ]
        .concat(),
    );
    assert_eq!(figures.stats.deduplicated, 3, "{:?}", figures.stats);
    assert_eq!(figures.stats.payloads_written, 2, "{:?}", figures.stats);
}

/// A second power cut while recovering from the first: from some outcomes
/// of every cut of these workloads, the recovery (purge_zombies, a
/// snapshot of two packs, a purge) is itself cut after each of its
/// operations.
#[test]
fn crash_during_recovery() {
    let per_cut = env_count("SNAPPER_CRASH_NESTED", 2) as usize;
    let seed = env_count("SNAPPER_CRASH_SEED", 0x5eed);
    let redundant = Config {
        redundancy: 1,
        ..config()
    };
    let workloads = [
        workload("first snapshot", config(), vec![], snapshot(&objects(5, 0))),
        workload(
            "partly changed, copies",
            redundant,
            snapshot(&objects(4, 0)),
            snapshot(&changed(4, 2, 1)),
        ),
        workload(
            "purge",
            config(),
            [snapshot(&objects(4, 0)), snapshot(&changed(4, 2, 1))].concat(),
            vec![Step::Purge(None)],
        ),
        copy_forward_workload(1),
    ];
    let mut violations = Vec::new();
    for w in workloads {
        let figures = sweep_nested(&w, 1, seed, per_cut);
        eprintln!(
            "crash sweep {:<26} cuts {:>4}  outcomes {:>6}  then during recovery: cuts {:>5}  outcomes {:>6}  violations {}",
            w.name,
            figures.cuts,
            figures.outcomes,
            figures.nested_cuts,
            figures.nested_outcomes,
            figures.violations.len()
        );
        assert!(figures.nested_cuts > 0);
        violations.extend(figures.violations);
    }
    assert!(
        violations.is_empty(),
        "{} violations, first ones:\n{}",
        violations.len(),
        violations[..violations.len().min(15)].join("\n")
    );
}
