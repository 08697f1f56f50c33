//! snapperctl: the command line. Each command (`snapperctl::cmd`) opens
//! the root through the engine, asks it (never the bytes on disk directly)
//! and prints a table or, with `--json`, one JSON document on stdout.
//! Diagnostics go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use snapperctl::cmd::{self, Failure, Options, Outcome};
use snapperctl::output::{parse_id, parse_size};
use snapperctl::storage::RootSpec;

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
    let g = &Options {
        json: cli.global.json,
        verbose: cli.global.verbose,
    };
    if let Cmd::Mkimage {
        size,
        path,
        from,
        force,
        inode_ratio,
    } = &cli.command
    {
        return cmd::mkimage::run(g, *size, path, from.as_deref(), *force, *inode_ratio);
    }
    let Some(path) = &cli.global.root else {
        return Err(Failure::Usage(
            "no snapper root: give --root PATH or set SNAPPER_ROOT".into(),
        ));
    };
    let root = RootSpec::detect(path, &cli.global.in_image).map_err(Failure::Io)?;
    match &cli.command {
        Cmd::List => cmd::list::run(&root, g),
        Cmd::Show { generation } => cmd::show::run(&root, g, generation),
        Cmd::Verify {
            generation,
            strict,
            no_progress,
        } => cmd::verify::run(&root, g, generation.as_deref(), *strict, !*no_progress),
        Cmd::Restore {
            generation,
            id,
            all,
            output,
        } => cmd::restore::run(&root, g, generation, *id, *all, output.as_deref()),
        Cmd::Du => cmd::du::run(&root, g),
        Cmd::Salvage {
            generation,
            output,
            with_older,
        } => cmd::salvage::run(&root, g, generation, output, *with_older),
        Cmd::Purge {
            generations,
            oldest,
            keep,
            dry_run,
            write,
        } => cmd::purge::run(
            &root,
            g,
            generations,
            *oldest,
            *keep,
            *dry_run,
            write.write_image,
        ),
        Cmd::Gc {
            dry_run,
            drop_damaged,
            write,
        } => cmd::gc::run(&root, g, *dry_run, *drop_damaged, write.write_image),
        Cmd::Mkimage { .. } => Ok(()),
    }
}
