//! A storage whose Nth operation fails.

use snapper_core::{DirEntry, Storage, StorageError};

/// When and how the storage fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The operation that fails first, counting every call from 1.
    pub at: u64,
    /// The error it returns.
    pub error: StorageError,
    /// Whether the failure persists. A persistent `NoSpace` fails only the
    /// calls that allocate (create_dir, write_new_file, write_at): a full
    /// disk still reads, removes, renames and syncs. A persistent other
    /// error fails every call (the device is gone).
    pub sticky: bool,
    /// Whether the failing call still took effect before answering the
    /// error: a file write (new or in place) leaves the first half of its
    /// bytes, any other call is done. Models an error reported after the fact (a write that
    /// ran out of space half way, a journal that failed after the change).
    pub applied: bool,
    /// A later call that fails once more in the same way (`None`: no
    /// other): a failed pack write is retried by the engine, and this is
    /// how the retry itself is made to fail while the calls between work.
    pub again: Option<u64>,
}

impl Fault {
    /// Fails call `at` with `error`, once, with no effect.
    pub fn once(at: u64, error: StorageError) -> Self {
        Fault {
            at,
            error,
            sticky: false,
            applied: false,
            again: None,
        }
    }

    /// No call ever fails (`at` is out of reach); counts calls.
    pub fn never() -> Self {
        Self::once(u64::MAX, StorageError::Io)
    }
}

/// See the module documentation. A failed call changes nothing.
pub struct FaultStorage<S> {
    inner: S,
    ops: u64,
    fault: Option<Fault>,
    fired: bool,
    injected: u64,
    trace: Vec<String>,
}

impl<S: Storage> FaultStorage<S> {
    /// No fault yet; see [`FaultStorage::arm`].
    pub fn new(inner: S) -> Self {
        FaultStorage {
            inner,
            ops: 0,
            fault: None,
            fired: false,
            injected: 0,
            trace: Vec::new(),
        }
    }

    /// Fails as `fault` says, counting operations from now.
    pub fn arm(&mut self, fault: Fault) {
        self.ops = 0;
        self.fault = Some(fault);
        self.fired = false;
        self.trace.clear();
    }

    /// Stops failing.
    pub fn disarm(&mut self) {
        self.fault = None;
    }

    /// Operations since the last `arm` (or since creation).
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Whether the armed fault has hit.
    pub fn fired(&self) -> bool {
        self.fired
    }

    /// Errors returned so far.
    pub fn injected(&self) -> u64 {
        self.injected
    }

    /// One line per operation since `arm`, the failed ones marked.
    pub fn trace(&self) -> &[String] {
        &self.trace
    }

    /// The wrapped storage.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped storage, mutable.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Ends the wrapper.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Whether the failure just injected (by `check`) still takes effect.
    fn applies(&self) -> bool {
        self.fault
            .is_some_and(|f| f.applied && (self.ops == f.at || f.again == Some(self.ops)))
    }

    fn check(&mut self, what: &str, path: &str, allocates: bool) -> Result<(), StorageError> {
        self.ops += 1;
        let failure = match self.fault {
            Some(f) if self.ops == f.at || f.again == Some(self.ops) => Some(f.error),
            Some(f) if f.sticky && self.ops > f.at => {
                (f.error != StorageError::NoSpace || allocates).then_some(f.error)
            }
            _ => None,
        };
        match failure {
            Some(error) => {
                self.fired = true;
                self.injected += 1;
                self.trace
                    .push(format!("{what} {path}: {error} (injected)"));
                Err(error)
            }
            None => {
                self.trace.push(format!("{what} {path}"));
                Ok(())
            }
        }
    }
}

impl<S: Storage> Storage for FaultStorage<S> {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        if let Err(e) = self.check("create_dir", path, true) {
            if self.applies() {
                let _ = self.inner.create_dir(path);
            }
            return Err(e);
        }
        self.inner.create_dir(path)
    }

    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        if let Err(e) = self.check("write_new_file", path, true) {
            if self.applies() {
                let bytes = parts.concat();
                let _ = self
                    .inner
                    .write_new_file(path, &[&bytes[..bytes.len() / 2]]);
            }
            return Err(e);
        }
        self.inner.write_new_file(path, parts)
    }

    /// Allocates: an in-place write may grow the file, and even one that
    /// does not may need new blocks on a file system that copies on write.
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        if let Err(e) = self.check("write_at", path, true) {
            if self.applies() {
                let bytes = parts.concat();
                let _ = self
                    .inner
                    .write_at(path, offset, &[&bytes[..bytes.len() / 2]]);
            }
            return Err(e);
        }
        self.inner.write_at(path, offset, parts)
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        self.check("read_at", path, false)?;
        self.inner.read_at(path, offset, buf)
    }

    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        self.check("file_size", path, false)?;
        self.inner.file_size(path)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        self.check("list_dir", path, false)?;
        self.inner.list_dir(path)
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        if let Err(e) = self.check("remove", path, false) {
            if self.applies() {
                let _ = self.inner.remove(path);
            }
            return Err(e);
        }
        self.inner.remove(path)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        if let Err(e) = self.check("rename", from, false) {
            if self.applies() {
                let _ = self.inner.rename(from, to);
            }
            return Err(e);
        }
        self.inner.rename(from, to)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.check("sync", "", false)?;
        self.inner.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapper_core::MemStorage;

    #[test]
    fn the_nth_call_fails_and_changes_nothing() {
        let mut fs = FaultStorage::new(MemStorage::new());
        fs.arm(Fault {
            sticky: true,
            ..Fault::once(2, StorageError::NoSpace)
        });
        fs.create_dir("a").unwrap();
        assert_eq!(fs.create_dir("b"), Err(StorageError::NoSpace));
        assert_eq!(
            fs.write_new_file("a/f", &[b"x"]),
            Err(StorageError::NoSpace)
        );
        assert!(fs.list_dir("").is_ok(), "a full disk still lists");
        assert!(fs.remove("a").is_ok(), "and removes");
        assert!(fs.inner().nodes().is_empty());
        assert_eq!(fs.injected(), 2);
        fs.disarm();
        fs.create_dir("b").unwrap();
        // An error after the fact: the write happened, half of it.
        fs.arm(Fault {
            applied: true,
            ..Fault::once(1, StorageError::NoSpace)
        });
        assert_eq!(
            fs.write_new_file("b/f", &[b"abcd"]),
            Err(StorageError::NoSpace)
        );
        assert_eq!(
            fs.inner().nodes().get("b/f"),
            Some(&snapper_core::storage::MemNode::File(b"ab".to_vec()))
        );
        // An in-place write fails likewise: a full disk refuses it, and
        // after the fact half of it is there.
        fs.arm(Fault {
            sticky: true,
            ..Fault::once(1, StorageError::NoSpace)
        });
        assert_eq!(fs.create_dir("x"), Err(StorageError::NoSpace));
        assert!(fs.list_dir("b").is_ok());
        assert_eq!(
            fs.write_at("b/f", 0, &[b"wxyz"]),
            Err(StorageError::NoSpace)
        );
        assert_eq!(fs.injected(), 5);
        fs.arm(Fault {
            applied: true,
            ..Fault::once(1, StorageError::Io)
        });
        assert_eq!(
            fs.write_at("b/f", 1, &[b"WX", b"YZ"]),
            Err(StorageError::Io)
        );
        assert_eq!(
            fs.inner().nodes().get("b/f"),
            Some(&snapper_core::storage::MemNode::File(b"aWX".to_vec()))
        );
        assert_eq!(fs.trace(), ["write_at b/f: I/O error (injected)"]);
        // A second failure later, the calls between working.
        fs.arm(Fault {
            again: Some(3),
            ..Fault::once(1, StorageError::Io)
        });
        assert_eq!(fs.create_dir("c"), Err(StorageError::Io));
        fs.create_dir("c").unwrap();
        assert_eq!(fs.create_dir("d"), Err(StorageError::Io));
        fs.create_dir("d").unwrap();
        assert_eq!(fs.injected(), 8);
    }
}
