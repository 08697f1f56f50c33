//! The snapper roots the tool opens (`RootSpec`), all behind the core's
//! `Storage` trait so that every command runs the same code on each: a
//! host directory (`snapper_host::DirStorage`), an ext4 image read in
//! place (`crate::image`) or, for purge and gc, written through debugfs
//! (`crate::image_writer`); and the wrappers the commands put around
//! them: `ReadOnly`, and `Removals`, which records what the engine's
//! purge and sweep delete (or, in a dry run, would delete).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use snapper_core::{DirEntry, Storage, StorageError};
use snapper_host::DirStorage;

use crate::image::ImageStorage;
use crate::image_writer::ImageWriter;

/// Lets reads through and refuses every write: read-only commands on a
/// directory cannot change it even if a core call unexpectedly writes.
#[derive(Debug)]
pub struct ReadOnly<S>(pub S);

impl<S: Storage> Storage for ReadOnly<S> {
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
        self.0.read_at(path, offset, buf)
    }
    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        self.0.file_size(path)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        self.0.list_dir(path)
    }
    fn remove(&mut self, _path: &str) -> Result<(), StorageError> {
        Err(StorageError::Io)
    }
    fn rename(&mut self, _from: &str, _to: &str) -> Result<(), StorageError> {
        Err(StorageError::Io)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// What one removal took away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    /// The path, relative to the root.
    pub path: String,
    /// Its length, for a file; `None` for a directory.
    pub size: Option<u64>,
}

/// One write in place (a record of the archive log retired), as
/// [`Removals`] saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    /// The path, relative to the root.
    pub path: String,
    pub offset: u64,
    pub len: u64,
}

/// Watches the engine's removals (purge and gc only ever remove, the
/// archive's retirement included, see `rename`, and zero records of the
/// archive log in place): with `apply`, each goes through to the storage
/// below and is recorded; without (a dry run), none does, but the removed
/// paths disappear from what the engine reads next and the zeros written
/// in place are read back from memory, so that the engine's own purge or
/// sweep runs to its end on an unchanged root and the record says what it
/// would do. Other writes are refused in a dry run.
#[derive(Debug)]
pub struct Removals<S> {
    inner: S,
    apply: bool,
    hidden: BTreeSet<String>,
    removed: Vec<Removed>,
    rewritten: Vec<Rewritten>,
    /// A dry run's writes in place, in order: (path, offset, bytes).
    overlay: Vec<(String, u64, Vec<u8>)>,
}

impl<S: Storage> Removals<S> {
    /// Wraps `inner`; `apply` false for a dry run.
    pub fn new(inner: S, apply: bool) -> Self {
        Removals {
            inner,
            apply,
            hidden: BTreeSet::new(),
            removed: Vec::new(),
            rewritten: Vec::new(),
            overlay: Vec::new(),
        }
    }

    /// Every removal so far, in order.
    pub fn removed(&self) -> &[Removed] {
        &self.removed
    }

    /// Every write in place so far, in order (in a dry run: those the
    /// engine would have made).
    pub fn rewritten(&self) -> &[Rewritten] {
        &self.rewritten
    }

    /// The storage below.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn is_hidden(&self, path: &str) -> bool {
        !self.apply
            && (self.hidden.contains(path)
                || path
                    .match_indices('/')
                    .any(|(at, _)| self.hidden.contains(&path[..at])))
    }

    fn refuse_in_dry_run(&self) -> Result<(), StorageError> {
        if self.apply {
            Ok(())
        } else {
            Err(StorageError::Io)
        }
    }
}

impl<S: Storage> Storage for Removals<S> {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        self.refuse_in_dry_run()?;
        self.inner.create_dir(path)
    }

    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.refuse_in_dry_run()?;
        self.inner.write_new_file(path, parts)
    }

    /// A purge overwrites part of a file (it retires a record of the
    /// archive log). A dry run leaves every byte on disk as it is and keeps
    /// the write in memory for what the engine reads next; a write that
    /// would grow the file is refused there (purge and gc never grow one).
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        if self.is_hidden(path) {
            return Err(StorageError::NotFound);
        }
        let bytes: Vec<u8> = parts.concat();
        let len = bytes.len() as u64;
        if self.apply {
            self.inner.write_at(path, offset, parts)?;
        } else {
            let end = offset.checked_add(len).ok_or(StorageError::Io)?;
            if end > self.inner.file_size(path)? {
                return Err(StorageError::Io);
            }
            self.overlay.push((path.into(), offset, bytes));
        }
        self.rewritten.push(Rewritten {
            path: path.into(),
            offset,
            len,
        });
        Ok(())
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        if self.is_hidden(path) {
            return Err(StorageError::NotFound);
        }
        let read = self.inner.read_at(path, offset, buf)?;
        for (at, bytes) in self
            .overlay
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, at, bytes)| (*at, bytes))
        {
            // The part of this write inside [offset, offset + read).
            let start = at.max(offset);
            let end = (at + bytes.len() as u64).min(offset + read as u64);
            if start >= end {
                continue;
            }
            let (from, to) = ((start - at) as usize, (end - at) as usize);
            let into = (start - offset) as usize;
            if let (Some(dst), Some(src)) =
                (buf.get_mut(into..into + (to - from)), bytes.get(from..to))
            {
                dst.copy_from_slice(src);
            }
        }
        Ok(read)
    }

    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        if self.is_hidden(path) {
            return Err(StorageError::NotFound);
        }
        self.inner.file_size(path)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        if !path.is_empty() && self.is_hidden(path) {
            return Err(StorageError::NotFound);
        }
        let mut entries = self.inner.list_dir(path)?;
        if !self.apply {
            entries.retain(|e| {
                let child = if path.is_empty() {
                    e.name.clone()
                } else {
                    format!("{path}/{}", e.name)
                };
                !self.hidden.contains(&child)
            });
        }
        Ok(entries)
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        if path.is_empty() || self.is_hidden(path) {
            return Err(StorageError::NotFound);
        }
        let size = match self.inner.file_size(path) {
            Ok(size) => Some(size),
            Err(StorageError::WrongKind) => None,
            Err(e) => return Err(e),
        };
        if self.apply {
            self.inner.remove(path)?;
        } else {
            if size.is_none() && !self.list_dir(path)?.is_empty() {
                return Err(StorageError::NotEmpty);
            }
            self.hidden.insert(path.into());
        }
        self.removed.push(Removed {
            path: path.into(),
            size,
        });
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        // A purge retires the archive by a rename before removing it, for
        // file systems that remove a file in several steps (lwext4; see
        // `layout::ARCHIVE_PURGED`). Here, on a host directory or through
        // debugfs, the removal is as good as the rename, and recording it as
        // a removal of the archive keeps the report about the files the
        // user knows; the engine's removal of the retired name then finds
        // nothing, which it takes as done.
        if to.rsplit('/').next() == Some(snapper_core::layout::ARCHIVE_PURGED) {
            return self.remove(from);
        }
        self.refuse_in_dry_run()?;
        self.inner.rename(from, to)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        if self.apply {
            self.inner.sync()
        } else {
            Ok(())
        }
    }
}

/// Where the snapper root lives.
#[derive(Clone, Debug)]
pub enum RootSpec {
    /// A host directory.
    Dir(PathBuf),
    /// An ext4 image (a file or a block device) and a directory inside it.
    Image(PathBuf, String),
}

impl RootSpec {
    /// A directory is a directory root; anything else that exists is taken
    /// for an image. Nothing is created: a mistyped path must not leave an
    /// empty snapper root behind (DirStorage::open would create it).
    pub fn detect(path: &Path, in_image: &str) -> Result<Self, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            Ok(RootSpec::Dir(path.into()))
        } else {
            Ok(RootSpec::Image(path.into(), in_image.into()))
        }
    }

    /// Opens the root for reading only.
    pub fn open_read_only(&self) -> Result<Box<dyn Storage>, String> {
        match self {
            RootSpec::Dir(path) => Ok(Box::new(ReadOnly(self.open_dir(path)?))),
            RootSpec::Image(image, dir) => Ok(Box::new(ImageStorage::open(image, dir)?)),
        }
    }

    /// Opens the root for purge and gc. An image only with `image_write`:
    /// the caller promises that no Genode scenario or mount uses it.
    pub fn open_writable(&self, image_write: bool) -> Result<Box<dyn Storage>, String> {
        match self {
            RootSpec::Dir(path) => Ok(Box::new(self.open_dir(path)?)),
            RootSpec::Image(image, dir) if image_write => {
                Ok(Box::new(ImageWriter::open(image, dir)?))
            }
            RootSpec::Image(image, _) => Err(format!(
                "{}: images are opened read-only; give --write-image to purge or gc \
                 in the image (through e2fsprogs' debugfs; nothing else may use the \
                 image meanwhile)",
                image.display()
            )),
        }
    }

    fn open_dir(&self, path: &Path) -> Result<DirStorage, String> {
        DirStorage::open(path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl fmt::Display for RootSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootSpec::Dir(path) => write!(f, "{}", path.display()),
            RootSpec::Image(image, dir) if dir.is_empty() || dir == "/" => {
                write!(f, "{} (ext4 image)", image.display())
            }
            RootSpec::Image(image, dir) => write!(f, "{}:{dir} (ext4 image)", image.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapper_core::MemStorage;

    fn sample() -> MemStorage {
        let mut fs = MemStorage::new();
        fs.create_dir("g").unwrap();
        fs.create_dir("g/pack").unwrap();
        fs.write_new_file("g/archive", &[b"abc"]).unwrap();
        fs.write_new_file("g/pack/0", &[b"12345"]).unwrap();
        fs
    }

    #[test]
    fn a_dry_run_hides_what_it_removes_and_changes_nothing() {
        let original = sample();
        let mut dry = Removals::new(original.clone(), false);
        assert_eq!(dry.remove("g/pack"), Err(StorageError::NotEmpty));
        dry.remove("g/pack/0").unwrap();
        assert_eq!(dry.file_size("g/pack/0"), Err(StorageError::NotFound));
        assert_eq!(
            dry.read_at("g/pack/0", 0, &mut [0u8; 4]),
            Err(StorageError::NotFound)
        );
        assert_eq!(dry.remove("g/pack/0"), Err(StorageError::NotFound));
        assert!(dry.list_dir("g/pack").unwrap().is_empty());
        dry.remove("g/pack").unwrap();
        assert_eq!(dry.list_dir("g/pack"), Err(StorageError::NotFound));
        let names: Vec<String> = dry
            .list_dir("g")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["archive"]);
        assert_eq!(dry.write_new_file("g/x", &[b"x"]), Err(StorageError::Io));
        // in place: read back from memory; past the end: refused
        dry.write_at("g/archive", 1, &[b"x"]).unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(dry.read_at("g/archive", 0, &mut buf), Ok(3));
        assert_eq!(&buf, b"axc");
        let mut buf = [0u8; 2];
        assert_eq!(dry.read_at("g/archive", 1, &mut buf), Ok(2));
        assert_eq!(&buf, b"xc");
        assert_eq!(
            dry.write_at("g/archive", 2, &[b"xy"]),
            Err(StorageError::Io)
        );
        dry.sync().unwrap();
        assert_eq!(
            dry.rewritten(),
            [Rewritten {
                path: "g/archive".into(),
                offset: 1,
                len: 1
            }]
        );
        assert_eq!(
            dry.removed(),
            [
                Removed {
                    path: "g/pack/0".into(),
                    size: Some(5)
                },
                Removed {
                    path: "g/pack".into(),
                    size: None
                }
            ]
        );
        assert_eq!(dry.into_inner(), original);
    }

    #[test]
    fn applied_removals_go_through_and_are_recorded() {
        let mut applied = Removals::new(sample(), true);
        applied.remove("g/archive").unwrap();
        applied.write_at("g/pack/0", 1, &[b"x"]).unwrap();
        assert_eq!(applied.remove("g/pack"), Err(StorageError::NotEmpty));
        assert_eq!(
            applied.removed(),
            [Removed {
                path: "g/archive".into(),
                size: Some(3)
            }]
        );
        assert_eq!(
            applied.rewritten(),
            [Rewritten {
                path: "g/pack/0".into(),
                offset: 1,
                len: 1
            }]
        );
        let fs = applied.into_inner();
        assert!(!fs.nodes().contains_key("g/archive"));
        assert_eq!(
            fs.nodes().get("g/pack/0"),
            Some(&snapper_core::storage::MemNode::File(b"1x345".to_vec()))
        );
    }
}
