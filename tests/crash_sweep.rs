//! Power cut after every storage operation of every kind of workload, each
//! cut with many durable outcomes (src/testkit/src/sweep.rs lists the
//! invariants checked after each). `SNAPPER_CRASH_RANDOM` sets the random
//! outcomes per cut and metadata order (default 6), `SNAPPER_CRASH_SEED`
//! the seed, `SNAPPER_CRASH_NESTED` how many outcomes of each cut get a
//! second cut swept through their recovery (default 2),
//! `SNAPPER_CRASH_SCALE` multiplies the objects per workload (default 1).

mod common;

use common::payload;
use snapper_core::Config;
use snapper_testkit::env_count;
use snapper_testkit::sweep::{snapshot, sweep, sweep_nested, Step, Workload};

const T0: u64 = 1_795_545_149;

/// Fan-out 2 makes every file number cross into new trie directories, so
/// cuts land between create_dir and write too.
fn config() -> Config {
    Config {
        threshold: 2,
        ..Config::default()
    }
}

/// Objects 0..n at content `version`, of assorted lengths (empty
/// included); `SNAPPER_CRASH_SCALE` multiplies n for long runs.
fn objects(n: u64, version: u32) -> Vec<(u64, Vec<u8>)> {
    (0..n * env_count("SNAPPER_CRASH_SCALE", 1).max(1))
        .map(|id| {
            (
                id,
                payload(id, version, [0, 1, 17, 64, 300][id as usize % 5]),
            )
        })
        .collect()
}

/// `objects(n, 0)` with every `every`-th object changed to `version`.
fn changed(n: u64, every: u64, version: u32) -> Vec<(u64, Vec<u8>)> {
    objects(n, 0)
        .into_iter()
        .map(|(id, p)| {
            if id % every == 0 {
                (id, payload(id, version, p.len() + 3))
            } else {
                (id, p)
            }
        })
        .collect()
}

fn run(workload: Workload) {
    let random = env_count("SNAPPER_CRASH_RANDOM", 6);
    let seed = env_count("SNAPPER_CRASH_SEED", 0x5eed);
    let figures = sweep(&workload, random, seed);
    eprintln!(
        "crash sweep {:<24} cuts {:>4}  outcomes {:>6}  violations {}",
        workload.name,
        figures.cuts,
        figures.outcomes,
        figures.violations.len()
    );
    assert!(figures.cuts > 0, "{}: no cut point", workload.name);
    assert!(
        figures.violations.is_empty(),
        "{} violations, first ones:\n{}",
        figures.violations.len(),
        figures.violations[..figures.violations.len().min(15)].join("\n")
    );
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

#[test]
fn first_snapshot() {
    run(workload(
        "first snapshot",
        config(),
        vec![],
        snapshot(&objects(7, 0)),
    ));
}

#[test]
fn unchanged_snapshot() {
    run(workload(
        "unchanged snapshot",
        config(),
        snapshot(&objects(6, 0)),
        snapshot(&objects(6, 0)),
    ));
}

#[test]
fn partly_changed_snapshot_with_redundant_copies() {
    // redundancy 2: after two generations share the files, the third writes
    // redundant copies of the unchanged objects; a repeated id replaces its
    // first file, deleted after the commit.
    let config = Config {
        redundancy: 2,
        ..config()
    };
    let mut steps = snapshot(&changed(6, 3, 1));
    steps.insert(2, Step::Take(4, b"replaced below".to_vec()));
    steps.insert(steps.len() - 1, Step::Take(99, b"new object".to_vec()));
    run(workload(
        "partly changed, copies",
        config,
        [snapshot(&objects(6, 0)), snapshot(&objects(6, 0))].concat(),
        steps,
    ));
}

#[test]
fn purge_oldest_then_latest() {
    run(workload(
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
}

#[test]
fn purge_expired() {
    let config = Config {
        expiration: 100,
        ..config()
    };
    run(workload(
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
}

#[test]
fn retention_after_commit() {
    let config = Config {
        max_snapshots: 2,
        ..config()
    };
    run(workload(
        "retention after commit",
        config,
        [snapshot(&objects(5, 0)), snapshot(&changed(5, 2, 1))].concat(),
        snapshot(&changed(5, 3, 2)),
    ));
}

#[test]
fn retention_after_close_generation() {
    let config = Config {
        expiration: 100,
        ..config()
    };
    run(workload(
        "retention after close",
        config,
        [
            snapshot(&objects(4, 0)),
            vec![Step::Clock(T0 + 50)],
            snapshot(&changed(4, 2, 1)),
        ]
        .concat(),
        vec![Step::Clock(T0 + 700), Step::OpenClose],
    ));
}

/// Leaves a purged generation whose files a later one still uses, and an
/// uncommitted generation with files.
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
    run(workload(
        "purge_zombies",
        config(),
        zombie_setup(),
        vec![Step::PurgeZombies],
    ));
}

#[test]
fn init_snapshot_sweeps_an_incomplete_generation() {
    run(workload(
        "init sweeps incomplete",
        config(),
        zombie_setup(),
        snapshot(&changed(5, 4, 3)),
    ));
}

#[test]
fn abort_then_snapshot() {
    let mut steps = snapshot(&changed(5, 2, 4));
    steps.pop();
    steps.push(Step::Abort);
    steps.extend(snapshot(&changed(5, 2, 5)));
    run(workload(
        "abort, then snapshot",
        config(),
        snapshot(&objects(5, 0)),
        steps,
    ));
}

/// A second power cut while recovering from the first: from some outcomes
/// of every cut of these workloads, the recovery (purge_zombies, a
/// snapshot, a purge) is itself cut after each of its operations.
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
    ];
    let mut violations = Vec::new();
    for w in workloads {
        let figures = sweep_nested(&w, 1, seed, per_cut);
        eprintln!(
            "crash sweep {:<24} cuts {:>4}  outcomes {:>6}  then during recovery: cuts {:>5}  outcomes {:>6}  violations {}",
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
