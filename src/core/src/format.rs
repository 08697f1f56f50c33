//! What the formats share: the CRC, the decode errors, and the archive
//! header (magic and length; the version tells format 1 from 2). The files
//! themselves are in `archive` and `pack`; doc/FORMAT.md describes the
//! same bytes for readers without this source.

use core::fmt;

/// CRC-32/ISO-HDLC (the zlib/Ethernet CRC: reflected polynomial 0xEDB88320,
/// initial value and final XOR 0xFFFFFFFF) of `parts` one after another.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = snapper_crc32::Crc32::new();
    for part in parts {
        crc.update(part);
    }
    crc.finalize()
}

/// Why bytes read from disk were not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the header or the recorded length needs.
    Truncated,
    /// More bytes than the recorded length.
    TrailingBytes,
    /// The first four bytes are not this kind of file.
    BadMagic,
    /// A format version this build does not read.
    UnsupportedVersion(u16),
    /// A checksum does not match the bytes it covers.
    ChecksumMismatch,
    /// Well-formed bytes that break a rule of the format.
    Malformed(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("truncated"),
            DecodeError::TrailingBytes => f.write_str("trailing bytes after the recorded length"),
            DecodeError::BadMagic => f.write_str("wrong magic number"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            DecodeError::ChecksumMismatch => f.write_str("checksum mismatch"),
            DecodeError::Malformed(why) => write!(f, "malformed: {why}"),
        }
    }
}

/// Magic number of an archive (both formats).
pub const ARCHIVE_MAGIC: [u8; 4] = *b"SNPA";
/// Bytes before an archive's postcard body (both formats).
pub const ARCHIVE_HEADER_LEN: usize = 16;
/// The archive version of format 1 (one file per object), which this
/// build recognises in order to refuse it.
pub const FORMAT_1: u16 = 1;

/// The little-endian u16 at `at`, if `bytes` reach that far.
pub(crate) fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

/// The little-endian u32 at `at`, if `bytes` reach that far.
pub(crate) fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// The little-endian u64 at `at`, if `bytes` reach that far.
pub(crate) fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        bytes.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Whether `file` is a whole archive of either format whose CRC checks out
/// (header and body length as recorded). Tells an archive of another
/// format from a damaged one: a bit flip in the version field must not pass
/// for a format-1 archive.
pub fn archive_checksum_ok(file: &[u8]) -> bool {
    let (Some(body_len), Some(stored)) = (le_u32(file, 8), le_u32(file, 12)) else {
        return false;
    };
    file.get(..4) == Some(&ARCHIVE_MAGIC[..])
        && file.len() == ARCHIVE_HEADER_LEN + body_len as usize
        && crc32(&[&file[..12], &file[ARCHIVE_HEADER_LEN..]]) == stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_the_zlib_crc() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
    }
}
