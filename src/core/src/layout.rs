//! Names and paths under the snapper root. Every path is derived from a
//! generation's name, its fan-out and a pack number; none is stored.
//!
//! ```text
//! <root>/<generation name>/archive          the committed archive
//! <root>/<generation name>/archive.tmp      the archive while it is being committed
//! <root>/<generation name>/pack/<D>/<d_(D-1)>/.../<d_1>/<n>
//! ```
//! `n` is the pack number in hex; `d_i` are its base-`fanout` digits (most
//! significant first, in hex) without the last one; `D` is the number of
//! digits. Every directory below `pack/<D>` holds at most `fanout`
//! entries, and the depth grows with log_fanout(n).

use alloc::string::String;
use core::fmt::Write;

use crate::time::DateTime;
use crate::types::{Generation, PackNumber};

/// Name of the committed archive inside a generation directory.
pub const ARCHIVE: &str = "archive";
/// Name the archive is written under before the rename that commits it.
pub const ARCHIVE_TMP: &str = "archive.tmp";
/// Name a purge renames the archive to before removing it. The rename is
/// the purge's commit point: a file system may remove a file in several
/// steps (lwext4 truncates it in transactions of their own before the one
/// that unlinks it), and a cut between them would leave an empty archive,
/// a generation neither complete nor gone. Whatever holds this name is
/// garbage.
pub const ARCHIVE_PURGED: &str = "archive.purged";
/// The archive log at the root: the archives of generations as records
/// written in place (`crate::archive_log`). Not a generation name, so a
/// reader that predates it leaves it alone.
pub const ARCHIVE_LOG: &str = "archives";
/// Directory inside a generation that held its snapshot files in format 1;
/// its presence marks a format-1 generation.
pub const SNAPSHOT_DIR: &str = "snapshot";
/// Directory inside a generation that holds its pack files (format 2).
pub const PACK_DIR: &str = "pack";

/// Width of the generation number in a name; wider numbers still parse.
const GENERATION_DIGITS: usize = 8;
/// "YYYY-MM-DDTHH:MM:SS-" before the generation number.
const TIME_PART_LEN: usize = 20;

/// A generation directory name: `YYYY-MM-DDTHH:MM:SS-GGGGGGGG`, the UTC
/// creation time and the generation number. Names sort by creation time;
/// the generation number keeps two generations of the same second apart, so
/// no one ever waits for the clock.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GenerationName(String);

impl GenerationName {
    /// The name of generation `generation` created at `unix_seconds`.
    pub fn new(unix_seconds: u64, generation: Generation) -> Self {
        let t = DateTime::from_unix(unix_seconds);
        let mut name = String::with_capacity(TIME_PART_LEN + GENERATION_DIGITS);
        // Writing into a String cannot fail.
        let _ = write!(
            name,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}-{:0width$}",
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            generation.0,
            width = GENERATION_DIGITS
        );
        GenerationName(name)
    }

    /// Parses a directory name; `None` for anything that is not exactly a
    /// generation name (so foreign entries in the root are left alone, and a
    /// client cannot name a path such as `../x`).
    pub fn parse(name: &str) -> Option<(Self, u64, Generation)> {
        let bytes = name.as_bytes();
        if bytes.len() < TIME_PART_LEN + GENERATION_DIGITS || bytes.len() > TIME_PART_LEN + 10 {
            return None;
        }
        let separators = [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'-'),
        ];
        for (index, byte) in separators {
            if bytes.get(index) != Some(&byte) {
                return None;
            }
        }
        let field = |from: usize, to: usize| -> Option<u32> {
            let text = name.get(from..to)?;
            if !text.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            text.parse().ok()
        };
        let time = DateTime {
            year: field(0, 4)?,
            month: field(5, 7)?,
            day: field(8, 10)?,
            hour: field(11, 13)?,
            minute: field(14, 16)?,
            second: field(17, 19)?,
        };
        let created = time.to_unix()?;
        let generation = Generation(field(TIME_PART_LEN, bytes.len())?);
        let canonical = GenerationName::new(created, generation);
        // Exactly one spelling per (time, generation): "0042" and "00000042"
        // must not name two directories of the same generation.
        (canonical.0 == name).then_some((canonical, created, generation))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for GenerationName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `<generation>/<leaf>`.
pub fn in_generation(name: &str, leaf: &str) -> String {
    let mut path = String::with_capacity(name.len() + 1 + leaf.len());
    path.push_str(name);
    path.push('/');
    path.push_str(leaf);
    path
}

/// Base-`fanout` digits of `n`, most significant first. `fanout` is at least 2.
fn digits(mut n: u32, fanout: u32, out: &mut [u32; 32]) -> usize {
    let fanout = fanout.max(2);
    let mut count = 0;
    loop {
        out[count] = n % fanout;
        count += 1;
        n /= fanout;
        if n == 0 || count == out.len() {
            break;
        }
    }
    out[..count].reverse();
    count
}

/// The directories from the generation's `pack` directory down to the one
/// that holds pack `n`, outermost first, each given as its full path.
pub fn pack_dirs(name: &str, fanout: u32, n: PackNumber) -> alloc::vec::Vec<String> {
    trie_dirs(name, PACK_DIR, fanout, n.0)
}

/// Path of pack `n` of a generation (format 2): the same trie as snapshot
/// files, so `threshold` still bounds the entries of every directory.
pub fn pack_path(name: &str, fanout: u32, n: PackNumber) -> String {
    trie_path(name, PACK_DIR, fanout, n.0)
}

fn trie_dirs(name: &str, top: &str, fanout: u32, n: u32) -> alloc::vec::Vec<String> {
    let mut buf = [0u32; 32];
    let count = digits(n, fanout, &mut buf);
    let mut path = in_generation(name, top);
    let mut dirs = alloc::vec::Vec::with_capacity(count + 1);
    dirs.push(path.clone());
    let _ = write!(path, "/{count}");
    dirs.push(path.clone());
    for digit in buf.iter().take(count.saturating_sub(1)) {
        let _ = write!(path, "/{digit:x}");
        dirs.push(path.clone());
    }
    dirs
}

fn trie_path(name: &str, top: &str, fanout: u32, n: u32) -> String {
    let mut buf = [0u32; 32];
    let count = digits(n, fanout, &mut buf);
    let mut path = in_generation(name, top);
    let _ = write!(path, "/{count}");
    for digit in buf.iter().take(count.saturating_sub(1)) {
        let _ = write!(path, "/{digit:x}");
    }
    let _ = write!(path, "/{n:x}");
    path
}

/// The directory that holds a pack (the last of [`pack_dirs`]).
pub fn parent_dir(path: &str) -> &str {
    path.rfind('/').map_or("", |at| &path[..at])
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    #[test]
    fn names_round_trip_and_sort_by_time_then_generation() {
        let a = GenerationName::new(1_795_545_149, Generation(7));
        assert_eq!(a.as_str(), "2026-11-24T18:32:29-00000007");
        let (parsed, created, generation) = GenerationName::parse(a.as_str()).unwrap();
        assert_eq!(
            (parsed, created, generation),
            (a.clone(), 1_795_545_149, Generation(7))
        );
        let b = GenerationName::new(1_795_545_149, Generation(8));
        let c = GenerationName::new(1_795_545_150, Generation(9));
        assert!(a < b && b < c);
        let wide = GenerationName::new(0, Generation(u32::MAX));
        assert_eq!(
            GenerationName::parse(wide.as_str()).map(|p| p.2),
            Some(Generation(u32::MAX))
        );
    }

    #[test]
    fn rejects_everything_that_is_not_a_name() {
        for bad in [
            "",
            "archive",
            "..",
            "../2026-11-24T18:32:29-00000007",
            "2026-11-24T18:32:29-0000007",
            "2026-11-24 18:32:29-00000007",
            "2026-13-24T18:32:29-00000007",
            "2026-02-30T18:32:29-00000007",
            "2026-11-24T18:32:29-0000000x",
            "2026-11-24T18:32:29-000000007",
            "2026-11-24T18:32:29-99999999999",
            "+026-11-24T18:32:29-00000007",
            "2026-11-24T18:32:29-00000007/",
        ] {
            assert!(GenerationName::parse(bad).is_none(), "{bad:?} parsed");
        }
    }

    #[test]
    fn paths_form_a_trie_with_bounded_fanout() {
        let name = GenerationName::new(0, Generation(1));
        assert_eq!(
            pack_path(name.as_str(), 100, PackNumber(0)),
            "1970-01-01T00:00:00-00000001/pack/1/0"
        );
        assert_eq!(
            pack_path(name.as_str(), 100, PackNumber(99)),
            "1970-01-01T00:00:00-00000001/pack/1/63"
        );
        assert_eq!(
            pack_path(name.as_str(), 100, PackNumber(100)),
            "1970-01-01T00:00:00-00000001/pack/2/1/64"
        );
        assert_eq!(
            pack_path(name.as_str(), 100, PackNumber(123_456)),
            "1970-01-01T00:00:00-00000001/pack/3/c/22/1e240"
        );
        // Count entries per directory for a few thousand files: never above the fan-out.
        for fanout in [2u32, 3, 16, 100] {
            let mut entries: BTreeMap<String, alloc::collections::BTreeSet<String>> =
                BTreeMap::new();
            let mut depth = 0;
            for n in 0..5_000u32 {
                let path = pack_path(name.as_str(), fanout, PackNumber(n));
                depth = depth.max(path.matches('/').count());
                let mut parent = String::new();
                for part in path.split('/') {
                    if !parent.is_empty() {
                        entries
                            .entry(parent.clone())
                            .or_default()
                            .insert(part.into());
                        parent.push('/');
                    }
                    parent.push_str(part);
                }
                let dirs = pack_dirs(name.as_str(), fanout, PackNumber(n));
                assert_eq!(dirs.last().map(String::as_str), Some(parent_dir(&path)));
            }
            for (dir, children) in &entries {
                if dir.matches('/').count() >= 2 {
                    assert!(
                        children.len() as u32 <= fanout,
                        "{dir} holds {}",
                        children.len()
                    );
                }
            }
            let expected = 3 + (5_000f64.ln() / f64::from(fanout).ln()).ceil() as usize;
            assert!(
                depth <= expected,
                "fanout {fanout}: depth {depth} > {expected}"
            );
        }
    }
}
