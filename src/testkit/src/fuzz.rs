//! The fuzz targets' bodies: every decoder of bytes that come from disk or
//! from the config, with the properties each must keep on any input. The
//! cargo-fuzz targets in `fuzz/` call these, and so does the bounded
//! property test of the normal suite (tests/bad_input.rs), on seeded
//! mutations of valid encodings.
//!
//! A property broken is a panic, which is what a fuzzer reports.

use snapper_core::archive::{Archive, Copies, Entry, Header, Source, Stored};
use snapper_core::format::crc32;
use snapper_core::layout::{self, GenerationName};
use snapper_core::pack::{
    self, Codec, PackBuilder, PackTrailer, PACK_RECORD_LEN, PACK_TRAILER_LEN,
};
use snapper_core::{Config, Digest, Generation, ObjectId, PackNumber};

use crate::rng::Rng;

/// Archive decoding (format 2): never panics; whatever it accepts keeps the
/// rules the engine relies on (ids and sources strictly ascending, every
/// copy in a pack of a listed source, not newer than the archive, within
/// the pack's payload bytes, a raw copy as long as its object, the
/// archive's own source equal to its header, the names parse) and encodes
/// back to bytes that decode equal.
pub fn archive(data: &[u8]) {
    let Ok(archive) = Archive::decode(data) else {
        return;
    };
    assert_eq!(snapper_core::archive::version_of(data), Some(2));
    assert!(archive.fanout >= 2);
    assert!(matches!(
        GenerationName::parse(&archive.name),
        Some((_, created, g)) if g == archive.generation && created == archive.created
    ));
    for pair in archive.sources.windows(2) {
        assert!(
            pair[0].generation < pair[1].generation,
            "sources not ascending"
        );
    }
    for source in &archive.sources {
        assert!(source.fanout >= 2);
        assert!(source.generation <= archive.generation);
        if source.generation == archive.generation {
            assert_eq!(
                (&source.name, source.fanout, &source.packs),
                (&archive.name, archive.fanout, &archive.packs)
            );
        }
    }
    for pair in archive.entries.windows(2) {
        assert!(pair[0].id < pair[1].id, "ids not ascending");
    }
    for entry in &archive.entries {
        assert!(!entry.copies.is_empty());
        assert!(entry.copies.len() <= snapper_core::archive::MAX_COPIES);
        for copy in entry.copies.iter() {
            let Some(source) = archive.source(copy.generation) else {
                panic!("a copy without source was accepted");
            };
            assert!(copy.generation <= archive.generation);
            let Some(payload_bytes) = source.packs.get(copy.pack.0 as usize) else {
                panic!("a copy in a pack the source does not list was accepted");
            };
            assert!(u64::from(copy.offset) + u64::from(copy.length) <= *payload_bytes);
            if copy.codec == Codec::RAW {
                assert_eq!(copy.length, entry.size, "raw copy of another length");
            }
            let path = layout::pack_path(&source.name, source.fanout, copy.pack);
            assert!(path.starts_with(&format!("{}/pack/", source.name)));
        }
    }
    let Ok(again) = Archive::encode(
        Header {
            generation: archive.generation,
            name: &archive.name,
            created: archive.created,
            fanout: archive.fanout,
            packs: &archive.packs,
        },
        &archive.sources,
        &archive.entries,
    ) else {
        panic!("an accepted archive does not encode");
    };
    assert_eq!(Archive::decode(&again).as_ref(), Ok(&archive));
}

/// A whole pack (`pack::check`): never panics; whatever it accepts has the
/// length its trailer gives, the trailer it would emit, an index whose
/// records cover the payloads back to back, and intact records whose bytes
/// match their CRC; a pack of intact raw payloads is exactly what
/// `PackBuilder` writes for them.
pub fn pack(data: &[u8]) {
    let _ = PackTrailer::parse(data, data.len() as u64);
    let Ok((trailer, intact, damaged)) = pack::check(data) else {
        return;
    };
    assert_eq!(trailer.file_len(), data.len() as u64);
    let trailer_at = data.len() - PACK_TRAILER_LEN;
    assert_eq!(&trailer.emit()[..], &data[trailer_at..]);
    assert_eq!(intact.len() + damaged, trailer.records as usize);
    assert_eq!(
        trailer.index_offset as usize + trailer.records as usize * PACK_RECORD_LEN,
        trailer_at
    );
    let index = &data[trailer.index_offset as usize..trailer_at];
    let Ok(records) = pack::parse_index(&trailer, index) else {
        panic!("an accepted index does not parse again");
    };
    let mut intact_at = intact.iter().peekable();
    for record in &records {
        let stored = &data[record.offset as usize..(record.offset + record.length) as usize];
        if intact_at.peek() == Some(&record) {
            intact_at.next();
            assert_eq!(
                crc32(&[stored]),
                record.crc,
                "an intact payload fails its CRC"
            );
        } else {
            assert_ne!(
                crc32(&[stored]),
                record.crc,
                "an intact payload called damaged"
            );
        }
    }
    assert!(
        intact_at.next().is_none(),
        "intact records not from the index"
    );
    if damaged == 0 && records.iter().all(|r| r.codec == Codec::RAW) {
        let mut rebuilt = PackBuilder::new(trailer.generation, trailer.pack, Vec::new());
        for record in &records {
            let stored = &data[record.offset as usize..(record.offset + record.length) as usize];
            assert_eq!(rebuilt.push(record.id, stored), Some(*record));
        }
        assert_eq!(
            rebuilt.finish().into_bytes(),
            data,
            "an accepted pack is not what would be written"
        );
    }
}

/// The index of a pack (`pack::parse_index`) under a trailer whose CRC
/// matches, so that the records themselves are reached: the first four
/// bytes give `index_offset`, the rest are records. Never panics; accepted
/// records are back to back from 0 to `index_offset`, and a raw record's
/// length is its size.
pub fn pack_index(data: &[u8]) {
    let Some((head, index)) = data.split_first_chunk::<4>() else {
        return;
    };
    let trailer = PackTrailer {
        generation: Generation(1),
        pack: PackNumber(0),
        records: (index.len() / PACK_RECORD_LEN) as u32,
        index_offset: u32::from_le_bytes(*head),
        index_crc: crc32(&[index]),
    };
    let Ok(records) = pack::parse_index(&trailer, index) else {
        return;
    };
    assert_eq!(
        records.len() as u64 * PACK_RECORD_LEN as u64,
        index.len() as u64
    );
    let mut next = 0u64;
    for record in &records {
        assert_eq!(u64::from(record.offset), next, "payloads not back to back");
        if record.codec == Codec::RAW {
            assert_eq!(record.length, record.size);
        }
        next += u64::from(record.length);
    }
    assert_eq!(next, u64::from(trailer.index_offset));
}

/// Config parsing: never panics on any text; an accepted config has every
/// value in its documented range.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_xml(text) {
        assert!(config.threshold >= 2);
        assert!((1..=snapper_core::config::MAX_BUFSIZE).contains(&config.bufsize));
        assert!((4096..=snapper_core::config::MAX_PACK_SIZE).contains(&config.pack_size));
        assert!(config.max_snapshots == 0 || config.min_snapshots <= config.max_snapshots);
    }
}

/// Whether target `name`'s decoder accepts `data` (how deep mutations
/// reach: an input rejected by the first check exercises little).
pub fn accepts(name: &str, data: &[u8]) -> bool {
    match name {
        "archive" => Archive::decode(data).is_ok(),
        "pack" => pack::check(data).is_ok(),
        "pack_index" => data.split_first_chunk::<4>().is_some_and(|(head, index)| {
            let trailer = PackTrailer {
                generation: Generation(1),
                pack: PackNumber(0),
                records: (index.len() / PACK_RECORD_LEN) as u32,
                index_offset: u32::from_le_bytes(*head),
                index_crc: crc32(&[index]),
            };
            pack::parse_index(&trailer, index).is_ok()
        }),
        "config" => std::str::from_utf8(data).is_ok_and(|text| Config::from_xml(text).is_ok()),
        _ => false,
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The targets by name, as the property test runs them.
pub const TARGETS: [(&str, Target); 4] = [
    ("archive", archive),
    ("pack", pack),
    ("pack_index", pack_index),
    ("config", config),
];

/// Valid inputs of each target to mutate from (also the fuzz seed corpus).
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "archive" => vec![sample_archive(1, 1), sample_archive(3, 5)],
        "pack" => vec![
            sample_pack(1, 0, &[]),
            sample_pack(2, 1, &[b"hello", b"", &[0xAB; 300]]),
            sample_pack(u32::MAX - 1, 7, &[&[0; 64], b"x"]),
        ],
        "pack_index" => {
            let payloads: [&[&[u8]]; 3] = [&[], &[b"hello", b"", b"abc"], &[&[7u8; 100]]];
            payloads
            .iter()
            .map(|payloads| {
                let bytes = sample_pack(1, 0, payloads);
                let trailer_at = bytes.len() - PACK_TRAILER_LEN;
                let payload_bytes: usize = payloads.iter().map(|p| p.len()).sum();
                let mut input = (payload_bytes as u32).to_le_bytes().to_vec();
                input.extend_from_slice(&bytes[payload_bytes..trailer_at]);
                input
            })
            .collect()
        }
        "config" => [
            "<config/>",
            "<config verbose=\"yes\" threshold=\"2\" integrity=\"no\" redundancy=\"0\" \
             max_snapshots=\"5\" min_snapshots=\"2\" expiration=\"3600\" bufsize=\"4K\" pack_size=\"4K\"/>",
            "<?xml version=\"1.0\"?>\n<!-- c --><config bufsize='1M' pack_size='1G'>\n<vfs><fs/></vfs></config>",
            "<config threshold=\"4294967295\" bufsize=\"4294967295\" expiration=\"18446744073709551615\"/>",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        _ => Vec::new(),
    }
}

/// A pack of `generation`, number `pack`, holding `payloads` (ids 0, 1, …).
pub fn sample_pack(generation: u32, pack: u32, payloads: &[&[u8]]) -> Vec<u8> {
    let mut builder = PackBuilder::new(Generation(generation), PackNumber(pack), Vec::new());
    for (id, payload) in payloads.iter().enumerate() {
        // Small test payloads: a pack always addresses them.
        let _ = builder.push(ObjectId(id as u64), payload);
    }
    builder.finish().into_bytes()
}

/// An archive of generation `generation` with `objects` entries, some
/// with a second copy in an older generation's pack, as the engine would
/// write it.
pub fn sample_archive(generation: u32, objects: u64) -> Vec<u8> {
    let t = 1_795_545_149;
    let own = GenerationName::new(t, Generation(generation));
    let size = |i: u64| i as u32 * 17;
    let own_bytes: u64 = (0..objects).map(|i| u64::from(size(i))).sum();
    let mut sources = Vec::new();
    if generation > 1 {
        sources.push(Source {
            generation: Generation(1),
            name: GenerationName::new(t - 60, Generation(1)).as_str().into(),
            fanout: 3,
            packs: vec![own_bytes, 5],
        });
    }
    sources.push(Source {
        generation: Generation(generation),
        name: own.as_str().into(),
        fanout: 4,
        packs: vec![own_bytes],
    });
    let mut offset = 0;
    let entries: Vec<Entry> = (0..objects)
        .map(|i| {
            let stored = |g: u32| Stored {
                generation: Generation(g),
                pack: PackNumber(0),
                offset,
                length: size(i),
                crc: crc32(&[&vec![i as u8; size(i) as usize]]),
                codec: Codec::RAW,
            };
            let own_copy = Copies::one(stored(generation));
            let copies = if generation > 1 && i % 2 == 1 {
                Copies::prepend(stored(generation), &Copies::one(stored(1)), |_| true)
            } else {
                own_copy
            };
            offset += size(i);
            Entry {
                id: ObjectId(i * 1000 + u64::from(i == objects - 1) * (u64::MAX - 5000)),
                size: size(i),
                digest: Digest([i as u8; 16]),
                copies,
            }
        })
        .collect();
    Archive::encode(
        Header {
            generation: Generation(generation),
            name: own.as_str(),
            created: t,
            fanout: 4,
            packs: &[own_bytes],
        },
        &sources,
        &entries,
    )
    .unwrap_or_default()
}

/// Changes `data` the way a fuzzer's first mutators do: bit flips, byte
/// overwrites with interesting values, insertions, deletions, truncation,
/// and splices of random bytes.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    let rounds = 1 + rng.index(4);
    for _ in 0..rounds {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let at = rng.index(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.index(len);
                data[at] = [0, 1, 0x7F, 0x80, 0xFF, b'"', b'<', b'&'][rng.index(8)];
            }
            2 => {
                let at = rng.index(len + 1);
                let count = 1 + rng.index(8);
                let bytes = rng.bytes(count);
                data.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let at = rng.index(len);
                let count = 1 + rng.index((len - at).min(16));
                data.drain(at..at + count);
            }
            4 => data.truncate(rng.index(len + 1)),
            5 if len >= 4 => {
                // A length or count field set to an extreme.
                let at = rng.index(len - 3);
                let value = [u32::MAX, 0, 0x8000_0000, len as u32 + 1][rng.index(4)];
                data[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            _ => {
                let count = rng.index(32);
                *data = rng.bytes(count);
            }
        }
    }
}
