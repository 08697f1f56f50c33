//! The clmul path where it cannot be: another architecture, or an x86
//! target without the SSE registers. No `Cpu` can exist, so
//! [`crate::Path::Clmul`] is never made and the table code runs.

/// Uninhabited: there is no CPU to prove anything about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cpu {}

impl Cpu {
    pub(crate) fn detect() -> Option<Cpu> {
        None
    }
}

pub(crate) fn update(cpu: Cpu, _crc: u32, _bytes: &[u8]) -> u32 {
    match cpu {}
}
