//! Power cuts in random workloads: seeded sequences of snapshots (objects
//! changed, unchanged, dropped, repeated), aborts, purges, retention by
//! count and age, purge_zombies and restores, under random configs, each
//! swept with a cut after every storage operation (the checks of
//! src/testkit/src/sweep.rs). The structured sweeps of crash_sweep.rs
//! cover each operation alone; these cover how they interact.
//! `SNAPPER_RANDOM_WORKLOADS` (default 12), `SNAPPER_CRASH_SEED`.

use snapper_testkit::env_count;
use snapper_testkit::sweep::{random_workload, sweep};

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
