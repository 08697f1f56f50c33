//! The workloads, their floors and the rsync peer.
//!
//! Every timed step starts after a syncfs of the bench's file system, so
//! that writes left over from untimed preparation (the peer's live files,
//! the floors' pools) are not paid by the step; every writing step ends with
//! one syncfs, as Snapper's commit does.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use snapper_core::{Config, Digest, ObjectId, Snapper};
use snapper_host::{DirStorage, HostPlatform};

use crate::heap;
use crate::sys::{self, DiskUsage, Machine};
use crate::workload::Arena;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Parent of the fresh run directory.
    pub dir: PathBuf,
    /// PhantomOS workload: objects and payload bytes (1024 x 32 KiB).
    pub phantom: (usize, usize),
    /// Pages workload: objects and payload bytes (65,536 x 4 KiB).
    pub pages: (usize, usize),
    /// Retention workload: generations (20) and max_snapshots (5); objects
    /// and size are the PhantomOS workload's.
    pub retention: (u32, u32),
    /// Runs of the whole suite; each timed value is the median over them.
    pub repeat: usize,
    /// Snapper's `pack_size` (most payload bytes per pack file).
    pub pack_size: u64,
    /// Hint the objects a generation leaves unchanged (`take_unchanged`)
    /// instead of handing over their bytes, as a client that tracks its
    /// writes does: Snapper then neither reads nor hashes them.
    pub hints: bool,
    /// Run the rsync peer (when rsync is installed).
    pub peer: bool,
    /// Drop the page cache (needs root) for the cold restore rows.
    pub drop_caches: bool,
    /// Keep the run directory afterwards.
    pub keep: bool,
    /// The bench binary, run again as `--memory-probe` so the probe starts
    /// from a clean heap; `None` probes in this process (tests).
    pub probe_exe: Option<PathBuf>,
    /// Progress lines on stderr.
    pub progress: bool,
}

impl Options {
    /// The full run, the one BENCHMARKS.md shows.
    pub fn full() -> Self {
        Options {
            dir: PathBuf::from("var/bench"),
            phantom: (1024, 32 * 1024),
            pages: (65_536, 4096),
            retention: (20, 5),
            repeat: 3,
            pack_size: snapper_core::config::DEFAULT_PACK_SIZE,
            hints: false,
            peer: true,
            drop_caches: true,
            keep: false,
            probe_exe: None,
            progress: true,
        }
    }

    /// A smoke run of a few seconds: every row, tiny sizes.
    pub fn quick() -> Self {
        Options {
            phantom: (64, 8 * 1024),
            pages: (512, 4096),
            retention: (8, 3),
            repeat: 1,
            ..Self::full()
        }
    }
}

/// What a row's step is, which decides its floor and target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StepKind {
    /// A generation with nothing changed: floor = digest of every payload.
    Unchanged,
    /// A generation with changes (the first one included): floor = digest
    /// of every payload + writing the changed ones + unlinking as many
    /// files as retention deleted + one syncfs; the one-file floor writes
    /// the same payloads as one file in large writes instead.
    #[default]
    Changed,
    /// Restoring every object: floor = reading every object's file; the
    /// one-file floor reads the first step's one file back in large reads.
    Restore,
}

/// Seconds of one step, for Snapper and its references.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Times {
    /// Snapper.
    pub snapper: f64,
    /// Digest of every payload, no I/O.
    pub digest: Option<f64>,
    /// Changed payloads into as many new files (+ unlinks) + one syncfs.
    pub write: Option<f64>,
    /// The same payloads as ONE new file, sequentially in large writes
    /// (+ unlinks) + one syncfs: what a pack engine should approach.
    pub one_file_write: Option<f64>,
    /// Reading every object's file.
    pub read: Option<f64>,
    /// Reading every object back from one file in large reads.
    pub one_file_read: Option<f64>,
    /// rsync --link-dest (+ rm of the oldest snapshot) + one syncfs, or
    /// reading the latest hard-link snapshot back.
    pub peer: Option<f64>,
}

impl Times {
    /// The floor that applies to `kind`.
    pub fn floor(&self, kind: StepKind) -> Option<f64> {
        match kind {
            StepKind::Unchanged => self.digest,
            StepKind::Changed => Some(self.digest? + self.write?),
            StepKind::Restore => self.read,
        }
    }

    /// The one-file floor that applies to `kind` (an unchanged
    /// generation's is the digest: it writes nothing).
    pub fn one_file_floor(&self, kind: StepKind) -> Option<f64> {
        match kind {
            StepKind::Unchanged => self.digest,
            StepKind::Changed => Some(self.digest? + self.one_file_write?),
            StepKind::Restore => self.one_file_read,
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// "PhantomOS", "Pages", "Retention".
    pub workload: String,
    /// Snapper's redundancy setting in this workload.
    pub redundancy: u32,
    /// "first snapshot", "1 % changed", "restore (cold cache)", ...
    pub step: String,
    /// Decides the floor and the target.
    pub kind: StepKind,
    /// Objects in the workload.
    pub objects: u64,
    /// Payload bytes per object.
    pub size: u64,
    /// Objects changed in this step (all of them in the first snapshot).
    pub changed: u64,
    /// Generations this row stands for (retention rows are medians).
    pub generations: u32,
    /// Times (medians over repeats and over the generations of the row).
    pub times: Times,
    /// Payloads Snapper wrote into packs (changed content and extra copies).
    pub payloads_written: u64,
    /// Of those, redundant copies of unchanged content.
    pub redundant_copies: u64,
    /// Of those, copies moved forward out of sparse packs.
    pub copied_forward: u64,
    /// Objects linked to equal content stored under another id.
    pub deduplicated: u64,
    /// Pack files Snapper wrote.
    pub packs_written: u64,
    /// Pack bytes (payloads, index, trailer) plus the archive.
    pub bytes_written: u64,
    /// The archive's bytes.
    pub archive_bytes: u64,
    /// Files (packs and archives) retention deleted during the step.
    pub files_deleted: u64,
    /// du of the snapper root after the step.
    pub disk_after: u64,
    /// Largest growth of the snapper root's du in one generation of the row.
    pub disk_growth: i64,
    /// du of the peer's snapshots after the step.
    pub peer_disk_after: Option<u64>,
}

impl Row {
    /// Changed payload bytes of the step.
    pub fn changed_bytes(&self) -> u64 {
        self.changed * self.size
    }

    /// The disk target: changed bytes + 64 bytes per object.
    pub fn allowed_growth(&self) -> u64 {
        self.changed_bytes() + 64 * self.objects
    }
}

/// Resident memory of Snapper holding one workload's archive.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryRow {
    /// Which workload's sizes.
    pub workload: String,
    /// Objects held.
    pub objects: u64,
    /// VmRSS growth from the opened, empty Snapper to after the second
    /// (unchanged) commit, per object: what the OS sees Snapper keep.
    pub rss_held: f64,
    /// Live heap growth over the same span, per object: what Snapper keeps
    /// allocated (RSS also counts what malloc caches after frees).
    pub heap_held: f64,
    /// VmHWM growth during the second generation, per object: the base
    /// archive and the one being built are both resident then.
    pub rss_peak: f64,
    /// Live heap peak during the second generation, per object.
    pub heap_peak: f64,
    /// True if measured in a process of its own (clean heap).
    pub own_process: bool,
}

/// Everything a run measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// One row per step (retention: per group of generations).
    pub rows: Vec<Row>,
    /// Per-object memory, one row per workload shape.
    pub memory: Vec<MemoryRow>,
    /// VmHWM of the whole bench process, bytes.
    pub peak_rss: u64,
    /// The largest payload arena the bench itself held, bytes (part of
    /// peak_rss, not Snapper's).
    pub largest_arena: u64,
    /// What was done about the page cache.
    pub caches: String,
    /// Whether the peer ran, and if not why.
    pub peer: String,
    /// Runs each time is the median of.
    pub repeat: usize,
    /// The options, for the header.
    pub options: String,
    /// Load averages at the start and at the end of the run.
    pub load: (String, String),
}

/// Runs every workload `repeat` times in a fresh directory under
/// `options.dir`, then the memory probes.
pub fn run(options: &Options) -> Result<Report, String> {
    fs::create_dir_all(&options.dir).map_err(|e| format!("{}: {e}", options.dir.display()))?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let run_dir = options
        .dir
        .join(format!("run-{stamp}-{}", std::process::id()));
    fs::create_dir(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let machine = sys::machine(&run_dir);
    let load_at_start = sys::load_average();

    let rsync = sys::rsync_version();
    let peer_on = options.peer && rsync.is_ok();
    let peer = match (&rsync, options.peer) {
        (_, false) => "peer switched off (--no-peer)".to_string(),
        (Ok(version), true) => format!("{version}, `rsync -a --link-dest=PREV live/ NEXT/`"),
        (Err(why), true) => {
            eprintln!("snapper-bench: {why}");
            why.clone()
        }
    };
    let cold = options.drop_caches && sys::drop_caches().is_ok();
    let caches = if cold {
        "snapshot steps and the \"warm\" restore rows run with a warm page cache (a syncfs before each timed step, none dropped); before each \"cold\" restore measurement `sync; echo 3 > /proc/sys/vm/drop_caches`".to_string()
    } else if options.drop_caches {
        format!(
            "page cache NOT dropped ({}): every row is warm-cache; a syncfs before each timed step",
            sys::drop_caches().err().unwrap_or_default()
        )
    } else {
        "page cache not dropped (--no-drop-caches): every row is warm-cache; a syncfs before each timed step".to_string()
    };

    let mut bench = Bench {
        pack_size: options.pack_size,
        hints: options.hints,
        peer_on,
        cold,
        largest_arena: 0,
    };
    let mut repeats: Vec<Vec<Row>> = Vec::new();
    for round in 0..options.repeat.max(1) {
        let dir = run_dir.join(format!("repeat-{round}"));
        fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut rows = Vec::new();
        for spec in workloads(options) {
            if options.progress {
                eprintln!(
                    "snapper-bench: repeat {}/{}: {} (redundancy={})",
                    round + 1,
                    options.repeat.max(1),
                    spec.name,
                    spec.redundancy
                );
            }
            rows.extend(bench.run_workload(&spec, &dir)?);
        }
        // Each repeat starts from an empty directory; the disk numbers are
        // the same every time, the times are what the median is for.
        fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        repeats.push(rows);
    }
    let rows = median_rows(repeats);

    let mut memory = Vec::new();
    for (name, (objects, size)) in [("PhantomOS", options.phantom), ("Pages", options.pages)] {
        let dir = run_dir.join(format!("memory-{}", name.to_lowercase()));
        memory.push(memory_row(options, name, objects, size, &dir)?);
    }
    if !options.keep {
        fs::remove_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    }
    Ok(Report {
        machine,
        rows,
        memory,
        peak_rss: sys::vm_status("VmHWM").unwrap_or(0),
        largest_arena: bench.largest_arena,
        caches,
        peer,
        repeat: options.repeat.max(1),
        load: (load_at_start, sys::load_average()),
        options: format!(
            "PhantomOS {} x {} B; Pages {} x {} B; Retention {} generations, max_snapshots={}; pack_size {} B; {}median of {} run(s)",
            options.phantom.0,
            options.phantom.1,
            options.pages.0,
            options.pages.1,
            options.retention.0,
            options.retention.1,
            options.pack_size,
            if options.hints {
                "unchanged objects hinted (take_unchanged, --hints); "
            } else {
                ""
            },
            options.repeat.max(1)
        ),
    })
}

/// One step of a workload.
struct StepSpec {
    label: String,
    /// Percent of objects changed; the first step writes every object.
    percent: u32,
    restore: bool,
    /// Retention: consecutive steps of one group become one row.
    group: Option<String>,
}

struct WorkloadSpec {
    name: &'static str,
    objects: usize,
    size: usize,
    redundancy: u32,
    max_snapshots: u32,
    steps: Vec<StepSpec>,
}

fn snapshot(label: &str, percent: u32) -> StepSpec {
    StepSpec {
        label: label.into(),
        percent,
        restore: false,
        group: None,
    }
}

fn restore() -> StepSpec {
    StepSpec {
        label: "restore".into(),
        percent: 0,
        restore: true,
        group: None,
    }
}

fn workloads(options: &Options) -> Vec<WorkloadSpec> {
    let phantom = |redundancy| WorkloadSpec {
        name: "PhantomOS",
        objects: options.phantom.0,
        size: options.phantom.1,
        redundancy,
        max_snapshots: 0,
        steps: vec![
            snapshot("first snapshot", 100),
            snapshot("0 % changed", 0),
            snapshot("1 % changed", 1),
            snapshot("10 % changed", 10),
            restore(),
        ],
    };
    let (generations, max_snapshots) = options.retention;
    let retention = |redundancy| WorkloadSpec {
        name: "Retention",
        objects: options.phantom.0,
        size: options.phantom.1,
        redundancy,
        max_snapshots,
        steps: (1..=generations.max(1))
            .map(|g| {
                let group = if g == 1 {
                    "gen 1 (first)".to_string()
                } else if g <= max_snapshots {
                    format!("gens 2-{max_snapshots}, 10 % changed")
                } else {
                    format!(
                        "gens {}-{generations}, 10 % changed, purging",
                        max_snapshots + 1
                    )
                };
                StepSpec {
                    label: format!("gen {g}"),
                    percent: if g == 1 { 100 } else { 10 },
                    restore: false,
                    group: Some(group),
                }
            })
            .collect(),
    };
    vec![
        phantom(3),
        phantom(0),
        WorkloadSpec {
            name: "Pages",
            objects: options.pages.0,
            size: options.pages.1,
            // With three generations no file reaches three references, so
            // redundancy=0 would write exactly the same: run it once.
            redundancy: 3,
            max_snapshots: 0,
            steps: vec![
                snapshot("first snapshot", 100),
                snapshot("0 % changed", 0),
                snapshot("1 % changed", 1),
                restore(),
            ],
        },
        retention(3),
        retention(0),
    ]
}

/// Tries of each warm restore measurement; the best counts.
const WARM_TRIES: usize = 3;

struct Bench {
    pack_size: u64,
    hints: bool,
    peer_on: bool,
    cold: bool,
    largest_arena: u64,
}

/// The state of one workload's run.
struct Run {
    root: PathBuf,
    snapper: Snapper<DirStorage, HostPlatform>,
    arena: Arena,
    disk: DiskUsage,
    floor: PathBuf,
    /// Files the write floor may unlink, oldest first (never the first
    /// step's, which the read floor reads back).
    pool: VecDeque<PathBuf>,
    fillers: u64,
    /// The one-file floor's directory: one file per step.
    one_file: PathBuf,
    /// Its files the one-file floor may unlink (never the first step's).
    one_file_pool: VecDeque<PathBuf>,
    one_file_fillers: u64,
    pack_size: u64,
    live: PathBuf,
    snaps: PathBuf,
    peer_generations: VecDeque<PathBuf>,
    max_snapshots: u32,
}

fn err<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

fn timed<T>(f: impl FnOnce() -> Result<T, String>) -> Result<(T, f64), String> {
    let started = Instant::now();
    let value = f()?;
    Ok((value, started.elapsed().as_secs_f64()))
}

fn object_name(index: usize) -> String {
    format!("{index:08x}")
}

impl Bench {
    fn run_workload(&mut self, spec: &WorkloadSpec, parent: &Path) -> Result<Vec<Row>, String> {
        let root = parent.join(format!("{}-r{}", spec.name.to_lowercase(), spec.redundancy));
        let make = |p: &Path| fs::create_dir_all(p).map_err(err(p.display()));
        let (floor, one_file) = (root.join("floor"), root.join("one-file"));
        let (live, snaps) = (root.join("live"), root.join("snaps"));
        for dir in [&floor, &one_file, &live, &snaps] {
            make(dir)?;
        }
        let config = Config {
            redundancy: spec.redundancy,
            max_snapshots: spec.max_snapshots,
            bufsize: (spec.size as u64).max(4096),
            pack_size: self.pack_size,
            ..Config::default()
        };
        let storage = DirStorage::open(root.join("snapper")).map_err(err("snapper root"))?;
        let snapper = Snapper::open(storage, HostPlatform::quiet("bench"), config)
            .map_err(err("Snapper::open"))?;
        let arena = Arena::new(spec.objects, spec.size);
        self.largest_arena = self.largest_arena.max(arena.bytes());
        let mut run = Run {
            root,
            snapper,
            arena,
            disk: DiskUsage::default(),
            floor,
            pool: VecDeque::new(),
            fillers: 0,
            one_file,
            one_file_pool: VecDeque::new(),
            one_file_fillers: 0,
            pack_size: self.pack_size,
            live,
            snaps,
            peer_generations: VecDeque::new(),
            max_snapshots: spec.max_snapshots,
        };
        run.disk = sys::disk_usage(&run.root.join("snapper")).map_err(err("du"))?;
        let mut rows = Vec::new();
        for (index, step) in spec.steps.iter().enumerate() {
            let base = Row {
                workload: spec.name.into(),
                redundancy: spec.redundancy,
                step: step.label.clone(),
                objects: spec.objects as u64,
                size: spec.size as u64,
                generations: 1,
                ..Row::default()
            };
            if step.restore {
                rows.extend(self.restore_step(&mut run, base)?);
            } else {
                let mut row = self.snapshot_step(&mut run, base, index as u32, step.percent)?;
                if let Some(group) = &step.group {
                    row.step = group.clone();
                }
                rows.push(row);
            }
        }
        drop(run.snapper);
        fs::remove_dir_all(&run.root).map_err(err(run.root.display()))?;
        Ok(group_rows(rows))
    }

    fn settle(&self, run: &Run) -> Result<(), String> {
        sys::syncfs(&run.root).map_err(err("syncfs"))
    }

    fn snapshot_step(
        &mut self,
        run: &mut Run,
        mut row: Row,
        round: u32,
        percent: u32,
    ) -> Result<Row, String> {
        let changed: Vec<usize> = if round == 0 {
            (0..run.arena.len()).collect()
        } else {
            run.arena.change(percent, round)
        };
        row.changed = changed.len() as u64;
        row.kind = if changed.is_empty() {
            StepKind::Unchanged
        } else {
            StepKind::Changed
        };
        if self.peer_on {
            // The peer's live tree is the application's state, as the arena
            // is Snapper's: updating it is not part of the peer's step.
            // Distinct mtimes make rsync's size+mtime check see the change.
            let mtime = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + u64::from(round));
            for &index in &changed {
                let path = run.live.join(object_name(index));
                let mut file = File::create(&path).map_err(err(path.display()))?;
                file.write_all(run.arena.object(index))
                    .map_err(err(path.display()))?;
                file.set_modified(mtime).map_err(err(path.display()))?;
            }
        }

        // Snapper.
        self.settle(run)?;
        let snapper = &mut run.snapper;
        let arena = &run.arena;
        // `changed` is sorted; the first generation builds on nothing
        let hint = |index: usize| self.hints && round > 0 && changed.binary_search(&index).is_err();
        let ((), seconds) = timed(|| {
            snapper.init_snapshot().map_err(err("init_snapshot"))?;
            for index in 0..arena.len() {
                let id = ObjectId(index as u64);
                if hint(index) {
                    snapper.take_unchanged(id)
                } else {
                    snapper.take_snapshot(id, arena.object(index))
                }
                .map_err(err(format_args!("take {index}")))?;
            }
            snapper.commit_snapshot().map_err(err("commit_snapshot"))
        })?;
        row.times.snapper = seconds;
        let stats = snapper.last_snapshot_stats();
        row.payloads_written = stats.payloads_written;
        row.redundant_copies = stats.redundant_copies;
        row.copied_forward = stats.copied_forward;
        row.deduplicated = stats.deduplicated;
        row.packs_written = stats.packs_written;
        row.bytes_written = stats.pack_bytes + stats.archive_bytes;
        row.archive_bytes = stats.archive_bytes;
        let disk = sys::disk_usage(&run.root.join("snapper")).map_err(err("du"))?;
        // Files now = files before + packs + the archive - deleted.
        row.files_deleted = (run.disk.files + stats.packs_written + 1).saturating_sub(disk.files);
        row.disk_after = disk.bytes;
        row.disk_growth = disk.bytes as i64 - run.disk.bytes as i64;
        run.disk = disk;

        // Floors: the digest of every payload, then the changed payloads
        // into as many new files, the unlinks retention did, one syncfs.
        let ((), digest) = timed(|| {
            for index in 0..arena.len() {
                std::hint::black_box(Digest::of(arena.object(index)));
            }
            Ok(())
        })?;
        row.times.digest = Some(digest);
        self.fill_pool(run, row.files_deleted)?;
        self.settle(run)?;
        let dir = run.floor.join(format!("g{round}"));
        let doomed: Vec<PathBuf> = (0..row.files_deleted)
            .filter_map(|_| run.pool.pop_front())
            .collect();
        let arena = &run.arena;
        let (written, write) = timed(|| {
            fs::create_dir(&dir).map_err(err(dir.display()))?;
            let mut written = Vec::with_capacity(changed.len());
            for &index in &changed {
                let path = dir.join(object_name(index));
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(err(path.display()))?;
                file.write_all(arena.object(index))
                    .map_err(err(path.display()))?;
                written.push(path);
            }
            for path in &doomed {
                fs::remove_file(path).map_err(err(path.display()))?;
            }
            sys::syncfs(&dir).map_err(err("syncfs"))?;
            Ok(written)
        })?;
        row.times.write = Some(write);
        if round > 0 {
            run.pool.extend(written);
        }

        // The one-file floor: the same payloads as one new file, written
        // sequentially in large (vectored) writes, as many unlinks, one
        // syncfs. A pack engine writes about this; it cannot do less.
        self.fill_one_file_pool(run, row.files_deleted)?;
        self.settle(run)?;
        let path = run.one_file.join(format!("g{round}"));
        let doomed: Vec<PathBuf> = (0..row.files_deleted)
            .filter_map(|_| run.one_file_pool.pop_front())
            .collect();
        let arena = &run.arena;
        let ((), one_file_write) = timed(|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(err(path.display()))?;
            let mut slices: Vec<IoSlice> = changed
                .iter()
                .map(|&index| IoSlice::new(arena.object(index)))
                .collect();
            write_all_vectored(&mut file, &mut slices).map_err(err(path.display()))?;
            for doomed in &doomed {
                fs::remove_file(doomed).map_err(err(doomed.display()))?;
            }
            sys::syncfs(&run.one_file).map_err(err("syncfs"))
        })?;
        row.times.one_file_write = Some(one_file_write);
        if round > 0 {
            run.one_file_pool.push_back(path);
        }

        // The peer: a hard-link snapshot of the live tree, the oldest
        // dropped beyond max_snapshots, one syncfs.
        if self.peer_on {
            self.settle(run)?;
            let next = run.snaps.join(format!("g{round:04}"));
            let previous = run.peer_generations.back().cloned();
            let doomed = (run.max_snapshots > 0
                && run.peer_generations.len() + 1 > run.max_snapshots as usize)
                .then(|| run.peer_generations.pop_front())
                .flatten();
            let (live, snaps) = (&run.live, &run.snaps);
            let ((), seconds) = timed(|| {
                let mut command = Command::new("rsync");
                command.arg("-a");
                if let Some(previous) = &previous {
                    let absolute = fs::canonicalize(previous).map_err(err(previous.display()))?;
                    command.arg(format!("--link-dest={}", absolute.display()));
                }
                let status = command
                    .arg(format!("{}/", live.display()))
                    .arg(format!("{}/", next.display()))
                    .status()
                    .map_err(err("rsync"))?;
                if !status.success() {
                    return Err(format!("rsync failed: {status}"));
                }
                if let Some(doomed) = &doomed {
                    fs::remove_dir_all(doomed).map_err(err(doomed.display()))?;
                }
                sys::syncfs(snaps).map_err(err("syncfs"))
            })?;
            row.times.peer = Some(seconds);
            run.peer_generations.push_back(next);
            row.peer_disk_after = Some(sys::disk_usage(&run.snaps).map_err(err("du"))?.bytes);
        }
        Ok(row)
    }

    /// Makes sure the write floor has `count` files to unlink, writing
    /// fillers of the payload size (untimed) when its own are too few.
    fn fill_pool(&mut self, run: &mut Run, count: u64) -> Result<(), String> {
        if run.pool.len() as u64 >= count {
            return Ok(());
        }
        let dir = run.floor.join("fillers");
        fs::create_dir_all(&dir).map_err(err(dir.display()))?;
        while (run.pool.len() as u64) < count {
            let path = dir.join(format!("{:08x}", run.fillers));
            run.fillers += 1;
            fs::write(&path, run.arena.object(0)).map_err(err(path.display()))?;
            run.pool.push_back(path);
        }
        Ok(())
    }

    /// Makes sure the one-file floor has `count` files to unlink, writing
    /// fillers of pack size (untimed) when its own are too few.
    fn fill_one_file_pool(&mut self, run: &mut Run, count: u64) -> Result<(), String> {
        if run.one_file_pool.len() as u64 >= count {
            return Ok(());
        }
        let dir = run.one_file.join("fillers");
        fs::create_dir_all(&dir).map_err(err(dir.display()))?;
        let filler = vec![0x5a_u8; run.pack_size as usize];
        while (run.one_file_pool.len() as u64) < count {
            let path = dir.join(format!("{:08x}", run.one_file_fillers));
            run.one_file_fillers += 1;
            fs::write(&path, &filler).map_err(err(path.display()))?;
            run.one_file_pool.push_back(path);
        }
        Ok(())
    }

    /// Restores the latest generation whole, checks every byte (by digest),
    /// and reads the floor's and the peer's files back: warm, then cold if
    /// the page cache can be dropped.
    fn restore_step(&mut self, run: &mut Run, base: Row) -> Result<Vec<Row>, String> {
        let expected = run.arena.digests();
        let mut rows = Vec::new();
        let temperatures: &[bool] = if self.cold { &[false, true] } else { &[false] };
        for &cold in temperatures {
            let mut row = base.clone();
            row.kind = StepKind::Restore;
            row.step = if cold {
                "restore (cold cache)".into()
            } else {
                "restore (warm cache)".into()
            };
            row.disk_after = run.disk.bytes;

            // A warm restore changes nothing, so it can be repeated: each of
            // Snapper, the read floor and the peer gets the best of
            // WARM_TRIES, which filters out the other tenants' noise alike.
            // A cold one is measured once (each try needs a cache drop).
            let tries = if cold { 1 } else { WARM_TRIES };
            run.arena.clear();
            let mut best = f64::MAX;
            for _ in 0..tries {
                self.prepare_read(run, cold)?;
                let snapper = &mut run.snapper;
                let arena = &mut run.arena;
                let ((), seconds) = timed(|| {
                    snapper
                        .open_generation(None)
                        .map_err(err("open_generation"))?;
                    for index in 0..arena.len() {
                        snapper
                            .restore(ObjectId(index as u64), arena.object_mut(index))
                            .map_err(err(format_args!("restore {index}")))?;
                    }
                    snapper.close_generation().map_err(err("close_generation"))
                })?;
                best = best.min(seconds);
            }
            row.times.snapper = best;
            if run.arena.digests() != expected {
                return Err(format!(
                    "{} {}: restored content differs",
                    base.workload, row.step
                ));
            }

            // The first step's floor files hold one payload per object.
            let first = run.floor.join("g0");
            let mut best = f64::MAX;
            for _ in 0..tries {
                self.prepare_read(run, cold)?;
                let ((), read) = timed(|| read_back(&first, &mut run.arena))?;
                best = best.min(read);
            }
            row.times.read = Some(best);

            // The first step's one file holds every object, in id order.
            let first = run.one_file.join("g0");
            let mut best = f64::MAX;
            for _ in 0..tries {
                self.prepare_read(run, cold)?;
                let ((), read) = timed(|| read_one_file(&first, &mut run.arena))?;
                best = best.min(read);
            }
            row.times.one_file_read = Some(best);

            if let Some(latest) = run.peer_generations.back().cloned() {
                row.peer_disk_after = Some(sys::disk_usage(&run.snaps).map_err(err("du"))?.bytes);
                let mut best = f64::MAX;
                for _ in 0..tries {
                    self.prepare_read(run, cold)?;
                    let ((), seconds) = timed(|| read_back(&latest, &mut run.arena))?;
                    best = best.min(seconds);
                }
                row.times.peer = Some(best);
            }
            run.arena.refill_all();
            rows.push(row);
        }
        Ok(rows)
    }

    fn prepare_read(&self, run: &Run, cold: bool) -> Result<(), String> {
        self.settle(run)?;
        if cold {
            sys::drop_caches()?;
        }
        Ok(())
    }
}

/// Reads every object's file of `dir` (named by index) into the arena.
fn read_back(dir: &Path, arena: &mut Arena) -> Result<(), String> {
    for index in 0..arena.len() {
        let path = dir.join(object_name(index));
        let mut file = File::open(&path).map_err(err(path.display()))?;
        file.read_exact(arena.object_mut(index))
            .map_err(err(path.display()))?;
    }
    Ok(())
}

/// Reads every object back from one file (the first step's one-file
/// floor), sequentially in large vectored reads.
fn read_one_file(path: &Path, arena: &mut Arena) -> Result<(), String> {
    let mut file = File::open(path).map_err(err(path.display()))?;
    let mut slices: Vec<IoSliceMut> = arena.objects_mut().map(IoSliceMut::new).collect();
    read_exact_vectored(&mut file, &mut slices).map_err(err(path.display()))
}

/// write_all for a list of buffers: writev(2) takes up to IOV_MAX of them
/// per call (std caps the count), so 4 KiB pages go out 4 MiB at a time.
fn write_all_vectored(file: &mut File, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// read_exact for a list of buffers, by readv(2).
fn read_exact_vectored(file: &mut File, mut slices: &mut [IoSliceMut<'_>]) -> io::Result<()> {
    IoSliceMut::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match file.read_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => IoSliceMut::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn median_of(values: &[Option<f64>]) -> Option<f64> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    (present.len() == values.len() && !present.is_empty()).then(|| median(present))
}

fn median_times(times: &[Times]) -> Times {
    Times {
        snapper: median(times.iter().map(|t| t.snapper).collect()),
        digest: median_of(&times.iter().map(|t| t.digest).collect::<Vec<_>>()),
        write: median_of(&times.iter().map(|t| t.write).collect::<Vec<_>>()),
        one_file_write: median_of(&times.iter().map(|t| t.one_file_write).collect::<Vec<_>>()),
        read: median_of(&times.iter().map(|t| t.read).collect::<Vec<_>>()),
        one_file_read: median_of(&times.iter().map(|t| t.one_file_read).collect::<Vec<_>>()),
        peer: median_of(&times.iter().map(|t| t.peer).collect::<Vec<_>>()),
    }
}

/// Folds consecutive rows of one retention group into one: times, files
/// and bytes are medians per generation; disk is after the group's last
/// generation; growth is the largest of any generation in it.
fn group_rows(rows: Vec<Row>) -> Vec<Row> {
    let mut out: Vec<(Row, Vec<Row>)> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some((first, members)) if first.step == row.step && first.workload == row.workload => {
                members.push(row)
            }
            _ => out.push((row.clone(), vec![row])),
        }
    }
    out.into_iter().map(|(_, members)| fold(&members)).collect()
}

fn fold(members: &[Row]) -> Row {
    let Some(last) = members.last().cloned() else {
        return Row::default();
    };
    if members.len() == 1 {
        return last;
    }
    let med = |f: fn(&Row) -> u64| median(members.iter().map(|r| f(r) as f64).collect()) as u64;
    Row {
        generations: members.len() as u32,
        times: median_times(&members.iter().map(|r| r.times).collect::<Vec<_>>()),
        changed: med(|r| r.changed),
        payloads_written: med(|r| r.payloads_written),
        redundant_copies: med(|r| r.redundant_copies),
        copied_forward: med(|r| r.copied_forward),
        deduplicated: med(|r| r.deduplicated),
        packs_written: med(|r| r.packs_written),
        bytes_written: med(|r| r.bytes_written),
        archive_bytes: med(|r| r.archive_bytes),
        files_deleted: med(|r| r.files_deleted),
        disk_growth: members.iter().map(|r| r.disk_growth).max().unwrap_or(0),
        kind: if members.iter().all(|r| r.kind == StepKind::Unchanged) {
            StepKind::Unchanged
        } else {
            StepKind::Changed
        },
        ..last
    }
}

/// One row per step: times are medians over the repeats, the rest comes
/// from the last repeat (it is the same every time).
fn median_rows(repeats: Vec<Vec<Row>>) -> Vec<Row> {
    let Some(last) = repeats.last() else {
        return Vec::new();
    };
    last.iter()
        .enumerate()
        .map(|(index, row)| {
            let times: Vec<Times> = repeats
                .iter()
                .filter_map(|rows| rows.get(index).map(|r| r.times))
                .collect();
            Row {
                times: median_times(&times),
                ..row.clone()
            }
        })
        .collect()
}

fn memory_row(
    options: &Options,
    name: &str,
    objects: usize,
    size: usize,
    dir: &Path,
) -> Result<MemoryRow, String> {
    let mut row = match &options.probe_exe {
        Some(exe) => {
            let out = Command::new(exe)
                .arg("--memory-probe")
                .arg(objects.to_string())
                .arg(size.to_string())
                .arg(options.pack_size.to_string())
                .arg(dir)
                .output()
                .map_err(err(exe.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "memory probe failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            parse_probe(&String::from_utf8_lossy(&out.stdout))
                .ok_or("memory probe: no MEMORY line")?
        }
        None => probe_memory(objects, size, options.pack_size, dir)?,
    };
    row.workload = name.into();
    row.own_process = options.probe_exe.is_some();
    Ok(row)
}

fn parse_probe(text: &str) -> Option<MemoryRow> {
    let line = text.lines().find_map(|l| l.strip_prefix("MEMORY "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    match v[..] {
        [objects, rss_held, heap_held, rss_peak, heap_peak] => Some(MemoryRow {
            workload: String::new(),
            objects: objects as u64,
            rss_held,
            heap_held,
            rss_peak,
            heap_peak,
            own_process: true,
        }),
        _ => None,
    }
}

/// Measures what Snapper keeps resident per object: opens an empty root,
/// commits a generation of `objects` payloads and a second, unchanged one,
/// and compares VmRSS and the live heap with the opened, empty Snapper. The
/// payloads are allocated and touched before the baseline, so they do not
/// count. Prints the `MEMORY` line the parent reads when run as
/// `--memory-probe`.
pub fn probe_memory(
    objects: usize,
    size: usize,
    pack_size: u64,
    dir: &Path,
) -> Result<MemoryRow, String> {
    let arena = Arena::new(objects, size);
    let config = Config {
        bufsize: (size as u64).max(4096),
        pack_size,
        ..Config::default()
    };
    let storage = DirStorage::open(dir).map_err(err(dir.display()))?;
    let mut snapper = Snapper::open(storage, HostPlatform::quiet("bench"), config)
        .map_err(err("Snapper::open"))?;
    let generation = |snapper: &mut Snapper<DirStorage, HostPlatform>| -> Result<(), String> {
        snapper.init_snapshot().map_err(err("init_snapshot"))?;
        for index in 0..arena.len() {
            snapper
                .take_snapshot(ObjectId(index as u64), arena.object(index))
                .map_err(err("take_snapshot"))?;
        }
        snapper.commit_snapshot().map_err(err("commit_snapshot"))
    };
    let rss = || sys::vm_status("VmRSS").unwrap_or(0) as f64;
    let (rss0, heap0) = (rss(), heap::live() as f64);
    generation(&mut snapper)?;
    // Resets VmHWM to the current RSS, so the peak below is the second
    // generation's; without it the first generation's would show.
    let reset = fs::write("/proc/self/clear_refs", b"5\n").is_ok();
    heap::reset_peak();
    generation(&mut snapper)?;
    let (rss2, heap2) = (rss(), heap::live() as f64);
    let hwm = if reset {
        sys::vm_status("VmHWM").unwrap_or(0) as f64
    } else {
        rss2
    };
    let n = objects.max(1) as f64;
    let row = MemoryRow {
        workload: String::new(),
        objects: objects as u64,
        rss_held: (rss2 - rss0) / n,
        heap_held: (heap2 - heap0) / n,
        rss_peak: (hwm - rss0) / n,
        heap_peak: (heap::peak() as f64 - heap0) / n,
        own_process: false,
    };
    drop(snapper);
    drop(arena);
    let _ = fs::remove_dir_all(dir);
    Ok(row)
}

/// The line `--memory-probe` prints.
pub fn probe_line(row: &MemoryRow) -> String {
    format!(
        "MEMORY {} {:.2} {:.2} {:.2} {:.2}",
        row.objects, row.rss_held, row.heap_held, row.rss_peak, row.heap_peak
    )
}
