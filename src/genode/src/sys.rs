//! Raw declarations of the generic part of the C ABI in
//! `shim/snapper_genode.h` (start-up, log, heap, config, VFS, RTC, timer).
//! Keep in step with the header; the `genode-host` crate implements the
//! same symbols for host tests. Session ABIs (e.g. `snapper-session`)
//! declare their own symbols on top of these types.

#![allow(non_camel_case_types, missing_docs)]

use core::ffi::{c_char, c_int, c_void};

pub type sg_status = c_int;
pub type sg_log_level = c_int;

pub const SG_OK: sg_status = 0;
pub const SG_ERR_NOT_FOUND: sg_status = 1;
pub const SG_ERR_EXISTS: sg_status = 2;
pub const SG_ERR_NOT_EMPTY: sg_status = 3;
pub const SG_ERR_WRONG_KIND: sg_status = 4;
pub const SG_ERR_NO_SPACE: sg_status = 5;
pub const SG_ERR_IO: sg_status = 6;
pub const SG_ERR_NO_MEMORY: sg_status = 7;
pub const SG_ERR_INVALID: sg_status = 8;
pub const SG_ERR_UNAVAILABLE: sg_status = 9;

pub const SG_LOG_INFO: sg_log_level = 0;
pub const SG_LOG_WARNING: sg_log_level = 1;
pub const SG_LOG_ERROR: sg_log_level = 2;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sg_bytes {
    pub ptr: *const u8,
    pub len: usize,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct sg_rtc_time {
    pub year: u32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub microsecond: u32,
}

pub type sg_attribute_fn = unsafe extern "C" fn(
    ctx: *mut c_void,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
);

pub type sg_dirent_fn =
    unsafe extern "C" fn(ctx: *mut c_void, name: *const c_char, name_len: usize, is_dir: c_int);

extern "C" {
    pub fn sg_log(level: sg_log_level, msg: *const c_char, len: usize);
    pub fn sg_exit(code: c_int) -> !;
    pub fn sg_alloc(size: usize) -> *mut c_void;
    pub fn sg_free(ptr: *mut c_void, size: usize);
    pub fn sg_config_attributes(ctx: *mut c_void, f: sg_attribute_fn) -> sg_status;
    pub fn sg_vfs_init() -> sg_status;
    pub fn sg_vfs_create_dir(path: *const c_char, path_len: usize) -> sg_status;
    pub fn sg_vfs_write_new(
        path: *const c_char,
        path_len: usize,
        parts: *const sg_bytes,
        num_parts: usize,
    ) -> sg_status;
    pub fn sg_vfs_write_at(
        path: *const c_char,
        path_len: usize,
        offset: u64,
        parts: *const sg_bytes,
        num_parts: usize,
    ) -> sg_status;
    pub fn sg_vfs_read_at(
        path: *const c_char,
        path_len: usize,
        offset: u64,
        buf: *mut u8,
        len: usize,
        out_read: *mut usize,
    ) -> sg_status;
    pub fn sg_vfs_file_size(path: *const c_char, path_len: usize, out_size: *mut u64) -> sg_status;
    pub fn sg_vfs_list_dir(
        path: *const c_char,
        path_len: usize,
        ctx: *mut c_void,
        f: sg_dirent_fn,
    ) -> sg_status;
    pub fn sg_vfs_remove(path: *const c_char, path_len: usize) -> sg_status;
    pub fn sg_vfs_rename(
        from: *const c_char,
        from_len: usize,
        to: *const c_char,
        to_len: usize,
    ) -> sg_status;
    pub fn sg_vfs_sync() -> sg_status;
    pub fn sg_rtc_now(out: *mut sg_rtc_time) -> sg_status;
    pub fn sg_timer_elapsed_us() -> u64;
    pub fn sg_timer_sleep_us(us: u64);
}
