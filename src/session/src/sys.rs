//! Raw declarations of the `Snapper` session's part of the C ABI in
//! `shim/snapper_session_abi.h` (server and client side). Keep in step
//! with the header; `host.rs` (feature `host`) implements the same symbols
//! for host tests, the C++ shim on Genode.

#![allow(non_camel_case_types, missing_docs)]

use core::ffi::{c_char, c_int, c_void};

pub use genode::sys::sg_status;

pub type sg_rpc = c_int;

pub const SG_RPC_INIT_SNAPSHOT: sg_rpc = 1;
pub const SG_RPC_TAKE_SNAPSHOT: sg_rpc = 2;
pub const SG_RPC_COMMIT_SNAPSHOT: sg_rpc = 3;
pub const SG_RPC_OPEN_GENERATION: sg_rpc = 4;
pub const SG_RPC_RESTORE: sg_rpc = 5;
pub const SG_RPC_CLOSE_GENERATION: sg_rpc = 6;
pub const SG_RPC_PURGE: sg_rpc = 7;
pub const SG_RPC_PURGE_EXPIRED: sg_rpc = 8;
pub const SG_RPC_PURGE_ZOMBIES: sg_rpc = 9;
pub const SG_RPC_TAKE_BATCH: sg_rpc = 10;
pub const SG_RPC_RESTORE_BATCH: sg_rpc = 11;

pub const SG_RESULT_NO_SESSION: u32 = 0xffff_ffff;

#[repr(C)]
pub struct sg_session_ops {
    pub ctx: *mut c_void,
    pub init_snapshot: unsafe extern "C" fn(*mut c_void, u64) -> u32,
    pub take_snapshot: unsafe extern "C" fn(*mut c_void, u64, *const u8, usize, usize, u64) -> u32,
    pub commit_snapshot: unsafe extern "C" fn(*mut c_void, u64) -> u32,
    pub open_generation: unsafe extern "C" fn(*mut c_void, u64, *const c_char, usize) -> u32,
    pub restore: unsafe extern "C" fn(*mut c_void, u64, *mut u8, usize, usize, u64) -> u32,
    pub close_generation: unsafe extern "C" fn(*mut c_void, u64) -> u32,
    pub purge: unsafe extern "C" fn(*mut c_void, u64, *const c_char, usize) -> u32,
    pub purge_expired: unsafe extern "C" fn(*mut c_void, u64) -> u32,
    pub purge_zombies: unsafe extern "C" fn(*mut c_void, u64) -> u32,
    pub session_closed: unsafe extern "C" fn(*mut c_void, u64),
    pub take_batch: unsafe extern "C" fn(*mut c_void, u64, *mut u8, usize) -> u32,
    pub restore_batch: unsafe extern "C" fn(*mut c_void, u64, *mut u8, usize) -> u32,
}

extern "C" {
    pub fn sg_serve(ops: *const sg_session_ops, bufsize: usize) -> sg_status;
    pub fn sg_client_open() -> sg_status;
    pub fn sg_client_buffer(out_ptr: *mut *mut u8, out_len: *mut usize) -> sg_status;
    pub fn sg_client_call(
        rpc: sg_rpc,
        size: usize,
        id: u64,
        name: *const c_char,
        name_len: usize,
    ) -> u32;
    pub fn sg_client_close();
}
