//! The image reader: an ext4 image (file or block device) read in place
//! with ext4-view, without mounting and without root, behind the core's
//! `Storage` trait. An image whose journal needs recovery is read through
//! an in-memory replay of the journal (`crate::recovered`).

use std::fmt;
use std::path::Path;

use ext4_view::{Ext4, Ext4Error};
use snapper_core::{DirEntry, EntryKind, Storage, StorageError};

/// An ext4 image opened read-only. Writes answer `StorageError::Io`: the
/// tool refuses purge and gc on images before it gets that far, so the
/// error is only a safety net.
pub struct ImageStorage {
    fs: Ext4,
    /// Absolute directory inside the image that is the snapper root, without
    /// a trailing slash ("" for the image's root directory).
    base: String,
}

impl fmt::Debug for ImageStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageStorage")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ImageStorage {
    /// Opens `image` and checks that `dir` (absolute inside the image) is a
    /// directory.
    pub fn open(image: &Path, dir: &str) -> Result<Self, String> {
        let (fs, replay) = crate::recovered::load(image).map_err(|e| {
            // A mounted file system changes under the reader (and its
            // journal may carry features a clean image does not): say so.
            let hint = match (&e, crate::e2fs::in_use(image)) {
                (_, Some(place)) => format!(
                    "; it is {place}: unmount it, or give the mounted directory as the root"
                ),
                (crate::recovered::OpenError::Journal(_), None) => {
                    "; snapperctl replays a journal in memory only, and this one it cannot: \
                     replay it on a copy (cp IMAGE COPY && e2fsck -fy COPY) and give the \
                     copy as the root"
                        .to_string()
                }
                _ => String::new(),
            };
            format!("{}: not a readable ext4 image ({e}){hint}", image.display())
        })?;
        if let Some(replay) = replay {
            // The view differs from the bytes in place: say so once.
            eprintln!(
                "snapperctl: {}: the journal needs recovery (the system that wrote the \
                 image was stopped without unmounting it): {replay}; the image is not changed",
                image.display()
            );
        }
        let base = dir.trim_end_matches('/');
        if !base.is_empty() && !base.starts_with('/') {
            return Err(format!(
                "--in-image {dir}: give an absolute path inside the image"
            ));
        }
        let storage = ImageStorage {
            fs,
            base: base.into(),
        };
        let top = storage
            .full("")
            .map_err(|e| format!("--in-image {dir}: {e}"))?;
        match storage.fs.metadata(top.as_str()) {
            Ok(meta) if meta.is_dir() => Ok(storage),
            Ok(_) => Err(format!("{dir} in {} is not a directory", image.display())),
            Err(e) => Err(format!("{dir} in {}: {e}", image.display())),
        }
    }

    /// The absolute path inside the image of a path relative to the root.
    pub(crate) fn full(&self, relative: &str) -> Result<String, StorageError> {
        if relative.is_empty() {
            return Ok(if self.base.is_empty() {
                "/".into()
            } else {
                self.base.clone()
            });
        }
        // Paths come from the core, but one that could leave the root is
        // refused all the same (the same rule as DirStorage).
        if relative
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(StorageError::NotFound);
        }
        Ok(format!("{}/{relative}", self.base))
    }
}

fn image_error(error: Ext4Error) -> StorageError {
    match error {
        Ext4Error::NotFound => StorageError::NotFound,
        Ext4Error::IsADirectory | Ext4Error::NotADirectory | Ext4Error::IsASpecialFile => {
            StorageError::WrongKind
        }
        _ => StorageError::Io,
    }
}

impl Storage for ImageStorage {
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
        let mut file = self
            .fs
            .open(self.full(path)?.as_str())
            .map_err(image_error)?;
        file.seek_to(offset).map_err(image_error)?;
        let mut done = 0;
        // read_bytes stops at block boundaries: loop until full or at the end.
        while done < buf.len() {
            match file.read_bytes(&mut buf[done..]).map_err(image_error)? {
                0 => break,
                count => done += count,
            }
        }
        Ok(done)
    }

    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        let meta = self
            .fs
            .metadata(self.full(path)?.as_str())
            .map_err(image_error)?;
        if meta.is_dir() {
            return Err(StorageError::WrongKind);
        }
        Ok(meta.len())
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        let mut out = Vec::new();
        for entry in self
            .fs
            .read_dir(self.full(path)?.as_str())
            .map_err(image_error)?
        {
            let entry = entry.map_err(image_error)?;
            // A name that is not UTF-8 cannot be Snapper's; it is skipped,
            // as DirStorage does.
            let Ok(name) = entry.file_name().as_str().map(String::from) else {
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            let kind = if entry.file_type().map_err(image_error)?.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            out.push(DirEntry { name, kind });
        }
        Ok(out)
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
