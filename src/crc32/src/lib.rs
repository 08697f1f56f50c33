//! CRC-32/ISO-HDLC, the zlib and Ethernet CRC (reflected polynomial
//! 0xEDB88320, initial value and final XOR 0xFFFFFFFF), with the
//! implementation chosen at run time, also in a `no_std` build.
//!
//! On x86 and x86_64 (targets that use the SSE registers) a CPU with
//! PCLMULQDQ, SSE2 and SSE4.1 folds the input by carry-less multiplication
//! (module `clmul`; 3x the table code on 4 MiB here); everywhere else, and
//! on a CPU without them, crc32fast's table code runs.
//! crc32fast can choose its own PCLMULQDQ code at run time only with std: a
//! `no_std` build (the Genode components) gets its table code, or faults on
//! a CPU without the instruction if compiled with `+pclmulqdq`. Here the
//! CPU is asked once through `cpufeatures` (cpuid, cached in an atomic),
//! which needs no std. With the feature `std` (host builds) [`Crc32::new`]
//! leaves the work to crc32fast, whose own choice there is wider SIMD.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

// Only where the target lets code use the SSE registers: x86_64-unknown-none
// and other kernel targets leave them out (a kernel would have to save them
// for its users), and LLVM cannot even compile the intrinsics there.
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
mod clmul;
#[cfg(not(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
)))]
#[path = "no_clmul.rs"]
mod clmul;
#[cfg(feature = "paths")]
pub mod paths;
mod table;
#[cfg(test)]
mod tests;

/// A running CRC-32/ISO-HDLC: feed bytes with [`update`](Crc32::update) in
/// as many pieces as they come, then [`finalize`](Crc32::finalize). The
/// result does not depend on how the bytes were split.
#[derive(Clone, Debug)]
pub struct Crc32 {
    /// The CRC of the bytes so far (0 for none), as `finalize` returns it.
    crc: u32,
    path: Path,
}

impl Crc32 {
    /// A CRC over no bytes yet, on the fastest implementation this CPU has.
    pub fn new() -> Crc32 {
        // With std, crc32fast chooses its own SIMD at run time, wider than
        // the folding here (Cargo.toml, feature std).
        if cfg!(feature = "std") {
            return Crc32::on(Path::Table);
        }
        Crc32::on(Path::detect())
    }

    /// A CRC over no bytes yet, on `path`.
    pub(crate) fn on(path: Path) -> Crc32 {
        Crc32 { crc: 0, path }
    }

    /// Adds `bytes` to the CRC.
    pub fn update(&mut self, bytes: &[u8]) {
        self.crc = self.path.update(self.crc, bytes);
    }

    /// The CRC of all bytes given to [`update`](Crc32::update).
    pub fn finalize(self) -> u32 {
        self.crc
    }
}

impl Default for Crc32 {
    fn default() -> Crc32 {
        Crc32::new()
    }
}

/// The CRC-32/ISO-HDLC of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(bytes);
    crc.finalize()
}

/// Which implementation computes the CRC.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Path {
    /// crc32fast: its table code on any CPU; with the feature std, its own
    /// choice of SIMD code where the CPU has it.
    Table,
    /// Folding by carry-less multiplication; holds the proof that this CPU
    /// has the instructions.
    Clmul(clmul::Cpu),
}

impl Path {
    /// The fastest path this CPU has (asks the CPU the first time only).
    pub(crate) fn detect() -> Path {
        match clmul::Cpu::detect() {
            Some(cpu) => Path::Clmul(cpu),
            None => Path::Table,
        }
    }

    /// The CRC of the bytes `crc` stands for followed by `bytes`, where
    /// `crc` is what [`Crc32::finalize`] returns for the former (0 for no
    /// bytes).
    pub(crate) fn update(self, crc: u32, bytes: &[u8]) -> u32 {
        match self {
            Path::Table => table::update(crc, bytes),
            Path::Clmul(cpu) => clmul::update(cpu, crc, bytes),
        }
    }
}
