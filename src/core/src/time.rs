//! Calendar arithmetic for generation names: Unix seconds to and from UTC
//! civil time, without a dependency (Howard Hinnant's days-from-civil).

/// A UTC date and time, second resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    /// Full year, e.g. 2026.
    pub year: u32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
}

const SECONDS_PER_DAY: u64 = 86_400;

impl DateTime {
    /// The civil time of `unix_seconds` (seconds since 1970-01-01T00:00:00Z).
    pub fn from_unix(unix_seconds: u64) -> Self {
        let days = unix_seconds / SECONDS_PER_DAY;
        let rem = unix_seconds % SECONDS_PER_DAY;
        // Shift the epoch to 0000-03-01 so leap days fall at the end of a year.
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z % 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        DateTime {
            year: u32::try_from(year).unwrap_or(u32::MAX),
            month: month as u32,
            day: day as u32,
            hour: (rem / 3_600) as u32,
            minute: (rem % 3_600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// Seconds since the Unix epoch, or `None` for a time before 1970 or a
    /// field out of its range.
    pub fn to_unix(&self) -> Option<u64> {
        if !(1..=12).contains(&self.month)
            || self.day < 1
            || self.day > days_in_month(self.year, self.month)
            || self.hour > 23
            || self.minute > 59
            || self.second > 59
            || self.year < 1970
        {
            return None;
        }
        let year = u64::from(self.year) - u64::from(self.month <= 2);
        let era = year / 400;
        let yoe = year % 400;
        let month = u64::from(self.month);
        let mp = if month > 2 { month - 3 } else { month + 9 };
        let doy = (153 * mp + 2) / 5 + u64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = (era * 146_097 + doe).checked_sub(719_468)?;
        Some(
            days * SECONDS_PER_DAY
                + u64::from(self.hour) * 3_600
                + u64::from(self.minute) * 60
                + u64::from(self.second),
        )
    }
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        let cases = [
            (0u64, (1970, 1, 1, 0, 0, 0)),
            (951_782_400, (2000, 2, 29, 0, 0, 0)),
            (1_795_545_149, (2026, 11, 24, 18, 32, 29)),
            (4_107_542_399, (2100, 2, 28, 23, 59, 59)),
        ];
        for (secs, (y, mo, d, h, mi, s)) in cases {
            let dt = DateTime::from_unix(secs);
            assert_eq!(
                (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second),
                (y, mo, d, h, mi, s)
            );
            assert_eq!(dt.to_unix(), Some(secs));
        }
    }

    #[test]
    fn round_trip_every_day_for_three_centuries() {
        let mut secs = 0u64;
        while secs < 10_000_000_000 {
            assert_eq!(DateTime::from_unix(secs).to_unix(), Some(secs));
            secs += SECONDS_PER_DAY + 3_671;
        }
    }

    #[test]
    fn rejects_impossible_dates() {
        let base = DateTime {
            year: 2025,
            month: 2,
            day: 29,
            hour: 0,
            minute: 0,
            second: 0,
        };
        assert_eq!(base.to_unix(), None);
        assert_eq!(
            DateTime {
                month: 13,
                day: 1,
                ..base
            }
            .to_unix(),
            None
        );
        assert_eq!(
            DateTime {
                year: 1969,
                day: 1,
                ..base
            }
            .to_unix(),
            None
        );
        assert_eq!(
            DateTime {
                day: 1,
                hour: 24,
                ..base
            }
            .to_unix(),
            None
        );
    }
}
