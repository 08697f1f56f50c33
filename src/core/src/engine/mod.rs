//! The engine of format 2 (pack storage), laid out by state:
//!
//! - [`catalog`]: what is known about the root, no I/O (generations, where
//!   their packs are, reference counts per stored payload);
//! - [`read`]: the one archive reader, used by the start-up scan, the
//!   re-read after an I/O error and loading a generation for restore;
//! - [`create`], [`restore`], [`purge`], [`sweep`]: one module per
//!   operation, each handed the context and its own phase data;
//! - this module: the facade, which alone owns the state machine.
//!
//! doc/DESIGN.md gives the invariants and what a crash leaves behind at
//! each step; doc/FORMAT.md every byte.

mod catalog;
mod create;
pub mod inspect;
mod log_store;
mod purge;
mod read;
mod restore;
mod sweep;
mod window;

use alloc::string::String;
use alloc::vec::Vec;

use crate::archive::{Archive, Entry, Source};
use crate::config::Config;
use crate::error::Error;
use crate::format::DecodeError;
use crate::storage::Storage;
use crate::types::Generation;

pub use crate::platform::{Level, Platform};
pub use catalog::PackUsage;

use catalog::Catalog;
use create::Creation;
use restore::Restoration;

/// The states of the session (the seed's names, but for Purge: a purge
/// runs inside one call, so no caller can see it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Nothing in progress.
    Dormant,
    /// A generation is being created (between init_snapshot and commit_snapshot).
    Creation,
    /// A generation is open for restoring.
    Restoration,
}

/// What init_snapshot found to compare against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitOutcome {
    /// Unchanged objects will link to this generation's copies.
    Based(Generation),
    /// No earlier generation: every object is written (wire code 1, as the seed).
    NoPriorGen,
}

/// Whether a generation directory holds a usable archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerationStatus {
    /// A committed generation.
    Valid,
    /// The archive exists but failed its checks: damage that stays.
    Damaged(DecodeError),
    /// The archive could not be read (an I/O error, which may pass): the
    /// generation is not used, and nothing is deleted, until it reads.
    Unreadable(crate::storage::StorageError),
    /// No archive: an uncommitted generation, or a purged one whose packs
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
    /// Payload bytes of the packs it wrote (when known).
    pub packs: Option<Vec<u64>>,
}

/// Counters of the last snapshot, for logs and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// take_snapshot calls that were accepted.
    pub objects: u64,
    /// Payloads written into packs (new content and extra copies).
    pub payloads_written: u64,
    /// Of those, redundant copies of unchanged content.
    pub redundant_copies: u64,
    /// Of those, copies moved out of sparse packs.
    pub copied_forward: u64,
    /// Objects linked to equal content stored under another id.
    pub deduplicated: u64,
    /// Objects the client said were unchanged (no payload, no digest).
    pub hinted: u64,
    /// Pack files written.
    pub packs_written: u64,
    /// Bytes of the pack files.
    pub pack_bytes: u64,
    /// Bytes of the archive.
    pub archive_bytes: u64,
}

/// A generation's archive held in memory.
#[derive(Clone, Debug)]
pub(crate) struct Loaded {
    pub generation: Generation,
    pub sources: Vec<Source>,
    pub entries: Vec<Entry>,
}

impl Loaded {
    pub fn from_archive(archive: Archive) -> Self {
        Loaded {
            generation: archive.generation,
            sources: archive.sources,
            entries: archive.entries,
        }
    }

    pub fn source(&self, generation: Generation) -> Option<&Source> {
        crate::archive::find_source(&self.sources, generation)
    }
}

/// Everything but the phase: what each operation is handed.
pub(crate) struct Ctx<S: Storage, P: Platform> {
    pub storage: S,
    pub platform: P,
    pub config: Config,
    pub catalog: Catalog,
    /// The latest valid generation's archive: what change detection compares against.
    pub base: Option<Loaded>,
    pub next_generation: Generation,
    pub last_created: u64,
    pub last_stats: SnapshotStats,
    pub scratch: Vec<u8>,
    /// The payload buffer of the last pack written, kept for the next one.
    pub spare_pack: Option<Vec<u8>>,
    /// The read-ahead window's buffer (up to 1 MiB), kept from one
    /// creation or restoration to the next. On Genode a megabyte allocated
    /// anew is a fresh dataspace whose pages fault in one by one; that cost
    /// a restore of 1000 x 4 KiB a quarter of its time on lwext4.
    pub spare_window: Vec<u8>,
    /// The archive log.
    pub log: log_store::LogState,
}

/// Formats a log line through the platform, skipping debug lines unless verbose.
macro_rules! log {
    ($ctx:expr, $level:expr, $($arg:tt)*) => {{
        let level = $level;
        if level != $crate::platform::Level::Debug || $ctx.config.verbose {
            $ctx.platform.log(level, format_args!($($arg)*))
        }
    }};
}
pub(crate) use log;

enum Phase {
    Dormant,
    // Boxed: the creation's bookkeeping is large, and held once.
    Creation(alloc::boxed::Box<Creation>),
    Restoration(Restoration),
}

/// Snapper (format 2) over a storage and a platform.
pub struct Snapper<S: Storage, P: Platform> {
    ctx: Ctx<S, P>,
    phase: Phase,
}

impl<S: Storage, P: Platform> Snapper<S, P> {
    /// Opens the snapper root: reads every archive, derives the reference
    /// counts and finds the latest generation. Fails if the root cannot be
    /// listed, or if it holds generations of another format (which it
    /// leaves untouched); damaged generations are reported and left alone.
    pub fn open(storage: S, platform: P, config: Config) -> Result<Self, Error> {
        let mut ctx = Ctx {
            storage,
            platform,
            config,
            catalog: Catalog::default(),
            base: None,
            next_generation: Generation(1),
            last_created: 0,
            last_stats: SnapshotStats::default(),
            scratch: Vec::new(),
            spare_pack: None,
            spare_window: Vec::new(),
            log: log_store::LogState::default(),
        };
        read::scan(&mut ctx)?;
        Ok(Snapper {
            ctx,
            phase: Phase::Dormant,
        })
    }

    /// Ends the creation or restoration in progress (Dormant), keeping its
    /// window's buffer for the next one, and hands the phase back.
    fn leave_phase(&mut self) -> Phase {
        let mut phase = core::mem::replace(&mut self.phase, Phase::Dormant);
        let window = match &mut phase {
            Phase::Creation(creation) => core::mem::take(&mut creation.window),
            Phase::Restoration(restoration) => core::mem::take(&mut restoration.window),
            Phase::Dormant => return phase,
        };
        self.ctx.spare_window = window.into_buffer();
        phase
    }

    /// Logs a call made in a state that does not allow it; nothing changes.
    fn wrong_state(&mut self, call: &str) -> Error {
        let state = self.state();
        log!(
            self.ctx,
            Level::Warning,
            "{call}: not allowed in state {state:?}; nothing done"
        );
        Error::InvalidState
    }

    // -----------------------------------------------------------------
    // Inspection

    /// The current state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Dormant => State::Dormant,
            Phase::Creation(_) => State::Creation,
            Phase::Restoration(_) => State::Restoration,
        }
    }

    /// The name of the generation open for restoring.
    pub fn open_generation_name(&self) -> Option<&str> {
        match &self.phase {
            Phase::Restoration(r) => Some(self.ctx.catalog.name_of(r.generation)),
            _ => None,
        }
    }

    /// Every generation directory, oldest first.
    pub fn generations(&self) -> Vec<GenerationInfo> {
        self.ctx
            .catalog
            .gens
            .iter()
            .map(|(generation, r)| GenerationInfo {
                generation: *generation,
                name: r.name.as_str().into(),
                created: r.created,
                status: r.status,
                objects: r.objects,
                packs: self
                    .ctx
                    .catalog
                    .packs_of(*generation)
                    .map(|p| p.payload_bytes.clone()),
            })
            .collect()
    }

    /// Every pack some valid archive uses, with how much of it is used.
    pub fn pack_usage(&self) -> Vec<PackUsage> {
        self.ctx.catalog.usage()
    }

    /// Payload bytes of the packs valid archives use, and of the payloads
    /// in them that are used: the garbage bound is stated over these.
    pub fn disk_and_live_bytes(&self) -> (u64, u64) {
        self.ctx.catalog.disk_and_live_bytes()
    }

    /// How many valid archives use the payload at `location`.
    pub fn references(&self, location: crate::types::Location) -> u32 {
        self.ctx.catalog.count(location)
    }

    /// The archive of a valid generation, read from disk and checked.
    pub fn archive(&mut self, generation: Generation) -> Result<Archive, Error> {
        read::load(&mut self.ctx, generation).map(|loaded| {
            let (name, created) = self
                .ctx
                .catalog
                .record(generation)
                .map(|r| (String::from(r.name.as_str()), r.created))
                .unwrap_or_default();
            let own = self.ctx.catalog.packs_of(generation);
            Archive {
                generation,
                name,
                created,
                fanout: own.map_or(0, |p| p.fanout),
                packs: own.map(|p| p.payload_bytes.clone()).unwrap_or_default(),
                sources: loaded.sources,
                entries: loaded.entries,
            }
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.ctx.config
    }

    /// Counters of the last committed or aborted snapshot.
    pub fn last_snapshot_stats(&self) -> SnapshotStats {
        self.ctx.last_stats
    }

    /// The storage, for inspection.
    pub fn storage(&self) -> &S {
        &self.ctx.storage
    }

    /// The storage, e.g. for tests that damage files.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.ctx.storage
    }

    /// The platform.
    pub fn platform_mut(&mut self) -> &mut P {
        &mut self.ctx.platform
    }

    /// Ends the manager and hands back the storage.
    pub fn into_storage(self) -> S {
        self.ctx.storage
    }

    // -----------------------------------------------------------------
    // The session's operations

    /// Starts a new generation. Drops what incomplete generations left
    /// behind, then creates the generation's directory.
    pub fn init_snapshot(&mut self) -> Result<InitOutcome, Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("init_snapshot"));
        }
        sweep::sweep_incomplete(&mut self.ctx);
        let (creation, outcome) = create::init(&mut self.ctx)?;
        self.phase = Phase::Creation(alloc::boxed::Box::new(creation));
        Ok(outcome)
    }

    /// Stores one object of the generation being created. Content equal to
    /// the base generation's costs no I/O (the archive links to the old
    /// copy); new content is appended to the generation's current pack.
    pub fn take_snapshot(
        &mut self,
        id: crate::types::ObjectId,
        payload: &[u8],
    ) -> Result<(), Error> {
        match &mut self.phase {
            Phase::Creation(creation) => create::take(&mut self.ctx, creation, id, payload),
            _ => Err(self.wrong_state("take_snapshot")),
        }
    }

    /// Takes object `id` as unchanged since the base generation, without
    /// its payload (the client knows it did not write it): the new
    /// generation links to the base's copies, no digest is computed. The
    /// server cannot check the claim (it never sees the bytes): a client
    /// that hints a changed object loses that change. An id the base does
    /// not hold answers NoMatches and nothing is stored.
    pub fn take_unchanged(&mut self, id: crate::types::ObjectId) -> Result<(), Error> {
        match &mut self.phase {
            Phase::Creation(creation) => create::take_unchanged(&mut self.ctx, creation, id),
            _ => Err(self.wrong_state("take_unchanged")),
        }
    }

    /// Commits the generation: writes its last pack, its archive under a
    /// temporary name, syncs, renames the archive into place and syncs
    /// again. The rename is the commit point. Then applies retention.
    pub fn commit_snapshot(&mut self) -> Result<(), Error> {
        let Phase::Creation(creation) = &mut self.phase else {
            return Err(self.wrong_state("commit_snapshot"));
        };
        if creation.is_empty() {
            log!(
                self.ctx,
                Level::Warning,
                "commit with no objects: generation '{}' dropped",
                creation.name()
            );
            self.abort();
            return Err(Error::NoData);
        }
        create::write_archive(&mut self.ctx, creation)?;
        let Phase::Creation(creation) = self.leave_phase() else {
            return Err(Error::InvalidState);
        };
        create::adopt_committed(&mut self.ctx, *creation)?;
        if let Err(e) = purge::apply_retention(&mut self.ctx) {
            log!(self.ctx, Level::Error, "retention after commit failed: {e}");
        }
        Ok(())
    }

    /// Drops whatever is in progress: a generation being created is removed
    /// (its packs are unreferenced), an open generation is closed. For a
    /// client that went away mid-call.
    pub fn abort(&mut self) {
        if let Phase::Creation(creation) = self.leave_phase() {
            create::drop_creation(&mut self.ctx, *creation);
        }
    }

    /// Opens a generation for restoring: `None` or `""` for the latest.
    pub fn open_generation(&mut self, name: Option<&str>) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("open_generation"));
        }
        let restoration = restore::open(&mut self.ctx, name)?;
        self.phase = Phase::Restoration(restoration);
        Ok(())
    }

    /// Copies object `id` of the open generation into `buf` and returns its
    /// length; the rest of `buf` is zeroed. Copies are tried newest first;
    /// bytes that fail a check never reach `buf`.
    pub fn restore(&mut self, id: crate::types::ObjectId, buf: &mut [u8]) -> Result<usize, Error> {
        match &mut self.phase {
            Phase::Restoration(restoration) => {
                restore::restore(&mut self.ctx, restoration, id, buf)
            }
            _ => Err(self.wrong_state("restore")),
        }
    }

    /// The size of object `id` in the generation open for restoring, if it
    /// holds it (`None` also outside Restoration). For a server that packs
    /// several objects into one buffer: it can check room first, instead
    /// of a restore failing with BufferTooSmall, and hand restore a slice
    /// of exactly that size (restore zeroes the rest of what it is given).
    pub fn object_size(&self, id: crate::types::ObjectId) -> Option<u32> {
        match &self.phase {
            Phase::Restoration(restoration) => restore::object_size(&self.ctx, restoration, id),
            _ => None,
        }
    }

    /// Ends restoring and applies retention, as the seed does.
    pub fn close_generation(&mut self) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Restoration(_)) {
            return Err(self.wrong_state("close_generation"));
        }
        self.leave_phase();
        if let Err(e) = purge::apply_retention(&mut self.ctx) {
            log!(self.ctx, Level::Error, "retention after close failed: {e}");
        }
        Ok(())
    }

    /// Purges a generation: `None` or `""` for the oldest.
    pub fn purge(&mut self, name: Option<&str>) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("purge"));
        }
        purge::purge_named(&mut self.ctx, name)
    }

    /// Purges what retention asks for.
    pub fn purge_expired(&mut self) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("purge_expired"));
        }
        purge::apply_retention(&mut self.ctx)
    }

    /// Deletes every pack that no valid archive uses, in every generation
    /// directory, in one pass over the directories.
    pub fn purge_zombies(&mut self) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Dormant) {
            return Err(self.wrong_state("purge_zombies"));
        }
        sweep::purge_zombies(&mut self.ctx)
    }
}
