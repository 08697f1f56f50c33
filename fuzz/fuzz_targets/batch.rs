//! Fuzz target: the batch decoders of snapper_session::batch (the bytes a
//! client puts into the shared buffer for take_batch/restore_batch).
//! Properties: no panic on any input; an accepted take batch's payloads lie
//! in the buffer, 8-byte aligned, clear of header and table, in order and
//! not overlapping; a hint has no payload; an accepted batch is not empty.
#![no_main]

use snapper_session::batch::{self, Header, RecordFlags};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(records) = batch::decode_take(data) {
        assert!(!records.is_empty());
        let header = Header::read(data).unwrap();
        let table = header.table_offset as usize..header.table_offset as usize
            + records.len() * batch::RECORD_LEN;
        assert!(table.end <= data.len());
        let mut previous_end = batch::HEADER_LEN;
        for r in &records {
            if r.flags.contains(RecordFlags::HINT) {
                assert!(r.payload.is_empty());
                continue;
            }
            let start = r.payload.as_ptr() as usize - data.as_ptr() as usize;
            let end = start + r.payload.len();
            assert_eq!(start % batch::ALIGN, 0);
            assert!(start >= previous_end && end <= data.len());
            assert!(end <= table.start || start >= table.end);
            previous_end = end;
        }
    }
    if let Ok(ids) = batch::decode_restore(data) {
        assert!(!ids.is_empty());
        assert!(batch::HEADER_LEN + ids.len() * batch::RECORD_LEN <= data.len());
    }
});
