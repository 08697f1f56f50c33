//! The wire format of the batched calls `take_batch` and `restore_batch`
//! (doc/GENODE.md, "Batched calls"), its validating decoder and an encoder.
//!
//! The format lives in the session's shared buffer. Little-endian, every
//! field at a fixed offset:
//!
//! - header, 32 bytes at offset 0: magic `SNPB`, version 1, kind, record
//!   count, offset of the record table, and (in a reply) records done,
//!   index of the failed record and its result;
//! - record table, `count` records of 24 bytes at `table_offset` (8-byte
//!   aligned): id, payload offset, payload size, flags, result;
//! - payloads at 8-byte aligned offsets, in table order, overlapping
//!   neither the header, the table nor each other.
//!
//! Every count, size and offset from the client is checked against the
//! buffer before a slice is made; [`decode_take`] and [`decode_restore`]
//! reject a malformed batch as a whole (nothing of it reaches the engine)
//! and never panic.

use alloc::vec::Vec;

/// `SNPB` read as a little-endian `u32`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"SNPB");
/// The only version so far.
pub const VERSION: u16 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 32;
/// Bytes of one record of the table.
pub const RECORD_LEN: usize = 24;
/// Alignment of the table and of every payload: pages copied to and from
/// aligned addresses, record fields readable as aligned words in C++; it
/// costs at most 7 bytes per record.
pub const ALIGN: usize = 8;
/// "No record" in the reply's `failed` field, and the result of a restore
/// record the server did not reach.
pub const NONE: u32 = u32::MAX;

/// Kind of a batch request.
pub const KIND_TAKE: u16 = 1;
/// Kind of a batch request.
pub const KIND_RESTORE: u16 = 2;
/// The server's reply sets this bit in the kind.
pub const KIND_REPLY: u16 = 0x8000;

bitflags::bitflags! {
    /// Flags of a take record. No "last record" flag: the header's count
    /// ends the batch. Restore records carry no flags.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RecordFlags: u32 {
        /// The object is unchanged since the generation this one builds on:
        /// no payload (size and offset 0), linked to the base's copy
        /// without being read or hashed (`Snapper::take_unchanged`). An id
        /// the base lacks fails with NoMatches.
        const HINT = 1;
    }
}

/// Why a batch was refused before anything of it was acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The buffer is shorter than the header.
    TooShort,
    /// Not `SNPB`.
    Magic,
    /// A version this server does not know.
    Version,
    /// The kind does not match the call.
    Kind,
    /// A reply field or reserved field of the request is not zero.
    Reserved,
    /// Zero records: nothing to act on (answered NoData, not MalformedBatch).
    Empty,
    /// The table does not fit the buffer (count too large) or overlaps the
    /// header.
    Table,
    /// The table is not 8-byte aligned.
    TableMisaligned,
    /// Record `n` has unknown flags.
    Flags(u32),
    /// Record `n` of a restore, or a hint, has a non-zero offset or size,
    /// or a non-zero result.
    RecordFields(u32),
    /// Record `n`'s payload is not 8-byte aligned.
    Misaligned(u32),
    /// Record `n`'s payload runs past the buffer or into the header.
    Overrun(u32),
    /// Record `n`'s payload overlaps the table or an earlier payload.
    Overlap(u32),
}

impl Malformed {
    /// The record at fault, if one is.
    pub fn record(self) -> Option<u32> {
        match self {
            Malformed::Flags(n)
            | Malformed::RecordFields(n)
            | Malformed::Misaligned(n)
            | Malformed::Overrun(n)
            | Malformed::Overlap(n) => Some(n),
            _ => None,
        }
    }

    /// The session's answer to it.
    pub fn reply(self) -> crate::session::Reply {
        match self {
            Malformed::Empty => crate::session::Reply::NoData,
            _ => crate::session::Reply::MalformedBatch,
        }
    }
}

/// One record of a decoded take batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TakeRecord<'a> {
    /// Object id.
    pub id: u64,
    /// HINT or not.
    pub flags: RecordFlags,
    /// The payload (empty for a hint).
    pub payload: &'a [u8],
}

/// One record of the table, as on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Object id.
    pub id: u64,
    /// Payload offset in the buffer.
    pub offset: u32,
    /// Payload size.
    pub size: u32,
    /// [`RecordFlags`] bits.
    pub flags: u32,
    /// Reply: the record's result (`Snapper::Result`), [`NONE`] if not
    /// reached. Request: 0.
    pub result: u32,
}

/// The header, as on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: u32,
    /// [`VERSION`].
    pub version: u16,
    /// [`KIND_TAKE`] or [`KIND_RESTORE`], with [`KIND_REPLY`] in a reply.
    pub kind: u16,
    /// Records in the table.
    pub count: u32,
    /// Offset of the table.
    pub table_offset: u32,
    /// Reply: records done (taken, or restored into the buffer).
    pub done: u32,
    /// Reply: index of the record that failed, [`NONE`] if none did.
    pub failed: u32,
    /// Reply: that record's result, or the batch's (MalformedBatch).
    pub result: u32,
    /// Zero.
    pub reserved: u32,
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(bytes.try_into().ok()?))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    let bytes = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> bool {
    match at
        .checked_add(bytes.len())
        .and_then(|end| buf.get_mut(at..end))
    {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

/// `n` rounded up to [`ALIGN`]; `None` on overflow.
pub fn align_up(n: usize) -> Option<usize> {
    Some(n.checked_add(ALIGN - 1)? & !(ALIGN - 1))
}

impl Header {
    /// Reads the header; `None` if the buffer is shorter.
    pub fn read(buf: &[u8]) -> Option<Header> {
        Some(Header {
            magic: u32_at(buf, 0)?,
            version: u16_at(buf, 4)?,
            kind: u16_at(buf, 6)?,
            count: u32_at(buf, 8)?,
            table_offset: u32_at(buf, 12)?,
            done: u32_at(buf, 16)?,
            failed: u32_at(buf, 20)?,
            result: u32_at(buf, 24)?,
            reserved: u32_at(buf, 28)?,
        })
    }

    /// Writes the header; false if the buffer is shorter.
    pub fn write(&self, buf: &mut [u8]) -> bool {
        let mut bytes = [0u8; HEADER_LEN];
        let fields: [(usize, &[u8]); 9] = [
            (0, &self.magic.to_le_bytes()),
            (4, &self.version.to_le_bytes()),
            (6, &self.kind.to_le_bytes()),
            (8, &self.count.to_le_bytes()),
            (12, &self.table_offset.to_le_bytes()),
            (16, &self.done.to_le_bytes()),
            (20, &self.failed.to_le_bytes()),
            (24, &self.result.to_le_bytes()),
            (28, &self.reserved.to_le_bytes()),
        ];
        for (at, field) in fields {
            put(&mut bytes, at, field);
        }
        put(buf, 0, &bytes)
    }

    /// A request header.
    pub fn request(kind: u16, count: u32, table_offset: u32) -> Header {
        Header {
            magic: MAGIC,
            version: VERSION,
            kind,
            count,
            table_offset,
            ..Header::default()
        }
    }
}

impl Record {
    /// Reads the record at byte offset `at`.
    pub fn read(buf: &[u8], at: usize) -> Option<Record> {
        Some(Record {
            id: u64_at(buf, at)?,
            offset: u32_at(buf, at.checked_add(8)?)?,
            size: u32_at(buf, at.checked_add(12)?)?,
            flags: u32_at(buf, at.checked_add(16)?)?,
            result: u32_at(buf, at.checked_add(20)?)?,
        })
    }

    /// Writes the record at byte offset `at`; false if it does not fit.
    pub fn write(&self, buf: &mut [u8], at: usize) -> bool {
        let mut bytes = [0u8; RECORD_LEN];
        put(&mut bytes, 0, &self.id.to_le_bytes());
        put(&mut bytes, 8, &self.offset.to_le_bytes());
        put(&mut bytes, 12, &self.size.to_le_bytes());
        put(&mut bytes, 16, &self.flags.to_le_bytes());
        put(&mut bytes, 20, &self.result.to_le_bytes());
        put(buf, at, &bytes)
    }
}

/// The checked header of a request: the table lies within the buffer.
struct Table {
    count: u32,
    start: usize,
    end: usize,
}

fn table(buf: &[u8], kind: u16) -> Result<Table, Malformed> {
    let h = Header::read(buf).ok_or(Malformed::TooShort)?;
    if h.magic != MAGIC {
        return Err(Malformed::Magic);
    }
    if h.version != VERSION {
        return Err(Malformed::Version);
    }
    if h.kind != kind {
        return Err(Malformed::Kind);
    }
    if h.done != 0 || h.failed != 0 || h.result != 0 || h.reserved != 0 {
        return Err(Malformed::Reserved);
    }
    if h.count == 0 {
        return Err(Malformed::Empty);
    }
    let start = usize::try_from(h.table_offset).map_err(|_| Malformed::Table)?;
    if !start.is_multiple_of(ALIGN) {
        return Err(Malformed::TableMisaligned);
    }
    let end = usize::try_from(h.count)
        .ok()
        .and_then(|n| n.checked_mul(RECORD_LEN))
        .and_then(|len| start.checked_add(len))
        .ok_or(Malformed::Table)?;
    if start < HEADER_LEN || end > buf.len() {
        return Err(Malformed::Table);
    }
    Ok(Table {
        count: h.count,
        start,
        end,
    })
}

/// Decodes a take request, checking all of it before returning any of it:
/// a malformed record makes the whole batch malformed.
pub fn decode_take(buf: &[u8]) -> Result<Vec<TakeRecord<'_>>, Malformed> {
    let t = table(buf, KIND_TAKE)?;
    let mut records = Vec::new();
    // the table fits the buffer, so `count` records of 24 bytes exist
    records
        .try_reserve_exact(t.count as usize)
        .map_err(|_| Malformed::Table)?;
    // payloads in table order, each after the previous one
    let mut previous_end = HEADER_LEN;
    for n in 0..t.count {
        let at = t.start + n as usize * RECORD_LEN;
        let r = Record::read(buf, at).ok_or(Malformed::Table)?;
        let flags = RecordFlags::from_bits(r.flags).ok_or(Malformed::Flags(n))?;
        if r.result != 0 {
            return Err(Malformed::RecordFields(n));
        }
        if flags.contains(RecordFlags::HINT) {
            if r.offset != 0 || r.size != 0 {
                return Err(Malformed::RecordFields(n));
            }
            records.push(TakeRecord {
                id: r.id,
                flags,
                payload: &[],
            });
            continue;
        }
        let offset = r.offset as usize;
        if !offset.is_multiple_of(ALIGN) {
            return Err(Malformed::Misaligned(n));
        }
        let end = offset
            .checked_add(r.size as usize)
            .ok_or(Malformed::Overrun(n))?;
        if offset < HEADER_LEN || end > buf.len() {
            return Err(Malformed::Overrun(n));
        }
        let clear_of_table = end <= t.start || offset >= t.end;
        if !clear_of_table || offset < previous_end {
            return Err(Malformed::Overlap(n));
        }
        previous_end = end;
        let payload = buf.get(offset..end).ok_or(Malformed::Overrun(n))?;
        records.push(TakeRecord {
            id: r.id,
            flags,
            payload,
        });
    }
    Ok(records)
}

/// Decodes a restore request: the ids, in table order. Restore records
/// carry only an id; every other field must be zero.
pub fn decode_restore(buf: &[u8]) -> Result<Vec<u64>, Malformed> {
    let t = table(buf, KIND_RESTORE)?;
    let mut ids = Vec::new();
    ids.try_reserve_exact(t.count as usize)
        .map_err(|_| Malformed::Table)?;
    for n in 0..t.count {
        let at = t.start + n as usize * RECORD_LEN;
        let r = Record::read(buf, at).ok_or(Malformed::Table)?;
        if RecordFlags::from_bits(r.flags).is_none() {
            return Err(Malformed::Flags(n));
        }
        if r.flags != 0 || r.offset != 0 || r.size != 0 || r.result != 0 {
            return Err(Malformed::RecordFields(n));
        }
        ids.push(r.id);
    }
    Ok(ids)
}

/// Builds a take request in a buffer: payloads from the header on, the
/// table after the last payload (so no count is needed up front and
/// nothing is moved); [`TakeWriter::finish`] writes table and header.
#[derive(Debug)]
pub struct TakeWriter {
    records: Vec<Record>,
    /// Where the next payload goes.
    cursor: usize,
    len: usize,
}

impl TakeWriter {
    /// An empty batch for a buffer of `len` bytes.
    pub fn new(len: usize) -> TakeWriter {
        TakeWriter {
            records: Vec::new(),
            cursor: HEADER_LEN,
            len,
        }
    }

    /// Records so far.
    pub fn count(&self) -> usize {
        self.records.len()
    }

    /// Whether a record of `size` payload bytes fits besides those so far.
    pub fn fits(&self, size: usize) -> bool {
        self.end_with(size).is_some_and(|end| end <= self.len)
    }

    /// Whether a record of `size` bytes fits into an empty batch.
    pub fn fits_alone(len: usize, size: usize) -> bool {
        TakeWriter::new(len).fits(size)
    }

    /// Buffer bytes the batch needs with one more record of `size` bytes.
    fn end_with(&self, size: usize) -> Option<usize> {
        let payload_end = align_up(self.cursor.checked_add(size)?)?;
        let table = self.records.len().checked_add(1)?.checked_mul(RECORD_LEN)?;
        payload_end.checked_add(table)
    }

    /// Appends object `id`; false (nothing written) if it does not fit.
    pub fn push(&mut self, buf: &mut [u8], id: u64, payload: &[u8]) -> bool {
        let (Ok(offset), Ok(size)) = (u32::try_from(self.cursor), u32::try_from(payload.len()))
        else {
            return false;
        };
        if !self.fits(payload.len()) || !put(buf, self.cursor, payload) {
            return false;
        }
        self.records.push(Record {
            id,
            offset,
            size,
            flags: 0,
            result: 0,
        });
        // `fits` checked the aligned end against the buffer
        self.cursor = align_up(self.cursor + payload.len()).unwrap_or(self.len);
        true
    }

    /// Appends a hint for `id`; false if the table is full.
    pub fn hint(&mut self, id: u64) -> bool {
        if !self.fits(0) {
            return false;
        }
        self.records.push(Record {
            id,
            flags: RecordFlags::HINT.bits(),
            ..Record::default()
        });
        true
    }

    /// The ids so far, in order.
    pub fn id(&self, n: usize) -> Option<u64> {
        self.records.get(n).map(|r| r.id)
    }

    /// Writes table and header; false if the buffer is not the one sized
    /// in [`TakeWriter::new`].
    pub fn finish(&self, buf: &mut [u8]) -> bool {
        let start = self.cursor;
        let Ok(table_offset) = u32::try_from(start) else {
            return false;
        };
        for (n, record) in self.records.iter().enumerate() {
            if !record.write(buf, start + n * RECORD_LEN) {
                return false;
            }
        }
        let count = self.records.len() as u32;
        Header::request(KIND_TAKE, count, table_offset).write(buf)
    }

    /// Empties the batch.
    pub fn clear(&mut self) {
        self.records.clear();
        self.cursor = HEADER_LEN;
    }
}

/// Writes a restore request for `ids` (table right after the header);
/// false if they do not fit.
pub fn write_restore(buf: &mut [u8], ids: &[u64]) -> bool {
    let Ok(count) = u32::try_from(ids.len()) else {
        return false;
    };
    for (n, id) in ids.iter().enumerate() {
        let record = Record {
            id: *id,
            ..Record::default()
        };
        let Some(at) = n
            .checked_mul(RECORD_LEN)
            .and_then(|o| o.checked_add(HEADER_LEN))
        else {
            return false;
        };
        if !record.write(buf, at) {
            return false;
        }
    }
    Header::request(KIND_RESTORE, count, HEADER_LEN as u32).write(buf)
}

/// Ids of a restore request that fit a buffer of `len` bytes.
pub fn restore_capacity(len: usize) -> usize {
    len.saturating_sub(HEADER_LEN) / RECORD_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_output_decodes() {
        let mut buf = [0u8; 256];
        let mut w = TakeWriter::new(buf.len());
        assert!(w.push(&mut buf, 7, b"abc"));
        assert!(w.hint(8));
        assert!(w.push(&mut buf, 9, b""));
        assert!(w.finish(&mut buf));
        let records = decode_take(&buf).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].payload, b"abc");
        assert_eq!(records[1].flags, RecordFlags::HINT);
        assert_eq!(records[2].id, 9);
    }

    #[test]
    fn writer_stops_at_the_buffer() {
        let mut buf = [0u8; HEADER_LEN + 8 + RECORD_LEN];
        let mut w = TakeWriter::new(buf.len());
        assert!(w.push(&mut buf, 1, b"12345678"));
        assert!(!w.push(&mut buf, 2, b""));
        assert!(!w.hint(3));
        assert!(w.finish(&mut buf));
        assert_eq!(decode_take(&buf).unwrap().len(), 1);
    }

    #[test]
    fn restore_request_decodes() {
        let mut buf = [0u8; 128];
        assert!(write_restore(&mut buf, &[1, 2, 3]));
        assert_eq!(decode_restore(&buf).unwrap(), [1, 2, 3]);
        assert!(!write_restore(&mut buf, &[0; 5]));
        assert_eq!(restore_capacity(128), 4);
    }
}
