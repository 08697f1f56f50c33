//! The `Snapper` session's part of the C ABI (`sys`), implemented over
//! std beside `genode-host`'s generic part (feature `host`): the server and
//! the client of a host component are one thread, each RPC a direct call of
//! the server's callback, the "dataspace" a heap buffer of `bufsize` bytes.
//! What it cannot stand for: Genode's RPC marshalling and capability checks
//! (the C++ type check and the Genode scenarios cover those).

// Every `sg_*` function's safety contract is the C header's: pointers valid
// for the lengths given. Repeating it per function would add nothing.
#![allow(clippy::missing_safety_doc)]

use std::boxed::Box;
use std::cell::{Cell, RefCell};
use std::ffi::c_char;
use std::thread_local;

use genode::sys::{SG_ERR_EXISTS, SG_ERR_INVALID, SG_ERR_UNAVAILABLE, SG_OK};

use crate::sys::{self, sg_rpc, sg_session_ops, sg_status};

struct ClientSession {
    id: u64,
    buf: Box<[u8]>,
}

/// The session's side of one host component (see `genode_host::install`).
#[derive(Default)]
struct State {
    /// `genode_host::component()` this state belongs to.
    component: u64,
    server: Option<(*const sg_session_ops, usize)>,
    client: Option<ClientSession>,
    rpcs: u64,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    static NEXT_SESSION: Cell<u64> = const { Cell::new(1) };
}

/// Runs `f` on this thread's session state, first forgetting that of an
/// earlier component (a served handler is leaked, as on Genode). No borrow
/// outlives `f`: callbacks into the server run outside it.
fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    let component = genode_host::component();
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        if state.component != component {
            *state = State {
                component,
                ..State::default()
            };
        }
        f(&mut state)
    })
}

/// Calls of `sg_client_call` that reached the server, in this thread's
/// component since `genode_host::install`.
pub fn rpcs() -> u64 {
    with_state(|state| state.rpcs)
}

/// Host `sg_serve`: remembers the callbacks for this thread's client.
#[no_mangle]
pub unsafe extern "C" fn sg_serve(ops: *const sg_session_ops, bufsize: usize) -> sg_status {
    if ops.is_null() || bufsize == 0 {
        return SG_ERR_INVALID;
    }
    with_state(|state| {
        if state.server.is_some() {
            return SG_ERR_EXISTS;
        }
        state.server = Some((ops, bufsize));
        SG_OK
    })
}

/// Host `sg_client_open`: a session to this thread's server, its buffer on
/// the heap.
#[no_mangle]
pub extern "C" fn sg_client_open() -> sg_status {
    with_state(|state| {
        let Some((_, bufsize)) = state.server else {
            return SG_ERR_UNAVAILABLE;
        };
        let client = &mut state.client;
        if client.is_none() {
            let id = NEXT_SESSION.with(|n| {
                let id = n.get();
                n.set(id + 1);
                id
            });
            *client = Some(ClientSession {
                id,
                buf: vec_zeroed(bufsize),
            });
        }
        SG_OK
    })
}

fn vec_zeroed(len: usize) -> Box<[u8]> {
    std::vec![0u8; len].into_boxed_slice()
}

/// Host `sg_client_buffer`.
#[no_mangle]
pub unsafe extern "C" fn sg_client_buffer(out_ptr: *mut *mut u8, out_len: *mut usize) -> sg_status {
    with_state(|state| match state.client.as_mut() {
        Some(session) => {
            unsafe {
                *out_ptr = session.buf.as_mut_ptr();
                *out_len = session.buf.len();
            }
            SG_OK
        }
        None => SG_ERR_UNAVAILABLE,
    })
}

/// Host `sg_client_call`: calls the server's callback directly. No borrow
/// is held during the call: the server uses the other host functions.
#[no_mangle]
pub unsafe extern "C" fn sg_client_call(
    rpc: sg_rpc,
    size: usize,
    id: u64,
    name: *const c_char,
    name_len: usize,
) -> u32 {
    let Some((ops, session, buf, buf_len)) = with_state(|state| {
        let (ops, _) = state.server?;
        let client = state.client.as_mut()?;
        state.rpcs += 1;
        Some((ops, client.id, client.buf.as_mut_ptr(), client.buf.len()))
    }) else {
        return sys::SG_RESULT_NO_SESSION;
    };
    // SAFETY: registered by `sg_serve`, valid for the component's lifetime.
    let ops = unsafe { &*ops };
    let ctx = ops.ctx;
    let (name, name_len) = if name.is_null() {
        (std::ptr::null(), 0)
    } else {
        (name, name_len)
    };
    unsafe {
        match rpc {
            sys::SG_RPC_INIT_SNAPSHOT => (ops.init_snapshot)(ctx, session),
            sys::SG_RPC_TAKE_SNAPSHOT => (ops.take_snapshot)(ctx, session, buf, buf_len, size, id),
            sys::SG_RPC_COMMIT_SNAPSHOT => (ops.commit_snapshot)(ctx, session),
            sys::SG_RPC_OPEN_GENERATION => (ops.open_generation)(ctx, session, name, name_len),
            sys::SG_RPC_RESTORE => (ops.restore)(ctx, session, buf, buf_len, size, id),
            sys::SG_RPC_CLOSE_GENERATION => (ops.close_generation)(ctx, session),
            sys::SG_RPC_PURGE => (ops.purge)(ctx, session, name, name_len),
            sys::SG_RPC_PURGE_EXPIRED => (ops.purge_expired)(ctx, session),
            sys::SG_RPC_PURGE_ZOMBIES => (ops.purge_zombies)(ctx, session),
            sys::SG_RPC_TAKE_BATCH => (ops.take_batch)(ctx, session, buf, buf_len),
            sys::SG_RPC_RESTORE_BATCH => (ops.restore_batch)(ctx, session, buf, buf_len),
            _ => sys::SG_RESULT_NO_SESSION,
        }
    }
}

/// Host `sg_client_close`: the server learns of it, as on Genode.
#[no_mangle]
pub extern "C" fn sg_client_close() {
    let (closed, server) = with_state(|state| (state.client.take(), state.server));
    if let (Some(session), Some((ops, _))) = (closed, server) {
        // SAFETY: registered by `sg_serve`, valid for the component's lifetime.
        let ops = unsafe { &*ops };
        unsafe { (ops.session_closed)(ops.ctx, session.id) };
    }
}
