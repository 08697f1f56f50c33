//! The benchmark's knobs: attributes of the component's `<config>` node,
//! read at run time (2.0 compiled PAYLOAD_NUM and PAYLOAD_SIZE in).
//!
//! A malformed value stops the benchmark before any Snapper call, with a
//! message naming the attribute: falling back to a default would print a
//! table for a run nobody asked for.

use alloc::string::String;
use core::fmt;

/// What one run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Objects per generation (ids 1..=payload_num).
    pub payload_num: u32,
    /// Bytes per object (the core stores payload lengths in 32 bits).
    pub payload_size: u32,
    /// Generations taken: the first, then `generations - 1` with changes.
    pub generations: u32,
    /// Percent of the objects changed in each later generation.
    pub changed: u32,
    /// Whether to restore (and check) every object of the last generation.
    pub restore: bool,
    /// Whether to measure the floor: the same bytes as one plain file.
    pub floor: bool,
    /// Whether to take and restore through the batched calls.
    pub batch: bool,
    /// Whether later generations send unchanged objects as hints (through
    /// the batched take, whatever `batch` says).
    pub hints: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            payload_num: 1000,
            payload_size: 4096,
            generations: 3,
            changed: 10,
            restore: true,
            floor: true,
            batch: false,
            hints: false,
        }
    }
}

/// A config attribute the benchmark does not accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    /// The attribute.
    pub attribute: &'static str,
    /// Its value as written.
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "config attribute '{}': expected {}, got \"{}\"",
            self.attribute, self.expected, self.value
        )
    }
}

/// Genode's boolean spellings, as the server reads its own flags.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Digits only: `str::parse` would also take a leading `+`.
fn parse_u32(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

impl Settings {
    /// Builds the settings from attribute name/value pairs; attributes of
    /// other components (the server's `bufsize`, ...) are ignored, as
    /// Genode components do.
    pub fn from_attributes<'a>(
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Settings, SettingsError> {
        let mut settings = Settings::default();
        for (name, raw) in attributes {
            let value = raw.trim();
            let bad = |attribute: &'static str, expected: &'static str| SettingsError {
                attribute,
                value: value.into(),
                expected,
            };
            match name {
                "payload_num" => {
                    settings.payload_num =
                        parse_u32(value).filter(|&n| n >= 1).ok_or_else(|| {
                            bad("payload_num", "a whole number of objects, at least 1")
                        })?;
                }
                "payload_size" => {
                    settings.payload_size = snapper_core::config::parse_size(value)
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| {
                            bad(
                                "payload_size",
                                "bytes per object, digits with an optional K, M or G, from 1 to 4294967295",
                            )
                        })?;
                }
                "generations" => {
                    settings.generations = parse_u32(value)
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| bad("generations", "a whole number, at least 1"))?;
                }
                "changed" => {
                    settings.changed = parse_u32(value)
                        .filter(|&n| n <= 100)
                        .ok_or_else(|| bad("changed", "a percentage from 0 to 100"))?;
                }
                "restore" => {
                    settings.restore =
                        parse_bool(value).ok_or_else(|| bad("restore", "yes or no"))?;
                }
                "batch" => {
                    settings.batch = parse_bool(value).ok_or_else(|| bad("batch", "yes or no"))?;
                }
                "hints" => {
                    settings.hints = parse_bool(value).ok_or_else(|| bad("hints", "yes or no"))?;
                }
                "floor" => {
                    settings.floor = parse_bool(value).ok_or_else(|| bad("floor", "yes or no"))?;
                }
                _ => {}
            }
        }
        Ok(settings)
    }

    /// Bytes of one whole generation (two 32-bit factors: no overflow).
    pub fn total_bytes(&self) -> u64 {
        u64::from(self.payload_num) * u64::from(self.payload_size)
    }

    /// Objects changed in each generation after the first: `changed` percent
    /// of `payload_num`, rounded down, but at least one if `changed` is not
    /// 0 (so that 10 % of 5 objects still changes something).
    pub fn changed_objects(&self) -> u32 {
        let exact = u64::from(self.payload_num) * u64::from(self.changed) / 100;
        let count = u32::try_from(exact).unwrap_or(self.payload_num);
        if self.changed > 0 {
            count.max(1)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(attributes: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_attributes(attributes.iter().copied())
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(parse(&[]), Ok(Settings::default()));
        let s = parse(&[
            ("payload_num", "64"),
            ("payload_size", "1M"),
            ("generations", "5"),
            ("changed", "25"),
            ("restore", "no"),
            ("floor", "false"),
            ("bufsize", "whatever: not ours"),
        ])
        .unwrap();
        assert_eq!(
            s,
            Settings {
                payload_num: 64,
                payload_size: 1 << 20,
                generations: 5,
                changed: 25,
                restore: false,
                floor: false,
                batch: false,
                hints: false,
            }
        );
        assert_eq!(
            parse(&[("payload_size", "4096")]).unwrap().payload_size,
            4096
        );
        assert_eq!(
            parse(&[("payload_size", " 8K ")]).unwrap().payload_size,
            8192
        );
    }

    #[test]
    fn malformed_values_name_their_attribute() {
        for (attribute, value) in [
            ("payload_num", "many"),
            ("payload_num", "0"),
            ("payload_num", "+5"),
            ("payload_num", "4294967296"),
            ("payload_size", "4X"),
            ("payload_size", "0"),
            ("payload_size", "4G"),
            ("payload_size", ""),
            ("generations", "0"),
            ("generations", "-1"),
            ("changed", "101"),
            ("changed", "10%"),
            ("restore", "maybe"),
            ("floor", "2"),
        ] {
            let error = parse(&[(attribute, value)]).unwrap_err();
            assert_eq!(error.attribute, attribute, "{value}");
            let text = alloc::format!("{error}");
            assert!(
                text.contains(attribute) && text.contains(value.trim()),
                "{text}"
            );
        }
    }

    #[test]
    fn changed_objects_round_down_but_not_to_nothing() {
        let with = |payload_num, changed| Settings {
            payload_num,
            changed,
            ..Settings::default()
        };
        assert_eq!(with(64, 25).changed_objects(), 16);
        assert_eq!(with(1000, 10).changed_objects(), 100);
        assert_eq!(with(5, 10).changed_objects(), 1);
        assert_eq!(with(5, 0).changed_objects(), 0);
        assert_eq!(with(7, 100).changed_objects(), 7);
    }
}
