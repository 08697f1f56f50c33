//! Snapper's `Snapper` session on Genode, on top of the `genode` crate:
//! the result values ([`session::Reply`]), the batched calls' wire format
//! ([`batch`]), a client ([`client::Client`]) and the server dispatch
//! ([`server::serve`] onto a [`server::Handler`]).
//!
//! The C++ side (the session's root and session components, its client
//! connection, beside the generic shim of `src/genode/shim`) is in
//! `shim/` (`server.*`, `client.*`, `session_main.*`), the C ABI between it
//! and this crate in `shim/snapper_session_abi.h` (declared in [`sys`]),
//! the session interface in `src/include/snapper_session/`.
//!
//! Feature `host` (additive, std) implements the session's part of the C
//! ABI over std (module `host`), beside `genode-host`'s generic part: the server
//! and the client of a host "component" run in one thread.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(any(feature = "host", test))]
extern crate std;

pub mod batch;
pub mod client;
pub mod server;
pub mod session;
pub mod sys;

#[cfg(feature = "host")]
pub mod host;
