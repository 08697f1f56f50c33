//! The commands, one module each: `run` opens the root and puts the
//! steps together, a `report` function asks the engine and builds the
//! report (what the JSON output is), and `print` writes the table. This
//! module holds what they share: the options every command takes, the
//! failure kinds and their exit codes, stdout that survives a closed pipe,
//! and the engine session over a root.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use snapper_core::archive::{Archive, Entry};
use snapper_core::layout::{self, ARCHIVE};
use snapper_core::{Config, Error as CoreError, Level, Location, PackRef, Storage};

use crate::inspect::{self, open_engine, Collect, Engine, GenView, Status};

/// The options every command takes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// One JSON document on stdout instead of a table.
    pub json: bool,
    /// The engine's log lines on stderr.
    pub verbose: bool,
}

/// Why a command did not succeed, with the exit code scripts see.
#[derive(Debug)]
pub enum Failure {
    /// Damage found (exit 1).
    Damage(String),
    /// Bad arguments (exit 2).
    Usage(String),
    /// A root, image or output that cannot be read or written (exit 3).
    Io(String),
    /// No such generation or object (exit 4).
    NotFound(String),
    /// The request would break a rule (exit 5).
    Refused(String),
}

impl Failure {
    /// The exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Damage(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Io(_) => 3,
            Failure::NotFound(_) => 4,
            Failure::Refused(_) => 5,
        }
    }

    /// The message for stderr (empty when the report said it all).
    pub fn message(&self) -> &str {
        match self {
            Failure::Damage(m)
            | Failure::Usage(m)
            | Failure::Io(m)
            | Failure::NotFound(m)
            | Failure::Refused(m) => m,
        }
    }
}

/// What a command ends with.
pub type Outcome = Result<(), Failure>;

/// Set once stdout is a closed pipe (`snapperctl list | head -1`).
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Like println!, but a reader that went away (or any stdout error) does
/// not panic: the command runs to its end and exits with its own code, so
/// `snapperctl verify | head` still reports damage in its exit status.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cmd::emit(format_args!($($arg)*))
    };
}

pub(crate) fn emit(line: std::fmt::Arguments<'_>) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("snapperctl: stdout: {e}");
        }
    }
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> Outcome {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            out!("{text}");
            Ok(())
        }
        Err(e) => Err(Failure::Io(format!("encoding JSON: {e}"))),
    }
}

/// The root opened through the engine, with its generations.
pub struct Session<S: Storage> {
    /// The engine over the root.
    pub engine: Engine<S>,
    log: Collect,
    verbose: bool,
    /// The root's generations, oldest first.
    pub gens: Vec<GenView>,
}

impl<S: Storage> Session<S> {
    /// Opens the root through the engine. A root of another format is
    /// refused here, by the engine (which leaves it untouched).
    pub fn open(
        root: &dyn std::fmt::Display,
        g: &Options,
        storage: S,
        config: Config,
    ) -> Result<Self, Failure> {
        let log = Collect::default();
        let opened = open_engine(storage, config, &log);
        show_log(g.verbose, &log.take());
        let mut engine = opened.map_err(|e| Failure::Io(e.message(root)))?;
        let gens = inspect::generations(&mut engine);
        show_log(g.verbose, &log.take());
        Ok(Session {
            engine,
            log,
            verbose: g.verbose,
            gens,
        })
    }

    /// Prints what the engine logged since the last call (with --verbose).
    pub fn flush_log(&self) {
        show_log(self.verbose, &self.log.take());
    }

    pub fn find(&self, spec: &str) -> Result<GenView, Failure> {
        inspect::find(&self.gens, spec).cloned().ok_or_else(|| {
            Failure::NotFound(format!("no generation '{spec}' (see `snapperctl list`)"))
        })
    }

    /// The archive of a valid generation, read and checked by the engine.
    pub fn archive(&mut self, view: &GenView) -> Result<Archive, Failure> {
        let archive = self.engine.archive(view.generation);
        self.flush_log();
        archive.map_err(|e| {
            Failure::Damage(format!(
                "generation {} ({}): its archive no longer reads ({e})",
                view.generation, view.name
            ))
        })
    }

    /// The path of a copy's pack, from the engine (or, for a generation
    /// whose directory is gone, from the archive's source record).
    pub fn pack_path(&self, archive: &Archive, pack: PackRef) -> String {
        self.engine.pack_path(pack).unwrap_or_else(|| {
            archive
                .source(pack.generation)
                .map(|s| layout::pack_path(&s.name, s.fanout, pack.pack))
                .unwrap_or_default()
        })
    }
}

pub(crate) fn show_log(verbose: bool, lines: &[(Level, String)]) {
    if verbose {
        for (level, line) in lines {
            eprintln!("[snapper] {level:?}: {line}");
        }
    }
}

pub(crate) fn require_valid(view: &GenView) -> Outcome {
    match &view.status {
        Status::Valid => Ok(()),
        status if status.is_damaged() => Err(Failure::Damage(format!(
            "generation {} ({}): {}; the engine cannot restore it \
             (`snapperctl salvage {} -o DIR` rescues the objects it wrote itself)",
            view.generation,
            view.name,
            status.why().unwrap_or_default(),
            view.generation
        ))),
        other => Err(Failure::NotFound(format!(
            "generation {} ({}) is {}: {}",
            view.generation,
            view.name,
            other.word(),
            other.why().unwrap_or_default()
        ))),
    }
}

/// The distinct stored payloads an archive uses, with their length.
pub(crate) fn distinct_copies(entries: &[Entry]) -> BTreeMap<Location, u32> {
    entries
        .iter()
        .flat_map(|e| e.copies.iter().map(|c| (c.location(), c.length)))
        .collect()
}

pub(crate) fn archive_path(name: &str) -> String {
    layout::in_generation(name, ARCHIVE)
}

/// Creates `path` with `bytes`, refusing to replace an existing file.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Outcome {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                Failure::Refused(format!("{}: exists; not overwritten", path.display()))
            }
            _ => Failure::Io(format!("{}: {e}", path.display())),
        })?;
    // No fsync per file: a restore can be repeated from the snapper root,
    // and 1024 fsyncs made `restore --all` ten times slower.
    file.write_all(bytes)
        .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))
}

/// The failure an engine error of purge or gc means.
pub(crate) fn engine_failure(what: &str, error: CoreError) -> Failure {
    match error {
        CoreError::PurgeDenied => Failure::Refused(format!("{what}: refused by --keep")),
        CoreError::NoPriorGen | CoreError::LoadGenFailed => {
            Failure::NotFound(format!("{what}: no such committed generation"))
        }
        CoreError::IntegrityFailed | CoreError::InvalidVersion => {
            Failure::Damage(format!("{what}: {error}"))
        }
        _ => Failure::Io(format!("{what}: {error}")),
    }
}

mod change;
pub mod du;
pub mod gc;
pub mod list;
pub mod mkimage;
pub mod purge;
pub mod restore;
pub mod salvage;
pub mod show;
pub mod verify;
