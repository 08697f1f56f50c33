//! The ways the main job reaches Snapper: the engine called directly, or
//! the Genode component's session over the host implementation of its C
//! ABI (server and client in this process), with 2.0's one call per object
//! or with the batched calls. The session paths show on the host what a
//! Genode client pays for the session itself (encoding, one dispatch per
//! call or per batch); the socket round trips of base-linux are not in it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use snapper_core::{Config, GenerationStatus, ObjectId, Snapper};
use snapper_host::{DirStorage, HostPlatform};
use snapper_session::client::{Batch, Client};
use snapper_session::session::Reply;

/// Which path `--session` chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The engine, called directly (no session).
    Engine,
    /// The session, one `take_snapshot`/`restore` call per object (2.0's calls).
    Calls,
    /// The session, `take_batch`/`restore_batch` filling the shared buffer.
    Batch,
}

impl Route {
    /// Parses `--session`'s value.
    pub fn parse(value: &str) -> Option<Route> {
        match value {
            "calls" => Some(Route::Calls),
            "batch" => Some(Route::Batch),
            "none" => Some(Route::Engine),
            _ => None,
        }
    }
}

/// What one generation wrote, as far as the path can tell.
pub struct Written {
    /// The engine's counters (`None` through the session, which does not
    /// report them).
    pub detail: Option<String>,
}

/// Snapper behind one of the paths.
pub enum Backend {
    /// The engine in this process.
    Engine(Box<Snapper<DirStorage, HostPlatform>>),
    /// The component's session.
    Session {
        /// The session client.
        client: Client,
        /// Batched calls instead of one per object.
        batched: bool,
        /// The snapper root, listed to learn a committed generation's name
        /// (the session does not return it).
        root: PathBuf,
    },
}

fn reply(what: &str, reply: Reply) -> Result<(), String> {
    match reply {
        Reply::Ok => Ok(()),
        other => Err(format!("{what}: {other}")),
    }
}

/// A take or a hint for one object of a generation.
pub enum Object {
    /// The object's bytes, written into the buffer handed over.
    Take,
    /// Unchanged since the generation this one builds on: linked without
    /// its bytes (`--hints`).
    Hint,
}

impl Backend {
    /// Opens Snapper on `root` with `config` (the `<config .../>` text).
    pub fn open(
        path: Route,
        root: &Path,
        config_text: &str,
        config: Config,
    ) -> Result<Backend, String> {
        match path {
            Route::Engine => {
                let storage =
                    DirStorage::open(root).map_err(|e| format!("{}: {e}", root.display()))?;
                let snapper = Snapper::open(storage, HostPlatform::new("snapper"), config)
                    .map_err(|e| format!("open: {e}"))?;
                Ok(Backend::Engine(Box::new(snapper)))
            }
            Route::Calls | Route::Batch => {
                std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
                genode_host::install(config_text, root);
                snapper::start().map_err(|e| format!("snapper component: {e}"))?;
                let client = Client::open().map_err(|e| format!("session: {e}"))?;
                Ok(Backend::Session {
                    client,
                    batched: path == Route::Batch,
                    root: root.to_path_buf(),
                })
            }
        }
    }

    /// Takes one generation: `object(index, payload)` for each of `count`
    /// objects of `size` bytes. Returns the committed generation's name.
    pub fn take_generation(
        &mut self,
        count: usize,
        size: usize,
        mut object: impl FnMut(usize, &mut [u8]) -> Object,
    ) -> Result<(String, Written), String> {
        let mut payload = vec![0u8; size];
        match self {
            Backend::Engine(snapper) => {
                snapper
                    .init_snapshot()
                    .map_err(|e| format!("init_snapshot: {e}"))?;
                for index in 0..count {
                    let id = ObjectId(index as u64);
                    match object(index, &mut payload) {
                        Object::Take => snapper.take_snapshot(id, &payload),
                        Object::Hint => snapper.take_unchanged(id),
                    }
                    .map_err(|e| format!("take {index}: {e}"))?;
                }
                snapper
                    .commit_snapshot()
                    .map_err(|e| format!("commit_snapshot: {e}"))?;
                let stats = snapper.last_snapshot_stats();
                let detail = format!(
                    "{} payloads written in {} packs, {} hinted, {} bytes",
                    stats.payloads_written,
                    stats.packs_written,
                    stats.hinted,
                    stats.pack_bytes + stats.archive_bytes
                );
                let name = snapper
                    .generations()
                    .into_iter()
                    .next_back()
                    .map(|g| g.name)
                    .unwrap_or_default();
                Ok((
                    name,
                    Written {
                        detail: Some(detail),
                    },
                ))
            }
            Backend::Session {
                client,
                batched,
                root,
            } => {
                let before = entries(root)?;
                match client.init_snapshot() {
                    Reply::Ok | Reply::NoPriorGen => {}
                    other => return Err(format!("init_snapshot: {other}")),
                }
                if *batched {
                    let mut batch: Batch<'_> = client.batch();
                    for index in 0..count {
                        let id = index as u64;
                        match object(index, &mut payload) {
                            Object::Take => batch.take(id, &payload),
                            Object::Hint => batch.hint(id),
                        }
                        .map_err(|f| format!("take_batch: object {}: {}", f.id, f.reply))?;
                    }
                    batch
                        .flush()
                        .map_err(|f| format!("take_batch: object {}: {}", f.id, f.reply))?;
                } else {
                    for index in 0..count {
                        match object(index, &mut payload) {
                            Object::Take => reply(
                                &format!("take_snapshot {index}"),
                                client.take_snapshot(index as u64, &payload),
                            )?,
                            Object::Hint => {
                                return Err(
                                    "hints need the batched calls (--session batch) or the engine"
                                        .into(),
                                )
                            }
                        }
                    }
                }
                reply("commit_snapshot", client.commit_snapshot())?;
                let name = entries(root)?
                    .difference(&before)
                    .last()
                    .cloned()
                    .ok_or("commit_snapshot: no new generation directory")?;
                Ok((name, Written { detail: None }))
            }
        }
    }

    /// Restores `ids` of generation `name` into `each(id, bytes)`; an
    /// object that fails is reported as `Err`.
    pub fn restore(
        &mut self,
        name: &str,
        ids: &[u64],
        buf: &mut [u8],
        mut each: impl FnMut(u64, Result<&[u8], String>),
    ) -> Result<(), String> {
        match self {
            Backend::Engine(snapper) => {
                snapper
                    .open_generation(Some(name))
                    .map_err(|e| format!("open_generation: {e}"))?;
                for &id in ids {
                    match snapper.restore(ObjectId(id), buf) {
                        Ok(len) => each(id, buf.get(..len).ok_or_else(|| "length".to_string())),
                        Err(e) => each(id, Err(e.to_string())),
                    }
                }
                snapper
                    .close_generation()
                    .map_err(|e| format!("close_generation: {e}"))
            }
            Backend::Session {
                client, batched, ..
            } => {
                reply("open_generation", client.open_generation(Some(name)))?;
                if *batched {
                    reply(
                        "restore_batch",
                        client.restore_all(ids, |id, result| {
                            each(id, result.map_err(|r| r.to_string()))
                        }),
                    )?;
                } else {
                    for &id in ids {
                        // 2.0's restore fills the caller's buffer; the
                        // object's size is not returned, so the job
                        // compares the prefix it expects.
                        match client.restore(id, buf) {
                            Reply::Ok => each(id, Ok(&buf[..])),
                            other => each(id, Err(other.to_string())),
                        }
                    }
                }
                reply("close_generation", client.close_generation())
            }
        }
    }

    /// purge_zombies.
    pub fn purge_zombies(&mut self) -> Result<(), String> {
        match self {
            Backend::Engine(snapper) => snapper
                .purge_zombies()
                .map_err(|e| format!("purge_zombies: {e}")),
            Backend::Session { client, .. } => reply("purge_zombies", client.purge_zombies()),
        }
    }

    /// The generations on disk: name, status, objects (the engine's view;
    /// through the session, a fresh engine reads the root).
    pub fn generations(
        &self,
        root: &Path,
        config: Config,
    ) -> Result<Vec<(String, GenerationStatus, u64)>, String> {
        let list = |snapper: &Snapper<DirStorage, HostPlatform>| {
            snapper
                .generations()
                .into_iter()
                .map(|g| (g.name, g.status, u64::from(g.objects)))
                .collect()
        };
        match self {
            Backend::Engine(snapper) => Ok(list(snapper)),
            Backend::Session { .. } => {
                let storage =
                    DirStorage::open(root).map_err(|e| format!("{}: {e}", root.display()))?;
                let snapper = Snapper::open(storage, HostPlatform::quiet("snapper"), config)
                    .map_err(|e| format!("open: {e}"))?;
                Ok(list(&snapper))
            }
        }
    }
}

/// The names in the snapper root.
fn entries(root: &Path) -> Result<BTreeSet<String>, String> {
    let listing = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut names = BTreeSet::new();
    for entry in listing {
        let entry = entry.map_err(|e| format!("{}: {e}", root.display()))?;
        names.insert(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}
