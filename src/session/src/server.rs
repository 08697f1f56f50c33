//! Serving the `Snapper` session: the shim owns Genode's root and session
//! components and calls a [`Handler`] for each RPC.

use alloc::boxed::Box;
use core::ffi::{c_char, c_void};

use crate::batch::{self, Header, Record, RecordFlags};
use crate::session::Reply;
use crate::sys;
use genode::Error;

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
    /// A HINT record of `take_batch`: object `id` is unchanged since the
    /// generation this one builds on; link it without its payload. An id
    /// the base lacks answers NoMatches, nothing stored.
    fn take_unchanged(&mut self, session: SessionId, id: u64) -> Reply;
    /// A record of `restore_batch`: as [`Handler::restore`] into `buf`,
    /// answering the object's size.
    fn restore_sized(
        &mut self,
        session: SessionId,
        id: u64,
        buf: &mut [u8],
    ) -> Result<usize, Reply>;
}

/// What a batch came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outcome {
    done: u32,
    /// The record that failed and its result.
    failed: Option<(u32, Reply)>,
}

impl Outcome {
    fn reply(self) -> Reply {
        self.failed.map_or(Reply::Ok, |(_, r)| r)
    }

    fn header(self, kind: u16, count: u32, table_offset: u32) -> Header {
        Header {
            magic: batch::MAGIC,
            version: batch::VERSION,
            kind: kind | batch::KIND_REPLY,
            count,
            table_offset,
            done: self.done,
            failed: self.failed.map_or(batch::NONE, |(n, _)| n),
            result: self.reply().code(),
            reserved: 0,
        }
    }
}

/// Answers a malformed batch: the reply header names the record at fault,
/// if one is, and the result. Nothing was acted on.
fn refuse(buf: &mut [u8], kind: u16, why: batch::Malformed) -> Reply {
    let reply = why.reply();
    let header = Header {
        magic: batch::MAGIC,
        version: batch::VERSION,
        kind: kind | batch::KIND_REPLY,
        failed: why.record().unwrap_or(batch::NONE),
        result: reply.code(),
        ..Header::default()
    };
    // a buffer shorter than the header gets only the RPC's result
    header.write(buf);
    reply
}

/// `take_batch`: validates the whole batch, then takes its records in
/// order and stops at the first that fails. Records before it are taken;
/// it and the later ones are not (the engine stores nothing of a failed
/// take). The reply header says how many were taken and which failed.
pub fn take_batch<H: Handler>(handler: &mut H, session: SessionId, buf: &mut [u8]) -> Reply {
    let (outcome, count, table_offset) = {
        let records = match batch::decode_take(buf) {
            Ok(records) => records,
            Err(why) => return refuse(buf, batch::KIND_TAKE, why),
        };
        let mut outcome = Outcome {
            done: 0,
            failed: None,
        };
        for (n, record) in records.iter().enumerate() {
            let reply = if record.flags.contains(RecordFlags::HINT) {
                handler.take_unchanged(session, record.id)
            } else {
                handler.take_snapshot(session, record.id, record.payload)
            };
            if reply != Reply::Ok {
                // n < count, which is a u32
                outcome.failed = Some((n as u32, reply));
                break;
            }
            outcome.done += 1;
        }
        let header = Header::read(buf).unwrap_or_default();
        (outcome, header.count, header.table_offset)
    };
    outcome
        .header(batch::KIND_TAKE, count, table_offset)
        .write(buf);
    outcome.reply()
}

/// `restore_batch`: validates the list of ids, then packs their payloads
/// into the buffer (table right after the header, payloads 8-byte aligned
/// after it) in order until the next does not fit or one fails. The reply
/// header says how many were restored and which failed; each record of the
/// table its offset, size and result (`NONE` for records not reached).
pub fn restore_batch<H: Handler>(handler: &mut H, session: SessionId, buf: &mut [u8]) -> Reply {
    let ids = match batch::decode_restore(buf) {
        Ok(ids) => ids,
        Err(why) => return refuse(buf, batch::KIND_RESTORE, why),
    };
    // decode_restore checked that the table fits at an offset >= the
    // header's length, so it fits right after the header too
    let table_end = batch::HEADER_LEN + ids.len() * batch::RECORD_LEN;
    let mut cursor = batch::align_up(table_end).unwrap_or(usize::MAX);
    let mut outcome = Outcome {
        done: 0,
        failed: None,
    };
    let mut records = alloc::vec::Vec::with_capacity(ids.len());
    for (n, &id) in ids.iter().enumerate() {
        if outcome.failed.is_some() || (outcome.done as usize) < n {
            records.push(Record {
                id,
                result: batch::NONE,
                ..Record::default()
            });
            continue;
        }
        let free = buf.get_mut(cursor..).unwrap_or_default();
        match (
            handler.restore_sized(session, id, free),
            u32::try_from(cursor),
        ) {
            (Ok(size), Ok(offset)) => {
                records.push(Record {
                    id,
                    offset,
                    size: size as u32,
                    ..Record::default()
                });
                outcome.done += 1;
                cursor = cursor
                    .checked_add(size)
                    .and_then(batch::align_up)
                    .unwrap_or(usize::MAX);
            }
            // out of room: not a failure, the client asks again from here
            (Err(Reply::BufferTooSmall), _) if n > 0 => records.push(Record {
                id,
                result: batch::NONE,
                ..Record::default()
            }),
            (Err(reply), _) => {
                outcome.failed = Some((n as u32, reply));
                records.push(Record {
                    id,
                    result: reply.code(),
                    ..Record::default()
                });
            }
            // a buffer over 4 GiB: Config keeps bufsize below that
            (Ok(_), Err(_)) => {
                outcome.failed = Some((n as u32, Reply::BufferTooSmall));
                records.push(Record {
                    id,
                    result: Reply::BufferTooSmall.code(),
                    ..Record::default()
                });
            }
        }
    }
    for (n, record) in records.iter().enumerate() {
        record.write(buf, batch::HEADER_LEN + n * batch::RECORD_LEN);
    }
    outcome
        .header(
            batch::KIND_RESTORE,
            ids.len() as u32,
            batch::HEADER_LEN as u32,
        )
        .write(buf);
    outcome.reply()
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

/// # Safety
/// `buf` valid for `buf_len` bytes (or null), not otherwise borrowed.
unsafe fn buffer<'a>(buf: *mut u8, buf_len: usize) -> &'a mut [u8] {
    if buf.is_null() || buf_len == 0 {
        &mut []
    } else {
        // SAFETY: per the contract: the shim passes the session's buffer.
        unsafe { core::slice::from_raw_parts_mut(buf, buf_len) }
    }
}

/// The `extern "C"` functions the shim calls for each RPC, one per field of
/// [`sys::sg_session_ops`], and [`trampolines::session_ops`], which fills
/// that table for a handler type. Each gets `ctx` and the session number
/// and hands its body the handler as `$h` and the [`SessionId`] as `$s`.
macro_rules! trampolines {
    ($(
        fn $rpc:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = |$h:ident, $s:ident| $body:expr;
    )*) => {
        mod trampolines {
            use super::*;

            $(
                unsafe extern "C" fn $rpc<H: Handler>(
                    ctx: *mut c_void,
                    s: u64,
                    $($arg: $ty),*
                ) $(-> $ret)? {
                    // SAFETY: the shim passes the `ctx` that `serve`
                    // registered with these functions for `H`.
                    let $h = unsafe { handler::<H>(ctx) };
                    let $s = SessionId(s);
                    $body
                }
            )*

            /// The table of trampolines for handler type `H` at `ctx`.
            pub(super) fn session_ops<H: Handler>(ctx: *mut c_void) -> sys::sg_session_ops {
                sys::sg_session_ops { ctx, $($rpc: $rpc::<H>),* }
            }
        }
    };
}

trampolines! {
    fn init_snapshot() -> u32 = |h, s| h.init_snapshot(s).code();

    fn take_snapshot(buf: *const u8, buf_len: usize, size: usize, id: u64) -> u32 = |h, s| {
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
        h.take_snapshot(s, id, payload).code()
    };

    fn commit_snapshot() -> u32 = |h, s| h.commit_snapshot(s).code();

    fn open_generation(n: *const c_char, len: usize) -> u32 = |h, s| {
        // SAFETY: the shim passes the name's bytes and their count.
        h.open_generation(s, unsafe { name(n, len) }).code()
    };

    fn restore(buf: *mut u8, buf_len: usize, size: usize, id: u64) -> u32 = |h, s| {
        // A client may ask for more than the buffer holds; it gets at most
        // the buffer (its client side copies no more than that either).
        let len = size.min(buf_len);
        // SAFETY: the shim passes the session's buffer of `buf_len` bytes.
        h.restore(s, id, unsafe { buffer(buf, len) }).code()
    };

    fn close_generation() -> u32 = |h, s| h.close_generation(s).code();

    fn purge(n: *const c_char, len: usize) -> u32 = |h, s| {
        // SAFETY: the shim passes the name's bytes and their count.
        h.purge(s, unsafe { name(n, len) }).code()
    };

    fn purge_expired() -> u32 = |h, s| h.purge_expired(s).code();

    fn purge_zombies() -> u32 = |h, s| h.purge_zombies(s).code();

    fn session_closed() = |h, s| h.session_closed(s);

    fn take_batch(buf: *mut u8, buf_len: usize) -> u32 = |h, s| {
        // SAFETY: the shim passes the session's buffer of `buf_len` bytes.
        super::take_batch(h, s, unsafe { buffer(buf, buf_len) }).code()
    };

    fn restore_batch(buf: *mut u8, buf_len: usize) -> u32 = |h, s| {
        // SAFETY: the shim passes the session's buffer of `buf_len` bytes.
        super::restore_batch(h, s, unsafe { buffer(buf, buf_len) }).code()
    };
}

/// Announces the `Snapper` service; each session gets a buffer of `bufsize`
/// bytes. The handler lives as long as the component (it is leaked: the
/// shim keeps calling it until the component ends).
pub fn serve<H: Handler + 'static>(handler: H, bufsize: usize) -> Result<(), Error> {
    let ctx = Box::into_raw(Box::new(handler)).cast::<c_void>();
    let ops = Box::leak(Box::new(trampolines::session_ops::<H>(ctx)));
    // SAFETY: `ops` and `ctx` are leaked, hence valid forever.
    let status = unsafe { sys::sg_serve(ops, bufsize) };
    if status != genode::sys::SG_OK {
        // SAFETY: the shim refused, so nothing holds the pointers; reclaim.
        unsafe {
            let ops = Box::from_raw(ops as *mut sys::sg_session_ops);
            drop(Box::from_raw(ops.ctx.cast::<H>()));
        }
    }
    Error::check(status)
}
