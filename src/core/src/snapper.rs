//! The generation manager: the nine operations of the Snapper session, its
//! four states, and the bookkeeping that makes an unchanged object cost no
//! I/O. doc/DESIGN.md gives the invariants and what a crash leaves behind at
//! each step.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::config::Config;
use crate::error::Error;
use crate::format::{
    Archive, Backlinks, DecodeError, Entry, SnapshotHeader, Source, SNAPSHOT_HEADER_LEN,
};
use crate::layout::{self, GenerationName, ARCHIVE, ARCHIVE_TMP, SNAPSHOT_DIR};
use crate::refs::RefCounts;
use crate::storage::{EntryKind, Storage, StorageError};
use crate::types::{Digest, FileNumber, FileRef, Generation, ObjectId};

/// Largest archive read from disk; a damaged size cannot exhaust memory.
const MAX_ARCHIVE_BYTES: u64 = 1 << 30;

/// How important a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed; the line says what and what was kept.
    Error,
    /// Something was damaged or skipped, and the call went on.
    Warning,
    /// One line per completed operation.
    Info,
    /// Step by step detail, only with `verbose`.
    Debug,
}

/// What Snapper needs from its surroundings besides storage.
pub trait Platform {
    /// The current time in seconds since the Unix epoch (UTC), from the RTC.
    fn now(&mut self) -> u64;
    /// Writes one log line.
    fn log(&mut self, level: Level, message: fmt::Arguments<'_>);
}

/// The states of the session (the seed's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Nothing in progress.
    Dormant,
    /// A generation is being created (between init_snapshot and commit_snapshot).
    Creation,
    /// A generation is open for restoring.
    Restoration,
    /// A purge is running (only seen from inside the call).
    Purge,
}

/// What init_snapshot found to compare against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitOutcome {
    /// Unchanged objects will link to this generation's files.
    Based(Generation),
    /// No earlier generation: every object is written (wire code 1, as the seed).
    NoPriorGen,
}

/// Whether a generation directory holds a usable archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerationStatus {
    /// A committed generation.
    Valid,
    /// The archive exists but failed its checks.
    Damaged(DecodeError),
    /// No archive: an uncommitted generation, or a purged one whose files
    /// later generations still use.
    NoArchive,
}

/// One generation directory, as `generations()` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationInfo {
    /// Its number.
    pub generation: Generation,
    /// Its directory name.
    pub name: String,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// Valid, damaged or without archive.
    pub status: GenerationStatus,
    /// Objects in its archive (valid generations only).
    pub objects: u32,
    /// Snapshot files it created (when known).
    pub file_count: Option<u32>,
}

/// Counters of the last snapshot, for logs and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// take_snapshot calls that were accepted.
    pub objects: u64,
    /// Snapshot files written.
    pub files_written: u64,
    /// Of those, redundant copies of unchanged content.
    pub redundant_copies: u64,
    /// Payload and header bytes written to snapshot files.
    pub bytes_written: u64,
    /// Bytes of the archive.
    pub archive_bytes: u64,
}

#[derive(Clone, Debug)]
struct GenRecord {
    name: GenerationName,
    created: u64,
    status: GenerationStatus,
    fanout: Option<u32>,
    file_count: Option<u32>,
    objects: u32,
    /// The directory may hold files no valid archive references.
    needs_sweep: bool,
    /// The archive could not be read (I/O error, not damage): the files it
    /// references are unknown, so nothing may be deleted until it is read.
    unreadable: bool,
}

/// The archive of a generation, held in memory.
#[derive(Clone, Debug)]
struct Loaded {
    generation: Generation,
    sources: Vec<Source>,
    entries: Vec<Entry>,
}

impl Loaded {
    fn from_archive(archive: Archive) -> Self {
        Loaded {
            generation: archive.generation,
            sources: archive.sources,
            entries: archive.entries,
        }
    }

    fn source(&self, generation: Generation) -> Option<&Source> {
        self.sources
            .binary_search_by_key(&generation, |s| s.generation)
            .ok()
            .and_then(|at| self.sources.get(at))
    }
}

struct Creation {
    generation: Generation,
    name: GenerationName,
    created: u64,
    fanout: u32,
    file_count: u32,
    entries: Vec<Entry>,
    /// The directory chain of the last file written; files are numbered in
    /// order, so a directory once left is never needed again.
    open_dirs: Vec<String>,
    stats: SnapshotStats,
    /// A write failed: it may still have left a file or directory (an
    /// error can come after part of the work), so the directory is swept
    /// once the generation is committed.
    failed_writes: bool,
}

enum Phase {
    Dormant,
    Creation(Creation),
    /// `None`: the open generation is the base, shared rather than copied.
    Restoration(Generation, Option<Loaded>),
    Purge,
}

/// Snapper over a storage and a platform.
pub struct Snapper<S: Storage, P: Platform> {
    storage: S,
    platform: P,
    config: Config,
    gens: BTreeMap<Generation, GenRecord>,
    /// How many valid archives reference each file, by generation and file
    /// number: derived from the archives, never stored.
    refs: RefCounts,
    /// The latest valid generation's archive: what change detection compares against.
    base: Option<Loaded>,
    phase: Phase,
    next_generation: Generation,
    last_created: u64,
    last_stats: SnapshotStats,
    scratch: Vec<u8>,
}

/// Formats a log line through the platform, skipping debug lines unless verbose.
macro_rules! log {
    ($self:ident, $level:expr, $($arg:tt)*) => {
        if $level != Level::Debug || $self.config.verbose {
            $self.platform.log($level, format_args!($($arg)*))
        }
    };
}

fn io_error(error: StorageError) -> Error {
    match error {
        StorageError::NotFound => Error::LoadGenFailed,
        _ => Error::StorageFailed,
    }
}

fn decode_error(error: DecodeError) -> Error {
    match error {
        DecodeError::UnsupportedVersion(_) => Error::InvalidVersion,
        _ => Error::IntegrityFailed,
    }
}

impl<S: Storage, P: Platform> Snapper<S, P> {
    /// Opens the snapper root: reads every archive, derives the reference
    /// counts and finds the latest generation. Fails only if the root cannot
    /// be listed; damaged generations are reported and left alone.
    pub fn open(storage: S, platform: P, config: Config) -> Result<Self, Error> {
        let mut snapper = Snapper {
            storage,
            platform,
            config,
            gens: BTreeMap::new(),
            refs: RefCounts::default(),
            base: None,
            phase: Phase::Dormant,
            next_generation: Generation(1),
            last_created: 0,
            last_stats: SnapshotStats::default(),
            scratch: Vec::new(),
        };
        snapper.scan()?;
        Ok(snapper)
    }

    fn scan(&mut self) -> Result<(), Error> {
        let entries = self.storage.list_dir("").map_err(|e| {
            log!(self, Level::Error, "cannot list the snapper root: {e}");
            Error::StorageFailed
        })?;
        for entry in entries {
            match (entry.kind, GenerationName::parse(&entry.name)) {
                (EntryKind::Dir, Some((name, created, generation))) => {
                    if self.gens.contains_key(&generation) {
                        log!(
                            self,
                            Level::Warning,
                            "two directories claim generation {generation}; ignoring '{}'",
                            entry.name
                        );
                        continue;
                    }
                    // Without archive until its archive is read below.
                    self.remember_incomplete(generation, name, created);
                }
                _ => log!(
                    self,
                    Level::Debug,
                    "ignoring '{}' in the snapper root",
                    entry.name
                ),
            }
        }
        let generations: Vec<Generation> = self.gens.keys().copied().collect();
        for generation in generations {
            let Some(name) = self.gens.get(&generation).map(|r| r.name.clone()) else {
                continue;
            };
            match self.read_archive(&name) {
                Ok(archive) => self.adopt(archive),
                Err(ReadError::Missing) => {}
                Err(ReadError::Io(e)) => {
                    log!(
                        self,
                        Level::Error,
                        "generation '{name}': archive unreadable ({e}); treating it as damaged"
                    );
                    self.set_status(
                        generation,
                        GenerationStatus::Damaged(DecodeError::Truncated),
                    );
                    if let Some(record) = self.gens.get_mut(&generation) {
                        record.unreadable = true;
                    }
                }
                Err(ReadError::Decode(e)) => {
                    log!(
                        self,
                        Level::Error,
                        "generation '{name}': archive damaged ({e}); the generation is not valid"
                    );
                    self.set_status(generation, GenerationStatus::Damaged(e));
                }
            }
        }
        if let Some((generation, record)) = self.gens.iter().next_back() {
            self.next_generation = Generation(generation.0.saturating_add(1));
            self.last_created = self
                .gens
                .values()
                .map(|r| r.created)
                .max()
                .unwrap_or(record.created);
        }
        let valid = self.valid_generations().count();
        log!(
            self,
            Level::Info,
            "snapper root holds {valid} generation(s){}",
            match &self.base {
                Some(base) => alloc::format!(", latest {}", self.name_of(base.generation)),
                None => String::new(),
            }
        );
        Ok(())
    }

    /// Takes a valid archive into the bookkeeping during the scan.
    fn adopt(&mut self, archive: Archive) {
        let generation = archive.generation;
        for source in &archive.sources {
            if let Some(record) = self.gens.get_mut(&source.generation) {
                record.fanout.get_or_insert(source.fanout);
            } else {
                log!(
                    self,
                    Level::Warning,
                    "generation '{}' uses files of '{}', whose directory is missing",
                    archive.name,
                    source.name
                );
            }
        }
        self.refs.add(&archive.entries);
        if let Some(record) = self.gens.get_mut(&generation) {
            record.status = GenerationStatus::Valid;
            record.fanout = Some(archive.fanout);
            record.file_count = Some(archive.file_count);
            record.objects = u32::try_from(archive.entries.len()).unwrap_or(u32::MAX);
            record.needs_sweep = false;
        }
        if self.base.as_ref().is_none_or(|b| b.generation < generation) {
            self.base = Some(Loaded::from_archive(archive));
        }
    }

    /// Re-reads the archives an I/O error kept from being read. A transient
    /// error at start must not make a committed generation garbage (a
    /// sweep would delete it, or the files it uses). Returns whether none
    /// is left unread.
    fn reread_unreadable(&mut self) -> bool {
        let pending: Vec<(Generation, GenerationName)> = self
            .gens
            .iter()
            .filter(|(_, r)| r.unreadable)
            .map(|(g, r)| (*g, r.name.clone()))
            .collect();
        let mut all_read = true;
        for (generation, name) in pending {
            let outcome = self.read_archive(&name);
            if !matches!(outcome, Err(ReadError::Io(_))) {
                if let Some(record) = self.gens.get_mut(&generation) {
                    record.unreadable = false;
                }
            }
            match outcome {
                Ok(archive) => {
                    log!(
                        self,
                        Level::Info,
                        "generation '{name}': archive read on retry"
                    );
                    self.adopt(archive);
                }
                Err(ReadError::Missing) => self.set_status(generation, GenerationStatus::NoArchive),
                Err(ReadError::Decode(e)) => {
                    log!(
                        self,
                        Level::Error,
                        "generation '{name}': archive damaged ({e})"
                    );
                    self.set_status(generation, GenerationStatus::Damaged(e));
                }
                Err(ReadError::Io(e)) => {
                    log!(
                        self,
                        Level::Error,
                        "generation '{name}': archive still unreadable ({e})"
                    );
                    all_read = false;
                }
            }
        }
        all_read
    }

    /// Logs a call made in a state that does not allow it; nothing changes.
    fn wrong_state(&mut self, call: &str) -> Error {
        let state = self.state();
        log!(
            self,
            Level::Warning,
            "{call}: not allowed in state {state:?}; nothing done"
        );
        Error::InvalidState
    }

    fn set_status(&mut self, generation: Generation, status: GenerationStatus) {
        if let Some(record) = self.gens.get_mut(&generation) {
            record.status = status;
        }
    }

    fn ref_count(&self, link: FileRef) -> u32 {
        self.refs.get(link)
    }

    fn name_of(&self, generation: Generation) -> &str {
        self.gens.get(&generation).map_or("?", |r| r.name.as_str())
    }

    fn valid_generations(&self) -> impl DoubleEndedIterator<Item = (&Generation, &GenRecord)> {
        self.gens
            .iter()
            .filter(|(_, r)| r.status == GenerationStatus::Valid)
    }

    fn read_archive(&mut self, name: &GenerationName) -> Result<Archive, ReadError> {
        let path = layout::in_generation(name.as_str(), ARCHIVE);
        match self
            .storage
            .read_file(&path, MAX_ARCHIVE_BYTES, &mut self.scratch)
        {
            Ok(()) => {}
            Err(StorageError::NotFound) => return Err(ReadError::Missing),
            // A directory under the archive's name, or an archive over the
            // size limit (read_file answers Io for that), is damage that
            // stays: taken for an I/O error, it would block every deletion
            // for good.
            Err(StorageError::WrongKind) => {
                return Err(ReadError::Decode(DecodeError::Malformed(
                    "the archive is not a file",
                )))
            }
            Err(StorageError::Io)
                if self
                    .storage
                    .file_size(&path)
                    .is_ok_and(|s| s > MAX_ARCHIVE_BYTES) =>
            {
                return Err(ReadError::Decode(DecodeError::Malformed(
                    "the archive is larger than any archive written",
                )))
            }
            Err(e) => return Err(ReadError::Io(e)),
        }
        let archive = Archive::decode(&self.scratch).map_err(ReadError::Decode)?;
        if archive.name != name.as_str() {
            return Err(ReadError::Decode(DecodeError::Malformed(
                "archive names another directory",
            )));
        }
        Ok(archive)
    }

    // -----------------------------------------------------------------
    // Inspection

    /// The current state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Dormant => State::Dormant,
            Phase::Creation(_) => State::Creation,
            Phase::Restoration(..) => State::Restoration,
            Phase::Purge => State::Purge,
        }
    }

    /// The name of the generation open for restoring.
    pub fn open_generation_name(&self) -> Option<&str> {
        match &self.phase {
            Phase::Restoration(generation, _) => Some(self.name_of(*generation)),
            _ => None,
        }
    }

    /// Every generation directory, oldest first.
    pub fn generations(&self) -> Vec<GenerationInfo> {
        self.gens
            .iter()
            .map(|(generation, r)| GenerationInfo {
                generation: *generation,
                name: r.name.as_str().into(),
                created: r.created,
                status: r.status,
                objects: r.objects,
                file_count: r.file_count,
            })
            .collect()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters of the last committed or aborted snapshot.
    pub fn last_snapshot_stats(&self) -> SnapshotStats {
        self.last_stats
    }

    /// How many valid archives reference a file (derived reference count).
    pub fn references(&self, link: FileRef) -> u32 {
        self.ref_count(link)
    }

    /// The storage, for inspection.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The storage, e.g. for tests that damage files.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// The platform.
    pub fn platform_mut(&mut self) -> &mut P {
        &mut self.platform
    }

    /// Ends the manager and hands back the storage.
    pub fn into_storage(self) -> S {
        self.storage
    }

    // -----------------------------------------------------------------
    // Creating a generation

    /// Starts a new generation. Drops what incomplete generations left
    /// behind, then creates the generation's directory.
    pub fn init_snapshot(&mut self) -> Result<InitOutcome, Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("init_snapshot"));
        }
        self.sweep_incomplete();
        let generation = self.next_generation;
        if generation.0 == u32::MAX {
            log!(self, Level::Error, "generation numbers exhausted");
            return Err(Error::InitFailed);
        }
        // Names sort by time: never let a clock that went back put a new
        // generation before an old one.
        let created = self.platform.now().max(self.last_created);
        let name = GenerationName::new(created, generation);
        let snapshot_dir = layout::in_generation(name.as_str(), SNAPSHOT_DIR);
        let made = self
            .storage
            .create_dir(name.as_str())
            .and_then(|()| self.storage.create_dir(&snapshot_dir));
        // Whatever happens, this number is used: a failed attempt may have
        // left a directory under it.
        self.next_generation = Generation(generation.0 + 1);
        if let Err(e) = made {
            log!(self, Level::Error, "cannot create generation '{name}': {e}");
            self.remember_incomplete(generation, name, created);
            return Err(Error::InitFailed);
        }
        self.last_created = created;
        let outcome = match &self.base {
            Some(base) => InitOutcome::Based(base.generation),
            None => InitOutcome::NoPriorGen,
        };
        log!(self, Level::Debug, "generation '{name}' started");
        self.phase = Phase::Creation(Creation {
            generation,
            name,
            created,
            fanout: self.config.threshold.max(2),
            file_count: 0,
            // One allocation of the expected size: no doubling garbage.
            entries: Vec::with_capacity(self.base.as_ref().map_or(0, |b| b.entries.len())),
            open_dirs: Vec::new(),
            stats: SnapshotStats::default(),
            failed_writes: false,
        });
        Ok(outcome)
    }

    fn remember_incomplete(&mut self, generation: Generation, name: GenerationName, created: u64) {
        self.gens.insert(
            generation,
            GenRecord {
                name,
                created,
                status: GenerationStatus::NoArchive,
                fanout: None,
                file_count: None,
                objects: 0,
                needs_sweep: true,
                unreadable: false,
            },
        );
    }

    /// Stores one object of the generation being created. Content equal to
    /// the base generation's costs no I/O: the new archive links to the old
    /// file, unless that file already serves `redundancy` generations, in
    /// which case a fresh copy is written and listed first.
    pub fn take_snapshot(&mut self, id: ObjectId, payload: &[u8]) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Creation(_)) {
            return Err(self.wrong_state("take_snapshot"));
        }
        if payload.len() as u64 > self.config.bufsize {
            let (len, bufsize) = (payload.len(), self.config.bufsize);
            log!(
                self,
                Level::Error,
                "object {id}: payload of {len} bytes exceeds bufsize {bufsize}; not stored"
            );
            return Err(Error::PayloadTooLarge);
        }
        // bufsize is below 4 GiB (Config), so the length fits.
        let size = payload.len() as u32;
        let digest = Digest::of(payload);
        let unchanged = self
            .base
            .as_ref()
            .and_then(|base| crate::format::find_entry(&base.entries, id))
            .filter(|old| old.digest == digest && old.size == size)
            .map(|old| old.backlinks);
        let backlinks = match unchanged {
            Some(links) if !self.needs_copy(links.newest()) => links,
            Some(links) => {
                let fresh = self.write_snapshot_file(id, payload, digest)?;
                if let Phase::Creation(creation) = &mut self.phase {
                    creation.stats.redundant_copies += 1;
                }
                Backlinks::prepend(fresh, &links)
            }
            None => Backlinks::one(self.write_snapshot_file(id, payload, digest)?),
        };
        if let Phase::Creation(creation) = &mut self.phase {
            creation.entries.push(Entry {
                id,
                size,
                digest,
                backlinks,
            });
            creation.stats.objects += 1;
        }
        Ok(())
    }

    fn needs_copy(&self, newest: FileRef) -> bool {
        self.config.redundancy != 0 && self.ref_count(newest) >= self.config.redundancy
    }

    fn write_snapshot_file(
        &mut self,
        id: ObjectId,
        payload: &[u8],
        digest: Digest,
    ) -> Result<FileRef, Error> {
        let Phase::Creation(creation) = &mut self.phase else {
            return Err(Error::InvalidState);
        };
        let number = FileNumber(creation.file_count);
        // The number is spent even if the write fails, so a retry never
        // meets a half-written file under the same name.
        creation.file_count = creation
            .file_count
            .checked_add(1)
            .ok_or(Error::StorageFailed)?;
        let dirs = layout::file_dirs(creation.name.as_str(), creation.fanout, number);
        for (depth, dir) in dirs.iter().enumerate().skip(1) {
            if creation.open_dirs.get(depth) == Some(dir) {
                continue;
            }
            match self.storage.create_dir(dir) {
                Ok(()) | Err(StorageError::AlreadyExists) => {}
                Err(e) => {
                    creation.failed_writes = true;
                    log!(
                        self,
                        Level::Error,
                        "object {id}: cannot create directory '{dir}': {e}"
                    );
                    return Err(Error::StorageFailed);
                }
            }
        }
        creation.open_dirs = dirs;
        let header = SnapshotHeader::for_payload(id, payload, digest).emit();
        let path = layout::file_path(creation.name.as_str(), creation.fanout, number);
        if let Err(e) = self.storage.write_new_file(&path, &[&header, payload]) {
            creation.failed_writes = true;
            log!(
                self,
                Level::Error,
                "object {id}: cannot write '{path}': {e}"
            );
            return Err(Error::StorageFailed);
        }
        creation.stats.files_written += 1;
        creation.stats.bytes_written += (header.len() + payload.len()) as u64;
        Ok(FileRef {
            generation: creation.generation,
            file: number,
        })
    }

    /// Commits the generation: writes its archive under a temporary name,
    /// syncs, renames it into place and syncs again. The rename is the
    /// commit point. Then applies retention.
    pub fn commit_snapshot(&mut self) -> Result<(), Error> {
        let Phase::Creation(creation) = &mut self.phase else {
            return Err(self.wrong_state("commit_snapshot"));
        };
        if creation.entries.is_empty() {
            let name = creation.name.clone();
            log!(
                self,
                Level::Warning,
                "commit with no objects: generation '{name}' dropped"
            );
            self.abort();
            return Err(Error::NoData);
        }
        let orphans = sort_and_dedupe(&mut creation.entries, creation.generation);
        let mut referenced = BTreeSet::new();
        for entry in &creation.entries {
            referenced.extend(entry.backlinks.iter().map(|l| l.generation));
        }
        let mut sources = Vec::with_capacity(referenced.len());
        for generation in referenced {
            let source = if generation == creation.generation {
                Source {
                    generation,
                    name: creation.name.as_str().into(),
                    fanout: creation.fanout,
                }
            } else {
                // Every older link came from the base's entries.
                match self.base.as_ref().and_then(|b| b.source(generation)) {
                    Some(source) => source.clone(),
                    None => {
                        log!(
                            self,
                            Level::Error,
                            "internal: no source for generation {generation}; commit refused"
                        );
                        return Err(Error::StorageFailed);
                    }
                }
            };
            sources.push(source);
        }
        let bytes = match Archive::encode(
            creation.generation,
            creation.name.as_str(),
            creation.created,
            creation.fanout,
            creation.file_count,
            &sources,
            &creation.entries,
        ) {
            Ok(bytes) => bytes,
            Err(e) => {
                log!(self, Level::Error, "cannot encode the archive: {e}");
                return Err(Error::StorageFailed);
            }
        };
        let tmp = layout::in_generation(creation.name.as_str(), ARCHIVE_TMP);
        let archive = layout::in_generation(creation.name.as_str(), ARCHIVE);
        // A failed earlier attempt may have left the temporary file.
        let _ = self.storage.remove(&tmp);
        let staged = self
            .storage
            .write_new_file(&tmp, &[&bytes])
            .and_then(|()| self.storage.sync())
            .and_then(|()| self.storage.rename(&tmp, &archive));
        if let Err(e) = staged {
            let _ = self.storage.remove(&tmp);
            // The files of repeated ids found above are no longer in the
            // entries; whatever commits this generation later must sweep it.
            creation.failed_writes = true;
            log!(
                self,
                Level::Error,
                "commit of '{}' failed: {e}; the generation stays open",
                creation.name
            );
            return Err(Error::StorageFailed);
        }
        let durable = self.storage.sync();

        let Phase::Creation(creation) = core::mem::replace(&mut self.phase, Phase::Dormant) else {
            return Err(Error::InvalidState);
        };
        self.refs.add(&creation.entries);
        self.gens.insert(
            creation.generation,
            GenRecord {
                name: creation.name.clone(),
                created: creation.created,
                status: GenerationStatus::Valid,
                fanout: Some(creation.fanout),
                file_count: Some(creation.file_count),
                objects: u32::try_from(creation.entries.len()).unwrap_or(u32::MAX),
                needs_sweep: creation.failed_writes,
                unreadable: false,
            },
        );
        let mut stats = creation.stats;
        stats.archive_bytes = bytes.len() as u64;
        self.last_stats = stats;
        log!(
            self,
            Level::Info,
            "generation '{}' committed: {} objects, {} files written ({} redundant copies), {} bytes",
            creation.name,
            creation.entries.len(),
            stats.files_written,
            stats.redundant_copies,
            stats.bytes_written + stats.archive_bytes
        );
        let name = creation.name;
        self.base = Some(Loaded {
            generation: creation.generation,
            sources,
            entries: creation.entries,
        });
        for orphan in orphans {
            if self.ref_count(orphan) == 0 {
                self.delete_file(orphan);
            }
        }
        if let Err(e) = durable {
            log!(self, Level::Error, "generation '{name}' is in place but the final sync failed ({e}); it may not survive a crash");
            return Err(Error::StorageFailed);
        }
        if let Err(e) = self.apply_retention() {
            log!(self, Level::Error, "retention after commit failed: {e}");
        }
        Ok(())
    }

    /// Drops whatever is in progress: a generation being created is removed
    /// (its files are unreferenced), an open generation is closed. For a
    /// client that went away mid-call.
    pub fn abort(&mut self) {
        match core::mem::replace(&mut self.phase, Phase::Dormant) {
            Phase::Creation(creation) => {
                self.last_stats = creation.stats;
                let generation = creation.generation;
                self.remember_incomplete(generation, creation.name, creation.created);
                if let Err(e) = self.sweep_generation(generation) {
                    log!(
                        self,
                        Level::Warning,
                        "aborted generation not yet removed ({e}); the next init_snapshot retries"
                    );
                }
            }
            Phase::Restoration(..) | Phase::Purge | Phase::Dormant => {}
        }
    }

    // -----------------------------------------------------------------
    // Restoring

    /// Opens a generation for restoring: `None` or `""` for the latest.
    pub fn open_generation(&mut self, name: Option<&str>) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("open_generation"));
        }
        // An archive the start could not read (a transient I/O error) may
        // read now; else the latest generation would stay out of reach.
        self.reread_unreadable();
        let target = match name.filter(|n| !n.is_empty()) {
            None => self.latest_for_restore()?,
            Some(text) => {
                let Some(generation) = self.lookup(text) else {
                    log!(
                        self,
                        Level::Warning,
                        "open_generation: no generation named '{text}'"
                    );
                    return Err(Error::LoadGenFailed);
                };
                match self.gens.get(&generation).map(|r| r.status) {
                    Some(GenerationStatus::Valid) => generation,
                    Some(GenerationStatus::Damaged(e)) => {
                        log!(
                            self,
                            Level::Error,
                            "open_generation: '{text}' has a damaged archive ({e})"
                        );
                        return Err(decode_error(e));
                    }
                    _ => {
                        log!(
                            self,
                            Level::Warning,
                            "open_generation: '{text}' was never committed or is purged"
                        );
                        return Err(Error::LoadGenFailed);
                    }
                }
            }
        };
        let loaded = if self.base.as_ref().is_some_and(|b| b.generation == target) {
            None
        } else {
            Some(self.load(target)?)
        };
        let name = String::from(self.name_of(target));
        log!(self, Level::Debug, "generation '{name}' open for restoring");
        self.phase = Phase::Restoration(target, loaded);
        Ok(())
    }

    /// The newest generation, under the integrity policy: a damaged newest
    /// one fails the call (integrity=yes) or is skipped with a warning.
    fn latest_for_restore(&mut self) -> Result<Generation, Error> {
        let newest = self
            .gens
            .iter()
            .rev()
            .find(|(_, r)| r.status != GenerationStatus::NoArchive)
            .map(|(g, r)| (*g, r.status, r.name.clone()));
        match newest {
            None => {
                log!(self, Level::Info, "open_generation: there is no generation");
                Err(Error::NoPriorGen)
            }
            Some((generation, GenerationStatus::Valid, _)) => Ok(generation),
            Some((_, status, name)) if self.config.integrity => {
                log!(
                    self,
                    Level::Error,
                    "open_generation: the latest generation '{name}' is damaged ({status:?}); integrity=yes forbids falling back to an older one"
                );
                Err(match status {
                    GenerationStatus::Damaged(e) => decode_error(e),
                    _ => Error::IntegrityFailed,
                })
            }
            Some((_, _, name)) => {
                let fallback = self.valid_generations().next_back().map(|(g, _)| *g);
                log!(self, Level::Warning, "open_generation: the latest generation '{name}' is damaged; opening the newest intact one");
                fallback.ok_or(Error::NoPriorGen)
            }
        }
    }

    fn lookup(&self, text: &str) -> Option<Generation> {
        let (_, _, generation) = GenerationName::parse(text)?;
        self.gens
            .get(&generation)
            .filter(|r| r.name.as_str() == text)
            .map(|_| generation)
    }

    fn load(&mut self, generation: Generation) -> Result<Loaded, Error> {
        let Some(name) = self.gens.get(&generation).map(|r| r.name.clone()) else {
            return Err(Error::LoadGenFailed);
        };
        match self.read_archive(&name) {
            Ok(archive) => Ok(Loaded::from_archive(archive)),
            Err(ReadError::Missing) => {
                log!(self, Level::Error, "generation '{name}': archive vanished");
                self.set_status(generation, GenerationStatus::NoArchive);
                Err(Error::LoadGenFailed)
            }
            Err(ReadError::Io(e)) => {
                log!(
                    self,
                    Level::Error,
                    "generation '{name}': cannot read the archive: {e}"
                );
                Err(io_error(e))
            }
            Err(ReadError::Decode(e)) => {
                log!(
                    self,
                    Level::Error,
                    "generation '{name}': archive damaged ({e})"
                );
                self.set_status(generation, GenerationStatus::Damaged(e));
                Err(decode_error(e))
            }
        }
    }

    /// Copies object `id` of the open generation into `buf` and returns its
    /// length; the rest of `buf` is zeroed. Copies are tried newest first;
    /// bytes that fail a check never reach `buf`.
    pub fn restore(&mut self, id: ObjectId, buf: &mut [u8]) -> Result<usize, Error> {
        let archive = match &self.phase {
            Phase::Restoration(_, Some(loaded)) => loaded,
            Phase::Restoration(_, None) => match &self.base {
                Some(base) => base,
                None => return Err(self.wrong_state("restore")),
            },
            _ => return Err(self.wrong_state("restore")),
        };
        let Some(entry) = crate::format::find_entry(&archive.entries, id).copied() else {
            log!(
                self,
                Level::Debug,
                "restore: object {id} is not in the open generation"
            );
            return Err(Error::NoMatches);
        };
        let size = entry.size as usize;
        if buf.len() < size {
            log!(
                self,
                Level::Error,
                "restore: object {id} has {size} bytes, the buffer only {}",
                buf.len()
            );
            return Err(Error::BufferTooSmall);
        }
        let mut io_failures = 0;
        let mut version_failures = 0;
        for link in entry.backlinks.iter() {
            let Some(source) = archive.source(link.generation) else {
                continue;
            };
            let path = layout::file_path(&source.name, source.fanout, link.file);
            // The archive gives the exact length: no stat, one read, and
            // one byte more so that a longer (damaged) file shows.
            let expected = SNAPSHOT_HEADER_LEN + size;
            self.scratch.resize(expected + 1, 0);
            match self.storage.read_at(&path, 0, &mut self.scratch) {
                Ok(count) => self.scratch.truncate(count),
                Err(e) => {
                    log!(
                        self,
                        Level::Warning,
                        "restore: object {id}: copy '{path}' unreadable ({e})"
                    );
                    if e != StorageError::NotFound {
                        io_failures += 1;
                    }
                    continue;
                }
            }
            match SnapshotHeader::verify(&self.scratch) {
                Ok((header, payload))
                    if header.id == id
                        && header.digest == entry.digest
                        && payload.len() == size =>
                {
                    buf[..size].copy_from_slice(payload);
                    buf[size..].fill(0);
                    return Ok(size);
                }
                Ok(_) => log!(
                    self,
                    Level::Warning,
                    "restore: object {id}: copy '{path}' holds other content"
                ),
                Err(e) => {
                    if matches!(e, DecodeError::UnsupportedVersion(_)) {
                        version_failures += 1;
                    }
                    log!(
                        self,
                        Level::Warning,
                        "restore: object {id}: copy '{path}' is damaged ({e})"
                    )
                }
            }
        }
        buf.fill(0);
        let copies = entry.backlinks.len();
        log!(
            self,
            Level::Error,
            "restore: object {id}: none of its {copies} copies is intact"
        );
        Err(if io_failures == copies {
            Error::RestoreFailed
        } else if version_failures == copies {
            Error::InvalidVersion
        } else {
            Error::IntegrityFailed
        })
    }

    /// Ends restoring, then applies retention (as the seed does).
    pub fn close_generation(&mut self) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Restoration(..)) {
            return Err(self.wrong_state("close_generation"));
        }
        self.phase = Phase::Dormant;
        if let Err(e) = self.apply_retention() {
            log!(self, Level::Error, "retention after close failed: {e}");
        }
        Ok(())
    }

    // -----------------------------------------------------------------
    // Purging

    /// Removes a generation (`None` or `""`: the oldest) and deletes the
    /// files no other generation uses.
    pub fn purge(&mut self, name: Option<&str>) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("purge"));
        }
        let oldest = self.valid_generations().next().map(|(g, _)| *g);
        let target = match name.filter(|n| !n.is_empty()) {
            None => match oldest {
                Some(generation) => generation,
                None => {
                    log!(self, Level::Info, "purge: there is no generation");
                    return Err(Error::NoPriorGen);
                }
            },
            Some(text) => match self.lookup(text) {
                Some(generation) => generation,
                None => {
                    log!(self, Level::Warning, "purge: no generation named '{text}'");
                    return Err(Error::NoPriorGen);
                }
            },
        };
        let status = self.gens.get(&target).map(|r| r.status);
        match status {
            Some(GenerationStatus::Valid) => {
                let valid = self.valid_generations().count();
                if (valid as u64) <= u64::from(self.config.min_snapshots) {
                    log!(
                        self,
                        Level::Error,
                        "purge: refused, {valid} generation(s) left and min_snapshots is {}",
                        self.config.min_snapshots
                    );
                    return Err(Error::PurgeDenied);
                }
            }
            Some(GenerationStatus::Damaged(_)) => {}
            _ => {
                let name = String::from(self.name_of(target));
                log!(
                    self,
                    Level::Warning,
                    "purge: '{name}' is not a committed generation"
                );
                return Err(Error::NoPriorGen);
            }
        }
        self.phase = Phase::Purge;
        let result = self.purge_generation(target);
        self.phase = Phase::Dormant;
        result
    }

    /// Purges `target` (valid or damaged). The removal of its archive is the
    /// commit point; files are deleted only after that is durable.
    fn purge_generation(&mut self, target: Generation) -> Result<(), Error> {
        if !self.reread_unreadable() {
            log!(
                self,
                Level::Error,
                "purge refused: an archive cannot be read, so the files it uses are unknown"
            );
            return Err(Error::StorageFailed);
        }
        let Some(record) = self.gens.get(&target).cloned() else {
            return Err(Error::NoPriorGen);
        };
        let entries = match record.status {
            GenerationStatus::Valid => match self.base.take() {
                Some(base) if base.generation == target => base.entries,
                other => {
                    self.base = other;
                    self.load(target)?.entries
                }
            },
            // Its references are unknown; sweeping below deletes what no
            // valid archive references.
            _ => Vec::new(),
        };
        let archive = layout::in_generation(record.name.as_str(), ARCHIVE);
        let removed = match self.storage.remove(&archive) {
            Ok(()) | Err(StorageError::NotFound) => Ok(()),
            // An error may come after the removal took effect; then the
            // purge has happened and goes on.
            Err(e) if self.storage.file_size(&archive) == Err(StorageError::NotFound) => {
                log!(
                    self,
                    Level::Warning,
                    "purge of '{}': removing its archive answered {e}, but it is gone",
                    record.name
                );
                Ok(())
            }
            Err(e) => Err(e),
        };
        match removed {
            Ok(()) => {}
            Err(e) => {
                log!(
                    self,
                    Level::Error,
                    "purge of '{}' failed: cannot remove its archive: {e}",
                    record.name
                );
                if self.base.is_none() {
                    self.reload_base();
                }
                return Err(Error::StorageFailed);
            }
        }
        let was_valid = record.status == GenerationStatus::Valid;
        if let Some(r) = self.gens.get_mut(&target) {
            r.status = GenerationStatus::NoArchive;
            r.objects = 0;
            r.needs_sweep = true;
        }
        let dead = self.refs.remove(&entries);
        if self.base.is_none() {
            self.reload_base();
        }
        if let Err(e) = self.storage.sync() {
            log!(
                self,
                Level::Error,
                "purge of '{}': removing its archive was not confirmed durable ({e}); its files stay until the next sweep",
                record.name
            );
            // Files it was the last user of may sit in older generations'
            // directories: those need the sweep too.
            for link in &dead {
                self.mark_for_sweep(link.generation);
            }
            return Err(Error::StorageFailed);
        }
        let deleted = if was_valid {
            let mut doomed: BTreeSet<FileRef> = dead.into_iter().collect();
            for file in 0..record.file_count.unwrap_or(0) {
                let link = FileRef {
                    generation: target,
                    file: FileNumber(file),
                };
                if self.ref_count(link) == 0 {
                    doomed.insert(link);
                }
            }
            let own_dirs = [
                String::from(record.name.as_str()),
                layout::in_generation(record.name.as_str(), SNAPSHOT_DIR),
            ];
            let (deleted, complete) = self.delete_files(&doomed, &own_dirs);
            if complete {
                if let Some(r) = self.gens.get_mut(&target) {
                    r.needs_sweep = false;
                }
            }
            deleted
        } else {
            self.sweep_generation(target).unwrap_or(0)
        };
        log!(
            self,
            Level::Info,
            "purged '{}': {deleted} files deleted",
            record.name
        );
        Ok(())
    }

    fn reload_base(&mut self) {
        let latest = self.valid_generations().next_back().map(|(g, _)| *g);
        self.base = match latest {
            Some(generation) => match self.load(generation) {
                Ok(loaded) => Some(loaded),
                Err(e) => {
                    log!(self, Level::Error, "latest generation unusable as base ({e}); the next snapshot writes every object");
                    None
                }
            },
            None => None,
        };
    }

    /// Deletes files, then every directory left empty above them and
    /// among `also_dirs` (generation directories included). Returns how many files went and
    /// whether every deletion succeeded.
    fn delete_files(&mut self, doomed: &BTreeSet<FileRef>, also_dirs: &[String]) -> (u64, bool) {
        let mut deleted = 0;
        let mut complete = true;
        let mut dirs: BTreeSet<String> = also_dirs.iter().cloned().collect();
        let horizon = self.damage_horizon();
        let mut held = 0u64;
        for link in doomed {
            if horizon.is_some_and(|newest_damaged| link.generation <= newest_damaged) {
                held += 1;
                self.mark_for_sweep(link.generation);
                continue;
            }
            let Some((name, fanout)) = self
                .gens
                .get(&link.generation)
                .and_then(|r| Some((r.name.clone(), r.fanout?)))
            else {
                continue;
            };
            let path = layout::file_path(name.as_str(), fanout, link.file);
            match self.storage.remove(&path) {
                Ok(()) => deleted += 1,
                Err(StorageError::NotFound) => {}
                Err(e) => {
                    complete = false;
                    log!(self, Level::Warning, "cannot delete '{path}': {e}");
                    // The file may sit in another generation's directory
                    // (one purged earlier): remember to sweep that one.
                    self.mark_for_sweep(link.generation);
                }
            }
            dirs.insert(name.as_str().into());
            dirs.extend(layout::file_dirs(name.as_str(), fanout, link.file));
        }
        if held > 0 {
            log!(
                self,
                Level::Warning,
                "{held} unreferenced files kept: a damaged archive may use them (integrity=yes)"
            );
        }
        // Children sort after their parents: remove in reverse order.
        for dir in dirs.iter().rev() {
            match self.storage.remove(dir) {
                Ok(()) => {
                    if let Some((_, _, generation)) = GenerationName::parse(dir) {
                        self.forget_if_gone(generation);
                    }
                }
                Err(StorageError::NotEmpty | StorageError::NotFound) => {}
                Err(e) => {
                    log!(self, Level::Debug, "cannot remove directory '{dir}': {e}");
                    let owner = dir.split('/').next().and_then(GenerationName::parse);
                    if let Some((_, _, generation)) = owner {
                        self.mark_for_sweep(generation);
                    }
                }
            }
        }
        (deleted, complete)
    }

    fn mark_for_sweep(&mut self, generation: Generation) {
        if let Some(record) = self.gens.get_mut(&generation) {
            record.needs_sweep = true;
        }
    }

    /// Drops the record of a generation whose directory is gone.
    fn forget_if_gone(&mut self, generation: Generation) {
        if !self.refs.any_in(generation)
            && self
                .gens
                .get(&generation)
                .is_some_and(|r| r.status == GenerationStatus::NoArchive)
        {
            self.gens.remove(&generation);
        }
    }

    fn delete_file(&mut self, link: FileRef) {
        let mut one = BTreeSet::new();
        one.insert(link);
        self.delete_files(&one, &[]);
    }

    /// Purges what retention asks for; the state must be Dormant.
    pub fn purge_expired(&mut self) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("purge_expired"));
        }
        self.phase = Phase::Purge;
        let result = self.apply_retention();
        self.phase = Phase::Dormant;
        result
    }

    /// Retention: while more than max_snapshots generations exist, purge
    /// the oldest; then purge generations older than `expiration`. Never
    /// below min_snapshots, and expiration never takes the newest
    /// generation (a machine switched off for a long time must still find
    /// its last snapshot).
    fn apply_retention(&mut self) -> Result<(), Error> {
        let floor = self.config.min_snapshots as usize;
        if self.config.max_snapshots > 0 {
            loop {
                let valid = self.valid_generations().count();
                if valid <= self.config.max_snapshots as usize || valid <= floor {
                    break;
                }
                let Some(oldest) = self.valid_generations().next().map(|(g, _)| *g) else {
                    break;
                };
                log!(
                    self,
                    Level::Debug,
                    "retention: {valid} generations, max_snapshots is {}",
                    self.config.max_snapshots
                );
                self.purge_generation(oldest)?;
            }
        }
        if self.config.expiration > 0 {
            let now = self.platform.now();
            loop {
                let valid = self.valid_generations().count();
                if valid <= floor.max(1) {
                    break;
                }
                let Some((oldest, created)) = self
                    .valid_generations()
                    .next()
                    .map(|(g, r)| (*g, r.created))
                else {
                    break;
                };
                if now.saturating_sub(created) <= self.config.expiration {
                    break;
                }
                let name = String::from(self.name_of(oldest));
                log!(
                    self,
                    Level::Debug,
                    "retention: '{name}' is older than {} s",
                    self.config.expiration
                );
                self.purge_generation(oldest)?;
            }
        }
        Ok(())
    }

    /// Deletes every file that no valid archive references, in every
    /// generation directory, in one pass over the directories.
    pub fn purge_zombies(&mut self) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("purge_zombies"));
        }
        self.phase = Phase::Purge;
        if !self.reread_unreadable() {
            log!(self, Level::Error, "purge_zombies: an archive cannot be read, so the files it uses are unknown; nothing deleted");
            self.phase = Phase::Dormant;
            return Err(Error::StorageFailed);
        }
        let mut held_for_integrity = false;
        let mut failed = false;
        let mut deleted = 0;
        let generations: Vec<Generation> = self.gens.keys().copied().collect();
        for generation in generations {
            let Some(record) = self.gens.get(&generation).cloned() else {
                continue;
            };
            if let GenerationStatus::Damaged(e) = record.status {
                if self.config.integrity {
                    log!(self, Level::Error, "purge_zombies: '{}' has a damaged archive ({e}); kept for inspection (integrity=yes)", record.name);
                    held_for_integrity = true;
                    continue;
                }
                log!(self, Level::Warning, "purge_zombies: '{}' has a damaged archive ({e}); deleting it as garbage (integrity=no)", record.name);
                self.set_status(generation, GenerationStatus::NoArchive);
            }
            match self.sweep_generation(generation) {
                Ok(count) => deleted += count,
                Err(e) => {
                    failed = true;
                    log!(
                        self,
                        Level::Error,
                        "purge_zombies: '{}' not fully swept: {e}",
                        record.name
                    );
                }
            }
        }
        self.phase = Phase::Dormant;
        log!(
            self,
            Level::Info,
            "purge_zombies: {deleted} unreferenced files deleted"
        );
        if held_for_integrity {
            Err(Error::IntegrityFailed)
        } else if failed {
            Err(Error::StorageFailed)
        } else {
            Ok(())
        }
    }

    /// With integrity=yes, the newest generation whose archive is damaged.
    /// Its archive is kept for repair, and once repaired it may reference
    /// its own files and those of any older generation (backlinks never
    /// point forward), so no file of those generations is deleted until the
    /// damage is repaired or that generation is purged by name.
    fn damage_horizon(&self) -> Option<Generation> {
        if !self.config.integrity {
            return None;
        }
        self.gens
            .iter()
            .rev()
            .find(|(_, r)| matches!(r.status, GenerationStatus::Damaged(_)))
            .map(|(g, _)| *g)
    }

    fn sweep_incomplete(&mut self) {
        if !self.reread_unreadable() {
            log!(self, Level::Warning, "incomplete generations not swept: an archive cannot be read, so the files it uses are unknown");
            return;
        }
        let pending: Vec<Generation> = self
            .gens
            .iter()
            .filter(|(_, r)| r.needs_sweep && !matches!(r.status, GenerationStatus::Damaged(_)))
            .map(|(g, _)| *g)
            .collect();
        for generation in pending {
            match self.sweep_generation(generation) {
                Ok(count) if count > 0 => log!(
                    self,
                    Level::Info,
                    "dropped {count} files of an incomplete generation"
                ),
                Ok(_) => {}
                Err(e) => log!(
                    self,
                    Level::Warning,
                    "incomplete generation not fully removed ({e}); retried later"
                ),
            }
        }
    }

    /// Deletes every file of one generation directory that no valid archive
    /// references (its own archive is kept while the generation is valid),
    /// and the directories that become empty.
    fn sweep_generation(&mut self, generation: Generation) -> Result<u64, StorageError> {
        let Some(record) = self.gens.get(&generation).cloned() else {
            return Ok(0);
        };
        if self
            .damage_horizon()
            .is_some_and(|newest_damaged| generation <= newest_damaged)
        {
            log!(
                self,
                Level::Debug,
                "'{}' not swept: a damaged archive may use its files (integrity=yes)",
                record.name
            );
            return Ok(0);
        }
        let mut deleted = 0;
        let emptied = self.sweep_dir(
            &record,
            generation,
            record.name.as_str().into(),
            &mut deleted,
        )?;
        if emptied {
            self.storage.remove(record.name.as_str())?;
            self.forget_if_gone(generation);
        } else if let Some(r) = self.gens.get_mut(&generation) {
            r.needs_sweep = false;
        }
        Ok(deleted)
    }

    /// Sweeps `dir` recursively; true if nothing is left in it.
    fn sweep_dir(
        &mut self,
        record: &GenRecord,
        generation: Generation,
        dir: String,
        deleted: &mut u64,
    ) -> Result<bool, StorageError> {
        let entries = match self.storage.list_dir(&dir) {
            Ok(entries) => entries,
            Err(StorageError::NotFound) => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut kept = 0;
        for entry in entries {
            let path = alloc::format!("{dir}/{}", entry.name);
            let keep = match entry.kind {
                EntryKind::Dir => {
                    if self.sweep_dir(record, generation, path.clone(), deleted)? {
                        self.storage.remove(&path)?;
                        false
                    } else {
                        true
                    }
                }
                EntryKind::File => self.is_live_file(record, generation, &path),
            };
            if keep {
                kept += 1;
            } else if entry.kind == EntryKind::File {
                self.storage.remove(&path)?;
                *deleted += 1;
                log!(self, Level::Debug, "deleted unreferenced '{path}'");
            }
        }
        Ok(kept == 0)
    }

    fn is_live_file(&self, record: &GenRecord, generation: Generation, path: &str) -> bool {
        if record.status == GenerationStatus::Valid
            && path == layout::in_generation(record.name.as_str(), ARCHIVE)
        {
            return true;
        }
        let Some(fanout) = record.fanout else {
            return false;
        };
        let Some(leaf) = path.rsplit('/').next() else {
            return false;
        };
        let Ok(number) = u32::from_str_radix(leaf, 16) else {
            return false;
        };
        let link = FileRef {
            generation,
            file: FileNumber(number),
        };
        self.ref_count(link) > 0
            && layout::file_path(record.name.as_str(), fanout, link.file) == path
    }
}

/// Sorts entries by id; of two entries for one id the later wins. Returns
/// the files of this generation that only the dropped entries used.
fn sort_and_dedupe(entries: &mut Vec<Entry>, generation: Generation) -> Vec<FileRef> {
    entries.sort_by_key(|e| e.id);
    let mut orphans = Vec::new();
    let mut kept: Vec<Entry> = Vec::with_capacity(entries.len());
    for entry in entries.drain(..) {
        match kept.last_mut() {
            Some(last) if last.id == entry.id => {
                let replaced = core::mem::replace(last, entry);
                orphans.extend(
                    replaced
                        .backlinks
                        .iter()
                        .filter(|l| {
                            l.generation == generation && !entry.backlinks.iter().any(|n| n == *l)
                        })
                        .copied(),
                );
            }
            _ => kept.push(entry),
        }
    }
    *entries = kept;
    orphans
}

enum ReadError {
    Missing,
    Io(StorageError),
    Decode(DecodeError),
}
