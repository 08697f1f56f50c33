//! Whole-disk views used by the checks: every file and directory of a
//! storage, and which files the valid archives reference, decoded here
//! independently of the manager so that a bug in its bookkeeping cannot
//! hide itself.

use std::collections::{BTreeMap, BTreeSet};

use snapper_core::format::Archive;
use snapper_core::layout::{self, GenerationName};
use snapper_core::storage::MemNode;
use snapper_core::{EntryKind, MemStorage, Storage, StorageError};

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

/// The archives that decode and sit in the directory they name.
pub fn valid_archives(storage: &MemStorage) -> BTreeMap<String, Archive> {
    let mut out = BTreeMap::new();
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

/// The valid archives and every file they reference.
pub fn referenced_files(storage: &MemStorage) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, archive) in valid_archives(storage) {
        out.insert(path);
        for entry in &archive.entries {
            for link in entry.backlinks.iter() {
                if let Some(source) = archive.source(link.generation) {
                    out.insert(layout::file_path(&source.name, source.fanout, link.file));
                }
            }
        }
    }
    out
}

/// Files no valid archive references (what purge_zombies must leave none of).
pub fn unreferenced_files(storage: &MemStorage) -> BTreeSet<String> {
    let referenced = referenced_files(storage);
    files(storage)
        .into_iter()
        .filter(|f| !referenced.contains(f))
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
