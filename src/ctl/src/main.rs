//! snapperctl: the command line. Each command opens the root through the
//! engine, asks it (never the bytes on disk directly) and prints a table
//! or, with `--json`, one JSON document on stdout. Diagnostics go to stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use snapper_core::archive::{Archive, Entry};
use snapper_core::engine::inspect::check_pack_file;
use snapper_core::format::crc32;
use snapper_core::layout::{self, ARCHIVE, PACK_DIR};
use snapper_core::pack::{Codec, PackRecord};
use snapper_core::{
    Config, Error as CoreError, Generation, Level, Location, ObjectId, PackNumber, PackRef, Storage,
};

use snapperctl::inspect::{
    self, copy_problem, files_below, now, open_engine, pack_problem, read_only_config, Collect,
    Engine, GenView, Status,
};
use snapperctl::output::{self, parse_id, parse_size, Progress};
use snapperctl::storage::{ReadOnly, Removals, RootSpec};

const EXIT_CODES: &str = "\
Exit codes:
  0  success; for verify: every object of every checked generation is restorable
  1  damage: verify found an object no intact copy covers or a damaged archive;
     restore could not restore an object it was asked for; salvage met a
     damaged pack; gc kept a damaged generation
  2  usage: bad arguments (as printed by the argument parser)
  3  I/O: the root or image cannot be opened or read, or holds another format
     than 2 (format 1: one file per object); an output cannot be written;
     mkfs.ext4 is missing or failed
  4  not found: no such generation, or no such object in it
  5  refused: the request would break a rule (purge below --keep, change an
     image without --write-image, overwrite an existing file)";

const ABOUT: &str = "Inspect, verify and manage Snapper data on Linux, from a directory or straight from an ext4 image";

const LONG_ABOUT: &str = "\
Inspect, verify and manage Snapper data (format 2: pack storage) on Linux.

The snapper root (--root or $SNAPPER_ROOT) is a host directory, or an ext4
image file or block device holding it (raw/snapper_block.raw in the Genode
scenario). Images are read in place without mounting and without root.
purge and gc change an image only with --write-image (through e2fsprogs'
debugfs, followed by e2fsck -fn); nothing else may use the image meanwhile.
A root of format 1 (one file per object) is refused, and left unchanged.

GEN names a generation: its directory name (2026-11-24T18:46:20-00000007),
its number (7), `latest` or `oldest`.";

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "snapperctl", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Debug)]
struct Global {
    /// The snapper root: a directory, or an ext4 image file or block device
    #[arg(short, long, env = "SNAPPER_ROOT", global = true, value_name = "PATH")]
    root: Option<PathBuf>,
    /// For an image: the directory inside it that is the snapper root
    #[arg(long, default_value = "/", global = true, value_name = "DIR")]
    in_image: String,
    /// Print one JSON document on stdout instead of a table
    #[arg(long, global = true)]
    json: bool,
    /// Also print the engine's log lines (on stderr)
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Generations: age, objects, packs, bytes new and shared, valid or why not
    List,
    /// The objects of a generation: id, size, digest, and where each copy is
    Show {
        /// The generation
        generation: String,
    },
    /// Check every copy of every object as restore would, and every pack's index
    ///
    /// The engine's verify_generation reads each copy's pack range and
    /// checks its CRC; each pack in use is also checked against its own
    /// index (what salvage relies on). Reports each damaged copy, whether
    /// another copy still covers every object, and a summary. Exits 1 when
    /// an object cannot be restored or an archive is damaged. A progress
    /// bar is drawn on a terminal.
    Verify {
        /// Only this generation (default: all)
        generation: Option<String>,
        /// Exit 1 on any damaged copy or pack index, even when every object
        /// is still restorable
        #[arg(long)]
        strict: bool,
        /// No progress bar, even on a terminal
        #[arg(long)]
        no_progress: bool,
    },
    /// Write objects out, through the engine: never a byte that failed its check
    ///
    /// One object goes to FILE (or stdout); with --all, every object goes to
    /// DIR/<id as 16 hex digits>. An object without an intact copy is not
    /// written at all, and the exit code is 1.
    Restore {
        /// The generation
        generation: String,
        /// The object id (decimal, or hex with 0x)
        #[arg(required_unless_present = "all", conflicts_with = "all", value_parser = parse_id)]
        id: Option<u64>,
        /// Restore every object of the generation into the directory -o
        #[arg(long, requires = "output")]
        all: bool,
        /// Output file (one object; default stdout) or directory (--all)
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Rescue the objects a generation without a usable archive wrote
    ///
    /// Without a valid archive the engine cannot restore a generation. Its
    /// packs still name every payload in a checksummed index: each payload
    /// that passes the index's CRC is written to DIR/<id as 16 hex digits>,
    /// the newest copy where an id has several. Objects the generation
    /// linked to older packs (unchanged or equal content) are not in its
    /// packs; --with-older also takes them from the packs of every older
    /// generation directory, newest copy first. Exits 1 if a pack or a
    /// payload was damaged.
    Salvage {
        /// The generation (normally one whose archive is damaged)
        generation: String,
        /// Output directory
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Also scan the packs of older generations
        #[arg(long)]
        with_older: bool,
    },
    /// Space: pack bytes on disk against live payload bytes, sparse packs
    Du,
    /// Remove generations and the packs no other generation uses
    ///
    /// Runs the engine's purge. Stop the Snapper component that uses the
    /// root first: the format has no lock, and two writers could delete
    /// what the other still needs. An image needs --write-image.
    Purge {
        /// Generations to purge
        #[arg(required_unless_present = "oldest")]
        generations: Vec<String>,
        /// Purge the oldest valid generation
        #[arg(long, conflicts_with = "generations")]
        oldest: bool,
        /// Refuse to leave fewer valid generations than this
        #[arg(long, default_value_t = 1, value_name = "N")]
        keep: u32,
        /// Run the engine's purge without deleting anything, and list what
        /// it would delete
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        write: WriteImage,
    },
    /// Delete files no valid generation uses (crash leftovers, dead packs)
    ///
    /// Runs the engine's purge_zombies. Stop the Snapper component that uses
    /// the root first: a snapshot in progress has no archive yet, and gc
    /// would take its packs for leftovers. An image needs --write-image.
    Gc {
        /// Only list what would be deleted (the engine's unused_files)
        #[arg(long)]
        dry_run: bool,
        /// Also delete generations whose archive is damaged (default: keep them
        /// for inspection, and exit 1)
        #[arg(long)]
        drop_damaged: bool,
        #[command(flatten)]
        write: WriteImage,
    },
    /// Make an empty ext4 image the way the Genode scenario expects
    ///
    /// Runs mkfs.ext4 -O ^metadata_csum -i 4096 -L snapper on a sparse file
    /// of SIZE bytes, as raw/Makefile does (lwext4 does not handle metadata
    /// checksums). With --from, the image is populated with a directory's
    /// content (mkfs.ext4 -d), e.g. a snapper root written on the host; a
    /// root of another format is refused. Needs e2fsprogs.
    Mkimage {
        /// Size, e.g. 256M or 1G
        #[arg(value_parser = parse_size)]
        size: u64,
        /// The image file to create
        path: PathBuf,
        /// Copy this directory's content into the image
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
        /// Overwrite PATH if it exists
        #[arg(long)]
        force: bool,
        /// Bytes per inode (raw/Makefile's value; mkfs's default is 16384)
        #[arg(long, default_value_t = 4096, value_name = "BYTES")]
        inode_ratio: u32,
    },
}

/// The opt-in for changing an image.
#[derive(Args, Debug)]
struct WriteImage {
    /// Allow removing files inside an ext4 image (through e2fsprogs'
    /// debugfs, then checked with e2fsck -fn). Nothing else may use the
    /// image meanwhile: no mount, no running Genode scenario
    #[arg(long)]
    write_image: bool,
}

/// Why a command did not succeed, with the exit code scripts see.
#[derive(Debug)]
enum Failure {
    Damage(String),
    Usage(String),
    Io(String),
    NotFound(String),
    Refused(String),
}

impl Failure {
    fn code(&self) -> u8 {
        match self {
            Failure::Damage(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Io(_) => 3,
            Failure::NotFound(_) => 4,
            Failure::Refused(_) => 5,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Damage(m)
            | Failure::Usage(m)
            | Failure::Io(m)
            | Failure::NotFound(m)
            | Failure::Refused(m) => m,
        }
    }
}

type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message().is_empty() {
                eprintln!("snapperctl: {}", failure.message());
            }
            ExitCode::from(failure.code())
        }
    }
}

fn run(cli: &Cli) -> Outcome {
    let g = &cli.global;
    if let Cmd::Mkimage {
        size,
        path,
        from,
        force,
        inode_ratio,
    } = &cli.command
    {
        return mkimage(g, *size, path, from.as_deref(), *force, *inode_ratio);
    }
    let Some(path) = &g.root else {
        return Err(Failure::Usage(
            "no snapper root: give --root PATH or set SNAPPER_ROOT".into(),
        ));
    };
    let root = RootSpec::detect(path, &g.in_image).map_err(Failure::Io)?;
    match &cli.command {
        Cmd::List => list(&root, g),
        Cmd::Show { generation } => show(&root, g, generation),
        Cmd::Verify {
            generation,
            strict,
            no_progress,
        } => verify(&root, g, generation.as_deref(), *strict, !*no_progress),
        Cmd::Restore {
            generation,
            id,
            all,
            output,
        } => restore(&root, g, generation, *id, *all, output.as_deref()),
        Cmd::Du => du(&root, g),
        Cmd::Salvage {
            generation,
            output,
            with_older,
        } => salvage(&root, g, generation, output, *with_older),
        Cmd::Purge {
            generations,
            oldest,
            keep,
            dry_run,
            write,
        } => purge(&root, g, generations, *oldest, *keep, *dry_run, write),
        Cmd::Gc {
            dry_run,
            drop_damaged,
            write,
        } => gc(&root, g, *dry_run, *drop_damaged, write),
        Cmd::Mkimage { .. } => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Shared steps

/// Set once stdout is a closed pipe (`snapperctl list | head -1`).
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Like println!, but a reader that went away (or any stdout error) does
/// not panic: the command runs to its end and exits with its own code, so
/// `snapperctl verify | head` still reports damage in its exit status.
macro_rules! out {
    ($($arg:tt)*) => {
        emit(format_args!($($arg)*))
    };
}

fn emit(line: std::fmt::Arguments<'_>) {
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

fn print_json<T: Serialize>(value: &T) -> Outcome {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            out!("{text}");
            Ok(())
        }
        Err(e) => Err(Failure::Io(format!("encoding JSON: {e}"))),
    }
}

/// The root opened through the engine, with its generations.
struct Session<S: Storage> {
    engine: Engine<S>,
    log: Collect,
    verbose: bool,
    gens: Vec<GenView>,
}

impl<S: Storage> Session<S> {
    /// Opens the root through the engine. A root of another format is
    /// refused here, by the engine (which leaves it untouched).
    fn open(
        root: &dyn std::fmt::Display,
        g: &Global,
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
    fn flush_log(&self) {
        show_log(self.verbose, &self.log.take());
    }

    fn find(&self, spec: &str) -> Result<GenView, Failure> {
        inspect::find(&self.gens, spec).cloned().ok_or_else(|| {
            Failure::NotFound(format!("no generation '{spec}' (see `snapperctl list`)"))
        })
    }

    /// The archive of a valid generation, read and checked by the engine.
    fn archive(&mut self, view: &GenView) -> Result<Archive, Failure> {
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
    fn pack_path(&self, archive: &Archive, pack: PackRef) -> String {
        self.engine.pack_path(pack).unwrap_or_else(|| {
            archive
                .source(pack.generation)
                .map(|s| layout::pack_path(&s.name, s.fanout, pack.pack))
                .unwrap_or_default()
        })
    }
}

fn show_log(verbose: bool, lines: &[(Level, String)]) {
    if verbose {
        for (level, line) in lines {
            eprintln!("[snapper] {level:?}: {line}");
        }
    }
}

fn require_valid(view: &GenView) -> Outcome {
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
fn distinct_copies(entries: &[Entry]) -> BTreeMap<Location, u32> {
    entries
        .iter()
        .flat_map(|e| e.copies.iter().map(|c| (c.location(), c.length)))
        .collect()
}

fn archive_path(name: &str) -> String {
    layout::in_generation(name, ARCHIVE)
}

// ---------------------------------------------------------------------------
// list

#[derive(Serialize)]
struct ListRow {
    generation: u32,
    name: String,
    created: u64,
    age_seconds: u64,
    status: &'static str,
    problem: Option<String>,
    objects: u32,
    /// Packs the generation wrote (when the engine knows).
    packs: Option<usize>,
    /// Payload bytes of its objects.
    bytes_represented: u64,
    /// Payload bytes it stored itself (new content and fresh copies).
    bytes_new: u64,
    /// Payload bytes of objects it takes from older generations' packs only.
    bytes_shared: u64,
}

#[derive(Serialize)]
struct ListReport {
    root: String,
    generations: Vec<ListRow>,
}

fn list(root: &RootSpec, g: &Global) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let now = now();
    let mut rows = Vec::new();
    for view in session.gens.clone() {
        let mut row = ListRow {
            generation: view.generation.0,
            name: view.name.clone(),
            created: view.created,
            age_seconds: now.saturating_sub(view.created),
            status: view.status.word(),
            problem: view.status.why(),
            objects: view.objects,
            packs: view.packs.as_ref().map(Vec::len),
            bytes_represented: 0,
            bytes_new: 0,
            bytes_shared: 0,
        };
        if view.status == Status::Valid {
            let archive = session.archive(&view)?;
            row.bytes_represented = archive.entries.iter().map(|e| u64::from(e.size)).sum();
            row.bytes_new = distinct_copies(&archive.entries)
                .iter()
                .filter(|(location, _)| location.pack.generation == view.generation)
                .map(|(_, length)| u64::from(*length))
                .sum();
            row.bytes_shared = archive
                .entries
                .iter()
                .filter(|e| e.copies.iter().all(|c| c.generation != view.generation))
                .map(|e| u64::from(e.size))
                .sum();
        }
        rows.push(row);
    }
    if g.json {
        return print_json(&ListReport {
            root: root.to_string(),
            generations: rows,
        });
    }
    if rows.is_empty() {
        out!("no generations in {root}");
        return Ok(());
    }
    out!(
        "{:>5}  {:<28}  {:>5}  {:>7}  {:>5}  {:>10}  {:>10}  STATUS",
        "GEN",
        "NAME",
        "AGE",
        "OBJECTS",
        "PACKS",
        "NEW",
        "SHARED"
    );
    for row in &rows {
        let valid = row.status == "valid";
        let blank = |text: String| if valid { text } else { "-".into() };
        out!(
            "{:>5}  {:<28}  {:>5}  {:>7}  {:>5}  {:>10}  {:>10}  {}{}",
            row.generation,
            row.name,
            output::age(row.age_seconds),
            blank(row.objects.to_string()),
            row.packs.map_or("-".into(), |n| n.to_string()),
            blank(output::size(row.bytes_new)),
            blank(output::size(row.bytes_shared)),
            row.status,
            row.problem
                .as_ref()
                .map_or(String::new(), |p| format!(" ({p})"))
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// show

#[derive(Serialize)]
struct CopyRow {
    generation: u32,
    pack: u32,
    offset: u32,
    length: u32,
    crc: String,
    codec: u8,
    path: String,
    /// Valid archives that use this stored payload.
    references: u32,
}

#[derive(Serialize)]
struct ObjectRow {
    id: u64,
    size: u32,
    digest: String,
    copies: Vec<CopyRow>,
}

#[derive(Serialize)]
struct SourceRow {
    generation: u32,
    name: String,
    fanout: u32,
    /// Payload bytes of each of its packs.
    packs: Vec<u64>,
}

#[derive(Serialize)]
struct ShowReport {
    generation: u32,
    name: String,
    created: u64,
    fanout: u32,
    /// Payload bytes of each pack it wrote.
    packs: Vec<u64>,
    sources: Vec<SourceRow>,
    objects: Vec<ObjectRow>,
}

fn show(root: &RootSpec, g: &Global, spec: &str) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let view = session.find(spec)?;
    require_valid(&view)?;
    let archive = session.archive(&view)?;
    let objects: Vec<ObjectRow> = archive
        .entries
        .iter()
        .map(|entry| ObjectRow {
            id: entry.id.0,
            size: entry.size,
            digest: format!("{:?}", entry.digest),
            copies: entry
                .copies
                .iter()
                .map(|copy| CopyRow {
                    generation: copy.generation.0,
                    pack: copy.pack.0,
                    offset: copy.offset,
                    length: copy.length,
                    crc: format!("{:08x}", copy.crc),
                    codec: copy.codec.0,
                    path: session.pack_path(&archive, copy.pack_ref()),
                    references: session.engine.references(copy.location()),
                })
                .collect(),
        })
        .collect();
    let report = ShowReport {
        generation: view.generation.0,
        name: view.name.clone(),
        created: view.created,
        fanout: archive.fanout,
        packs: archive.packs.clone(),
        sources: archive
            .sources
            .iter()
            .map(|s| SourceRow {
                generation: s.generation.0,
                name: s.name.clone(),
                fanout: s.fanout,
                packs: s.packs.clone(),
            })
            .collect(),
        objects,
    };
    if g.json {
        return print_json(&report);
    }
    out!(
        "generation {} ({}): {} objects, {} packs written ({} of payloads), fan-out {}, uses packs of {}",
        report.generation,
        report.name,
        report.objects.len(),
        report.packs.len(),
        output::size(report.packs.iter().sum()),
        report.fanout,
        output::count(report.sources.len(), "generation")
    );
    out!(
        "{:>18}  {:>9}  {:<32}  COPIES (newest first: generation:pack+offset, archives using the payload)",
        "ID",
        "SIZE",
        "DIGEST"
    );
    for object in &report.objects {
        let copies: Vec<String> = object
            .copies
            .iter()
            .map(|c| {
                let own = if c.generation == report.generation {
                    "own, "
                } else {
                    ""
                };
                format!(
                    "{}:{:x}+{:#x} ({own}{})",
                    c.generation,
                    c.pack,
                    c.offset,
                    output::count(c.references as usize, "archive")
                )
            })
            .collect();
        out!(
            "{:>#18x}  {:>9}  {:<32}  {}",
            object.id,
            object.size,
            object.digest,
            copies.join(", ")
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// verify

#[derive(Serialize)]
struct DamagedCopyRow {
    path: String,
    generation: u32,
    pack: u32,
    offset: u32,
    length: u32,
    /// The objects that use this stored payload (equal content is stored once).
    objects: Vec<u64>,
    problem: String,
    /// Generations in scope whose verification met it.
    used_by: Vec<u32>,
    /// Valid archives that use it.
    references: u32,
}

#[derive(Serialize)]
struct DamagedPack {
    path: String,
    generation: u32,
    pack: u32,
    problem: String,
}

#[derive(Serialize)]
struct DamagedArchive {
    generation: u32,
    name: String,
    problem: String,
}

#[derive(Serialize)]
struct GenVerdict {
    generation: u32,
    name: String,
    objects: u64,
    copies: u64,
    bytes: u64,
    /// Every copy intact.
    intact: u64,
    /// Some copy damaged, another intact: restore still succeeds.
    degraded: u64,
    /// No intact copy.
    lost: u64,
    lost_objects: Vec<u64>,
}

#[derive(Serialize)]
struct VerifyReport {
    scope: String,
    archives_checked: usize,
    copies_checked: u64,
    bytes_checked: u64,
    packs_checked: usize,
    damaged_archives: Vec<DamagedArchive>,
    damaged_copies: Vec<DamagedCopyRow>,
    damaged_packs: Vec<DamagedPack>,
    generations: Vec<GenVerdict>,
    /// Generations without an archive that no valid generation uses: an
    /// interrupted snapshot, or an archive that was lost.
    incomplete_generations: Vec<DamagedArchive>,
    /// Files gc would delete (the engine's unused_files); absent when an
    /// archive could not be read.
    unused_files: Option<usize>,
    objects_lost: u64,
    ok: bool,
}

fn verify(
    root: &RootSpec,
    g: &Global,
    spec: Option<&str>,
    strict: bool,
    progress: bool,
) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let scope: Vec<GenView> = match spec {
        Some(spec) => vec![session.find(spec)?],
        None => session.gens.clone(),
    };
    let in_scope: BTreeSet<Generation> = scope.iter().map(|v| v.generation).collect();
    let damaged_archives: Vec<DamagedArchive> = scope
        .iter()
        .filter(|v| v.status.is_damaged())
        .map(|v| DamagedArchive {
            generation: v.generation.0,
            name: v.name.clone(),
            problem: v.status.why().unwrap_or_default(),
        })
        .collect();
    // The packs whose own index is checked: every pack in use, or the
    // packs the one generation asked for wrote.
    let packs: Vec<PackRef> = session
        .engine
        .pack_usage()
        .iter()
        .map(|u| u.pack)
        .filter(|p| spec.is_none() || in_scope.contains(&p.generation))
        .collect();
    let valid: Vec<&GenView> = scope.iter().filter(|v| v.status == Status::Valid).collect();
    let mut bar = Progress::new(
        "verify",
        (valid.len() + packs.len()) as u64,
        progress && !g.json,
    );
    let mut verdicts = Vec::new();
    let mut damaged: BTreeMap<Location, DamagedCopyRow> = BTreeMap::new();
    for view in valid {
        let checked = session.engine.verify_generation(view.generation);
        session.flush_log();
        bar.step();
        let checked = checked.map_err(|e| {
            Failure::Damage(format!(
                "generation {} ({}): cannot be verified ({e})",
                view.generation, view.name
            ))
        })?;
        let lost: BTreeSet<ObjectId> = checked.lost.iter().copied().collect();
        let with_damage: BTreeSet<ObjectId> = checked.damaged.iter().map(|d| d.id).collect();
        for copy in &checked.damaged {
            let location = copy.copy.location();
            let path = session
                .engine
                .pack_path(copy.copy.pack_ref())
                .unwrap_or_default();
            let references = session.engine.references(location);
            let row = damaged.entry(location).or_insert_with(|| DamagedCopyRow {
                path,
                generation: copy.copy.generation.0,
                pack: copy.copy.pack.0,
                offset: copy.copy.offset,
                length: copy.copy.length,
                objects: Vec::new(),
                problem: copy_problem(&copy.problem),
                used_by: Vec::new(),
                references,
            });
            if !row.objects.contains(&copy.id.0) {
                row.objects.push(copy.id.0);
            }
            if row.used_by.last() != Some(&view.generation.0) {
                row.used_by.push(view.generation.0);
            }
        }
        verdicts.push(GenVerdict {
            generation: view.generation.0,
            name: view.name.clone(),
            objects: checked.objects,
            copies: checked.copies,
            bytes: checked.bytes,
            intact: checked.objects.saturating_sub(with_damage.len() as u64),
            degraded: with_damage.difference(&lost).count() as u64,
            lost: lost.len() as u64,
            lost_objects: lost.iter().map(|id| id.0).collect(),
        });
    }
    let mut damaged_packs = Vec::new();
    for pack in &packs {
        let check = session.engine.check_pack(*pack);
        session.flush_log();
        bar.step();
        let path = session.engine.pack_path(*pack).unwrap_or_default();
        let problem = match (&check.error, &check.trailer) {
            // A missing or unreadable pack fails its copies above already.
            (Some(snapper_core::engine::inspect::PackError::Unreadable(_)), _) => None,
            (Some(error), _) => Some(pack_problem(error)),
            (None, Some(t)) if t.generation != pack.generation || t.pack != pack.pack => {
                Some(format!(
                    "its trailer names pack {:x} of generation {}",
                    t.pack.0, t.generation
                ))
            }
            _ => None,
        };
        if let Some(problem) = problem {
            damaged_packs.push(DamagedPack {
                path,
                generation: pack.generation.0,
                pack: pack.pack.0,
                problem,
            });
        }
    }
    bar.finish();
    let unused_files = session.engine.unused_files().ok().map(|f| f.len());
    session.flush_log();

    let objects_lost = verdicts.iter().map(|v| v.lost).sum();
    let report = VerifyReport {
        scope: spec.map_or("all".into(), String::from),
        archives_checked: scope
            .iter()
            .filter(|v| v.status == Status::Valid || v.status.is_damaged())
            .count(),
        copies_checked: verdicts.iter().map(|v| v.copies).sum(),
        bytes_checked: verdicts.iter().map(|v| v.bytes).sum(),
        packs_checked: packs.len(),
        ok: objects_lost == 0 && damaged_archives.is_empty(),
        damaged_archives,
        damaged_copies: damaged.into_values().collect(),
        damaged_packs,
        generations: verdicts,
        incomplete_generations: scope
            .iter()
            .filter(|v| v.status == Status::Incomplete)
            .map(|v| DamagedArchive {
                generation: v.generation.0,
                name: v.name.clone(),
                problem: v.status.why().unwrap_or_default(),
            })
            .collect(),
        unused_files,
        objects_lost,
    };
    if g.json {
        print_json(&report)?;
    } else {
        print_verify(&report);
    }
    if !report.ok {
        return Err(Failure::Damage(String::new()));
    }
    if strict && !(report.damaged_copies.is_empty() && report.damaged_packs.is_empty()) {
        return Err(Failure::Damage(
            "--strict: damage found (every object is still restorable)".into(),
        ));
    }
    Ok(())
}

fn print_verify(report: &VerifyReport) {
    for archive in &report.damaged_archives {
        out!(
            "damaged archive: generation {} ({}): {}; the engine cannot restore it \
             (`snapperctl salvage {} -o DIR` rescues the objects it wrote itself)",
            archive.generation,
            archive.name,
            archive.problem,
            archive.generation
        );
    }
    for copy in &report.damaged_copies {
        let users: Vec<String> = copy.used_by.iter().map(u32::to_string).collect();
        let objects: Vec<String> = copy.objects.iter().map(|id| format!("{id:#x}")).collect();
        out!(
            "damaged copy: {}+{:#x} ({} bytes): {} (object {}, used by generation{} {})",
            copy.path,
            copy.offset,
            copy.length,
            copy.problem,
            objects.join(", "),
            if users.len() == 1 { "" } else { "s" },
            users.join(", ")
        );
    }
    for pack in &report.damaged_packs {
        out!(
            "damaged pack: {}: {} (restore reads the ranges its archives record; salvage cannot use this pack)",
            pack.path,
            pack.problem
        );
    }
    for gen in &report.incomplete_generations {
        out!(
            "note: generation {} ({}): {}; `snapperctl gc` removes it",
            gen.generation,
            gen.name,
            gen.problem
        );
    }
    for v in &report.generations {
        if v.lost == 0 && v.degraded == 0 {
            out!(
                "generation {} ({}): {} objects, all intact",
                v.generation,
                v.name,
                v.objects
            );
            continue;
        }
        let mut text = format!(
            "generation {} ({}): {} objects, {} intact",
            v.generation, v.name, v.objects, v.intact
        );
        if v.degraded > 0 {
            text += &format!(", {} restorable from another copy", v.degraded);
        }
        if v.lost > 0 {
            let ids: Vec<String> = v
                .lost_objects
                .iter()
                .take(16)
                .map(|id| format!("{id:#x}"))
                .collect();
            let more = if v.lost_objects.len() > 16 {
                ", ..."
            } else {
                ""
            };
            text += &format!(", {} LOST: {}{more}", v.lost, ids.join(", "));
        }
        out!("{text}");
    }
    let verdict = if report.ok {
        if report.damaged_copies.is_empty() {
            "everything intact".to_string()
        } else {
            "every object is still restorable from another copy".to_string()
        }
    } else {
        let gens = report.generations.iter().filter(|v| v.lost > 0).count();
        let mut parts = Vec::new();
        if report.objects_lost > 0 {
            parts.push(format!(
                "{} object{} in {gens} generation{} cannot be restored",
                report.objects_lost,
                if report.objects_lost == 1 { "" } else { "s" },
                if gens == 1 { "" } else { "s" }
            ));
        }
        if !report.damaged_archives.is_empty() {
            parts.push(format!(
                "{} generation(s) lost to a damaged archive",
                report.damaged_archives.len()
            ));
        }
        parts.join("; ")
    };
    let unused = match report.unused_files {
        Some(0) => String::new(),
        Some(n) => format!(" ({n} unused files: `snapperctl gc` removes them)"),
        None => " (unused files unknown: an archive cannot be read)".into(),
    };
    out!(
        "verify: {}, {} ({}) and {} checked; {}, {}, {}; {verdict}{unused}",
        output::count(report.archives_checked, "archive"),
        output::counted(report.copies_checked as usize, "copy", "copies"),
        output::size(report.bytes_checked),
        output::counted(report.packs_checked, "pack index", "pack indexes"),
        output::counted(
            report.damaged_copies.len(),
            "damaged copy",
            "damaged copies"
        ),
        output::count(report.damaged_packs.len(), "damaged pack"),
        output::count(report.damaged_archives.len(), "damaged archive"),
    );
}

// ---------------------------------------------------------------------------
// restore

/// Restores through the engine: it tries the copies newest first and hands
/// out only bytes that passed their length and CRC checks.
fn restore(
    root: &RootSpec,
    g: &Global,
    spec: &str,
    id: Option<u64>,
    all: bool,
    output: Option<&Path>,
) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let view = session.find(spec)?;
    require_valid(&view)?;
    let entries = session.archive(&view)?.entries;
    let opened = session.engine.open_generation(Some(&view.name));
    session.flush_log();
    opened.map_err(|e| Failure::Damage(format!("cannot open generation {}: {e}", view.name)))?;
    let result = if all {
        // clap makes -o present with --all.
        let dir = output.unwrap_or(Path::new("."));
        restore_all(&mut session, g, &view.name, &entries, dir)
    } else {
        match id {
            Some(id) => restore_one(&mut session, g, &view.name, &entries, id, output),
            None => Err(Failure::Usage("give an object id or --all".into())),
        }
    };
    let _ = session.engine.close_generation();
    session.flush_log();
    result
}

/// Restores one object into a fresh buffer; `Err` carries the engine's
/// answer. The buffer holds verified bytes only (the engine's promise).
fn restore_bytes<S: Storage>(
    session: &mut Session<S>,
    id: ObjectId,
    size: u32,
) -> Result<Vec<u8>, CoreError> {
    let mut buf = vec![0u8; size as usize];
    let restored = session.engine.restore(id, &mut buf);
    session.flush_log();
    buf.truncate(restored?);
    Ok(buf)
}

fn restore_one<S: Storage>(
    session: &mut Session<S>,
    g: &Global,
    name: &str,
    entries: &[Entry],
    id: u64,
    output: Option<&Path>,
) -> Outcome {
    let Some(entry) = snapper_core::archive::find_entry(entries, ObjectId(id)) else {
        return Err(Failure::NotFound(format!(
            "generation {name} holds no object {id:#x}"
        )));
    };
    let to_stdout = output.is_none_or(|p| p == Path::new("-"));
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(Failure::Refused(
            "not writing binary data to a terminal; give -o FILE or redirect stdout".into(),
        ));
    }
    let bytes = restore_bytes(session, entry.id, entry.size).map_err(|e| {
        Failure::Damage(format!(
            "object {id:#x} of {name}: no intact copy ({e}); nothing written"
        ))
    })?;
    match output.filter(|_| !to_stdout) {
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .map_err(|e| Failure::Io(format!("stdout: {e}"))),
        Some(path) => {
            write_new(path, &bytes)?;
            if !g.json {
                eprintln!(
                    "restored object {id:#x} of {name}: {} bytes to {}",
                    bytes.len(),
                    path.display()
                );
            }
            Ok(())
        }
    }
}

/// Creates `path` with `bytes`, refusing to replace an existing file.
fn write_new(path: &Path, bytes: &[u8]) -> Outcome {
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

#[derive(Serialize)]
struct RestoreReport {
    generation: String,
    directory: String,
    restored: usize,
    bytes: u64,
    failed: Vec<RestoreFailure>,
}

#[derive(Serialize)]
struct RestoreFailure {
    id: u64,
    error: String,
}

fn restore_all<S: Storage>(
    session: &mut Session<S>,
    g: &Global,
    name: &str,
    entries: &[Entry],
    dir: &Path,
) -> Outcome {
    fs::create_dir_all(dir).map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
    let mut report = RestoreReport {
        generation: name.into(),
        directory: dir.display().to_string(),
        restored: 0,
        bytes: 0,
        failed: Vec::new(),
    };
    let mut bar = Progress::new("restore", entries.len() as u64, !g.json);
    for entry in entries {
        bar.step();
        match restore_bytes(session, entry.id, entry.size) {
            Ok(bytes) => {
                write_new(&dir.join(format!("{:016x}", entry.id.0)), &bytes)?;
                report.restored += 1;
                report.bytes += bytes.len() as u64;
            }
            // Nothing is written for this object: no file is better than a
            // file with bytes that failed their check.
            Err(e) => report.failed.push(RestoreFailure {
                id: entry.id.0,
                error: e.to_string(),
            }),
        }
    }
    bar.finish();
    if g.json {
        print_json(&report)?;
    } else {
        for failure in &report.failed {
            out!("object {:#x}: not restored: {}", failure.id, failure.error);
        }
        out!(
            "restored {} of {} objects of {name} ({}) into {}{}",
            report.restored,
            entries.len(),
            output::size(report.bytes),
            dir.display(),
            if report.failed.is_empty() {
                String::new()
            } else {
                format!("; {} objects have no intact copy", report.failed.len())
            }
        );
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Damage(String::new()))
    }
}

// ---------------------------------------------------------------------------
// salvage

#[derive(Serialize)]
struct SalvageReport {
    generation: String,
    directory: String,
    with_older: bool,
    packs_checked: usize,
    salvaged: usize,
    bytes: u64,
    /// Older copies of salvaged objects that were passed over.
    superseded: usize,
    problems: Vec<SalvageProblem>,
}

#[derive(Serialize)]
struct SalvageProblem {
    path: String,
    problem: String,
}

/// The copy salvage takes for an object: the newest by (generation, pack,
/// offset) among the intact payloads of the packs scanned.
#[derive(Clone)]
struct Candidate {
    order: (Generation, PackNumber, u32),
    path: String,
    record: PackRecord,
}

fn salvage(root: &RootSpec, g: &Global, spec: &str, dir: &Path, with_older: bool) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let view = session.find(spec)?;
    if view.status == Status::Valid {
        return Err(Failure::Refused(format!(
            "generation {} is valid: use `snapperctl restore {} --all -o DIR`",
            view.name, view.generation
        )));
    }
    let scanned: Vec<GenView> = session
        .gens
        .iter()
        .filter(|v| {
            v.generation == view.generation || (with_older && v.generation < view.generation)
        })
        .cloned()
        .collect();
    let mut report = SalvageReport {
        generation: view.name.clone(),
        directory: dir.display().to_string(),
        with_older,
        packs_checked: 0,
        salvaged: 0,
        bytes: 0,
        superseded: 0,
        problems: Vec::new(),
    };
    let mut best: BTreeMap<ObjectId, Candidate> = BTreeMap::new();
    for source in &scanned {
        let mut errors = Vec::new();
        let storage = session.engine.storage_mut();
        let paths = files_below(
            storage,
            &layout::in_generation(&source.name, PACK_DIR),
            &mut errors,
        );
        report
            .problems
            .extend(errors.into_iter().map(|problem| SalvageProblem {
                path: source.name.clone(),
                problem,
            }));
        for path in paths {
            report.packs_checked += 1;
            let check = check_pack_file(storage, &path);
            let trailer = match (check.error, check.trailer) {
                (None, Some(trailer)) => trailer,
                (Some(error), _) => {
                    report.problems.push(SalvageProblem {
                        path,
                        problem: pack_problem(&error),
                    });
                    continue;
                }
                (None, None) => continue,
            };
            if trailer.generation != source.generation {
                report.problems.push(SalvageProblem {
                    path,
                    problem: format!(
                        "its trailer names generation {}, not {}: not used",
                        trailer.generation, source.generation
                    ),
                });
                continue;
            }
            if check.damaged > 0 {
                report.problems.push(SalvageProblem {
                    path: path.clone(),
                    problem: if check.damaged == 1 {
                        "1 payload failed its CRC".to_string()
                    } else {
                        format!("{} payloads failed their CRC", check.damaged)
                    },
                });
            }
            for record in check.intact {
                if record.codec != Codec::RAW {
                    report.problems.push(SalvageProblem {
                        path: path.clone(),
                        problem: format!(
                            "object {}: codec {}, unknown to this build",
                            record.id, record.codec.0
                        ),
                    });
                    continue;
                }
                let candidate = Candidate {
                    order: (trailer.generation, trailer.pack, record.offset),
                    path: path.clone(),
                    record,
                };
                match best.get(&record.id) {
                    Some(old) if old.order >= candidate.order => report.superseded += 1,
                    Some(_) => {
                        report.superseded += 1;
                        best.insert(record.id, candidate);
                    }
                    None => {
                        best.insert(record.id, candidate);
                    }
                }
            }
        }
    }
    session.flush_log();
    fs::create_dir_all(dir).map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
    for (id, candidate) in &best {
        let mut buf = vec![0u8; candidate.record.length as usize];
        let read = session.engine.storage_mut().read_at(
            &candidate.path,
            u64::from(candidate.record.offset),
            &mut buf,
        );
        // Checked again: the bytes written are the bytes whose CRC matched.
        match read {
            Ok(n) if n == buf.len() && crc32(&[&buf]) == candidate.record.crc => {
                write_new(&dir.join(format!("{:016x}", id.0)), &buf)?;
                report.salvaged += 1;
                report.bytes += buf.len() as u64;
            }
            Ok(_) => report.problems.push(SalvageProblem {
                path: candidate.path.clone(),
                problem: format!("object {id}: changed since it was checked; not written"),
            }),
            Err(e) => report.problems.push(SalvageProblem {
                path: candidate.path.clone(),
                problem: format!("object {id}: unreadable ({e}); not written"),
            }),
        }
    }
    if g.json {
        print_json(&report)?;
    } else {
        for problem in &report.problems {
            out!("problem: {}: {}", problem.path, problem.problem);
        }
        out!(
            "salvaged {} ({}) from {} of {}{} into {}{}",
            output::count(report.salvaged, "object"),
            output::size(report.bytes),
            output::count(report.packs_checked, "pack"),
            view.name,
            if with_older {
                " and older generations"
            } else {
                ""
            },
            dir.display(),
            if with_older {
                String::new()
            } else {
                "; objects it linked to older packs are not in its packs (--with-older)".into()
            }
        );
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Damage(String::new()))
    }
}

// ---------------------------------------------------------------------------
// du

#[derive(Serialize)]
struct DuRow {
    generation: u32,
    name: String,
    status: &'static str,
    objects: u32,
    /// Payload bytes its objects add up to.
    bytes_represented: u64,
    /// Bytes of every file in its directory (archive and packs).
    bytes_in_directory: u64,
    /// Its packs that valid archives use.
    packs_in_use: usize,
    /// Payload bytes of those packs.
    pack_payload_bytes: u64,
    /// Of those, bytes of payloads valid archives use.
    live_bytes: u64,
    /// Its packs less than half of whose payload bytes are live.
    sparse_packs: usize,
    /// Payload bytes only its archive uses.
    bytes_exclusive: u64,
}

#[derive(Serialize)]
struct DuReport {
    generations: Vec<DuRow>,
    /// Every file in every generation directory.
    bytes_stored: u64,
    /// Packs valid archives use, and their file bytes.
    packs_in_use: usize,
    pack_file_bytes: u64,
    /// The engine's disk_and_live_bytes: payload bytes of the packs in use,
    /// and of the payloads in them that are used.
    pack_payload_bytes: u64,
    live_bytes: u64,
    /// pack_payload_bytes - live_bytes: dead payloads kept because their
    /// pack still holds live ones.
    dead_bytes: u64,
    sparse_packs: usize,
    /// Dead payload bytes in sparse packs (copy-forward empties those).
    sparse_dead_bytes: u64,
    archive_bytes: u64,
    /// Sum of the valid generations' represented bytes.
    bytes_represented: u64,
    /// bytes_stored / bytes_represented.
    ratio: f64,
    /// What gc would delete (the engine's unused_files); absent when an
    /// archive could not be read.
    unused_files: Option<usize>,
    unused_bytes: u64,
}

fn du_report<S: Storage>(session: &mut Session<S>) -> Result<DuReport, Failure> {
    let usage = session.engine.pack_usage();
    let (payload, live) = session.engine.disk_and_live_bytes();
    let mut rows = Vec::new();
    let mut bytes_stored = 0;
    let mut archive_bytes = 0;
    let mut pack_file_bytes = 0;
    let mut bytes_represented = 0;
    for view in session.gens.clone() {
        let mut errors = Vec::new();
        let files = files_below(session.engine.storage_mut(), &view.name, &mut errors);
        for error in errors {
            eprintln!("snapperctl: warning: {error}");
        }
        let mut in_directory = 0;
        for path in &files {
            let size = session.engine.storage_mut().file_size(path).unwrap_or(0);
            in_directory += size;
            if *path == archive_path(&view.name) {
                archive_bytes += size;
            }
        }
        bytes_stored += in_directory;
        let own: Vec<_> = usage
            .iter()
            .filter(|u| u.pack.generation == view.generation)
            .collect();
        for u in &own {
            if let Some(path) = session.engine.pack_path(u.pack) {
                pack_file_bytes += session.engine.storage_mut().file_size(&path).unwrap_or(0);
            }
        }
        let (represented, exclusive) = if view.status == Status::Valid {
            let archive = session.archive(&view)?;
            let exclusive = distinct_copies(&archive.entries)
                .iter()
                .filter(|(location, _)| session.engine.references(**location) == 1)
                .map(|(_, length)| u64::from(*length))
                .sum();
            let represented = archive.entries.iter().map(|e| u64::from(e.size)).sum();
            (represented, exclusive)
        } else {
            (0, 0)
        };
        bytes_represented += represented;
        rows.push(DuRow {
            generation: view.generation.0,
            name: view.name.clone(),
            status: view.status.word(),
            objects: view.objects,
            bytes_represented: represented,
            bytes_in_directory: in_directory,
            packs_in_use: own.len(),
            pack_payload_bytes: own.iter().filter_map(|u| u.payload_bytes).sum(),
            live_bytes: own.iter().map(|u| u.live_bytes).sum(),
            sparse_packs: own.iter().filter(|u| u.is_sparse()).count(),
            bytes_exclusive: exclusive,
        });
    }
    let unused = session.engine.unused_files().ok();
    session.flush_log();
    let unused_bytes = unused.as_ref().map_or(0, |files| {
        files
            .iter()
            .map(|p| session.engine.storage_mut().file_size(p).unwrap_or(0))
            .sum()
    });
    let sparse: Vec<_> = usage.iter().filter(|u| u.is_sparse()).collect();
    Ok(DuReport {
        generations: rows,
        bytes_stored,
        packs_in_use: usage.len(),
        pack_file_bytes,
        pack_payload_bytes: payload,
        live_bytes: live,
        dead_bytes: payload.saturating_sub(live),
        sparse_packs: sparse.len(),
        sparse_dead_bytes: sparse
            .iter()
            .map(|u| u.payload_bytes.unwrap_or(0).saturating_sub(u.live_bytes))
            .sum(),
        archive_bytes,
        bytes_represented,
        ratio: if bytes_represented == 0 {
            0.0
        } else {
            bytes_stored as f64 / bytes_represented as f64
        },
        unused_files: unused.as_ref().map(Vec::len),
        unused_bytes,
    })
}

fn du(root: &RootSpec, g: &Global) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let mut session = Session::open(root, g, &mut *storage, read_only_config())?;
    let report = du_report(&mut session)?;
    if g.json {
        return print_json(&report);
    }
    out!(
        "{:>5}  {:<28}  {:>10}  {:>10}  {:>5}  {:>10}  {:>10}  {:>6}  {:>10}",
        "GEN",
        "NAME",
        "REPRESENTS",
        "IN DIR",
        "PACKS",
        "PAYLOADS",
        "LIVE",
        "SPARSE",
        "EXCLUSIVE"
    );
    for row in &report.generations {
        out!(
            "{:>5}  {:<28}  {:>10}  {:>10}  {:>5}  {:>10}  {:>10}  {:>6}  {:>10}{}",
            row.generation,
            row.name,
            output::size(row.bytes_represented),
            output::size(row.bytes_in_directory),
            row.packs_in_use,
            output::size(row.pack_payload_bytes),
            output::size(row.live_bytes),
            row.sparse_packs,
            output::size(row.bytes_exclusive),
            if row.status == "valid" {
                String::new()
            } else {
                format!("  ({})", row.status)
            }
        );
    }
    let percent = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        }
    };
    out!(
        "{} in use, {} on disk; payloads {}, live {} ({:.1}%), dead {} ({} of it in {}, which copy-forward empties)",
        output::count(report.packs_in_use, "pack"),
        output::size(report.pack_file_bytes),
        output::size(report.pack_payload_bytes),
        output::size(report.live_bytes),
        percent(report.live_bytes, report.pack_payload_bytes),
        output::size(report.dead_bytes),
        output::size(report.sparse_dead_bytes),
        output::count(report.sparse_packs, "sparse pack"),
    );
    out!(
        "stored {} (archives {}) for {} of generations: ratio {:.3}{}",
        output::size(report.bytes_stored),
        output::size(report.archive_bytes),
        output::size(report.bytes_represented),
        report.ratio,
        match report.unused_files {
            Some(0) => String::new(),
            Some(n) => format!(
                "; {} in {} unused files (`snapperctl gc`)",
                output::size(report.unused_bytes),
                n
            ),
            None => "; unused files unknown (an archive cannot be read)".into(),
        }
    );
    out!("(bytes are file lengths; the file system rounds each file up to its block size)");
    Ok(())
}

// ---------------------------------------------------------------------------
// purge and gc

fn engine_failure(what: &str, error: CoreError) -> Failure {
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

#[derive(Serialize)]
struct PurgedRow {
    name: String,
    files: Vec<String>,
    bytes: u64,
    /// Directories left empty and removed.
    directories: Vec<String>,
}

#[derive(Serialize)]
struct PurgeReport {
    dry_run: bool,
    purged: Vec<PurgedRow>,
    files_deleted: usize,
    bytes_freed: u64,
}

/// The files among `removed`, their bytes, and the directories.
fn removed_files(removed: &[snapperctl::storage::Removed]) -> (Vec<String>, u64, Vec<String>) {
    let (files, dirs): (Vec<_>, Vec<_>) = removed.iter().partition(|r| r.size.is_some());
    (
        files.iter().map(|r| r.path.clone()).collect(),
        files.iter().filter_map(|r| r.size).sum(),
        dirs.iter().map(|r| r.path.clone()).collect(),
    )
}

fn purge(
    root: &RootSpec,
    g: &Global,
    specs: &[String],
    oldest: bool,
    keep: u32,
    dry_run: bool,
    write: &WriteImage,
) -> Outcome {
    let mut storage = open_for_change(root, dry_run, write)?;
    let config = Config {
        min_snapshots: keep,
        ..read_only_config()
    };
    let recorder = Removals::new(&mut *storage, !dry_run);
    let mut session = Session::open(root, g, recorder, config)?;
    let specs: Vec<String> = if oldest {
        vec!["oldest".into()]
    } else {
        specs.to_vec()
    };
    let mut names = Vec::new();
    for spec in &specs {
        let view = session.find(spec)?;
        if matches!(view.status, Status::Purged | Status::Incomplete) {
            return Err(Failure::NotFound(format!(
                "generation {} is {}: nothing to purge (gc removes leftovers)",
                view.name,
                view.status.word()
            )));
        }
        names.push(view.name);
    }
    let mut report = PurgeReport {
        dry_run,
        purged: Vec::new(),
        files_deleted: 0,
        bytes_freed: 0,
    };
    let mut result = Ok(());
    for name in &names {
        let before = session.engine.storage().removed().len();
        let outcome = session.engine.purge(Some(name));
        session.flush_log();
        if let Err(e) = outcome {
            result = Err(engine_failure(&format!("purge {name}"), e));
            break;
        }
        let (files, bytes, directories) = removed_files(
            session
                .engine
                .storage()
                .removed()
                .get(before..)
                .unwrap_or_default(),
        );
        if !g.json {
            out!(
                "{} {name}: {} ({})",
                if dry_run { "would purge" } else { "purged" },
                output::count(
                    files.len(),
                    if dry_run {
                        "file to delete"
                    } else {
                        "file deleted"
                    }
                ),
                output::size(bytes)
            );
        }
        report.files_deleted += files.len();
        report.bytes_freed += bytes;
        report.purged.push(PurgedRow {
            name: name.clone(),
            files,
            bytes,
            directories,
        });
    }
    let Session { engine, .. } = session;
    let mut recorder = engine.into_storage();
    let finished = if dry_run {
        Ok(())
    } else {
        finish_change(root, g, &mut recorder)
    };
    if g.json {
        print_json(&report)?;
    } else {
        out!(
            "{} {}",
            if dry_run { "would free" } else { "freed" },
            output::size(report.bytes_freed)
        );
    }
    finished.and(result)
}

/// The storage purge and gc work on: read-only for a dry run, else
/// writable (an image only with --write-image).
fn open_for_change(
    root: &RootSpec,
    dry_run: bool,
    write: &WriteImage,
) -> Result<Box<dyn Storage>, Failure> {
    if dry_run {
        root.open_read_only().map_err(Failure::Io)
    } else {
        root.open_writable(write.write_image)
            .map_err(Failure::Refused)
    }
}

/// Applies what the engine left pending (the image writer removes at each
/// sync; the engine does not sync after its last removals), then has
/// e2fsck check an image.
fn finish_change<S: Storage>(root: &RootSpec, g: &Global, storage: &mut S) -> Outcome {
    storage
        .sync()
        .map_err(|e| Failure::Io(format!("applying the removals: {e}")))?;
    if let RootSpec::Image(image, _) = root {
        snapperctl::e2fs::fsck(image).map_err(Failure::Io)?;
        if !g.json {
            out!("e2fsck -fn {}: clean", image.display());
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct GcFile {
    path: String,
    size: u64,
}

#[derive(Serialize)]
struct GcReport {
    dry_run: bool,
    files: Vec<GcFile>,
    bytes: u64,
    /// Generations with a damaged archive that gc kept (without --drop-damaged).
    kept_damaged: Vec<String>,
}

fn gc(
    root: &RootSpec,
    g: &Global,
    dry_run: bool,
    drop_damaged: bool,
    write: &WriteImage,
) -> Outcome {
    let mut storage = open_for_change(root, dry_run, write)?;
    let config = Config {
        integrity: !drop_damaged,
        ..read_only_config()
    };
    let recorder = Removals::new(&mut *storage, !dry_run);
    let mut session = Session::open(root, g, recorder, config)?;
    let damaged: Vec<String> = session
        .gens
        .iter()
        .filter(|v| v.status.is_damaged())
        .map(|v| v.name.clone())
        .collect();
    let mut report = GcReport {
        dry_run,
        files: Vec::new(),
        bytes: 0,
        kept_damaged: if drop_damaged { Vec::new() } else { damaged },
    };
    let outcome = if dry_run {
        let unused = session.engine.unused_files();
        session.flush_log();
        let unused = unused.map_err(|e| engine_failure("gc --dry-run", e))?;
        for path in unused {
            let size = session.engine.storage_mut().file_size(&path).unwrap_or(0);
            report.files.push(GcFile { path, size });
        }
        Ok(())
    } else {
        let outcome = session.engine.purge_zombies();
        session.flush_log();
        for removed in session.engine.storage().removed() {
            if let Some(size) = removed.size {
                report.files.push(GcFile {
                    path: removed.path.clone(),
                    size,
                });
            }
        }
        outcome
    };
    report.bytes = report.files.iter().map(|f| f.size).sum();
    let Session { engine, .. } = session;
    let mut recorder = engine.into_storage();
    let finished = if dry_run {
        Ok(())
    } else {
        finish_change(root, g, &mut recorder)
    };
    if g.json {
        print_json(&report)?;
    } else {
        for file in &report.files {
            out!(
                "{} {} ({})",
                if dry_run { "would delete" } else { "deleted" },
                file.path,
                output::size(file.size)
            );
        }
        out!(
            "gc {} {} ({})",
            if dry_run { "would delete" } else { "deleted" },
            output::count(report.files.len(), "unused file"),
            output::size(report.bytes)
        );
    }
    finished?;
    match outcome {
        Ok(()) => {
            if dry_run && !report.kept_damaged.is_empty() && !g.json {
                out!("{}", kept_message(&report.kept_damaged));
            }
            Ok(())
        }
        // Under integrity=yes the engine keeps a damaged generation (and
        // the packs it may use) and says so with IntegrityFailed.
        Err(CoreError::IntegrityFailed) => Err(Failure::Damage(kept_message(&report.kept_damaged))),
        Err(e) => Err(engine_failure("gc", e)),
    }
}

fn kept_message(names: &[String]) -> String {
    format!(
        "kept generation(s) with a damaged archive for inspection: {}; `gc --drop-damaged` deletes them",
        names.join(", ")
    )
}

// ---------------------------------------------------------------------------
// mkimage

fn mkimage(
    g: &Global,
    bytes: u64,
    path: &Path,
    from: Option<&Path>,
    force: bool,
    inode_ratio: u32,
) -> Outcome {
    let mkfs = snapperctl::e2fs::find_tool("mkfs.ext4").ok_or_else(|| {
        Failure::Io("mkfs.ext4 not found: install e2fsprogs (apt-get install e2fsprogs)".into())
    })?;
    if let Some(dir) = from {
        if !dir.is_dir() {
            return Err(Failure::NotFound(format!(
                "--from {}: not a directory",
                dir.display()
            )));
        }
        // An image of a root this Snapper refuses would be of no use: the
        // engine looks at it first (and changes nothing in it).
        let storage = snapper_host::DirStorage::open(dir)
            .map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
        Session::open(&dir.display(), g, ReadOnly(storage), read_only_config())?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Failure::Refused(format!(
            "{}: exists; give --force to overwrite it",
            path.display()
        )),
        _ => Failure::Io(format!("{}: {e}", path.display())),
    })?;
    // Sparse: the image takes only the blocks mkfs writes.
    file.set_len(bytes)
        .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?;
    drop(file);
    let mut command = Command::new(&mkfs);
    // The same options as raw/Makefile, which makes the Genode scenario's
    // image: -O ^metadata_csum because the lwext4 VFS plugin does not handle
    // metadata checksums (the seed's own mkfs line), raw/Makefile's inode
    // ratio, and the label "snapper".
    command.args(["-q", "-F", "-O", "^metadata_csum", "-L", "snapper", "-i"]);
    command.arg(inode_ratio.to_string());
    if let Some(dir) = from {
        command.arg("-d").arg(dir);
    }
    command.arg(path);
    let result = command
        .output()
        .map_err(|e| Failure::Io(format!("{}: {e}", mkfs.display())))?;
    if !result.status.success() {
        let _ = fs::remove_file(path);
        return Err(Failure::Io(format!(
            "mkfs.ext4 failed ({}): {}",
            result.status,
            String::from_utf8_lossy(&result.stderr).trim()
        )));
    }
    out!(
        "{}: {} ext4 image (-O ^metadata_csum -i {inode_ratio}){}",
        path.display(),
        output::size(bytes),
        from.map_or(String::new(), |d| format!(", holding {}", d.display()))
    );
    Ok(())
}
