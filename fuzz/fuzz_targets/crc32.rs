//! Fuzz target: snapper_crc32's clmul path, its table path, the public
//! `crc32` and a reference (the crc crate) agree on any input, fed to each
//! path in two pieces cut at any point (the first two bytes choose it).
//! Its bounded counterpart is the crate's own tests (every length to 1100
//! at every offset, random cuts), not tests/bad_input.rs: this is no
//! decoder of bytes from disk. On a CPU without PCLMULQDQ only the table
//! path is compared.
#![no_main]

use snapper_crc32::paths;

const REFERENCE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (cut, input) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    let (head, tail) = input.split_at(cut % (input.len() + 1));
    let want = REFERENCE.checksum(input);
    assert_eq!(snapper_crc32::crc32(input), want, "crc32");
    assert_eq!(paths::table(paths::table(0, head), tail), want, "table");
    let clmul = paths::clmul(0, head).map(|crc| paths::clmul(crc, tail));
    if let Some(both) = clmul {
        assert_eq!(both, Some(want), "clmul");
    }
});
