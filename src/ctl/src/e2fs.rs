//! The e2fsprogs tools the tool runs (debugfs, e2fsck, mkfs.ext4), found
//! where Debian keeps them, and the checks that tell whether an image may
//! be written: in use by the kernel, or with a journal to recover.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ext4_layout::Superblock;

/// An e2fsprogs tool, looked up in PATH and then where Debian keeps it
/// (/usr/sbin and /sbin are not in an ordinary user's PATH there).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    from_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The message for a missing tool.
pub(crate) fn missing(name: &str) -> String {
    format!("{name} not found: install e2fsprogs (apt-get install e2fsprogs)")
}

/// Whether the kernel has the image or device in use: attached to a loop
/// device, or mounted. `Some` says where.
pub fn in_use(image: &Path) -> Option<String> {
    let canonical = image.canonicalize().ok()?;
    // A loop device backed by the image: it is (or may be) mounted.
    if let Ok(devices) = std::fs::read_dir("/sys/block") {
        for device in devices.flatten() {
            let backing = device.path().join("loop/backing_file");
            if let Ok(text) = std::fs::read_to_string(&backing) {
                if Path::new(text.trim()) == canonical {
                    return Some(format!(
                        "attached to /dev/{}",
                        device.file_name().to_string_lossy()
                    ));
                }
            }
        }
    }
    // A block device (or an image) mounted directly.
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(source), Some(target)) = (fields.next(), fields.next()) else {
            continue;
        };
        if Path::new(source)
            .canonicalize()
            .is_ok_and(|s| s == canonical)
        {
            return Some(format!("mounted on {target}"));
        }
    }
    None
}

/// Whether the ext4 superblock of `image` has `needs_recovery` set: the
/// journal holds transactions not yet written to their place (the system
/// that used the image was killed, or it is mounted). `None` when the
/// superblock cannot be read or is not ext4's.
pub fn needs_recovery(image: &Path) -> Option<bool> {
    let file = std::fs::File::open(image).ok()?;
    Superblock::read(&file).ok().map(|sb| sb.needs_recovery())
}

/// Refuses an image that another writer may have open or that needs journal
/// recovery: debugfs writes without the journal, next to nobody.
pub(crate) fn check_quiescent(image: &Path) -> Result<(), String> {
    if let Some(place) = in_use(image) {
        return Err(format!(
            "{} is {place}: unmount and detach it first",
            image.display()
        ));
    }
    if needs_recovery(image) == Some(true) {
        // Reads see the journal replayed in memory, but debugfs writes
        // beside the journal: a later replay would write its old blocks
        // back over the removals.
        return Err(format!(
            "{}: the journal needs recovery (the image was not unmounted cleanly); \
             snapperctl reads it through an in-memory replay, but purge and gc write \
             through debugfs, which does not replay it: run e2fsck -p on the image first \
             (it writes the journal's transactions into place), then purge or gc",
            image.display()
        ));
    }
    Ok(())
}

/// Runs `e2fsck -fn` (check only, never repair) and returns its verdict.
pub fn fsck(image: &Path) -> Result<(), String> {
    let e2fsck = find_tool("e2fsck").ok_or_else(|| missing("e2fsck"))?;
    let out = Command::new(e2fsck)
        .arg("-fn")
        .arg(image)
        .output()
        .map_err(|e| format!("e2fsck: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "e2fsck -fn {} reports problems ({}):\n{}",
            image.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}
