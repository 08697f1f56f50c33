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

use snapper_testkit::sweep::{sweep_random_workloads, Figures};
use snapper_testkit::{env_count, Direct};

#[test]
fn power_cuts_in_random_workloads() {
    let count = env_count("SNAPPER_RANDOM_WORKLOADS", 24);
    let seed = env_count("SNAPPER_CRASH_SEED", 0x5eed);
    let Figures {
        cuts,
        outcomes,
        coverage,
        stats,
        violations,
        ..
    } = sweep_random_workloads(&Direct, count, seed, 1);
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
            // random_config uses the archive log three times in four: the
            // commit point is the record's write; else archive files, whose
            // commit point is the rename.
            "archive record write (commit point)",
            "archive seal or unseal",
            "archive rename (commit point)",
            "archive retire by purge",
            "archive retire by retention",
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
