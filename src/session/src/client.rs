//! A Rust client of the `Snapper` session, the counterpart of
//! `include/snapper_session/client.h`: same calls, same checks.

use alloc::vec::Vec;
use core::ptr;

use crate::batch::{self, Header, Record, TakeWriter};
use crate::session::Reply;
use crate::sys;
use genode::Error;

/// What a batched call came to: the RPC's result, and from the reply
/// header the records done and the one that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchReply {
    /// Ok, the failed record's result, or MalformedBatch/NoData for the
    /// batch as a whole.
    pub result: Reply,
    /// Records taken, or restored into the buffer.
    pub done: u32,
    /// Index of the record that failed (with `result`), if one did.
    pub failed: Option<u32>,
}

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

    /// The shared buffer, to build a batch in place ([`crate::batch`]).
    /// The borrow ends before the next call, so the server never writes it
    /// while it is borrowed.
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        if self.buf.is_null() || self.len == 0 {
            return &mut [];
        }
        // SAFETY: the buffer holds `self.len` bytes for the session's
        // lifetime; `&mut self` keeps other borrows and calls out.
        unsafe { core::slice::from_raw_parts_mut(self.buf, self.len) }
    }

    fn batch_reply(&mut self, result: Reply) -> BatchReply {
        let header = Header::read(self.buffer_mut()).unwrap_or_default();
        let is_reply = header.magic == batch::MAGIC && header.kind & batch::KIND_REPLY != 0;
        BatchReply {
            result,
            done: if is_reply { header.done } else { 0 },
            failed: (is_reply && header.failed != batch::NONE).then_some(header.failed),
        }
    }

    /// `take_batch`: takes the batch already in the shared buffer (see
    /// [`crate::batch::TakeWriter`], or [`Client::batch`] for the builder).
    /// The records before the failed one are taken; it and the later ones
    /// are not.
    pub fn take_batch(&mut self) -> BatchReply {
        let result = self.call(sys::SG_RPC_TAKE_BATCH, 0, 0, "");
        self.batch_reply(result)
    }

    /// `restore_batch`: restores the ids of the request already in the
    /// shared buffer ([`crate::batch::write_restore`]); the payloads are
    /// then in the buffer as the reply's table says
    /// ([`Client::restored`]).
    pub fn restore_batch(&mut self) -> BatchReply {
        let result = self.call(sys::SG_RPC_RESTORE_BATCH, 0, 0, "");
        self.batch_reply(result)
    }

    /// Record `n` of a restore reply in the buffer and its payload; `None`
    /// if the table or the payload lies outside the buffer.
    pub fn restored(&mut self, n: usize) -> Option<(Record, &[u8])> {
        let buf = self.buffer_mut();
        let at = n
            .checked_mul(batch::RECORD_LEN)?
            .checked_add(batch::HEADER_LEN)?;
        let record = Record::read(buf, at)?;
        let start = record.offset as usize;
        let payload = buf.get(start..start.checked_add(record.size as usize)?)?;
        Some((record, payload))
    }

    /// Restores every id of `ids` through as few `restore_batch` calls as
    /// the buffer allows, handing each object to `each` with its payload
    /// or its result. An object too large for a batch answers
    /// BufferTooSmall. Ends early, answering it, on a result that concerns
    /// the whole session (InvalidState, MalformedBatch, NoSession).
    pub fn restore_all(
        &mut self,
        ids: &[u64],
        mut each: impl FnMut(u64, Result<&[u8], Reply>),
    ) -> Reply {
        let capacity = batch::restore_capacity(self.len);
        let mut rest = ids;
        while !rest.is_empty() {
            // at most half the buffer for the table: the rest is payloads
            let n = rest.len().min((capacity / 2).max(1));
            let chunk = rest.get(..n).unwrap_or(rest);
            if !batch::write_restore(self.buffer_mut(), chunk) {
                return Reply::BufferTooSmall;
            }
            let reply = self.restore_batch();
            if matches!(
                reply.result,
                Reply::InvalidState | Reply::MalformedBatch | Reply::NoSession | Reply::NoData
            ) {
                return reply.result;
            }
            for k in 0..reply.done as usize {
                match self.restored(k) {
                    Some((record, payload)) => each(record.id, Ok(payload)),
                    None => return Reply::MalformedBatch,
                }
            }
            let mut next = reply.done as usize;
            if let Some(failed) = reply.failed {
                if let Some(id) = chunk.get(failed as usize) {
                    each(*id, Err(reply.result));
                }
                next = failed as usize + 1;
            }
            // progress is guaranteed: the first record is restored or fails
            rest = rest.get(next.max(1)..).unwrap_or_default();
        }
        Reply::Ok
    }

    /// A builder that packs `take`s and hints into the shared buffer and
    /// sends them with `take_batch` when the buffer is full (and on
    /// [`Batch::flush`]).
    pub fn batch(&mut self) -> Batch<'_> {
        let len = self.len;
        Batch {
            client: self,
            writer: TakeWriter::new(len),
        }
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

/// A `take_batch` that failed: the record `id` answered `reply`; it and
/// the `dropped` records queued after it in the same batch were not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchFailure {
    /// The record that failed.
    pub id: u64,
    /// Its result (or MalformedBatch/NoSession for the whole batch).
    pub reply: Reply,
    /// Records after it that were not taken.
    pub dropped: u32,
}

/// Batches takes and hints into the shared buffer ([`Client::batch`]).
/// Dropping it without [`Batch::flush`] discards what is queued.
#[derive(Debug)]
pub struct Batch<'c> {
    client: &'c mut Client,
    writer: TakeWriter,
}

impl Batch<'_> {
    /// Queues object `id`, flushing first if it does not fit. A payload
    /// too large for a batch but not for the buffer goes alone through
    /// `take_snapshot`; one larger than the buffer answers
    /// PayloadTooLarge, nothing sent.
    pub fn take(&mut self, id: u64, payload: &[u8]) -> Result<(), BatchFailure> {
        if payload.len() > self.client.len {
            return Err(BatchFailure {
                id,
                reply: Reply::PayloadTooLarge,
                dropped: 0,
            });
        }
        if !TakeWriter::fits_alone(self.client.len, payload.len()) {
            self.flush()?;
            return match self.client.take_snapshot(id, payload) {
                Reply::Ok => Ok(()),
                reply => Err(BatchFailure {
                    id,
                    reply,
                    dropped: 0,
                }),
            };
        }
        if !self.writer.fits(payload.len()) {
            self.flush()?;
        }
        if self.writer.push(self.client.buffer_mut(), id, payload) {
            Ok(())
        } else {
            Err(BatchFailure {
                id,
                reply: Reply::PayloadTooLarge,
                dropped: 0,
            })
        }
    }

    /// Queues a hint: `id` is unchanged since the generation this one
    /// builds on.
    pub fn hint(&mut self, id: u64) -> Result<(), BatchFailure> {
        if !self.writer.fits(0) {
            self.flush()?;
        }
        if self.writer.hint(id) {
            Ok(())
        } else {
            // a buffer too small for the header and one record
            Err(BatchFailure {
                id,
                reply: Reply::BufferTooSmall,
                dropped: 0,
            })
        }
    }

    /// Sends what is queued (nothing if nothing is).
    pub fn flush(&mut self) -> Result<(), BatchFailure> {
        let count = self.writer.count();
        if count == 0 {
            return Ok(());
        }
        let ids: Vec<u64> = (0..count).filter_map(|n| self.writer.id(n)).collect();
        let written = self.writer.finish(self.client.buffer_mut());
        self.writer.clear();
        let reply = if written {
            self.client.take_batch()
        } else {
            BatchReply {
                result: Reply::MalformedBatch,
                done: 0,
                failed: None,
            }
        };
        if reply.result == Reply::Ok && reply.done as usize == count {
            return Ok(());
        }
        let failed = reply.failed.unwrap_or(reply.done) as usize;
        Err(BatchFailure {
            id: ids.get(failed).copied().unwrap_or(0),
            reply: if reply.result == Reply::Ok {
                Reply::NoSession
            } else {
                reply.result
            },
            dropped: count.saturating_sub(failed + 1) as u32,
        })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // SAFETY: no arguments; the buffer pointer is not used afterwards.
        unsafe { sys::sg_client_close() }
    }
}
