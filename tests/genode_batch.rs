//! The batched calls (`take_batch`, `restore_batch`) through the host
//! implementation of the C ABI: every call, every malformed batch, each
//! answered with its result code and nothing of it stored (checked by
//! restoring afterwards).

use std::fs;
use std::path::PathBuf;

use genode_host as host;
use snapper_session::batch::{self, Header, Record, RecordFlags, TakeWriter};
use snapper_session::client::{BatchReply, Client};
use snapper_session::session::Reply;
use snapper_testkit::payload::payload;

const CONFIG: &str = r#"<config verbose="false" redundancy="0" max_snapshots="0"
    min_snapshots="0" bufsize="64K">
  <rtc/>
  <vfs> <fs/> </vfs>
</config>"#;

fn start(tag: &str) -> (Client, PathBuf) {
    let dir = std::env::temp_dir().join(format!("snapper-batch-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    host::install(CONFIG, &dir);
    snapper::start().unwrap();
    (Client::open().unwrap(), dir)
}

fn page(id: u64, generation: u32) -> Vec<u8> {
    payload(id, generation, 4096)
}

fn init(client: &mut Client) {
    assert!(matches!(
        client.init_snapshot(),
        Reply::Ok | Reply::NoPriorGen
    ));
}

/// The ids among `ids` the latest generation holds, with their bytes.
fn stored(client: &mut Client, ids: &[u64]) -> Vec<(u64, Vec<u8>)> {
    assert_eq!(client.open_generation(None), Reply::Ok);
    let mut out = Vec::new();
    for &id in ids {
        let mut buf = vec![0u8; 4096];
        match client.restore(id, &mut buf) {
            Reply::Ok => out.push((id, buf)),
            Reply::NoMatches => {}
            other => panic!("restore {id}: {other}"),
        }
    }
    assert_eq!(client.close_generation(), Reply::Ok);
    out
}

fn reply(result: Reply, done: u32, failed: Option<u32>) -> BatchReply {
    BatchReply {
        result,
        done,
        failed,
    }
}

#[test]
fn batched_take_hints_and_restore_round_trip_in_few_rpcs() {
    let (mut client, _dir) = start("roundtrip");
    let ids: Vec<u64> = (1..=100).collect();

    init(&mut client);
    let before = snapper_session::host::rpcs();
    let mut b = client.batch();
    for &id in &ids {
        b.take(id, &page(id, 1)).unwrap();
    }
    b.flush().unwrap();
    drop(b);
    // 100 pages of 4 KiB through a 64 KiB buffer: 15 per batch -> 7 RPCs
    let rpcs = snapper_session::host::rpcs() - before;
    assert!(rpcs <= 7, "{rpcs} RPCs");
    assert_eq!(client.commit_snapshot(), Reply::Ok);

    // the next generation: hints, every tenth changed
    init(&mut client);
    let mut b = client.batch();
    for &id in &ids {
        if id % 10 == 0 {
            b.take(id, &page(id, 2)).unwrap();
        } else {
            b.hint(id).unwrap();
        }
    }
    b.flush().unwrap();
    drop(b);
    assert_eq!(client.commit_snapshot(), Reply::Ok);

    assert_eq!(client.open_generation(None), Reply::Ok);
    let before = snapper_session::host::rpcs();
    let mut seen = Vec::new();
    let result = client.restore_all(&ids, |id, got| {
        let want = page(id, if id % 10 == 0 { 2 } else { 1 });
        assert_eq!(got.unwrap(), &want[..], "object {id}");
        seen.push(id);
    });
    assert_eq!(result, Reply::Ok);
    assert_eq!(seen, ids);
    let rpcs = snapper_session::host::rpcs() - before;
    assert!(rpcs <= 8, "{rpcs} restore RPCs for 100 pages");
    // an id the generation lacks: its result, the others still restored
    let mut results = Vec::new();
    let result = client.restore_all(&[5, 777, 6], |id, got| {
        results.push((id, got.map(|b| b.len())))
    });
    assert_eq!(result, Reply::Ok);
    assert_eq!(
        results,
        [(5, Ok(4096)), (777, Err(Reply::NoMatches)), (6, Ok(4096))]
    );
    assert_eq!(client.close_generation(), Reply::Ok);
}

#[test]
fn hint_for_an_unknown_id_stops_the_batch_there() {
    let (mut client, _dir) = start("unknown-hint");
    init(&mut client);
    assert_eq!(client.take_snapshot(1, &page(1, 1)), Reply::Ok);
    assert_eq!(client.commit_snapshot(), Reply::Ok);

    init(&mut client);
    let len = client.buffer_size();
    let mut w = TakeWriter::new(len);
    assert!(w.hint(1));
    assert!(w.push(client.buffer_mut(), 2, &page(2, 1)));
    assert!(w.hint(99)); // not in the base
    assert!(w.push(client.buffer_mut(), 3, &page(3, 1)));
    assert!(w.finish(client.buffer_mut()));
    assert_eq!(client.take_batch(), reply(Reply::NoMatches, 2, Some(2)));
    assert_eq!(client.commit_snapshot(), Reply::Ok);
    let got = stored(&mut client, &[1, 2, 3, 99]);
    let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [1, 2], "records before the failed one only");
    assert_eq!(got[0].1, page(1, 1));

    // a hint with no base at all
    assert_eq!(client.purge(None), Reply::Ok);
    assert_eq!(client.purge(None), Reply::Ok);
    assert_eq!(client.init_snapshot(), Reply::NoPriorGen);
    let mut b = client.batch();
    b.hint(1).unwrap();
    let failure = b.flush().unwrap_err();
    assert_eq!(
        (failure.id, failure.reply, failure.dropped),
        (1, Reply::NoMatches, 0)
    );
}

#[test]
fn records_larger_than_a_batch_or_the_buffer() {
    let (mut client, _dir) = start("large");
    let len = client.buffer_size();
    init(&mut client);
    let mut b = client.batch();
    b.take(1, b"small").unwrap();
    // fits the buffer, not a batch: goes alone through take_snapshot
    let whole = vec![7u8; len];
    b.take(2, &whole).unwrap();
    let over = vec![8u8; len + 1];
    let failure = b.take(3, &over).unwrap_err();
    assert_eq!(failure.reply, Reply::PayloadTooLarge);
    b.flush().unwrap();
    drop(b);
    assert_eq!(client.commit_snapshot(), Reply::Ok);
    assert_eq!(client.open_generation(None), Reply::Ok);
    let mut out = vec![0u8; len];
    assert_eq!(client.restore(2, &mut out), Reply::Ok);
    assert_eq!(out, whole);
    assert_eq!(client.restore(3, &mut out), Reply::NoMatches);
    // an object larger than a restore batch's room: BufferTooSmall for it
    let mut results = Vec::new();
    let result = client.restore_all(&[1, 2], |id, got| {
        results.push((id, got.map(|b| b.to_vec())))
    });
    assert_eq!(result, Reply::Ok);
    assert_eq!(
        results,
        [(1, Ok(b"small".to_vec())), (2, Err(Reply::BufferTooSmall))]
    );
    assert_eq!(client.close_generation(), Reply::Ok);
}

/// A valid take batch of ids 10, 11, 12 (payloads "aaaa", "bbbb",
/// "cccc"), for the malformed cases to break; returns the table offset.
fn valid_batch(client: &mut Client) -> usize {
    let len = client.buffer_size();
    let mut w = TakeWriter::new(len);
    for (id, p) in [(10, b"aaaa"), (11, b"bbbb"), (12, b"cccc")] {
        assert!(w.push(client.buffer_mut(), id, p));
    }
    assert!(w.finish(client.buffer_mut()));
    Header::read(client.buffer_mut()).unwrap().table_offset as usize
}

fn edit_record(client: &mut Client, table: usize, n: usize, f: impl FnOnce(&mut Record)) {
    let at = table + n * batch::RECORD_LEN;
    let mut r = Record::read(client.buffer_mut(), at).unwrap();
    f(&mut r);
    assert!(r.write(client.buffer_mut(), at));
}

fn edit_header(client: &mut Client, f: impl FnOnce(&mut Header)) {
    let mut h = Header::read(client.buffer_mut()).unwrap();
    f(&mut h);
    assert!(h.write(client.buffer_mut()));
}

#[test]
fn every_malformed_take_batch_is_refused_and_stores_nothing() {
    let (mut client, _dir) = start("malformed");
    init(&mut client);
    assert_eq!(client.take_snapshot(1, b"base"), Reply::Ok);
    let len = client.buffer_size();
    let m = Reply::MalformedBatch;
    assert_eq!(m.code(), 14);

    type Case = (&'static str, Box<dyn Fn(&mut Client, usize)>, BatchReply);
    let cases: Vec<Case> = vec![
        (
            "bad magic",
            Box::new(|c, _| edit_header(c, |h| h.magic ^= 1)),
            reply(m, 0, None),
        ),
        (
            "bad version",
            Box::new(|c, _| edit_header(c, |h| h.version = 2)),
            reply(m, 0, None),
        ),
        (
            "restore kind",
            Box::new(|c, _| edit_header(c, |h| h.kind = batch::KIND_RESTORE)),
            reply(m, 0, None),
        ),
        (
            "reply field set",
            Box::new(|c, _| edit_header(c, |h| h.done = 1)),
            reply(m, 0, None),
        ),
        (
            "zero records",
            Box::new(|c, _| edit_header(c, |h| h.count = 0)),
            reply(Reply::NoData, 0, None),
        ),
        (
            "count too large",
            Box::new(|c, _| edit_header(c, |h| h.count = 100_000)),
            reply(m, 0, None),
        ),
        (
            "count u32::MAX",
            Box::new(|c, _| edit_header(c, |h| h.count = u32::MAX)),
            reply(m, 0, None),
        ),
        (
            "table past the buffer",
            Box::new(move |c, _| edit_header(c, |h| h.table_offset = len as u32)),
            reply(m, 0, None),
        ),
        (
            "table misaligned",
            Box::new(|c, _| edit_header(c, |h| h.table_offset += 4)),
            reply(m, 0, None),
        ),
        (
            "table over the header",
            Box::new(|c, _| edit_header(c, |h| h.table_offset = 8)),
            reply(m, 0, None),
        ),
        (
            "size overruns",
            Box::new(|c, t| edit_record(c, t, 2, |r| r.size = u32::MAX)),
            reply(m, 0, Some(2)),
        ),
        (
            "size runs past the buffer",
            Box::new(move |c, t| edit_record(c, t, 1, |r| r.size = len as u32)),
            reply(m, 0, Some(1)),
        ),
        (
            "offset misaligned",
            Box::new(|c, t| edit_record(c, t, 1, |r| r.offset += 1)),
            reply(m, 0, Some(1)),
        ),
        (
            "offset into the header",
            Box::new(|c, t| edit_record(c, t, 0, |r| r.offset = 0)),
            reply(m, 0, Some(0)),
        ),
        (
            "offset into the table",
            Box::new(|c, t| edit_record(c, t, 2, |r| r.offset = t as u32)),
            reply(m, 0, Some(2)),
        ),
        (
            "payloads overlap",
            Box::new(|c, t| edit_record(c, t, 1, |r| r.offset -= 8)),
            reply(m, 0, Some(1)),
        ),
        (
            "unknown flag",
            Box::new(|c, t| edit_record(c, t, 1, |r| r.flags = 2)),
            reply(m, 0, Some(1)),
        ),
        (
            "hint with a payload",
            Box::new(|c, t| edit_record(c, t, 2, |r| r.flags = RecordFlags::HINT.bits())),
            reply(m, 0, Some(2)),
        ),
        (
            "result set",
            Box::new(|c, t| edit_record(c, t, 0, |r| r.result = 1)),
            reply(m, 0, Some(0)),
        ),
    ];
    for (what, breaks, want) in &cases {
        let table = valid_batch(&mut client);
        breaks(&mut client, table);
        assert_eq!(client.take_batch(), *want, "{what}");
    }
    // a buffer-sized garbage batch
    client.buffer_mut().fill(0xff);
    assert_eq!(client.take_batch(), reply(m, 0, None));
    // the unbroken batch still works afterwards
    valid_batch(&mut client);
    assert_eq!(client.take_batch(), reply(Reply::Ok, 3, None));
    assert_eq!(client.commit_snapshot(), Reply::Ok);
    let got = stored(&mut client, &[1, 10, 11, 12]);
    assert_eq!(got.len(), 4, "the base object and the good batch only");

    // nothing of a malformed batch: a generation of malformed ones only
    init(&mut client);
    for (what, breaks, _) in &cases {
        let table = valid_batch(&mut client);
        edit_record(&mut client, table, 0, |r| r.id = 500);
        edit_record(&mut client, table, 1, |r| r.id = 501);
        edit_record(&mut client, table, 2, |r| r.id = 502);
        breaks(&mut client, table);
        assert_ne!(client.take_batch().result, Reply::Ok, "{what}");
    }
    assert_eq!(client.take_snapshot(2, b"one good"), Reply::Ok);
    assert_eq!(client.commit_snapshot(), Reply::Ok);
    let got = stored(&mut client, &[500, 501, 502, 2]);
    let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [2]);
}

#[test]
fn malformed_restore_batches_and_wrong_states() {
    let (mut client, _dir) = start("malformed-restore");
    // no generation open: the first record fails with InvalidState
    assert!(batch::write_restore(client.buffer_mut(), &[1]));
    assert_eq!(
        client.restore_batch(),
        reply(Reply::InvalidState, 0, Some(0))
    );
    // a take batch outside a creation
    valid_batch(&mut client);
    assert_eq!(client.take_batch(), reply(Reply::InvalidState, 0, Some(0)));

    init(&mut client);
    assert_eq!(client.take_snapshot(1, b"one"), Reply::Ok);
    assert_eq!(client.commit_snapshot(), Reply::Ok);
    assert_eq!(client.open_generation(None), Reply::Ok);
    let m = reply(Reply::MalformedBatch, 0, None);
    let len = client.buffer_size();

    assert!(batch::write_restore(client.buffer_mut(), &[1]));
    edit_header(&mut client, |h| h.count = (len / batch::RECORD_LEN) as u32);
    assert_eq!(client.restore_batch(), m, "count too large");
    assert!(batch::write_restore(client.buffer_mut(), &[1]));
    edit_header(&mut client, |h| h.count = 0);
    assert_eq!(client.restore_batch(), reply(Reply::NoData, 0, None));
    assert!(batch::write_restore(client.buffer_mut(), &[1]));
    edit_header(&mut client, |h| h.kind = batch::KIND_TAKE);
    assert_eq!(client.restore_batch(), m, "take kind");
    assert!(batch::write_restore(client.buffer_mut(), &[1, 1]));
    edit_record(&mut client, batch::HEADER_LEN, 1, |r| r.flags = 4);
    assert_eq!(
        client.restore_batch(),
        reply(Reply::MalformedBatch, 0, Some(1))
    );
    assert!(batch::write_restore(client.buffer_mut(), &[1, 1]));
    edit_record(&mut client, batch::HEADER_LEN, 0, |r| r.size = 4);
    assert_eq!(
        client.restore_batch(),
        reply(Reply::MalformedBatch, 0, Some(0))
    );

    // well-formed: the reply table says where the payload is
    assert!(batch::write_restore(client.buffer_mut(), &[1]));
    assert_eq!(client.restore_batch(), reply(Reply::Ok, 1, None));
    let (record, payload) = client.restored(0).unwrap();
    assert_eq!((record.id, record.result, payload), (1, 0, &b"one"[..]));
    assert_eq!(record.offset as usize % batch::ALIGN, 0);
    assert_eq!(client.close_generation(), Reply::Ok);
}

/// What CI runs instead of the fuzzer (fuzz/fuzz_targets/batch.rs): a valid
/// batch with random bytes changed, through the server. Never a panic; a
/// batch the decoder refuses takes nothing (done = 0).
#[test]
fn mutated_batches_never_panic_and_refused_ones_take_nothing() {
    let (mut client, _dir) = start("mutated");
    init(&mut client);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut refused = 0;
    for round in 0..3000u64 {
        let table = valid_batch(&mut client);
        // ids no valid batch uses, so that a stored one shows
        for n in 0..3 {
            edit_record(&mut client, table, n, |r| {
                r.id = 1_000_000 + round * 3 + n as u64
            });
        }
        let limit = (table + 3 * batch::RECORD_LEN) as u64;
        for _ in 0..1 + next() % 4 {
            let at = (next() % limit) as usize;
            client.buffer_mut()[at] = next() as u8;
        }
        let before = Header::read(client.buffer_mut()).unwrap();
        let decodable = batch::decode_take(client.buffer_mut()).is_ok();
        let reply = client.take_batch();
        if !decodable {
            refused += 1;
            assert_eq!(reply.done, 0, "round {round}: {before:?}");
            assert!(matches!(
                reply.result,
                Reply::MalformedBatch | Reply::NoData
            ));
        }
    }
    assert!(refused > 1000, "{refused} refused");
    assert_eq!(client.commit_snapshot(), Reply::Ok);
}
