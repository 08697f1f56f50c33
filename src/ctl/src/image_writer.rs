//! Writing into an ext4 image, for purge and gc: e2fsprogs' `debugfs -w`,
//! which runs on libext2fs (the library e2fsck uses), so no ext4 writer of
//! our own and no FFI. purge and purge_zombies only ever remove files and
//! empty directories, so the writer supports exactly that.
//!
//! The engine works on an overlay. Reads go to the image through ext4-view,
//! minus what has been removed. Removals are queued and applied at each
//! `sync` in one debugfs run, and then checked by reading the image again.
//! The engine's order is kept: a purge removes the archive and syncs, which
//! applies that removal, before any pack is deleted.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use snapper_core::{DirEntry, Storage, StorageError};

use crate::e2fs::{check_quiescent, find_tool, missing};
use crate::image::ImageStorage;

/// The overlay storage over an image that purge and gc write through.
pub struct ImageWriter {
    image: PathBuf,
    dir: String,
    debugfs: PathBuf,
    reader: ImageStorage,
    /// Paths (relative to the root) removed so far, applied or not.
    removed: BTreeSet<String>,
    /// Removals not yet applied, in order: (relative path, is a directory).
    pending: Vec<(String, bool)>,
}

impl ImageWriter {
    /// Opens `image` for removals after checking that nothing else uses it.
    pub fn open(image: &Path, dir: &str) -> Result<Self, String> {
        let debugfs = find_tool("debugfs").ok_or_else(|| missing("debugfs"))?;
        check_quiescent(image)?;
        Ok(ImageWriter {
            image: image.into(),
            dir: dir.into(),
            debugfs,
            reader: ImageStorage::open(image, dir)?,
            removed: BTreeSet::new(),
            pending: Vec::new(),
        })
    }

    /// Whether `path` or a directory above it was removed.
    fn is_removed(&self, path: &str) -> bool {
        self.removed.contains(path)
            || path
                .match_indices('/')
                .any(|(at, _)| self.removed.contains(&path[..at]))
    }

    /// Runs debugfs with the pending removals, then reads the image again
    /// and checks that each one happened (debugfs answers 0 even when a
    /// command fails, so its exit status proves nothing).
    fn apply(&mut self) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut script = String::new();
        for (path, is_dir) in &self.pending {
            let full = self.reader.full(path)?;
            script.push_str(if *is_dir { "rmdir \"" } else { "rm \"" });
            script.push_str(&full);
            script.push_str("\"\n");
        }
        let mut child = Command::new(&self.debugfs)
            .arg("-w")
            .args(["-f", "-"])
            .arg(&self.image)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|_| StorageError::Io)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .map_err(|_| StorageError::Io)?;
        }
        let out = child.wait_with_output().map_err(|_| StorageError::Io)?;
        // ext4-view caches blocks: read the changed image afresh.
        self.reader = ImageStorage::open(&self.image, &self.dir).map_err(|_| StorageError::Io)?;
        let pending = std::mem::take(&mut self.pending);
        let mut failed = Vec::new();
        for (path, is_dir) in &pending {
            let still_there = if *is_dir {
                self.reader.list_dir(path).is_ok()
            } else {
                self.reader.file_size(path).is_ok()
            };
            if still_there {
                failed.push(path.clone());
            }
        }
        if !out.status.success() || !failed.is_empty() {
            eprintln!(
                "snapperctl: debugfs did not remove {} of {} paths in {} (first: {}): {}",
                failed.len(),
                pending.len(),
                self.image.display(),
                failed.first().map_or("-", String::as_str),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            for path in failed {
                self.removed.remove(&path);
            }
            return Err(StorageError::Io);
        }
        Ok(())
    }
}

impl Storage for ImageWriter {
    fn create_dir(&mut self, _path: &str) -> Result<(), StorageError> {
        Err(StorageError::Io)
    }

    fn write_new_file(&mut self, _path: &str, _parts: &[&[u8]]) -> Result<(), StorageError> {
        Err(StorageError::Io)
    }

    fn write_at(
        &mut self,
        _path: &str,
        _offset: u64,
        _parts: &[&[u8]],
    ) -> Result<(), StorageError> {
        Err(StorageError::Io)
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        if self.is_removed(path) {
            return Err(StorageError::NotFound);
        }
        self.reader.read_at(path, offset, buf)
    }

    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        if self.is_removed(path) {
            return Err(StorageError::NotFound);
        }
        self.reader.file_size(path)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        if !path.is_empty() && self.is_removed(path) {
            return Err(StorageError::NotFound);
        }
        let mut entries = self.reader.list_dir(path)?;
        entries.retain(|e| {
            let child = if path.is_empty() {
                e.name.clone()
            } else {
                format!("{path}/{}", e.name)
            };
            !self.removed.contains(&child)
        });
        Ok(entries)
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        if path.is_empty() || self.is_removed(path) {
            return Err(StorageError::NotFound);
        }
        // debugfs reads its commands word by word; a name it cannot take
        // whole is left alone rather than misread.
        if path.contains(['"', '\n', '\\']) {
            return Err(StorageError::Io);
        }
        let is_dir = match self.reader.file_size(path) {
            Ok(_) => false,
            Err(StorageError::WrongKind) => true,
            Err(e) => return Err(e),
        };
        if is_dir && !self.list_dir(path)?.is_empty() {
            return Err(StorageError::NotEmpty);
        }
        self.removed.insert(path.into());
        self.pending.push((path.into(), is_dir));
        Ok(())
    }

    fn rename(&mut self, _from: &str, _to: &str) -> Result<(), StorageError> {
        Err(StorageError::Io)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.apply()
    }
}
