//! What purge and gc share: the storage they change, and the end of a
//! change (the removals applied, an image checked by e2fsck).

use snapper_core::Storage;

use super::{Failure, Options, Outcome, Session};
use crate::storage::RootSpec;

/// The storage purge and gc work on: read-only for a dry run, else
/// writable (an image only with --write-image).
pub(crate) fn open_for_change(
    root: &RootSpec,
    dry_run: bool,
    write_image: bool,
) -> Result<Box<dyn Storage>, Failure> {
    if dry_run {
        root.open_read_only().map_err(Failure::Io)
    } else {
        root.open_writable(write_image).map_err(Failure::Refused)
    }
}

/// Applies what the engine left pending (the image writer removes at each
/// sync; the engine does not sync after its last removals), then has
/// e2fsck check an image.
fn finish_change<S: Storage>(root: &RootSpec, g: &Options, storage: &mut S) -> Outcome {
    storage
        .sync()
        .map_err(|e| Failure::Io(format!("applying the removals: {e}")))?;
    if let RootSpec::Image(image, _) = root {
        crate::e2fs::fsck(image).map_err(Failure::Io)?;
        if !g.json {
            out!("e2fsck -fn {}: clean", image.display());
        }
    }
    Ok(())
}

/// Ends a purge or gc: nothing more in a dry run; otherwise the engine's
/// last removals are applied and an image is checked.
pub(crate) fn end_change<S: Storage>(
    session: Session<S>,
    root: &RootSpec,
    g: &Options,
    dry_run: bool,
) -> Outcome {
    if dry_run {
        return Ok(());
    }
    let Session { engine, .. } = session;
    finish_change(root, g, &mut engine.into_storage())
}
