//! What generation `g` of a crash run holds, from the run's seed alone: a
//! generation killed half-way or committed three boots ago can be checked
//! without anything kept but (seed, g).
//!
//! Objects `1..=objects` plus the label ([`LABEL_ID`], naming seed and
//! generation, so that the latest generation tells which one it is).
//! Generation 1 sets every object; each later generation `g` changes each
//! object with a probability drawn per generation (5 to 64 %). A changed
//! object gets a new version: present or absent (one in eight is absent, as
//! a freed page), of a size drawn per version (empty, one 4 KiB page, the
//! largest size, or anything up to it), zero bytes for one version in
//! sixteen (so that the server's content dedup has work), otherwise
//! pseudo-random bytes. An unchanged object is byte-identical to the
//! previous generation's, which the server links instead of storing.

use alloc::format;
use alloc::string::String;

use snapperbench::payload;

/// The object that names the generation (see [`label`]).
pub const LABEL_ID: u64 = 0;

/// The shape of a run's object space; the same on every boot of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    /// The run's seed: everything below is a function of it.
    pub seed: u64,
    /// Objects `1..=objects` (besides the label).
    pub objects: u32,
    /// The largest payload in bytes (at most the server's buffer).
    pub max_size: u32,
}

/// Independent streams of draws, so that changing one rule leaves the
/// others' numbers alone.
#[derive(Clone, Copy)]
#[repr(u32)]
enum Stream {
    Rate = 1,
    Change = 2,
    Shape = 3,
    Bytes = 4,
    Choice = 5,
}

fn hash(key: u64, tag: u32) -> u64 {
    let mut word = [0u8; 8];
    payload::fill(key, tag, &mut word);
    u64::from_le_bytes(word)
}

/// A pseudo-random number for (`stream`, `a`, `b`) of the run.
fn draw(seed: u64, stream: Stream, a: u64, b: u64) -> u64 {
    hash(hash(hash(seed, stream as u32) ^ a, 1) ^ b, 2)
}

impl Space {
    /// Percent of the objects generation `g` changes.
    fn rate(&self, g: u32) -> u64 {
        5 + draw(self.seed, Stream::Rate, u64::from(g), 0) % 60
    }

    /// The generation that last changed object `id` as of generation `g`
    /// (`g` >= 1; generation 1 changes every object).
    pub fn version(&self, id: u64, g: u32) -> u32 {
        let mut j = g;
        while j > 1 {
            if draw(self.seed, Stream::Change, id, u64::from(j)) % 100 < self.rate(j) {
                return j;
            }
            j -= 1;
        }
        1
    }

    /// The size of object `id` in generation `g`, `None` if it is absent.
    pub fn size(&self, id: u64, g: u32) -> Option<usize> {
        let version = self.version(id, g);
        let d = draw(self.seed, Stream::Shape, id, u64::from(version));
        if d.is_multiple_of(8) {
            return None;
        }
        let max = u64::from(self.max_size);
        let size = match (d >> 8) % 8 {
            0 => 0,
            1 => 4096.min(max),
            2 => max,
            _ => (d >> 16) % (max + 1),
        };
        usize::try_from(size).ok()
    }

    /// Fills `out` (of [`Space::size`] bytes) with object `id`'s bytes in
    /// generation `g`.
    pub fn fill(&self, id: u64, g: u32, out: &mut [u8]) {
        let version = self.version(id, g);
        let d = draw(self.seed, Stream::Shape, id, u64::from(version));
        if (d >> 24).is_multiple_of(16) {
            out.fill(0);
        } else {
            let key = draw(self.seed, Stream::Bytes, id, 0);
            payload::fill(key, version, out);
        }
    }

    /// A pseudo-random choice of boot `boot`'s workload, the `n`-th: the
    /// workload is repeatable too.
    pub fn choice(&self, boot: u32, n: u64) -> u64 {
        draw(self.seed, Stream::Choice, u64::from(boot), n)
    }
}

/// The label object's bytes for generation `g`.
pub fn label(seed: u64, g: u32) -> String {
    format!("snappercrash seed={seed} gen={g}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    const SPACE: Space = Space {
        seed: 42,
        objects: 400,
        max_size: 16384,
    };

    fn bytes(space: &Space, id: u64, g: u32) -> Option<Vec<u8>> {
        let size = space.size(id, g)?;
        let mut out = vec![0u8; size];
        space.fill(id, g, &mut out);
        Some(out)
    }

    #[test]
    fn a_generation_is_a_function_of_seed_and_number() {
        let again = SPACE;
        for id in 1..=u64::from(SPACE.objects) {
            assert_eq!(bytes(&SPACE, id, 7), bytes(&again, id, 7));
        }
        let other = Space { seed: 43, ..SPACE };
        let differing = (1..=u64::from(SPACE.objects))
            .filter(|&id| bytes(&SPACE, id, 7) != bytes(&other, id, 7))
            .count();
        assert!(differing > 300, "{differing}");
    }

    #[test]
    fn later_generations_change_some_objects_and_keep_the_rest() {
        let mut kinds = [0usize; 4]; // absent, empty, zeros, other
        for g in 2..40u32 {
            let changed = (1..=u64::from(SPACE.objects))
                .filter(|&id| SPACE.version(id, g) == g)
                .count();
            let rate = SPACE.rate(g) as usize;
            // within a wide band of the drawn rate: changes happen, not all
            assert!(changed > 0 && changed < 400, "g {g}: {changed} changed");
            assert!(
                changed.abs_diff(rate * 4) < 80,
                "g {g}: {changed} vs {rate} %"
            );
            for id in 1..=u64::from(SPACE.objects) {
                if SPACE.version(id, g) != g {
                    // unchanged: the bytes of the generation before
                    assert_eq!(bytes(&SPACE, id, g), bytes(&SPACE, id, g - 1));
                }
                match bytes(&SPACE, id, g) {
                    None => kinds[0] += 1,
                    Some(b) if b.is_empty() => kinds[1] += 1,
                    Some(b) if b.iter().all(|&x| x == 0) => kinds[2] += 1,
                    Some(_) => kinds[3] += 1,
                }
            }
        }
        // every kind of object occurs
        assert!(kinds.iter().all(|&k| k > 100), "{kinds:?}");
    }

    #[test]
    fn sizes_stay_within_the_largest() {
        let small = Space {
            max_size: 100,
            ..SPACE
        };
        for id in 1..=u64::from(small.objects) {
            assert!(small.size(id, 3).unwrap_or(0) <= 100);
        }
    }
}
