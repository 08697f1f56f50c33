//! Object contents for tests: the same (id, version) gives the same bytes
//! everywhere, so a restore is checked without keeping every generation's
//! bytes, and a generation that changes some objects is described by the
//! versions alone.

/// Fills `out` with the content of object `id` at `version`: the host
/// main job's and the benchmarks' own, so a test can check what those wrote.
pub use snapper_host::content::fill;

/// `len` bytes of object `id` at `version` (see [`fill`]).
pub fn payload(id: u64, version: u32, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    fill(id, version, &mut out);
    out
}

/// Objects `0..n` at `version`; object `id` has `sizes[id % sizes.len()]`
/// bytes (none if `sizes` is empty).
pub fn objects(n: u64, version: u32, sizes: &[usize]) -> Vec<(u64, Vec<u8>)> {
    (0..n)
        .map(|id| {
            let len = sizes
                .get((id % sizes.len().max(1) as u64) as usize)
                .copied()
                .unwrap_or(0);
            (id, payload(id, version, len))
        })
        .collect()
}

/// `objects(n, 0, sizes)` with every `every`-th object (0 included) changed
/// to `version` and `grow` bytes longer, so that a change also moves the
/// payloads after it in a pack.
pub fn changed(
    n: u64,
    every: u64,
    version: u32,
    sizes: &[usize],
    grow: usize,
) -> Vec<(u64, Vec<u8>)> {
    objects(n, 0, sizes)
        .into_iter()
        .map(|(id, p)| {
            if id % every.max(1) == 0 {
                (id, payload(id, version, p.len() + grow))
            } else {
                (id, p)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_are_reproducible_and_differ_by_id_and_version() {
        assert_eq!(payload(3, 1, 100), payload(3, 1, 100));
        assert_ne!(payload(3, 1, 100), payload(4, 1, 100));
        assert_ne!(payload(3, 1, 100), payload(3, 2, 100));
        // a shorter payload is a prefix of a longer one
        assert_eq!(payload(3, 1, 13)[..], payload(3, 1, 100)[..13]);
        assert!(payload(0, 0, 0).is_empty());
    }

    /// Pins the bytes: the host main job and the benchmarks write the same
    /// content with their own copy of `fill`.
    #[test]
    fn the_first_bytes_are_pinned() {
        assert_eq!(
            payload(1, 2, 8),
            [0xb4, 0xa5, 0xeb, 0x52, 0x59, 0xd3, 0x5c, 0xc9]
        );
    }

    #[test]
    fn changed_changes_every_nth_object_and_grows_it() {
        let sizes = [0, 5, 1800];
        let before = objects(7, 0, &sizes);
        let after = changed(7, 3, 9, &sizes, 1);
        assert_eq!(before.len(), 7);
        for ((id, old), (id2, new)) in before.iter().zip(&after) {
            assert_eq!(id, id2);
            if id % 3 == 0 {
                assert_eq!(new, &payload(*id, 9, old.len() + 1));
            } else {
                assert_eq!(new, old);
            }
        }
        assert_eq!(before[2].1.len(), 1800);
        assert!(objects(3, 0, &[]).iter().all(|(_, p)| p.is_empty()));
    }
}
