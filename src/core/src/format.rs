//! The bytes on disk: snapshot file headers and archives. doc/FORMAT.md
//! describes the same bytes for readers without this source.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::layout::GenerationName;
use crate::types::{Digest, FileRef, Generation, ObjectId, DIGEST_LEN};

/// CRC-32/ISO-HDLC (the zlib/Ethernet CRC: reflected polynomial 0xEDB88320,
/// initial value and final XOR 0xFFFFFFFF).
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize()
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

fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

// ---------------------------------------------------------------------------
// Snapshot files

/// Magic number of a snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"SNPF";
/// The snapshot file format this build writes and reads.
pub const SNAPSHOT_VERSION: u16 = 1;
/// Bytes before the payload.
pub const SNAPSHOT_HEADER_LEN: usize = 48;

mod snapshot_field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const VERSION: usize = 4;
    pub const HEADER_LEN: usize = 6;
    pub const OBJECT_ID: usize = 8;
    pub const PAYLOAD_LEN: usize = 16;
    pub const PAYLOAD_CRC: usize = 20;
    pub const DIGEST: Range<usize> = 24..40;
    pub const RESERVED: usize = 40;
    pub const HEADER_CRC: usize = 44;
}

/// The header of a snapshot file: what the payload after it must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The object whose content the file holds.
    pub id: ObjectId,
    /// Payload length in bytes.
    pub payload_len: u32,
    /// CRC-32 of the payload (integrity).
    pub payload_crc: u32,
    /// Digest of the payload (identity; must equal the archive's).
    pub digest: Digest,
}

impl SnapshotHeader {
    /// The header for `payload` of object `id`. The payload length has been
    /// checked against the buffer size, which is below 4 GiB.
    pub fn for_payload(id: ObjectId, payload: &[u8], digest: Digest) -> Self {
        SnapshotHeader {
            id,
            payload_len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
            payload_crc: crc32(&[payload]),
            digest,
        }
    }

    /// The 48 header bytes.
    pub fn emit(&self) -> [u8; SNAPSHOT_HEADER_LEN] {
        use snapshot_field as f;
        let mut out = [0u8; SNAPSHOT_HEADER_LEN];
        out[f::MAGIC].copy_from_slice(&SNAPSHOT_MAGIC);
        out[f::VERSION..f::VERSION + 2].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        out[f::HEADER_LEN..f::HEADER_LEN + 2]
            .copy_from_slice(&(SNAPSHOT_HEADER_LEN as u16).to_le_bytes());
        out[f::OBJECT_ID..f::OBJECT_ID + 8].copy_from_slice(&self.id.0.to_le_bytes());
        out[f::PAYLOAD_LEN..f::PAYLOAD_LEN + 4].copy_from_slice(&self.payload_len.to_le_bytes());
        out[f::PAYLOAD_CRC..f::PAYLOAD_CRC + 4].copy_from_slice(&self.payload_crc.to_le_bytes());
        out[f::DIGEST].copy_from_slice(&self.digest.0);
        let crc = crc32(&[&out[..f::HEADER_CRC]]);
        out[f::HEADER_CRC..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Checks the header bytes at the start of `file` (magic, version,
    /// header CRC) and returns the header; the payload is not checked here.
    pub fn parse(file: &[u8]) -> Result<Self, DecodeError> {
        use snapshot_field as f;
        let header = file
            .get(..SNAPSHOT_HEADER_LEN)
            .ok_or(DecodeError::Truncated)?;
        if header.get(f::MAGIC) != Some(&SNAPSHOT_MAGIC[..]) {
            return Err(DecodeError::BadMagic);
        }
        let version = le_u16(header, f::VERSION).ok_or(DecodeError::Truncated)?;
        if version != SNAPSHOT_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let stored_crc = le_u32(header, f::HEADER_CRC).ok_or(DecodeError::Truncated)?;
        if crc32(&[&header[..f::HEADER_CRC]]) != stored_crc {
            return Err(DecodeError::ChecksumMismatch);
        }
        if le_u16(header, f::HEADER_LEN) != Some(SNAPSHOT_HEADER_LEN as u16) {
            return Err(DecodeError::Malformed("header length"));
        }
        if le_u32(header, f::RESERVED) != Some(0) {
            return Err(DecodeError::Malformed("reserved field is not zero"));
        }
        let mut digest = [0u8; DIGEST_LEN];
        digest.copy_from_slice(&header[f::DIGEST]);
        Ok(SnapshotHeader {
            id: ObjectId(le_u64(header, f::OBJECT_ID).ok_or(DecodeError::Truncated)?),
            payload_len: le_u32(header, f::PAYLOAD_LEN).ok_or(DecodeError::Truncated)?,
            payload_crc: le_u32(header, f::PAYLOAD_CRC).ok_or(DecodeError::Truncated)?,
            digest: Digest(digest),
        })
    }

    /// Checks a whole snapshot file and returns its payload.
    pub fn verify(file: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        let header = Self::parse(file)?;
        let payload = file
            .get(SNAPSHOT_HEADER_LEN..)
            .ok_or(DecodeError::Truncated)?;
        let expected = header.payload_len as usize;
        if payload.len() < expected {
            return Err(DecodeError::Truncated);
        }
        if payload.len() > expected {
            return Err(DecodeError::TrailingBytes);
        }
        if crc32(&[payload]) != header.payload_crc {
            return Err(DecodeError::ChecksumMismatch);
        }
        Ok((header, payload))
    }
}

// ---------------------------------------------------------------------------
// Archives

/// Magic number of an archive.
pub const ARCHIVE_MAGIC: [u8; 4] = *b"SNPA";
/// The archive format this build writes and reads.
pub const ARCHIVE_VERSION: u16 = 1;
/// Bytes before the postcard body.
pub const ARCHIVE_HEADER_LEN: usize = 16;
/// Most copies one archive entry lists.
pub const MAX_BACKLINKS: usize = 3;

/// An object's copies, newest first; restore tries them in this order.
/// Never empty, at most [`MAX_BACKLINKS`]. Kept inline: this type is held
/// once per object in memory.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Backlinks {
    len: u8,
    links: [FileRef; MAX_BACKLINKS],
}

const NO_FILE: FileRef = FileRef {
    generation: Generation(0),
    file: crate::types::FileNumber(0),
};

impl Backlinks {
    /// A single copy.
    pub fn one(link: FileRef) -> Self {
        Backlinks {
            len: 1,
            links: [link, NO_FILE, NO_FILE],
        }
    }

    /// `newest` followed by the copies of `older`, the oldest dropped when
    /// there are more than [`MAX_BACKLINKS`].
    pub fn prepend(newest: FileRef, older: &Backlinks) -> Self {
        let mut out = Self::one(newest);
        for link in older.iter().take(MAX_BACKLINKS - 1) {
            out.links[out.len as usize] = *link;
            out.len += 1;
        }
        out
    }

    /// The copies, newest first.
    pub fn iter(&self) -> core::slice::Iter<'_, FileRef> {
        self.links[..self.len as usize].iter()
    }

    /// The newest copy.
    pub fn newest(&self) -> FileRef {
        self.links[0]
    }

    /// How many copies.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Never true for a decoded or constructed value; here for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Backlinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

// Postcard encodes this exactly like a Vec<FileRef>.
impl Serialize for Backlinks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Backlinks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LinksVisitor;
        impl<'de> Visitor<'de> for LinksVisitor {
            type Value = Backlinks;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "1 to {MAX_BACKLINKS} file references")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Backlinks, A::Error> {
                let mut out = Backlinks {
                    len: 0,
                    links: [NO_FILE; MAX_BACKLINKS],
                };
                while let Some(link) = seq.next_element::<FileRef>()? {
                    let slot = out
                        .links
                        .get_mut(out.len as usize)
                        .ok_or_else(|| A::Error::custom("too many backlinks"))?;
                    *slot = link;
                    out.len += 1;
                }
                if out.len == 0 {
                    return Err(A::Error::custom("no backlink"));
                }
                Ok(out)
            }
        }
        deserializer.deserialize_seq(LinksVisitor)
    }
}

/// One object of a generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The object.
    pub id: ObjectId,
    /// Payload length in bytes.
    pub size: u32,
    /// Digest of the payload, for change detection.
    pub digest: Digest,
    /// Files holding the payload, newest first.
    pub backlinks: Backlinks,
}

/// A generation whose files an archive's entries reference, with what it
/// takes to derive their paths.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Its number.
    pub generation: Generation,
    /// Its directory name.
    pub name: String,
    /// The fan-out of its snapshot trie.
    pub fanout: u32,
}

/// A decoded archive. Field order is the postcard encoding (doc/FORMAT.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archive {
    /// This generation's number.
    pub generation: Generation,
    /// This generation's directory name.
    pub name: String,
    /// Creation time, Unix seconds (UTC).
    pub created: u64,
    /// Fan-out of this generation's snapshot trie.
    pub fanout: u32,
    /// Snapshot files this generation created (numbers 0 to file_count-1).
    pub file_count: u32,
    /// Every generation the entries reference, this one included, by number.
    pub sources: Vec<Source>,
    /// The objects, strictly ascending by id.
    pub entries: Vec<Entry>,
}

/// Borrowed form for encoding without copying the entries.
#[derive(Serialize)]
struct ArchiveRef<'a> {
    generation: Generation,
    name: &'a str,
    created: u64,
    fanout: u32,
    file_count: u32,
    sources: &'a [Source],
    entries: &'a [Entry],
}

impl Archive {
    /// Encodes header and body.
    pub fn encode(
        generation: Generation,
        name: &str,
        created: u64,
        fanout: u32,
        file_count: u32,
        sources: &[Source],
        entries: &[Entry],
    ) -> Result<Vec<u8>, DecodeError> {
        let body = ArchiveRef {
            generation,
            name,
            created,
            fanout,
            file_count,
            sources,
            entries,
        };
        let mut out = Vec::with_capacity(ARCHIVE_HEADER_LEN + 32 * entries.len() + 64);
        out.extend_from_slice(&ARCHIVE_MAGIC);
        out.extend_from_slice(&ARCHIVE_VERSION.to_le_bytes());
        out.extend_from_slice(&(ARCHIVE_HEADER_LEN as u16).to_le_bytes());
        out.extend_from_slice(&[0u8; 8]);
        let mut out = postcard::to_extend(&body, out)
            .map_err(|_| DecodeError::Malformed("encoding failed"))?;
        let body_len = u32::try_from(out.len() - ARCHIVE_HEADER_LEN)
            .map_err(|_| DecodeError::Malformed("archive over 4 GiB"))?;
        out[8..12].copy_from_slice(&body_len.to_le_bytes());
        let crc = crc32(&[&out[..12], &out[ARCHIVE_HEADER_LEN..]]);
        out[12..16].copy_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Checks and decodes an archive file, including every rule of the
    /// format that the bytes alone can show.
    pub fn decode(file: &[u8]) -> Result<Archive, DecodeError> {
        if file.len() < ARCHIVE_HEADER_LEN {
            return Err(DecodeError::Truncated);
        }
        if file.get(..4) != Some(&ARCHIVE_MAGIC[..]) {
            return Err(DecodeError::BadMagic);
        }
        let version = le_u16(file, 4).ok_or(DecodeError::Truncated)?;
        if version != ARCHIVE_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        if le_u16(file, 6) != Some(ARCHIVE_HEADER_LEN as u16) {
            return Err(DecodeError::Malformed("header length"));
        }
        let body_len = le_u32(file, 8).ok_or(DecodeError::Truncated)? as usize;
        let body = file
            .get(ARCHIVE_HEADER_LEN..)
            .ok_or(DecodeError::Truncated)?;
        if body.len() < body_len {
            return Err(DecodeError::Truncated);
        }
        if body.len() > body_len {
            return Err(DecodeError::TrailingBytes);
        }
        let stored_crc = le_u32(file, 12).ok_or(DecodeError::Truncated)?;
        if crc32(&[&file[..12], body]) != stored_crc {
            return Err(DecodeError::ChecksumMismatch);
        }
        let (archive, rest): (Archive, &[u8]) = postcard::take_from_bytes(body)
            .map_err(|_| DecodeError::Malformed("body does not decode"))?;
        if !rest.is_empty() {
            return Err(DecodeError::Malformed("bytes after the body"));
        }
        archive.validate()?;
        Ok(archive)
    }

    fn validate(&self) -> Result<(), DecodeError> {
        match GenerationName::parse(&self.name) {
            Some((_, created, generation))
                if generation == self.generation && created == self.created => {}
            _ => {
                return Err(DecodeError::Malformed(
                    "name does not match generation and time",
                ))
            }
        }
        if self.fanout < 2 {
            return Err(DecodeError::Malformed("fan-out below 2"));
        }
        for (index, source) in self.sources.iter().enumerate() {
            if index > 0 && self.sources[index - 1].generation >= source.generation {
                return Err(DecodeError::Malformed("sources not strictly ascending"));
            }
            if source.fanout < 2 || source.generation > self.generation {
                return Err(DecodeError::Malformed("bad source"));
            }
            if !matches!(GenerationName::parse(&source.name), Some((_, _, g)) if g == source.generation)
            {
                return Err(DecodeError::Malformed(
                    "source name does not match its generation",
                ));
            }
            if source.generation == self.generation
                && (source.name != self.name || source.fanout != self.fanout)
            {
                return Err(DecodeError::Malformed(
                    "source disagrees with the archive header",
                ));
            }
        }
        for (index, entry) in self.entries.iter().enumerate() {
            if index > 0 && self.entries[index - 1].id >= entry.id {
                return Err(DecodeError::Malformed("entries not strictly ascending"));
            }
            for link in entry.backlinks.iter() {
                if self.source(link.generation).is_none() {
                    return Err(DecodeError::Malformed(
                        "backlink to a generation not among the sources",
                    ));
                }
                if link.generation == self.generation && link.file.0 >= self.file_count {
                    return Err(DecodeError::Malformed("backlink past the file count"));
                }
            }
        }
        Ok(())
    }

    /// The source record of generation `generation`.
    pub fn source(&self, generation: Generation) -> Option<&Source> {
        self.sources
            .binary_search_by_key(&generation, |s| s.generation)
            .ok()
            .and_then(|at| self.sources.get(at))
    }

    /// The entry of object `id`.
    pub fn entry(&self, id: ObjectId) -> Option<&Entry> {
        find_entry(&self.entries, id)
    }
}

/// Binary search in entries sorted by id.
pub fn find_entry(entries: &[Entry], id: ObjectId) -> Option<&Entry> {
    entries
        .binary_search_by_key(&id, |e| e.id)
        .ok()
        .and_then(|at| entries.get(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FileNumber;
    use alloc::vec;

    fn link(generation: u32, file: u32) -> FileRef {
        FileRef {
            generation: Generation(generation),
            file: FileNumber(file),
        }
    }

    /// The bytes of a fixed snapshot file header, checked independently
    /// (Python's zlib.crc32 and struct); a change to the format must change
    /// this test and the format version.
    #[test]
    fn snapshot_header_bytes_are_pinned() {
        let payload = b"hello";
        let header = SnapshotHeader::for_payload(
            ObjectId(0x0102_0304_0506_0708),
            payload,
            Digest([0xAB; 16]),
        );
        let bytes = header.emit();
        let expected: [u8; 48] = [
            b'S', b'N', b'P', b'F', 1, 0, 48, 0, //
            8, 7, 6, 5, 4, 3, 2, 1, //
            5, 0, 0, 0, 0x86, 0xa6, 0x10, 0x36, //
            0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, //
            0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, //
            0, 0, 0, 0, 0x2e, 0x5a, 0x9f, 0x34,
        ];
        assert_eq!(bytes, expected, "{bytes:02x?}");
        let mut file = bytes.to_vec();
        file.extend_from_slice(payload);
        assert_eq!(
            SnapshotHeader::verify(&file).map(|(h, p)| (h, p.to_vec())),
            Ok((header, payload.to_vec()))
        );
    }

    #[test]
    fn snapshot_damage_is_reported() {
        let payload = [7u8; 100];
        let mut file = SnapshotHeader::for_payload(ObjectId(1), &payload, Digest::of(&payload))
            .emit()
            .to_vec();
        file.extend_from_slice(&payload);
        for bit in 0..file.len() * 8 {
            let mut damaged = file.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(
                SnapshotHeader::verify(&damaged).is_err(),
                "bit {bit} flip not detected"
            );
        }
        for len in 0..file.len() {
            assert!(
                SnapshotHeader::verify(&file[..len]).is_err(),
                "truncation to {len} not detected"
            );
        }
        let mut longer = file.clone();
        longer.push(0);
        assert_eq!(
            SnapshotHeader::verify(&longer).err(),
            Some(DecodeError::TrailingBytes)
        );
    }

    fn sample_archive() -> Archive {
        let name = GenerationName::new(1_795_545_149, Generation(2));
        let older = GenerationName::new(1_795_545_100, Generation(1));
        Archive {
            generation: Generation(2),
            name: name.as_str().into(),
            created: 1_795_545_149,
            fanout: 100,
            file_count: 1,
            sources: vec![
                Source {
                    generation: Generation(1),
                    name: older.as_str().into(),
                    fanout: 16,
                },
                Source {
                    generation: Generation(2),
                    name: name.as_str().into(),
                    fanout: 100,
                },
            ],
            entries: vec![
                Entry {
                    id: ObjectId(0),
                    size: 4,
                    digest: Digest([1; 16]),
                    backlinks: Backlinks::one(link(1, 0)),
                },
                Entry {
                    id: ObjectId(u64::MAX),
                    size: 300,
                    digest: Digest([2; 16]),
                    backlinks: Backlinks::prepend(link(2, 0), &Backlinks::one(link(1, 1))),
                },
            ],
        }
    }

    fn encode(a: &Archive) -> Vec<u8> {
        Archive::encode(
            a.generation,
            &a.name,
            a.created,
            a.fanout,
            a.file_count,
            &a.sources,
            &a.entries,
        )
        .unwrap()
    }

    /// The archive bytes, pinned and checked independently (a hand-written
    /// Python varint encoder following doc/FORMAT.md): postcard's encoding is
    /// the format, so a change in postcard's output must fail here before it
    /// reaches a disk.
    #[test]
    fn archive_bytes_are_pinned() {
        let archive = sample_archive();
        let bytes = encode(&archive);
        let hex: String = bytes.iter().map(|b| alloc::format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "534e5041010010009b0000004205a3fb\
             021c323032362d31312d32345431383a33323a32392d3030303030303032bdb097d8066401\
             02011c323032362d31312d32345431383a33313a34302d303030303030303110\
             021c323032362d31312d32345431383a33323a32392d303030303030303264\
             02000401010101010101010101010101010101010100\
             ffffffffffffffffff01ac02\
             02020202020202020202020202020202\
             0202000101",
        );
        assert_eq!(Archive::decode(&bytes), Ok(archive));
    }

    #[test]
    fn archive_damage_is_reported() {
        let bytes = encode(&sample_archive());
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(
                Archive::decode(&damaged).is_err(),
                "bit {bit} flip not detected"
            );
        }
        for len in 0..bytes.len() {
            assert!(Archive::decode(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn archive_rules_are_enforced() {
        let mut unsorted = sample_archive();
        unsorted.entries.swap(0, 1);
        assert_eq!(
            Archive::decode(&encode(&unsorted)),
            Err(DecodeError::Malformed("entries not strictly ascending"))
        );
        let mut dangling = sample_archive();
        dangling.sources.remove(0);
        assert!(Archive::decode(&encode(&dangling)).is_err());
        let mut renamed = sample_archive();
        renamed.created += 1;
        assert!(Archive::decode(&encode(&renamed)).is_err());
        let mut past_end = sample_archive();
        past_end.file_count = 0;
        assert!(Archive::decode(&encode(&past_end)).is_err());
    }

    /// The per-object memory figure doc/DESIGN.md quotes.
    #[test]
    fn an_entry_takes_56_bytes_in_memory() {
        assert_eq!(core::mem::size_of::<Entry>(), 56);
    }

    #[test]
    fn backlinks_keep_at_most_three_newest_first() {
        let mut links = Backlinks::one(link(1, 0));
        for g in 2..6 {
            links = Backlinks::prepend(link(g, 0), &links);
        }
        assert_eq!(
            links.iter().copied().collect::<Vec<_>>(),
            vec![link(5, 0), link(4, 0), link(3, 0)]
        );
        let too_many = postcard::to_allocvec(&vec![link(1, 0); 4]).unwrap();
        assert!(postcard::from_bytes::<Backlinks>(&too_many).is_err());
        let none = postcard::to_allocvec(&Vec::<FileRef>::new()).unwrap();
        assert!(postcard::from_bytes::<Backlinks>(&none).is_err());
    }
}
