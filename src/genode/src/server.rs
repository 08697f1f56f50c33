//! Serving the `Snapper` session: the shim owns Genode's root and session
//! components and calls a [`Handler`] for each RPC.

use alloc::boxed::Box;
use core::ffi::{c_char, c_void};

use crate::session::Reply;
use crate::{sys, Error};

/// Identifies a client session for as long as it is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// What the server does for each RPC of `Snapper::Session`. Calls never
/// overlap: Genode dispatches them one by one on the entrypoint.
pub trait Handler {
    /// `init_snapshot()`.
    fn init_snapshot(&mut self, session: SessionId) -> Reply;
    /// `take_snapshot(size, id)`: `payload` is the first `size` bytes of the
    /// session's buffer. A `size` over the buffer never gets here.
    fn take_snapshot(&mut self, session: SessionId, id: u64, payload: &[u8]) -> Reply;
    /// `commit_snapshot()`.
    fn commit_snapshot(&mut self, session: SessionId) -> Reply;
    /// `open_generation(name)`: `None` for the empty name (latest).
    fn open_generation(&mut self, session: SessionId, name: Option<&str>) -> Reply;
    /// `restore(size, id)`: `buf` is the session's buffer, cut to `size`.
    fn restore(&mut self, session: SessionId, id: u64, buf: &mut [u8]) -> Reply;
    /// `close_generation()`.
    fn close_generation(&mut self, session: SessionId) -> Reply;
    /// `purge(name)`: `None` for the empty name (oldest).
    fn purge(&mut self, session: SessionId, name: Option<&str>) -> Reply;
    /// `purge_expired()`.
    fn purge_expired(&mut self, session: SessionId) -> Reply;
    /// `purge_zombies()`.
    fn purge_zombies(&mut self, session: SessionId) -> Reply;
    /// The client closed its session (or was killed).
    fn session_closed(&mut self, session: SessionId);
}

/// # Safety
/// `ctx` must be the pointer `serve` registered for handler type `H`.
unsafe fn handler<'a, H>(ctx: *mut c_void) -> &'a mut H {
    // SAFETY: per the contract; calls never overlap, so the borrow is unique.
    unsafe { &mut *ctx.cast::<H>() }
}

/// A generation name from the RPC. Not UTF-8 cannot name a generation of
/// ours; map it to a name that matches none rather than to "latest".
///
/// # Safety
/// `ptr` valid for `len` bytes or `len == 0`.
unsafe fn name<'a>(ptr: *const c_char, len: usize) -> Option<&'a str> {
    if ptr.is_null() || len == 0 {
        return None;
    }
    // SAFETY: per the contract.
    let bytes = unsafe { core::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    Some(core::str::from_utf8(bytes).unwrap_or("\u{fffd}"))
}

unsafe extern "C" fn init_snapshot<H: Handler>(ctx: *mut c_void, s: u64) -> u32 {
    unsafe { handler::<H>(ctx) }
        .init_snapshot(SessionId(s))
        .code()
}

unsafe extern "C" fn take_snapshot<H: Handler>(
    ctx: *mut c_void,
    s: u64,
    buf: *const u8,
    buf_len: usize,
    size: usize,
    id: u64,
) -> u32 {
    // The size comes from the client: never read past the buffer.
    if size > buf_len {
        return Reply::PayloadTooLarge.code();
    }
    let payload = if size == 0 || buf.is_null() {
        &[][..]
    } else {
        // SAFETY: the shim passes the session's buffer of `buf_len` bytes.
        unsafe { core::slice::from_raw_parts(buf, size) }
    };
    unsafe { handler::<H>(ctx) }
        .take_snapshot(SessionId(s), id, payload)
        .code()
}

unsafe extern "C" fn commit_snapshot<H: Handler>(ctx: *mut c_void, s: u64) -> u32 {
    unsafe { handler::<H>(ctx) }
        .commit_snapshot(SessionId(s))
        .code()
}

unsafe extern "C" fn open_generation<H: Handler>(
    ctx: *mut c_void,
    s: u64,
    n: *const c_char,
    len: usize,
) -> u32 {
    let name = unsafe { name(n, len) };
    unsafe { handler::<H>(ctx) }
        .open_generation(SessionId(s), name)
        .code()
}

unsafe extern "C" fn restore<H: Handler>(
    ctx: *mut c_void,
    s: u64,
    buf: *mut u8,
    buf_len: usize,
    size: usize,
    id: u64,
) -> u32 {
    // A client may ask for more than the buffer holds; it gets at most the
    // buffer (its client side copies no more than that either).
    let len = size.min(buf_len);
    let out = if len == 0 || buf.is_null() {
        &mut [][..]
    } else {
        // SAFETY: the shim passes the session's buffer of `buf_len` bytes.
        unsafe { core::slice::from_raw_parts_mut(buf, len) }
    };
    unsafe { handler::<H>(ctx) }
        .restore(SessionId(s), id, out)
        .code()
}

unsafe extern "C" fn close_generation<H: Handler>(ctx: *mut c_void, s: u64) -> u32 {
    unsafe { handler::<H>(ctx) }
        .close_generation(SessionId(s))
        .code()
}

unsafe extern "C" fn purge<H: Handler>(
    ctx: *mut c_void,
    s: u64,
    n: *const c_char,
    len: usize,
) -> u32 {
    let name = unsafe { name(n, len) };
    unsafe { handler::<H>(ctx) }
        .purge(SessionId(s), name)
        .code()
}

unsafe extern "C" fn purge_expired<H: Handler>(ctx: *mut c_void, s: u64) -> u32 {
    unsafe { handler::<H>(ctx) }
        .purge_expired(SessionId(s))
        .code()
}

unsafe extern "C" fn purge_zombies<H: Handler>(ctx: *mut c_void, s: u64) -> u32 {
    unsafe { handler::<H>(ctx) }
        .purge_zombies(SessionId(s))
        .code()
}

unsafe extern "C" fn session_closed<H: Handler>(ctx: *mut c_void, s: u64) {
    unsafe { handler::<H>(ctx) }.session_closed(SessionId(s))
}

/// Announces the `Snapper` service; each session gets a buffer of `bufsize`
/// bytes. The handler lives as long as the component (it is leaked: the
/// shim keeps calling it until the component ends).
pub fn serve<H: Handler + 'static>(handler: H, bufsize: usize) -> Result<(), Error> {
    let ctx = Box::into_raw(Box::new(handler)).cast::<c_void>();
    let ops = Box::leak(Box::new(sys::sg_session_ops {
        ctx,
        init_snapshot: init_snapshot::<H>,
        take_snapshot: take_snapshot::<H>,
        commit_snapshot: commit_snapshot::<H>,
        open_generation: open_generation::<H>,
        restore: restore::<H>,
        close_generation: close_generation::<H>,
        purge: purge::<H>,
        purge_expired: purge_expired::<H>,
        purge_zombies: purge_zombies::<H>,
        session_closed: session_closed::<H>,
    }));
    // SAFETY: `ops` and `ctx` are leaked, hence valid forever.
    let status = unsafe { sys::sg_serve(ops, bufsize) };
    if status != sys::SG_OK {
        // SAFETY: the shim refused, so nothing holds the pointers; reclaim.
        unsafe {
            let ops = Box::from_raw(ops as *mut sys::sg_session_ops);
            drop(Box::from_raw(ops.ctx.cast::<H>()));
        }
    }
    Error::check(status)
}
