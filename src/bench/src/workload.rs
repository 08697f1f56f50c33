//! The object space a workload snapshots: every payload resident in one
//! buffer, as PhantomOS's memory is, so that producing payloads is never
//! part of a timed step.

use snapper_core::Digest;
use snapper_host::content::fill;

/// Objects of equal size, ids 0..n, contents reproducible from (id, version).
pub struct Arena {
    size: usize,
    data: Vec<u8>,
    versions: Vec<u32>,
}

impl Arena {
    /// `objects` payloads of `size` bytes, all at version 0.
    pub fn new(objects: usize, size: usize) -> Self {
        let mut arena = Arena {
            size,
            data: vec![0; objects * size],
            versions: vec![0; objects],
        };
        for index in 0..objects {
            arena.refill(index);
        }
        arena
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// True when there are no objects.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// Payload size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Total payload bytes.
    pub fn bytes(&self) -> u64 {
        self.data.len() as u64
    }

    /// Object `index`'s payload.
    pub fn object(&self, index: usize) -> &[u8] {
        &self.data[index * self.size..(index + 1) * self.size]
    }

    /// Object `index`'s payload, to restore into.
    pub fn object_mut(&mut self, index: usize) -> &mut [u8] {
        &mut self.data[index * self.size..(index + 1) * self.size]
    }

    /// Every payload, to restore into, in id order.
    pub fn objects_mut(&mut self) -> std::slice::ChunksMut<'_, u8> {
        self.data.chunks_mut(self.size.max(1))
    }

    /// Zeroes every payload, so a restore that writes nothing is caught.
    pub fn clear(&mut self) {
        self.data.fill(0);
    }

    /// Rewrites every payload from its version (after a clear or a read
    /// floor overwrote them).
    pub fn refill_all(&mut self) {
        for index in 0..self.len() {
            self.refill(index);
        }
    }

    /// The digest of every payload, to check a restore afterwards.
    pub fn digests(&self) -> Vec<Digest> {
        (0..self.len())
            .map(|i| Digest::of(self.object(i)))
            .collect()
    }

    /// Changes `percent` % of the objects (rounded up, so a small quick run
    /// still changes one), a different spread-out set each `round`. Returns
    /// the changed indices, ascending.
    pub fn change(&mut self, percent: u32, round: u32) -> Vec<usize> {
        let n = self.len();
        let count = changed_count(n, percent);
        // A stride coprime with n visits distinct objects spread over the
        // whole space; the round shifts the set.
        let stride = [7919usize, 7907, 7901, 1]
            .into_iter()
            .find(|p| gcd(*p, n.max(1)) == 1)
            .unwrap_or(1);
        let mut picked: Vec<usize> = (0..count)
            .map(|k| (k * stride + round as usize * 104_729) % n.max(1))
            .collect();
        picked.sort_unstable();
        for &index in &picked {
            self.versions[index] += 1;
            self.refill(index);
        }
        picked
    }

    fn refill(&mut self, index: usize) {
        let (id, version) = (index as u64, self.versions[index]);
        fill(id, version, self.object_mut(index));
    }
}

/// How many of `objects` a change of `percent` % touches (rounded up).
pub fn changed_count(objects: usize, percent: u32) -> usize {
    (objects * percent as usize).div_ceil(100).min(objects)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_exactly_the_rounded_up_share_of_distinct_objects() {
        let mut arena = Arena::new(1024, 64);
        let before = arena.digests();
        let picked = arena.change(10, 3);
        assert_eq!(picked.len(), 103);
        let mut unique = picked.clone();
        unique.dedup();
        assert_eq!(unique.len(), picked.len());
        let after = arena.digests();
        let differing = (0..1024).filter(|i| before[*i] != after[*i]).count();
        assert_eq!(differing, 103);
        assert_eq!(Arena::new(10, 8).change(1, 0).len(), 1);
        assert_eq!(Arena::new(10, 8).change(0, 0).len(), 0);
    }
}
