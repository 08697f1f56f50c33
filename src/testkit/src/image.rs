//! Whole-disk views used by the checks: every file and directory of a
//! storage, the valid archives, the packs they use and the payloads in
//! them, decoded here independently of the manager so that a bug in its
//! bookkeeping cannot hide itself.

use std::collections::{BTreeMap, BTreeSet};

use snapper_core::archive::Archive;
use snapper_core::archive_log;
use snapper_core::layout::{self, GenerationName};
use snapper_core::pack;
use snapper_core::storage::MemNode;
use snapper_core::{EntryKind, Location, MemStorage, PackRef, Storage, StorageError};

/// Largest file copied by [`read_image`]; the tests never write more.
const MAX_FILE: u64 = 1 << 26;

/// Copies every directory and file of `storage` into a memory storage.
pub fn read_image<S: Storage>(storage: &mut S) -> Result<MemStorage, StorageError> {
    let mut out = MemStorage::new();
    let mut todo = vec![String::new()];
    while let Some(dir) = todo.pop() {
        for entry in storage.list_dir(&dir)? {
            let path = if dir.is_empty() {
                entry.name.clone()
            } else {
                format!("{dir}/{}", entry.name)
            };
            match entry.kind {
                EntryKind::Dir => {
                    out.nodes_mut().insert(path.clone(), MemNode::Dir);
                    todo.push(path);
                }
                EntryKind::File => {
                    let mut bytes = Vec::new();
                    storage.read_file(&path, MAX_FILE, &mut bytes)?;
                    out.nodes_mut().insert(path, MemNode::File(bytes));
                }
            }
        }
    }
    Ok(out)
}

/// Every file path.
pub fn files(storage: &MemStorage) -> BTreeSet<String> {
    storage
        .nodes()
        .iter()
        .filter(|(_, node)| matches!(node, MemNode::File(_)))
        .map(|(path, _)| path.clone())
        .collect()
}

/// The bytes of file `path`, if it is a file.
pub fn file<'a>(storage: &'a MemStorage, path: &str) -> Option<&'a [u8]> {
    match storage.nodes().get(path) {
        Some(MemNode::File(bytes)) => Some(bytes),
        _ => None,
    }
}

/// Directories without entries.
pub fn empty_dirs(storage: &MemStorage) -> Vec<String> {
    let nodes = storage.nodes();
    nodes
        .iter()
        .filter(|(_, node)| matches!(node, MemNode::Dir))
        .filter(|(path, _)| {
            let prefix = format!("{path}/");
            !nodes
                .range(prefix.clone()..)
                .next()
                .is_some_and(|(next, _)| next.starts_with(&prefix))
        })
        .map(|(path, _)| path.clone())
        .collect()
}

/// Where [`valid_archives`] files an archive of the archive log: the log's
/// path, `@`, the record's first block.
pub fn log_record_key(block: u64) -> String {
    format!("{}@{block}", layout::ARCHIVE_LOG)
}

/// The archives that decode and sit in the directory they name, by path,
/// and the committed records of the archive log (see [`log_record_key`]).
pub fn valid_archives(storage: &MemStorage) -> BTreeMap<String, Archive> {
    let mut out = BTreeMap::new();
    if let Some(log) = file(storage, layout::ARCHIVE_LOG) {
        for found in archive_log::classify(log).unwrap_or_default() {
            if let archive_log::Found::Committed {
                extent, archive, ..
            } = found
            {
                out.insert(log_record_key(extent.block), archive);
            }
        }
    }
    for (path, node) in storage.nodes() {
        let MemNode::File(bytes) = node else { continue };
        let Some(dir) = path.strip_suffix("/archive") else {
            continue;
        };
        if dir.contains('/') || GenerationName::parse(dir).is_none() {
            continue;
        }
        if let Ok(archive) = Archive::decode(bytes) {
            if archive.name == dir {
                out.insert(path.clone(), archive);
            }
        }
    }
    out
}

/// A pack an archive uses: its path and the payload bytes the archive
/// records for it (where the pack's index starts).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UsedPack {
    /// The pack.
    pub pack: PackRef,
    /// Its path, derived from the archive's source record.
    pub path: String,
    /// Its payload bytes, as the archive records them.
    pub payload_bytes: u64,
}

/// The packs an archive's entries use (each once).
pub fn packs_of(archive: &Archive) -> BTreeMap<PackRef, UsedPack> {
    let mut out = BTreeMap::new();
    for entry in &archive.entries {
        for copy in entry.copies.iter() {
            let pack = copy.pack_ref();
            if out.contains_key(&pack) {
                continue;
            }
            // Archive::decode checked that every copy has a source and a
            // recorded pack; a copy without is skipped, not trusted.
            let Some(source) = archive.source(copy.generation) else {
                continue;
            };
            let Some(payload_bytes) = source.packs.get(copy.pack.0 as usize) else {
                continue;
            };
            out.insert(
                pack,
                UsedPack {
                    pack,
                    path: layout::pack_path(&source.name, source.fanout, copy.pack),
                    payload_bytes: *payload_bytes,
                },
            );
        }
    }
    out
}

/// Every pack some valid archive uses.
pub fn used_packs(storage: &MemStorage) -> BTreeMap<PackRef, UsedPack> {
    let mut out = BTreeMap::new();
    for archive in valid_archives(storage).values() {
        out.extend(packs_of(archive));
    }
    out
}

/// The distinct payloads an archive uses.
pub fn payloads_of(archive: &Archive) -> BTreeSet<Location> {
    archive
        .entries
        .iter()
        .flat_map(|e| e.copies.iter().map(|c| c.location()))
        .collect()
}

/// How many valid archives use each stored payload (pack, offset,
/// length): what the manager's reference counts must equal (DESIGN.md
/// invariant 4). An archive counts once per payload however many of its
/// objects share it.
pub fn payload_counts(storage: &MemStorage) -> BTreeMap<Location, u32> {
    let mut out: BTreeMap<Location, u32> = BTreeMap::new();
    for archive in valid_archives(storage).values() {
        for location in payloads_of(archive) {
            *out.entry(location).or_default() += 1;
        }
    }
    out
}

/// The valid archives and every pack they use: the files that must exist.
pub fn referenced_files(storage: &MemStorage) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = valid_archives(storage)
        .into_keys()
        .map(|key| match key.split_once('@') {
            Some((log, _)) => log.to_string(),
            None => key,
        })
        .collect();
    out.extend(used_packs(storage).into_values().map(|p| p.path));
    out
}

/// Files that are neither a valid archive nor a pack some valid archive
/// uses (what purge_zombies must leave none of).
pub fn unreferenced_files(storage: &MemStorage) -> BTreeSet<String> {
    let referenced = referenced_files(storage);
    // The archive log is made once and kept, records or not.
    files(storage)
        .into_iter()
        .filter(|f| !referenced.contains(f) && f != layout::ARCHIVE_LOG)
        .collect()
}

/// Referenced files that are missing (what no purge may ever cause).
pub fn missing_files(storage: &MemStorage) -> BTreeSet<String> {
    let present = files(storage);
    referenced_files(storage)
        .into_iter()
        .filter(|f| !present.contains(f))
        .collect()
}

/// What is wrong with each pack a valid archive uses: a trailer or index
/// that does not check out, a trailer naming another pack, payload bytes
/// other than the archive records, or a payload that fails its CRC (as the
/// pack's own index records it, and as the archives record it). Empty on a healthy
/// disk: packs are synced before any archive that uses them is committed
/// and never changed after.
pub fn damaged_packs(storage: &MemStorage) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let archives = valid_archives(storage);
    let mut used: BTreeMap<PackRef, UsedPack> = BTreeMap::new();
    for archive in archives.values() {
        for (pack, usage) in packs_of(archive) {
            if let Some(seen) = used.get(&pack) {
                if seen.payload_bytes != usage.payload_bytes || seen.path != usage.path {
                    out.insert(
                        usage.path.clone(),
                        format!("archives disagree about it: {seen:?} and {usage:?}"),
                    );
                }
                continue;
            }
            used.insert(pack, usage);
        }
    }
    for (pack, usage) in &used {
        let Some(bytes) = file(storage, &usage.path) else {
            out.insert(usage.path.clone(), "missing".into());
            continue;
        };
        match pack::check(bytes) {
            Err(e) => {
                out.insert(usage.path.clone(), format!("does not check: {e}"));
            }
            Ok((trailer, _, damaged)) => {
                if trailer.generation != pack.generation || trailer.pack != pack.pack {
                    out.insert(
                        usage.path.clone(),
                        format!("trailer names {}:{}", trailer.generation, trailer.pack.0),
                    );
                } else if u64::from(trailer.index_offset) != usage.payload_bytes {
                    out.insert(
                        usage.path.clone(),
                        format!(
                            "{} payload bytes, the archive records {}",
                            trailer.index_offset, usage.payload_bytes
                        ),
                    );
                } else if damaged > 0 {
                    out.insert(usage.path.clone(), format!("{damaged} payloads damaged"));
                }
            }
        }
    }
    // Every copy an archive records must be a payload of the pack, with
    // the recorded CRC.
    for archive in archives.values() {
        for entry in &archive.entries {
            for copy in entry.copies.iter() {
                let Some(usage) = used.get(&copy.pack_ref()) else {
                    continue;
                };
                let Some(bytes) = file(storage, &usage.path) else {
                    continue;
                };
                let start = copy.offset as usize;
                let stored = bytes.get(start..start + copy.length as usize);
                if stored.is_none_or(|s| snapper_core::format::crc32(&[s]) != copy.crc) {
                    out.entry(usage.path.clone()).or_insert_with(|| {
                        format!(
                            "{}: object {} at {:#x} fails the archive's CRC",
                            archive.name, entry.id, copy.offset
                        )
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapper_core::{Config, ObjectId, Snapper};

    use crate::platform::SimPlatform;

    /// Two generations in 4 KiB packs, the second sharing the first's
    /// unchanged objects.
    fn disk() -> MemStorage {
        let config = Config {
            pack_size: 4096,
            redundancy: 0,
            threshold: 2,
            ..Config::default()
        };
        let mut snapper =
            Snapper::open(MemStorage::new(), SimPlatform::at(1_795_545_149), config).unwrap();
        for version in 0..2u8 {
            snapper.init_snapshot().unwrap();
            for id in 0..4u8 {
                let content = if id < 2 { version * 16 } else { 0 };
                snapper
                    .take_snapshot(ObjectId(id.into()), &[content ^ id; 1500])
                    .unwrap();
            }
            snapper.commit_snapshot().unwrap();
        }
        snapper.into_storage()
    }

    #[test]
    fn used_packs_and_counts_follow_the_archives() {
        let mut disk = disk();
        let used = used_packs(&disk);
        // Generation 1: packs 0 and 1 (2 + 2 payloads); generation 2: one
        // pack of its 2 changed objects.
        assert_eq!(used.len(), 3, "{used:?}");
        assert!(unreferenced_files(&disk).is_empty());
        assert!(missing_files(&disk).is_empty());
        assert!(damaged_packs(&disk).is_empty());
        let counts = payload_counts(&disk);
        assert_eq!(counts.values().filter(|n| **n == 2).count(), 2);
        assert_eq!(counts.values().filter(|n| **n == 1).count(), 4);

        // A flipped payload byte, a pack cut short, a pack gone.
        let paths: Vec<String> = used.values().map(|p| p.path.clone()).collect();
        if let Some(MemNode::File(bytes)) = disk.nodes_mut().get_mut(&paths[0]) {
            bytes[10] ^= 1;
        }
        if let Some(MemNode::File(bytes)) = disk.nodes_mut().get_mut(&paths[1]) {
            bytes.pop();
        }
        disk.nodes_mut().remove(&paths[2]);
        let damaged = damaged_packs(&disk);
        assert!(damaged[&paths[0]].contains("damaged"), "{damaged:?}");
        assert!(damaged[&paths[1]].contains("does not check"), "{damaged:?}");
        assert_eq!(damaged[&paths[2]], "missing");
        assert_eq!(missing_files(&disk), [paths[2].clone()].into());
    }
}
