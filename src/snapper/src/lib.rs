//! The Snapper server component: serves the `Snapper` session (see
//! `include/snapper_session/snapper_session.h`) with `snapper_core`, storing
//! generations on the component's VFS.
//!
//! On Genode the C++ shim calls [`sg_component_construct`] (feature
//! `genode`); under `cargo test` the same [`start`] runs over the host
//! implementation of the C ABI.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use genode::log::{self, Level as LogLevel};
use genode::vfs::{self, DirEntry as VfsEntry, Path, Vfs};
use genode::{log_info, log_warning, rtc};
use snapper_core::{
    Config, Error, InitOutcome, Level, ObjectId, Platform, Snapper, State, Storage, StorageError,
};
use snapper_session::server::{self, Handler, SessionId};
use snapper_session::session::Reply;

/// The line the seed's run script waits for before it starts clients.
pub const READY_LINE: &str = "root snapper component created";

/// [`Storage`] on the component's VFS, below directory `root`.
pub struct VfsStorage {
    vfs: Vfs,
    /// `""` for the VFS root, else `"dir/"` (with the slash).
    prefix: Path,
}

fn storage_error(error: genode::Error) -> StorageError {
    use genode::Error as E;
    match error {
        E::NotFound => StorageError::NotFound,
        E::Exists => StorageError::AlreadyExists,
        E::NotEmpty => StorageError::NotEmpty,
        E::WrongKind => StorageError::WrongKind,
        E::NoSpace => StorageError::NoSpace,
        E::Io | E::NoMemory | E::Invalid | E::Unavailable | E::Unknown(_) => StorageError::Io,
    }
}

impl VfsStorage {
    /// Storage below `root` (`""` or `"/"` for the VFS root); creates
    /// `root` if missing.
    pub fn new(mut vfs: Vfs, root: &str) -> Result<VfsStorage, genode::Error> {
        let root = root.trim_matches('/');
        let mut prefix = Path::new();
        for component in root.split('/').filter(|c| !c.is_empty()) {
            prefix = vfs::path(&[&prefix, component])?;
            match vfs.create_dir(&prefix) {
                Ok(()) | Err(genode::Error::Exists) => {}
                Err(e) => return Err(e),
            }
            prefix = vfs::path(&[&prefix, "/"])?;
        }
        if !prefix.is_empty() {
            vfs.sync()?;
        }
        Ok(VfsStorage { vfs, prefix })
    }

    /// `path` below the root, on the stack. The core's own paths are
    /// short; only a long root can make one exceed Genode's limit, which
    /// is worth a line in the log rather than a bare I/O error.
    fn path(&self, path: &str) -> Result<Path, StorageError> {
        vfs::path(&[&self.prefix, path]).map_err(|_| {
            log_warning!(
                "path too long for Genode's VFS (at most {} bytes): {}{}",
                vfs::MAX_PATH,
                self.prefix,
                path
            );
            StorageError::Io
        })
    }

    /// The directory listed for `path`: the root itself is the prefix
    /// without its slash.
    fn dir_path(&self, path: &str) -> Result<Path, StorageError> {
        if path.is_empty() {
            let mut root = self.prefix.clone();
            if root.ends_with('/') {
                root.pop();
            }
            Ok(root)
        } else {
            self.path(path)
        }
    }
}

impl Storage for VfsStorage {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        let path = self.path(path)?;
        self.vfs.create_dir(&path).map_err(storage_error)
    }

    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        let path = self.path(path)?;
        self.vfs.write_new(&path, parts).map_err(storage_error)
    }

    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        let path = self.path(path)?;
        self.vfs
            .write_at(&path, offset, parts)
            .map_err(storage_error)
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        let path = self.path(path)?;
        self.vfs.read_at(&path, offset, buf).map_err(storage_error)
    }

    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        let path = self.path(path)?;
        self.vfs.file_size(&path).map_err(storage_error)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<snapper_core::DirEntry>, StorageError> {
        let path = self.dir_path(path)?;
        let entries = self.vfs.list_dir(&path).map_err(storage_error)?;
        Ok(entries
            .into_iter()
            .map(|VfsEntry { name, is_dir }| snapper_core::DirEntry {
                name,
                kind: if is_dir {
                    snapper_core::EntryKind::Dir
                } else {
                    snapper_core::EntryKind::File
                },
            })
            .collect())
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        let path = self.path(path)?;
        self.vfs.remove(&path).map_err(storage_error)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        let (from, to) = (self.path(from)?, self.path(to)?);
        self.vfs.rename(&from, &to).map_err(storage_error)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.vfs.sync().map_err(storage_error)
    }

    /// Reads first and asks for the size only if the file turns out large:
    /// through the `fs` plugin a stat is one more round trip to the server
    /// per restored object.
    fn read_file(&mut self, path: &str, limit: u64, out: &mut Vec<u8>) -> Result<(), StorageError> {
        // small enough for the shim to take a short read as the end of the
        // file (one READ packet), large enough for a 4 KiB page and header
        const FIRST_READ: u64 = 16 * 1024;
        let path = self.path(path)?;
        // one byte over the limit tells "too large" apart from "exactly the limit"
        let first = limit.saturating_add(1).min(FIRST_READ) as usize;
        out.clear();
        out.resize(first, 0);
        let got = self.vfs.read_at(&path, 0, out).map_err(storage_error)?;
        if got < first {
            out.truncate(got);
            return Ok(());
        }
        let size = self.vfs.file_size(&path).map_err(storage_error)?;
        if size > limit {
            return Err(StorageError::Io);
        }
        let size = usize::try_from(size).map_err(|_| StorageError::Io)?;
        out.resize(size.max(got), 0);
        let rest = out.get_mut(got..).unwrap_or_default();
        let more = self
            .vfs
            .read_at(&path, got as u64, rest)
            .map_err(storage_error)?;
        out.truncate(got + more);
        Ok(())
    }
}

/// [`Platform`] on Genode: the RTC session and the LOG.
#[derive(Default)]
pub struct GenodePlatform {
    /// Last good RTC reading, used if the RTC fails later.
    last: u64,
    rtc_failed: bool,
}

impl Platform for GenodePlatform {
    fn now(&mut self) -> u64 {
        let reading = rtc::now().ok().and_then(|t| {
            snapper_core::time::DateTime {
                year: t.year,
                month: t.month,
                day: t.day,
                hour: t.hour,
                minute: t.minute,
                second: t.second,
            }
            .to_unix()
        });
        match reading {
            Some(now) => {
                self.last = now;
                now
            }
            None => {
                // Generation names must still sort by time: keep the last
                // good reading (the core makes names unique) and say so once.
                if !self.rtc_failed {
                    self.rtc_failed = true;
                    log_warning!(
                        "RTC unreadable, generation times fall back to {}",
                        self.last
                    );
                }
                self.last
            }
        }
    }

    fn log(&mut self, level: Level, message: fmt::Arguments<'_>) {
        let level = match level {
            Level::Error => LogLevel::Error,
            Level::Warning => LogLevel::Warning,
            Level::Info | Level::Debug => LogLevel::Info,
        };
        log::log(level, message);
    }
}

/// The session dispatch: one [`Snapper`] shared by all sessions, with the
/// operation in progress owned by the session that began it.
pub struct Server<S: Storage, P: Platform> {
    snapper: Snapper<S, P>,
    /// The session that began the creation or restoration in progress.
    owner: Option<SessionId>,
}

fn reply(result: Result<(), Error>) -> Reply {
    Reply::from_code(snapper_core::code_of(&result))
}

impl<S: Storage, P: Platform> Server<S, P> {
    /// Serves `snapper`.
    pub fn new(snapper: Snapper<S, P>) -> Self {
        Server {
            snapper,
            owner: None,
        }
    }

    /// The engine, for inspection.
    pub fn snapper(&self) -> &Snapper<S, P> {
        &self.snapper
    }

    /// Another session's creation or restoration must not be continued or
    /// ended by this one; an idle Snapper is anyone's.
    fn may_act(&mut self, session: SessionId) -> bool {
        if self.snapper.state() == State::Dormant {
            self.owner = None;
        }
        self.owner.is_none() || self.owner == Some(session)
    }

    fn settle(&mut self, session: SessionId) {
        self.owner = match self.snapper.state() {
            State::Dormant => None,
            _ => Some(session),
        };
    }
}

impl<S: Storage, P: Platform> Handler for Server<S, P> {
    fn init_snapshot(&mut self, session: SessionId) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        let result = self.snapper.init_snapshot();
        self.settle(session);
        match result {
            Ok(InitOutcome::Based(_)) => Reply::Ok,
            // Not an error: the seed answers NoPriorGen and goes on creating.
            Ok(InitOutcome::NoPriorGen) => Reply::NoPriorGen,
            Err(e) => Reply::from_code(e.code()),
        }
    }

    fn take_snapshot(&mut self, session: SessionId, id: u64, payload: &[u8]) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        reply(self.snapper.take_snapshot(ObjectId(id), payload))
    }

    fn commit_snapshot(&mut self, session: SessionId) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        let result = self.snapper.commit_snapshot();
        self.settle(session);
        reply(result)
    }

    fn open_generation(&mut self, session: SessionId, name: Option<&str>) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        let result = self.snapper.open_generation(name);
        self.settle(session);
        reply(result)
    }

    fn restore(&mut self, session: SessionId, id: u64, buf: &mut [u8]) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        reply(self.snapper.restore(ObjectId(id), buf).map(|_| ()))
    }

    fn close_generation(&mut self, session: SessionId) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        let result = self.snapper.close_generation();
        self.settle(session);
        reply(result)
    }

    fn purge(&mut self, session: SessionId, name: Option<&str>) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        reply(self.snapper.purge(name))
    }

    fn purge_expired(&mut self, session: SessionId) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        reply(self.snapper.purge_expired())
    }

    fn purge_zombies(&mut self, session: SessionId) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        reply(self.snapper.purge_zombies())
    }

    fn take_unchanged(&mut self, session: SessionId, id: u64) -> Reply {
        if !self.may_act(session) {
            return Reply::InvalidState;
        }
        reply(self.snapper.take_unchanged(ObjectId(id)))
    }

    fn restore_sized(
        &mut self,
        session: SessionId,
        id: u64,
        buf: &mut [u8],
    ) -> Result<usize, Reply> {
        if !self.may_act(session) {
            return Err(Reply::InvalidState);
        }
        // Room is checked here, not by a failing restore: in a batch a
        // full buffer is the normal end, not an error to log; and restore
        // gets exactly the object's bytes, since it zeroes the rest of what
        // it is given (the single call's contract), which for a batch's
        // free space would be a megabyte per object.
        if let Some(size) = self.snapper.object_size(ObjectId(id)) {
            let Some(exact) = buf.get_mut(..size as usize) else {
                return Err(Reply::BufferTooSmall);
            };
            return self
                .snapper
                .restore(ObjectId(id), exact)
                .map_err(|e| Reply::from_code(e.code()));
        }
        self.snapper
            .restore(ObjectId(id), buf)
            .map_err(|e| Reply::from_code(e.code()))
    }

    fn session_closed(&mut self, session: SessionId) {
        if self.owner == Some(session) {
            // The client went away mid-operation: drop what it began, so the
            // next client does not find Snapper stuck in its state.
            log_warning!(
                "session {} closed during {:?}, aborting it",
                session.0,
                self.snapper.state()
            );
            self.snapper.abort();
            self.owner = None;
        }
    }
}

/// Why the component did not start.
#[derive(Debug)]
pub enum StartError {
    /// The config ROM is missing or malformed.
    Config(String),
    /// The VFS or the snapper root is not usable.
    Vfs(genode::Error),
    /// The snapper root could not be scanned.
    Open(Error),
    /// The service could not be announced.
    Serve(genode::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(why) => write!(f, "config: {why}"),
            StartError::Vfs(e) => write!(f, "VFS (is there a <vfs> node?): {e}"),
            StartError::Open(e) => write!(f, "cannot open the snapper root: {e}"),
            StartError::Serve(e) => write!(f, "cannot announce the Snapper service: {e}"),
        }
    }
}

/// Reads the config, opens the snapper root and announces the service.
///
/// Config: the attributes of `snapper_core::Config`, plus `root`, the
/// directory of the VFS holding the generations (default: the VFS root, as
/// in 2.0).
pub fn start() -> Result<(), StartError> {
    let attributes = genode::config::attributes()
        .map_err(|e| StartError::Config(alloc::format!("config ROM unreadable: {e}")))?;
    let config = Config::from_attributes(
        attributes
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_str())),
    )
    .map_err(|e| StartError::Config(alloc::format!("{e}")))?;
    let root = attributes
        .iter()
        .find(|a| a.name == "root")
        .map(|a| a.value.as_str())
        .unwrap_or("");
    let bufsize = usize::try_from(config.bufsize)
        .map_err(|_| StartError::Config(String::from("bufsize too large")))?;

    let vfs = Vfs::init().map_err(StartError::Vfs)?;
    let storage = VfsStorage::new(vfs, root).map_err(StartError::Vfs)?;
    let snapper =
        Snapper::open(storage, GenodePlatform::default(), config).map_err(StartError::Open)?;
    if config.verbose {
        log_info!(
            "snapper: {} generation(s), bufsize {}, threshold {}, redundancy {}",
            snapper.generations().len(),
            bufsize,
            config.threshold,
            config.redundancy
        );
    }
    server::serve(Server::new(snapper), bufsize).map_err(StartError::Serve)?;
    // Unconditional (2.0 logged it only when verbose): run scripts wait for it.
    log::raw(LogLevel::Info, READY_LINE);
    Ok(())
}

/// Entry point called by the C++ shim's `Component::construct`.
#[cfg(feature = "genode")]
#[no_mangle]
pub extern "C" fn sg_component_construct() {
    if let Err(e) = start() {
        genode::log_error!("snapper: {e}");
        genode::exit(1);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use snapper_core::MemStorage;

    struct FixedClock(u64);

    impl Platform for FixedClock {
        fn now(&mut self) -> u64 {
            self.0 += 1;
            self.0
        }
        fn log(&mut self, _: Level, _: fmt::Arguments<'_>) {}
    }

    fn server() -> Server<MemStorage, FixedClock> {
        let snapper = Snapper::open(
            MemStorage::new(),
            FixedClock(1_700_000_000),
            Config::default(),
        )
        .unwrap();
        Server::new(snapper)
    }

    #[test]
    fn another_session_cannot_continue_or_end_a_creation() {
        let (a, b) = (SessionId(1), SessionId(2));
        let mut server = server();
        assert_eq!(server.init_snapshot(a), Reply::NoPriorGen);
        assert_eq!(server.take_snapshot(b, 1, b"x"), Reply::InvalidState);
        assert_eq!(server.commit_snapshot(b), Reply::InvalidState);
        assert_eq!(server.init_snapshot(b), Reply::InvalidState);
        assert_eq!(server.take_snapshot(a, 1, b"x"), Reply::Ok);
        assert_eq!(server.commit_snapshot(a), Reply::Ok);
        // idle again: anyone may go on
        assert_eq!(server.open_generation(b, None), Reply::Ok);
        let mut buf = [0u8; 1];
        assert_eq!(server.restore(a, 1, &mut buf), Reply::InvalidState);
        assert_eq!(server.restore(b, 1, &mut buf), Reply::Ok);
        assert_eq!(&buf, b"x");
        // the owner's session closing ends its restoration
        server.session_closed(a);
        assert_eq!(server.snapper().state(), State::Restoration);
        server.session_closed(b);
        assert_eq!(server.snapper().state(), State::Dormant);
        assert_eq!(server.purge(a, None), Reply::Ok);
    }

    #[test]
    fn read_file_reads_small_and_large_files_and_enforces_the_limit() {
        let dir =
            std::env::temp_dir().join(std::format!("snapper-vfsstorage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        genode_host::install("<config/>", &dir);
        let mut storage = VfsStorage::new(Vfs::init().unwrap(), "r").unwrap();
        let big: std::vec::Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        storage.write_new_file("small", &[b"abc"]).unwrap();
        storage.write_new_file("big", &[&big]).unwrap();
        let mut out = std::vec::Vec::new();
        storage.read_file("small", 3, &mut out).unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(
            storage.read_file("small", 2, &mut out),
            Err(StorageError::Io)
        );
        storage.read_file("big", 200_000, &mut out).unwrap();
        assert_eq!(out, big);
        assert_eq!(
            storage.read_file("big", 199_999, &mut out),
            Err(StorageError::Io)
        );
        assert_eq!(
            storage.read_file("missing", 10, &mut out),
            Err(StorageError::NotFound)
        );
        storage.write_new_file("empty", &[]).unwrap();
        storage.read_file("empty", 0, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn a_path_over_genodes_limit_is_an_error_with_a_log_line() {
        let dir = std::env::temp_dir().join(std::format!(
            "snapper-vfsstorage-long-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        genode_host::install("<config/>", &dir);
        let root = "r".repeat(100);
        let mut storage = VfsStorage::new(Vfs::init().unwrap(), &root).unwrap();
        // root + "/" + name: one byte over the limit, and just within it
        let over = "n".repeat(genode::vfs::MAX_PATH - root.len());
        let within = "n".repeat(genode::vfs::MAX_PATH - root.len() - 1);
        assert_eq!(
            storage.write_new_file(&over, &[b"x"]),
            Err(StorageError::Io)
        );
        assert!(genode_host::log_lines()
            .iter()
            .any(|(level, line)| *level == genode::log::Level::Warning
                && line.starts_with("path too long for Genode's VFS")));
        // the host file system may refuse a name this long itself: what
        // matters is that the path reached it, i.e. no refusal by length
        let _ = storage.write_new_file(&within, &[b"x"]);
        assert_eq!(
            genode_host::log_lines()
                .iter()
                .filter(|(_, line)| line.starts_with("path too long"))
                .count(),
            1
        );
        // a root that alone is too long does not start
        assert_eq!(
            VfsStorage::new(Vfs::init().unwrap(), &"r".repeat(600)).err(),
            Some(genode::Error::Invalid)
        );
    }

    #[test]
    fn storage_errors_map_onto_the_cores() {
        use genode::Error as E;
        assert_eq!(storage_error(E::NotFound), StorageError::NotFound);
        assert_eq!(storage_error(E::Exists), StorageError::AlreadyExists);
        assert_eq!(storage_error(E::NoSpace), StorageError::NoSpace);
        assert_eq!(storage_error(E::Invalid), StorageError::Io);
    }
}
