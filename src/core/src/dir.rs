//! [`Storage`] over a host directory (std::fs): the one std backend of the
//! tree, behind the `std` feature. snapper-host stores through it, and so
//! does the host implementation of the Genode C ABI (crate `genode-host`),
//! so that the host rules for rename and sync exist once.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::vec::Vec;

use crate::storage::{DirEntry, EntryKind, Storage, StorageError};

/// A snapper root in a host directory.
#[derive(Debug)]
pub struct DirStorage {
    root: PathBuf,
}

impl DirStorage {
    /// Uses `root` (created with its parents if missing) as the snapper root.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(DirStorage { root })
    }

    /// The directory this storage works in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, relative: &str) -> Result<PathBuf, StorageError> {
        if relative.is_empty() {
            return Ok(self.root.clone());
        }
        // Paths come from Snapper, but a name that could leave the root is
        // refused all the same.
        if relative
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(StorageError::NotFound);
        }
        Ok(self.root.join(relative))
    }
}

fn storage_error(error: io::Error) -> StorageError {
    match error.kind() {
        io::ErrorKind::NotFound => StorageError::NotFound,
        io::ErrorKind::AlreadyExists => StorageError::AlreadyExists,
        io::ErrorKind::DirectoryNotEmpty => StorageError::NotEmpty,
        io::ErrorKind::StorageFull => StorageError::NoSpace,
        io::ErrorKind::IsADirectory | io::ErrorKind::NotADirectory => StorageError::WrongKind,
        _ => match error.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => StorageError::NoSpace,
            Some(libc::ENOTEMPTY) => StorageError::NotEmpty,
            _ => StorageError::Io,
        },
    }
}

impl Storage for DirStorage {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        fs::create_dir(self.path(path)?).map_err(storage_error)
    }

    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.path(path)?)
            .map_err(storage_error)?;
        for part in parts {
            file.write_all(part).map_err(storage_error)?;
        }
        Ok(())
    }

    /// No fsync: like every other write it waits for `sync`, one syncfs.
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        let full = self.path(path)?;
        // open(2) of a directory for writing fails with EISDIR, which maps
        // to WrongKind; no create: the file must exist.
        let mut file = OpenOptions::new()
            .write(true)
            .open(full)
            .map_err(storage_error)?;
        // A seek past the end leaves a hole, which reads as zeros.
        file.seek(SeekFrom::Start(offset)).map_err(storage_error)?;
        for part in parts {
            file.write_all(part).map_err(storage_error)?;
        }
        Ok(())
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        let file = File::open(self.path(path)?).map_err(storage_error)?;
        let mut done = 0;
        while done < buf.len() {
            match file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(count) => done += count,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(storage_error(e)),
            }
        }
        Ok(done)
    }

    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        let metadata = fs::metadata(self.path(path)?).map_err(storage_error)?;
        if metadata.is_dir() {
            return Err(StorageError::WrongKind);
        }
        Ok(metadata.len())
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.path(path)?).map_err(storage_error)? {
            let entry = entry.map_err(storage_error)?;
            let kind = if entry.file_type().map_err(storage_error)?.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            // A name that is not UTF-8 cannot be Snapper's; it is skipped.
            if let Ok(name) = entry.file_name().into_string() {
                out.push(DirEntry { name, kind });
            }
        }
        Ok(out)
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        let full = self.path(path)?;
        let metadata = fs::symlink_metadata(&full).map_err(storage_error)?;
        if metadata.is_dir() {
            fs::remove_dir(&full).map_err(storage_error)
        } else {
            fs::remove_file(&full).map_err(storage_error)
        }
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        // link(2) refuses an existing target atomically; rename(2) would
        // replace it. A crash between link and unlink leaves both names,
        // and the leftover temporary name is swept as garbage.
        let (from, to) = (self.path(from)?, self.path(to)?);
        if fs::symlink_metadata(&from).map_err(storage_error)?.is_dir() {
            return Err(StorageError::WrongKind);
        }
        fs::hard_link(&from, &to).map_err(storage_error)?;
        fs::remove_file(&from).map_err(storage_error)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let root = File::open(&self.root).map_err(storage_error)?;
        sync_file_system(&root).map_err(storage_error)
    }
}

/// syncfs(2) on the file system holding `file`.
#[allow(unsafe_code)]
fn sync_file_system(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs only reads the descriptor, which `file` keeps open.
    let result = unsafe { libc::syncfs(file.as_raw_fd()) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
