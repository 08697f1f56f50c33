//! The main job end to end, on every route to Snapper (the engine, the
//! session with 2.0's calls, the batched session) with and without hints:
//! every restored byte is checked by the job itself, which exits non-zero
//! and prints "CHECKS FAILED" on a mismatch.

use std::path::PathBuf;
use std::process::{Command, Output};

fn job(tag: &str, args: &[&str]) -> Output {
    let root: PathBuf =
        std::env::temp_dir().join(format!("snapper-main-job-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let output = Command::new(env!("CARGO_BIN_EXE_snapper-host"))
        .arg("--root")
        .arg(&root)
        .args([
            "--objects",
            "200",
            "--size",
            "4096",
            "--generations",
            "4",
            "--change",
            "20",
        ])
        .args(args)
        .output()
        .expect("the job runs");
    let _ = std::fs::remove_dir_all(&root);
    output
}

fn passed(tag: &str, args: &[&str]) -> String {
    let output = job(tag, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && stdout.contains("all checks passed"),
        "{args:?}: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn every_route_restores_every_byte() {
    passed("engine", &[]);
    passed("calls", &["--session", "calls"]);
    passed("batch", &["--session", "batch"]);
}

#[test]
fn hints_link_unchanged_objects_and_restore_every_byte() {
    let stdout = passed("engine-hints", &["--hints"]);
    // generation 2 of 200 objects with 20 % changed: the other 160 hinted
    assert!(
        stdout.contains("generation 2/4: 200 objects, 40 changed") && stdout.contains("160 hinted"),
        "{stdout}"
    );
    passed("batch-hints", &["--session", "batch", "--hints"]);
}

#[test]
fn hints_through_2_0s_calls_are_refused() {
    let output = job("calls-hints", &["--session", "calls", "--hints"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2.0's calls have no hint"), "{stderr}");
}
