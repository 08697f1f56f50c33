//! Snapper's benchmarks: each step of each workload timed on the host
//! storage (`snapper_host::DirStorage`), next to what the step cannot beat
//! (its floors) and to what a Linux user would run instead (one file per
//! object and `rsync -a --link-dest`, hard-link snapshots), all in the same
//! run, because the machines are shared and noisy and only ratios measured
//! together mean anything.
//!
//! The binary (`src/main.rs`) parses flags, runs [`run`] and renders the
//! [`Report`] with [`report::render`].

pub mod heap;
pub mod report;
pub mod sys;
pub mod workload;

mod bench;

pub use bench::{probe_line, probe_memory, run, MemoryRow, Options, Report, Row, StepKind, Times};
