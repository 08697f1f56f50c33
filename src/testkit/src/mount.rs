//! How the engine reaches the storage a sweep watches.
//!
//! The sweeps wrap a [`MemStorage`] in [`crate::CrashStorage`] or
//! [`crate::FaultStorage`] and look into the wrapper between the engine's
//! calls (cut yet? which operations? what may the disk hold?). The engine
//! need not call the wrapper directly: a [`Mount`] puts a storage path
//! between them, such as the Genode component's `VfsStorage` over the host
//! implementation of the C ABI, so that the code on that path (path
//! building, read loops, error mapping) is swept like the engine. The sweep
//! keeps a [`Shared`] handle on the wrapper and hands the mount a clone.

use std::sync::{Arc, Mutex, MutexGuard};

use snapper_core::{DirEntry, Storage, StorageError};

/// A storage reachable from two places: the engine's storage path and the
/// harness. Each call locks it for the call's length.
pub struct Shared<S: ?Sized>(Arc<Mutex<S>>);

impl<S: ?Sized> Clone for Shared<S> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<S> Shared<S> {
    /// Shares `storage`.
    pub fn new(storage: S) -> Self {
        Shared(Arc::new(Mutex::new(storage)))
    }
}

impl<S: Storage + Send + 'static> Shared<S> {
    /// A handle for a [`Mount`], the same storage behind it.
    pub fn handle(&self) -> Shared<dyn Storage + Send> {
        Shared(self.0.clone())
    }
}

impl<S: ?Sized> Shared<S> {
    /// The storage, between the engine's calls. A sweep that panicked
    /// inside a call (caught and reported as a violation) leaves the lock
    /// poisoned; the storage is still what the harness inspects.
    pub fn lock(&self) -> MutexGuard<'_, S> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S: Storage + ?Sized> Storage for Shared<S> {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        self.lock().create_dir(path)
    }
    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.lock().write_new_file(path, parts)
    }
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.lock().write_at(path, offset, parts)
    }
    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        self.lock().read_at(path, offset, buf)
    }
    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        self.lock().file_size(path)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        self.lock().list_dir(path)
    }
    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        self.lock().remove(path)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        self.lock().rename(from, to)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        self.lock().sync()
    }
}

/// Puts a storage path between the engine and the storage a sweep watches.
/// One engine at a time is mounted: a mount may hold process- or
/// thread-wide state (the host ABI's component), which the next mount
/// replaces.
pub trait Mount {
    /// What the engine runs on.
    type Storage: Storage;
    /// The engine's storage, reaching `storage` (in its state now: a mount
    /// must not change what is on it, beyond creating what its path needs
    /// and syncing).
    fn mount(&self, storage: Shared<dyn Storage + Send>) -> Self::Storage;
}

/// The engine calls the watched storage itself.
pub struct Direct;

impl Mount for Direct {
    type Storage = Shared<dyn Storage + Send>;
    fn mount(&self, storage: Shared<dyn Storage + Send>) -> Self::Storage {
        storage
    }
}
