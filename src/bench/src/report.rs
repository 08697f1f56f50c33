//! The report as markdown, and its place in BENCHMARKS.md.

use std::fmt::Write;

use crate::bench::{MemoryRow, Report, Row, StepKind};

/// Marks the part of BENCHMARKS.md a run replaces; the text around it
/// (analysis, open items) is written by people and kept.
pub const BEGIN: &str = "<!-- snapper-bench: generated, do not edit -->";
/// End of the generated part.
pub const END: &str = "<!-- snapper-bench: end of generated part -->";

/// Target: an unchanged generation costs at most this many digest floors.
pub const UNCHANGED_FLOOR: f64 = 2.0;
/// Target: an unchanged Pages generation is this many times faster than rsync.
pub const UNCHANGED_PEER_SPEEDUP: f64 = 20.0;
/// Target: a changed generation costs at most this many write floors.
pub const CHANGED_FLOOR: f64 = 1.5;
/// Target: a restore costs at most this many read floors.
pub const RESTORE_FLOOR: f64 = 1.5;
/// Target: resident bytes per object held.
pub const MEMORY_PER_OBJECT: f64 = 96.0;

/// Seconds as "12.3 ms" or "4.56 s".
pub fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// Bytes in binary units.
pub fn bytes(b: u64) -> String {
    let f = b as f64;
    if b >= 1 << 20 {
        format!("{:.2} MiB", f / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1} KiB", f / 1024.0)
    } else {
        format!("{b} B")
    }
}

fn signed_bytes(b: i64) -> String {
    if b < 0 {
        format!("-{}", bytes(b.unsigned_abs()))
    } else {
        bytes(b as u64)
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

/// The time target of a row: its text and whether it is met (`None` when a
/// reference is missing).
pub fn time_target(row: &Row) -> (String, Option<bool>) {
    let ratio = row.times.floor(row.kind).map(|f| row.times.snapper / f);
    match row.kind {
        StepKind::Unchanged => {
            let floor_ok = ratio.map(|r| r <= UNCHANGED_FLOOR);
            if row.workload == "Pages" {
                let speedup = row.times.peer.map(|p| p / row.times.snapper);
                let met = match (floor_ok, speedup) {
                    (Some(a), Some(s)) => Some(a && s >= UNCHANGED_PEER_SPEEDUP),
                    _ => None,
                };
                (
                    format!("<= {UNCHANGED_FLOOR}x floor, >= {UNCHANGED_PEER_SPEEDUP}x faster than rsync"),
                    met,
                )
            } else {
                (format!("<= {UNCHANGED_FLOOR}x floor"), floor_ok)
            }
        }
        StepKind::Changed => (
            format!("<= {CHANGED_FLOOR}x floor"),
            ratio.map(|r| r <= CHANGED_FLOOR),
        ),
        StepKind::Restore => (
            format!("<= {RESTORE_FLOOR}x floor"),
            ratio.map(|r| r <= RESTORE_FLOOR),
        ),
    }
}

/// Whether a snapshot row's disk growth is within changed bytes + 64 B per
/// object (`None` for restore rows).
pub fn disk_target(row: &Row) -> Option<bool> {
    (row.kind != StepKind::Restore).then(|| row.disk_growth <= row.allowed_growth() as i64)
}

/// Whether a memory row is within the target.
pub fn memory_target(row: &MemoryRow) -> bool {
    row.rss_held <= MEMORY_PER_OBJECT && row.heap_held <= MEMORY_PER_OBJECT
}

fn floor_text(row: &Row) -> String {
    let t = &row.times;
    floor_parts(row.kind, t.floor(row.kind), t.digest, t.write)
}

fn one_file_floor_text(row: &Row) -> String {
    let t = &row.times;
    floor_parts(
        row.kind,
        t.one_file_floor(row.kind),
        t.digest,
        t.one_file_write,
    )
}

fn floor_parts(
    kind: StepKind,
    floor: Option<f64>,
    digest: Option<f64>,
    write: Option<f64>,
) -> String {
    match (kind, floor) {
        (_, None) => "-".into(),
        (StepKind::Changed, Some(total)) => format!(
            "{} (digest {} + write {})",
            secs(total),
            secs(digest.unwrap_or(0.0)),
            secs(write.unwrap_or(0.0))
        ),
        (StepKind::Unchanged, Some(total)) => format!("{} (digest)", secs(total)),
        (StepKind::Restore, Some(total)) => format!("{} (read)", secs(total)),
    }
}

fn step_text(row: &Row) -> String {
    if row.generations > 1 {
        format!("{} (median of {})", row.step, row.generations)
    } else {
        row.step.clone()
    }
}

/// The generated part of BENCHMARKS.md (also what the binary prints).
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(
        out,
        "Measured with `cargo run --release -p snapper-bench` (median of {} run(s)).\n",
        report.repeat
    );
    let _ = writeln!(out, "| machine | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} ({} logical cores) |", m.cpu, m.cores);
    let _ = writeln!(out, "| memory | {} |", bytes(m.memory));
    let _ = writeln!(out, "| kernel | {} |", m.kernel);
    let _ = writeln!(out, "| bench directory's file system | {} |", m.file_system);
    let _ = writeln!(out, "| rustc | {} |", m.rustc);
    let _ = writeln!(out, "| source | {} |", m.source);
    let _ = writeln!(out, "| peer | {} |", report.peer);
    let _ = writeln!(out, "| sizes | {} |", report.options);
    let _ = writeln!(out, "| caches | {} |", report.caches);
    let _ = writeln!(
        out,
        "| load average (1, 5, 15 min) | {} at the start, {} at the end |",
        report.load.0, report.load.1
    );

    let _ = writeln!(out, "\n### Time\n");
    let _ = writeln!(
        out,
        "| workload | r | step | Snapper | floor (one file per object) | Snapper/floor | one-file floor | Snapper/one-file floor | target | rsync --link-dest | Snapper/rsync | met |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &report.rows {
        let t = &row.times;
        let ratio = t
            .floor(row.kind)
            .map_or("-".into(), |f| format!("{:.2}", t.snapper / f));
        let one_file_ratio = t
            .one_file_floor(row.kind)
            .map_or("-".into(), |f| format!("{:.2}", t.snapper / f));
        let (target, met) = time_target(row);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.workload,
            row.redundancy,
            step_text(row),
            secs(t.snapper),
            floor_text(row),
            ratio,
            one_file_floor_text(row),
            one_file_ratio,
            target,
            t.peer.map_or("-".into(), secs),
            t.peer
                .map_or("-".into(), |p| format!("{:.3}", t.snapper / p)),
            met.map_or("-", verdict),
        );
    }

    let _ = writeln!(out, "\n### Files, bytes, disk\n");
    let _ = writeln!(
        out,
        "| workload | r | step | objects changed | payloads written (redundant copies, copied forward) | packs written | files deleted | bytes written (archive) | on disk after | growth | growth / changed bytes | allowed growth | rsync on disk | met |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for row in &report.rows {
        let snapshot = row.kind != StepKind::Restore;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.workload,
            row.redundancy,
            step_text(row),
            if snapshot {
                row.changed.to_string()
            } else {
                "-".into()
            },
            if snapshot {
                format!(
                    "{} ({}, {})",
                    row.payloads_written, row.redundant_copies, row.copied_forward
                )
            } else {
                "-".into()
            },
            if snapshot {
                row.packs_written.to_string()
            } else {
                "-".into()
            },
            if snapshot {
                row.files_deleted.to_string()
            } else {
                "-".into()
            },
            if snapshot {
                format!(
                    "{} ({})",
                    bytes(row.bytes_written),
                    bytes(row.archive_bytes)
                )
            } else {
                "-".into()
            },
            bytes(row.disk_after),
            if snapshot {
                signed_bytes(row.disk_growth)
            } else {
                "-".into()
            },
            if snapshot && row.changed_bytes() > 0 {
                format!("{:.3}", row.disk_growth as f64 / row.changed_bytes() as f64)
            } else {
                "-".into()
            },
            if snapshot {
                bytes(row.allowed_growth())
            } else {
                "-".into()
            },
            row.peer_disk_after.map_or("-".into(), bytes),
            disk_target(row).map_or("-", verdict),
        );
    }

    let _ = writeln!(out, "\n### Memory\n");
    let _ = writeln!(
        out,
        "| workload | objects held | RSS held / object | heap held / object | RSS peak during the next snapshot / object | heap peak / object | target | met |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for row in &report.memory {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} B | {:.1} B | {:.1} B | {:.1} B | <= {MEMORY_PER_OBJECT} B held | {} |",
            row.workload,
            row.objects,
            row.rss_held,
            row.heap_held,
            row.rss_peak,
            row.heap_peak,
            verdict(memory_target(row))
        );
    }
    let _ = writeln!(
        out,
        "\nPeak resident memory of the whole bench process (VmHWM): {}, of which {} is the largest payload arena the bench holds (the workload's objects, not Snapper's).",
        bytes(report.peak_rss),
        bytes(report.largest_arena)
    );
    out
}

/// BENCHMARKS.md with its generated part replaced by `generated`; a file
/// without the markers gets them appended.
pub fn splice(existing: Option<&str>, generated: &str) -> String {
    let block = format!("{BEGIN}\n{generated}{END}\n");
    match existing {
        Some(text) => match (text.find(BEGIN), text.find(END)) {
            (Some(start), Some(end)) if start < end => {
                format!(
                    "{}{block}{}",
                    &text[..start],
                    text[end + END.len()..].trim_start_matches('\n')
                )
            }
            _ => format!("{}\n{block}", text.trim_end()),
        },
        None => format!("# Snapper benchmarks\n\n{block}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_generated_part() {
        let first = splice(None, "one\n");
        assert!(first.contains("one"));
        let edited = format!("{first}\n## Analysis\nkept\n");
        let second = splice(Some(&edited), "two\n");
        assert!(second.contains("two") && !second.contains("one"));
        assert!(second.ends_with("## Analysis\nkept\n"));
    }
}
