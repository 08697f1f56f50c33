//! Pack files (format 2): the payloads a generation writes, back to back,
//! followed by an index and a trailer that make the pack self-describing.
//!
//! ```text
//! offset 0            payload 0 | payload 1 | ... | payload n-1
//! index_offset        record 0 | record 1 | ... | record n-1     (28 bytes each)
//! file length - 32    trailer                                     (32 bytes)
//! ```
//!
//! The archive says where each object's payload is (pack, offset, length,
//! CRC); restore reads that range and nothing else. The index repeats it,
//! per payload, so that `snapperctl salvage` rescues what a generation
//! wrote even when its archive is damaged. No per-payload header: a 4 KiB
//! page costs 4 KiB plus its 28-byte record. doc/FORMAT.md gives the bytes.

use alloc::vec::Vec;

use crate::format::{self, crc32, DecodeError};
use crate::types::{Generation, ObjectId, PackNumber};

/// Magic number of a pack trailer.
pub const PACK_MAGIC: [u8; 4] = *b"SNPK";
/// The pack format this build writes and reads.
pub const PACK_VERSION: u16 = 2;
/// Bytes of the trailer at the end of every pack.
pub const PACK_TRAILER_LEN: usize = 32;
/// Bytes of one index record.
pub const PACK_RECORD_LEN: usize = 28;

/// How a payload is stored. Only [`Codec::RAW`] is written today; the byte
/// is in the format so that compressed pages need no new major format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Codec(pub u8);

impl Codec {
    /// The payload's bytes as they are: stored length equals object size.
    pub const RAW: Codec = Codec(0);
}

/// One payload of a pack, as its index records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackRecord {
    /// The object the payload was taken for.
    pub id: ObjectId,
    /// Byte offset of the stored payload from the start of the pack.
    pub offset: u32,
    /// Stored length in bytes.
    pub length: u32,
    /// The object's size once decoded (equals `length` for RAW).
    pub size: u32,
    /// CRC-32 of the stored bytes.
    pub crc: u32,
    /// How the stored bytes decode.
    pub codec: Codec,
}

mod record_field {
    pub const ID: usize = 0;
    pub const OFFSET: usize = 8;
    pub const LENGTH: usize = 12;
    pub const SIZE: usize = 16;
    pub const CRC: usize = 20;
    pub const CODEC: usize = 24;
    pub const RESERVED: core::ops::Range<usize> = 25..28;
}

impl PackRecord {
    fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.push(self.codec.0);
        out.extend_from_slice(&[0; 3]);
    }

    fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        use record_field as f;
        if bytes.get(f::RESERVED) != Some(&[0u8; 3][..]) {
            return Err(DecodeError::Malformed("reserved record bytes are not zero"));
        }
        Ok(PackRecord {
            id: ObjectId(le_u64(bytes, f::ID)?),
            offset: le_u32(bytes, f::OFFSET)?,
            length: le_u32(bytes, f::LENGTH)?,
            size: le_u32(bytes, f::SIZE)?,
            crc: le_u32(bytes, f::CRC)?,
            codec: Codec(*bytes.get(f::CODEC).ok_or(DecodeError::Truncated)?),
        })
    }
}

// The shared readers, answering "truncated" where the bytes end.
fn le_u16(bytes: &[u8], at: usize) -> Result<u16, DecodeError> {
    format::le_u16(bytes, at).ok_or(DecodeError::Truncated)
}

fn le_u32(bytes: &[u8], at: usize) -> Result<u32, DecodeError> {
    format::le_u32(bytes, at).ok_or(DecodeError::Truncated)
}

fn le_u64(bytes: &[u8], at: usize) -> Result<u64, DecodeError> {
    format::le_u64(bytes, at).ok_or(DecodeError::Truncated)
}

/// The last 32 bytes of a pack: what the file is and where its index is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackTrailer {
    /// The generation that wrote the pack.
    pub generation: Generation,
    /// The pack's number in that generation.
    pub pack: PackNumber,
    /// Index records.
    pub records: u32,
    /// Where the index starts: the bytes of all payloads.
    pub index_offset: u32,
    /// CRC-32 of the index records.
    pub index_crc: u32,
}

mod trailer_field {
    pub const MAGIC: core::ops::Range<usize> = 0..4;
    pub const VERSION: usize = 4;
    pub const TRAILER_LEN: usize = 6;
    pub const GENERATION: usize = 8;
    pub const PACK: usize = 12;
    pub const RECORDS: usize = 16;
    pub const INDEX_OFFSET: usize = 20;
    pub const INDEX_CRC: usize = 24;
    pub const TRAILER_CRC: usize = 28;
}

impl PackTrailer {
    /// The 32 trailer bytes.
    pub fn emit(&self) -> [u8; PACK_TRAILER_LEN] {
        use trailer_field as f;
        let mut out = [0u8; PACK_TRAILER_LEN];
        out[f::MAGIC].copy_from_slice(&PACK_MAGIC);
        out[f::VERSION..f::VERSION + 2].copy_from_slice(&PACK_VERSION.to_le_bytes());
        out[f::TRAILER_LEN..f::TRAILER_LEN + 2]
            .copy_from_slice(&(PACK_TRAILER_LEN as u16).to_le_bytes());
        out[f::GENERATION..f::GENERATION + 4].copy_from_slice(&self.generation.0.to_le_bytes());
        out[f::PACK..f::PACK + 4].copy_from_slice(&self.pack.0.to_le_bytes());
        out[f::RECORDS..f::RECORDS + 4].copy_from_slice(&self.records.to_le_bytes());
        out[f::INDEX_OFFSET..f::INDEX_OFFSET + 4].copy_from_slice(&self.index_offset.to_le_bytes());
        out[f::INDEX_CRC..f::INDEX_CRC + 4].copy_from_slice(&self.index_crc.to_le_bytes());
        let crc = crc32(&[&out[..f::TRAILER_CRC]]);
        out[f::TRAILER_CRC..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Checks the trailer of a pack whose whole length is `file_len`.
    pub fn parse(bytes: &[u8], file_len: u64) -> Result<Self, DecodeError> {
        use trailer_field as f;
        let bytes = bytes
            .get(..PACK_TRAILER_LEN)
            .ok_or(DecodeError::Truncated)?;
        if bytes.get(f::MAGIC) != Some(&PACK_MAGIC[..]) {
            return Err(DecodeError::BadMagic);
        }
        let version = le_u16(bytes, f::VERSION)?;
        if version != PACK_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        if crc32(&[&bytes[..f::TRAILER_CRC]]) != le_u32(bytes, f::TRAILER_CRC)? {
            return Err(DecodeError::ChecksumMismatch);
        }
        if le_u16(bytes, f::TRAILER_LEN)? != PACK_TRAILER_LEN as u16 {
            return Err(DecodeError::Malformed("trailer length"));
        }
        let trailer = PackTrailer {
            generation: Generation(le_u32(bytes, f::GENERATION)?),
            pack: PackNumber(le_u32(bytes, f::PACK)?),
            records: le_u32(bytes, f::RECORDS)?,
            index_offset: le_u32(bytes, f::INDEX_OFFSET)?,
            index_crc: le_u32(bytes, f::INDEX_CRC)?,
        };
        if trailer.file_len() != file_len {
            return Err(if trailer.file_len() > file_len {
                DecodeError::Truncated
            } else {
                DecodeError::TrailingBytes
            });
        }
        Ok(trailer)
    }

    /// The length the pack file must have.
    pub fn file_len(&self) -> u64 {
        u64::from(self.index_offset)
            + u64::from(self.records) * PACK_RECORD_LEN as u64
            + PACK_TRAILER_LEN as u64
    }

    /// Bytes of the index records.
    pub fn index_len(&self) -> u64 {
        u64::from(self.records) * PACK_RECORD_LEN as u64
    }
}

/// Checks the index records of a pack (`index` = the bytes from
/// `index_offset` up to the trailer): CRC, and payloads back to back from
/// offset 0 to `index_offset` in record order.
pub fn parse_index(trailer: &PackTrailer, index: &[u8]) -> Result<Vec<PackRecord>, DecodeError> {
    if index.len() as u64 != trailer.index_len() {
        return Err(DecodeError::Truncated);
    }
    if crc32(&[index]) != trailer.index_crc {
        return Err(DecodeError::ChecksumMismatch);
    }
    let mut records = Vec::with_capacity(trailer.records as usize);
    let mut next = 0u64;
    for bytes in index.chunks_exact(PACK_RECORD_LEN) {
        let record = PackRecord::parse(bytes)?;
        if u64::from(record.offset) != next {
            return Err(DecodeError::Malformed("payloads are not back to back"));
        }
        if record.codec == Codec::RAW && record.length != record.size {
            return Err(DecodeError::Malformed(
                "raw payload whose length is not its size",
            ));
        }
        next += u64::from(record.length);
        records.push(record);
    }
    if next != u64::from(trailer.index_offset) {
        return Err(DecodeError::Malformed(
            "payloads do not end where the index starts",
        ));
    }
    Ok(records)
}

/// Checks a whole pack file: trailer, index, and every payload's CRC.
/// Returns the trailer and the records whose payload is intact, plus the
/// number of records whose payload failed its CRC.
pub fn check(file: &[u8]) -> Result<(PackTrailer, Vec<PackRecord>, usize), DecodeError> {
    let trailer_at = file
        .len()
        .checked_sub(PACK_TRAILER_LEN)
        .ok_or(DecodeError::Truncated)?;
    let trailer = PackTrailer::parse(&file[trailer_at..], file.len() as u64)?;
    let index = file
        .get(trailer.index_offset as usize..trailer_at)
        .ok_or(DecodeError::Truncated)?;
    let records = parse_index(&trailer, index)?;
    let total = records.len();
    let intact: Vec<PackRecord> = records
        .into_iter()
        .filter(|r| {
            file.get(r.offset as usize..r.offset as usize + r.length as usize)
                .is_some_and(|stored| crc32(&[stored]) == r.crc)
        })
        .collect();
    let damaged = total - intact.len();
    Ok((trailer, intact, damaged))
}

/// A pack being filled in memory; written as one file when full or at commit.
#[derive(Debug)]
pub struct PackBuilder {
    generation: Generation,
    pack: PackNumber,
    bytes: Vec<u8>,
    records: Vec<PackRecord>,
}

/// A pack ready to be written: the payloads, then index and trailer. Two
/// parts, so that the payloads are never copied to append the index, and
/// the payload buffer can be reused for the next pack.
#[derive(Debug)]
pub struct FinishedPack {
    /// The payloads, back to back (the pack's first `index_offset` bytes).
    pub payloads: Vec<u8>,
    /// Index records and trailer.
    pub tail: Vec<u8>,
}

impl FinishedPack {
    /// The whole file's length.
    pub fn len(&self) -> u64 {
        (self.payloads.len() + self.tail.len()) as u64
    }

    /// Never true: a pack has at least its trailer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole file as one vector (tests and tools).
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = self.payloads;
        out.extend_from_slice(&self.tail);
        out
    }
}

impl PackBuilder {
    /// An empty pack filling `buffer` (cleared first; its capacity is kept,
    /// so a buffer handed back from the previous pack costs no allocation).
    pub fn new(generation: Generation, pack: PackNumber, mut buffer: Vec<u8>) -> Self {
        buffer.clear();
        PackBuilder {
            generation,
            pack,
            bytes: buffer,
            records: Vec::new(),
        }
    }

    /// The pack's number.
    pub fn number(&self) -> PackNumber {
        self.pack
    }

    /// Payload bytes so far.
    pub fn payload_bytes(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Whether no payload was added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Appends a payload stored raw and returns its record, or `None` when
    /// the pack cannot address it (offsets are 32-bit).
    pub fn push(&mut self, id: ObjectId, payload: &[u8]) -> Option<PackRecord> {
        let offset = u32::try_from(self.bytes.len()).ok()?;
        let length = u32::try_from(payload.len()).ok()?;
        offset.checked_add(length)?;
        let record = PackRecord {
            id,
            offset,
            length,
            size: length,
            crc: crc32(&[payload]),
            codec: Codec::RAW,
        };
        self.bytes.extend_from_slice(payload);
        self.records.push(record);
        Some(record)
    }

    /// The payloads, and the index and trailer that follow them.
    pub fn finish(self) -> FinishedPack {
        let index_offset = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
        let mut tail = Vec::with_capacity(self.records.len() * PACK_RECORD_LEN + PACK_TRAILER_LEN);
        for record in &self.records {
            record.emit(&mut tail);
        }
        let trailer = PackTrailer {
            generation: self.generation,
            pack: self.pack,
            records: u32::try_from(self.records.len()).unwrap_or(u32::MAX),
            index_offset,
            index_crc: crc32(&[&tail]),
        };
        tail.extend_from_slice(&trailer.emit());
        FinishedPack {
            payloads: self.bytes,
            tail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn sample() -> Vec<u8> {
        let mut pack = PackBuilder::new(Generation(2), PackNumber(1), Vec::new());
        pack.push(ObjectId(0x0102_0304_0506_0708), b"hello")
            .unwrap();
        pack.push(ObjectId(u64::MAX), b"").unwrap();
        pack.push(ObjectId(7), b"abc").unwrap();
        pack.finish().into_bytes()
    }

    /// The bytes of a fixed pack, checked independently (Python's struct
    /// and zlib.crc32 following doc/FORMAT.md); a change to the format must
    /// change this test and the format version.
    #[test]
    fn pack_bytes_are_pinned() {
        let bytes = sample();
        let hex: String = bytes.iter().map(|b| alloc::format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "68656c6c6f616263\
             0807060504030201 00000000 05000000 05000000 86a61036 00 000000\
             ffffffffffffffff 05000000 00000000 00000000 00000000 00 000000\
             0700000000000000 05000000 03000000 03000000 c2412435 00 000000\
             534e504b 0200 2000 02000000 01000000 03000000 08000000 f8a1b23b d5185c89"
                .replace(' ', ""),
        );
        let (trailer, records, damaged) = check(&bytes).unwrap();
        assert_eq!(damaged, 0);
        assert_eq!(
            (trailer.generation, trailer.pack, trailer.records),
            (Generation(2), PackNumber(1), 3)
        );
        assert_eq!(records[2].id, ObjectId(7));
        assert_eq!(&bytes[5..8], b"abc");
    }

    #[test]
    fn every_bit_flip_and_truncation_is_caught() {
        let bytes = sample();
        let payload_end = 8;
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            match check(&damaged) {
                Err(_) => {}
                // A flip in a payload leaves the index intact: that payload
                // alone is reported, the others are still rescued.
                Ok((_, records, count)) => {
                    assert!(bit / 8 < payload_end, "bit {bit} flip not detected");
                    assert_eq!((records.len(), count), (2, 1), "bit {bit}");
                }
            }
        }
        for len in 0..bytes.len() {
            assert!(check(&bytes[..len]).is_err(), "truncation to {len}");
        }
        let mut longer = bytes.clone();
        longer.insert(0, 0);
        assert!(check(&longer).is_err());
    }

    #[test]
    fn an_empty_pack_is_a_trailer() {
        let bytes = PackBuilder::new(Generation(1), PackNumber(0), Vec::new())
            .finish()
            .into_bytes();
        assert_eq!(bytes.len(), PACK_TRAILER_LEN);
        let (_, records, damaged) = check(&bytes).unwrap();
        assert!(records.is_empty() && damaged == 0);
    }
}
