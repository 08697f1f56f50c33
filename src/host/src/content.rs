//! Reproducible object contents: what the main job and the benchmarks take
//! and what the tests check against (testkit's `payload` is this), so a
//! restore can be checked without keeping every generation's bytes.

/// Fills `out` with the content of object `id` at `version`: xorshift
/// noise, 8 bytes a step (little-endian), incompressible and different for
/// every (id, version).
pub fn fill(id: u64, version: u32, out: &mut [u8]) {
    let mut state =
        id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(version) << 32) ^ 0xD1B5_4A32_D192_ED03;
    for chunk in out.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
}
