//! Large allocations in the restore path. On Genode an allocation of 64 KiB
//! or more is a dataspace of its own, created, mapped, faulted in page by
//! page and unmapped again; a fresh 1 MiB read-ahead window per restore cost
//! a restore of 1000 x 4 KiB a quarter of its time on lwext4. The engine
//! keeps the window's buffer from one creation or restoration to the next.
//!
//! Its own test binary: the counting allocator below serves every test in
//! it, and counts only what the calling thread allocates.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{payload as page, TestPlatform};
use snapper_core::engine::Snapper;
use snapper_core::{Config, DirEntry, MemStorage, ObjectId, Storage, StorageError};

/// What counts as large: half the 1 MiB window, well above the archive
/// and the few small buffers a restore may allocate.
const LARGE: usize = 512 << 10;

thread_local! {
    static LARGE_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Set while the storage works: its files are its own allocations.
    static IN_STORAGE: Cell<bool> = const { Cell::new(false) };
}

struct Counting;

// SAFETY: every call is passed to the system allocator unchanged; the
// thread-local counter neither allocates nor touches the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn note(size: usize) {
    if size >= LARGE && !IN_STORAGE.try_with(Cell::get).unwrap_or(true) {
        // try_with: a thread being torn down has no counter left.
        let _ = LARGE_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

fn large_allocations_in(f: impl FnOnce()) -> u64 {
    let before = LARGE_ALLOCATIONS.with(Cell::get);
    f();
    LARGE_ALLOCATIONS.with(Cell::get) - before
}

/// MemStorage, its allocations left out of the count.
#[derive(Default)]
struct Uncounted(MemStorage);

impl Uncounted {
    fn call<T>(&mut self, f: impl FnOnce(&mut MemStorage) -> T) -> T {
        IN_STORAGE.with(|s| s.set(true));
        let result = f(&mut self.0);
        IN_STORAGE.with(|s| s.set(false));
        result
    }
}

impl Storage for Uncounted {
    fn create_dir(&mut self, path: &str) -> Result<(), StorageError> {
        self.call(|s| s.create_dir(path))
    }
    fn write_new_file(&mut self, path: &str, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.call(|s| s.write_new_file(path, parts))
    }
    fn write_at(&mut self, path: &str, offset: u64, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.call(|s| s.write_at(path, offset, parts))
    }
    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StorageError> {
        self.call(|s| s.read_at(path, offset, buf))
    }
    fn file_size(&mut self, path: &str) -> Result<u64, StorageError> {
        self.call(|s| s.file_size(path))
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, StorageError> {
        self.call(|s| s.list_dir(path))
    }
    fn remove(&mut self, path: &str) -> Result<(), StorageError> {
        self.call(|s| s.remove(path))
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StorageError> {
        self.call(|s| s.rename(from, to))
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        self.call(|s| s.sync())
    }
}

type Engine = Snapper<Uncounted, TestPlatform>;

const N: u64 = 1000;
const SIZE: usize = 4096;

/// snapperbench's 4 KiB workload: a first generation, then two with 100
/// objects changed and the rest hinted; the third owes redundancy copies
/// of the hinted objects, read back through the window.
fn bench_generations() -> (Engine, Vec<u32>) {
    let config = Config {
        redundancy: 2,
        ..Config::default()
    };
    let mut snapper = Snapper::open(
        Uncounted::default(),
        TestPlatform::at(1_795_545_149),
        config,
    )
    .expect("open");
    let mut versions = vec![1u32; N as usize];
    snapper.init_snapshot().expect("init");
    for id in 0..N {
        snapper
            .take_snapshot(ObjectId(id), &page(id, 1, SIZE))
            .expect("take");
    }
    snapper.commit_snapshot().expect("commit");
    for generation in 2..=3u32 {
        let changed = u64::from(generation - 2) * 100..u64::from(generation - 1) * 100;
        snapper.init_snapshot().expect("init");
        for id in 0..N {
            if changed.contains(&id) {
                versions[id as usize] = generation;
                snapper
                    .take_snapshot(ObjectId(id), &page(id, generation, SIZE))
                    .expect("take");
            } else {
                snapper.take_unchanged(ObjectId(id)).expect("hint");
            }
        }
        snapper.commit_snapshot().expect("commit");
    }
    assert!(
        snapper.last_snapshot_stats().redundant_copies > 0,
        "the third generation reads copies back through the window"
    );
    (snapper, versions)
}

fn restore_all(snapper: &mut Engine, versions: &[u32]) {
    snapper.open_generation(None).expect("open_generation");
    let mut buf = vec![0u8; SIZE];
    for (id, version) in (0..).zip(versions) {
        assert_eq!(snapper.restore(ObjectId(id), &mut buf), Ok(SIZE));
        assert!(buf == page(id, *version, SIZE), "object {id} differs");
    }
    snapper.close_generation().expect("close_generation");
}

#[test]
fn restores_reuse_the_window_of_the_step_before() {
    let (mut snapper, versions) = bench_generations();
    // The creation's window serves the first restore, that one's the next.
    for round in 0..3 {
        let large = large_allocations_in(|| restore_all(&mut snapper, &versions));
        assert_eq!(large, 0, "restore {round} allocated {large} large buffers");
    }
}

#[test]
fn an_aborted_creation_leaves_its_window_to_the_restore() {
    let (mut snapper, versions) = bench_generations();
    snapper.init_snapshot().expect("init");
    for id in 0..N {
        snapper.take_unchanged(ObjectId(id)).expect("hint");
    }
    snapper.abort();
    let large = large_allocations_in(|| restore_all(&mut snapper, &versions));
    assert_eq!(large, 0, "the restore allocated {large} large buffers");
}

#[test]
fn a_generation_reading_copies_back_reuses_the_restores_window() {
    let (mut snapper, versions) = bench_generations();
    restore_all(&mut snapper, &versions);
    // All hinted: the copies now due are read back through the window.
    let large = large_allocations_in(|| {
        snapper.init_snapshot().expect("init");
        for id in 0..N {
            snapper.take_unchanged(ObjectId(id)).expect("hint");
        }
        snapper.commit_snapshot().expect("commit");
    });
    assert!(snapper.last_snapshot_stats().redundant_copies > 0);
    // The pack's buffer is the third generation's (Ctx::spare_pack).
    assert_eq!(large, 0, "the generation allocated {large} large buffers");
}
