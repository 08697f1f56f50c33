//! A read-only look at a snapper root, built on the core: the engine decides
//! which generations exist and whether they are valid (`Snapper::open`,
//! `generations()`), and the core's decoders read archives and snapshot
//! files (`format::Archive::decode`, `format::SnapshotHeader::verify`,
//! `layout::file_path`). What the core does not offer yet (entries with
//! backlinks, every file of a generation directory, sharing between
//! generations) is derived here from those decoders; nothing about the
//! format is re-implemented.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use snapper_core::format::{Archive, Entry, SnapshotHeader, SNAPSHOT_HEADER_LEN};
use snapper_core::layout::{self, ARCHIVE};
use snapper_core::{
    Config, Digest, EntryKind, FileRef, Generation, GenerationInfo, GenerationStatus, Level,
    Platform, Snapper, Storage, StorageError,
};

/// Largest archive the tool reads; a damaged size cannot exhaust memory.
/// The engine uses the same bound.
const MAX_ARCHIVE_BYTES: u64 = 1 << 30;

/// The platform the engine runs on inside the tool: the system clock, and
/// log lines kept rather than printed, so that each command decides what to
/// show (with `--verbose`, all of them on stderr).
#[derive(Debug, Default)]
pub struct Collect {
    /// Engine log lines, in order.
    pub lines: Vec<(Level, String)>,
}

impl Platform for Collect {
    fn now(&mut self) -> u64 {
        now()
    }

    fn log(&mut self, level: Level, message: fmt::Arguments<'_>) {
        self.lines.push((level, message.to_string()));
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The configuration for read-only work: no retention (max_snapshots and
/// expiration 0), so that no engine call can purge anything.
pub fn read_only_config() -> Config {
    Config {
        max_snapshots: 0,
        expiration: 0,
        ..Config::default()
    }
}

/// What a generation directory is, in the tool's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Committed and its archive checks out.
    Valid,
    /// The archive exists but fails its checks; why.
    Damaged(String),
    /// No archive, but valid generations still use its files.
    Purged,
    /// No archive and no valid generation uses its files: an interrupted
    /// snapshot (or a lost archive); gc removes it.
    Incomplete,
}

impl Status {
    /// One word for tables and JSON.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Damaged(_) => "damaged",
            Status::Purged => "purged",
            Status::Incomplete => "incomplete",
        }
    }

    /// Why, when not valid.
    pub fn why(&self) -> Option<String> {
        match self {
            Status::Valid => None,
            Status::Damaged(why) => Some(format!("archive {why}")),
            Status::Purged => {
                Some("archive removed by purge; later generations use its files".into())
            }
            Status::Incomplete => {
                Some("no archive: an interrupted snapshot or a lost archive".into())
            }
        }
    }
}

/// One generation directory.
#[derive(Clone, Debug)]
pub struct GenView {
    /// Its number.
    pub generation: Generation,
    /// Its directory name.
    pub name: String,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// What it is.
    pub status: Status,
    /// The decoded archive (valid generations only).
    pub archive: Option<Archive>,
    /// Size of its archive file in bytes (valid generations only).
    pub archive_bytes: u64,
}

impl GenView {
    /// Payload bytes of its objects (what restoring it whole gives back).
    pub fn bytes_represented(&self) -> u64 {
        self.entries().iter().map(|e| u64::from(e.size)).sum()
    }

    /// Payload bytes it wrote itself, and payload bytes it reads from files
    /// of older generations (objects without a copy of its own).
    pub fn bytes_new_and_shared(&self) -> (u64, u64) {
        let mut new = 0;
        let mut shared = 0;
        for entry in self.entries() {
            if entry
                .backlinks
                .iter()
                .any(|l| l.generation == self.generation)
            {
                new += u64::from(entry.size);
            } else {
                shared += u64::from(entry.size);
            }
        }
        (new, shared)
    }

    /// Its objects (empty unless valid).
    pub fn entries(&self) -> &[Entry] {
        self.archive.as_ref().map_or(&[], |a| &a.entries)
    }
}

/// A snapshot file that at least one valid archive references.
#[derive(Clone, Debug)]
pub struct FileUse {
    /// The file.
    pub link: FileRef,
    /// Its path relative to the root.
    pub path: String,
    /// What the file must hold: object, digest and payload length, from the
    /// first archive entry that references it.
    pub id: u64,
    /// Digest the payload must have.
    pub digest: Digest,
    /// Payload length.
    pub size: u32,
    /// The valid generations whose archives reference it, ascending.
    pub users: BTreeSet<Generation>,
}

/// The state of a snapper root at one moment.
pub struct Inspection {
    /// Every generation directory, oldest first.
    pub gens: Vec<GenView>,
    /// Every snapshot file a valid archive references, by path.
    pub files: BTreeMap<String, FileUse>,
    /// Engine log lines written while opening.
    pub log: Vec<(Level, String)>,
}

/// Reads a generation's archive with the core's decoder; the engine has
/// already judged it, this only gets its entries (the core keeps them
/// private). `Err` says why it was not accepted.
fn read_archive(storage: &mut dyn Storage, name: &str) -> Result<(Archive, u64), String> {
    let path = layout::in_generation(name, ARCHIVE);
    let mut bytes = Vec::new();
    storage
        .read_file(&path, MAX_ARCHIVE_BYTES, &mut bytes)
        .map_err(|e| format!("unreadable ({e})"))?;
    let archive = Archive::decode(&bytes).map_err(|e| e.to_string())?;
    if archive.name != name {
        return Err("names another directory".into());
    }
    Ok((archive, bytes.len() as u64))
}

impl Inspection {
    /// Opens the root through the engine and reads what it reports.
    pub fn open(storage: &mut dyn Storage) -> Result<Self, String> {
        let mut snapper = Snapper::open(&mut *storage, Collect::default(), read_only_config())
            .map_err(|e| format!("cannot open the snapper root: {e}"))?;
        let infos: Vec<GenerationInfo> = snapper.generations();
        let log = std::mem::take(&mut snapper.platform_mut().lines);
        drop(snapper);

        let mut gens = Vec::with_capacity(infos.len());
        for info in infos {
            let (status, archive, archive_bytes) = match info.status {
                GenerationStatus::Valid => match read_archive(storage, &info.name) {
                    Ok((archive, bytes)) => (Status::Valid, Some(archive), bytes),
                    // Changed since the engine read it: report what is there now.
                    Err(why) => (Status::Damaged(why), None, 0),
                },
                // Read again for the precise reason: the engine reports an
                // archive it could not read (an I/O error) as truncated.
                GenerationStatus::Damaged(e) => match read_archive(storage, &info.name) {
                    Ok((archive, bytes)) => (Status::Valid, Some(archive), bytes),
                    Err(why) if why.starts_with("unreadable") => (Status::Damaged(why), None, 0),
                    Err(_) => (Status::Damaged(e.to_string()), None, 0),
                },
                GenerationStatus::NoArchive => (Status::Incomplete, None, 0),
            };
            gens.push(GenView {
                generation: info.generation,
                name: info.name,
                created: info.created,
                status,
                archive,
                archive_bytes,
            });
        }

        let mut files: BTreeMap<String, FileUse> = BTreeMap::new();
        for view in &gens {
            let Some(archive) = &view.archive else {
                continue;
            };
            for entry in &archive.entries {
                for link in entry.backlinks.iter() {
                    // decode() guarantees every backlink has a source.
                    let Some(source) = archive.source(link.generation) else {
                        continue;
                    };
                    let path = layout::file_path(&source.name, source.fanout, link.file);
                    files
                        .entry(path.clone())
                        .or_insert_with(|| FileUse {
                            link: *link,
                            path,
                            id: entry.id.0,
                            digest: entry.digest,
                            size: entry.size,
                            users: BTreeSet::new(),
                        })
                        .users
                        .insert(view.generation);
                }
            }
        }
        let used: BTreeSet<Generation> = files.values().map(|f| f.link.generation).collect();
        for view in &mut gens {
            if view.status == Status::Incomplete && used.contains(&view.generation) {
                view.status = Status::Purged;
            }
        }
        Ok(Inspection { gens, files, log })
    }

    /// The generation named by `spec`: its directory name, its number,
    /// `latest` or `oldest` (both among valid generations).
    pub fn find(&self, spec: &str) -> Option<&GenView> {
        match spec {
            "latest" | "newest" => self.gens.iter().rev().find(|g| g.status == Status::Valid),
            "oldest" => self.gens.iter().find(|g| g.status == Status::Valid),
            _ => {
                if let Ok(number) = spec.parse::<u32>() {
                    return self.gens.iter().find(|g| g.generation.0 == number);
                }
                self.gens.iter().find(|g| g.name == spec)
            }
        }
    }

    /// The valid generations.
    pub fn valid(&self) -> impl Iterator<Item = &GenView> {
        self.gens.iter().filter(|g| g.status == Status::Valid)
    }

    /// The name of generation `generation`, if it has a directory.
    pub fn name_of(&self, generation: Generation) -> Option<&str> {
        self.gens
            .iter()
            .find(|g| g.generation == generation)
            .map(|g| g.name.as_str())
    }
}

/// Every file below generation directory `name`, with its length, in path
/// order. Directories that cannot be listed are reported in `errors`.
pub fn walk(storage: &mut dyn Storage, name: &str, errors: &mut Vec<String>) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut pending = vec![name.to_string()];
    while let Some(dir) = pending.pop() {
        let entries = match storage.list_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(format!("{dir}: cannot list ({e})"));
                continue;
            }
        };
        for entry in entries {
            let path = format!("{dir}/{}", entry.name);
            match entry.kind {
                EntryKind::Dir => pending.push(path),
                EntryKind::File => match storage.file_size(&path) {
                    Ok(size) => out.push((path, size)),
                    Err(e) => errors.push(format!("{path}: cannot stat ({e})")),
                },
            }
        }
    }
    out.sort();
    out
}

/// What reading one snapshot file found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileState {
    /// Header, CRC and digest check out and it holds the expected object.
    Intact,
    /// The file is not there.
    Missing,
    /// It is there but must not be used; why.
    Damaged(String),
}

/// Reads a snapshot file whole and checks it as restore does (the core's
/// `SnapshotHeader::verify`: magic, version, header CRC, length, payload
/// CRC; then object id, digest and length against the archive), and in
/// addition recomputes the payload's BLAKE3 digest, which restore skips.
pub fn check_file(storage: &mut dyn Storage, file: &FileUse, buf: &mut Vec<u8>) -> FileState {
    let limit = (SNAPSHOT_HEADER_LEN as u64) + u64::from(file.size);
    match storage.read_file(&file.path, limit, buf) {
        Ok(()) => {}
        Err(StorageError::NotFound) => return FileState::Missing,
        // read_file refuses a file longer than the header and payload.
        Err(StorageError::Io) if storage.file_size(&file.path).is_ok_and(|s| s > limit) => {
            return FileState::Damaged("longer than its header says".into())
        }
        Err(e) => return FileState::Damaged(format!("unreadable ({e})")),
    }
    match SnapshotHeader::verify(buf) {
        Ok((header, payload)) => {
            if header.id.0 != file.id {
                FileState::Damaged(format!(
                    "holds object {:#x}, not {:#x}",
                    header.id.0, file.id
                ))
            } else if header.digest != file.digest || payload.len() != file.size as usize {
                FileState::Damaged("holds other content than the archive records".into())
            } else if Digest::of(payload) != file.digest {
                FileState::Damaged("payload does not match its digest".into())
            } else {
                FileState::Intact
            }
        }
        Err(e) => FileState::Damaged(e.to_string()),
    }
}

/// Largest snapshot file `salvage_file` reads into memory: a header and a
/// 1 GiB payload (the default bufsize is 1 MiB). Without an archive a
/// file's length is all there is to go by, and a damaged one must not
/// exhaust memory.
const MAX_SNAPSHOT_FILE: u64 = SNAPSHOT_HEADER_LEN as u64 + (1 << 30);

/// Reads a snapshot file without an archive to compare against: the core's
/// `SnapshotHeader::verify` (magic, version, header CRC, length, payload
/// CRC) and then the payload's BLAKE3 digest against the header's. Returns
/// the object id and the payload, or why the file cannot be trusted.
pub fn salvage_file<'b>(
    storage: &mut dyn Storage,
    path: &str,
    buf: &'b mut Vec<u8>,
) -> Result<(u64, &'b [u8]), String> {
    storage
        .read_file(path, MAX_SNAPSHOT_FILE, buf)
        .map_err(|e| format!("unreadable ({e})"))?;
    let (header, payload) = SnapshotHeader::verify(buf).map_err(|e| e.to_string())?;
    if Digest::of(payload) != header.digest {
        return Err("payload does not match its digest".into());
    }
    Ok((header.id.0, payload))
}
