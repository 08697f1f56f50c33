//! Snapper on a plain host: a storage backend over a directory (std::fs),
//! a platform that logs to stdout in the Genode component's style, and the
//! pieces the host main job, the benchmarks and the tools share.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use snapper_core::{Level, Platform};

pub mod content;

/// Moved to the core (its `std` feature) so that the host implementation of
/// the Genode ABI stores through the same backend; still reachable here.
pub use snapper_core::dir::DirStorage;

/// The host platform: the system clock, and log lines on stdout in the
/// style of a Genode component's LOG session (`[label] Warning: ...`).
#[derive(Debug)]
pub struct HostPlatform {
    label: String,
    quiet_below: Level,
}

impl HostPlatform {
    /// Logs with `label` (e.g. "snapper") and every level up to Info.
    pub fn new(label: &str) -> Self {
        HostPlatform {
            label: label.into(),
            quiet_below: Level::Debug,
        }
    }

    /// Logs errors and warnings only (benchmarks).
    pub fn quiet(label: &str) -> Self {
        HostPlatform {
            label: label.into(),
            quiet_below: Level::Info,
        }
    }

    /// Writes one line as the component would.
    pub fn line(&self, level: Level, message: std::fmt::Arguments<'_>) {
        let prefix = match level {
            Level::Error => "Error: ",
            Level::Warning => "Warning: ",
            Level::Info | Level::Debug => "",
        };
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "[{}] {prefix}{message}", self.label);
    }
}

impl Platform for HostPlatform {
    fn now(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn log(&mut self, level: Level, message: std::fmt::Arguments<'_>) {
        if level < self.quiet_below || level == Level::Debug {
            self.line(level, message);
        }
    }
}

/// Reads a config file, or gives the default config text when `path` is
/// `None`.
pub fn config_text(path: Option<&Path>, default: &str) -> io::Result<String> {
    match path {
        Some(path) => fs::read_to_string(path),
        None => Ok(default.into()),
    }
}
