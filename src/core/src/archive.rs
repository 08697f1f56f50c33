//! Archives of format 2: a generation's map from object id to size, digest
//! and the stored copies of its payload (pack, offset, length, CRC, codec).
//! The header is format 1's with version 2; the body is postcard, its field
//! order the format. doc/FORMAT.md gives every byte.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::format::{crc32, le_u16, le_u32, DecodeError, ARCHIVE_HEADER_LEN, ARCHIVE_MAGIC};
use crate::layout::GenerationName;
use crate::pack::Codec;
use crate::types::{Digest, Generation, Location, ObjectId, PackNumber, PackRef};

/// The archive format of pack storage.
pub const ARCHIVE_VERSION: u16 = 2;
/// Most copies one entry lists.
pub const MAX_COPIES: usize = 3;

/// One stored copy of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The generation that wrote the pack.
    pub generation: Generation,
    /// The pack, by its number in that generation.
    pub pack: PackNumber,
    /// Byte offset of the stored payload in the pack.
    pub offset: u32,
    /// Stored length in bytes.
    pub length: u32,
    /// CRC-32 of the stored bytes: restore checks it before handing them out.
    pub crc: u32,
    /// How the stored bytes decode.
    pub codec: Codec,
}

impl Stored {
    /// Where the copy starts; what reference counts count.
    pub fn location(&self) -> Location {
        Location {
            pack: self.pack_ref(),
            offset: self.offset,
            length: self.length,
        }
    }

    /// The pack holding the copy.
    pub fn pack_ref(&self) -> PackRef {
        PackRef {
            generation: self.generation,
            pack: self.pack,
        }
    }
}

// On disk: generation, pack, offset, length as varints, the CRC as four
// little-endian bytes (a varint would take five for most values), codec.
impl Serialize for Stored {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (
            self.generation,
            self.pack,
            self.offset,
            self.length,
            self.crc.to_le_bytes(),
            self.codec.0,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Stored {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (generation, pack, offset, length, crc, codec) =
            <(Generation, PackNumber, u32, u32, [u8; 4], u8)>::deserialize(deserializer)?;
        Ok(Stored {
            generation,
            pack,
            offset,
            length,
            crc: u32::from_le_bytes(crc),
            codec: Codec(codec),
        })
    }
}

const NO_COPY: Stored = Stored {
    generation: Generation(0),
    pack: PackNumber(0),
    offset: 0,
    length: 0,
    crc: 0,
    codec: Codec::RAW,
};

/// An object's copies, newest first; restore tries them in this order.
/// Never empty, at most [`MAX_COPIES`]; inline, as it is held per object.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Copies {
    len: u8,
    copies: [Stored; MAX_COPIES],
}

impl Copies {
    /// A single copy.
    pub fn one(copy: Stored) -> Self {
        Copies {
            len: 1,
            copies: [copy, NO_COPY, NO_COPY],
        }
    }

    /// `newest` followed by those of `older` that `keep` accepts, the
    /// oldest dropped beyond [`MAX_COPIES`].
    pub fn prepend(newest: Stored, older: &Copies, keep: impl Fn(&Stored) -> bool) -> Self {
        let mut out = Self::one(newest);
        for copy in older.iter().filter(|c| keep(c)) {
            let Some(slot) = out.copies.get_mut(out.len as usize) else {
                break;
            };
            *slot = *copy;
            out.len += 1;
        }
        out
    }

    /// The copies, newest first.
    pub fn iter(&self) -> core::slice::Iter<'_, Stored> {
        self.copies[..self.len as usize].iter()
    }

    /// The newest copy.
    pub fn newest(&self) -> &Stored {
        &self.copies[0]
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

impl fmt::Debug for Copies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

// Postcard encodes this exactly like a Vec<Stored>.
impl Serialize for Copies {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Copies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CopiesVisitor;
        impl<'de> Visitor<'de> for CopiesVisitor {
            type Value = Copies;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "1 to {MAX_COPIES} stored copies")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Copies, A::Error> {
                let mut out = Copies {
                    len: 0,
                    copies: [NO_COPY; MAX_COPIES],
                };
                while let Some(copy) = seq.next_element::<Stored>()? {
                    let slot = out
                        .copies
                        .get_mut(out.len as usize)
                        .ok_or_else(|| A::Error::custom("too many copies"))?;
                    *slot = copy;
                    out.len += 1;
                }
                if out.len == 0 {
                    return Err(A::Error::custom("no copy"));
                }
                Ok(out)
            }
        }
        deserializer.deserialize_seq(CopiesVisitor)
    }
}

/// One object of a generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The object.
    pub id: ObjectId,
    /// Payload length in bytes.
    pub size: u32,
    /// Digest of the payload: change detection and content dedup.
    pub digest: Digest,
    /// Stored copies of the payload, newest first.
    pub copies: Copies,
}

/// A generation whose packs an archive's entries use, with what it takes to
/// derive their paths and to account for their bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Its number.
    pub generation: Generation,
    /// Its directory name.
    pub name: String,
    /// The fan-out of its pack trie.
    pub fanout: u32,
    /// The payload bytes of each of its packs (where the pack's index
    /// starts), by pack number.
    pub packs: Vec<u64>,
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
    /// Fan-out of this generation's pack trie.
    pub fanout: u32,
    /// The payload bytes of each pack this generation wrote (where the
    /// pack's index starts), by number.
    pub packs: Vec<u64>,
    /// Every generation the entries use, this one included when used,
    /// strictly ascending.
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
    packs: &'a [u64],
    sources: &'a [Source],
    entries: &'a [Entry],
}

/// What an archive says about its own generation, apart from the entries.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    /// This generation's number.
    pub generation: Generation,
    /// Its directory name.
    pub name: &'a str,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// Fan-out of its pack trie.
    pub fanout: u32,
    /// Payload bytes of its packs.
    pub packs: &'a [u64],
}

/// The format version of an archive file, read from its header without
/// checking anything else: how a root of another format is recognised.
pub fn version_of(file: &[u8]) -> Option<u16> {
    (file.get(..4) == Some(&ARCHIVE_MAGIC[..]))
        .then(|| le_u16(file, 4))
        .flatten()
}

impl Archive {
    /// Encodes header and body.
    pub fn encode(
        header: Header<'_>,
        sources: &[Source],
        entries: &[Entry],
    ) -> Result<Vec<u8>, DecodeError> {
        let body = ArchiveRef {
            generation: header.generation,
            name: header.name,
            created: header.created,
            fanout: header.fanout,
            packs: header.packs,
            sources,
            entries,
        };
        let mut out = Vec::with_capacity(ARCHIVE_HEADER_LEN + 40 * entries.len() + 64);
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
                && (source.name != self.name
                    || source.fanout != self.fanout
                    || source.packs != self.packs)
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
            for copy in entry.copies.iter() {
                let Some(source) = self.source(copy.generation) else {
                    return Err(DecodeError::Malformed(
                        "copy in a generation not among the sources",
                    ));
                };
                let Some(pack_len) = source.packs.get(copy.pack.0 as usize) else {
                    return Err(DecodeError::Malformed("copy in a pack that does not exist"));
                };
                let end = u64::from(copy.offset) + u64::from(copy.length);
                if end > *pack_len {
                    return Err(DecodeError::Malformed("copy past the end of its pack"));
                }
                if copy.codec == Codec::RAW && copy.length != entry.size {
                    return Err(DecodeError::Malformed(
                        "raw copy whose length is not the size",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The source record of generation `generation`.
    pub fn source(&self, generation: Generation) -> Option<&Source> {
        find_source(&self.sources, generation)
    }

    /// The entry of object `id`.
    pub fn entry(&self, id: ObjectId) -> Option<&Entry> {
        find_entry(&self.entries, id)
    }
}

/// Binary search in sources sorted by generation.
pub fn find_source(sources: &[Source], generation: Generation) -> Option<&Source> {
    sources
        .binary_search_by_key(&generation, |s| s.generation)
        .ok()
        .and_then(|at| sources.get(at))
}

/// The index of `id` in entries sorted by id, trying `hint` and the entry
/// after it first: callers walking ids in ascending order (a client
/// restoring or taking a generation) find them there without a search.
pub fn find_entry_near(entries: &[Entry], id: ObjectId, hint: usize) -> Option<usize> {
    [hint, hint.wrapping_add(1)]
        .into_iter()
        .find(|at| entries.get(*at).is_some_and(|e| e.id == id))
        .or_else(|| entries.binary_search_by_key(&id, |e| e.id).ok())
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
    use alloc::vec;

    fn stored(generation: u32, pack: u32, offset: u32, length: u32, crc: u32) -> Stored {
        Stored {
            generation: Generation(generation),
            pack: PackNumber(pack),
            offset,
            length,
            crc,
            codec: Codec::RAW,
        }
    }

    fn sample() -> Archive {
        let name = GenerationName::new(1_795_545_149, Generation(2));
        let older = GenerationName::new(1_795_545_100, Generation(1));
        Archive {
            generation: Generation(2),
            name: name.as_str().into(),
            created: 1_795_545_149,
            fanout: 100,
            packs: vec![332],
            sources: vec![
                Source {
                    generation: Generation(1),
                    name: older.as_str().into(),
                    fanout: 16,
                    packs: vec![400],
                },
                Source {
                    generation: Generation(2),
                    name: name.as_str().into(),
                    fanout: 100,
                    packs: vec![332],
                },
            ],
            entries: vec![
                Entry {
                    id: ObjectId(0),
                    size: 4,
                    digest: Digest([1; 16]),
                    copies: Copies::one(stored(1, 0, 0, 4, 0x0403_0201)),
                },
                Entry {
                    id: ObjectId(u64::MAX),
                    size: 300,
                    digest: Digest([2; 16]),
                    copies: Copies::prepend(
                        stored(2, 0, 0, 300, 0xdead_beef),
                        &Copies::one(stored(1, 0, 4, 300, 7)),
                        |_| true,
                    ),
                },
            ],
        }
    }

    fn encode(a: &Archive) -> Vec<u8> {
        Archive::encode(
            Header {
                generation: a.generation,
                name: &a.name,
                created: a.created,
                fanout: a.fanout,
                packs: &a.packs,
            },
            &a.sources,
            &a.entries,
        )
        .unwrap()
    }

    /// The archive bytes, pinned and checked independently (a Python
    /// varint encoder following doc/FORMAT.md): postcard's encoding is the
    /// format, so a change in its output must fail here first.
    #[test]
    fn archive_bytes_are_pinned() {
        let archive = sample();
        let bytes = encode(&archive);
        let hex: String = bytes.iter().map(|b| alloc::format!("{b:02x}")).collect();
        assert_eq!(hex, PINNED.replace([' ', '\n'], ""));
        assert_eq!(Archive::decode(&bytes), Ok(archive));
        assert_eq!(version_of(&bytes), Some(2));
    }

    const PINNED: &str = "
        534e5041 0200 1000 ba000000 c7ba32f4
        02 1c 323032362d31312d32345431383a33323a32392d3030303030303032 bdb097d806 64 01 cc02
        02
          01 1c 323032362d31312d32345431383a33313a34302d3030303030303031 10 01 9003
          02 1c 323032362d31312d32345431383a33323a32392d3030303030303032 64 01 cc02
        02
          00 04 01010101010101010101010101010101 01
            01 00 00 04 01020304 00
          ffffffffffffffffff01 ac02 02020202020202020202020202020202 02
            02 00 00 ac02 efbeadde 00
            01 00 04 ac02 07000000 00";

    #[test]
    fn damage_is_reported() {
        let bytes = encode(&sample());
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(Archive::decode(&damaged).is_err(), "bit {bit} flip");
        }
        for len in 0..bytes.len() {
            assert!(Archive::decode(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn rules_are_enforced() {
        let mut unsorted = sample();
        unsorted.entries.swap(0, 1);
        assert_eq!(Archive::decode(&encode(&sample())).map(|_| ()), Ok(()));
        assert_eq!(
            Archive::decode(&encode(&unsorted)),
            Err(DecodeError::Malformed("entries not strictly ascending"))
        );
        let mut dangling = sample();
        dangling.sources.remove(0);
        assert!(Archive::decode(&encode(&dangling)).is_err());
        let mut no_pack = sample();
        no_pack.sources[0].packs.clear();
        assert_eq!(
            Archive::decode(&encode(&no_pack)),
            Err(DecodeError::Malformed("copy in a pack that does not exist"))
        );
        let mut past_end = sample();
        past_end.sources[0].packs[0] = 4 + 300 - 1;
        assert_eq!(
            Archive::decode(&encode(&past_end)),
            Err(DecodeError::Malformed("copy past the end of its pack"))
        );
        let mut disagree = sample();
        disagree.packs[0] += 1;
        assert!(Archive::decode(&encode(&disagree)).is_err());
        let mut wrong_length = sample();
        wrong_length.entries[0].size = 5;
        assert!(Archive::decode(&encode(&wrong_length)).is_err());
    }

    #[test]
    fn copies_keep_at_most_three_newest_first() {
        let mut copies = Copies::one(stored(1, 0, 0, 1, 0));
        for g in 2..6 {
            copies = Copies::prepend(stored(g, 0, 0, 1, 0), &copies, |_| true);
        }
        let gens: Vec<u32> = copies.iter().map(|c| c.generation.0).collect();
        assert_eq!(gens, vec![5, 4, 3]);
        let dropped = Copies::prepend(stored(6, 0, 0, 1, 0), &copies, |c| c.generation.0 != 4);
        let gens: Vec<u32> = dropped.iter().map(|c| c.generation.0).collect();
        assert_eq!(gens, vec![6, 5, 3]);
        let too_many = postcard::to_allocvec(&vec![stored(1, 0, 0, 1, 0); 4]).unwrap();
        assert!(postcard::from_bytes::<Copies>(&too_many).is_err());
        let none = postcard::to_allocvec(&Vec::<Stored>::new()).unwrap();
        assert!(postcard::from_bytes::<Copies>(&none).is_err());
    }
}
