//! Power-cut sweeps: run a workload, cut power after every storage
//! operation in turn, and check every durable outcome of each cut against
//! the invariants of doc/DESIGN.md:
//!
//! 1. A new manager opens the surviving disk, and no call panics.
//! 2. No generation is damaged: a crash never leaves a broken archive.
//! 3. Every valid generation restores byte for byte the content it was
//!    committed with (so the generation in progress is complete or absent),
//!    and `verify_generation` finds every copy of it intact.
//! 4. Every generation committed before the cut (its commit returned Ok)
//!    is valid, unless the interrupted call was one allowed to purge it.
//! 5. A generation whose purge returned Ok before the cut stays purged.
//! 6. Every pack a valid archive uses is there and checks out (trailer,
//!    index, every payload's CRC, the payload bytes the archive records).
//! 7. The manager's reference count of every stored payload (pack and
//!    offset) equals the number of valid archives on disk that use it, and
//!    its view of each pack (live payloads and bytes, payload bytes) is the
//!    one the archives give; `unused_files` lists exactly the files no
//!    valid archive uses.
//! 8. After one purge_zombies, no file remains that is neither a valid
//!    archive nor a pack some valid archive uses, no `archive.tmp` and no
//!    empty directory; nothing used is missing.
//! 9. The next snapshot (with changed, unchanged and new objects) commits
//!    with a generation number above every directory on disk and restores,
//!    the earlier generations still restore, and the next purge works and
//!    leaves exactly the used files; 6 to 8 hold after each.
//!
//! Besides the figures, a sweep counts its cut points by what the engine
//! was doing (a pack written mid-take or at commit, the archive committed,
//! a pack deleted by a purge, by retention or by a sweep, ...) and sums the
//! snapshot counters of its run without a cut (payloads, packs, redundant
//! copies, copies moved forward, dedup links), so that a test can show that
//! the steps it means to cover were cut.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use snapper_core::{
    Config, Error, Generation, GenerationStatus, MemStorage, ObjectId, Snapper, SnapshotStats,
    State, Storage,
};

use crate::crash::CrashStorage;
use crate::image::{
    damaged_packs, empty_dirs, files, missing_files, payload_counts, unreferenced_files, used_packs,
};
use crate::mount::{Direct, Mount, Shared};
use crate::platform::SimPlatform;

/// Objects by id: the content a generation must restore.
pub type Content = BTreeMap<u64, Vec<u8>>;

/// One client call (or a change of the clock).
#[derive(Clone, Debug)]
pub enum Step {
    /// `init_snapshot`.
    Init,
    /// `take_snapshot(id, payload)`.
    Take(u64, Vec<u8>),
    /// `take_unchanged(id)`: the client's hint that the object is as in the
    /// base generation (its content there is what the new one must hold).
    TakeUnchanged(u64),
    /// `commit_snapshot`.
    Commit,
    /// `purge`: `None` the oldest, `Some(i)` the i-th valid generation by name.
    Purge(Option<usize>),
    /// `purge` of the newest valid generation, by name.
    PurgeNewest,
    /// `purge_expired`.
    PurgeExpired,
    /// `purge_zombies`.
    PurgeZombies,
    /// `abort` (a client that went away).
    Abort,
    /// `open_generation` (latest), one restore, `close_generation`, which
    /// applies retention.
    OpenClose,
    /// Opens the i-th valid generation, restores these ids, closes.
    Restore(usize, Vec<u64>),
    /// Sets the clock.
    Clock(u64),
}

/// The steps of one whole snapshot of `objects`.
pub fn snapshot(objects: &[(u64, Vec<u8>)]) -> Vec<Step> {
    let mut steps = vec![Step::Init];
    steps.extend(objects.iter().map(|(id, p)| Step::Take(*id, p.clone())));
    steps.push(Step::Commit);
    steps
}

/// A workload: setup steps (run without cuts; their result counts as
/// durable) and the steps whose every storage operation is a cut point.
#[derive(Clone, Debug)]
pub struct Workload {
    /// For messages.
    pub name: &'static str,
    /// The manager's config, for the run and the recovery.
    pub config: Config,
    /// The clock at the start.
    pub start: u64,
    /// Run first, not swept.
    pub setup: Vec<Step>,
    /// Swept.
    pub steps: Vec<Step>,
}

/// What one run of the steps showed.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Content of each generation committed in this run, and of those
    /// the caller seeded it with (what `take_unchanged` must find: the
    /// base's content).
    pub content: BTreeMap<Generation, Content>,
    /// Valid generations before each step (index i) and after the last.
    pub valid: Vec<BTreeSet<Generation>>,
    /// Whether each step returned Ok.
    pub ok: Vec<bool>,
    /// What each step returned.
    pub results: Vec<Result<(), Error>>,
    /// Generations whose commit returned Ok.
    pub committed: BTreeSet<Generation>,
    /// The step during which the power was cut.
    pub cut_step: Option<usize>,
    /// The clock at the end.
    pub clock: u64,
    /// Panics, with the step.
    pub panics: Vec<String>,
    /// The storage's operation count after each step (see
    /// [`run_steps_counted`]; zeros from [`run_steps`]).
    pub ops_after: Vec<u64>,
    /// The snapshot counters of every commit that returned Ok, summed.
    pub stats: SnapshotStats,
    /// What the generation being created held at each commit that failed
    /// and left it open: if the rename took effect before the error, a
    /// restart finds it valid with the content of that attempt.
    pub attempted: Vec<Content>,
}

/// Adds `b`'s counters to `a`'s.
pub fn add_stats(a: &mut SnapshotStats, b: &SnapshotStats) {
    a.objects += b.objects;
    a.payloads_written += b.payloads_written;
    a.redundant_copies += b.redundant_copies;
    a.copied_forward += b.copied_forward;
    a.deduplicated += b.deduplicated;
    a.hinted += b.hinted;
    a.packs_written += b.packs_written;
    a.pack_bytes += b.pack_bytes;
    a.archive_bytes += b.archive_bytes;
}

/// The valid generations' numbers.
pub fn valid_set<S: Storage>(snapper: &Snapper<S, SimPlatform>) -> BTreeSet<Generation> {
    snapper
        .generations()
        .into_iter()
        .filter(|g| g.status == GenerationStatus::Valid)
        .map(|g| g.generation)
        .collect()
}

/// The valid generations' names, oldest first.
pub fn valid_names<S: Storage>(snapper: &Snapper<S, SimPlatform>) -> Vec<String> {
    snapper
        .generations()
        .into_iter()
        .filter(|g| g.status == GenerationStatus::Valid)
        .map(|g| g.name)
        .collect()
}

/// The message of a caught panic.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

fn step_call<S: Storage>(
    snapper: &mut Snapper<S, SimPlatform>,
    platform: &SimPlatform,
    step: &Step,
) -> Result<(), Error> {
    match step {
        Step::Init => snapper.init_snapshot().map(|_| ()),
        Step::Take(id, payload) => snapper.take_snapshot(ObjectId(*id), payload),
        Step::TakeUnchanged(id) => snapper.take_unchanged(ObjectId(*id)),
        Step::Commit => snapper.commit_snapshot(),
        Step::Purge(which) => {
            let name = which.and_then(|i| valid_names(snapper).get(i).cloned());
            snapper.purge(name.as_deref())
        }
        Step::PurgeNewest => {
            let name = valid_names(snapper).pop();
            snapper.purge(name.as_deref())
        }
        Step::PurgeExpired => snapper.purge_expired(),
        Step::PurgeZombies => snapper.purge_zombies(),
        Step::Abort => {
            snapper.abort();
            Ok(())
        }
        Step::OpenClose => {
            snapper.open_generation(None)?;
            let mut buf = vec![0u8; snapper.config().bufsize.min(1 << 16) as usize];
            let restored = snapper.restore(ObjectId(0), &mut buf);
            snapper.close_generation()?;
            restored.map(|_| ()).or_else(|e| {
                if e == Error::NoMatches {
                    Ok(())
                } else {
                    Err(e)
                }
            })
        }
        Step::Restore(which, ids) => {
            let name = valid_names(snapper).get(*which).cloned();
            snapper.open_generation(name.as_deref())?;
            let mut buf = vec![0u8; snapper.config().bufsize.min(1 << 16) as usize];
            let mut first = Ok(());
            for id in ids {
                if let Err(e) = snapper.restore(ObjectId(*id), &mut buf) {
                    first = first.and(Err(e));
                }
            }
            snapper.close_generation()?;
            first
        }
        Step::Clock(t) => {
            platform.clock.set(*t);
            Ok(())
        }
    }
}

/// Runs `steps`, recording what happened; `is_cut` tells whether the power
/// has gone (then the remaining steps still run, against a dead disk, to
/// show that nothing panics on errors).
pub fn run_steps<S: Storage>(
    snapper: &mut Snapper<S, SimPlatform>,
    platform: &SimPlatform,
    steps: &[Step],
    run: &mut Run,
    is_cut: impl Fn(&S) -> bool,
) {
    run_steps_counted(snapper, platform, steps, run, is_cut, |_| 0);
}

/// [`run_steps`], recording `ops(storage)` after each step in
/// `run.ops_after`, so that a storage operation can be traced to the step
/// that made it.
pub fn run_steps_counted<S: Storage>(
    snapper: &mut Snapper<S, SimPlatform>,
    platform: &SimPlatform,
    steps: &[Step],
    run: &mut Run,
    is_cut: impl Fn(&S) -> bool,
    ops: impl Fn(&S) -> u64,
) {
    let mut pending: Option<Content> = None;
    // The base of the generation being created: what take_unchanged links.
    let mut base: Option<Content> = None;
    for (index, step) in steps.iter().enumerate() {
        run.valid.push(valid_set(snapper));
        let result = catch_unwind(AssertUnwindSafe(|| step_call(snapper, platform, step)));
        let result = match result {
            Ok(result) => result,
            Err(panic) => {
                run.panics.push(format!(
                    "step {index} {step:?} panicked: {}",
                    panic_text(&*panic)
                ));
                Err(Error::InvalidState)
            }
        };
        run.ok.push(result.is_ok());
        run.results.push(result);
        match (step, result) {
            (Step::Init, Ok(())) => {
                pending = Some(Content::new());
                base = valid_set(snapper)
                    .last()
                    .and_then(|g| run.content.get(g))
                    .cloned();
            }
            (Step::Take(id, payload), Ok(())) => {
                if let Some(content) = pending.as_mut() {
                    content.insert(*id, payload.clone());
                }
            }
            (Step::TakeUnchanged(id), Ok(())) => {
                match (pending.as_mut(), base.as_ref().and_then(|b| b.get(id))) {
                    (Some(content), Some(payload)) => {
                        content.insert(*id, payload.clone());
                    }
                    _ => run.panics.push(format!(
                        "step {index} {step:?}: the run does not know the base's content of {id} (seed Run::content)"
                    )),
                }
            }
            (Step::Commit, Ok(())) => {
                add_stats(&mut run.stats, &snapper.last_snapshot_stats());
                if let (Some(content), Some(newest)) =
                    (pending.take(), valid_set(snapper).last().copied())
                {
                    run.content.insert(newest, content);
                    run.committed.insert(newest);
                }
            }
            // A failed commit leaves the generation open: later takes
            // (after an init refused for that reason) go into it.
            (Step::Commit, Err(_)) if snapper.state() == State::Creation => {
                if let Some(content) = pending.as_ref() {
                    run.attempted.push(content.clone());
                }
            }
            // A commit whose last sync failed answers an error with the
            // archive in place: the generation is valid, with what was
            // taken (not committed: a client cannot count on it).
            (Step::Commit, Err(_)) => {
                let newest = valid_set(snapper).last().copied();
                if let (Some(content), Some(newest)) = (pending.take(), newest) {
                    if !run.valid[index].contains(&newest) {
                        run.content.insert(newest, content);
                    }
                }
            }
            // An abort whose failed commit left a record it could not
            // retire but reads back whole keeps that generation (the next
            // start would find it): valid, with what was taken.
            (Step::Abort, _) => {
                let newest = valid_set(snapper).last().copied();
                // What the failed commit wrote, not what was taken after it.
                let written = run.attempted.last().cloned().or(pending.take());
                pending = None;
                if let (Some(content), Some(newest)) = (written, newest) {
                    if !run.valid[index].contains(&newest) {
                        run.content.insert(newest, content);
                    }
                }
            }
            _ => {}
        }
        if run.cut_step.is_none() && is_cut(snapper.storage()) {
            run.cut_step = Some(index);
        }
        run.ops_after.push(ops(snapper.storage()));
    }
    run.valid.push(valid_set(snapper));
    run.clock = platform.clock.get();
}

/// The figures of one sweep.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Cut points (storage operations after which power was cut).
    pub cuts: u64,
    /// Distinct durable outcomes checked.
    pub outcomes: u64,
    /// Cut points of the recoveries swept after a first cut.
    pub nested_cuts: u64,
    /// Distinct outcomes checked after a cut during recovery.
    pub nested_outcomes: u64,
    /// First cut points by what the engine was doing ([`cut_kind`]).
    pub coverage: BTreeMap<&'static str, u64>,
    /// The snapshot counters of the swept steps' commits, in the run
    /// without a cut.
    pub stats: SnapshotStats,
    /// Invariants broken (each with a message in `violations`).
    pub violations: Vec<String>,
}

impl Figures {
    /// First cut points of kind `kind`.
    pub fn covered(&self, kind: &str) -> u64 {
        self.coverage.get(kind).copied().unwrap_or(0)
    }
}

/// Whether `path` is a pack file (not one of the trie directories above
/// packs): `<generation>/pack/<D>/<D-1 digits>/<n>` has `D + 1` components
/// after `pack`, a directory at most `D`.
pub fn is_pack_file(path: &str) -> bool {
    let mut parts = path.split('/');
    if parts.next().is_none() || parts.next() != Some("pack") {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    rest.first()
        .and_then(|d| d.parse::<usize>().ok())
        .is_some_and(|depth| rest.len() == depth + 1)
}

/// The commit point of a retirement (an archive file's rename, or the
/// erasure of a log record), by what retired it.
fn retire_kind(retention: bool, purge: bool) -> &'static str {
    if retention {
        "archive retire by retention"
    } else if purge {
        "archive retire by purge"
    } else {
        "archive retire (other)"
    }
}

/// Which write into the archive log an operation is, from its length
/// (`Op::describe`: "write_at archives at OFFSET (N bytes)"): the seal and
/// its zeroing are 4 bytes, the erasure of a record's headers 48, a record
/// whole blocks.
fn log_write_kind(op: &str, retention: bool, purge: bool) -> &'static str {
    let len = op
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok());
    match len {
        // a commit's seal, or the first step of a retirement (retention
        // runs inside a commit, so the step does not tell them apart)
        Some(4) => "archive seal or unseal",
        // a purge's commit point in the log: both headers zeroed
        Some(n) if n == snapper_core::archive_log::RETIRE_LEN => retire_kind(retention, purge),
        _ => "archive record write (commit point)",
    }
}

/// What a cut point is, from the step that made it and the operation (as
/// [`crate::Op::describe`] and the trace give it).
pub fn cut_kind(step: &Step, op: &str) -> &'static str {
    let path = op
        .split_once(' ')
        .map_or("", |(_, rest)| rest.split(' ').next().unwrap_or(""));
    let retention = matches!(step, Step::Commit | Step::OpenClose | Step::PurgeExpired);
    let purge = matches!(step, Step::Purge(_) | Step::PurgeNewest);
    if op == "sync" {
        "sync"
    } else if op.starts_with("create_dir") {
        "create_dir"
    } else if op.starts_with("rename") && path.ends_with("/archive") {
        // a purge's commit point: the archive renamed to archive.purged
        retire_kind(retention, purge)
    } else if op.starts_with("rename") {
        "archive rename (commit point)"
    } else if op.starts_with("remove") && path.ends_with("/archive.purged") {
        "retired archive remove"
    } else if op.starts_with("write_at") && path == snapper_core::layout::ARCHIVE_LOG {
        log_write_kind(op, retention, purge)
    } else if op.starts_with("write_at") {
        "write in place"
    } else if op.starts_with("write") && path == snapper_core::layout::ARCHIVE_LOG {
        "archive record write (commit point)"
    } else if op.starts_with("write") && path.ends_with("/archive.tmp") {
        "archive write"
    } else if op.starts_with("write") && is_pack_file(path) {
        match step {
            Step::Take(..) | Step::TakeUnchanged(..) => "pack write mid-take",
            Step::Commit => "pack write at commit",
            _ => "pack write (other)",
        }
    } else if op.starts_with("remove") && path.ends_with("/archive") {
        if retention {
            "archive remove by retention"
        } else if purge {
            "archive remove by purge"
        } else {
            "archive remove (other)"
        }
    } else if op.starts_with("remove") && is_pack_file(path) {
        if retention {
            "pack delete by retention"
        } else if purge {
            "pack delete by purge"
        } else {
            "pack delete by sweep or abort"
        }
    } else if op.starts_with("remove") {
        "remove (other)"
    } else {
        "other"
    }
}

/// Sweeps `count` seeded random workloads ([`random_workload`], seeds
/// `seed * 1000 + n`) through `mount`, `random` random outcomes per cut;
/// the figures summed, each violation naming its workload's seed.
pub fn sweep_random_workloads<M: Mount>(mount: &M, count: u64, seed: u64, random: u64) -> Figures {
    let mut total = Figures::default();
    for n in 0..count {
        let workload_seed = seed.wrapping_mul(1000).wrapping_add(n);
        let workload = random_workload(workload_seed);
        let figures = sweep_mounted(mount, &workload, random, workload_seed, None);
        total.cuts += figures.cuts;
        total.outcomes += figures.outcomes;
        for (kind, n) in &figures.coverage {
            *total.coverage.entry(kind).or_default() += n;
        }
        add_stats(&mut total.stats, &figures.stats);
        total
            .violations
            .extend(figures.violations.into_iter().map(|v| {
                format!(
                    "workload seed {workload_seed} ({:?}, steps {:?}): {v}",
                    workload.config,
                    workload.steps.len()
                )
            }));
    }
    total
}

/// Sweeps `workload`: every cut point, `random` seeded random outcomes per
/// metadata order besides the systematic ones.
pub fn sweep(workload: &Workload, random: u64, seed: u64) -> Figures {
    sweep_mounted(&Direct, workload, random, seed, None)
}

/// The same sweep, plus a second power cut during the recovery from some
/// outcomes of each first cut: the recovery (purge_zombies, a snapshot, a
/// purge) is swept in turn, over about `per_cut` outcomes of each cut.
pub fn sweep_nested(workload: &Workload, random: u64, seed: u64, per_cut: usize) -> Figures {
    sweep_mounted(&Direct, workload, random, seed, Some(per_cut))
}

/// Both sweeps, with the engine reaching the storage through `mount` (the
/// recoveries checked after each cut too): the setup (run without cuts,
/// and checked: a setup that fails is a violation, not a silent start from
/// somewhere else), then the swept steps; `nested` as in [`sweep_nested`].
pub fn sweep_mounted<M: Mount>(
    mount: &M,
    workload: &Workload,
    random: u64,
    seed: u64,
    nested: Option<usize>,
) -> Figures {
    let mut figures = Figures::default();
    let platform = SimPlatform::at(workload.start);
    let mut setup_run = Run::default();
    let disk = Shared::new(CrashStorage::over(MemStorage::new()));
    let Ok(mut snapper) = Snapper::open(
        mount.mount(disk.handle()),
        platform.clone(),
        workload.config,
    ) else {
        figures
            .violations
            .push(format!("{}: setup: open failed", workload.name));
        return figures;
    };
    run_steps(
        &mut snapper,
        &platform,
        &workload.setup,
        &mut setup_run,
        |_| false,
    );
    if setup_run.ok.contains(&false) || !setup_run.panics.is_empty() {
        figures.violations.push(format!(
            "{}: setup failed: {:?} {:?}",
            workload.name, setup_run.results, setup_run.panics
        ));
        return figures;
    }
    drop(snapper);
    let start = disk.lock().inner().clone();
    sweep_from(
        mount,
        &Start {
            name: workload.name,
            config: workload.config,
            disk: start,
            clock: platform.clock.get(),
            content: setup_run.content,
        },
        &workload.steps,
        random,
        seed,
        nested,
    )
}

/// Where a sweep starts.
struct Start {
    name: &'static str,
    config: Config,
    disk: MemStorage,
    clock: u64,
    content: BTreeMap<Generation, Content>,
}

/// What a recovery after a crash does, swept for a second cut: sizes that
/// make packs of their own with a small pack_size.
fn recovery_steps() -> Vec<Step> {
    vec![
        Step::PurgeZombies,
        Step::Init,
        Step::Take(1, b"changed after the crash".to_vec()),
        Step::Take(0xBEEF, vec![0x42; 3000]),
        Step::Take(0xBEF0, vec![0x43; 3000]),
        Step::Commit,
        Step::Purge(None),
    ]
}

fn sweep_from<M: Mount>(
    mount: &M,
    from: &Start,
    steps: &[Step],
    random: u64,
    seed: u64,
    nested: Option<usize>,
) -> Figures {
    let mut figures = Figures::default();
    let workload = Workload {
        name: from.name,
        config: from.config,
        start: from.clock,
        setup: Vec::new(),
        steps: steps.to_vec(),
    };
    let start = from.disk.clone();
    let start_clock = from.clock;

    // The reference run, without a cut: how many cut points there are, and
    // what each step does when nothing goes wrong.
    let reference = {
        let platform = SimPlatform::at(start_clock);
        let mut run = Run {
            content: from.content.clone(),
            ..Run::default()
        };
        let disk = Shared::new(CrashStorage::over(start.clone()).check_deletions());
        let storage = mount.mount(disk.handle());
        let Ok(mut snapper) = Snapper::open(storage, platform.clone(), workload.config) else {
            figures
                .violations
                .push(format!("{}: reference: open failed", workload.name));
            return figures;
        };
        run_steps_counted(
            &mut snapper,
            &platform,
            &workload.steps,
            &mut run,
            |_| false,
            |_| disk.lock().ops(),
        );
        // Refusals a workload may provoke on purpose (a purge below the
        // floor, a commit with nothing in it) are fine; a failure of the
        // storage or the data, or a call in the wrong state, is not.
        let failed = run.results.iter().any(|r| {
            matches!(
                r,
                Err(Error::StorageFailed
                    | Error::InitFailed
                    | Error::IntegrityFailed
                    | Error::RestoreFailed
                    | Error::LoadGenFailed
                    | Error::InvalidVersion
                    | Error::InvalidState)
            )
        });
        if failed || !run.panics.is_empty() {
            figures.violations.push(format!(
                "{}: the workload fails without a crash: {:?} {:?}",
                workload.name, run.results, run.panics
            ));
            return figures;
        }
        drop(snapper);
        let disk = disk.lock();
        for path in disk.early_deletions() {
            figures.violations.push(format!(
                "{}: deleted {path} while a durable archive referenced it",
                workload.name
            ));
        }
        for what in disk.overwrites() {
            figures.violations.push(format!(
                "{}: tried to overwrite an existing name: {what}",
                workload.name
            ));
        }
        // What each cut point is: the trace holds one line per cut point,
        // run.ops_after says which step made it.
        let mut step = 0;
        for (index, op) in disk.trace().iter().enumerate() {
            while run
                .ops_after
                .get(step)
                .is_some_and(|after| *after <= index as u64)
            {
                step += 1;
            }
            if let Some(made_by) = workload.steps.get(step) {
                *figures.coverage.entry(cut_kind(made_by, op)).or_default() += 1;
            }
        }
        figures.stats = run.stats;
        let total = disk.ops();
        (run, total)
    };
    let (reference, total) = reference;
    let mut content = from.content.clone();
    content.extend(reference.content.clone());
    // What each step may remove: valid before it, not after it.
    let removes: Vec<BTreeSet<Generation>> = (0..workload.steps.len())
        .map(|i| {
            reference.valid[i]
                .difference(&reference.valid[i + 1])
                .copied()
                .collect()
        })
        .collect();

    for cut in 1..=total {
        figures.cuts += 1;
        let platform = SimPlatform::at(start_clock);
        let mut run = Run {
            content: from.content.clone(),
            ..Run::default()
        };
        let disk = Shared::new(CrashStorage::over(start.clone()).cut_after(cut));
        let storage = mount.mount(disk.handle());
        let Ok(mut snapper) = Snapper::open(storage, platform.clone(), workload.config) else {
            figures
                .violations
                .push(format!("{}: cut {cut}: open failed", workload.name));
            continue;
        };
        run_steps(&mut snapper, &platform, &workload.steps, &mut run, |_| {
            disk.lock().is_cut()
        });
        // The checks below mount engines of their own.
        drop(snapper);
        let disk = disk.lock();
        let label = format!(
            "{} cut after op {cut}/{total} ({})",
            workload.name,
            disk.trace().last().map_or("", String::as_str)
        );
        for panic in &run.panics {
            figures.violations.push(format!("{label}: {panic}"));
        }
        let cut_step = run
            .cut_step
            .unwrap_or(workload.steps.len().saturating_sub(1));
        let may_vanish: BTreeSet<Generation> =
            removes[..=cut_step].iter().flatten().copied().collect();
        let mut required: BTreeSet<Generation> = run.valid[0].clone();
        required.extend(run.committed.iter().copied());
        required.retain(|g| !may_vanish.contains(g));
        let mut forbidden = BTreeSet::new();
        for (i, step) in workload.steps.iter().enumerate().take(cut_step + 1) {
            if matches!(
                step,
                Step::Purge(_) | Step::PurgeNewest | Step::PurgeExpired
            ) && run.ok[i]
            {
                forbidden.extend(removes[i].iter().copied());
            }
        }
        let expect = Expect {
            config: workload.config,
            clock: run.clock,
            content: &content,
            required,
            forbidden,
        };
        let outcomes = disk.outcomes(random, seed ^ cut.wrapping_mul(0x100_0000_01B3));
        let stride = nested.map_or(0, |per_cut| (outcomes.len() / per_cut.max(1)).max(1));
        for (n, disk) in outcomes.into_iter().enumerate() {
            figures.outcomes += 1;
            if stride > 0 && n % stride == 0 {
                let mut second = sweep_from(
                    mount,
                    &Start {
                        name: from.name,
                        config: from.config,
                        disk: disk.clone(),
                        clock: run.clock,
                        content: content.clone(),
                    },
                    &recovery_steps(),
                    0,
                    seed ^ n as u64,
                    None,
                );
                figures.nested_cuts += second.cuts;
                figures.nested_outcomes += second.outcomes;
                for v in second.violations.drain(..) {
                    figures
                        .violations
                        .push(format!("{label}, outcome {n}, then during recovery: {v}"));
                }
            }
            for v in check_recovery_mounted(mount, disk, &expect) {
                figures
                    .violations
                    .push(format!("{label}, outcome {n}: {v}"));
            }
        }
    }
    figures
}

/// What a recovered disk must show.
pub struct Expect<'a> {
    /// Config of the new manager.
    pub config: Config,
    /// Its clock.
    pub clock: u64,
    /// The content each generation was committed with.
    pub content: &'a BTreeMap<Generation, Content>,
    /// Generations that must be valid.
    pub required: BTreeSet<Generation>,
    /// Generations that must not be valid.
    pub forbidden: BTreeSet<Generation>,
}

/// Opens a manager over `disk` and checks the invariants listed in the
/// module documentation; returns what broke.
pub fn check_recovery(disk: MemStorage, expect: &Expect<'_>) -> Vec<String> {
    check_recovery_mounted(&Direct, disk, expect)
}

/// [`check_recovery`], the engine reaching `disk` through `mount`.
pub fn check_recovery_mounted<M: Mount>(
    mount: &M,
    disk: MemStorage,
    expect: &Expect<'_>,
) -> Vec<String> {
    let mut violations = Vec::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        recover(mount, disk, expect, &mut violations)
    }));
    if let Err(panic) = outcome {
        violations.push(format!("panicked: {}", panic_text(&*panic)));
    }
    violations
}

/// Restores every object of `generation` (by name) and compares.
pub fn restore_matches<S: Storage, P: snapper_core::Platform>(
    snapper: &mut Snapper<S, P>,
    name: &str,
    content: &Content,
) -> Result<(), String> {
    snapper
        .open_generation(Some(name))
        .map_err(|e| format!("open_generation({name}): {e}"))?;
    let longest = content.values().map(Vec::len).max().unwrap_or(0);
    let mut buf = vec![0xEEu8; longest + 3];
    let mut result = Ok(());
    for (id, payload) in content {
        match snapper.restore(ObjectId(*id), &mut buf) {
            Ok(len) if len == payload.len() && buf[..len] == payload[..] => {}
            Ok(len) => {
                result = Err(format!(
                    "{name}: object {id} restored wrong bytes ({len} bytes)"
                ));
                break;
            }
            Err(e) => {
                result = Err(format!("{name}: object {id}: {e}"));
                break;
            }
        }
    }
    if result.is_ok() && snapper.restore(ObjectId(u64::MAX - 1), &mut buf) != Err(Error::NoMatches)
    {
        result = Err(format!("{name}: holds an object it never got"));
    }
    // Retention runs here; what it purges was checked first.
    let _ = snapper.close_generation();
    result
}

fn recover<M: Mount>(
    mount: &M,
    disk: MemStorage,
    expect: &Expect<'_>,
    violations: &mut Vec<String>,
) {
    let names_on_disk: Vec<String> = disk
        .nodes()
        .keys()
        .filter(|p| !p.contains('/'))
        .filter(|p| snapper_core::layout::GenerationName::parse(p).is_some())
        .cloned()
        .collect();
    let dirs_on_disk: BTreeSet<Generation> = disk
        .nodes()
        .keys()
        .filter(|p| !p.contains('/'))
        .filter_map(|p| snapper_core::layout::GenerationName::parse(p).map(|(_, _, g)| g))
        .collect();
    // First look with retention off, so that close_generation cannot purge
    // what is still to be checked; then the real config.
    let look = Config {
        max_snapshots: 0,
        expiration: 0,
        ..expect.config
    };
    let disk = Shared::new(disk);
    let mut snapper = match Snapper::open(
        mount.mount(disk.handle()),
        SimPlatform::at(expect.clock),
        look,
    ) {
        Ok(snapper) => snapper,
        Err(e) => {
            violations.push(format!("open failed: {e}"));
            return;
        }
    };
    let gens = snapper.generations();
    for g in &gens {
        if matches!(g.status, GenerationStatus::Damaged(_)) {
            violations.push(format!("generation {} damaged: {:?}", g.name, g.status));
        }
    }
    let valid: Vec<(Generation, String)> = gens
        .iter()
        .filter(|g| g.status == GenerationStatus::Valid)
        .map(|g| (g.generation, g.name.clone()))
        .collect();
    let valid_numbers: BTreeSet<Generation> = valid.iter().map(|(g, _)| *g).collect();
    for missing in expect.required.difference(&valid_numbers) {
        violations.push(format!("committed generation {missing} lost"));
    }
    for back in expect.forbidden.intersection(&valid_numbers) {
        violations.push(format!("purged generation {back} came back"));
    }
    for (generation, name) in &valid {
        match expect.content.get(generation) {
            None => violations.push(format!("generation {name} valid but never committed")),
            Some(content) => {
                let listed = gens
                    .iter()
                    .find(|g| g.generation == *generation)
                    .map_or(0, |g| g.objects as usize);
                if listed != content.len() {
                    violations.push(format!(
                        "generation {name} holds {listed} objects, committed with {}",
                        content.len()
                    ));
                }
                if let Err(e) = restore_matches(&mut snapper, name, content) {
                    violations.push(e);
                }
                match snapper.verify_generation(*generation) {
                    Ok(report) if report.damaged.is_empty() && report.lost.is_empty() => {}
                    Ok(report) => violations.push(format!(
                        "verify_generation({name}): damaged {:?}, lost {:?}",
                        report.damaged, report.lost
                    )),
                    Err(e) => violations.push(format!("verify_generation({name}): {e}")),
                }
            }
        }
    }
    // What the crash left: used packs intact, counts as on disk, and the
    // manager's list of unused files the independent one.
    check_packs(&disk.lock(), "after the crash", violations);
    check_refcounts(&snapper, &disk.lock(), "after the crash", violations);
    let garbage = unreferenced_files(&disk.lock());
    match snapper.unused_files() {
        Ok(unused) if unused.iter().cloned().collect::<BTreeSet<_>>() == garbage => {}
        Ok(unused) => violations.push(format!(
            "unused_files lists {unused:?}, the disk holds {garbage:?} no valid archive uses"
        )),
        Err(e) => violations.push(format!("unused_files: {e}")),
    }
    drop(snapper);
    let mut snapper = match Snapper::open(
        mount.mount(disk.handle()),
        SimPlatform::at(expect.clock),
        expect.config,
    ) {
        Ok(snapper) => snapper,
        Err(e) => {
            violations.push(format!("second open failed: {e}"));
            return;
        }
    };
    // Retention may purge on the first call that applies it; go on with
    // what is valid then.
    if let Err(e) = snapper.purge_expired() {
        violations.push(format!("purge_expired after recovery: {e}"));
    }
    let survivors: Vec<(Generation, String)> = snapper
        .generations()
        .into_iter()
        .filter(|g| g.status == GenerationStatus::Valid)
        .map(|g| (g.generation, g.name))
        .collect();

    if let Err(e) = snapper.purge_zombies() {
        violations.push(format!("purge_zombies: {e}"));
    }
    check_clean(&disk.lock(), "after purge_zombies", violations);
    check_refcounts(&snapper, &disk.lock(), "after purge_zombies", violations);

    // The next snapshot: every object of the latest generation, half of
    // them changed, and one new object.
    let base: Content = survivors
        .last()
        .and_then(|(g, _)| expect.content.get(g))
        .cloned()
        .unwrap_or_default();
    let mut next: Content = base
        .iter()
        .enumerate()
        .map(|(i, (id, payload))| {
            let mut payload = payload.clone();
            if i % 2 == 0 {
                payload.push(0xA5);
            }
            (*id, payload)
        })
        .collect();
    next.insert(0xFEED, b"after the crash".to_vec());
    let attempt = (|| -> Result<(), Error> {
        snapper.init_snapshot()?;
        for (id, payload) in &next {
            snapper.take_snapshot(ObjectId(*id), payload)?;
        }
        snapper.commit_snapshot()
    })();
    if let Err(e) = attempt {
        violations.push(format!("next snapshot: {e}"));
        return;
    }
    let newest = snapper
        .generations()
        .into_iter()
        .rfind(|g| g.status == GenerationStatus::Valid);
    let Some(newest) = newest else {
        violations.push("next snapshot not listed".into());
        return;
    };
    if names_on_disk
        .iter()
        .any(|n| n.as_str() >= newest.name.as_str())
    {
        violations.push(format!(
            "next snapshot's name {} does not sort after every directory on disk",
            newest.name
        ));
    }
    if let Some(above) = dirs_on_disk.iter().find(|g| **g >= newest.generation) {
        violations.push(format!(
            "next snapshot took number {} although directory {above} was on disk",
            newest.generation
        ));
    }
    if let Err(e) = restore_matches(&mut snapper, &newest.name, &next) {
        violations.push(format!("next snapshot: {e}"));
    }
    for (generation, name) in survivors.iter().rev().take(2) {
        if let Some(content) = expect.content.get(generation) {
            if valid_names(&snapper).contains(name) {
                if let Err(e) = restore_matches(&mut snapper, name, content) {
                    violations.push(format!("after the next snapshot: {e}"));
                }
            }
        }
    }
    check_clean(&disk.lock(), "after the next snapshot", violations);
    check_refcounts(
        &snapper,
        &disk.lock(),
        "after the next snapshot",
        violations,
    );

    match snapper.purge(None) {
        Ok(()) | Err(Error::PurgeDenied) => {}
        Err(e) => violations.push(format!("purge after recovery: {e}")),
    }
    check_clean(&disk.lock(), "after the next purge", violations);
    check_refcounts(&snapper, &disk.lock(), "after the next purge", violations);
    if let Err(e) = restore_matches(&mut snapper, &newest.name, &next) {
        if valid_names(&snapper).contains(&newest.name) {
            violations.push(format!("after the next purge: {e}"));
        }
    }
}

/// DESIGN.md invariant 4: the manager's reference count of every stored
/// payload equals the number of valid archives on `disk` that use it, and
/// its view of every pack (which packs are used, how many of their payloads
/// and bytes, their payload bytes) is the one the archives give.
pub fn check_refcounts<S: Storage, P: snapper_core::Platform>(
    snapper: &Snapper<S, P>,
    disk: &MemStorage,
    when: &str,
    violations: &mut Vec<String>,
) {
    let counts = payload_counts(disk);
    // Per pack: live payloads and live bytes.
    let mut expected: BTreeMap<snapper_core::PackRef, (u32, u64)> = BTreeMap::new();
    for (location, archives) in &counts {
        let held = snapper.references(*location);
        if held != *archives {
            violations.push(format!(
                "{when}: payload {location} is used by {archives} archives on disk, the manager counts {held}"
            ));
        }
        let slot = expected.entry(location.pack).or_default();
        slot.0 += 1;
        slot.1 += u64::from(location.length);
    }
    let lengths = used_packs(disk);
    let usage: BTreeMap<snapper_core::PackRef, snapper_core::PackUsage> = snapper
        .pack_usage()
        .into_iter()
        .map(|u| (u.pack, u))
        .collect();
    if usage.keys().ne(expected.keys()) {
        violations.push(format!(
            "{when}: the manager holds packs {:?} in use, the archives on disk use {:?}",
            usage.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        ));
        return;
    }
    let (mut disk_bytes, mut live_bytes) = (0, 0);
    for (pack, (payloads, bytes)) in &expected {
        let recorded = lengths.get(pack).map(|p| p.payload_bytes);
        disk_bytes += recorded.unwrap_or(0);
        live_bytes += bytes;
        if let Some(held) = usage.get(pack) {
            if (held.live_payloads, held.live_bytes, held.payload_bytes)
                != (*payloads, *bytes, recorded)
            {
                violations.push(format!(
                    "{when}: pack {pack}: the manager holds {held:?}, the archives give {payloads} live payloads of {bytes} bytes in {recorded:?} payload bytes"
                ));
            }
        }
    }
    let held = snapper.disk_and_live_bytes();
    if held != (disk_bytes, live_bytes) {
        violations.push(format!(
            "{when}: disk and live bytes: the manager says {held:?}, the archives give {:?}",
            (disk_bytes, live_bytes)
        ));
    }
}

/// No file that is neither a valid archive nor a used pack, no
/// `archive.tmp`, no empty directory, nothing used missing, and every used
/// pack intact.
pub fn check_clean(disk: &MemStorage, when: &str, violations: &mut Vec<String>) {
    check_packs(disk, when, violations);
    let garbage = unreferenced_files(disk);
    if !garbage.is_empty() {
        violations.push(format!("{when}: unreferenced files remain: {garbage:?}"));
    }
    let missing = missing_files(disk);
    if !missing.is_empty() {
        violations.push(format!("{when}: referenced files missing: {missing:?}"));
    }
    let empty = empty_dirs(disk);
    if !empty.is_empty() {
        violations.push(format!("{when}: empty directories remain: {empty:?}"));
    }
    if files(disk).iter().any(|f| f.ends_with("/archive.tmp")) {
        violations.push(format!("{when}: an archive.tmp remains"));
    }
}

/// Every pack a valid archive uses is there and checks out (see [`crate::image::damaged_packs`]).
pub fn check_packs(disk: &MemStorage, when: &str, violations: &mut Vec<String>) {
    for (path, what) in damaged_packs(disk) {
        violations.push(format!("{when}: used pack {path}: {what}"));
    }
}

/// The clock at the start of the random workloads and the fault sweeps
/// (2026-11-24T18:32:29Z).
pub const T0: u64 = 1_795_545_149;

/// The content of object `id` at `version`, `len` bytes.
pub fn random_payload(id: u64, version: u32, len: usize) -> Vec<u8> {
    crate::rng::Rng::new(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(version)).bytes(len)
}

/// The version of an object of the random workloads that holds a zero
/// page: every object at this version has the same content (dedup).
pub const ZERO_PAGE: u32 = u32::MAX;

/// The content of object `id` at `version` in the random workloads: from
/// nothing to most of a small pack, or the shared zero page.
pub fn object_payload(id: u64, version: u32) -> Vec<u8> {
    if version == ZERO_PAGE {
        return vec![0; 1024];
    }
    let len = [0, 40, 700, 1500, 3000, 4500][(id + u64::from(version)) as usize % 6];
    random_payload(id, version, len)
}

/// A random config within the limits the engine accepts; small packs
/// (4 to 16 KiB) so that a generation spans several.
pub fn random_config(rng: &mut crate::rng::Rng) -> Config {
    let max_snapshots = [0, 0, 2, 3, 4][rng.index(5)];
    let min_snapshots = rng.below(3) as u32;
    Config {
        threshold: [2, 3, 4, 100][rng.index(4)],
        verbose: rng.chance(1, 4),
        redundancy: rng.below(4) as u32,
        max_snapshots,
        min_snapshots: if max_snapshots == 0 {
            min_snapshots
        } else {
            min_snapshots.min(max_snapshots)
        },
        expiration: [0, 0, 100][rng.index(3)],
        integrity: rng.chance(1, 2),
        pack_size: [4096, 4096, 8192, 16384][rng.index(4)],
        ..Config::default()
    }
}

/// A random snapshot: each known object kept (taken again, or hinted
/// unchanged with take_unchanged), changed, turned into the zero page or
/// dropped, some new ones, sometimes an id taken twice; committed, or
/// aborted.
fn random_snapshot(
    rng: &mut crate::rng::Rng,
    objects: &mut BTreeMap<u64, u32>,
    round: u32,
) -> Vec<Step> {
    let mut steps = vec![Step::Init];
    let ids: Vec<u64> = objects.keys().copied().collect();
    let mut hinted = BTreeSet::new();
    for id in ids {
        match rng.below(8) {
            0 => {
                objects.remove(&id);
            }
            1 | 2 => {
                objects.insert(id, round);
            }
            3 => {
                objects.insert(id, ZERO_PAGE);
            }
            4 | 5 => {
                hinted.insert(id);
            }
            _ => {}
        }
    }
    for _ in 0..rng.below(3) {
        let version = if rng.chance(1, 4) { ZERO_PAGE } else { round };
        objects.insert(rng.below(12), version);
    }
    for (id, version) in objects.iter() {
        if rng.chance(1, 8) {
            steps.push(Step::Take(*id, random_payload(*id, round ^ 0xD0D0, 1500)));
        }
        steps.push(if hinted.contains(id) {
            Step::TakeUnchanged(*id)
        } else {
            Step::Take(*id, object_payload(*id, *version))
        });
    }
    steps.push(if rng.chance(1, 8) {
        Step::Abort
    } else {
        Step::Commit
    });
    steps
}

/// A seeded random workload: a first snapshot (setup), then four rounds
/// of a clock step and one of: a random snapshot (each object kept,
/// changed, made a zero page or dropped, new ones, an id sometimes taken
/// twice; committed or aborted), a purge of the oldest or newest,
/// purge_expired, purge_zombies or a restore.
pub fn random_workload(seed: u64) -> Workload {
    let mut rng = crate::rng::Rng::new(seed);
    let mut config = random_config(&mut rng);
    // Archive files too, a quarter of the time: roots of that layout are
    // still read, purged and swept. From an RNG of its own, so that the
    // workloads keep the draws they had before the log.
    config.archive_log = !crate::rng::Rng::new(seed ^ 0xA2C4_1E06).chance(1, 4);
    let mut objects: BTreeMap<u64, u32> = (0..1 + rng.below(6)).map(|id| (id, 0)).collect();
    let first: Vec<(u64, Vec<u8>)> = objects
        .iter()
        .map(|(id, version)| (*id, object_payload(*id, *version)))
        .collect();
    let setup = snapshot(&first);
    let mut steps = Vec::new();
    let mut clock = T0;
    for round in 1..=4 {
        clock += [0, 1, 30, 120][rng.index(4)];
        steps.push(Step::Clock(clock));
        steps.extend(match rng.below(10) {
            0 => vec![Step::Purge(None)],
            1 => vec![Step::PurgeNewest],
            2 => vec![Step::PurgeExpired],
            3 => vec![Step::PurgeZombies],
            4 => vec![Step::OpenClose],
            _ => random_snapshot(&mut rng, &mut objects, round),
        });
    }
    Workload {
        name: "random",
        config,
        start: T0,
        setup,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_files_are_told_from_the_directories_above_them() {
        for file in [
            "g/pack/1/0",
            "g/pack/1/1",
            "g/pack/2/1/3",
            "g/pack/3/c/22/1e240",
        ] {
            assert!(is_pack_file(file), "{file}");
        }
        for other in [
            "g/pack",
            "g/pack/1",
            "g/pack/2",
            "g/pack/2/1",
            "g/archive",
            "pack/1/0",
        ] {
            assert!(!is_pack_file(other), "{other}");
        }
        let take = Step::Take(1, Vec::new());
        assert_eq!(
            cut_kind(&take, "write g/pack/1/0 (40 bytes)"),
            "pack write mid-take"
        );
        assert_eq!(
            cut_kind(&Step::Commit, "write g/pack/2/1/2 (40 bytes)"),
            "pack write at commit"
        );
        assert_eq!(
            cut_kind(&Step::Commit, "write g/archive.tmp (9 bytes)"),
            "archive write"
        );
        assert_eq!(
            cut_kind(&Step::Commit, "remove g/pack/1/1"),
            "pack delete by retention"
        );
        assert_eq!(
            cut_kind(&Step::Purge(None), "remove g/pack/1/1"),
            "pack delete by purge"
        );
        assert_eq!(
            cut_kind(&Step::Purge(None), "remove g/pack/2"),
            "remove (other)"
        );
        assert_eq!(
            cut_kind(&Step::Init, "remove g/pack/1/1"),
            "pack delete by sweep or abort"
        );
        // an in-place write outside the archive log is its own kind
        for path in ["g/pack/1/0", "g/archive.tmp"] {
            let op = crate::Op::WriteAt(path.into(), 4096, vec![0; 9]).describe();
            assert_eq!(cut_kind(&Step::Commit, &op), "write in place", "{op}");
        }
        // writes into the archive log, by what they do
        for (step, len, kind) in [
            (Step::Commit, 8192, "archive record write (commit point)"),
            (Step::Commit, 4, "archive seal or unseal"),
            (Step::Purge(None), 4, "archive seal or unseal"),
            (Step::Purge(None), 48, "archive retire by purge"),
            (Step::Commit, 48, "archive retire by retention"),
            (Step::Init, 48, "archive retire (other)"),
        ] {
            let op = crate::Op::WriteAt("archives".into(), 4096, vec![0; len]).describe();
            assert_eq!(cut_kind(&step, &op), kind, "{op}");
        }
    }

    /// The setup is checked by both sweeps alike: a setup step that fails
    /// is a violation, never a silent start from another disk.
    #[test]
    fn a_failing_setup_is_a_violation_for_both_sweeps() {
        let workload = Workload {
            name: "bad setup",
            config: Config::default(),
            start: T0,
            setup: vec![Step::Commit],
            steps: snapshot(&[(1, b"x".to_vec())]),
        };
        for figures in [sweep(&workload, 0, 1), sweep_nested(&workload, 0, 1, 1)] {
            assert_eq!(figures.cuts, 0);
            assert!(
                figures
                    .violations
                    .iter()
                    .any(|v| v.contains("setup failed")),
                "{:?}",
                figures.violations
            );
        }
    }
}
