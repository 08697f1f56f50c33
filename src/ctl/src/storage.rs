//! The two kinds of snapper root the tool opens, both behind the core's
//! `Storage` trait so that every command runs the same code on either: a
//! host directory (`snapper_host::DirStorage`) and an ext4 image read with
//! `ext4-view`, without mounting and without root; and `Removals`, which
//! records what the engine's purge and sweep delete (or, in a dry run,
//! would delete).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use ext4_view::{Ext4, Ext4Error};
use snapper_core::{DirEntry, EntryKind, Storage, StorageError};
use snapper_host::DirStorage;

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

/// Watches the engine's removals (purge and gc only ever remove): with
/// `apply`, each goes through to the storage below and is recorded; without
/// (a dry run), none does, but the removed paths disappear from what the
/// engine reads next, so that the engine's own purge or sweep runs to its
/// end on an unchanged root and the record says what it would delete.
/// Writes other than removals are refused in a dry run.
#[derive(Debug)]
pub struct Removals<S> {
    inner: S,
    apply: bool,
    hidden: BTreeSet<String>,
    removed: Vec<Removed>,
}

impl<S: Storage> Removals<S> {
    /// Wraps `inner`; `apply` false for a dry run.
    pub fn new(inner: S, apply: bool) -> Self {
        Removals {
            inner,
            apply,
            hidden: BTreeSet::new(),
            removed: Vec::new(),
        }
    }

    /// Every removal so far, in order.
    pub fn removed(&self) -> &[Removed] {
        &self.removed
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

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        if self.is_hidden(path) {
            return Err(StorageError::NotFound);
        }
        self.inner.read_at(path, offset, buf)
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
                Ok(Box::new(crate::e2fs::ImageWriter::open(image, dir)?))
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
        dry.sync().unwrap();
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
        assert_eq!(applied.remove("g/pack"), Err(StorageError::NotEmpty));
        assert_eq!(
            applied.removed(),
            [Removed {
                path: "g/archive".into(),
                size: Some(3)
            }]
        );
        let fs = applied.into_inner();
        assert!(!fs.nodes().contains_key("g/archive"));
        assert!(fs.nodes().contains_key("g/pack/0"));
    }
}
