//! Every path against a reference implementation of the same CRC (the
//! `crc` crate's table), on every length and alignment around the block
//! and group edges, in pieces, and on uniform bytes.

use crate::{crc32, Crc32, Path};

const REFERENCE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The paths this CPU can run, by name; says so when the clmul path cannot
/// be tested here.
fn paths() -> Vec<(&'static str, Path)> {
    let mut paths = vec![("table", Path::Table)];
    match Path::detect() {
        Path::Table => println!("NOTE: no PCLMULQDQ on this CPU: the clmul path is not tested"),
        clmul => paths.push(("clmul", clmul)),
    }
    paths
}

/// Seeded xorshift64: reproducible bytes and split points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn check(name: &str, path: Path, bytes: &[u8], what: &str) {
    assert_eq!(
        path.update(0, bytes),
        REFERENCE.checksum(bytes),
        "{name} path, {what}, {} bytes",
        bytes.len()
    );
}

#[test]
fn the_check_value_of_the_catalogue() {
    // CRC-32/ISO-HDLC's "check": the CRC of the ASCII digits 1 to 9
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    for (name, path) in paths() {
        assert_eq!(path.update(0, b"123456789"), 0xCBF4_3926, "{name}");
    }
}

#[test]
fn every_length_to_1100_at_every_offset() {
    let buf = Rng(0x5eed_0001).bytes(1100 + 16);
    for (name, path) in paths() {
        for offset in 0..16 {
            for len in 0..=1100 {
                let what = format!("offset {offset}");
                check(name, path, &buf[offset..offset + len], &what);
            }
        }
    }
}

#[test]
fn lengths_around_the_block_and_group_edges() {
    let mut rng = Rng(0x5eed_0002);
    let buf = rng.bytes((1 << 20) + 64);
    for (name, path) in paths() {
        for edge in [64, 128, 256, 4096, 65536, 1 << 20] {
            for len in edge - 33..=edge + 33 {
                for offset in [0, 1, 8, 15] {
                    let what = format!("offset {offset}");
                    check(name, path, &buf[offset..offset + len], &what);
                }
            }
        }
    }
}

#[test]
fn pieces_give_the_crc_of_the_whole() {
    let mut rng = Rng(0x5eed_0003);
    let whole = rng.bytes(20_000);
    for (name, path) in paths() {
        for round in 0..300 {
            let len = rng.below(whole.len() + 1);
            let input = &whole[..len];
            // up to 8 cuts at random points, some of them equal (an empty
            // piece) or at the ends
            let mut cuts: Vec<usize> = (0..rng.below(9)).map(|_| rng.below(len + 1)).collect();
            cuts.sort_unstable();
            let mut crc = Crc32::on(path);
            let mut from = 0;
            for &cut in cuts.iter().chain([len].iter()) {
                crc.update(&input[from..cut]);
                from = cut;
            }
            assert_eq!(
                crc.finalize(),
                REFERENCE.checksum(input),
                "{name} path, round {round}: {len} bytes cut at {cuts:?}"
            );
        }
    }
}

#[test]
fn uniform_bytes() {
    for (name, path) in paths() {
        for len in [
            1,
            3,
            4,
            15,
            16,
            17,
            63,
            64,
            65,
            127,
            128,
            129,
            1000,
            4096,
            1 << 20,
        ] {
            for byte in [0x00, 0xFF] {
                let what = format!("all {byte:#04x}");
                check(name, path, &vec![byte; len], &what);
            }
        }
    }
}

#[test]
fn the_public_api_matches_the_reference() {
    let buf = Rng(0x5eed_0004).bytes(300_000);
    assert_eq!(crc32(&buf), REFERENCE.checksum(&buf));
    let mut crc = Crc32::default();
    let (a, b) = buf.split_at(12_345);
    crc.update(a);
    let copy = crc.clone();
    crc.update(b);
    assert_eq!(crc.finalize(), REFERENCE.checksum(&buf));
    assert_eq!(copy.finalize(), REFERENCE.checksum(a));
}

/// cpufeatures (no std) and std agree on what this CPU has, so the clmul
/// path runs wherever it can.
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
#[test]
fn detection_agrees_with_std() {
    let std_says = std::is_x86_feature_detected!("pclmulqdq")
        && std::is_x86_feature_detected!("sse2")
        && std::is_x86_feature_detected!("sse4.1");
    let detected = Path::detect();
    assert_eq!(matches!(detected, Path::Clmul(_)), std_says, "{detected:?}");
    // Crc32 uses it unless crc32fast may choose for itself (feature std).
    let chosen = Crc32::new().path;
    let expected = std_says && !cfg!(feature = "std");
    assert_eq!(matches!(chosen, Path::Clmul(_)), expected, "{chosen:?}");
}
