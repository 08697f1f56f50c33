//! What Snapper needs from its surroundings besides storage: a clock and a
//! log.

use core::fmt;

/// How important a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed; the line says what and what was kept.
    Error,
    /// Something was damaged or skipped, and the call went on.
    Warning,
    /// One line per completed operation.
    Info,
    /// Step by step detail, only with `verbose`.
    Debug,
}

/// What Snapper needs from its surroundings besides storage.
pub trait Platform {
    /// The current time in seconds since the Unix epoch (UTC), from the RTC.
    fn now(&mut self) -> u64;
    /// Writes one log line.
    fn log(&mut self, level: Level, message: fmt::Arguments<'_>);
}
