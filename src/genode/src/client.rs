//! A Rust client of the `Snapper` session, the counterpart of
//! `include/snapper_session/client.h`: same calls, same checks.

use core::ptr;

use crate::session::Reply;
use crate::{sys, Error};

/// The component's one `Snapper` session.
#[derive(Debug)]
pub struct Client {
    buf: *mut u8,
    len: usize,
}

impl Client {
    /// Opens the session (the shim routes it per the component's config).
    pub fn open() -> Result<Client, Error> {
        let mut buf = ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: out-pointers valid for the call.
        unsafe {
            Error::check(sys::sg_client_open())?;
            Error::check(sys::sg_client_buffer(&mut buf, &mut len))?;
        }
        if buf.is_null() && len != 0 {
            return Err(Error::Io);
        }
        Ok(Client { buf, len })
    }

    /// Size of the shared buffer: the largest payload the server takes.
    pub fn buffer_size(&self) -> usize {
        self.len
    }

    fn call(&mut self, rpc: sys::sg_rpc, size: usize, id: u64, name: &str) -> Reply {
        // SAFETY: `name` is a live `str`; the buffer is not borrowed across
        // the call, so the server may write it.
        Reply::from_code(unsafe {
            sys::sg_client_call(rpc, size, id, name.as_ptr().cast(), name.len())
        })
    }

    /// Begins a generation.
    pub fn init_snapshot(&mut self) -> Reply {
        self.call(sys::SG_RPC_INIT_SNAPSHOT, 0, 0, "")
    }

    /// Stores `payload` as object `id`; refused locally if larger than the
    /// buffer, before anything is copied.
    pub fn take_snapshot(&mut self, id: u64, payload: &[u8]) -> Reply {
        if payload.len() > self.len {
            return Reply::PayloadTooLarge;
        }
        if !payload.is_empty() {
            // SAFETY: the buffer holds `self.len` >= `payload.len()` bytes
            // and no reference to it exists.
            unsafe { ptr::copy_nonoverlapping(payload.as_ptr(), self.buf, payload.len()) };
        }
        self.call(sys::SG_RPC_TAKE_SNAPSHOT, payload.len(), id, "")
    }

    /// Stores the first `size` bytes already in the shared buffer as object
    /// `id` (for clients that build the payload in place; the C++ client's
    /// `_take_snapshot`). The server checks `size` against the buffer.
    pub fn take_snapshot_in_place(&mut self, id: u64, size: usize) -> Reply {
        self.call(sys::SG_RPC_TAKE_SNAPSHOT, size, id, "")
    }

    /// Commits the generation.
    pub fn commit_snapshot(&mut self) -> Reply {
        self.call(sys::SG_RPC_COMMIT_SNAPSHOT, 0, 0, "")
    }

    /// Opens a generation for restoring (`None` = latest).
    pub fn open_generation(&mut self, name: Option<&str>) -> Reply {
        self.call(sys::SG_RPC_OPEN_GENERATION, 0, 0, name.unwrap_or(""))
    }

    /// Copies object `id` into `out`, at most `out.len()` bytes (and at most
    /// the buffer size).
    pub fn restore(&mut self, id: u64, out: &mut [u8]) -> Reply {
        let reply = self.call(sys::SG_RPC_RESTORE, out.len(), id, "");
        if reply == Reply::Ok {
            let n = out.len().min(self.len);
            if n > 0 {
                // SAFETY: the buffer holds at least `n` bytes; the server's
                // writes are complete when the call has returned.
                unsafe { ptr::copy_nonoverlapping(self.buf, out.as_mut_ptr(), n) };
            }
        }
        reply
    }

    /// Ends restoring.
    pub fn close_generation(&mut self) -> Reply {
        self.call(sys::SG_RPC_CLOSE_GENERATION, 0, 0, "")
    }

    /// Purges a generation (`None` = oldest).
    pub fn purge(&mut self, name: Option<&str>) -> Reply {
        self.call(sys::SG_RPC_PURGE, 0, 0, name.unwrap_or(""))
    }

    /// Purges expired generations.
    pub fn purge_expired(&mut self) -> Reply {
        self.call(sys::SG_RPC_PURGE_EXPIRED, 0, 0, "")
    }

    /// Deletes unreferenced files.
    pub fn purge_zombies(&mut self) -> Reply {
        self.call(sys::SG_RPC_PURGE_ZOMBIES, 0, 0, "")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // SAFETY: no arguments; the buffer pointer is not used afterwards.
        unsafe { sys::sg_client_close() }
    }
}
