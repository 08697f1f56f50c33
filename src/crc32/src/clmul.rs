//! CRC-32/ISO-HDLC by folding with carry-less multiplication (PCLMULQDQ),
//! after Gopal et al., "Fast CRC computation for generic polynomials using
//! PCLMULQDQ instruction" (Intel, 2009): four 128-bit lanes fold 64 bytes a
//! step, the lanes fold into one, one block at a time follows, and the last
//! 128 bits are reduced to 96, 64, then 32 bits by Barrett reduction. The
//! table code takes inputs too short to fold and the tail after the last
//! 16-byte block.
//!
//! # Bit order
//!
//! The CRC is reflected: the first byte's lowest bit is the highest power
//! of x. A block loaded little-endian into a register therefore has bit
//! `i` as the coefficient of x^(127-i): the low 64-bit half `H` holds the
//! high powers, the high half `L` the low ones (`X = H·x^64 + L`, each half
//! with bit `i` for x^(63-i)). Every constant `K` (degree at most 32) is
//! kept with x^d at bit 32-d (`reflect32(K) << 1`, 33 bits). The carry-less
//! product of a half with bit `i` for x^(a-i) and such a constant has bit
//! `m` for x^(a+32-m): the shift by one that reflected multiplication
//! needs is in the constant.
//!
//! # Folding
//!
//! A register `X` that stands `T` bits before the block `D` it is folded
//! into counts there as `X·x^T = H·x^(T+64) + L·x^T`. Mod P that is
//! `H·(x^(T+32) mod P)·x^32 + L·(x^(T-32) mod P)·x^32`, and the factor x^32
//! is what reading a product (bit `m` for x^(95-m)) in the register's
//! frame (x^(127-m)) means. Both products fit in 96 bits, so
//! `fold(X) = H·Kh ⊕ L·Kl ⊕ D` is a 128-bit register again, congruent
//! to the message so far.

#[cfg(target_arch = "x86")]
use core::arch::x86::{
    __m128i, _mm_and_si128, _mm_clmulepi64_si128, _mm_cvtsi32_si128, _mm_extract_epi32,
    _mm_loadu_si128, _mm_set_epi32, _mm_set_epi64x, _mm_setzero_si128, _mm_srli_si128,
    _mm_xor_si128,
};
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{
    __m128i, _mm_and_si128, _mm_clmulepi64_si128, _mm_cvtsi32_si128, _mm_extract_epi32,
    _mm_loadu_si128, _mm_set_epi32, _mm_set_epi64x, _mm_setzero_si128, _mm_srli_si128,
    _mm_xor_si128,
};

use crate::table;

// The instructions the code below uses: PCLMULQDQ, SSE2 (128-bit integer
// registers) and SSE4.1 (PEXTRD, which 32-bit x86 has too, unlike MOVQ
// to a 64-bit register).
cpufeatures::new!(detected, "pclmulqdq", "sse2", "sse4.1");

/// Proof that this CPU has PCLMULQDQ, SSE2 and SSE4.1: only
/// [`Cpu::detect`] makes one, and only after the CPU said so.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cpu(detected::InitToken);

impl Cpu {
    /// `Some` if this CPU has the instructions (cpuid the first time, a
    /// cached answer afterwards).
    pub(crate) fn detect() -> Option<Cpu> {
        let (token, present) = detected::init_get();
        present.then_some(Cpu(token))
    }
}

/// The two constants of a step, as one register: `h` in the low half (the
/// one `H` sits in, PCLMULQDQ's selector 0), `l` in the high half
/// (selector 1).
struct Pair {
    h: u64,
    l: u64,
}

/// Four lanes, each folded over the other three into the block 512 bits
/// on: x^(512+32) and x^(512-32) mod P.
const FOLD_512: Pair = Pair {
    h: 0x1_5444_2bd4,
    l: 0x1_c6e4_1596,
};

/// One register folded into the next block: x^(128+32) and x^(128-32) mod P.
const FOLD_128: Pair = Pair {
    h: 0x1_7519_97d0,
    l: 0x0_ccaa_009e,
};

/// 128 to 96 bits in `h` (`H·x^96`: x^96 mod P), 96 to 64 bits in `l`
/// (the top 32 bits times x^64: x^64 mod P).
const REDUCE: Pair = Pair {
    h: 0x0_ccaa_009e,
    l: 0x1_63cd_6124,
};

/// Barrett reduction of 64 bits to 32: `mu = floor(x^64 / P)` in `h`,
/// P itself (x^32 + 0x04C11DB7) in `l`, both with x^d at bit 32-d.
const BARRETT: Pair = Pair {
    h: 0x1_f701_1641,
    l: 0x1_db71_0641,
};

/// The CRC of the bytes `crc` stands for followed by `bytes` (`crc` as
/// [`crate::Crc32::finalize`] returns it).
pub(crate) fn update(_cpu: Cpu, crc: u32, bytes: &[u8]) -> u32 {
    // SAFETY: `_cpu` is a `Cpu`, which exists only where cpufeatures found
    // PCLMULQDQ, SSE2 and SSE4.1 on this CPU: all `fold` enables.
    unsafe { fold(crc, bytes) }
}

/// A pair as one register (`h` in the low half).
#[target_feature(enable = "sse2")]
fn pair(k: &Pair) -> __m128i {
    // the bits as they are: the casts only reinterpret the u64
    _mm_set_epi64x(k.l as i64, k.h as i64)
}

/// Bits 0..32 of a register, the rest cleared.
#[target_feature(enable = "sse2")]
fn low_32(x: __m128i) -> __m128i {
    _mm_and_si128(x, _mm_set_epi32(0, 0, 0, -1))
}

/// A 16-byte block as a register (little-endian: byte 0 in bits 0..8).
///
/// # Safety
///
/// `block` has at least 16 bytes.
#[target_feature(enable = "sse2")]
unsafe fn load(block: &[u8]) -> __m128i {
    debug_assert!(block.len() >= 16);
    // SAFETY: the caller promises 16 readable bytes at `block`; the
    // unaligned load has no alignment requirement.
    unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
}

/// `x` moved on by the distance `k` is for and added to the block `d`
/// there: `H·k.h ⊕ L·k.l ⊕ d` (module documentation).
#[target_feature(enable = "pclmulqdq,sse2")]
fn fold_into(x: __m128i, k: __m128i, d: __m128i) -> __m128i {
    let high_powers = _mm_clmulepi64_si128::<0x00>(x, k);
    let low_powers = _mm_clmulepi64_si128::<0x11>(x, k);
    _mm_xor_si128(_mm_xor_si128(high_powers, low_powers), d)
}

/// The CRC register (not yet inverted) of the message that `x` is
/// congruent to: `x·x^32 mod P`.
#[target_feature(enable = "pclmulqdq,sse2,sse4.1")]
fn reduce(x: __m128i) -> u32 {
    let k = pair(&REDUCE);
    // 128 -> 96 bits: H·x^96 ⊕ L·x^32, bit m for x^(95-m) (L·x^32 is L
    // itself moved to the low half)
    let y = _mm_xor_si128(_mm_clmulepi64_si128::<0x00>(x, k), _mm_srli_si128::<8>(x));
    // 96 -> 64 bits: the top 32 (bits 0..32, times x^64) by x^64 mod P,
    // plus the other 64 moved down: bit m for x^(63-m)
    let z = _mm_xor_si128(
        _mm_clmulepi64_si128::<0x10>(low_32(y), k),
        _mm_srli_si128::<4>(y),
    );
    // Barrett: q = floor(floor(z / x^32)·mu / x^32) is floor(z / P) for
    // polynomials; z ⊕ q·P = z mod P, which leaves bits 0..32 clear and
    // the remainder in bits 32..64, already in the reflected register's
    // order (bit j for x^(31-j))
    let b = pair(&BARRETT);
    let q = low_32(_mm_clmulepi64_si128::<0x00>(low_32(z), b));
    let r = _mm_xor_si128(z, _mm_clmulepi64_si128::<0x10>(q, b));
    // the same bits, as unsigned
    _mm_extract_epi32::<1>(r) as u32
}

/// The CRC of the bytes `crc` stands for followed by `bytes`; below 64
/// bytes (four blocks, what the lanes start with) the table code's.
#[target_feature(enable = "pclmulqdq,sse2,sse4.1")]
fn fold(crc: u32, bytes: &[u8]) -> u32 {
    let mut groups = bytes.chunks_exact(64);
    let Some(first) = groups.next() else {
        return table::update(crc, bytes);
    };
    // The register before any byte is !crc; added to the first 32 bits of
    // the message it starts the division where `crc` left it.
    let zero = _mm_setzero_si128();
    let mut lanes = [_mm_cvtsi32_si128(!crc as i32), zero, zero, zero];
    for (lane, block) in lanes.iter_mut().zip(first.chunks_exact(16)) {
        // SAFETY: `block` is a chunk of chunks_exact(16): 16 bytes.
        *lane = _mm_xor_si128(*lane, unsafe { load(block) });
    }
    let k = pair(&FOLD_512);
    for group in &mut groups {
        for (lane, block) in lanes.iter_mut().zip(group.chunks_exact(16)) {
            // SAFETY: `block` is a chunk of chunks_exact(16): 16 bytes.
            *lane = fold_into(*lane, k, unsafe { load(block) });
        }
    }
    let k = pair(&FOLD_128);
    let [a, b, c, d] = lanes;
    let mut x = fold_into(fold_into(fold_into(a, k, b), k, c), k, d);
    let mut blocks = groups.remainder().chunks_exact(16);
    for block in &mut blocks {
        // SAFETY: `block` is a chunk of chunks_exact(16): 16 bytes.
        x = fold_into(x, k, unsafe { load(block) });
    }
    table::update(!reduce(x), blocks.remainder())
}

#[cfg(test)]
mod tests {
    use super::{Pair, BARRETT, FOLD_128, FOLD_512, REDUCE};

    /// The reflected polynomial: bit j for x^(31-j), x^32 left out.
    const POLY: u32 = 0xEDB8_8320;

    /// x^n mod P in the reflected order (bit j for x^(31-j)), computed by
    /// multiplying by x n times: a shift towards bit 0 (the higher powers
    /// are the lower bits), reducing when x^32 comes out.
    fn x_pow_mod(n: u32) -> u32 {
        let mut r: u32 = 1 << 31; // x^0
        for _ in 0..n {
            let carry = r & 1 != 0;
            r >>= 1;
            if carry {
                r ^= POLY;
            }
        }
        r
    }

    /// As the constants keep it: x^d at bit 32-d.
    fn folding_constant(n: u32) -> u64 {
        u64::from(x_pow_mod(n)) << 1
    }

    /// floor(x^64 / P) by long division in the normal order (bit d for
    /// x^d), where P = x^32 + (POLY reversed).
    fn mu() -> u64 {
        let p: u128 = (1 << 32) | u128::from(POLY.reverse_bits());
        let mut rem: u128 = 1 << 64;
        let mut quotient: u64 = 0;
        for shift in (0..=32).rev() {
            if rem & (1 << (32 + shift)) != 0 {
                rem ^= p << shift;
                quotient |= 1 << shift;
            }
        }
        quotient
    }

    /// A 33-bit polynomial in the normal order as the constants keep it.
    fn reflect_33(v: u64) -> u64 {
        v.reverse_bits() >> 31
    }

    fn of(p: &Pair) -> (u64, u64) {
        (p.h, p.l)
    }

    #[test]
    fn each_constant_is_recomputed_from_the_polynomial() {
        let fold_512 = (folding_constant(512 + 32), folding_constant(512 - 32));
        let fold_128 = (folding_constant(128 + 32), folding_constant(128 - 32));
        let reduce = (folding_constant(96), folding_constant(64));
        let p = (1u64 << 32) | u64::from(POLY.reverse_bits());
        let barrett = (reflect_33(mu()), reflect_33(p));
        assert_eq!(of(&FOLD_512), fold_512, "FOLD_512");
        assert_eq!(of(&FOLD_128), fold_128, "FOLD_128");
        assert_eq!(of(&REDUCE), reduce, "REDUCE");
        assert_eq!(of(&BARRETT), barrett, "BARRETT");
    }

    #[test]
    fn mu_times_p_is_x_to_the_64_less_a_remainder_below_p() {
        // floor(x^64 / P)·P = x^64 + (x^64 mod P), and x^64 mod P has
        // degree < 32: a check of the division that does not divide
        let (mu, p) = (
            u128::from(mu()),
            (1u128 << 32) | u128::from(POLY.reverse_bits()),
        );
        let mut product: u128 = 0;
        for bit in 0..33 {
            if mu & (1 << bit) != 0 {
                product ^= p << bit;
            }
        }
        assert_eq!(product >> 32, 1 << 32);
        assert_eq!((product as u32).reverse_bits(), x_pow_mod(64), "x^64 mod P");
    }
}
