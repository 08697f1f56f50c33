//! What Snapper needs from a file system, and an in-memory file system.
//!
//! The trait is deliberately small so that it maps onto Genode's VFS and
//! lwext4 one call to one call. There is no rename over an existing file:
//! the lwext4 plugin implements that as unlink plus rename, which a crash can
//! tear apart.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why a storage operation failed. Kept apart from "the data is corrupt",
/// which Snapper decides after reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// The path, or its parent directory, does not exist.
    NotFound,
    /// Something already exists under the name.
    AlreadyExists,
    /// A directory that still has entries.
    NotEmpty,
    /// The path names a directory where a file is needed, or the reverse.
    WrongKind,
    /// The file system is full.
    NoSpace,
    /// Any other failure of the underlying I/O.
    Io,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageError::NotFound => "not found",
            StorageError::AlreadyExists => "already exists",
            StorageError::NotEmpty => "directory not empty",
            StorageError::WrongKind => "file where a directory is needed or the reverse",
            StorageError::NoSpace => "no space left",
            StorageError::Io => "I/O error",
        })
    }
}

/// Whether a directory entry is a file or a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirEntry {
    /// The entry's name (no slashes).
    pub name: String,
    /// File or directory.
    pub kind: EntryKind,
}

/// A file system rooted at the snapper root. Paths are relative to that
/// root, `/`-separated, never empty components; `""` is the root itself.
///
/// Durability: whatever an operation changes may be lost at a crash until
/// `sync` returns; what `sync` has made durable stays. A crash never turns an
/// operation into a different one (a rename is either done or not).
pub trait Storage {
    /// Creates directory `path`; its parent must exist.
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError>;
    /// Creates file `path`, which must not exist yet, with the concatenation
    /// of `parts` as content.
    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError>;
    /// Writes the concatenation of `parts` into the existing file `path` at
    /// `offset`, replacing the bytes there; a write that goes past the end
    /// grows the file, and a gap between the old end and `offset` reads as
    /// zeros; a write of no bytes changes nothing. `NotFound` if the file
    /// does not exist, `WrongKind` for a directory. Not durable before
    /// `sync`: a crash may leave anything within the range written (the old
    /// bytes, the new ones, a mix, or a torn block's zeros or garbage) and a
    /// length from the file's old one to its new one, but never changes a
    /// byte outside the range.
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError>;
    /// Reads from `offset` into `buf`; returns how many bytes were read,
    /// fewer than `buf.len()` only at the end of the file.
    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError>;
    /// Size of file `path` in bytes.
    fn file_size(&mut self, path: &str) -> Result<u64, StorageError>;
    /// The entries of directory `path`, in no particular order.
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError>;
    /// Removes file `path` or empty directory `path`.
    fn remove(&mut self, path: &str) -> Result<(), StorageError>;
    /// Renames `from` to `to`; `to` must not exist.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError>;
    /// Makes everything done so far durable.
    fn sync(&mut self) -> Result<(), StorageError>;

    /// Reads a whole file into `out` (cleared first), at most `limit` bytes;
    /// a larger file is an error, so a damaged size cannot exhaust memory.
    fn read_file(&mut self, path: &str, limit: u64, out: &mut Vec<u8>) -> Result<(), StorageError> {
        let size = self.file_size(path)?;
        if size > limit {
            return Err(StorageError::Io);
        }
        out.clear();
        out.resize(size as usize, 0);
        let read = self.read_at(path, 0, out)?;
        out.truncate(read);
        Ok(())
    }
}

impl<S: Storage + ?Sized> Storage for &mut S {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        (**self).create_dir(path)
    }
    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        (**self).write_new_file(path, parts)
    }
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        (**self).write_at(path, offset, parts)
    }
    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        (**self).read_at(path, offset, buf)
    }
    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        (**self).file_size(path)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        (**self).list_dir(path)
    }
    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        (**self).remove(path)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        (**self).rename(from, to)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        (**self).sync()
    }
}

/// A node of [`MemStorage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemNode {
    /// A file and its bytes.
    File(Vec<u8>),
    /// A directory (its entries are the paths below it).
    Dir,
}

/// An in-memory file system: a map from full path to node. No_std, fast,
/// and the reference the other backends are tested against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemStorage {
    nodes: BTreeMap<String, MemNode>,
}

impl MemStorage {
    /// An empty file system (the root directory exists).
    pub fn new() -> Self {
        Self::default()
    }

    /// Every node, by path, for tests and inspection.
    pub fn nodes(&self) -> &BTreeMap<String, MemNode> {
        &self.nodes
    }

    /// Mutable access to the nodes, for tests that damage files.
    pub fn nodes_mut(&mut self) -> &mut BTreeMap<String, MemNode> {
        &mut self.nodes
    }

    fn parent_exists(&self, path: &str) -> bool {
        match path.rfind('/') {
            None => true,
            Some(at) => matches!(self.nodes.get(&path[..at]), Some(MemNode::Dir)),
        }
    }

    fn check_new(&self, path: &str) -> Result<(), StorageError> {
        if path.is_empty() || path.split('/').any(str::is_empty) {
            return Err(StorageError::NotFound);
        }
        if self.nodes.contains_key(path) {
            return Err(StorageError::AlreadyExists);
        }
        if !self.parent_exists(path) {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    fn file(&self, path: &str) -> Result<&Vec<u8>, StorageError> {
        match self.nodes.get(path) {
            Some(MemNode::File(bytes)) => Ok(bytes),
            Some(MemNode::Dir) => Err(StorageError::WrongKind),
            None => Err(StorageError::NotFound),
        }
    }

    /// The direct children of `path`, with the length of the prefix to strip.
    fn children(&self, path: &str) -> (Vec<(&String, &MemNode)>, usize) {
        let mut prefix = String::from(path);
        if !path.is_empty() {
            prefix.push('/');
        }
        let found = self
            .nodes
            .range::<str, _>((
                core::ops::Bound::Included(prefix.as_str()),
                core::ops::Bound::Unbounded,
            ))
            .take_while(|(name, _)| name.starts_with(prefix.as_str()))
            .filter(|(name, _)| !name[prefix.len()..].contains('/'))
            .collect();
        (found, prefix.len())
    }
}

impl Storage for MemStorage {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        self.check_new(path)?;
        self.nodes.insert(path.into(), MemNode::Dir);
        Ok(())
    }

    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.check_new(path)?;
        self.nodes
            .insert(path.into(), MemNode::File(parts.concat()));
        Ok(())
    }

    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        let bytes = match self.nodes.get_mut(path) {
            Some(MemNode::File(bytes)) => bytes,
            Some(MemNode::Dir) => return Err(StorageError::WrongKind),
            None => return Err(StorageError::NotFound),
        };
        let len: usize = parts.iter().map(|part| part.len()).sum();
        if len == 0 {
            return Ok(());
        }
        // An offset or end beyond memory is a request no host could serve.
        let start = usize::try_from(offset).map_err(|_| StorageError::NoSpace)?;
        let end = start.checked_add(len).ok_or(StorageError::NoSpace)?;
        if bytes.len() < end {
            // a try: an absurd offset is a full disk, not an aborted process
            bytes
                .try_reserve(end - bytes.len())
                .map_err(|_| StorageError::NoSpace)?;
            bytes.resize(end, 0);
        }
        let mut at = start;
        for part in parts {
            bytes[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        Ok(())
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        let bytes = self.file(path)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let available = &bytes[start..];
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        Ok(count)
    }

    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        Ok(self.file(path)?.len() as u64)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        if !path.is_empty() {
            match self.nodes.get(path) {
                Some(MemNode::Dir) => {}
                Some(MemNode::File(_)) => return Err(StorageError::WrongKind),
                None => return Err(StorageError::NotFound),
            }
        }
        let (children, prefix_len) = self.children(path);
        Ok(children
            .into_iter()
            .map(|(name, node)| DirEntry {
                name: name[prefix_len..].into(),
                kind: match node {
                    MemNode::File(_) => EntryKind::File,
                    MemNode::Dir => EntryKind::Dir,
                },
            })
            .collect())
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        match self.nodes.get(path) {
            None => Err(StorageError::NotFound),
            Some(MemNode::Dir) if !self.children(path).0.is_empty() => Err(StorageError::NotEmpty),
            Some(_) => {
                self.nodes.remove(path);
                Ok(())
            }
        }
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        match self.nodes.get(from) {
            Some(MemNode::File(_)) => {}
            Some(MemNode::Dir) => return Err(StorageError::WrongKind),
            None => return Err(StorageError::NotFound),
        }
        self.check_new(to)?;
        if let Some(node) = self.nodes.remove(from) {
            self.nodes.insert(to.into(), node);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_storage_behaves_like_a_file_system() {
        let mut fs = MemStorage::new();
        fs.create_dir("a").unwrap();
        assert_eq!(fs.create_dir("a"), Err(StorageError::AlreadyExists));
        assert_eq!(fs.create_dir("x/y"), Err(StorageError::NotFound));
        fs.create_dir("a/b").unwrap();
        fs.write_new_file("a/f", &[b"he", b"llo"]).unwrap();
        fs.write_new_file("ab", &[b"other"]).unwrap();
        fs.write_new_file("a-z", &[b"sorts between a and a/"])
            .unwrap();
        assert_eq!(
            fs.write_new_file("a/f", &[b"x"]),
            Err(StorageError::AlreadyExists)
        );
        let mut buf = [0u8; 8];
        assert_eq!(fs.read_at("a/f", 1, &mut buf), Ok(4));
        assert_eq!(&buf[..4], b"ello");
        assert_eq!(fs.read_at("a/f", 99, &mut buf), Ok(0));
        let mut names: Vec<_> = fs
            .list_dir("a")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [("b".into(), EntryKind::Dir), ("f".into(), EntryKind::File)]
        );
        assert_eq!(fs.list_dir("").unwrap().len(), 3);
        assert_eq!(fs.remove("a"), Err(StorageError::NotEmpty));
        fs.write_new_file("a/g", &[]).unwrap();
        assert_eq!(fs.rename("a/f", "a/g"), Err(StorageError::AlreadyExists));
        fs.rename("a/f", "a/b/f").unwrap();
        assert_eq!(fs.file_size("a/b/f"), Ok(5));
        assert_eq!(fs.file_size("a/f"), Err(StorageError::NotFound));
        let mut whole = Vec::new();
        assert_eq!(fs.read_file("a/b/f", 4, &mut whole), Err(StorageError::Io));
        fs.read_file("a/b/f", 5, &mut whole).unwrap();
        assert_eq!(whole, b"hello");
    }
}
