//! Reference counts of snapshot files, derived from the valid archives.
//!
//! Per generation, a vector of (file number, count) sorted by file number and
//! holding only referenced files. Memory follows the references that exist,
//! never a file number read from disk: a damaged or hostile archive naming
//! file 4 000 000 000 costs one slot, not a 16 GiB array. Updates come in
//! batches (one archive at a time), sorted and merged in linear time.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::format::Entry;
use crate::types::{FileNumber, FileRef, Generation};

#[derive(Clone, Debug, Default)]
pub(crate) struct RefCounts {
    by_generation: BTreeMap<Generation, Vec<(u32, u32)>>,
}

fn sorted_links(entries: &[Entry]) -> Vec<FileRef> {
    let mut links: Vec<FileRef> = entries
        .iter()
        .flat_map(|e| e.backlinks.iter().copied())
        .collect();
    links.sort_unstable();
    links
}

impl RefCounts {
    /// How many valid archives reference `link`.
    pub(crate) fn get(&self, link: FileRef) -> u32 {
        self.by_generation
            .get(&link.generation)
            .and_then(|files| {
                files
                    .binary_search_by_key(&link.file.0, |(file, _)| *file)
                    .ok()
                    .and_then(|at| files.get(at))
            })
            .map_or(0, |(_, count)| *count)
    }

    /// Whether any file of `generation` is referenced.
    pub(crate) fn any_in(&self, generation: Generation) -> bool {
        self.by_generation
            .get(&generation)
            .is_some_and(|files| !files.is_empty())
    }

    /// Counts one more archive referencing the backlinks of `entries`.
    pub(crate) fn add(&mut self, entries: &[Entry]) {
        let links = sorted_links(entries);
        for group in links.chunk_by(|a, b| a.generation == b.generation) {
            let Some(first) = group.first() else { continue };
            let files = self.by_generation.entry(first.generation).or_default();
            let mut merged = Vec::with_capacity(files.len() + group.len());
            let mut old = files.iter().copied().peekable();
            for run in group.chunk_by(|a, b| a.file == b.file) {
                let file = run.first().map_or(0, |l| l.file.0);
                while let Some(&(f, c)) = old.peek() {
                    if f >= file {
                        break;
                    }
                    merged.push((f, c));
                    old.next();
                }
                let extra = u32::try_from(run.len()).unwrap_or(u32::MAX);
                match old.peek() {
                    Some(&(f, c)) if f == file => {
                        merged.push((f, c.saturating_add(extra)));
                        old.next();
                    }
                    _ => merged.push((file, extra)),
                }
            }
            merged.extend(old);
            *files = merged;
        }
    }

    /// Counts one archive less referencing the backlinks of `entries`;
    /// returns the files no archive references any more.
    pub(crate) fn remove(&mut self, entries: &[Entry]) -> Vec<FileRef> {
        let mut dead = Vec::new();
        let links = sorted_links(entries);
        for group in links.chunk_by(|a, b| a.generation == b.generation) {
            let Some(first) = group.first() else { continue };
            let generation = first.generation;
            let Some(files) = self.by_generation.get_mut(&generation) else {
                continue;
            };
            for run in group.chunk_by(|a, b| a.file == b.file) {
                let file = run.first().map_or(0, |l| l.file.0);
                if let Ok(at) = files.binary_search_by_key(&file, |(f, _)| *f) {
                    if let Some((_, count)) = files.get_mut(at) {
                        let fewer = u32::try_from(run.len()).unwrap_or(u32::MAX);
                        *count = count.saturating_sub(fewer);
                        if *count == 0 {
                            dead.push(FileRef {
                                generation,
                                file: FileNumber(file),
                            });
                        }
                    }
                }
            }
            files.retain(|(_, count)| *count > 0);
            if files.is_empty() {
                self.by_generation.remove(&generation);
            }
        }
        dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Backlinks;
    use crate::types::{Digest, ObjectId};
    use alloc::vec;

    fn entry(links: &[(u32, u32)]) -> Entry {
        let mut iter = links.iter().rev();
        let (g, f) = iter.next().copied().unwrap();
        let mut backlinks = Backlinks::one(FileRef {
            generation: Generation(g),
            file: FileNumber(f),
        });
        for (g, f) in iter {
            backlinks = Backlinks::prepend(
                FileRef {
                    generation: Generation(*g),
                    file: FileNumber(*f),
                },
                &backlinks,
            );
        }
        Entry {
            id: ObjectId(0),
            size: 0,
            digest: Digest([0; 16]),
            backlinks,
        }
    }

    fn link(g: u32, f: u32) -> FileRef {
        FileRef {
            generation: Generation(g),
            file: FileNumber(f),
        }
    }

    #[test]
    fn counts_follow_adds_and_removes_in_any_order() {
        let mut refs = RefCounts::default();
        let first = vec![entry(&[(1, 5)]), entry(&[(1, 0)]), entry(&[(1, 3)])];
        let second = vec![
            entry(&[(2, 0), (1, 5)]),
            entry(&[(1, 0)]),
            entry(&[(1, 3)]),
            entry(&[(1, u32::MAX)]),
        ];
        refs.add(&first);
        refs.add(&second);
        assert_eq!(refs.get(link(1, 0)), 2);
        assert_eq!(refs.get(link(1, 5)), 2);
        assert_eq!(refs.get(link(1, 4)), 0);
        assert_eq!(refs.get(link(2, 0)), 1);
        assert_eq!(
            refs.get(link(1, u32::MAX)),
            1,
            "a huge file number costs one slot"
        );
        let mut dead = refs.remove(&first);
        assert!(dead.is_empty());
        dead = refs.remove(&second);
        dead.sort();
        assert_eq!(
            dead,
            vec![
                link(1, 0),
                link(1, 3),
                link(1, 5),
                link(1, u32::MAX),
                link(2, 0)
            ]
        );
        assert!(!refs.any_in(Generation(1)) && !refs.any_in(Generation(2)));
        assert!(
            refs.remove(&second).is_empty(),
            "removing twice does not underflow"
        );
    }
}
