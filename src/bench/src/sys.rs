//! What the bench asks of the host: disk usage, syncfs, page-cache drops,
//! resident memory, and the machine's description.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// `du`-style usage of a tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Sum of st_blocks * 512 over files and directories, the root included;
    /// an inode with several names (a hard link) counts once, as du counts it.
    pub bytes: u64,
    /// Regular files (inodes, not names).
    pub files: u64,
}

/// Walks `root` and adds up what it occupies on disk.
pub fn disk_usage(root: &Path) -> io::Result<DiskUsage> {
    let mut seen = HashSet::new();
    let mut usage = DiskUsage::default();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path)?;
        // Hard links are how rsync --link-dest shares files between
        // snapshots; counting each inode once is what makes its disk use
        // comparable to Snapper's.
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        usage.bytes += meta.blocks() * 512;
        if meta.is_dir() {
            for entry in fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        } else if meta.is_file() {
            usage.files += 1;
        }
    }
    Ok(usage)
}

/// syncfs(2) on the file system holding `dir`: what Snapper's DirStorage
/// does at commit, so the floors and the peer pay the same price.
#[allow(unsafe_code)]
pub fn syncfs(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `file` keeps open.
    if unsafe { libc::syncfs(file.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Writes back everything and drops the page, dentry and inode caches, so
/// that the next read comes from the device. Needs root; the error says why
/// it did not work otherwise.
#[allow(unsafe_code)]
pub fn drop_caches() -> Result<(), String> {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    fs::write("/proc/sys/vm/drop_caches", b"3\n")
        .map_err(|e| format!("cannot write /proc/sys/vm/drop_caches: {e}"))
}

/// The 1-, 5- and 15-minute load averages, as /proc/loadavg gives them:
/// on a shared machine they say how much the times can be trusted.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// A field of /proc/self/status given in kB (VmRSS, VmHWM), in bytes.
pub fn vm_status(field: &str) -> Option<u64> {
    let text = fs::read_to_string("/proc/self/status").ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// The machine a run measured, for BENCHMARKS.md.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    /// "model name" of /proc/cpuinfo.
    pub cpu: String,
    /// Online logical CPUs.
    pub cores: usize,
    /// MemTotal, bytes.
    pub memory: u64,
    /// uname -sr.
    pub kernel: String,
    /// File system type and device of the bench directory (/proc/mounts).
    pub file_system: String,
    /// The compiler that built the bench.
    pub rustc: String,
    /// rsync --version's first line, or why there is no rsync.
    pub rsync: String,
    /// The commit measured: engine and storage change in parallel work, so
    /// a table must say which code it timed.
    pub source: String,
}

/// Describes this machine; `dir` is where the bench writes.
pub fn machine(dir: &Path) -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let kb: u64 = l
                    .strip_prefix("MemTotal:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()?;
                Some(kb * 1024)
            })
        })
        .unwrap_or(0);
    let kernel = command_line("uname", &["-sr"]).unwrap_or_else(|| "unknown".into());
    Machine {
        cpu,
        cores,
        memory,
        kernel,
        file_system: file_system_of(dir).unwrap_or_else(|| "unknown".into()),
        rustc: env!("SNAPPER_BENCH_RUSTC").into(),
        rsync: rsync_version().unwrap_or_else(|e| e),
        source: source_commit(),
    }
}

/// HEAD's short hash (at run time, from the working directory), and whether
/// the engine or the host storage had uncommitted changes.
fn source_commit() -> String {
    let Some(head) = command_line("git", &["rev-parse", "--short", "HEAD"]) else {
        return "unknown (not in a git work tree)".into();
    };
    let dirty = Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--",
            "src/core",
            "src/host",
            "src/bench",
        ])
        .output()
        .map(|out| !out.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        format!("{head} + uncommitted changes in src/core, src/host or src/bench")
    } else {
        head
    }
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.lines().next()?.trim().to_string())
}

/// rsync's version line, or a sentence saying it is missing.
pub fn rsync_version() -> Result<String, String> {
    command_line("rsync", &["--version"]).ok_or_else(|| {
        "rsync not found: the peer columns are empty (apt-get install rsync)".to_string()
    })
}

/// The mount with the longest mount point that holds `dir`: "ext4 (/dev/vda on /)".
fn file_system_of(dir: &Path) -> Option<String> {
    let dir = fs::canonicalize(dir).ok()?;
    let mounts = fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let point = fields.next()?.replace("\\040", " ");
            let kind = fields.next()?;
            dir.starts_with(&point)
                .then(|| (point.len(), format!("{kind} ({device} on {point})")))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, text)| text)
}
