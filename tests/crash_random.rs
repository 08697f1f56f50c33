//! Power cuts in random workloads: seeded sequences of snapshots (objects
//! changed, unchanged, dropped, repeated), aborts, purges, retention by
//! count and age, purge_zombies and restores, under random configs, each
//! swept with a cut after every storage operation (the checks of
//! src/testkit/src/sweep.rs). The structured sweeps of crash_sweep.rs
//! cover each operation alone; these cover how they interact.
//! `SNAPPER_RANDOM_WORKLOADS` (default 12), `SNAPPER_CRASH_SEED`.

mod common;

use std::collections::BTreeMap;

use common::payload;
use snapper_core::Config;
use snapper_testkit::env_count;
use snapper_testkit::sweep::{snapshot, sweep, Step, Workload};
use snapper_testkit::Rng;

const T0: u64 = 1_795_545_149;

fn random_config(rng: &mut Rng) -> Config {
    let max_snapshots = [0, 0, 2, 3, 4][rng.index(5)];
    let min_snapshots = rng.below(3) as u32;
    Config {
        threshold: 2 + rng.below(3) as u32,
        redundancy: rng.below(4) as u32,
        max_snapshots,
        min_snapshots: if max_snapshots == 0 {
            min_snapshots
        } else {
            min_snapshots.min(max_snapshots)
        },
        expiration: [0, 0, 100][rng.index(3)],
        integrity: rng.chance(1, 2),
        ..Config::default()
    }
}

/// A random snapshot: each known object kept, changed or dropped, some new
/// ones, sometimes an id taken twice; committed, or aborted.
fn random_snapshot(rng: &mut Rng, objects: &mut BTreeMap<u64, u32>, round: u32) -> Vec<Step> {
    let mut steps = vec![Step::Init];
    let ids: Vec<u64> = objects.keys().copied().collect();
    for id in ids {
        match rng.below(6) {
            0 => {
                objects.remove(&id);
            }
            1 | 2 => {
                objects.insert(id, round);
            }
            _ => {}
        }
    }
    for _ in 0..rng.below(3) {
        objects.insert(rng.below(12), round);
    }
    for (id, version) in objects.iter() {
        if rng.chance(1, 8) {
            steps.push(Step::Take(*id, b"replaced by the next take".to_vec()));
        }
        let len = [0, 3, 40, 200][(id + u64::from(*version)) as usize % 4];
        steps.push(Step::Take(*id, payload(*id, *version, len)));
    }
    steps.push(if rng.chance(1, 8) {
        Step::Abort
    } else {
        Step::Commit
    });
    steps
}

fn random_workload(seed: u64) -> Workload {
    let mut rng = Rng::new(seed);
    let config = random_config(&mut rng);
    let mut objects: BTreeMap<u64, u32> = (0..1 + rng.below(5)).map(|id| (id, 0)).collect();
    let first: Vec<(u64, Vec<u8>)> = objects
        .keys()
        .map(|id| (*id, payload(*id, 0, 10 + *id as usize)))
        .collect();
    let setup = snapshot(&first);
    let mut steps = Vec::new();
    let mut clock = T0;
    for round in 1..=4 {
        clock += [0, 1, 30, 120][rng.index(4)];
        steps.push(Step::Clock(clock));
        steps.extend(match rng.below(10) {
            0 => vec![Step::Purge(None)],
            1 => vec![Step::PurgeNewest],
            2 => vec![Step::PurgeExpired],
            3 => vec![Step::PurgeZombies],
            4 => vec![Step::OpenClose],
            _ => random_snapshot(&mut rng, &mut objects, round),
        });
    }
    Workload {
        name: "random",
        config,
        start: T0,
        setup,
        steps,
    }
}

#[test]
fn power_cuts_in_random_workloads() {
    let count = env_count("SNAPPER_RANDOM_WORKLOADS", 12);
    let seed = env_count("SNAPPER_CRASH_SEED", 0x5eed);
    let (mut cuts, mut outcomes) = (0, 0);
    let mut violations = Vec::new();
    for n in 0..count {
        let workload_seed = seed.wrapping_mul(1000).wrapping_add(n);
        let workload = random_workload(workload_seed);
        let figures = sweep(&workload, 1, workload_seed);
        cuts += figures.cuts;
        outcomes += figures.outcomes;
        violations.extend(figures.violations.into_iter().map(|v| {
            format!(
                "workload seed {workload_seed} ({:?}, steps {:?}): {v}",
                workload.config,
                workload.steps.len()
            )
        }));
    }
    eprintln!(
        "crash sweep {count} random workloads: cuts {cuts}  outcomes {outcomes}  violations {}",
        violations.len()
    );
    assert!(cuts > 0);
    assert!(
        violations.is_empty(),
        "{} violations, first ones:\n{}",
        violations.len(),
        violations[..violations.len().min(10)].join("\n")
    );
}
