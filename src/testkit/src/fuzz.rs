//! The fuzz targets' bodies: every decoder of bytes that come from disk or
//! from the config, with the properties each must keep on any input. The
//! cargo-fuzz targets in `fuzz/` call these, and so does the bounded
//! property test of the normal suite (tests/bad_input.rs), on seeded
//! mutations of valid encodings.
//!
//! A property broken is a panic, which is what a fuzzer reports.

use snapper_core::format::{
    Archive, Backlinks, Entry, SnapshotHeader, Source, SNAPSHOT_HEADER_LEN,
};
use snapper_core::layout::GenerationName;
use snapper_core::{Config, Digest, FileNumber, FileRef, Generation, ObjectId};

use crate::rng::Rng;

/// Snapshot file decoding: never panics; whatever it accepts is exactly the
/// header it would write followed by a payload of the recorded length and
/// checksum (so nothing but an intact file passes).
pub fn snapshot_header(data: &[u8]) {
    if let Ok((header, payload)) = SnapshotHeader::verify(data) {
        assert_eq!(payload.len(), header.payload_len as usize);
        assert_eq!(&data[..SNAPSHOT_HEADER_LEN], &header.emit()[..]);
        assert_eq!(&data[SNAPSHOT_HEADER_LEN..], payload);
        assert_eq!(
            snapper_core::format::crc32(&[payload]),
            header.payload_crc,
            "accepted a payload that fails its CRC"
        );
    }
    let _ = SnapshotHeader::parse(data);
}

/// Archive decoding: never panics; whatever it accepts keeps the rules the
/// manager relies on (ascending ids, every backlink resolvable, own files
/// within the file count) and encodes back to bytes that decode equal.
pub fn archive(data: &[u8]) {
    let Ok(archive) = Archive::decode(data) else {
        return;
    };
    for pair in archive.entries.windows(2) {
        assert!(pair[0].id < pair[1].id, "ids not ascending");
    }
    for entry in &archive.entries {
        assert!(!entry.backlinks.is_empty());
        for link in entry.backlinks.iter() {
            let source = archive
                .source(link.generation)
                .expect("a backlink without source was accepted");
            assert!(source.fanout >= 2);
            assert!(link.generation <= archive.generation);
            if link.generation == archive.generation {
                assert!(link.file.0 < archive.file_count);
            }
            let _ = snapper_core::layout::file_path(&source.name, source.fanout, link.file);
        }
    }
    assert!(GenerationName::parse(&archive.name).is_some());
    let again = Archive::encode(
        archive.generation,
        &archive.name,
        archive.created,
        archive.fanout,
        archive.file_count,
        &archive.sources,
        &archive.entries,
    )
    .expect("an accepted archive encodes");
    assert_eq!(Archive::decode(&again).as_ref(), Ok(&archive));
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
        assert!(config.max_snapshots == 0 || config.min_snapshots <= config.max_snapshots);
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The targets by name, as the property test runs them.
pub const TARGETS: [(&str, Target); 3] = [
    ("snapshot_header", snapshot_header),
    ("archive", archive),
    ("config", config),
];

/// Valid inputs of each target to mutate from (also the fuzz seed corpus).
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "snapshot_header" => [&b""[..], b"x", &[0xAB; 300]]
            .iter()
            .enumerate()
            .map(|(i, payload)| {
                let id = ObjectId([0, 7, u64::MAX][i]);
                let mut file = SnapshotHeader::for_payload(id, payload, Digest::of(payload))
                    .emit()
                    .to_vec();
                file.extend_from_slice(payload);
                file
            })
            .collect(),
        "archive" => vec![sample_archive(1, 1), sample_archive(3, 5)],
        "config" => [
            "<config/>",
            "<config verbose=\"yes\" threshold=\"2\" integrity=\"no\" redundancy=\"0\" \
             max_snapshots=\"5\" min_snapshots=\"2\" expiration=\"3600\" bufsize=\"4K\"/>",
            "<?xml version=\"1.0\"?>\n<!-- c --><config bufsize='1M'>\n<vfs><fs/></vfs></config>",
            "<config threshold=\"4294967295\" bufsize=\"4294967295\" expiration=\"18446744073709551615\"/>",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        _ => Vec::new(),
    }
}

/// An archive of generation `generation` with `objects` entries, some
/// linking to an older generation, as the engine would write it.
pub fn sample_archive(generation: u32, objects: u64) -> Vec<u8> {
    let t = 1_795_545_149;
    let own = GenerationName::new(t, Generation(generation));
    let mut sources = Vec::new();
    if generation > 1 {
        sources.push(Source {
            generation: Generation(1),
            name: GenerationName::new(t - 60, Generation(1)).as_str().into(),
            fanout: 3,
        });
    }
    sources.push(Source {
        generation: Generation(generation),
        name: own.as_str().into(),
        fanout: 4,
    });
    let link = |g: u32, f: u32| FileRef {
        generation: Generation(g),
        file: FileNumber(f),
    };
    let entries: Vec<Entry> = (0..objects)
        .map(|i| {
            let own_link = link(generation, i as u32);
            let backlinks = if generation > 1 && i % 2 == 1 {
                Backlinks::prepend(own_link, &Backlinks::one(link(1, i as u32)))
            } else {
                Backlinks::one(own_link)
            };
            Entry {
                id: ObjectId(i * 1000 + u64::from(i == objects - 1) * (u64::MAX - 5000)),
                size: i as u32 * 17,
                digest: Digest([i as u8; 16]),
                backlinks,
            }
        })
        .collect();
    Archive::encode(
        Generation(generation),
        own.as_str(),
        t,
        4,
        objects as u32,
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
