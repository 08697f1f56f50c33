//! Shared by the integration tests: a controllable platform, a storage that
//! counts its calls, temporary directories, and the TESTS knob.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use snapper_core::{DirEntry, MemStorage, Storage, StorageError};

/// Objects in the seed's test sequence: `TESTS` from the environment, as
/// the seed's snappertests, default 1000.
pub fn tests_count() -> u32 {
    std::env::var("TESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// A clock the test sets, and a log the test reads.
#[allow(unused_imports)]
pub use snapper_testkit::SimPlatform as TestPlatform;

/// Counts every storage call by kind.
#[derive(Default)]
pub struct Counting<S> {
    pub inner: S,
    pub calls: BTreeMap<&'static str, u64>,
    pub bytes_written: u64,
}

impl<S: Storage> Counting<S> {
    pub fn new(inner: S) -> Self {
        Counting {
            inner,
            calls: BTreeMap::new(),
            bytes_written: 0,
        }
    }

    pub fn count(&self, kind: &str) -> u64 {
        self.calls.get(kind).copied().unwrap_or(0)
    }

    pub fn reset(&mut self) {
        self.calls.clear();
        self.bytes_written = 0;
    }

    fn note(&mut self, kind: &'static str) {
        *self.calls.entry(kind).or_default() += 1;
    }
}

impl<S: Storage> Storage for Counting<S> {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        self.note("create_dir");
        self.inner.create_dir(path)
    }
    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.note("write_new_file");
        self.bytes_written += parts.iter().map(|p| p.len() as u64).sum::<u64>();
        self.inner.write_new_file(path, parts)
    }
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.note("write_at");
        self.bytes_written += parts.iter().map(|p| p.len() as u64).sum::<u64>();
        self.inner.write_at(path, offset, parts)
    }
    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        self.note("read_at");
        self.inner.read_at(path, offset, buf)
    }
    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        self.note("file_size");
        self.inner.file_size(path)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        self.note("list_dir");
        self.inner.list_dir(path)
    }
    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        self.note("remove");
        self.inner.remove(path)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        self.note("rename");
        self.inner.rename(from, to)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        self.note("sync");
        self.inner.sync()
    }
}

/// A directory under the system's temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "snapper-test-{}-{tag}-{unique}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file path in a memory storage.
pub fn files(storage: &MemStorage) -> Vec<String> {
    storage
        .nodes()
        .iter()
        .filter(|(_, node)| matches!(node, snapper_core::storage::MemNode::File(_)))
        .map(|(path, _)| path.clone())
        .collect()
}

/// Directories of a memory storage that have no entries.
pub fn empty_dirs(storage: &MemStorage) -> Vec<String> {
    let nodes = storage.nodes();
    nodes
        .iter()
        .filter(|(_, node)| matches!(node, snapper_core::storage::MemNode::Dir))
        .filter(|(path, _)| {
            !nodes
                .keys()
                .any(|other| other.starts_with(&format!("{path}/")))
        })
        .map(|(path, _)| path.clone())
        .collect()
}

/// Payload of object `id` at `version`, of `len` bytes.
#[allow(unused_imports)]
pub use snapper_testkit::payload::payload;
