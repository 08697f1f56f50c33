//! Power cuts in random workloads: seeded sequences of snapshots (objects
//! changed, unchanged, hinted unchanged, turned into a shared zero page,
//! dropped, repeated;
//! several small packs each), aborts, purges, retention by count and age,
//! purge_zombies and restores, under random configs (pack_size 4 to
//! 16 KiB among them), each swept with a cut after every storage
//! operation (the checks of src/testkit/src/sweep.rs). The structured
//! sweeps of crash_sweep.rs cover each operation alone; these cover how
//! they interact. `SNAPPER_RANDOM_WORKLOADS` (default 24),
//! `SNAPPER_CRASH_SEED`.

use std::collections::BTreeMap;

use snapper_core::SnapshotStats;
use snapper_testkit::env_count;
use snapper_testkit::sweep::{add_stats, random_workload, sweep};

#[test]
fn power_cuts_in_random_workloads() {
    let count = env_count("SNAPPER_RANDOM_WORKLOADS", 24);
    let seed = env_count("SNAPPER_CRASH_SEED", 0x5eed);
    let (mut cuts, mut outcomes) = (0, 0);
    let mut coverage: BTreeMap<&str, u64> = BTreeMap::new();
    let mut stats = SnapshotStats::default();
    let mut violations = Vec::new();
    for n in 0..count {
        let workload_seed = seed.wrapping_mul(1000).wrapping_add(n);
        let workload = random_workload(workload_seed);
        let figures = sweep(&workload, 1, workload_seed);
        cuts += figures.cuts;
        outcomes += figures.outcomes;
        for (kind, n) in &figures.coverage {
            *coverage.entry(kind).or_default() += n;
        }
        add_stats(&mut stats, &figures.stats);
        violations.extend(figures.violations.into_iter().map(|v| {
            format!(
                "workload seed {workload_seed} ({:?}, steps {:?}): {v}",
                workload.config,
                workload.steps.len()
            )
        }));
    }
    eprintln!(
        "crash sweep {count} random workloads: cuts {cuts}  outcomes {outcomes}  violations {}\n  cut points: {coverage:?}\n  snapshots: {stats:?}",
        violations.len()
    );
    assert!(cuts > 0);
    assert!(
        violations.is_empty(),
        "{} violations, first ones:\n{}",
        violations.len(),
        violations[..violations.len().min(10)].join("\n")
    );
    // The default seeds reach every kind of step (other seeds may not).
    if count >= 24 && seed == 0x5eed {
        for kind in [
            "pack write mid-take",
            "pack write at commit",
            "archive rename (commit point)",
            "pack delete by purge",
            "pack delete by retention",
        ] {
            assert!(
                coverage.get(kind).is_some_and(|n| *n > 0),
                "{kind}: {coverage:?}"
            );
        }
        assert!(
            stats.deduplicated > 0
                && stats.redundant_copies > 0
                && stats.copied_forward > 0
                && stats.hinted > 0,
            "{stats:?}"
        );
    }
}
