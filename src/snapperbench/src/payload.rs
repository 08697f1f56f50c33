//! Deterministic pseudo-random payloads: object `id` at `version` always has
//! the same bytes, so a restore can be checked without keeping what was
//! taken, and an unchanged object is byte-identical in the next generation
//! (Snapper must link it, not write it).
//!
//! SplitMix64 (Steele, Lea, Flood 2014): one multiply-xorshift chain per
//! eight bytes, fast enough that filling is small next to the I/O, and
//! incompressible-looking, so no layer below can shortcut the bytes.

/// The SplitMix64 increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fills `out` with the payload of object `id` at `version`.
pub fn fill(id: u64, version: u32, out: &mut [u8]) {
    // Distinct (id, version) pairs start distinct streams: the seed mixes
    // both, so version 2 of one object is not version 1 of another.
    let mut state = mix(id ^ mix(u64::from(version).wrapping_add(GAMMA)));
    let mut chunks = out.chunks_exact_mut(8);
    for chunk in &mut chunks {
        state = state.wrapping_add(GAMMA);
        chunk.copy_from_slice(&mix(state).to_le_bytes());
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        state = state.wrapping_add(GAMMA);
        for (byte, value) in tail.iter_mut().zip(mix(state).to_le_bytes()) {
            *byte = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn same_id_and_version_same_bytes_otherwise_different() {
        let mut a = vec![0u8; 4099];
        let mut b = vec![0u8; 4099];
        fill(7, 1, &mut a);
        fill(7, 1, &mut b);
        assert_eq!(a, b);
        fill(7, 2, &mut b);
        assert_ne!(a, b);
        fill(8, 1, &mut b);
        assert_ne!(a, b);
        // a shorter payload is a prefix of the longer one's stream
        let mut short = vec![0u8; 5];
        fill(7, 1, &mut short);
        assert_eq!(short, a[..5]);
        // not a constant pattern: most bytes differ from their neighbour
        let same = a.windows(2).filter(|w| w[0] == w[1]).count();
        assert!(same < a.len() / 16, "{same}");
    }
}
