//! Newtypes for the numbers that must never be mixed up.

use core::fmt;
use serde::{Deserialize, Serialize};

/// The 64-bit identifier a client gives an object (normally a page number).
/// Every value is valid, 0 and `u64::MAX` included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectId(pub u64);

/// A generation number: strictly increasing over the life of a snapper root,
/// so it, not the clock, decides which generation is the latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Generation(pub u32);

/// The number of a pack file within the generation that wrote it, counting
/// from 0 without gaps (format 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PackNumber(pub u32);

/// A pack file: the generation whose directory holds it and its number.
/// Paths are derived from this, never stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackRef {
    /// The generation that wrote the pack.
    pub generation: Generation,
    /// Its number within that generation.
    pub pack: PackNumber,
}

/// One stored payload: a pack, and the byte range in it. Two payloads
/// never share a location (an empty payload starts where the next one
/// does, so the offset alone would not tell them apart), so this is what
/// reference counts count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The pack holding the payload.
    pub pack: PackRef,
    /// Byte offset of the payload from the start of the pack file.
    pub offset: u32,
    /// Stored length in bytes.
    pub length: u32,
}

/// Length of the change-detection digest in bytes (BLAKE3 truncated to 128 bits).
pub const DIGEST_LEN: usize = 16;

/// The change-detection digest of a payload.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Digest(pub [u8; DIGEST_LEN]);

impl Digest {
    /// BLAKE3 of the payload, truncated to its first 16 bytes.
    pub fn of(payload: &[u8]) -> Self {
        let full = blake3::hash(payload);
        let mut out = [0u8; DIGEST_LEN];
        out.copy_from_slice(&full.as_bytes()[..DIGEST_LEN]);
        Digest(out)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for PackRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:pack {:x}", self.generation.0, self.pack.0)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:#x}/{}", self.pack, self.offset, self.length)
    }
}
