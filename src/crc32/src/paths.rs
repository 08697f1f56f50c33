//! Each implementation on its own, for the fuzz target that checks they
//! agree (feature `paths`); [`crate::crc32`] and [`crate::Crc32`] choose
//! for themselves.

use crate::Path;

/// The table code's CRC of the bytes `crc` stands for followed by `bytes`
/// (`crc` as [`crate::Crc32::finalize`] returns it, 0 for no bytes).
pub fn table(crc: u32, bytes: &[u8]) -> u32 {
    Path::Table.update(crc, bytes)
}

/// The same by carry-less multiplication, or `None` where the CPU or the
/// architecture has no PCLMULQDQ.
pub fn clmul(crc: u32, bytes: &[u8]) -> Option<u32> {
    match Path::detect() {
        Path::Table => None,
        path => Some(path.update(crc, bytes)),
    }
}
