//! A look at a snapper root through the engine, and nothing else: which
//! generations exist and what they are (`Snapper::generations`,
//! `pack_usage`), their archives (`Snapper::archive`), every check
//! (`verify_generation`, `check_pack`, `engine::inspect::check_pack_file`)
//! and the sweep's verdict (`unused_files`). The tool reads no archive and
//! no pack by itself and restates none of the engine's rules.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;

use snapper_core::engine::inspect::{CopyProblem, PackError};
use snapper_core::{
    Config, Error as CoreError, Generation, GenerationStatus, Level, Platform, Snapper, Storage,
    StorageError,
};

/// The platform the engine runs on inside the tool: the system clock, and
/// log lines kept rather than printed, so that each command decides what to
/// show (with `--verbose`, all of them on stderr). The lines are shared, so
/// that those of a failed `Snapper::open` are not lost with the platform.
#[derive(Clone, Debug, Default)]
pub struct Collect(Rc<RefCell<Vec<(Level, String)>>>);

impl Collect {
    /// The lines logged since the last call.
    pub fn take(&self) -> Vec<(Level, String)> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

impl Platform for Collect {
    fn now(&mut self) -> u64 {
        now()
    }

    fn log(&mut self, level: Level, message: fmt::Arguments<'_>) {
        self.0.borrow_mut().push((level, message.to_string()));
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The configuration for read-only work: no retention (max_snapshots and
/// expiration 0), so that no engine call can purge anything.
pub fn read_only_config() -> Config {
    Config {
        max_snapshots: 0,
        expiration: 0,
        ..Config::default()
    }
}

/// Why the engine did not open a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The root holds generations of another format (the engine answered
    /// `InvalidVersion` and left the root untouched); the engine's error
    /// lines, which say which format.
    OtherFormat(Vec<String>),
    /// Anything else (the root cannot be listed).
    Failed(CoreError, Vec<String>),
}

impl OpenError {
    /// The message for the user, naming `root`.
    pub fn message(&self, root: &dyn fmt::Display) -> String {
        match self {
            OpenError::OtherFormat(lines) => format!(
                "{root}: refused: not a format-2 snapper root (this snapperctl reads \
                 format 2, pack storage, only; nothing was changed): {}",
                if lines.is_empty() {
                    "the engine answered invalid version".to_string()
                } else {
                    lines.join("; ")
                }
            ),
            OpenError::Failed(error, lines) => format!(
                "{root}: cannot open the snapper root ({error}){}",
                if lines.is_empty() {
                    String::new()
                } else {
                    format!(": {}", lines.join("; "))
                }
            ),
        }
    }
}

/// The engine as the tool runs it.
pub type Engine<S> = Snapper<S, Collect>;

/// Opens the root through the engine. `log` receives every line the engine
/// logs, now and later.
pub fn open_engine<S: Storage>(
    storage: S,
    config: Config,
    log: &Collect,
) -> Result<Engine<S>, OpenError> {
    Snapper::open(storage, log.clone(), config).map_err(|error| {
        let lines: Vec<String> = log
            .0
            .borrow()
            .iter()
            .filter(|(level, _)| *level == Level::Error)
            .map(|(_, line)| line.clone())
            .collect();
        match error {
            CoreError::InvalidVersion => OpenError::OtherFormat(lines),
            other => OpenError::Failed(other, lines),
        }
    })
}

/// What a generation directory is, in the tool's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Committed and its archive checks out.
    Valid,
    /// The archive exists but fails its checks; why.
    Damaged(String),
    /// The archive could not be read (an I/O error); it may read later.
    Unreadable,
    /// No archive, but valid generations still use its packs.
    Purged,
    /// No archive and no valid generation uses its packs: an interrupted
    /// snapshot (or a lost archive); gc removes it.
    Incomplete,
}

/// In JSON, the one word.
impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.word())
    }
}

impl Status {
    /// One word for tables and JSON.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Damaged(_) => "damaged",
            Status::Unreadable => "unreadable",
            Status::Purged => "purged",
            Status::Incomplete => "incomplete",
        }
    }

    /// Why, when not valid.
    pub fn why(&self) -> Option<String> {
        match self {
            Status::Valid => None,
            Status::Damaged(why) => Some(format!("archive {why}")),
            Status::Unreadable => Some("the archive cannot be read (I/O error)".into()),
            Status::Purged => {
                Some("archive removed by purge; later generations use its packs".into())
            }
            Status::Incomplete => {
                Some("no archive: an interrupted snapshot or a lost archive".into())
            }
        }
    }

    /// A generation whose archive is there but not usable.
    pub fn is_damaged(&self) -> bool {
        matches!(self, Status::Damaged(_) | Status::Unreadable)
    }
}

/// One generation directory.
#[derive(Clone, Debug)]
pub struct GenView {
    /// Its number.
    pub generation: Generation,
    /// Its directory name.
    pub name: String,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// What it is.
    pub status: Status,
    /// Objects in its archive (valid generations).
    pub objects: u32,
    /// Payload bytes of each pack it wrote, when the engine knows them
    /// (from its own archive or from one that uses its packs).
    pub packs: Option<Vec<u64>>,
}

/// Every generation directory of the root, oldest first, with the status
/// the engine gives it (damage and I/O errors apart).
pub fn generations<S: Storage>(snapper: &mut Engine<S>) -> Vec<GenView> {
    let used: BTreeSet<Generation> = snapper
        .pack_usage()
        .iter()
        .map(|u| u.pack.generation)
        .collect();
    let infos = snapper.generations();
    let mut out = Vec::with_capacity(infos.len());
    for info in infos {
        let status = match info.status {
            GenerationStatus::Valid => Status::Valid,
            GenerationStatus::Damaged(decode) => Status::Damaged(decode.to_string()),
            GenerationStatus::Unreadable(_) => Status::Unreadable,
            GenerationStatus::NoArchive if used.contains(&info.generation) => Status::Purged,
            GenerationStatus::NoArchive => Status::Incomplete,
        };
        out.push(GenView {
            generation: info.generation,
            name: info.name,
            created: info.created,
            status,
            objects: info.objects,
            packs: info.packs,
        });
    }
    out
}

/// The generation named by `spec`: its directory name, its number,
/// `latest` or `oldest` (both among valid generations).
pub fn find<'a>(gens: &'a [GenView], spec: &str) -> Option<&'a GenView> {
    match spec {
        "latest" | "newest" => gens.iter().rev().find(|g| g.status == Status::Valid),
        "oldest" => gens.iter().find(|g| g.status == Status::Valid),
        _ => {
            if let Ok(number) = spec.parse::<u32>() {
                return gens.iter().find(|g| g.generation.0 == number);
            }
            gens.iter().find(|g| g.name == spec)
        }
    }
}

/// A copy's problem, in words.
pub fn copy_problem(problem: &CopyProblem) -> String {
    match problem {
        CopyProblem::Unreadable(StorageError::NotFound) => "pack missing".into(),
        CopyProblem::Unreadable(e) => format!("pack unreadable ({e})"),
        CopyProblem::Truncated => "pack shorter than the copy's range".into(),
        CopyProblem::CrcMismatch => "checksum mismatch".into(),
        CopyProblem::UnknownCodec(codec) => format!("codec {codec}, unknown to this build"),
    }
}

/// A pack's problem as a whole, in words.
pub fn pack_problem(problem: &PackError) -> String {
    match problem {
        PackError::Unreadable(StorageError::NotFound) => "missing".into(),
        PackError::Unreadable(e) => format!("unreadable ({e})"),
        PackError::Damaged(e) => format!("index or trailer damaged ({e})"),
    }
}

/// Every file below `dir` (relative to the root), in path order.
/// Directories that cannot be listed are reported in `errors`.
pub fn files_below<S: Storage>(
    storage: &mut S,
    dir: &str,
    errors: &mut Vec<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_string()];
    while let Some(dir) = pending.pop() {
        let entries = match storage.list_dir(&dir) {
            Ok(entries) => entries,
            Err(StorageError::NotFound) => continue,
            Err(e) => {
                errors.push(format!("{dir}: cannot list ({e})"));
                continue;
            }
        };
        for entry in entries {
            let path = format!("{dir}/{}", entry.name);
            match entry.kind {
                snapper_core::EntryKind::Dir => pending.push(path),
                snapper_core::EntryKind::File => out.push(path),
            }
        }
    }
    out.sort();
    out
}
