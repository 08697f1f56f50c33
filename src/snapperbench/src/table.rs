//! The one table the benchmark prints: a row per timed step, with its
//! throughput and, for the first snapshot and the restore, how many times
//! the floor's time Snapper took.
//!
//! Integer arithmetic only: the numbers are the same on every target, and
//! nothing here needs more than one decimal.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// One timed step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// What was timed.
    pub step: String,
    /// Objects passed through the step; `None` where that means nothing
    /// (a purge works on what the server holds, not on a payload).
    pub objects: Option<u64>,
    /// Payload bytes passed through the step, as `objects`.
    pub bytes: Option<u64>,
    /// Wall-clock time of the step in microseconds.
    pub us: u64,
    /// This step's time over the floor's for the same bytes, in hundredths
    /// (250 = 2.5 times as long); filled in once the floor ran.
    pub vs_floor: Option<u64>,
}

impl Row {
    /// A step without payload accounting.
    pub fn plain(step: impl Into<String>, us: u64) -> Row {
        Row {
            step: step.into(),
            objects: None,
            bytes: None,
            us,
            vs_floor: None,
        }
    }

    /// A step that moved `objects` objects of `bytes` bytes in total.
    pub fn moved(step: impl Into<String>, objects: u64, bytes: u64, us: u64) -> Row {
        Row {
            step: step.into(),
            objects: Some(objects),
            bytes: Some(bytes),
            us,
            vs_floor: None,
        }
    }
}

/// `numerator / denominator` in hundredths, rounded; `None` for a zero
/// denominator (a step too fast for the timer has no meaningful ratio).
pub fn hundredths(numerator: u64, denominator: u64) -> Option<u64> {
    if denominator == 0 {
        return None;
    }
    let value =
        (u128::from(numerator) * 100 + u128::from(denominator) / 2) / u128::from(denominator);
    Some(u64::try_from(value).unwrap_or(u64::MAX))
}

/// Microseconds as milliseconds with one decimal.
pub fn ms(us: u64) -> String {
    format!("{}.{}", us / 1000, us % 1000 / 100)
}

/// Throughput in MiB/s with one decimal; `-` when the time is 0.
pub fn mib_per_s(bytes: u64, us: u64) -> String {
    if us == 0 {
        return String::from("-");
    }
    // tenths of MiB/s = bytes / 2^20 / (us / 10^6) * 10
    let tenths = u128::from(bytes) * 10_000_000 / (u128::from(us) << 20);
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn ratio(hundredths: u64) -> String {
    format!("{}.{:02}x", hundredths / 100, hundredths % 100)
}

fn or_dash(value: Option<u64>) -> String {
    value.map_or_else(|| String::from("-"), |v| format!("{v}"))
}

/// The column titles.
pub const HEADER: [&str; 6] = ["step", "objects", "bytes", "ms", "MiB/s", "vs floor"];

fn line(cells: [&str; 6]) -> String {
    let [step, objects, bytes, ms, rate, vs] = cells;
    format!("{step:<32}{objects:>9}{bytes:>14}{ms:>11}{rate:>10}{vs:>10}")
}

/// The table as lines: the header, then one line per row.
pub fn render(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::with_capacity(rows.len() + 1);
    out.push(line(HEADER));
    for row in rows {
        let rate = match row.bytes {
            Some(bytes) => mib_per_s(bytes, row.us),
            None => String::from("-"),
        };
        out.push(line([
            &row.step,
            &or_dash(row.objects),
            &or_dash(row.bytes),
            &ms(row.us),
            &rate,
            &row.vs_floor.map(ratio).unwrap_or_default(),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_with_one_decimal() {
        assert_eq!(ms(0), "0.0");
        assert_eq!(ms(1_234_567), "1234.5");
        // 1 MiB in 1 s, 4 MiB in 0.5 s
        assert_eq!(mib_per_s(1 << 20, 1_000_000), "1.0");
        assert_eq!(mib_per_s(4 << 20, 500_000), "8.0");
        assert_eq!(mib_per_s(1, 0), "-");
        assert_eq!(hundredths(250, 100), Some(250));
        assert_eq!(hundredths(1, 3), Some(33));
        assert_eq!(hundredths(2, 3), Some(67));
        assert_eq!(hundredths(5, 0), None);
    }

    #[test]
    fn rows_line_up_under_the_header() {
        let mut first = Row::moved("first snapshot", 64, 262_144, 12_500);
        first.vs_floor = Some(241);
        let lines = render(&[first, Row::plain("purge oldest", 400)]);
        assert_eq!(lines.len(), 3);
        assert!(
            lines.iter().all(|l| l.len() == lines[0].len()),
            "{lines:#?}"
        );
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cells,
            ["first", "snapshot", "64", "262144", "12.5", "20.0", "2.41x"]
        );
        let cells: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(cells, ["purge", "oldest", "-", "-", "0.4", "-"]);
    }
}
