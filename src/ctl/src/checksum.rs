//! The two CRCs of ext4 and jbd2, as the kernel computes them: the
//! implementation ext4-view itself uses (the `crc` crate), seeded and
//! finished as the kernel's `crc32c()` and `crc32_be()`.

/// CRC32 as the kernel's `crc32_be(seed, data)` (jbd2's v1 transaction
/// checksum): no inversion on the way in or out.
pub fn crc32_be(seed: u32, data: &[u8]) -> u32 {
    const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_BZIP2);
    let mut digest = CRC32.digest_with_initial(seed);
    digest.update(data);
    digest.finalize() ^ !0
}

/// CRC32C as the kernel's `crc32c(seed, data)`: no inversion on the way in
/// or out (ext4 and jbd2 seed it with !0 or a derived seed).
pub fn crc32c(seed: u32, data: &[u8]) -> u32 {
    const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    // The crate inverts at the end and takes the reflected seed.
    let mut digest = CRC32C.digest_with_initial(seed.reverse_bits());
    digest.update(data);
    digest.finalize() ^ !0
}
