//! Records the version of the compiler that builds the bench, for the
//! machine description in BENCHMARKS.md (the `rustc` on PATH at run time may
//! be another one).

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SNAPPER_BENCH_RUSTC={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
