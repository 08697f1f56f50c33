//! Keeps the bench honest in CI: the quick mode runs end to end, every row
//! is there, and the byte counts agree with what the engine's rules say
//! each step must write. No assertion on time: CI machines are noisy, and
//! the bench reports ratios for people to judge.

use std::path::PathBuf;
use std::process::Command;

use snapper_bench::{run, Options, Row, StepKind};
use snapper_core::pack::{PACK_RECORD_LEN, PACK_TRAILER_LEN};

// The in-process memory probe reads the live heap from this allocator.
#[global_allocator]
static ALLOCATOR: snapper_bench::heap::Counting = snapper_bench::heap::Counting;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("snapper-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Small packs, so that every workload spreads over several.
const PACK_SIZE: u64 = 128 * 1024;

fn quick(dir: PathBuf) -> Options {
    Options {
        dir,
        // Dropping the page cache would slow every other job on the machine.
        drop_caches: false,
        progress: false,
        pack_size: PACK_SIZE,
        ..Options::quick()
    }
}

/// What a step's packs take: every payload, a record per payload in the
/// index, a trailer per pack.
fn pack_bytes(payloads: u64, size: u64, packs: u64) -> u64 {
    payloads * (size + PACK_RECORD_LEN as u64) + packs * PACK_TRAILER_LEN as u64
}

/// Packs a generation writing `payloads` payloads of `size` bytes fills.
fn packs_for(payloads: u64, size: u64) -> u64 {
    payloads.div_ceil((PACK_SIZE / size).max(1))
}

fn find<'a>(rows: &'a [Row], workload: &str, redundancy: u32, step: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.workload == workload && r.redundancy == redundancy && r.step.starts_with(step))
        .unwrap_or_else(|| panic!("no row {workload} r={redundancy} {step}"))
}

/// With hints the unchanged objects are linked without their bytes; the
/// run restores and checks every object (a hint that lost data fails the
/// run), and every step writes what it writes without hints.
#[test]
fn hinted_run_writes_the_same_and_restores_every_object() {
    let options = Options {
        hints: true,
        peer: false,
        ..quick(scratch("hints"))
    };
    let hinted = run(&options).expect("hinted quick run");
    let plain = run(&Options {
        hints: false,
        ..options.clone()
    })
    .expect("quick run");
    assert!(hinted.options.contains("hinted"), "{}", hinted.options);
    assert_eq!(hinted.rows.len(), plain.rows.len());
    for (h, p) in hinted.rows.iter().zip(&plain.rows) {
        assert_eq!(
            (&h.step, h.changed, h.payloads_written, h.packs_written, h.disk_after),
            (&p.step, p.changed, p.payloads_written, p.packs_written, p.disk_after),
            "{} r={}",
            h.workload,
            h.redundancy
        );
    }
}

#[test]
fn quick_run_has_every_row_and_consistent_byte_counts() {
    let dir = scratch("lib");
    let options = quick(dir.clone());
    let report = run(&options).expect("quick run");
    let rows = &report.rows;
    let peer = which_rsync();

    // 2 x PhantomOS (4 snapshots + restore), Pages (3 + restore),
    // 2 x Retention (3 groups).
    assert_eq!(rows.len(), 5 + 5 + 4 + 3 + 3, "{rows:#?}");
    for (workload, redundancy) in [("PhantomOS", 3), ("PhantomOS", 0), ("Pages", 3)] {
        let (objects, size) = if workload == "Pages" {
            options.pages
        } else {
            options.phantom
        };
        let (objects, size) = (objects as u64, size as u64);
        let first = find(rows, workload, redundancy, "first snapshot");
        assert_eq!(first.payloads_written, objects);
        assert_eq!(first.packs_written, packs_for(objects, size));
        assert!(first.packs_written > 1, "the quick run spans several packs");
        assert_eq!(
            first.bytes_written,
            pack_bytes(objects, size, first.packs_written) + first.archive_bytes
        );
        // du counts whole blocks, so the tree is at least the payloads.
        assert!(first.disk_after >= objects * size);
        // Growth is from the empty root, which occupies a block itself.
        assert!(first.disk_growth > 0 && first.disk_growth < first.disk_after as i64);

        let unchanged = find(rows, workload, redundancy, "0 % changed");
        assert_eq!(unchanged.kind, StepKind::Unchanged);
        assert_eq!(
            unchanged.payloads_written, 0,
            "unchanged objects cost no I/O"
        );
        assert_eq!(unchanged.packs_written, 0);
        assert_eq!(unchanged.bytes_written, unchanged.archive_bytes);

        let one = find(rows, workload, redundancy, "1 % changed");
        assert_eq!(one.changed, objects.div_ceil(100));
        assert_eq!(one.payloads_written, one.changed);
        assert_eq!(one.packs_written, packs_for(one.changed, size));
        assert_eq!(
            one.bytes_written,
            pack_bytes(one.changed, size, one.packs_written) + one.archive_bytes
        );
        for row in [first, unchanged, one] {
            // Every payload is distinct content: nothing to deduplicate,
            // and without purges no pack becomes sparse.
            assert_eq!((row.deduplicated, row.copied_forward), (0, 0), "{row:?}");
            assert!(row.times.one_file_write.is_some() && row.times.write.is_some());
        }

        let restore = find(rows, workload, redundancy, "restore (warm cache)");
        assert_eq!(restore.kind, StepKind::Restore);
        let last_snapshot = rows
            .iter()
            .rev()
            .find(|r| {
                r.workload == workload && r.redundancy == redundancy && r.kind != StepKind::Restore
            })
            .unwrap();
        assert_eq!(restore.disk_after, last_snapshot.disk_after);
        assert!(restore.times.read.is_some() && restore.times.one_file_read.is_some());
        for row in [first, unchanged, one, restore] {
            assert_eq!(row.times.peer.is_some(), peer, "{row:?}");
            assert_eq!(row.peer_disk_after.is_some(), peer, "{row:?}");
        }
    }

    // Generation 4 of PhantomOS finds nearly every unchanged copy serving
    // three generations (all but the objects the 1 % step rewrote): with
    // redundancy=3 a copy of each is owed, but a generation writes at most
    // objects/3 of them; with redundancy=0 none.
    let ten = find(rows, "PhantomOS", 3, "10 % changed");
    let one = find(rows, "PhantomOS", 3, "1 % changed");
    let objects = options.phantom.0 as u64;
    let owed = objects - ten.changed - one.changed;
    assert!(owed > objects.div_ceil(3), "the budget binds in this step");
    assert_eq!(ten.redundant_copies, objects.div_ceil(3));
    assert_eq!(
        one.redundant_copies, 0,
        "no copy serves three generations yet"
    );
    assert_eq!(ten.payloads_written, ten.changed + ten.redundant_copies);
    let ten = find(rows, "PhantomOS", 0, "10 % changed");
    assert_eq!(
        (ten.payloads_written, ten.redundant_copies),
        (ten.changed, 0)
    );

    // Retention: purges delete files once max_snapshots is reached.
    for redundancy in [3, 0] {
        let purging: Vec<&Row> = rows
            .iter()
            .filter(|r| r.workload == "Retention" && r.redundancy == redundancy)
            .collect();
        assert_eq!(purging.len(), 3);
        let (generations, max) = options.retention;
        assert_eq!(purging[0].generations, 1);
        assert_eq!(purging[1].generations, max - 1);
        assert_eq!(purging[2].generations, generations - max);
        assert_eq!(purging[0].files_deleted, 0);
        // At least the purged generation's archive.
        assert!(purging[2].files_deleted > 0, "{:?}", purging[2]);
        for row in &purging {
            assert_eq!(
                row.payloads_written,
                row.changed + row.redundant_copies + row.copied_forward,
                "{row:?}"
            );
        }
    }

    assert_eq!(report.memory.len(), 2);
    assert_eq!(report.memory[1].objects, options.pages.0 as u64);
    assert!(report.memory.iter().all(|m| m.heap_held > 0.0));
    assert!(
        !dir.read_dir().unwrap().any(|_| true),
        "the run directory is removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn which_rsync() -> bool {
    Command::new("rsync")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn binary_prints_the_tables_and_updates_only_the_generated_part() {
    let dir = scratch("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("BENCHMARKS.md");
    std::fs::write(&out, "# Benchmarks\n\nhand-written analysis\n").unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_snapper-bench"))
        .args([
            "--quick",
            "--no-drop-caches",
            "--pack-size",
            "256K",
            "--dir",
        ])
        .arg(dir.join("work"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run snapper-bench");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let printed = String::from_utf8_lossy(&result.stdout);
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with("# Benchmarks\n\nhand-written analysis\n"));
    for text in [&*printed, &*written] {
        for heading in ["### Time", "### Files, bytes, disk", "### Memory"] {
            assert!(text.contains(heading), "{heading} missing");
        }
        for step in [
            "| PhantomOS | 3 | first snapshot |",
            "| PhantomOS | 0 | 10 % changed |",
            "| Pages | 3 | 0 % changed |",
            "| Pages | 3 | restore (warm cache) |",
            "| Retention | 0 | gen 1 (first) |",
            "| Pages | 65536 |",
        ] {
            // The memory table names the objects held, not the full size.
            let step = step.replace("65536", "512");
            assert_eq!(
                text.matches(&step).count(),
                if step.starts_with("| Pages | 512") {
                    1
                } else {
                    2
                },
                "{step} in\n{text}"
            );
        }
        assert!(text.contains("CPU") && text.contains("rustc"));
        assert!(text.contains("pack_size 262144 B"), "{text}");
        assert!(text.contains("one-file floor"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pack_size_out_of_the_engines_range_is_refused() {
    for value in ["1K", "2G", "4k", "x"] {
        let result = Command::new(env!("CARGO_BIN_EXE_snapper-bench"))
            .args(["--quick", "--no-out", "--pack-size", value])
            .output()
            .expect("run snapper-bench");
        assert_eq!(result.status.code(), Some(2), "--pack-size {value}");
        assert!(String::from_utf8_lossy(&result.stderr).contains("--pack-size"));
    }
}
