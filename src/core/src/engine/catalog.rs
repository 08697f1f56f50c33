//! What Snapper knows about the root, without any I/O: the generation
//! directories and what each is, where every generation's packs are and how
//! long they are, and how many valid archives use each stored payload.
//!
//! Reference counts are per stored payload (a pack and an offset), kept per
//! pack as a vector of (offset, length, count) sorted by offset, holding
//! only referenced payloads: memory follows the references that exist,
//! never a number read from disk. A pack is garbage when none of its
//! payloads is referenced; it is *sparse* when less than half of its bytes
//! are, and then worth copying forward out of.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::archive::{Entry, Source};
use crate::layout::GenerationName;
use crate::types::{Generation, Location, PackNumber, PackRef};

use super::GenerationStatus;

/// One generation directory.
#[derive(Clone, Debug)]
pub(crate) struct GenRecord {
    pub name: GenerationName,
    pub created: u64,
    pub status: GenerationStatus,
    /// Objects in its archive (valid generations).
    pub objects: u32,
    /// The directory may hold files no valid archive references.
    pub needs_sweep: bool,
    /// Its archive's record in the archive log; `None`: an `archive` file
    /// in its directory, or none.
    pub log: Option<super::log_store::LogRecord>,
}

/// Where a generation's packs are and their payload bytes: learnt from any
/// valid archive that uses them, so it outlives the generation's own
/// archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Packs {
    pub fanout: u32,
    pub payload_bytes: Vec<u64>,
}

#[derive(Clone, Debug, Default)]
struct PackUse {
    /// (offset, length, count), sorted by (offset, length), counts above 0.
    payloads: Vec<(u32, u32, u32)>,
    live_bytes: u64,
}

/// How much of a pack is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackUsage {
    /// The pack.
    pub pack: PackRef,
    /// Its payload bytes (where its index starts), when known.
    pub payload_bytes: Option<u64>,
    /// Bytes of payloads some valid archive uses.
    pub live_bytes: u64,
    /// Payloads some valid archive uses.
    pub live_payloads: u32,
}

impl PackUsage {
    /// Less than half of its payload bytes are used: copy-forward moves the
    /// used ones out of it (the engine's own rule, for tools to report).
    pub fn is_sparse(&self) -> bool {
        self.payload_bytes
            .is_some_and(|bytes| self.live_bytes.saturating_mul(2) < bytes)
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Catalog {
    pub gens: BTreeMap<Generation, GenRecord>,
    packs: BTreeMap<Generation, Packs>,
    uses: BTreeMap<PackRef, PackUse>,
}

/// The distinct payloads an archive's entries use, sorted: an archive
/// counts once per payload however many of its objects share it.
fn distinct_copies(entries: &[Entry]) -> Vec<Location> {
    let mut copies: Vec<Location> = entries
        .iter()
        .flat_map(|e| e.copies.iter().map(|c| c.location()))
        .collect();
    copies.sort_unstable();
    copies.dedup();
    copies
}

impl Catalog {
    pub fn record(&self, generation: Generation) -> Option<&GenRecord> {
        self.gens.get(&generation)
    }

    pub fn record_mut(&mut self, generation: Generation) -> Option<&mut GenRecord> {
        self.gens.get_mut(&generation)
    }

    pub fn name_of(&self, generation: Generation) -> &str {
        self.gens.get(&generation).map_or("?", |r| r.name.as_str())
    }

    pub fn valid(&self) -> impl DoubleEndedIterator<Item = (&Generation, &GenRecord)> {
        self.gens
            .iter()
            .filter(|(_, r)| r.status == GenerationStatus::Valid)
    }

    /// Remembers where a generation's packs are; the first word is kept
    /// (packs never change once written).
    pub fn learn(&mut self, generation: Generation, fanout: u32, payload_bytes: &[u64]) {
        self.packs.entry(generation).or_insert_with(|| Packs {
            fanout,
            payload_bytes: payload_bytes.into(),
        });
    }

    /// Learns every source of an archive.
    pub fn learn_sources(&mut self, sources: &[Source]) {
        for source in sources {
            self.learn(source.generation, source.fanout, &source.packs);
        }
    }

    pub fn packs_of(&self, generation: Generation) -> Option<&Packs> {
        self.packs.get(&generation)
    }

    /// The source record an archive needs to use `generation`'s packs.
    pub fn source(&self, generation: Generation) -> Option<Source> {
        let packs = self.packs.get(&generation)?;
        let record = self.gens.get(&generation)?;
        Some(Source {
            generation,
            name: record.name.as_str().into(),
            fanout: packs.fanout,
            packs: packs.payload_bytes.clone(),
        })
    }

    /// How many valid archives use the payload at `location`.
    pub fn count(&self, location: Location) -> u32 {
        self.uses
            .get(&location.pack)
            .and_then(|u| {
                u.payloads
                    .binary_search_by_key(&(location.offset, location.length), |p| (p.0, p.1))
                    .ok()
                    .and_then(|at| u.payloads.get(at))
            })
            .map_or(0, |p| p.2)
    }

    /// Whether any payload of the pack is used.
    pub fn pack_is_live(&self, pack: PackRef) -> bool {
        self.uses.contains_key(&pack)
    }

    /// Whether any pack of `generation` is used.
    pub fn any_live_in(&self, generation: Generation) -> bool {
        self.uses
            .range(
                PackRef {
                    generation,
                    pack: PackNumber(0),
                }..=PackRef {
                    generation,
                    pack: PackNumber(u32::MAX),
                },
            )
            .next()
            .is_some()
    }

    /// Less than half of the pack's bytes are used (and some are): copying
    /// its used payloads forward lets it be deleted sooner.
    pub fn is_sparse(&self, pack: PackRef) -> bool {
        let Some(used) = self.uses.get(&pack) else {
            return false;
        };
        PackUsage {
            pack,
            payload_bytes: self.payload_bytes(pack),
            live_bytes: used.live_bytes,
            live_payloads: 0,
        }
        .is_sparse()
    }

    pub fn payload_bytes(&self, pack: PackRef) -> Option<u64> {
        self.packs
            .get(&pack.generation)
            .and_then(|p| p.payload_bytes.get(pack.pack.0 as usize))
            .copied()
    }

    /// Every pack some valid archive uses, with its usage.
    pub fn usage(&self) -> Vec<PackUsage> {
        self.uses
            .iter()
            .map(|(pack, used)| PackUsage {
                pack: *pack,
                payload_bytes: self.payload_bytes(*pack),
                live_bytes: used.live_bytes,
                live_payloads: u32::try_from(used.payloads.len()).unwrap_or(u32::MAX),
            })
            .collect()
    }

    /// Payload bytes of every pack some valid archive uses, and of the
    /// payloads in them that are used: what the garbage bound is stated
    /// over (a pack's index and trailer add 28 bytes per payload and 32).
    pub fn disk_and_live_bytes(&self) -> (u64, u64) {
        self.uses.iter().fold((0, 0), |(disk, live), (pack, used)| {
            (
                disk + self.payload_bytes(*pack).unwrap_or(used.live_bytes),
                live + used.live_bytes,
            )
        })
    }

    /// Counts one more archive using the payloads of `entries`.
    pub fn add(&mut self, entries: &[Entry]) {
        let copies = distinct_copies(entries);
        for group in copies.chunk_by(|a, b| a.pack == b.pack) {
            let Some(first) = group.first() else {
                continue;
            };
            let used = self.uses.entry(first.pack).or_default();
            let mut merged = Vec::with_capacity(used.payloads.len() + group.len());
            let mut old = used.payloads.iter().copied().peekable();
            for location in group {
                let key = (location.offset, location.length);
                while let Some(&(offset, len, count)) = old.peek() {
                    if (offset, len) >= key {
                        break;
                    }
                    merged.push((offset, len, count));
                    old.next();
                }
                match old.peek() {
                    Some(&(offset, len, count)) if (offset, len) == key => {
                        merged.push((offset, len, count.saturating_add(1)));
                        old.next();
                    }
                    _ => {
                        merged.push((location.offset, location.length, 1));
                        used.live_bytes += u64::from(location.length);
                    }
                }
            }
            merged.extend(old);
            used.payloads = merged;
        }
    }

    /// Counts one archive less using the payloads of `entries`; returns the
    /// packs none of whose payloads is used any more.
    pub fn remove(&mut self, entries: &[Entry]) -> Vec<PackRef> {
        let mut dead = Vec::new();
        let copies = distinct_copies(entries);
        for group in copies.chunk_by(|a, b| a.pack == b.pack) {
            let Some(first) = group.first() else {
                continue;
            };
            let pack = first.pack;
            let Some(used) = self.uses.get_mut(&pack) else {
                continue;
            };
            for location in group {
                let key = (location.offset, location.length);
                if let Ok(at) = used.payloads.binary_search_by_key(&key, |p| (p.0, p.1)) {
                    if let Some(payload) = used.payloads.get_mut(at) {
                        payload.2 = payload.2.saturating_sub(1);
                        if payload.2 == 0 {
                            used.live_bytes = used.live_bytes.saturating_sub(u64::from(payload.1));
                        }
                    }
                }
            }
            used.payloads.retain(|p| p.2 > 0);
            if used.payloads.is_empty() {
                self.uses.remove(&pack);
                dead.push(pack);
            }
        }
        dead
    }

    /// Forgets a generation whose directory is gone, once nothing uses it.
    pub fn forget_if_gone(&mut self, generation: Generation) {
        if !self.any_live_in(generation)
            && self
                .gens
                .get(&generation)
                .is_some_and(|r| r.status == GenerationStatus::NoArchive)
        {
            self.gens.remove(&generation);
            self.packs.remove(&generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Copies, Stored};
    use crate::pack::Codec;
    use crate::types::{Digest, ObjectId};
    use alloc::vec;

    fn stored(g: u32, pack: u32, offset: u32, length: u32) -> Stored {
        Stored {
            generation: Generation(g),
            pack: PackNumber(pack),
            offset,
            length,
            crc: 0,
            codec: Codec::RAW,
        }
    }

    fn entry(id: u64, copies: &[Stored]) -> Entry {
        let mut iter = copies.iter().rev();
        let mut out = Copies::one(*iter.next().unwrap());
        for c in iter {
            out = Copies::prepend(*c, &out, |_| true);
        }
        Entry {
            id: ObjectId(id),
            size: copies[0].length,
            digest: Digest([0; 16]),
            copies: out,
        }
    }

    fn pack(g: u32, p: u32) -> PackRef {
        PackRef {
            generation: Generation(g),
            pack: PackNumber(p),
        }
    }

    #[test]
    fn counts_and_live_bytes_follow_archives() {
        let mut catalog = Catalog::default();
        catalog.learn(Generation(1), 100, &[1000]);
        let first = vec![
            entry(1, &[stored(1, 0, 0, 100)]),
            entry(2, &[stored(1, 0, 100, 100)]),
            // a duplicate page shared by two objects counts once
            entry(3, &[stored(1, 1, 0, 50)]),
            entry(4, &[stored(1, 1, 0, 50)]),
        ];
        let second = vec![
            entry(1, &[stored(2, 0, 0, 100), stored(1, 0, 0, 100)]),
            entry(3, &[stored(1, 1, 0, 50)]),
            entry(9, &[stored(1, 0, u32::MAX - 1, 1)]),
        ];
        catalog.add(&first);
        catalog.add(&second);
        assert_eq!(catalog.count(stored(1, 1, 0, 50).location()), 2);
        assert_eq!(catalog.count(stored(1, 0, 0, 100).location()), 2);
        assert_eq!(catalog.count(stored(1, 0, 100, 100).location()), 1);
        assert_eq!(catalog.count(stored(1, 0, 50, 100).location()), 0);
        // An empty payload and the one after it start at the same offset:
        // two payloads, not one.
        catalog.add(&[entry(7, &[stored(1, 0, 100, 0)])]);
        assert_eq!(catalog.count(stored(1, 0, 100, 0).location()), 1);
        assert_eq!(catalog.count(stored(1, 0, 100, 100).location()), 1);
        assert!(catalog
            .remove(&[entry(7, &[stored(1, 0, 100, 0)])])
            .is_empty());
        assert!(catalog.is_sparse(pack(1, 0)), "201 of 1000 bytes used");
        assert!(
            !catalog.is_sparse(pack(1, 1)),
            "unknown length is never sparse"
        );
        catalog.learn(Generation(1), 7, &[]);
        assert_eq!(catalog.packs_of(Generation(1)).map(|p| p.fanout), Some(100));

        let dead = catalog.remove(&first);
        assert!(dead.is_empty());
        assert_eq!(catalog.count(stored(1, 0, 100, 100).location()), 0);
        let mut dead = catalog.remove(&second);
        dead.sort();
        assert_eq!(dead, vec![pack(1, 0), pack(1, 1), pack(2, 0)]);
        assert!(!catalog.any_live_in(Generation(1)));
        assert_eq!(catalog.disk_and_live_bytes(), (0, 0));
        assert!(catalog.remove(&second).is_empty(), "no underflow");
    }
}
