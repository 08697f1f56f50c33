//! The record a commit cut short leaves in the archive log, made on
//! purpose: for tests of what reports and clears it.

use snapper_core::archive_log::{self, Extent, Found, RECORD_HEADER_LEN};
use snapper_core::Generation;

/// Writes into `log` (the bytes of `archives`) what a commit of
/// `generation` cut short after its header landed leaves: the record
/// header, unsealed, then the first half of the first committed record's
/// archive, at the first block past every record. The archive does not
/// check out, so the record reads as a commit cut short (doc/FORMAT.md,
/// "Archive log"). Returns where it is; `None` when the log holds no
/// committed record or has no room after the last one.
pub fn tear_record(log: &mut [u8], generation: Generation) -> Option<Extent> {
    let found = archive_log::classify(log).ok()?;
    let free = found.iter().map(|f| f.extent().end()).max()?;
    let (from, len) = found.iter().find_map(|f| match f {
        Found::Committed {
            extent,
            archive_len,
            ..
        } => Some((
            extent.offset() as usize + RECORD_HEADER_LEN,
            *archive_len as usize,
        )),
        _ => None,
    })?;
    let extent = Extent {
        block: free,
        blocks: Extent::blocks_for(len),
    };
    let at = extent.offset() as usize;
    if log.len() < extent.end() as usize * archive_log::BLOCK as usize {
        return None;
    }
    let half = log.get(from..from + len / 2)?.to_vec();
    let header = archive_log::record_header(generation, u32::try_from(len).ok()?);
    log.get_mut(at..at + RECORD_HEADER_LEN)?
        .copy_from_slice(&header);
    let body = at + RECORD_HEADER_LEN;
    log.get_mut(body..body + half.len())?.copy_from_slice(&half);
    Some(extent)
}
