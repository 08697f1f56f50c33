//! Snapper's main job on a plain host: several generations of a simulated
//! object space (PhantomOS-shaped by default), restored and checked byte for
//! byte, with retention applied, and the time each step took.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

mod backend;

use backend::{Backend, Object, Route};
use snapper_core::{Config, GenerationStatus, Level};
use snapper_host::content::fill;
use snapper_host::{config_text, HostPlatform};

/// The config used when none is given: the component's defaults, with
/// retention switched on so that a run shows it working.
const DEFAULT_CONFIG: &str = r#"<config verbose="no" threshold="100" integrity="yes" redundancy="3"
        max_snapshots="4" min_snapshots="1" expiration="0" bufsize="1M"/>"#;

const USAGE: &str = "usage: snapper-host [--root DIR] [--config FILE] [--objects N] [--size BYTES]
                    [--generations N] [--change PERCENT] [--hints]
                    [--session none|calls|batch]
  --root DIR         snapper root (default: var/snapper-root)
  --config FILE      Genode-style <config .../> XML (default: built in, max_snapshots=4)
  --objects N        objects per generation (default 1024)
  --size BYTES       payload bytes per object (default 32768, PhantomOS: 8 pages)
  --generations N    generations to take (default 6)
  --change PERCENT   objects changed between generations (default 10)
  --hints            say which objects are unchanged (take_unchanged, or a
                     hint in a batch): linked without reading their bytes
  --session ROUTE    none: the engine, called directly (default);
                     calls: the Genode component's session over the host
                     ABI, one take_snapshot/restore call per object (2.0's);
                     batch: the same session with take_batch/restore_batch";

struct Job {
    root: PathBuf,
    config: Option<PathBuf>,
    objects: u64,
    size: usize,
    generations: u32,
    change_percent: u64,
    hints: bool,
    route: Route,
}

fn parse_args() -> Result<Job, String> {
    let mut job = Job {
        root: PathBuf::from("var/snapper-root"),
        config: None,
        objects: 1024,
        size: 32 * 1024,
        generations: 6,
        change_percent: 10,
        hints: false,
        route: Route::Engine,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        if flag == "--hints" {
            job.hints = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: '{value}' is not a number"))
        };
        match flag.as_str() {
            "--root" => job.root = PathBuf::from(&value),
            "--config" => job.config = Some(PathBuf::from(&value)),
            "--objects" => job.objects = number()?,
            "--size" => job.size = number()? as usize,
            "--generations" => {
                job.generations = number()?
                    .try_into()
                    .map_err(|_| "--generations: too large")?
            }
            "--change" => job.change_percent = number()?.min(100),
            "--session" => {
                job.route = Route::parse(&value)
                    .ok_or_else(|| format!("--session: '{value}' is none, calls or batch"))?
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if job.hints && job.route == Route::Calls {
        return Err("--hints: 2.0's calls have no hint; use --session batch or none".into());
    }
    Ok(job)
}

fn seconds(since: Instant) -> String {
    format!("{:.3} s", since.elapsed().as_secs_f64())
}

fn main() -> ExitCode {
    let job = match parse_args() {
        Ok(job) => job,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("snapper-host: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&job) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("snapper-host: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(job: &Job) -> Result<bool, String> {
    let log = HostPlatform::new("snapper");
    let text =
        config_text(job.config.as_deref(), DEFAULT_CONFIG).map_err(|e| format!("config: {e}"))?;
    let config = Config::from_xml(&text).map_err(|e| e.to_string())?;
    if job.size as u64 > config.bufsize {
        return Err(format!(
            "--size {} exceeds the config's bufsize {}",
            job.size, config.bufsize
        ));
    }
    log.line(
        Level::Info,
        format_args!(
            "snapper root: {}, {}{}",
            job.root.display(),
            match job.route {
                Route::Engine => "the engine called directly",
                Route::Calls => "through the session, one call per object",
                Route::Batch => "through the session, batched calls",
            },
            if job.hints {
                ", unchanged objects hinted"
            } else {
                ""
            }
        ),
    );
    let started = Instant::now();
    let mut snapper = Backend::open(job.route, &job.root, &text, config)?;
    log.line(Level::Info, format_args!("opened in {}", seconds(started)));

    let mut versions: Vec<u32> = vec![0; job.objects as usize];
    let mut ok = true;
    let mut payload = vec![0u8; job.size];
    let mut taken: Vec<(String, Vec<u32>)> = Vec::new();
    for round in 0..job.generations {
        let mut changed = 0u64;
        let mut unchanged = vec![false; versions.len()];
        for (index, version) in versions.iter_mut().enumerate() {
            // A spread-out change_percent of the objects, another set each round.
            let spread = (index as u64 * 37 + u64::from(round) * 11) % 100;
            if round == 0 || spread < job.change_percent {
                *version = round + 1;
                changed += 1;
            } else if let Some(flag) = unchanged.get_mut(index) {
                // the generation this one builds on holds the object as it
                // is: hinting it is the truth (round 0 builds on nothing)
                *flag = job.hints;
            }
        }
        let started = Instant::now();
        let (name, written) = snapper.take_generation(versions.len(), job.size, |index, out| {
            if unchanged.get(index) == Some(&true) {
                return Object::Hint;
            }
            fill(index as u64, versions.get(index).copied().unwrap_or(0), out);
            Object::Take
        })?;
        log.line(
            Level::Info,
            format_args!(
                "generation {}/{}: {} objects, {changed} changed, {}{}",
                round + 1,
                job.generations,
                job.objects,
                written.detail.map(|d| d + ", ").unwrap_or_default(),
                seconds(started)
            ),
        );
        taken.push((name, versions.clone()));
    }

    // Restore the latest generation whole, then every retained generation
    // of this run, checking every byte.
    let mut restored = vec![0u8; job.size];
    let present: Vec<String> = snapper
        .generations(&job.root, config)?
        .into_iter()
        .filter(|g| g.1 == GenerationStatus::Valid)
        .map(|g| g.0)
        .collect();
    for (position, (name, expected)) in taken.iter().enumerate().rev() {
        if !present.contains(name) {
            log.line(
                Level::Info,
                format_args!("generation '{name}' was retired by retention"),
            );
            continue;
        }
        let whole = position + 1 == taken.len();
        // The latest generation is restored whole; older ones one object in
        // 16, as a PhantomOS developer would fetch single objects.
        let ids: Vec<u64> = (0..expected.len() as u64)
            .filter(|index| whole || index % 16 == 0)
            .collect();
        let started = Instant::now();
        let mut bad = 0u64;
        snapper.restore(name, &ids, &mut restored, |id, bytes| {
            let version = usize::try_from(id)
                .ok()
                .and_then(|index| expected.get(index))
                .copied()
                .unwrap_or(0);
            fill(id, version, &mut payload);
            match bytes {
                Ok(bytes) if bytes == &payload[..] => {}
                Ok(_) => bad += 1,
                Err(e) => {
                    bad += 1;
                    log.line(Level::Error, format_args!("restore {id}: {e}"));
                }
            }
        })?;
        log.line(
            Level::Info,
            format_args!(
                "restored {} objects of '{name}'{}: {}, {}",
                ids.len(),
                if whole {
                    " (whole generation)"
                } else {
                    " (every 16th object)"
                },
                if bad == 0 {
                    "every byte equal".to_string()
                } else {
                    format!("{bad} MISMATCHED")
                },
                seconds(started)
            ),
        );
        ok &= bad == 0;
    }

    let started = Instant::now();
    snapper.purge_zombies()?;
    log.line(
        Level::Info,
        format_args!("purge_zombies done, {}", seconds(started)),
    );
    let generations = snapper.generations(&job.root, config)?;
    log.line(
        Level::Info,
        format_args!("{} generation directories remain:", generations.len()),
    );
    for (name, status, objects) in generations {
        log.line(
            Level::Info,
            format_args!("  {name}  {status:?}, {objects} objects"),
        );
    }
    log.line(
        Level::Info,
        format_args!(
            "{}",
            if ok {
                "all checks passed"
            } else {
                "CHECKS FAILED"
            }
        ),
    );
    Ok(ok)
}
