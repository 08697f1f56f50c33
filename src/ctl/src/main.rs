//! snapperctl: the command line. Each command opens the root, asks the
//! engine (and the read-only views in `inspect`) and prints a table or, with
//! `--json`, one JSON document on stdout. Diagnostics go to stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use snapper_core::{Config, Error as CoreError, Generation, Level, ObjectId, Snapper, Storage};

use snapperctl::inspect::{
    self, check_file, now, read_only_config, walk, Collect, FileState, GenView, Inspection, Status,
};
use snapperctl::output::{self, parse_id, parse_size, Progress};
use snapperctl::storage::RootSpec;

const EXIT_CODES: &str = "\
Exit codes:
  0  success; for verify: every object of every checked generation is restorable
  1  damage: verify found an object no intact copy covers or a damaged archive;
     restore could not restore an object it was asked for; salvage met a
     damaged file; gc kept a damaged generation
  2  usage: bad arguments (as printed by the argument parser)
  3  I/O: the root or image cannot be opened or read, an output cannot be
     written, mkfs.ext4 is missing or failed
  4  not found: no such generation, or no such object in it
  5  refused: the request would break a rule (purge below --keep, change an
     image without --write-image, overwrite an existing file)";

const ABOUT: &str = "Inspect, verify and manage Snapper data on Linux, from a directory or straight from an ext4 image";

const LONG_ABOUT: &str = "\
Inspect, verify and manage Snapper data on Linux.

The snapper root (--root or $SNAPPER_ROOT) is a host directory, or an ext4
image file or block device holding it (raw/snapper_block.raw in the Genode
scenario). Images are read in place without mounting and without root.
purge and gc change an image only with --write-image (through e2fsprogs'
debugfs, followed by e2fsck -fn); nothing else may use the image meanwhile.

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
    /// Generations: age, objects, files, bytes new and shared, valid or why not
    List,
    /// The objects of a generation: id, size, digest, and where each copy is
    Show {
        /// The generation
        generation: String,
    },
    /// Read every archive and snapshot file and check every checksum
    ///
    /// Reports each damaged or missing file, whether another copy still
    /// covers every object that needs it, and a summary. Exits 1 when an
    /// object cannot be restored. A progress bar is drawn on a terminal.
    Verify {
        /// Only this generation (default: all)
        generation: Option<String>,
        /// Exit 1 on any damaged file, even when another copy covers it
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
    /// Rescue what a generation with a damaged archive wrote itself
    ///
    /// Without a valid archive the engine cannot restore a generation. Its
    /// own snapshot files still name their object in a checksummed header:
    /// every file that passes its header CRC, payload CRC and BLAKE3 digest
    /// is written to DIR/<id as 16 hex digits>. Objects the generation
    /// shared with older generations are not in its directory and cannot
    /// be told apart; restore them from an older valid generation if that
    /// is good enough. Exits 1 if a file was damaged.
    Salvage {
        /// The generation (normally one whose archive is damaged)
        generation: String,
        /// Output directory
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Space per generation: shared versus exclusive, what purging would free
    Du,
    /// Remove generations and the files no other generation uses
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
        /// Only say what would be removed and freed
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        write: WriteImage,
    },
    /// Delete files no valid generation references (crash leftovers)
    ///
    /// Runs the engine's purge_zombies. Stop the Snapper component that uses
    /// the root first: a snapshot in progress has no archive yet, and gc
    /// would take its files for leftovers. An image needs --write-image.
    Gc {
        /// Only list what would be deleted
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
    /// checksums; every snapshot file needs an inode). With --from, the image is
    /// populated with a directory's content (mkfs.ext4 -d), e.g. a snapper
    /// root written on the host. Needs e2fsprogs.
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
        /// Bytes per inode: every snapshot file is an inode, and mkfs's
        /// default (16384) runs out of inodes long before blocks
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
    if let Cmd::Mkimage {
        size,
        path,
        from,
        force,
        inode_ratio,
    } = &cli.command
    {
        return mkimage(*size, path, from.as_deref(), *force, *inode_ratio);
    }
    let Some(path) = &cli.global.root else {
        return Err(Failure::Usage(
            "no snapper root: give --root PATH or set SNAPPER_ROOT".into(),
        ));
    };
    let root = RootSpec::detect(path, &cli.global.in_image).map_err(Failure::Io)?;
    let g = &cli.global;
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
        Cmd::Salvage { generation, output } => salvage(&root, g, generation, output),
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

fn show_log(g: &Global, lines: &[(Level, String)]) {
    if g.verbose {
        for (level, line) in lines {
            eprintln!("[snapper] {level:?}: {line}");
        }
    }
}

fn inspect_root(storage: &mut dyn Storage, g: &Global) -> Result<Inspection, Failure> {
    let inspection = Inspection::open(storage).map_err(Failure::Io)?;
    show_log(g, &inspection.log);
    Ok(inspection)
}

fn find<'a>(inspection: &'a Inspection, spec: &str) -> Result<&'a GenView, Failure> {
    inspection
        .find(spec)
        .ok_or_else(|| Failure::NotFound(format!("no generation '{spec}' (see `snapperctl list`)")))
}

fn require_valid(view: &GenView) -> Outcome {
    match &view.status {
        Status::Valid => Ok(()),
        Status::Damaged(why) => Err(Failure::Damage(format!(
            "generation {} ({}): archive {why}; the engine cannot restore it \
             (`snapperctl salvage {} -o DIR` rescues the objects it wrote itself)",
            view.generation, view.name, view.generation
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

/// Every file of every generation directory, by path, with its length.
fn all_files(
    storage: &mut dyn Storage,
    inspection: &Inspection,
    errors: &mut Vec<String>,
) -> BTreeMap<String, (Generation, u64)> {
    let mut out = BTreeMap::new();
    for view in &inspection.gens {
        for (path, size) in walk(storage, &view.name, errors) {
            out.insert(path, (view.generation, size));
        }
    }
    out
}

/// The files gc deletes, as the engine's purge_zombies decides: whatever
/// no valid archive references, except valid archives themselves and,
/// unless `drop_damaged`, every file of a generation whose archive is
/// damaged (kept for inspection, as integrity=yes asks).
fn unreferenced<'a>(
    inspection: &Inspection,
    on_disk: &'a BTreeMap<String, (Generation, u64)>,
    drop_damaged: bool,
) -> Vec<(&'a String, u64)> {
    let kept_whole: BTreeSet<Generation> = inspection
        .gens
        .iter()
        .filter(|v| !drop_damaged && matches!(v.status, Status::Damaged(_)))
        .map(|v| v.generation)
        .collect();
    let live: BTreeSet<String> = inspection
        .valid()
        .map(|v| archive_path(&v.name))
        .chain(inspection.files.keys().cloned())
        .collect();
    on_disk
        .iter()
        .filter(|(path, (generation, _))| !live.contains(*path) && !kept_whole.contains(generation))
        .map(|(path, (_, size))| (path, *size))
        .collect()
}

fn archive_path(name: &str) -> String {
    snapper_core::layout::in_generation(name, snapper_core::layout::ARCHIVE)
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
    objects: usize,
    files_created: Option<u32>,
    bytes_represented: u64,
    bytes_new: u64,
    bytes_shared: u64,
}

#[derive(Serialize)]
struct ListReport {
    root: String,
    generations: Vec<ListRow>,
}

fn list(root: &RootSpec, g: &Global) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let inspection = inspect_root(&mut *storage, g)?;
    let now = now();
    let rows: Vec<ListRow> = inspection
        .gens
        .iter()
        .map(|view| {
            let (new, shared) = view.bytes_new_and_shared();
            ListRow {
                generation: view.generation.0,
                name: view.name.clone(),
                created: view.created,
                age_seconds: now.saturating_sub(view.created),
                status: view.status.word(),
                problem: view.status.why(),
                objects: view.entries().len(),
                files_created: view.archive.as_ref().map(|a| a.file_count),
                bytes_represented: view.bytes_represented(),
                bytes_new: new,
                bytes_shared: shared,
            }
        })
        .collect();
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
        "{:>5}  {:<28}  {:>5}  {:>7}  {:>6}  {:>10}  {:>10}  STATUS",
        "GEN",
        "NAME",
        "AGE",
        "OBJECTS",
        "FILES",
        "NEW",
        "SHARED"
    );
    for row in &rows {
        let valid = row.status == "valid";
        let blank = |text: String| if valid { text } else { "-".into() };
        out!(
            "{:>5}  {:<28}  {:>5}  {:>7}  {:>6}  {:>10}  {:>10}  {}{}",
            row.generation,
            row.name,
            output::age(row.age_seconds),
            blank(row.objects.to_string()),
            row.files_created.map_or("-".into(), |n| n.to_string()),
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
    generation_name: Option<String>,
    file: u32,
    path: String,
    used_by: usize,
}

#[derive(Serialize)]
struct ObjectRow {
    id: u64,
    size: u32,
    digest: String,
    copies: Vec<CopyRow>,
}

#[derive(Serialize)]
struct ShowReport {
    generation: u32,
    name: String,
    created: u64,
    fanout: u32,
    files_created: u32,
    objects: Vec<ObjectRow>,
}

fn show(root: &RootSpec, g: &Global, spec: &str) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let inspection = inspect_root(&mut *storage, g)?;
    let view = find(&inspection, spec)?;
    require_valid(view)?;
    let Some(archive) = &view.archive else {
        return Err(Failure::Damage(format!(
            "generation {} has no archive",
            view.name
        )));
    };
    let objects: Vec<ObjectRow> = archive
        .entries
        .iter()
        .map(|entry| ObjectRow {
            id: entry.id.0,
            size: entry.size,
            digest: format!("{:?}", entry.digest),
            copies: entry
                .backlinks
                .iter()
                .filter_map(|link| {
                    let source = archive.source(link.generation)?;
                    let path =
                        snapper_core::layout::file_path(&source.name, source.fanout, link.file);
                    let used_by = inspection.files.get(&path).map_or(0, |f| f.users.len());
                    Some(CopyRow {
                        generation: link.generation.0,
                        generation_name: inspection.name_of(link.generation).map(String::from),
                        file: link.file.0,
                        path,
                        used_by,
                    })
                })
                .collect(),
        })
        .collect();
    let report = ShowReport {
        generation: view.generation.0,
        name: view.name.clone(),
        created: view.created,
        fanout: archive.fanout,
        files_created: archive.file_count,
        objects,
    };
    if g.json {
        return print_json(&report);
    }
    out!(
        "generation {} ({}): {} objects, {} files created, fan-out {}",
        report.generation,
        report.name,
        report.objects.len(),
        report.files_created,
        report.fanout
    );
    out!(
        "{:>18}  {:>9}  {:<32}  COPIES (newest first: generation:file, generations using the file)",
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
                let gens = if c.used_by == 1 { "gen" } else { "gens" };
                format!("{}:{:x} ({own}{} {gens})", c.generation, c.file, c.used_by)
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
struct DamagedFile {
    path: String,
    generation: u32,
    file: u32,
    object: u64,
    problem: String,
    used_by: Vec<u32>,
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
    objects: usize,
    /// Newest copy intact.
    intact: usize,
    /// Newest copy damaged, an older copy intact: restore still succeeds.
    from_older_copy: usize,
    /// No intact copy.
    lost: usize,
    lost_objects: Vec<u64>,
}

#[derive(Serialize)]
struct VerifyReport {
    scope: String,
    archives_checked: usize,
    files_checked: usize,
    bytes_checked: u64,
    damaged_archives: Vec<DamagedArchive>,
    damaged_files: Vec<DamagedFile>,
    generations: Vec<GenVerdict>,
    unreadable_dirs: Vec<String>,
    /// Generations without an archive that no valid generation uses: an
    /// interrupted snapshot, or an archive that was lost.
    incomplete_generations: Vec<DamagedArchive>,
    unreferenced_files: usize,
    objects_lost: usize,
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
    let inspection = inspect_root(&mut *storage, g)?;
    let scope: Vec<&GenView> = match spec {
        Some(spec) => vec![find(&inspection, spec)?],
        None => inspection.gens.iter().collect(),
    };
    let wanted: BTreeSet<Generation> = scope.iter().map(|v| v.generation).collect();

    let damaged_archives: Vec<DamagedArchive> = scope
        .iter()
        .filter_map(|view| match &view.status {
            Status::Damaged(why) => Some(DamagedArchive {
                generation: view.generation.0,
                name: view.name.clone(),
                problem: why.clone(),
            }),
            _ => None,
        })
        .collect();

    // Every file the generations in scope reference, each read once however
    // many generations share it.
    let to_check: Vec<&inspect::FileUse> = inspection
        .files
        .values()
        .filter(|f| f.users.iter().any(|u| wanted.contains(u)))
        .collect();
    let mut bar = Progress::new("verify", to_check.len() as u64, progress && !g.json);
    let mut states: BTreeMap<&str, FileState> = BTreeMap::new();
    let mut buf = Vec::new();
    let mut bytes_checked = 0u64;
    for file in &to_check {
        let state = check_file(&mut *storage, file, &mut buf);
        if state == FileState::Intact {
            bytes_checked += buf.len() as u64;
        }
        states.insert(file.path.as_str(), state);
        bar.step();
    }
    bar.finish();

    let damaged_files: Vec<DamagedFile> = to_check
        .iter()
        .filter_map(|file| {
            let problem = match states.get(file.path.as_str())? {
                FileState::Intact => return None,
                FileState::Missing => "missing".to_string(),
                FileState::Damaged(why) => why.clone(),
            };
            Some(DamagedFile {
                path: file.path.clone(),
                generation: file.link.generation.0,
                file: file.link.file.0,
                object: file.id,
                problem,
                used_by: file.users.iter().map(|u| u.0).collect(),
            })
        })
        .collect();

    let mut verdicts = Vec::new();
    for view in scope.iter().filter(|v| v.status == Status::Valid) {
        let Some(archive) = &view.archive else {
            continue;
        };
        let mut verdict = GenVerdict {
            generation: view.generation.0,
            name: view.name.clone(),
            objects: archive.entries.len(),
            intact: 0,
            from_older_copy: 0,
            lost: 0,
            lost_objects: Vec::new(),
        };
        for entry in &archive.entries {
            let ok: Vec<bool> = entry
                .backlinks
                .iter()
                .map(|link| {
                    archive
                        .source(link.generation)
                        .map(|s| snapper_core::layout::file_path(&s.name, s.fanout, link.file))
                        .and_then(|path| states.get(path.as_str()))
                        == Some(&FileState::Intact)
                })
                .collect();
            if ok.first() == Some(&true) {
                verdict.intact += 1;
            } else if ok.contains(&true) {
                verdict.from_older_copy += 1;
            } else {
                verdict.lost += 1;
                verdict.lost_objects.push(entry.id.0);
            }
        }
        verdicts.push(verdict);
    }

    // Files nobody references: what gc would delete (crash leftovers).
    let mut unreadable_dirs = Vec::new();
    let on_disk = all_files(&mut *storage, &inspection, &mut unreadable_dirs);
    let unreferenced_files = unreferenced(&inspection, &on_disk, false).len();

    let objects_lost: usize = verdicts.iter().map(|v| v.lost).sum();
    let ok = objects_lost == 0 && damaged_archives.is_empty();
    let report = VerifyReport {
        scope: spec.map_or("all".into(), String::from),
        archives_checked: scope
            .iter()
            .filter(|v| matches!(v.status, Status::Valid | Status::Damaged(_)))
            .count(),
        files_checked: to_check.len(),
        bytes_checked,
        damaged_archives,
        damaged_files,
        generations: verdicts,
        unreadable_dirs,
        incomplete_generations: scope
            .iter()
            .filter(|v| v.status == Status::Incomplete)
            .map(|v| DamagedArchive {
                generation: v.generation.0,
                name: v.name.clone(),
                problem: v.status.why().unwrap_or_default(),
            })
            .collect(),
        unreferenced_files,
        objects_lost,
        ok,
    };
    if g.json {
        print_json(&report)?;
    } else {
        print_verify(&report);
    }
    if !report.ok {
        return Err(Failure::Damage(String::new()));
    }
    if strict && !report.damaged_files.is_empty() {
        return Err(Failure::Damage(
            "--strict: damaged files found (every object is still restorable)".into(),
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
    for file in &report.damaged_files {
        let users: Vec<String> = file.used_by.iter().map(u32::to_string).collect();
        out!(
            "damaged file: {}: {} (object {:#x}, used by generation{} {})",
            file.path,
            file.problem,
            file.object,
            if users.len() == 1 { "" } else { "s" },
            users.join(", ")
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
    for dir in &report.unreadable_dirs {
        out!("warning: {dir}");
    }
    for v in &report.generations {
        if v.lost == 0 && v.from_older_copy == 0 {
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
        if v.from_older_copy > 0 {
            text += &format!(", {} restorable from an older copy", v.from_older_copy);
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
        if report.damaged_files.is_empty() {
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
    out!(
        "verify: {}, {} ({}) checked; {}, {}; {verdict}{}",
        output::count(report.archives_checked, "archive"),
        output::count(report.files_checked, "file"),
        output::size(report.bytes_checked),
        output::count(report.damaged_files.len(), "damaged file"),
        output::count(report.damaged_archives.len(), "damaged archive"),
        if report.unreferenced_files > 0 {
            format!(
                " ({} unreferenced files: `snapperctl gc` removes them)",
                report.unreferenced_files
            )
        } else {
            String::new()
        }
    );
}

// ---------------------------------------------------------------------------
// restore

/// Restores through the engine: it tries the copies newest first and copies
/// only bytes that passed the header CRC, payload CRC, id and digest checks.
fn restore(
    root: &RootSpec,
    g: &Global,
    spec: &str,
    id: Option<u64>,
    all: bool,
    output: Option<&Path>,
) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let inspection = inspect_root(&mut *storage, g)?;
    let view = find(&inspection, spec)?;
    require_valid(view)?;
    let entries = view.entries().to_vec();
    let name = view.name.clone();

    let mut snapper = Snapper::open(&mut *storage, Collect::default(), read_only_config())
        .map_err(|e| Failure::Io(format!("cannot open the snapper root: {e}")))?;
    let opened = snapper.open_generation(Some(&name));
    let log = std::mem::take(&mut snapper.platform_mut().lines);
    show_log(g, &log);
    opened.map_err(|e| Failure::Damage(format!("cannot open generation {name}: {e}")))?;

    let result = if all {
        // clap makes -o present with --all.
        let dir = output.unwrap_or(Path::new("."));
        restore_all(&mut snapper, g, &name, &entries, dir)
    } else {
        let Some(id) = id else {
            return Err(Failure::Usage("give an object id or --all".into()));
        };
        restore_one(&mut snapper, g, &name, &entries, id, output)
    };
    let _ = snapper.close_generation();
    show_log(g, &snapper.platform_mut().lines);
    result
}

/// Restores one object into a fresh buffer; `Err` carries the engine's
/// answer. The buffer holds verified bytes only (the engine's promise).
fn restore_bytes<S: Storage>(
    snapper: &mut Snapper<S, Collect>,
    id: u64,
    size: u32,
) -> Result<Vec<u8>, CoreError> {
    let mut buf = vec![0u8; size as usize];
    let len = snapper.restore(ObjectId(id), &mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

fn restore_one<S: Storage>(
    snapper: &mut Snapper<S, Collect>,
    g: &Global,
    name: &str,
    entries: &[snapper_core::format::Entry],
    id: u64,
    output: Option<&Path>,
) -> Outcome {
    let Some(entry) = snapper_core::format::find_entry(entries, ObjectId(id)) else {
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
    let bytes = restore_bytes(snapper, id, entry.size).map_err(|e| {
        show_log(g, &snapper.platform_mut().lines);
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
    snapper: &mut Snapper<S, Collect>,
    g: &Global,
    name: &str,
    entries: &[snapper_core::format::Entry],
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
        match restore_bytes(snapper, entry.id.0, entry.size) {
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
    salvaged: usize,
    bytes: u64,
    damaged_files: Vec<SalvageProblem>,
}

#[derive(Serialize)]
struct SalvageProblem {
    path: String,
    problem: String,
}

fn salvage(root: &RootSpec, g: &Global, spec: &str, dir: &Path) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let inspection = inspect_root(&mut *storage, g)?;
    let view = find(&inspection, spec)?;
    if view.status == Status::Valid {
        return Err(Failure::Refused(format!(
            "generation {} is valid: use `snapperctl restore {} --all -o DIR`",
            view.name, view.generation
        )));
    }
    let mut errors = Vec::new();
    let files = walk(&mut *storage, &view.name, &mut errors);
    fs::create_dir_all(dir).map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
    let mut report = SalvageReport {
        generation: view.name.clone(),
        directory: dir.display().to_string(),
        salvaged: 0,
        bytes: 0,
        damaged_files: errors
            .into_iter()
            .map(|problem| SalvageProblem {
                path: view.name.clone(),
                problem,
            })
            .collect(),
    };
    let mut seen = BTreeSet::new();
    let mut buf = Vec::new();
    // Only the snapshot trie: the (damaged) archive and a leftover
    // archive.tmp are not snapshot files.
    let trie = format!("{}/{}/", view.name, snapper_core::layout::SNAPSHOT_DIR);
    for (path, _) in files.iter().filter(|(p, _)| p.starts_with(&trie)) {
        match inspect::salvage_file(&mut *storage, path, &mut buf) {
            Ok((id, payload)) => {
                // One file per object in a generation; a second intact one
                // (a leftover of an aborted attempt) would be the same
                // object written twice: the first is kept.
                if seen.insert(id) {
                    write_new(&dir.join(format!("{id:016x}")), payload)?;
                    report.salvaged += 1;
                    report.bytes += payload.len() as u64;
                }
            }
            Err(problem) => report.damaged_files.push(SalvageProblem {
                path: path.clone(),
                problem,
            }),
        }
    }
    if g.json {
        print_json(&report)?;
    } else {
        for problem in &report.damaged_files {
            out!("not salvaged: {}: {}", problem.path, problem.problem);
        }
        out!(
            "salvaged {} ({}) that {} wrote itself into {}; objects it shared with older generations are not in its directory",
            output::count(report.salvaged, "object"),
            output::size(report.bytes),
            view.name,
            dir.display()
        );
    }
    if report.damaged_files.is_empty() {
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
    objects: usize,
    /// Payload bytes its objects add up to.
    bytes_represented: u64,
    /// Bytes of every file in its directory (archive included).
    bytes_in_directory: u64,
    /// Bytes of the snapshot files it references.
    bytes_referenced: u64,
    /// Of those, files no other valid generation references.
    bytes_exclusive: u64,
    /// Of those, files other valid generations reference too.
    bytes_shared: u64,
    /// What purging it would delete: exclusive files and its archive.
    purge_frees: u64,
}

#[derive(Serialize)]
struct DuReport {
    generations: Vec<DuRow>,
    /// Every file in every generation directory.
    bytes_stored: u64,
    /// Sum of the valid generations' represented bytes.
    bytes_represented: u64,
    /// bytes_stored / bytes_represented.
    ratio: f64,
    unreferenced_files: usize,
    unreferenced_bytes: u64,
}

fn du_report(storage: &mut dyn Storage, inspection: &Inspection) -> DuReport {
    let mut errors = Vec::new();
    let on_disk = all_files(storage, inspection, &mut errors);
    for error in errors {
        eprintln!("snapperctl: warning: {error}");
    }
    let size_of = |path: &str| on_disk.get(path).map_or(0, |(_, s)| *s);
    let mut rows = Vec::new();
    for view in &inspection.gens {
        let mut referenced = 0;
        let mut exclusive = 0;
        let mut seen = BTreeSet::new();
        for file in inspection
            .files
            .values()
            .filter(|f| f.users.contains(&view.generation))
        {
            if seen.insert(file.path.as_str()) {
                let size = size_of(&file.path);
                referenced += size;
                if file.users.len() == 1 {
                    exclusive += size;
                }
            }
        }
        let in_directory = on_disk
            .values()
            .filter(|(generation, _)| *generation == view.generation)
            .map(|(_, size)| size)
            .sum();
        rows.push(DuRow {
            generation: view.generation.0,
            name: view.name.clone(),
            status: view.status.word(),
            objects: view.entries().len(),
            bytes_represented: view.bytes_represented(),
            bytes_in_directory: in_directory,
            bytes_referenced: referenced,
            bytes_exclusive: exclusive,
            bytes_shared: referenced - exclusive,
            purge_frees: if view.status == Status::Valid {
                exclusive + view.archive_bytes
            } else {
                0
            },
        });
    }
    let bytes_stored: u64 = on_disk.values().map(|(_, s)| s).sum();
    let bytes_represented: u64 = inspection.valid().map(GenView::bytes_represented).sum();
    let unreferenced: Vec<u64> = unreferenced(inspection, &on_disk, false)
        .into_iter()
        .map(|(_, size)| size)
        .collect();
    DuReport {
        generations: rows,
        bytes_stored,
        bytes_represented,
        ratio: if bytes_represented == 0 {
            0.0
        } else {
            bytes_stored as f64 / bytes_represented as f64
        },
        unreferenced_files: unreferenced.len(),
        unreferenced_bytes: unreferenced.iter().sum(),
    }
}

fn du(root: &RootSpec, g: &Global) -> Outcome {
    let mut storage = root.open_read_only().map_err(Failure::Io)?;
    let inspection = inspect_root(&mut *storage, g)?;
    let report = du_report(&mut *storage, &inspection);
    if g.json {
        return print_json(&report);
    }
    out!(
        "{:>5}  {:<28}  {:>10}  {:>10}  {:>10}  {:>10}  {:>11}",
        "GEN",
        "NAME",
        "REPRESENTS",
        "IN DIR",
        "EXCLUSIVE",
        "SHARED",
        "PURGE FREES"
    );
    for row in &report.generations {
        out!(
            "{:>5}  {:<28}  {:>10}  {:>10}  {:>10}  {:>10}  {:>11}{}",
            row.generation,
            row.name,
            output::size(row.bytes_represented),
            output::size(row.bytes_in_directory),
            output::size(row.bytes_exclusive),
            output::size(row.bytes_shared),
            output::size(row.purge_frees),
            if row.status == "valid" {
                String::new()
            } else {
                format!("  ({})", row.status)
            }
        );
    }
    out!(
        "stored {} for {} of generations: ratio {:.3}{}",
        output::size(report.bytes_stored),
        output::size(report.bytes_represented),
        report.ratio,
        if report.unreferenced_files > 0 {
            format!(
                "; {} in {} unreferenced files (`snapperctl gc`)",
                output::size(report.unreferenced_bytes),
                report.unreferenced_files
            )
        } else {
            String::new()
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
    let inspection = inspect_root(&mut *storage, g)?;
    let report = du_report(&mut *storage, &inspection);
    let specs: Vec<String> = if oldest {
        vec!["oldest".into()]
    } else {
        specs.to_vec()
    };
    let mut names = Vec::new();
    for spec in &specs {
        let view = find(&inspection, spec)?;
        if matches!(view.status, Status::Purged | Status::Incomplete) {
            return Err(Failure::NotFound(format!(
                "generation {} is {}: nothing to purge (gc removes leftovers)",
                view.name,
                view.status.word()
            )));
        }
        let frees = report
            .generations
            .iter()
            .find(|r| r.name == view.name)
            .map_or(0, |r| r.purge_frees);
        names.push((view.name.clone(), frees));
    }
    if dry_run {
        if g.json {
            let rows: Vec<_> = names
                .iter()
                .map(|(name, frees)| serde_json::json!({ "name": name, "frees": frees }))
                .collect();
            return print_json(&rows);
        }
        for (name, frees) in &names {
            out!("would purge {name}: frees {}", output::size(*frees));
        }
        return Ok(());
    }
    let config = Config {
        min_snapshots: keep,
        ..read_only_config()
    };
    let mut snapper = Snapper::open(&mut *storage, Collect::default(), config)
        .map_err(|e| Failure::Io(format!("cannot open the snapper root: {e}")))?;
    let mut result = Ok(());
    let mut purged = Vec::new();
    for (name, _) in &names {
        let outcome = snapper.purge(Some(name));
        show_log(g, &std::mem::take(&mut snapper.platform_mut().lines));
        if let Err(e) = outcome {
            result = Err(engine_failure(&format!("purge {name}"), e));
            break;
        }
        if !g.json {
            out!("purged {name}");
        }
        purged.push(name.clone());
    }
    drop(snapper);
    let finished = finish_change(root, g, &mut *storage);
    let after = Inspection::open(&mut *storage).map_err(Failure::Io)?;
    let after = du_report(&mut *storage, &after);
    let freed = report.bytes_stored.saturating_sub(after.bytes_stored);
    if g.json {
        print_json(&serde_json::json!({
            "purged": purged,
            "bytes_freed": freed,
            "bytes_stored_before": report.bytes_stored,
            "bytes_stored_after": after.bytes_stored,
        }))?;
    } else {
        out!(
            "freed {} (stored {} -> {})",
            output::size(freed),
            output::size(report.bytes_stored),
            output::size(after.bytes_stored)
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
fn finish_change(root: &RootSpec, g: &Global, storage: &mut dyn Storage) -> Outcome {
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

fn gc(
    root: &RootSpec,
    g: &Global,
    dry_run: bool,
    drop_damaged: bool,
    write: &WriteImage,
) -> Outcome {
    let mut storage = open_for_change(root, dry_run, write)?;
    let inspection = inspect_root(&mut *storage, g)?;
    let mut errors = Vec::new();
    let on_disk = all_files(&mut *storage, &inspection, &mut errors);
    let doomed = unreferenced(&inspection, &on_disk, drop_damaged);
    let bytes: u64 = doomed.iter().map(|(_, s)| s).sum();
    if dry_run {
        if g.json {
            let files: Vec<_> = doomed
                .iter()
                .map(|(path, size)| serde_json::json!({ "path": path, "size": size }))
                .collect();
            return print_json(&serde_json::json!({ "files": files, "bytes": bytes }));
        }
        for (path, size) in &doomed {
            out!("would delete {path} ({})", output::size(*size));
        }
        out!(
            "gc would delete {} files ({})",
            doomed.len(),
            output::size(bytes)
        );
        return Ok(());
    }
    let config = Config {
        integrity: !drop_damaged,
        ..read_only_config()
    };
    let mut snapper = Snapper::open(&mut *storage, Collect::default(), config)
        .map_err(|e| Failure::Io(format!("cannot open the snapper root: {e}")))?;
    let outcome = snapper.purge_zombies();
    show_log(g, &std::mem::take(&mut snapper.platform_mut().lines));
    drop(snapper);
    let finished = finish_change(root, g, &mut *storage);
    let mut after_errors = Vec::new();
    let after = Inspection::open(&mut *storage).map_err(Failure::Io)?;
    let remaining = all_files(&mut *storage, &after, &mut after_errors);
    let gone: Vec<u64> = on_disk
        .iter()
        .filter(|(path, _)| !remaining.contains_key(*path))
        .map(|(_, (_, size))| *size)
        .collect();
    if g.json {
        print_json(&serde_json::json!({
            "files_deleted": gone.len(),
            "bytes_deleted": gone.iter().sum::<u64>(),
        }))?;
    } else {
        out!(
            "gc deleted {} unreferenced files ({})",
            gone.len(),
            output::size(gone.iter().sum())
        );
    }
    finished?;
    match outcome {
        Ok(()) => Ok(()),
        Err(CoreError::IntegrityFailed) => {
            let names: Vec<&str> = inspection
                .gens
                .iter()
                .filter(|v| matches!(v.status, Status::Damaged(_)))
                .map(|v| v.name.as_str())
                .collect();
            Err(Failure::Damage(format!(
                "kept generation(s) with a damaged archive for inspection: {}; `gc --drop-damaged` deletes them",
                names.join(", ")
            )))
        }
        Err(e) => Err(engine_failure("gc", e)),
    }
}

// ---------------------------------------------------------------------------
// mkimage

fn mkimage(bytes: u64, path: &Path, from: Option<&Path>, force: bool, inode_ratio: u32) -> Outcome {
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
    // metadata checksums (the seed's own mkfs line), one inode per 4 KiB
    // because every snapshot file is an inode, and the label "snapper".
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
