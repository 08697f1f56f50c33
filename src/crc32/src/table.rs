//! The table code: crc32fast's, which is also what crc32fast itself runs
//! without its std feature (it would otherwise look for PCLMULQDQ only
//! through std). It serves every CPU, and the clmul path's short inputs and
//! tails: one table implementation in the build, and a well-tested one.

/// The CRC of the bytes `crc` stands for followed by `bytes` (`crc` as
/// [`crate::Crc32::finalize`] returns it).
pub(crate) fn update(crc: u32, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(crc);
    hasher.update(bytes);
    hasher.finalize()
}
