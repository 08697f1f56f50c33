//! The reliability harness of Snapper (host only, std).
//!
//! - [`CrashStorage`] keeps what was written apart from what is durable and
//!   rebuilds the disk as a power cut may leave it (doc/RELIABILITY.md says
//!   which file system behaviour it models and why).
//! - [`FaultStorage`] makes the Nth storage operation fail; [`fault_sweep`]
//!   fails each operation of a workload in turn and checks what is left.
//! - [`sweep`] runs a workload, cuts power after every operation in turn and
//!   checks each surviving disk against the invariants of doc/DESIGN.md.
//! - [`torn`] writes the record a commit cut short leaves in the archive
//!   log, for the tests of what reports and clears it.
//! - [`payload`] gives every test the same reproducible object contents.
//! - [`mount`] lets the sweeps reach their storage through another storage
//!   path (the Genode `VfsStorage` over the host ABI) than the engine's own.
//! - [`fuzz`] holds the bodies of the fuzz targets, shared by `fuzz/` and the
//!   bounded property test of the normal test suite.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod crash;
pub mod fault;
pub mod fault_sweep;
pub mod fuzz;
pub mod image;
pub mod mount;
pub mod payload;
pub mod platform;
pub mod rng;
pub mod sweep;
pub mod torn;

pub use crash::{CrashStorage, Fate, MetaOrder, Op, Plan};
pub use fault::{Fault, FaultStorage};
pub use mount::{Direct, Mount, Shared};
pub use platform::SimPlatform;
pub use rng::Rng;

/// A count from the environment, for sweeps that scale: CI runs the
/// default, a long run sets the variable.
pub fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
