//! The crash scenario's client (`snappercrash`, run by run/snappercrash.run
//! on Genode) through the host ABI, without killing anything: boots of the
//! server on one directory, each handed a plan as the run script would make
//! it (names from the server's log lines), and plans that lie, which the
//! client must refuse. What kill -9 on the real stack does is the run
//! script's part (doc/RELIABILITY.md); here the client's checks are shown
//! to pass on what is there and to fail on what is not.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use genode_host as host;
use snapper_core::archive_log::{self, Found, RECORD_HEADER_LEN};
use snapper_core::layout::{self, GenerationName};
use snapper_session::client::Client;
use snapper_session::session::Reply;
use snappercrash::{Boot, Named, Plan, Space};

const CONFIG: &str = r#"<config verbose="true" redundancy="2" integrity="true"
    max_snapshots="4" min_snapshots="0" threshold="100" expiration="0"
    bufsize="1M" pack_size="64K">
  <rtc/>
  <vfs> <fs/> </vfs>
</config>"#;

/// [`CONFIG`] with archives as `<gen>/archive` files (format 2's layout),
/// for what lwext4 leaves of a file archive.
const FILE_ARCHIVES: &str = r#"<config verbose="true" redundancy="2" integrity="true"
    max_snapshots="4" min_snapshots="0" threshold="100" expiration="0"
    bufsize="1M" pack_size="64K" archive_log="no">
  <rtc/>
  <vfs> <fs/> </vfs>
</config>"#;

const SPACE: Space = Space {
    seed: 11,
    objects: 60,
    max_size: 8192,
};

fn temp_root(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("snapper-crash-it-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A boot of the server on `dir`: whatever the last one left, as after a
/// kill (the last boot's session is forgotten, not closed).
fn boot(dir: &Path) -> Client {
    boot_with(CONFIG, dir)
}

fn boot_with(config: &str, dir: &Path) -> Client {
    host::install(config, dir);
    snapper::start().unwrap_or_else(|e| panic!("server did not start: {e}"));
    Client::open().expect("session")
}

/// The generation names the server logged at init_snapshot, paired with
/// the client's number as the run script pairs them.
fn names() -> BTreeMap<u32, String> {
    let mut names = BTreeMap::new();
    let mut taking = None;
    for (_, line) in host::log_lines() {
        if let Some(g) = line.strip_prefix("crash: op=take gen=") {
            taking = g.parse::<u32>().ok();
        } else if let Some(rest) = line.strip_prefix("generation '") {
            if let (Some(name), Some(g)) = (rest.strip_suffix("' started"), taking) {
                names.insert(g, name.to_string());
            }
        }
    }
    names
}

/// Where the archive log holds the record of the generation named `name`
/// (committed or damaged): its offset in `archives` and its length.
fn record_of(dir: &Path, name: &str) -> Option<(usize, usize)> {
    let (_, _, generation) = GenerationName::parse(name).expect("a generation name");
    let log = fs::read(dir.join(layout::ARCHIVE_LOG)).expect("the archive log");
    let found = archive_log::classify(&log).expect("a log this build reads");
    found.into_iter().find_map(|record| match record {
        Found::Committed {
            extent,
            archive_len,
            archive,
            ..
        } if archive.generation == generation => Some((
            extent.offset() as usize,
            RECORD_HEADER_LEN + archive_len as usize,
        )),
        Found::Damaged {
            extent,
            generation: g,
            ..
        } if g == generation => Some((extent.offset() as usize, RECORD_HEADER_LEN)),
        _ => None,
    })
}

/// Applies `change` to the bytes of `archives`.
fn edit_log(dir: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let path = dir.join(layout::ARCHIVE_LOG);
    let mut log = fs::read(&path).unwrap();
    change(&mut log);
    fs::write(&path, log).unwrap();
}

fn named(names: &BTreeMap<u32, String>, gens: impl IntoIterator<Item = u32>) -> Vec<Named> {
    gens.into_iter()
        .map(|g| Named {
            g,
            name: names[&g].clone(),
        })
        .collect()
}

fn plan(boot: u32, next: u32) -> Plan {
    Plan {
        boot,
        keep: 4,
        next,
        ..Plan::new(SPACE)
    }
}

/// Boot 0 of a run: `cycles` cycles on an empty root. Returns the alive
/// generations (oldest first), the next number and the names logged.
fn first_boot(dir: &Path, cycles: u32) -> (Vec<u32>, u32, BTreeMap<u32, String>) {
    first_boot_with(CONFIG, dir, cycles)
}

fn first_boot_with(
    config: &str,
    dir: &Path,
    cycles: u32,
) -> (Vec<u32>, u32, BTreeMap<u32, String>) {
    let mut client = boot_with(config, dir);
    let plan = plan(0, 1);
    let mut run = Boot::new(&mut client, &plan);
    run.verify().unwrap();
    for _ in 0..cycles {
        run.cycle().unwrap();
    }
    let alive = run.alive.iter().map(|a| a.g).collect();
    let next = run.next;
    std::mem::forget(client);
    (alive, next, names())
}

#[test]
fn a_boot_restores_every_generation_an_earlier_boot_committed() {
    let dir = temp_root("restores");
    let (alive, next, names) = first_boot(&dir, 7);
    // purges and retention (keep 4) leave a few
    assert!((2..=4).contains(&alive.len()), "{alive:?}");
    assert_eq!(next, 8);
    let purged: Vec<u32> = (1..next).filter(|g| !alive.contains(g)).collect();

    let mut client = boot(&dir);
    let plan = Plan {
        committed: named(&names, alive.iter().copied()),
        gone: named(&names, purged.iter().copied()),
        cycles: 2,
        ..plan(1, next)
    };
    let tally = snappercrash::run(&mut client, &plan).unwrap();
    // each alive generation, and the latest once more
    assert!(tally.generations as usize > alive.len(), "{tally:?}");
    assert!(tally.bytes > 60 * 1000, "{tally:?}");
    let lines = host::log_lines();
    for g in &alive {
        let checked = format!("crash: checked gen={g} ");
        assert!(
            lines.iter().any(|(_, l)| l.starts_with(&checked)),
            "generation {g} not checked"
        );
    }
}

#[test]
fn an_interrupted_generation_must_be_gone_or_complete() {
    let dir = temp_root("interrupted");
    let (alive, next, mut names) = first_boot(&dir, 3);

    // A take cut short: init_snapshot and a few objects, then the "kill".
    let mut client = boot(&dir);
    assert_eq!(client.init_snapshot(), Reply::Ok);
    assert_eq!(client.take_snapshot(1, b"half"), Reply::Ok);
    let name = host::log_lines()
        .iter()
        .find_map(|(_, l)| {
            l.strip_prefix("generation '")
                .and_then(|r| r.strip_suffix("' started"))
                .map(str::to_string)
        })
        .expect("the server names the generation it started");
    std::mem::forget(client);
    names.insert(next, name);

    // listed as gone, or as uncertain: both hold, it never committed
    for uncertain in [false, true] {
        let mut client = boot(&dir);
        let interrupted = named(&names, [next]);
        let plan = Plan {
            committed: named(&names, alive.iter().copied()),
            uncertain: if uncertain {
                interrupted.clone()
            } else {
                Vec::new()
            },
            gone: if uncertain { Vec::new() } else { interrupted },
            cycles: 0,
            ..plan(2, next + 1)
        };
        let mut run = Boot::new(&mut client, &plan);
        run.verify().unwrap();
        assert_eq!(run.alive.iter().map(|a| a.g).collect::<Vec<_>>(), alive);
        if uncertain {
            assert!(host::log_lines()
                .iter()
                .any(|(_, l)| l == &format!("crash: gone gen={next}")));
        }
        std::mem::forget(client);
    }
}

#[test]
fn verification_refuses_what_did_not_survive() {
    let dir = temp_root("refuses");
    let (alive, next, names) = first_boot(&dir, 7);
    assert!(alive.len() > 2, "{alive:?}");
    let newest = *alive.last().unwrap();
    let committed = named(&names, alive.iter().copied());
    let verify = |plan: &Plan| {
        let mut client = boot(&dir);
        let result = Boot::new(&mut client, plan).verify();
        std::mem::forget(client);
        result
    };
    let base = Plan {
        committed: committed.clone(),
        ..plan(1, next)
    };
    assert_eq!(verify(&base), Ok(()));

    // other bytes than the ones taken: the sizes follow max_size
    let other_bytes = Plan {
        space: Space {
            max_size: 4096,
            ..SPACE
        },
        ..base.clone()
    };
    let why = verify(&other_bytes).unwrap_err();
    assert!(why.contains("differ from the"), "{why}");

    // another generation's content under this one's label
    let mut swapped = base.clone();
    swapped.committed[0].g = newest;
    swapped.committed.truncate(1);
    let why = verify(&swapped).unwrap_err();
    assert!(why.contains("the label reads"), "{why}");

    // a purged generation listed as gone must be gone, a live one is not
    let gone_alive = Plan {
        gone: named(&names, [newest]),
        committed: committed[..committed.len() - 1].to_vec(),
        ..base.clone()
    };
    let why = verify(&gone_alive).unwrap_err();
    assert!(why.contains("must not exist"), "{why}");

    // a plan whose retention keeps 2 finds too many
    let fewer = Plan {
        keep: 2,
        ..base.clone()
    };
    let why = verify(&fewer).unwrap_err();
    assert!(why.contains("should have purged"), "{why}");

    // a committed generation whose archive is lost: its record in the
    // archive log zeroed
    let (at, len) = record_of(&dir, &names[&newest]).expect("newest's record");
    edit_log(&dir, |log| log[at..at + len].fill(0));
    assert_eq!(record_of(&dir, &names[&newest]), None);
    let why = verify(&base).unwrap_err();
    assert!(
        why.contains(&format!("committed generation {newest} '")) && why.contains("LoadGenFailed"),
        "{why}"
    );
}

/// What lwext4 left after a cut during a purge of an archive file
/// (doc/RELIABILITY.md; the root keeps archives as files,
/// `archive_log="no"`): the archive of the generation being purged still
/// there, but empty. Neither complete nor gone: a failure, or with
/// `repair` an anomaly that is purged by name so that the run can go on.
#[test]
fn a_generation_neither_complete_nor_gone_fails_unless_repaired() {
    let dir = temp_root("torn-purge");
    let (alive, next, names) = first_boot_with(FILE_ARCHIVES, &dir, 7);
    assert!(!dir.join(layout::ARCHIVE_LOG).exists());
    let oldest = alive[0];
    fs::write(dir.join(&names[&oldest]).join("archive"), b"").unwrap();
    neither_complete_nor_gone(FILE_ARCHIVES, &dir, &alive, next, &names);
    assert!(!dir.join(&names[&oldest]).join("archive").exists());
}

/// The same in the archive log: a sealed record whose archive no longer
/// checks out (a cut never leaves one, damage does). Repaired, the record
/// is retired.
#[test]
fn a_damaged_record_fails_unless_repaired() {
    let dir = temp_root("damaged-record");
    let (alive, next, names) = first_boot(&dir, 7);
    let oldest = alive[0];
    let (at, len) = record_of(&dir, &names[&oldest]).expect("oldest's record");
    // a bit of the archive's last byte
    edit_log(&dir, |log| log[at + len - 1] ^= 0x10);
    neither_complete_nor_gone(CONFIG, &dir, &alive, next, &names);
    assert_eq!(record_of(&dir, &names[&oldest]), None);
}

/// Boots on `dir` whose oldest alive generation was damaged: the boot
/// fails on it, and with `repair` purges it and goes on.
fn neither_complete_nor_gone(
    config: &str,
    dir: &Path,
    alive: &[u32],
    next: u32,
    names: &BTreeMap<u32, String>,
) {
    let oldest = alive[0];
    let plan = Plan {
        committed: named(names, alive[1..].iter().copied()),
        uncertain: named(names, [oldest]),
        ..plan(1, next)
    };

    let mut client = boot_with(config, dir);
    let why = Boot::new(&mut client, &plan).verify().unwrap_err();
    assert!(
        why.contains(&format!("uncertain generation {oldest} '"))
            && why.contains("IntegrityFailed"),
        "{why}"
    );
    std::mem::forget(client);

    let mut client = boot_with(config, dir);
    let repair = Plan {
        repair: true,
        ..plan.clone()
    };
    let mut run = Boot::new(&mut client, &repair);
    run.verify().unwrap();
    assert_eq!(
        run.alive.iter().map(|a| a.g).collect::<Vec<_>>(),
        alive[1..]
    );
    assert!(host::log_lines()
        .iter()
        .any(|(_, l)| l.starts_with(&format!("crash: anomaly gen={oldest} "))));
    std::mem::forget(client);
}
