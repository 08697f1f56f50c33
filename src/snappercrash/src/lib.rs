//! The client of Snapper's crash scenario (`run/snappercrash.run`).
//!
//! The run script boots the real stack, lets this client work, kills every
//! process of the boot with SIGKILL at a random point of an operation, and
//! boots again on the same image, with a new [`plan`] in the config: the
//! generations that must restore byte for byte, those the killed operation
//! was changing (complete or gone), those that must not exist. Each boot:
//!
//! 1. **Verify** ([`verify`]): open every listed generation by name and
//!    restore every object (`restore_batch`), comparing each byte with what
//!    [`content`] makes from (seed, generation); absent objects must answer
//!    NoMatches, the label object must name the generation. Then check which
//!    survive retention, that the latest generation is the newest of them,
//!    and that no `gone` generation opens.
//! 2. **Work** ([`Boot::cycle`]): take the next generation (`init_snapshot`,
//!    one `take_snapshot` per object, or batches), commit it (with
//!    retention when `keep` generations exist), sometimes purge one (by name
//!    or the oldest), `purge_zombies`, sometimes restore the latest and
//!    check it; again, until killed (or `cycles` times).
//!
//! The log is the protocol with the run script, one line per step:
//!
//! ```text
//! crash: boot=B committed=C uncertain=U gone=G     plan read
//! crash: checked gen=G objects=N bytes=B           a generation restored and compared
//! crash: gone gen=G                                an uncertain generation did not survive
//! crash: anomaly gen=G ...                         (repair=yes) an uncertain or gone generation is damaged; purged
//! crash: alive=G,G,...                             what exists after verifying (or -)
//! crash: ready next=G                              verification done, work begins
//! crash: op=take gen=G                             before init_snapshot
//! crash: op=commit gen=G drops=G,G,...             before commit_snapshot; drops: what retention will purge (or -)
//! crash: op=purge gen=G by=name|oldest             before purge
//! crash: op=purge_zombies                          before purge_zombies
//! crash: op=restore gen=G                          before restoring the latest
//! crash: done op=OP gen=G us=T                     after an operation succeeded
//! crash: finished boot=B checked=N bytes=B         after `cycles` cycles; exit value 0
//! crash: FAILED why                                exit value 1 (2: a bad config)
//! ```
//!
//! The server's own lines give the script the generation names (with
//! `verbose`: "generation 'NAME' started" at init_snapshot; "generation
//! 'NAME' committed" after the commit point; "purged 'NAME'" after a
//! purge's).

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod content;
pub mod plan;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use genode::{log_error, log_info, timer};
use snapper_session::client::Client;
use snapper_session::session::Reply;

pub use content::{Space, LABEL_ID};
pub use plan::{Named, Plan, PlanError};

/// How a failed boot's line starts.
pub const FAILED_PREFIX: &str = "crash: FAILED";

/// Exit value: verified, and `cycles` cycles worked.
pub const EXIT_OK: i32 = 0;
/// Exit value: a check or an operation failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit value: the config does not make a plan.
pub const EXIT_CONFIG: i32 = 2;

/// What a boot compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Generations restored and compared.
    pub generations: u32,
    /// Objects compared (present and absent ones).
    pub objects: u64,
    /// Payload bytes compared.
    pub bytes: u64,
}

/// A generation the client believes exists; its name only if the plan gave
/// it (the server names generations, and only its log tells).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alive {
    /// The run's number.
    pub g: u32,
    /// The server's name, if known.
    pub name: Option<String>,
}

fn expect(what: &str, reply: Reply, allowed: &[Reply]) -> Result<(), String> {
    if allowed.contains(&reply) {
        Ok(())
    } else {
        Err(format!("{what} answered {reply} ({})", reply.code()))
    }
}

fn list(gens: impl IntoIterator<Item = u32>) -> String {
    let items: Vec<String> = gens.into_iter().map(|g| g.to_string()).collect();
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(",")
    }
}

/// One boot of the client: the plan, the generations it knows to exist,
/// and what it compared.
pub struct Boot<'a> {
    client: &'a mut Client,
    plan: &'a Plan,
    /// Existing generations, oldest first.
    pub alive: Vec<Alive>,
    /// The next generation to take.
    pub next: u32,
    /// What was compared so far.
    pub tally: Tally,
    choices: u64,
    buf: Vec<u8>,
}

impl<'a> Boot<'a> {
    /// A boot over an open session.
    pub fn new(client: &'a mut Client, plan: &'a Plan) -> Boot<'a> {
        Boot {
            client,
            plan,
            alive: Vec::new(),
            next: plan.next,
            tally: Tally::default(),
            choices: 0,
            buf: Vec::new(),
        }
    }

    fn space(&self) -> &Space {
        &self.plan.space
    }

    fn choose(&mut self, below: u64) -> u64 {
        self.choices += 1;
        self.space().choice(self.plan.boot, self.choices) % below.max(1)
    }

    /// Restores every object of the open generation, which must be `g`,
    /// and compares it with [`content`]; counts into the tally.
    fn check_open(&mut self, g: u32) -> Result<(), String> {
        let label = content::label(self.space().seed, g);
        let mut got = vec![0u8; label.len()];
        expect(
            "restore of the label",
            self.client.restore(LABEL_ID, &mut got),
            &[Reply::Ok],
        )
        .map_err(|e| format!("generation {g}: {e}"))?;
        if got != label.as_bytes() {
            return Err(format!(
                "generation {g}: the label reads '{}'",
                String::from_utf8_lossy(&got)
            ));
        }
        let space = *self.space();
        let ids: Vec<u64> = (1..=u64::from(space.objects)).collect();
        let mut first_bad: Option<String> = None;
        let (mut objects, mut bytes) = (0u64, label.len() as u64);
        let expected = &mut self.buf;
        let reply = self.client.restore_all(&ids, |id, restored| {
            objects += 1;
            let why = match (space.size(id, g), restored) {
                (Some(size), Ok(payload)) => {
                    expected.resize(size, 0);
                    space.fill(id, g, expected);
                    bytes += payload.len() as u64;
                    (payload != &expected[..]).then(|| {
                        format!(
                            "object {id}: {} bytes restored differ from the {size} taken",
                            payload.len()
                        )
                    })
                }
                (None, Err(Reply::NoMatches)) => None,
                (None, Ok(payload)) => Some(format!(
                    "object {id}: absent, but {} bytes restored",
                    payload.len()
                )),
                (Some(size), Err(reply)) => Some(format!(
                    "object {id} ({size} bytes) answered {reply} ({})",
                    reply.code()
                )),
                (None, Err(reply)) => Some(format!(
                    "object {id}: absent, but answered {reply} ({}) rather than NoMatches",
                    reply.code()
                )),
            };
            if let Some(why) = why {
                first_bad.get_or_insert(why);
            }
        });
        if let Some(why) = first_bad {
            return Err(format!("generation {g}: {why}"));
        }
        expect("restore_batch", reply, &[Reply::Ok]).map_err(|e| format!("generation {g}: {e}"))?;
        self.tally.generations += 1;
        self.tally.objects += objects + 1;
        self.tally.bytes += bytes;
        log_info!(
            "crash: checked gen={g} objects={} bytes={bytes}",
            objects + 1
        );
        Ok(())
    }

    fn close(&mut self, g: u32) -> Result<(), String> {
        expect(
            "close_generation",
            self.client.close_generation(),
            &[Reply::Ok],
        )
        .map_err(|e| format!("generation {g}: {e}"))
    }

    /// Step 1: checks what the killed boot left against the plan and sets
    /// [`Boot::alive`].
    pub fn verify(&mut self) -> Result<(), String> {
        let plan = self.plan;
        log_info!(
            "crash: boot={} committed={} uncertain={} gone={}",
            plan.boot,
            plan.committed.len(),
            plan.uncertain.len(),
            plan.gone.len()
        );
        // Oldest first: the first close applies retention, which purges the
        // oldest generation if a commit was killed between its commit point
        // and its retention; that one is then already compared.
        let mut candidates: Vec<(&Named, bool)> = plan
            .committed
            .iter()
            .map(|n| (n, true))
            .chain(plan.uncertain.iter().map(|n| (n, false)))
            .collect();
        candidates.sort_by_key(|(n, _)| n.g);
        let mut present: Vec<&Named> = Vec::new();
        for (named, certain) in candidates {
            let reply = self.client.open_generation(Some(&named.name));
            if reply == Reply::Ok {
                self.check_open(named.g)?;
                self.close(named.g)?;
                present.push(named);
            } else if !certain && reply == Reply::LoadGenFailed {
                log_info!("crash: gone gen={}", named.g);
            } else if !certain && self.repairs(named, reply)? {
                continue;
            } else {
                return Err(format!(
                    "{} generation {} '{}': open_generation answered {reply} ({})",
                    if certain { "committed" } else { "uncertain" },
                    named.g,
                    named.name,
                    reply.code()
                ));
            }
        }
        // What retention leaves: the newest `keep` of them.
        let keep = usize::try_from(plan.keep).unwrap_or(usize::MAX);
        let kept_from = if keep > 0 {
            present.len().saturating_sub(keep)
        } else {
            0
        };
        for (index, named) in present.iter().enumerate() {
            let reply = self.client.open_generation(Some(&named.name));
            let exists = reply == Reply::Ok;
            if exists {
                self.close(named.g)?;
            }
            let retained = index >= kept_from;
            if exists != retained || !(exists || reply == Reply::LoadGenFailed) {
                return Err(format!(
                    "generation {} '{}' after the checks: open_generation answered {reply} ({}), but retention (keep {}) should {} it",
                    named.g,
                    named.name,
                    reply.code(),
                    plan.keep,
                    if retained { "keep" } else { "have purged" }
                ));
            }
            if exists {
                self.alive.push(Alive {
                    g: named.g,
                    name: Some(named.name.clone()),
                });
            }
        }
        log_info!("crash: alive={}", list(self.alive.iter().map(|a| a.g)));
        for named in &plan.gone {
            let reply = self.client.open_generation(Some(&named.name));
            if reply == Reply::Ok {
                self.close(named.g)?;
            }
            if reply != Reply::LoadGenFailed && !self.repairs(named, reply)? {
                return Err(format!(
                    "generation {} '{}' must not exist, but open_generation answered {reply} ({})",
                    named.g,
                    named.name,
                    reply.code()
                ));
            }
        }
        self.check_latest()?;
        log_info!("crash: ready next={}", self.next);
        Ok(())
    }

    /// With `repair`, a generation that should be complete or gone but
    /// opens as damaged (IntegrityFailed) is an anomaly: logged, purged by
    /// name, and the boot goes on. Whether it was.
    fn repairs(&mut self, named: &Named, reply: Reply) -> Result<bool, String> {
        if !self.plan.repair || reply != Reply::IntegrityFailed {
            return Ok(false);
        }
        log_info!(
            "crash: anomaly gen={} '{}': open_generation answered {reply}: neither complete nor gone; purging it by name",
            named.g,
            named.name
        );
        expect(
            "purge of the damaged generation",
            self.client.purge(Some(&named.name)),
            &[Reply::Ok],
        )
        .map_err(|e| format!("generation {} '{}': {e}", named.g, named.name))?;
        Ok(true)
    }

    /// The latest generation is the newest alive one, and restores.
    fn check_latest(&mut self) -> Result<(), String> {
        let reply = self.client.open_generation(None);
        match self.alive.last().map(|a| a.g) {
            Some(g) => {
                expect("open_generation (latest)", reply, &[Reply::Ok])?;
                self.check_open(g)?;
                self.close(g)
            }
            None => expect(
                "open_generation (latest) with no generation",
                reply,
                &[Reply::NoPriorGen],
            ),
        }
    }

    fn done(&self, op: &str, g: u32, started: u64) {
        log_info!(
            "crash: done op={op} gen={g} us={}",
            timer::elapsed_us().saturating_sub(started)
        );
    }

    /// Takes generation `next`: init, the label, every present object.
    fn take(&mut self, g: u32) -> Result<(), String> {
        log_info!("crash: op=take gen={g}");
        let started = timer::elapsed_us();
        let base = if self.alive.is_empty() {
            Reply::NoPriorGen
        } else {
            Reply::Ok
        };
        expect("init_snapshot", self.client.init_snapshot(), &[base])?;
        let label = content::label(self.space().seed, g);
        expect(
            "take_snapshot of the label",
            self.client.take_snapshot(LABEL_ID, label.as_bytes()),
            &[Reply::Ok],
        )?;
        let space = *self.space();
        let batched = self.choose(4) == 0;
        let mut buf = core::mem::take(&mut self.buf);
        let result = if batched {
            let mut batch = self.client.batch();
            let mut taken = Ok(());
            for id in 1..=u64::from(space.objects) {
                if let Some(size) = space.size(id, g) {
                    buf.resize(size, 0);
                    space.fill(id, g, &mut buf);
                    if let Err(f) = batch.take(id, &buf) {
                        taken = Err(format!("object {}: take_batch answered {}", f.id, f.reply));
                        break;
                    }
                }
            }
            taken.and_then(|()| {
                batch
                    .flush()
                    .map_err(|f| format!("object {}: take_batch answered {}", f.id, f.reply))
            })
        } else {
            let mut taken = Ok(());
            for id in 1..=u64::from(space.objects) {
                if let Some(size) = space.size(id, g) {
                    buf.resize(size, 0);
                    space.fill(id, g, &mut buf);
                    let reply = self.client.take_snapshot(id, &buf);
                    if let Err(e) = expect("take_snapshot", reply, &[Reply::Ok]) {
                        taken = Err(format!("object {id}: {e}"));
                        break;
                    }
                }
            }
            taken
        };
        self.buf = buf;
        result?;
        self.done("take", g, started);
        Ok(())
    }

    /// Commits generation `g`; retention purges the oldest beyond `keep`.
    fn commit(&mut self, g: u32) -> Result<(), String> {
        let keep = usize::try_from(self.plan.keep).unwrap_or(usize::MAX);
        let drops = if keep > 0 {
            (self.alive.len() + 1).saturating_sub(keep)
        } else {
            0
        };
        log_info!(
            "crash: op=commit gen={g} drops={}",
            list(self.alive.iter().take(drops).map(|a| a.g))
        );
        let started = timer::elapsed_us();
        expect(
            "commit_snapshot",
            self.client.commit_snapshot(),
            &[Reply::Ok],
        )?;
        self.alive.drain(..drops.min(self.alive.len()));
        self.alive.push(Alive { g, name: None });
        self.done("commit", g, started);
        Ok(())
    }

    /// Purges one generation: by name if the plan named it, else the
    /// oldest. Keeps at least one.
    fn purge(&mut self) -> Result<(), String> {
        if self.alive.len() < 2 {
            return Ok(());
        }
        let pick = usize::try_from(self.choose(self.alive.len() as u64)).unwrap_or(0);
        let index = match self.alive.get(pick) {
            Some(Alive { name: Some(_), .. }) => pick,
            _ => 0,
        };
        let target = self.alive.remove(index);
        let by_name = index > 0;
        log_info!(
            "crash: op=purge gen={} by={}",
            target.g,
            if by_name { "name" } else { "oldest" }
        );
        let started = timer::elapsed_us();
        let name = if by_name {
            target.name.as_deref()
        } else {
            None
        };
        expect("purge", self.client.purge(name), &[Reply::Ok])?;
        self.done("purge", target.g, started);
        Ok(())
    }

    fn purge_zombies(&mut self) -> Result<(), String> {
        log_info!("crash: op=purge_zombies");
        let started = timer::elapsed_us();
        expect("purge_zombies", self.client.purge_zombies(), &[Reply::Ok])?;
        self.done("purge_zombies", 0, started);
        Ok(())
    }

    fn restore_latest(&mut self) -> Result<(), String> {
        let Some(g) = self.alive.last().map(|a| a.g) else {
            return Ok(());
        };
        log_info!("crash: op=restore gen={g}");
        let started = timer::elapsed_us();
        expect(
            "open_generation (latest)",
            self.client.open_generation(None),
            &[Reply::Ok],
        )?;
        self.check_open(g)?;
        self.close(g)?;
        self.done("restore", g, started);
        Ok(())
    }

    /// Step 2, once: take and commit a generation, purge one (every other
    /// cycle), purge_zombies, restore the latest (every third).
    pub fn cycle(&mut self) -> Result<(), String> {
        let g = self.next;
        self.next = g
            .checked_add(1)
            .ok_or_else(|| "generation numbers exhausted".to_string())?;
        self.take(g)?;
        self.commit(g)?;
        if self.choose(2) == 0 {
            self.purge()?;
        }
        self.purge_zombies()?;
        if self.choose(3) == 0 {
            self.restore_latest()?;
        }
        Ok(())
    }
}

/// A boot: verify, then work `plan.cycles` cycles (forever if 0). Returns
/// what was compared; the error says what failed first.
pub fn run(client: &mut Client, plan: &Plan) -> Result<Tally, String> {
    let mut boot = Boot::new(client, plan);
    boot.verify()?;
    let mut cycles = 0u32;
    while plan.cycles == 0 || cycles < plan.cycles {
        boot.cycle()?;
        cycles += 1;
    }
    Ok(boot.tally)
}

/// The whole component: plan, session, [`run`]. Returns the exit value.
pub fn run_component() -> i32 {
    let plan = match genode::config::attributes() {
        Ok(attributes) => Plan::from_attributes(
            attributes
                .iter()
                .map(|a| (a.name.as_str(), a.value.as_str())),
        ),
        Err(e) => Err(PlanError(format!("config ROM unreadable: {e}"))),
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            log_error!("{FAILED_PREFIX} {e}");
            return EXIT_CONFIG;
        }
    };
    let mut client = match Client::open() {
        Ok(client) => client,
        Err(e) => {
            log_error!("{FAILED_PREFIX} no Snapper session: {e}");
            return EXIT_CONFIG;
        }
    };
    if usize::try_from(plan.space.max_size).map_or(true, |n| n > client.buffer_size()) {
        log_error!(
            "{FAILED_PREFIX} max_size {} does not fit the server's buffer of {} bytes",
            plan.space.max_size,
            client.buffer_size()
        );
        return EXIT_CONFIG;
    }
    match run(&mut client, &plan) {
        Ok(tally) => {
            log_info!(
                "crash: finished boot={} checked={} bytes={}",
                plan.boot,
                tally.generations,
                tally.bytes
            );
            EXIT_OK
        }
        Err(why) => {
            log_error!("{FAILED_PREFIX} boot={}: {why}", plan.boot);
            EXIT_FAILED
        }
    }
}

/// Entry point called by the C++ shim's `Component::construct`.
#[cfg(feature = "genode")]
#[no_mangle]
pub extern "C" fn sg_component_construct() {
    genode::exit(run_component());
}
