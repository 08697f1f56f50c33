//! `snapper-bench`: Snapper on the host storage against its floors and
//! against rsync --link-dest; prints markdown and updates BENCHMARKS.md.

use std::path::PathBuf;
use std::process::ExitCode;

use snapper_bench::{heap, probe_line, probe_memory, report, run, Options};

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

const USAGE: &str =
    "usage: snapper-bench [--quick] [--dir DIR] [--out FILE | --no-out] [--repeat N]
                     [--phantom OBJECTS SIZE] [--pages OBJECTS SIZE]
                     [--retention GENERATIONS MAX_SNAPSHOTS] [--pack-size SIZE]
                     [--hints] [--no-peer] [--no-drop-caches] [--keep]
  --quick            smoke run of a few seconds (tiny sizes, one repeat, no BENCHMARKS.md)
  --dir DIR          where the fresh run directory is made (default var/bench)
  --out FILE         markdown file whose generated part is replaced
                     (default BENCHMARKS.md, none with --quick)
  --no-out           print only
  --repeat N         runs per value, the median is shown (default 3, quick 1)
  --phantom N SIZE   PhantomOS workload (default 1024 32768)
  --pages N SIZE     Pages workload (default 65536 4096)
  --retention G MAX  Retention workload (default 20 5)
  --pack-size SIZE   Snapper's pack_size, digits with an optional K, M or G
                     suffix, 4K to 1G (default 4M, the engine's default)
  --hints            hint the objects a generation leaves unchanged
                     (take_unchanged) instead of handing over their bytes
  --no-peer          skip rsync --link-dest
  --no-drop-caches   never drop the page cache (no cold restore rows)
  --keep             keep the run directory";

struct Cli {
    options: Options,
    out: Option<PathBuf>,
}

fn parse() -> Result<Cli, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut options = if quick {
        Options::quick()
    } else {
        Options::full()
    };
    let mut out = (!quick).then(|| PathBuf::from("BENCHMARKS.md"));
    let mut args = args.into_iter();
    let number = |flag: &str, value: Option<String>| -> Result<usize, String> {
        let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
        value
            .parse()
            .map_err(|_| format!("{flag}: '{value}' is not a number"))
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--quick" => {}
            "--dir" => options.dir = PathBuf::from(args.next().ok_or("--dir needs a value")?),
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a value")?)),
            "--no-out" => out = None,
            "--repeat" => options.repeat = number(&flag, args.next())?.max(1),
            "--phantom" => {
                options.phantom = (number(&flag, args.next())?, number(&flag, args.next())?)
            }
            "--pages" => options.pages = (number(&flag, args.next())?, number(&flag, args.next())?),
            "--retention" => {
                let generations = number(&flag, args.next())?;
                let max = number(&flag, args.next())?;
                options.retention = (
                    u32::try_from(generations).map_err(|_| "--retention: too large")?,
                    u32::try_from(max).map_err(|_| "--retention: too large")?,
                );
            }
            "--pack-size" => {
                let value = args.next().ok_or("--pack-size needs a value")?;
                options.pack_size = snapper_core::config::parse_size(&value)
                    .filter(|v| (4096..=snapper_core::config::MAX_PACK_SIZE).contains(v))
                    .ok_or_else(|| format!("--pack-size: '{value}' is not a size from 4K to 1G"))?;
            }
            "--hints" => options.hints = true,
            "--no-peer" => options.peer = false,
            "--no-drop-caches" => options.drop_caches = false,
            "--keep" => options.keep = true,
            "--help" | "-h" => return Err(String::new()),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if options.phantom.0 == 0 || options.pages.0 == 0 {
        return Err("a workload needs at least one object".into());
    }
    Ok(Cli { options, out })
}

fn main() -> ExitCode {
    // The memory probe runs in a process of its own so that the heap it
    // measures holds nothing but Snapper's (see probe_memory).
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--memory-probe") {
        let parsed = (|| -> Option<(usize, usize, u64, PathBuf)> {
            Some((
                args.get(2)?.parse().ok()?,
                args.get(3)?.parse().ok()?,
                args.get(4)?.parse().ok()?,
                PathBuf::from(args.get(5)?),
            ))
        })();
        let Some((objects, size, pack_size, dir)) = parsed else {
            eprintln!("usage: snapper-bench --memory-probe OBJECTS SIZE PACK_SIZE DIR");
            return ExitCode::from(2);
        };
        return match probe_memory(objects, size, pack_size, &dir) {
            Ok(row) => {
                println!("{}", probe_line(&row));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("snapper-bench: memory probe: {e}");
                ExitCode::FAILURE
            }
        };
    }

    let mut cli = match parse() {
        Ok(cli) => cli,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("snapper-bench: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    cli.options.probe_exe = std::env::current_exe().ok();
    let result = match run(&cli.options) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("snapper-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let generated = report::render(&result);
    println!("{generated}");
    if let Some(path) = &cli.out {
        let existing = std::fs::read_to_string(path).ok();
        let text = report::splice(existing.as_deref(), &generated);
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("snapper-bench: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("snapper-bench: wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
