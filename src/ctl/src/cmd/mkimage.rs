//! `mkimage`: an empty (or filled) ext4 image as the Genode scenario's
//! raw/Makefile makes it, with mkfs.ext4.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::{Failure, Options, Outcome, Session};
use crate::inspect::read_only_config;
use crate::output;
use crate::storage::ReadOnly;

/// Runs `mkimage`.
pub fn run(
    g: &Options,
    bytes: u64,
    path: &Path,
    from: Option<&Path>,
    force: bool,
    inode_ratio: u32,
) -> Outcome {
    let mkfs = crate::e2fs::find_tool("mkfs.ext4").ok_or_else(|| {
        Failure::Io("mkfs.ext4 not found: install e2fsprogs (apt-get install e2fsprogs)".into())
    })?;
    if let Some(dir) = from {
        if !dir.is_dir() {
            return Err(Failure::NotFound(format!(
                "--from {}: not a directory",
                dir.display()
            )));
        }
        // An image of a root this Snapper refuses would be of no use: the
        // engine looks at it first (and changes nothing in it).
        let storage = snapper_host::DirStorage::open(dir)
            .map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
        Session::open(&dir.display(), g, ReadOnly(storage), read_only_config())?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Failure::Refused(format!(
            "{}: exists; give --force to overwrite it",
            path.display()
        )),
        _ => Failure::Io(format!("{}: {e}", path.display())),
    })?;
    // Sparse: the image takes only the blocks mkfs writes.
    file.set_len(bytes)
        .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?;
    drop(file);
    let mut command = Command::new(&mkfs);
    // The same options as raw/Makefile, which makes the Genode scenario's
    // image: -O ^metadata_csum because the lwext4 VFS plugin does not handle
    // metadata checksums (the seed's own mkfs line), raw/Makefile's inode
    // ratio, and the label "snapper".
    command.args(["-q", "-F", "-O", "^metadata_csum", "-L", "snapper", "-i"]);
    command.arg(inode_ratio.to_string());
    if let Some(dir) = from {
        command.arg("-d").arg(dir);
    }
    command.arg(path);
    let result = command
        .output()
        .map_err(|e| Failure::Io(format!("{}: {e}", mkfs.display())))?;
    if !result.status.success() {
        let _ = fs::remove_file(path);
        return Err(Failure::Io(format!(
            "mkfs.ext4 failed ({}): {}",
            result.status,
            String::from_utf8_lossy(&result.stderr).trim()
        )));
    }
    out!(
        "{}: {} ext4 image (-O ^metadata_csum -i {inode_ratio}){}",
        path.display(),
        output::size(bytes),
        from.map_or(String::new(), |d| format!(", holding {}", d.display()))
    );
    Ok(())
}
