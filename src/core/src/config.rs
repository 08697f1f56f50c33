//! Snapper's configuration: the attributes of the `<config>` node of
//! Genode's config ROM.
//!
//! A malformed value refuses the start (the error names the attribute):
//! falling back to a default could purge generations the user meant to keep,
//! e.g. after a typo in `max_snapshots`. Unknown attributes are ignored, as
//! Genode components do, so that a config can carry attributes for other
//! versions.

use core::fmt;

/// Largest payload buffer: payload lengths are 32-bit on disk.
pub const MAX_BUFSIZE: u64 = u32::MAX as u64;

/// The configuration, with the seed's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Log every step, not only warnings and errors.
    pub verbose: bool,
    /// Most entries per snapshot sub-directory (the trie's fan-out), at least 2.
    pub threshold: u32,
    /// On a failed integrity check: true = the call fails with
    /// IntegrityFailed and nothing is skipped silently; false = the damaged
    /// item is logged and skipped (doc/DESIGN.md, "Integrity policy").
    pub integrity: bool,
    /// Once a file is used by this many generations, the next generation
    /// writes a fresh copy. 0 = never.
    pub redundancy: u32,
    /// Keep at most this many generations; 0 = no limit.
    pub max_snapshots: u32,
    /// Never purge below this many generations.
    pub min_snapshots: u32,
    /// Purge generations older than this many seconds; 0 = never.
    pub expiration: u64,
    /// Largest payload in bytes (the size of each session's buffer).
    pub bufsize: u64,
    /// Most payload bytes per pack file (format 2): a generation's new
    /// payloads go into files of about this size, written in one piece.
    /// A payload larger than this gets a pack of its own.
    pub pack_size: u64,
    /// Where archives are written: true = as records of the archive log,
    /// the file `archives` at the root (a generation with no new payload
    /// then creates no file and no directory: ~1 ms on lwext4 instead of
    /// ~25); false = one `archive` file per generation directory (format
    /// 2's layout). Either way both kinds are read.
    pub archive_log: bool,
}

/// Default pack size: large enough that a pack's per-file cost on lwext4
/// (about 10 ms) is small against its bytes, small enough to be held in
/// memory while it fills.
pub const DEFAULT_PACK_SIZE: u64 = 4 << 20;
/// Largest pack size: offsets inside a pack are 32-bit on disk, and a pack
/// is held in memory while it fills.
pub const MAX_PACK_SIZE: u64 = 1 << 30;

impl Default for Config {
    fn default() -> Self {
        Config {
            verbose: false,
            threshold: 100,
            integrity: true,
            redundancy: 3,
            max_snapshots: 0,
            min_snapshots: 0,
            expiration: 0,
            bufsize: 1024 * 1024,
            pack_size: DEFAULT_PACK_SIZE,
            archive_log: true,
        }
    }
}

/// A config that Snapper does not accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// An attribute's value does not parse or is out of range.
    BadValue {
        /// The attribute.
        attribute: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// min_snapshots above a non-zero max_snapshots: retention could never
    /// satisfy both.
    Contradiction,
    /// The text is not a `<config>` element.
    NotAConfig,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BadValue {
                attribute,
                expected,
            } => {
                write!(f, "config attribute '{attribute}': expected {expected}")
            }
            ConfigError::Contradiction => {
                f.write_str("config: min_snapshots is larger than max_snapshots")
            }
            ConfigError::NotAConfig => f.write_str("config: no <config> element"),
        }
    }
}

/// Genode's boolean spellings (`util/string.h`).
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_u64(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Genode's `Number_of_bytes`: digits with an optional K, M or G suffix
/// (binary multiples).
pub fn parse_size(value: &str) -> Option<u64> {
    let (digits, factor) = match value.as_bytes().last()? {
        b'K' => (&value[..value.len() - 1], 1u64 << 10),
        b'M' => (&value[..value.len() - 1], 1 << 20),
        b'G' => (&value[..value.len() - 1], 1 << 30),
        _ => (value, 1),
    };
    parse_u64(digits)?.checked_mul(factor)
}

impl Config {
    /// Builds a config from attribute name/value pairs (values unescaped).
    pub fn from_attributes<'a>(
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        for (name, value) in attributes {
            config.set(name, value)?;
        }
        if config.max_snapshots != 0 && config.min_snapshots > config.max_snapshots {
            return Err(ConfigError::Contradiction);
        }
        Ok(config)
    }

    /// Parses the `<config .../>` element at the start of `xml` (leading
    /// whitespace, an XML declaration and comments are skipped; child nodes
    /// such as `<vfs>` are not looked at).
    pub fn from_xml(xml: &str) -> Result<Config, ConfigError> {
        let attributes = xml::config_attributes(xml).ok_or(ConfigError::NotAConfig)?;
        let mut decoded: alloc::vec::Vec<(&str, alloc::string::String)> = alloc::vec::Vec::new();
        for (name, raw) in attributes.iter() {
            let value = xml::unescape(raw).ok_or(ConfigError::NotAConfig)?;
            decoded.push((name, value));
        }
        Self::from_attributes(decoded.iter().map(|(n, v)| (*n, v.as_str())))
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        fn bad(attribute: &'static str, expected: &'static str) -> ConfigError {
            ConfigError::BadValue {
                attribute,
                expected,
            }
        }
        const UINT32: &str = "an unsigned integer below 2^32";
        match name {
            "verbose" => self.verbose = parse_bool(value).ok_or(bad("verbose", "yes or no"))?,
            "archive_log" => {
                self.archive_log = parse_bool(value).ok_or(bad("archive_log", "yes or no"))?
            }
            "integrity" => {
                self.integrity = parse_bool(value).ok_or(bad("integrity", "yes or no"))?
            }
            "threshold" => {
                self.threshold = parse_u64(value)
                    .and_then(|v| u32::try_from(v).ok())
                    .filter(|v| *v >= 2)
                    .ok_or(bad("threshold", "an unsigned integer from 2 to 2^32-1"))?
            }
            "redundancy" => {
                self.redundancy = parse_u64(value)
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or(bad("redundancy", UINT32))?
            }
            "max_snapshots" => {
                self.max_snapshots = parse_u64(value)
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or(bad("max_snapshots", UINT32))?
            }
            "min_snapshots" => {
                self.min_snapshots = parse_u64(value)
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or(bad("min_snapshots", UINT32))?
            }
            "expiration" => {
                self.expiration =
                    parse_u64(value).ok_or(bad("expiration", "seconds as an unsigned integer"))?
            }
            "bufsize" => {
                self.bufsize = parse_size(value)
                    .filter(|v| (1..=MAX_BUFSIZE).contains(v))
                    .ok_or(bad(
                        "bufsize",
                        "a size from 1 to 4G-1, digits with an optional K, M or G",
                    ))?
            }
            "pack_size" => {
                self.pack_size = parse_size(value)
                    .filter(|v| (4096..=MAX_PACK_SIZE).contains(v))
                    .ok_or(bad(
                        "pack_size",
                        "a size from 4K to 1G, digits with an optional K, M or G",
                    ))?
            }
            _ => {}
        }
        Ok(())
    }
}

/// Just enough XML to read the attributes of one start tag; shared with the
/// host implementation of the Genode config ROM.
pub mod xml {
    use alloc::string::String;
    use alloc::vec::Vec;

    /// Attributes of the first element if it is `<config ...>`.
    pub fn config_attributes(text: &str) -> Option<Vec<(&str, &str)>> {
        top_element(text)
            .filter(|(name, _)| *name == "config")
            .map(|(_, attributes)| attributes)
    }

    /// Name and raw attribute values of the first element (after an XML
    /// declaration and comments); `None` for anything malformed, such as a
    /// repeated attribute or a missing space between two.
    pub fn top_element(text: &str) -> Option<(&str, Vec<(&str, &str)>)> {
        let mut rest = text.trim_start();
        loop {
            if let Some(after) = rest.strip_prefix("<?") {
                rest = after.split_once("?>")?.1.trim_start();
            } else if let Some(after) = rest.strip_prefix("<!--") {
                rest = after.split_once("-->")?.1.trim_start();
            } else {
                break;
            }
        }
        let rest = rest.strip_prefix('<')?;
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let (element, mut rest) = rest.split_at(name_end);
        if element.is_empty() {
            return None;
        }
        let mut attributes = Vec::new();
        loop {
            let trimmed = rest.trim_start();
            let had_space = trimmed.len() != rest.len();
            rest = trimmed;
            if rest.starts_with('>') || rest.starts_with("/>") {
                return Some((element, attributes));
            }
            if !had_space {
                return None;
            }
            let (name, after) = rest.split_once('=')?;
            let name = name.trim_end();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return None;
            }
            let after = after.trim_start();
            let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let (value, after) = after[1..].split_once(quote)?;
            if value.contains('<') {
                return None;
            }
            if attributes.iter().any(|(n, _)| *n == name) {
                return None;
            }
            attributes.push((name, value));
            rest = after;
        }
    }

    /// Resolves the five predefined entities and numeric references.
    pub fn unescape(value: &str) -> Option<String> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            let (entity, after) = rest[at + 1..].split_once(';')?;
            let ch = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = if let Some(hex) = entity.strip_prefix("#x") {
                        u32::from_str_radix(hex, 16).ok()?
                    } else {
                        entity.strip_prefix('#')?.parse().ok()?
                    };
                    char::from_u32(code)?
                }
            };
            out.push(ch);
            rest = after;
        }
        out.push_str(rest);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
        let config = Config::from_xml("<config/>").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(
            (
                config.threshold,
                config.redundancy,
                config.bufsize,
                config.integrity
            ),
            (100, 3, 1 << 20, true)
        );
    }

    #[test]
    fn reads_every_attribute() {
        let xml = r#"<?xml version="1.0"?>
            <!-- snapper -->
            <config verbose="yes" threshold="16" integrity="false" redundancy='2'
                    max_snapshots="10" min_snapshots="3" expiration="3600" bufsize="64K"
                    pack_size="16M" archive_log="no">
                <vfs> <fs/> </vfs>
            </config>"#;
        let config = Config::from_xml(xml).unwrap();
        assert_eq!(
            config,
            Config {
                verbose: true,
                threshold: 16,
                integrity: false,
                redundancy: 2,
                max_snapshots: 10,
                min_snapshots: 3,
                expiration: 3600,
                bufsize: 64 * 1024,
                pack_size: 16 << 20,
                archive_log: false,
            }
        );
        assert_eq!(
            Config::from_xml(r#"<config bufsize="2M" unknown="x"/>"#)
                .unwrap()
                .bufsize,
            2 << 20
        );
        assert_eq!(
            Config::from_xml(r#"<config bufsize="1G"/>"#)
                .unwrap()
                .bufsize,
            1 << 30
        );
        assert_eq!(
            Config::from_xml(r#"<config bufsize="4096"/>"#)
                .unwrap()
                .bufsize,
            4096
        );
        assert!(
            Config::from_xml(r#"<config verbose="&#121;es"/>"#)
                .unwrap()
                .verbose
        );
    }

    #[test]
    fn bad_values_name_their_attribute() {
        let cases = [
            (r#"<config verbose="maybe"/>"#, "verbose"),
            (r#"<config integrity=""/>"#, "integrity"),
            (r#"<config archive_log="log"/>"#, "archive_log"),
            (r#"<config threshold="1"/>"#, "threshold"),
            (r#"<config threshold="-5"/>"#, "threshold"),
            (r#"<config threshold="4294967296"/>"#, "threshold"),
            (r#"<config redundancy="3x"/>"#, "redundancy"),
            (r#"<config max_snapshots=" 4"/>"#, "max_snapshots"),
            (r#"<config min_snapshots="99999999999"/>"#, "min_snapshots"),
            (r#"<config expiration="1.5"/>"#, "expiration"),
            (r#"<config bufsize="0"/>"#, "bufsize"),
            (r#"<config bufsize="4G"/>"#, "bufsize"),
            (r#"<config bufsize="1T"/>"#, "bufsize"),
            (r#"<config bufsize="99999999999999999999G"/>"#, "bufsize"),
            (r#"<config pack_size="4095"/>"#, "pack_size"),
            (r#"<config pack_size="2G"/>"#, "pack_size"),
            (r#"<config pack_size="4MB"/>"#, "pack_size"),
        ];
        for (xml, attribute) in cases {
            match Config::from_xml(xml) {
                Err(ConfigError::BadValue {
                    attribute: named, ..
                }) => assert_eq!(named, attribute, "{xml}"),
                other => panic!("{xml}: {other:?}"),
            }
        }
        assert_eq!(
            Config::from_xml(r#"<config max_snapshots="2" min_snapshots="3"/>"#),
            Err(ConfigError::Contradiction)
        );
    }

    #[test]
    fn malformed_xml_is_refused() {
        for xml in [
            "",
            "<vfs/>",
            "<configx/>",
            "<config verbose=yes/>",
            r#"<config verbose="yes""#,
            r#"<config verbose="yes"threshold="3"/>"#,
            r#"<config verbose="yes" verbose="no"/>"#,
            r#"<config verbose="&bogus;"/>"#,
            "<!-- unterminated",
        ] {
            assert!(Config::from_xml(xml).is_err(), "{xml:?} accepted");
        }
    }
}
