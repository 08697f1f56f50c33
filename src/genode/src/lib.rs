//! Safe Rust over Snapper's C ABI to Genode (`shim/snapper_genode.h`).
//!
//! The C++ shim (`shim/*.cc`) owns everything Genode: the heap, the
//! config ROM, the VFS, RTC and timer sessions, and the `Snapper` session's
//! root and session components. This crate turns that ABI into Rust types;
//! the components (`snapper`, `snappertests`) only ever use this crate.
//!
//! Features: `host` (default) implements the same C ABI over std so that
//! components run under `cargo test` ([`host`]); `genode` adds the global
//! allocator over Genode's heap and the panic handler, for the real build.
//! The two exclude each other.

#![no_std]
#![deny(missing_docs)]

#[cfg(all(feature = "host", feature = "genode"))]
compile_error!("features `host` and `genode` exclude each other");

extern crate alloc;
#[cfg(any(feature = "host", test))]
extern crate std;

pub mod batch;
pub mod client;
pub mod config;
mod error;
pub mod log;
pub mod rtc;
pub mod server;
pub mod session;
pub mod sys;
pub mod timer;
pub mod vfs;

#[cfg(feature = "genode")]
mod genode_rt;
#[cfg(feature = "host")]
pub mod host;

pub use error::Error;

/// Ends the component, reporting `code` to the parent (0 = success).
pub fn exit(code: i32) -> ! {
    // SAFETY: no arguments besides a plain integer; never returns.
    unsafe { sys::sg_exit(code) }
}
