//! The component's VFS (its config's `<vfs>` node), file by file.
//!
//! Writing does not sync: [`Vfs::sync`] makes everything written so far
//! durable in one go, which on lwext4 is one cache flush. A snapshot of N
//! objects thus costs a few flushes instead of N.

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_void};

use crate::{sys, Error};

/// Genode's limit on a VFS path, counting the terminating zero
/// (`Vfs::MAX_PATH_LEN`, `repos/os/include/vfs/types.h` of 26.02).
pub const MAX_PATH_LEN: usize = 512;

/// The longest path [`Vfs`] takes: the shim adds a leading `/` and the
/// terminating zero.
pub const MAX_PATH: usize = MAX_PATH_LEN - 2;

/// A path on the component's VFS, built without the heap. A path Genode
/// could not take does not fit: [`path`] refuses it.
pub type Path = heapless::String<MAX_PATH>;

/// The concatenation of `parts` as a [`Path`]; [`Error::Invalid`] if it is
/// longer than [`MAX_PATH`], as the shim would answer.
pub fn path(parts: &[&str]) -> Result<Path, Error> {
    let mut path = Path::new();
    for part in parts {
        path.push_str(part).map_err(|_| Error::Invalid)?;
    }
    Ok(path)
}

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirEntry {
    /// Name, without slashes.
    pub name: String,
    /// Whether it is a directory (otherwise a file or something else).
    pub is_dir: bool,
}

/// Handle on the initialised VFS. Paths are `/`-separated, relative to the
/// VFS root; `""` names the root in [`Vfs::list_dir`].
#[derive(Debug)]
pub struct Vfs {
    pub(crate) _private: (),
}

/// Paths containing NUL would be cut short by the C++ side; `..` would
/// escape the intended subtree; a path over [`MAX_PATH`] the shim refuses.
/// Refuse all three before crossing the ABI.
fn checked(path: &str) -> Result<&str, Error> {
    if path.len() > MAX_PATH || path.bytes().any(|b| b == 0) || path.split('/').any(|c| c == "..") {
        return Err(Error::Invalid);
    }
    Ok(path)
}

/// `parts` as the ABI takes them, borrowing their bytes.
fn sg_parts(parts: &[&[u8]]) -> Vec<sys::sg_bytes> {
    parts
        .iter()
        .map(|p| sys::sg_bytes {
            ptr: p.as_ptr(),
            len: p.len(),
        })
        .collect()
}

impl Vfs {
    /// Builds the VFS from the config's `<vfs>` node (idempotent).
    pub fn init() -> Result<Vfs, Error> {
        // SAFETY: no arguments.
        Error::check(unsafe { sys::sg_vfs_init() })?;
        Ok(Vfs { _private: () })
    }

    /// Creates directory `path`; its parent must exist.
    pub fn create_dir(&mut self, path: &str) -> Result<(), Error> {
        let path = checked(path)?;
        // SAFETY: pointer/length of a live `str`.
        Error::check(unsafe { sys::sg_vfs_create_dir(path.as_ptr().cast(), path.len()) })
    }

    /// Creates file `path`, which must not exist, holding the concatenation
    /// of `parts`. Not durable before the next [`Vfs::sync`].
    pub fn write_new(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), Error> {
        let path = checked(path)?;
        let parts = sg_parts(parts);
        // SAFETY: every `sg_bytes` points into a slice borrowed for the call.
        Error::check(unsafe {
            sys::sg_vfs_write_new(
                path.as_ptr().cast(),
                path.len(),
                parts.as_ptr(),
                parts.len(),
            )
        })
    }

    /// Writes the concatenation of `parts` into the existing file `path` at
    /// `offset`, replacing the bytes there; past the end it grows the file,
    /// a gap before `offset` reading as zeros. Not durable before the next
    /// [`Vfs::sync`].
    pub fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), Error> {
        let path = checked(path)?;
        let parts = sg_parts(parts);
        // SAFETY: every `sg_bytes` points into a slice borrowed for the call.
        Error::check(unsafe {
            sys::sg_vfs_write_at(
                path.as_ptr().cast(),
                path.len(),
                offset,
                parts.as_ptr(),
                parts.len(),
            )
        })
    }

    /// Reads from `offset` into `buf`; fewer bytes than `buf.len()` only at
    /// the end of the file.
    pub fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let path = checked(path)?;
        let mut read = 0usize;
        // SAFETY: `buf` is writable for its length; `read` outlives the call.
        Error::check(unsafe {
            sys::sg_vfs_read_at(
                path.as_ptr().cast(),
                path.len(),
                offset,
                buf.as_mut_ptr(),
                buf.len(),
                &mut read,
            )
        })?;
        // The other side must not claim more than it was given room for.
        if read > buf.len() {
            return Err(Error::Io);
        }
        Ok(read)
    }

    /// Size of file `path`.
    pub fn file_size(&mut self, path: &str) -> Result<u64, Error> {
        let path = checked(path)?;
        let mut size = 0u64;
        // SAFETY: `size` outlives the call.
        Error::check(unsafe {
            sys::sg_vfs_file_size(path.as_ptr().cast(), path.len(), &mut size)
        })?;
        Ok(size)
    }

    /// The entries of directory `path` (`""` = root), without `.` and `..`.
    pub fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, Error> {
        unsafe extern "C" fn collect(
            ctx: *mut c_void,
            name: *const c_char,
            name_len: usize,
            is_dir: c_int,
        ) {
            // SAFETY: `ctx` is the `Vec` below, `name` valid for `name_len`.
            let out = unsafe { &mut *ctx.cast::<Vec<DirEntry>>() };
            if name.is_null() {
                return;
            }
            let name = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), name_len) };
            out.push(DirEntry {
                name: String::from_utf8_lossy(name).into(),
                is_dir: is_dir != 0,
            });
        }
        let path = checked(path)?;
        let mut out: Vec<DirEntry> = Vec::new();
        // SAFETY: `collect` only touches `out`, alive for the call.
        Error::check(unsafe {
            sys::sg_vfs_list_dir(
                path.as_ptr().cast(),
                path.len(),
                (&mut out as *mut Vec<DirEntry>).cast(),
                collect,
            )
        })?;
        Ok(out)
    }

    /// Removes file `path` or empty directory `path`.
    pub fn remove(&mut self, path: &str) -> Result<(), Error> {
        let path = checked(path)?;
        // SAFETY: pointer/length of a live `str`.
        Error::check(unsafe { sys::sg_vfs_remove(path.as_ptr().cast(), path.len()) })
    }

    /// Renames `from` to `to`, which must not exist.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), Error> {
        let (from, to) = (checked(from)?, checked(to)?);
        // SAFETY: pointers/lengths of live `str`s.
        Error::check(unsafe {
            sys::sg_vfs_rename(
                from.as_ptr().cast(),
                from.len(),
                to.as_ptr().cast(),
                to.len(),
            )
        })
    }

    /// Makes everything written so far durable.
    pub fn sync(&mut self) -> Result<(), Error> {
        // SAFETY: no arguments.
        Error::check(unsafe { sys::sg_vfs_sync() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_escape_or_be_cut_are_refused() {
        assert_eq!(checked("a/../b"), Err(Error::Invalid));
        assert_eq!(checked(".."), Err(Error::Invalid));
        assert_eq!(checked("a\0b"), Err(Error::Invalid));
        assert_eq!(checked("a/..b/c"), Ok("a/..b/c"));
    }

    #[test]
    fn paths_over_genodes_limit_are_refused_not_cut() {
        let longest = "a".repeat(MAX_PATH);
        assert_eq!(checked(&longest), Ok(longest.as_str()));
        assert_eq!(checked(&"a".repeat(MAX_PATH + 1)), Err(Error::Invalid));

        let half = "b".repeat(MAX_PATH / 2);
        let joined = path(&[&half, &half]).unwrap();
        assert_eq!(joined.as_str(), std::format!("{half}{half}"));
        assert_eq!(path(&[&half, &half, "c"]), Err(Error::Invalid));
        assert_eq!(path(&[]).unwrap().as_str(), "");
    }
}
