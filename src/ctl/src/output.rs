//! Formatting for people: sizes, ages, and a progress line that appears on
//! a terminal only.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// `1536` -> `1.5 KiB`; exact below 1 KiB.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `1 file`, `2 files`.
pub fn count(n: usize, noun: &str) -> String {
    counted(n, noun, &format!("{noun}s"))
}

/// `1 copy`, `2 copies`: a noun whose plural is not the singular plus `s`.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Seconds -> `42s`, `7m`, `3h`, `12d`.
pub fn age(seconds: u64) -> String {
    match seconds {
        0..=119 => format!("{seconds}s"),
        120..=7_199 => format!("{}m", seconds / 60),
        7_200..=172_799 => format!("{}h", seconds / 3_600),
        _ => format!("{}d", seconds / 86_400),
    }
}

/// Parses a size such as `256M`, `1G`, `4096`, `16MiB` (binary units).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (e.g. 256M, 1G, 1048576)"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}' (use K, M, G or T)"
            ))
        }
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// Parses an object id: decimal, or hex with `0x`.
pub fn parse_id(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("'{text}' is not an object id (decimal, or hex with 0x)"))
}

/// A one-line progress display on stderr, drawn only when stderr is a
/// terminal: scripts and logs get no control characters.
pub struct Progress {
    enabled: bool,
    label: &'static str,
    total: u64,
    done: u64,
    last: Option<Instant>,
}

impl Progress {
    /// A progress line for `total` steps; `wanted` false keeps it silent.
    pub fn new(label: &'static str, total: u64, wanted: bool) -> Self {
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            label,
            total,
            done: 0,
            last: None,
        }
    }

    /// One more step done; redraws at most ten times a second.
    pub fn step(&mut self) {
        self.done += 1;
        if !self.enabled {
            return;
        }
        let due = self
            .last
            .is_none_or(|at| at.elapsed() >= Duration::from_millis(100));
        if due || self.done == self.total {
            self.last = Some(Instant::now());
            let width = 30u64;
            let filled = (self.done * width).checked_div(self.total).unwrap_or(width);
            let bar: String = (0..width)
                .map(|i| if i < filled { '#' } else { '-' })
                .collect();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{} [{bar}] {}/{}", self.label, self.done, self.total);
            let _ = err.flush();
        }
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
        self.enabled = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999T").is_err());
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 << 20), "3.0 MiB");
        assert_eq!(count(1, "pack"), "1 pack");
        assert_eq!(count(2, "pack"), "2 packs");
        assert_eq!(counted(3, "copy", "copies"), "3 copies");
    }

    #[test]
    fn ids_parse() {
        assert_eq!(parse_id("42"), Ok(42));
        assert_eq!(parse_id("0x2a"), Ok(42));
        assert_eq!(parse_id("0xffffffffffffffff"), Ok(u64::MAX));
        assert!(parse_id("-1").is_err());
        assert!(parse_id("0x").is_err());
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3600), "3h");
        assert_eq!(age(5 * 86_400), "5d");
    }
}
