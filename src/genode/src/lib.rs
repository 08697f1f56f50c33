//! Safe `no_std` Rust for Genode components, over the C ABI of the C++
//! shim (`shim/snapper_genode.h`).
//!
//! The shim owns everything Genode: the heap, the config ROM, the VFS, the
//! RTC and timer sessions. This crate turns that ABI into Rust types:
//!
//! - [`log`]: Genode's log, one call one line ([`log_info!`] and friends);
//! - [`config`]: the config ROM's top-level attributes, XML or HID alike
//!   (the shim walks them with `Genode::Node`);
//! - [`vfs`]: the component's VFS (its config's `<vfs>` node), file by file;
//! - [`rtc`], [`timer`]: wall-clock time, monotonic time and sleeping;
//! - [`exit`]: ending the component with an exit value;
//! - feature `runtime`: the global allocator over Genode's heap and the
//!   panic handler, for the Genode binary (see below).
//!
//! A session protocol (e.g. Snapper's, crate `snapper-session`) sits on top
//! of this crate with its own part of the ABI.
//!
//! # A component
//!
//! The shim's `Component::construct` calls `sg_component_construct`, which
//! the component's crate provides ([`component!`] writes it). The crate is
//! built as a staticlib with `--features genode/runtime` and linked with
//! the shim (see `src/Makefile` or `src/genode/rust_component.mk`):
//!
//! ```ignore
//! #![no_std]
//! extern crate alloc;
//!
//! use genode::vfs::Vfs;
//! use genode::{config, log_error, log_info};
//!
//! fn construct() {
//!     // <config greeting="hello"> <vfs> <ram/> </vfs> </config>
//!     let greeting = config::attribute("greeting").ok().flatten();
//!     log_info!("greeting: {}", greeting.as_deref().unwrap_or("none"));
//!     let result = Vfs::init().and_then(|mut vfs| {
//!         vfs.write_new("hello", &[b"hello ", b"world"])?;
//!         vfs.sync()?;
//!         let mut buf = [0u8; 16];
//!         let n = vfs.read_at("hello", 0, &mut buf)?;
//!         log_info!("read {n} bytes back");
//!         Ok(())
//!     });
//!     match result {
//!         Ok(()) => genode::exit(0),
//!         Err(e) => {
//!             log_error!("vfs: {e}");
//!             genode::exit(1)
//!         }
//!     }
//! }
//!
//! genode::component!(construct);
//! ```
//!
//! (Not compiled as a doctest: a `no_std` staticlib is no doctest. The same
//! component is the crate `examples/hello`, which CI builds and runs over
//! the host implementation of the ABI, crate `genode-host`.)
//!
//! # Features
//!
//! Additive. Without features the crate is the bindings alone: it builds
//! for any target and, under `cargo test`, links against `genode-host`,
//! which implements the C ABI over std. `runtime` adds the
//! `#[global_allocator]` over Genode's heap and the `#[panic_handler]`
//! (logs the panic, exits with 101): what a `no_std` binary needs, so only
//! the Genode build of a component turns it on.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod config;
mod error;
pub mod log;
pub mod rtc;
pub mod sys;
pub mod timer;
pub mod vfs;

#[cfg(feature = "runtime")]
mod runtime;

pub use error::Error;

/// Ends the component, reporting `code` to the parent (0 = success).
pub fn exit(code: i32) -> ! {
    // SAFETY: no arguments besides a plain integer; never returns.
    unsafe { sys::sg_exit(code) }
}

/// `genode::component!(construct)`: the component's entry point, the
/// `sg_component_construct` that the shim's `Component::construct` calls
/// once. `construct` returns when the component is set up (a server then
/// keeps serving through its callbacks; a client calls [`exit`] when done).
#[macro_export]
macro_rules! component {
    ($construct:path) => {
        /// Entry point called by the C++ shim's `Component::construct`.
        #[no_mangle]
        pub extern "C" fn sg_component_construct() {
            $construct()
        }
    };
}
