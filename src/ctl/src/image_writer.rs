//! Writing into an ext4 image, for purge and gc: e2fsprogs' `debugfs -w`,
//! which runs on libext2fs (the library e2fsck uses), so no ext4 writer of
//! our own and no FFI. purge and purge_zombies remove files and empty
//! directories and may zero bytes inside a file (a purged record of an
//! archive log), so the writer supports exactly that: a `write_at` of
//! zeros within the file's length, through `zap_block`, which overwrites
//! the data blocks in place and changes no metadata. Any other write is
//! refused.
//!
//! The engine works on an overlay. Reads go to the image through ext4-view,
//! minus what has been removed and with what has been zeroed. Changes are
//! queued and applied at each `sync` in one debugfs run, in the engine's
//! order, and then checked by reading the image again. The engine's order
//! across syncs is kept too: a purge removes the archive and syncs, which
//! applies that removal, before any pack is deleted.
//!
//! `zap_block -f` maps a file's block to the disk's through the inode and
//! zaps physical block 0 (the superblock's) for a hole; each block is
//! therefore mapped first (`bmap`, a read-only debugfs run), and a hole,
//! which reads as zeros already, is left alone.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use snapper_core::{DirEntry, Storage, StorageError};

use crate::e2fs::{check_quiescent, find_tool, missing};
use crate::ext4_layout::Superblock;
use crate::image::ImageStorage;

/// A change queued for the next `sync`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Change {
    /// Remove a file, or (`true`) an empty directory; relative path.
    Remove(String, bool),
    /// Zero `len` bytes at `offset` of a file; relative path, `len > 0`.
    Zero(String, u64, u64),
}

/// One block's share of a zeroing: `len` bytes at `offset` in the file's
/// logical block `block`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BlockZap {
    block: u64,
    offset: u64,
    len: u64,
}

/// The blocks of size `block_size` that `len` bytes at `offset` touch.
fn block_zaps(offset: u64, len: u64, block_size: u64) -> Vec<BlockZap> {
    let end = offset.saturating_add(len);
    let mut out = Vec::new();
    let mut at = offset;
    while at < end {
        let block = at / block_size;
        let block_end = (block + 1).saturating_mul(block_size).min(end);
        out.push(BlockZap {
            block,
            offset: at - block * block_size,
            len: block_end - at,
        });
        at = block_end;
    }
    out
}

/// The overlay storage over an image that purge and gc write through.
pub struct ImageWriter {
    image: PathBuf,
    dir: String,
    debugfs: PathBuf,
    reader: ImageStorage,
    /// The file system's block size, for `zap_block`.
    block_size: u64,
    /// Paths (relative to the root) removed so far, applied or not.
    removed: BTreeSet<String>,
    /// Changes not yet applied, in order.
    pending: Vec<Change>,
}

impl ImageWriter {
    /// Opens `image` for removals after checking that nothing else uses it.
    pub fn open(image: &Path, dir: &str) -> Result<Self, String> {
        let debugfs = find_tool("debugfs").ok_or_else(|| missing("debugfs"))?;
        check_quiescent(image)?;
        let reader = ImageStorage::open(image, dir)?;
        let block_size = std::fs::File::open(image)
            .map_err(|e| e.to_string())
            .and_then(|file| Superblock::read(&file).map_err(|e| e.to_string()))
            .and_then(|sb| sb.block_size().map_err(|e| e.to_string()))
            .map_err(|e| format!("{}: {e}", image.display()))?;
        Ok(ImageWriter {
            image: image.into(),
            dir: dir.into(),
            debugfs,
            reader,
            block_size,
            removed: BTreeSet::new(),
            pending: Vec::new(),
        })
    }

    /// Runs debugfs on `script` (one command a line), writing with
    /// `write`: whether it exited with success, its standard output and its
    /// standard error; `Io` if it could not be run. debugfs exits with
    /// success even when a command fails, so success proves little.
    fn debugfs(&self, script: &str, write: bool) -> Result<(bool, String, String), StorageError> {
        let mut command = Command::new(&self.debugfs);
        if write {
            command.arg("-w");
        }
        let mut child = command
            .args(["-f", "-"])
            .arg(&self.image)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|_| StorageError::Io)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .map_err(|_| StorageError::Io)?;
        }
        let out = child.wait_with_output().map_err(|_| StorageError::Io)?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }

    /// The physical block of each of `blocks` (file, logical block), 0 for
    /// a hole, from one read-only debugfs run of `bmap`. debugfs echoes
    /// each command (`debugfs: bmap ...`) and prints the number on the next
    /// line, or nothing (an error on stderr) when it cannot map it.
    fn map_blocks(&self, blocks: &[(String, u64)]) -> Result<Vec<u64>, StorageError> {
        let mut script = String::new();
        for (full, block) in blocks {
            script.push_str(&format!("bmap \"{full}\" {block}\n"));
        }
        let (_, stdout, stderr) = self.debugfs(&script, false)?;
        let mut answers = Vec::new();
        let mut lines = stdout.lines().peekable();
        while let Some(line) = lines.next() {
            if !line.starts_with("debugfs: ") {
                continue;
            }
            let answer = match lines.peek() {
                Some(next) if !next.starts_with("debugfs: ") => lines.next(),
                _ => None,
            };
            answers.push(answer.and_then(|a| a.trim().parse::<u64>().ok()));
        }
        if answers.len() != blocks.len() || answers.iter().any(Option::is_none) {
            eprintln!(
                "snapperctl: debugfs could not map the blocks to zero in {}: {stderr}",
                self.image.display()
            );
            return Err(StorageError::Io);
        }
        Ok(answers.into_iter().flatten().collect())
    }

    /// The `zap_block` commands that zero `len` bytes at `offset` of
    /// `path`, leaving out the blocks that are holes.
    fn zap_script(&self, path: &str, offset: u64, len: u64) -> Result<String, StorageError> {
        let full = self.reader.full(path)?;
        let zaps = block_zaps(offset, len, self.block_size);
        let blocks: Vec<(String, u64)> = zaps.iter().map(|z| (full.clone(), z.block)).collect();
        let physical = self.map_blocks(&blocks)?;
        let mut script = String::new();
        for (zap, physical) in zaps.iter().zip(physical) {
            if physical == 0 {
                continue;
            }
            script.push_str(&format!(
                "zap_block -f \"{full}\" -o {} -l {} -p 0 {}\n",
                zap.offset, zap.len, zap.block
            ));
        }
        Ok(script)
    }

    /// Zeroes what queued zeroings cover of `buf`, read at `offset` of
    /// `path`: the overlay's view before they are applied.
    fn overlay_zeros(&self, path: &str, offset: u64, buf: &mut [u8]) {
        let buf_end = offset.saturating_add(buf.len() as u64);
        for change in &self.pending {
            let Change::Zero(zeroed, at, len) = change else {
                continue;
            };
            if zeroed != path {
                continue;
            }
            let start = (*at).max(offset);
            let end = at.saturating_add(*len).min(buf_end);
            if start < end {
                if let Some(part) = buf.get_mut((start - offset) as usize..(end - offset) as usize)
                {
                    part.fill(0);
                }
            }
        }
    }

    /// Whether `path` or a directory above it was removed.
    fn is_removed(&self, path: &str) -> bool {
        self.removed.contains(path)
            || path
                .match_indices('/')
                .any(|(at, _)| self.removed.contains(&path[..at]))
    }

    /// Runs debugfs with the pending changes, then reads the image again
    /// and checks that each one happened.
    fn apply(&mut self) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut script = String::new();
        for change in &self.pending {
            match change {
                Change::Remove(path, is_dir) => {
                    let full = self.reader.full(path)?;
                    script.push_str(if *is_dir { "rmdir \"" } else { "rm \"" });
                    script.push_str(&full);
                    script.push_str("\"\n");
                }
                Change::Zero(path, offset, len) => {
                    script.push_str(&self.zap_script(path, *offset, *len)?);
                }
            }
        }
        // Whatever debugfs did or failed to do is checked below.
        let (ran, _, stderr) = self.debugfs(&script, true).unwrap_or((
            false,
            String::new(),
            "debugfs could not be run".into(),
        ));
        // ext4-view caches blocks: read the changed image afresh.
        self.reader = ImageStorage::open(&self.image, &self.dir).map_err(|_| StorageError::Io)?;
        let pending = std::mem::take(&mut self.pending);
        let mut failed = Vec::new();
        for change in &pending {
            let done = match change {
                Change::Remove(path, true) => self.reader.list_dir(path).is_err(),
                Change::Remove(path, false) => self.reader.file_size(path).is_err(),
                // a file removed after its zeroing has nothing to check
                Change::Zero(path, _, _) if self.is_removed(path) => true,
                Change::Zero(path, offset, len) => self.reads_zeros(path, *offset, *len),
            };
            if !done {
                failed.push(change);
            }
        }
        if !ran || !failed.is_empty() {
            eprintln!(
                "snapperctl: debugfs did not make {} of {} changes in {} (first: {:?}): {stderr}",
                failed.len(),
                pending.len(),
                self.image.display(),
                failed.first(),
            );
            for change in failed {
                if let Change::Remove(path, _) = change {
                    self.removed.remove(path);
                }
            }
            return Err(StorageError::Io);
        }
        Ok(())
    }

    /// Whether `len` bytes at `offset` of `path` read as zeros.
    fn reads_zeros(&mut self, path: &str, offset: u64, len: u64) -> bool {
        let Ok(len) = usize::try_from(len) else {
            return false;
        };
        let mut buf = vec![0xFF; len];
        matches!(self.reader.read_at(path, offset, &mut buf), Ok(n) if n == len)
            && buf.iter().all(|b| *b == 0)
    }
}

impl Storage for ImageWriter {
    fn create_dir(&mut self, _path: &str) -> Result<(), StorageError> {
        Err(StorageError::Io)
    }

    fn write_new_file(&mut self, _path: &str, _parts: &[&[u8]]) -> Result<(), StorageError> {
        Err(StorageError::Io)
    }

    /// Only zeros within the file (see the module documentation).
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        let size = self.file_size(path)?;
        let len: u64 = parts.iter().map(|part| part.len() as u64).sum();
        if len == 0 {
            return Ok(());
        }
        let refuse = |why: &str| {
            eprintln!(
                "snapperctl: not writing {len} bytes at {offset} of {path} in {}: {why}",
                self.image.display()
            );
            Err(StorageError::Io)
        };
        if parts.iter().any(|part| part.iter().any(|b| *b != 0)) {
            return refuse("only zeros can be written into an image");
        }
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return refuse("an image's file can be zeroed, not grown");
        }
        if path.contains(['"', '\n', '\\']) {
            return refuse("a name debugfs cannot take whole");
        }
        self.pending.push(Change::Zero(path.into(), offset, len));
        Ok(())
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        if self.is_removed(path) {
            return Err(StorageError::NotFound);
        }
        let read = self.reader.read_at(path, offset, buf)?;
        self.overlay_zeros(path, offset, buf.get_mut(..read).unwrap_or_default());
        Ok(read)
    }

    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        if self.is_removed(path) {
            return Err(StorageError::NotFound);
        }
        self.reader.file_size(path)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        if !path.is_empty() && self.is_removed(path) {
            return Err(StorageError::NotFound);
        }
        let mut entries = self.reader.list_dir(path)?;
        entries.retain(|e| {
            let child = if path.is_empty() {
                e.name.clone()
            } else {
                format!("{path}/{}", e.name)
            };
            !self.removed.contains(&child)
        });
        Ok(entries)
    }

    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        if path.is_empty() || self.is_removed(path) {
            return Err(StorageError::NotFound);
        }
        // debugfs reads its commands word by word; a name it cannot take
        // whole is left alone rather than misread.
        if path.contains(['"', '\n', '\\']) {
            return Err(StorageError::Io);
        }
        let is_dir = match self.reader.file_size(path) {
            Ok(_) => false,
            Err(StorageError::WrongKind) => true,
            Err(e) => return Err(e),
        };
        if is_dir && !self.list_dir(path)?.is_empty() {
            return Err(StorageError::NotEmpty);
        }
        self.removed.insert(path.into());
        self.pending.push(Change::Remove(path.into(), is_dir));
        Ok(())
    }

    fn rename(&mut self, _from: &str, _to: &str) -> Result<(), StorageError> {
        Err(StorageError::Io)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.apply()
    }
}
