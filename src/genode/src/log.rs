//! Genode's log: one call is one line.

use core::fmt::{self, Write};

use crate::sys;

/// Severity of a log line; Genode prefixes warnings and errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Plain `Genode::log`.
    Info,
    /// `Genode::warning`.
    Warning,
    /// `Genode::error`.
    Error,
}

/// Longest line passed to Genode in one piece; Genode's LOG session splits
/// longer ones anyway, and a stack buffer keeps logging free of the heap
/// (it must work in the panic handler after an allocation failure).
pub const LINE_MAX: usize = 512;

/// Formats into a fixed buffer, cutting at a character boundary.
pub struct LineBuffer {
    buf: [u8; LINE_MAX],
    len: usize,
    truncated: bool,
}

impl LineBuffer {
    /// An empty line.
    pub const fn new() -> Self {
        LineBuffer {
            buf: [0; LINE_MAX],
            len: 0,
            truncated: false,
        }
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        // Only whole `str`s or char-boundary prefixes of them were copied in.
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }

    /// Whether text was cut off.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for LineBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_MAX - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        if take < s.len() {
            self.truncated = true;
        }
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + take), s.get(..take))
        {
            dst.copy_from_slice(src.as_bytes());
            self.len += take;
        }
        Ok(())
    }
}

/// Writes one line.
pub fn log(level: Level, args: fmt::Arguments<'_>) {
    let mut line = LineBuffer::new();
    let _ = line.write_fmt(args);
    if line.truncated() {
        // Mark the cut so that a reader does not take the line for complete.
        line.len = line.len.saturating_sub(3);
        while !line.as_str().is_empty() && core::str::from_utf8(&line.buf[..line.len]).is_err() {
            line.len -= 1;
        }
        let _ = line.write_str("...");
    }
    raw(level, line.as_str());
}

/// Writes `text` as one line without formatting.
pub fn raw(level: Level, text: &str) {
    let level = match level {
        Level::Info => sys::SG_LOG_INFO,
        Level::Warning => sys::SG_LOG_WARNING,
        Level::Error => sys::SG_LOG_ERROR,
    };
    // SAFETY: pointer and length describe `text`, which outlives the call.
    unsafe { sys::sg_log(level, text.as_ptr().cast(), text.len()) }
}

/// `log_info!("...", args)`: a plain log line.
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Info, format_args!($($arg)*)) };
}

/// `log_warning!("...", args)`: a warning line.
#[macro_export]
macro_rules! log_warning {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Warning, format_args!($($arg)*)) };
}

/// `log_error!("...", args)`: an error line.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Error, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_buffer_cuts_at_char_boundary() {
        let mut line = LineBuffer::new();
        let long = "ä".repeat(LINE_MAX); // 2 bytes each
        let _ = line.write_str(&long);
        assert!(line.truncated());
        assert_eq!(line.as_str().len(), LINE_MAX);
        let mut odd = LineBuffer::new();
        let _ = odd.write_str("x");
        let _ = odd.write_str(&long);
        assert_eq!(odd.as_str().len(), LINE_MAX - 1);
        assert!(odd.as_str().starts_with("xä"));
    }
}
