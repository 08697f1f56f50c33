//! The generic part of the C ABI of `src/genode/shim/snapper_genode.h`
//! (what crate `genode` declares), implemented over std: Genode's stand-in
//! under `cargo test` and in host tools.
//!
//! The components' Rust code calls the very same `extern "C"` symbols it
//! calls on Genode; here they resolve to the functions below instead of the
//! C++ shim. Each thread is one "component" (Genode components are
//! single-threaded too), so tests run in parallel without sharing state:
//!
//! - log: stderr, and kept per thread for tests to inspect ([`log_lines`]);
//! - config: an XML string ([`install`]), top-level attributes only;
//! - VFS: a host directory through the core's `DirStorage` ([`install`]; a
//!   sync is one `syncfs`), or any [`Storage`] ([`install_storage`]: tests
//!   put the crash and fault wrappers of snapper-testkit there, so that the
//!   Genode storage path is swept like the core); syncs and files written
//!   are counted ([`stats`]);
//! - RTC: the system clock; timer: `std::time::Instant`.
//!
//! A session protocol implements its own part of the ABI beside this one
//! (`snapper_session::host`), keyed to this thread's component by
//! [`component`] so that [`install`] starts it afresh as well.
//!
//! A test binary that uses no item of this crate must still link it, for
//! the `sg_*` symbols: `use genode_host as _;`.
//!
//! What it cannot stand for: Genode's RPC marshalling and capability
//! checks, quota accounting, the `fs` plugin's asynchronous packets, and
//! lwext4's own behaviour (its cache, its non-atomic rename-over, its
//! crash recovery). Those are checked by the C++ type check
//! (`shim/check.sh`) and by running the Genode scenario (`run/`).

// Every `sg_*` function's safety contract is the C header's: pointers valid
// for the lengths given. Repeating it per function would add nothing.
#![allow(clippy::missing_safety_doc)]

use std::alloc::{alloc, dealloc, Layout};
use std::boxed::Box;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use std::vec::Vec;
use std::{eprintln, format, thread_local};

use snapper_core::dir::DirStorage;
use snapper_core::time::DateTime;
use snapper_core::{EntryKind, Storage, StorageError};

use genode::log::Level;
use genode::sys::{self, sg_bytes, sg_rtc_time, sg_status};

/// What the host VFS did, for tests that check the I/O pattern.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Calls of `sg_vfs_sync`.
    pub syncs: u64,
    /// Files created by `sg_vfs_write_new`.
    pub files_written: u64,
    /// Writes into existing files by `sg_vfs_write_at`.
    pub writes_in_place: u64,
}

/// What the component's VFS stores to, until `sg_vfs_init` opens it.
enum Backend {
    Dir(PathBuf),
    Storage(Box<dyn Storage + Send>),
}

thread_local! {
    static CONFIG: RefCell<Option<String>> = const { RefCell::new(None) };
    static BACKEND: RefCell<Option<Backend>> = const { RefCell::new(None) };
    /// The VFS after `sg_vfs_init`.
    static STORAGE: RefCell<Option<Box<dyn Storage + Send>>> = const { RefCell::new(None) };
    static VFS_NAME: RefCell<String> = const { RefCell::new(String::new()) };
    static STATS: Cell<HostStats> = Cell::new(HostStats::default());
    /// Which component of this thread is installed: [`install`] counts up.
    static COMPONENT: Cell<u64> = const { Cell::new(0) };
    static LOG: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    static START: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Makes this thread a fresh component with `config` (the config ROM, XML)
/// and host directory `vfs_root` (which must exist) as the root of its VFS.
/// Forgets any previous component of this thread (a served handler is
/// leaked, as on Genode).
pub fn install(config: &str, vfs_root: &Path) {
    install_backend(
        config,
        Backend::Dir(vfs_root.into()),
        format!("VFS root {}", vfs_root.display()),
    );
}

/// [`install`] with `storage` as the component's VFS.
pub fn install_storage(config: &str, storage: Box<dyn Storage + Send>) {
    install_backend(config, Backend::Storage(storage), "VFS on a Storage".into());
}

fn install_backend(config: &str, backend: Backend, name: String) {
    CONFIG.with(|c| *c.borrow_mut() = Some(config.into()));
    BACKEND.with(|b| *b.borrow_mut() = Some(backend));
    STORAGE.with(|s| *s.borrow_mut() = None);
    VFS_NAME.with(|n| *n.borrow_mut() = name);
    STATS.with(|s| s.set(HostStats::default()));
    COMPONENT.with(|c| c.set(c.get() + 1));
    LOG.with(|l| l.borrow_mut().clear());
}

/// The lines logged by this thread's component since [`install`].
pub fn log_lines() -> Vec<(Level, String)> {
    LOG.with(|l| l.borrow().clone())
}

/// The VFS counters of this thread's component.
pub fn stats() -> HostStats {
    STATS.with(|s| s.get())
}

/// Identifies this thread's component: it changes with each [`install`].
/// A session's host implementation keeps its state per component with it,
/// so that a new component starts without the old one's server or client.
pub fn component() -> u64 {
    COMPONENT.with(|c| c.get())
}

fn count(f: impl FnOnce(&mut HostStats)) {
    STATS.with(|s| {
        let mut stats = s.get();
        f(&mut stats);
        s.set(stats);
    })
}

/// # Safety
/// `ptr` valid for `len` bytes or `len == 0`.
unsafe fn slice<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// # Safety
/// `ptr` valid for `len` bytes or `len == 0`.
unsafe fn text<'a>(ptr: *const c_char, len: usize) -> Option<&'a str> {
    std::str::from_utf8(unsafe { slice(ptr.cast(), len) }).ok()
}

/*************************
 ** Component lifecycle **
 *************************/

/// Host `sg_log`: stderr, and remembered for [`log_lines`].
#[no_mangle]
pub unsafe extern "C" fn sg_log(level: sys::sg_log_level, msg: *const c_char, len: usize) {
    let bytes = unsafe { slice(msg.cast(), len) };
    let line = String::from_utf8_lossy(bytes).into_owned();
    let level = match level {
        sys::SG_LOG_WARNING => Level::Warning,
        sys::SG_LOG_ERROR => Level::Error,
        _ => Level::Info,
    };
    let prefix = match level {
        Level::Info => "",
        Level::Warning => "Warning: ",
        Level::Error => "Error: ",
    };
    eprintln!("{prefix}{line}");
    LOG.with(|l| l.borrow_mut().push((level, line)));
}

/// Host `sg_exit`: ends the process, as the parent would end the component.
#[no_mangle]
pub extern "C" fn sg_exit(code: c_int) -> ! {
    std::process::exit(code)
}

/**********
 ** Heap **
 **********/

const HEAP_ALIGN: usize = 16;

/// Host `sg_alloc`: 16-byte aligned, like Genode's heap.
#[no_mangle]
pub extern "C" fn sg_alloc(size: usize) -> *mut c_void {
    match Layout::from_size_align(size.max(1), HEAP_ALIGN) {
        // SAFETY: non-zero size.
        Ok(layout) => unsafe { alloc(layout) }.cast(),
        Err(_) => std::ptr::null_mut(),
    }
}

/// Host `sg_free`.
///
/// # Safety
/// `ptr` from `sg_alloc(size)`.
#[no_mangle]
pub unsafe extern "C" fn sg_free(ptr: *mut c_void, size: usize) {
    if let (false, Ok(layout)) = (
        ptr.is_null(),
        Layout::from_size_align(size.max(1), HEAP_ALIGN),
    ) {
        unsafe { dealloc(ptr.cast(), layout) }
    }
}

/************
 ** Config **
 ************/

/// The attributes of the first element of `xml` (after an XML declaration
/// and comments), values raw. `None` if there is no well-formed start tag.
pub fn top_attributes(xml: &str) -> Option<Vec<(String, String)>> {
    let (_, attributes) = snapper_core::config::xml::top_element(xml)?;
    Some(
        attributes
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    )
}

/// Host `sg_config_attributes`: the installed config's top-level attributes.
#[no_mangle]
pub unsafe extern "C" fn sg_config_attributes(
    ctx: *mut c_void,
    f: sys::sg_attribute_fn,
) -> sg_status {
    let Some(config) = CONFIG.with(|c| c.borrow().clone()) else {
        return sys::SG_ERR_UNAVAILABLE;
    };
    let Some(attributes) = top_attributes(&config) else {
        return sys::SG_ERR_UNAVAILABLE;
    };
    for (name, value) in &attributes {
        unsafe {
            f(
                ctx,
                name.as_ptr().cast(),
                name.len(),
                value.as_ptr().cast(),
                value.len(),
            )
        };
    }
    sys::SG_OK
}

/*********
 ** VFS **
 *********/

fn status_of(error: StorageError) -> sg_status {
    match error {
        StorageError::NotFound => sys::SG_ERR_NOT_FOUND,
        StorageError::AlreadyExists => sys::SG_ERR_EXISTS,
        StorageError::NotEmpty => sys::SG_ERR_NOT_EMPTY,
        StorageError::WrongKind => sys::SG_ERR_WRONG_KIND,
        StorageError::NoSpace => sys::SG_ERR_NO_SPACE,
        StorageError::Io => sys::SG_ERR_IO,
    }
}

/// A VFS path as the storage takes it, refusing what Genode's VFS would not
/// take (the VFS's 512-byte path limit included) or what would leave the
/// root; `""` (the root) only where `allow_root`.
///
/// # Safety
/// `ptr` valid for `len` bytes or `len == 0`.
unsafe fn checked<'a>(
    ptr: *const c_char,
    len: usize,
    allow_root: bool,
) -> Result<&'a str, sg_status> {
    let path = unsafe { text(ptr, len) }.ok_or(sys::SG_ERR_INVALID)?;
    if path.is_empty() {
        return if allow_root {
            Ok(path)
        } else {
            Err(sys::SG_ERR_INVALID)
        };
    }
    if len + 2 > 512
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        || path.contains('\0')
    {
        return Err(sys::SG_ERR_INVALID);
    }
    Ok(path)
}

/// Runs `f` on the storage of the initialised VFS. A storage that called
/// back into the ABI would find the VFS unavailable (not a panic on a
/// borrowed cell); a panic inside `f` leaves the storage in place.
fn with_storage<T>(
    f: impl FnOnce(&mut dyn Storage) -> Result<T, sg_status>,
) -> Result<T, sg_status> {
    STORAGE.with(|s| match s.try_borrow_mut().as_deref_mut() {
        Ok(Some(storage)) => f(&mut **storage),
        Ok(None) | Err(_) => Err(sys::SG_ERR_UNAVAILABLE),
    })
}

/// [`with_storage`] for a call on one path.
///
/// # Safety
/// `ptr` valid for `len` bytes or `len == 0`.
unsafe fn on_path(
    ptr: *const c_char,
    len: usize,
    allow_root: bool,
    f: impl FnOnce(&mut dyn Storage, &str) -> Result<(), StorageError>,
) -> sg_status {
    let result = with_storage(|storage| {
        let path = unsafe { checked(ptr, len, allow_root) }?;
        f(storage, path).map_err(status_of)
    });
    result.err().unwrap_or(sys::SG_OK)
}

/// Host `sg_vfs_init`: a directory installed with [`install`] must exist;
/// an installed [`Storage`] is ready as it is.
#[no_mangle]
pub extern "C" fn sg_vfs_init() -> sg_status {
    if STORAGE.with(|s| s.try_borrow().is_ok_and(|s| s.is_some())) {
        return sys::SG_OK;
    }
    let storage: Box<dyn Storage + Send> = match BACKEND.with(|b| b.borrow_mut().take()) {
        None => return sys::SG_ERR_UNAVAILABLE,
        Some(Backend::Storage(storage)) => storage,
        // DirStorage::open would create a missing root; a component's VFS
        // root is there or the VFS is unavailable.
        Some(Backend::Dir(root)) if !root.is_dir() => {
            BACKEND.with(|b| *b.borrow_mut() = Some(Backend::Dir(root)));
            return sys::SG_ERR_UNAVAILABLE;
        }
        Some(Backend::Dir(root)) => match DirStorage::open(root) {
            Ok(dir) => Box::new(dir),
            Err(_) => return sys::SG_ERR_UNAVAILABLE,
        },
    };
    STORAGE.with(|s| *s.borrow_mut() = Some(storage));
    sys::SG_OK
}

/// Host `sg_vfs_create_dir`.
#[no_mangle]
pub unsafe extern "C" fn sg_vfs_create_dir(path: *const c_char, len: usize) -> sg_status {
    unsafe { on_path(path, len, false, |s, path| s.create_dir(path)) }
}

/// Host `sg_vfs_write_new`: no sync here, as on Genode.
#[no_mangle]
pub unsafe extern "C" fn sg_vfs_write_new(
    path: *const c_char,
    len: usize,
    parts: *const sg_bytes,
    num_parts: usize,
) -> sg_status {
    let parts = unsafe { parts_of(parts, num_parts) };
    let result = unsafe { on_path(path, len, false, |s, path| s.write_new_file(path, &parts)) };
    if result == sys::SG_OK {
        count(|s| s.files_written += 1);
    }
    result
}

/// Host `sg_vfs_write_at`: no sync here either.
#[no_mangle]
pub unsafe extern "C" fn sg_vfs_write_at(
    path: *const c_char,
    len: usize,
    offset: u64,
    parts: *const sg_bytes,
    num_parts: usize,
) -> sg_status {
    let parts = unsafe { parts_of(parts, num_parts) };
    let result = unsafe { on_path(path, len, false, |s, path| s.write_at(path, offset, &parts)) };
    if result == sys::SG_OK {
        count(|s| s.writes_in_place += 1);
    }
    result
}

/// The byte slices of the ABI's `parts`.
///
/// # Safety
/// `parts` valid for `num_parts` entries, each valid for its length, or
/// `num_parts == 0`.
unsafe fn parts_of<'a>(parts: *const sg_bytes, num_parts: usize) -> Vec<&'a [u8]> {
    let parts = if parts.is_null() || num_parts == 0 {
        &[][..]
    } else {
        unsafe { std::slice::from_raw_parts(parts, num_parts) }
    };
    parts
        .iter()
        .map(|part| unsafe { slice(part.ptr, part.len) })
        .collect()
}

/// Host `sg_vfs_read_at`.
#[no_mangle]
pub unsafe extern "C" fn sg_vfs_read_at(
    path: *const c_char,
    len: usize,
    offset: u64,
    buf: *mut u8,
    buf_len: usize,
    out_read: *mut usize,
) -> sg_status {
    unsafe { *out_read = 0 };
    let out = if buf.is_null() || buf_len == 0 {
        &mut [][..]
    } else {
        unsafe { std::slice::from_raw_parts_mut(buf, buf_len) }
    };
    unsafe {
        on_path(path, len, false, |s, path| {
            let read = s.read_at(path, offset, out)?;
            *out_read = read;
            Ok(())
        })
    }
}

/// Host `sg_vfs_file_size`.
#[no_mangle]
pub unsafe extern "C" fn sg_vfs_file_size(
    path: *const c_char,
    len: usize,
    out_size: *mut u64,
) -> sg_status {
    unsafe { *out_size = 0 };
    unsafe {
        on_path(path, len, false, |s, path| {
            *out_size = s.file_size(path)?;
            Ok(())
        })
    }
}

/// Host `sg_vfs_list_dir`: the callback runs after the listing, with the
/// storage back in place.
#[no_mangle]
pub unsafe extern "C" fn sg_vfs_list_dir(
    path: *const c_char,
    len: usize,
    ctx: *mut c_void,
    f: sys::sg_dirent_fn,
) -> sg_status {
    let mut entries = Vec::new();
    let result = unsafe {
        on_path(path, len, true, |s, path| {
            entries = s.list_dir(path)?;
            Ok(())
        })
    };
    for entry in &entries {
        let is_dir = entry.kind == EntryKind::Dir;
        let name = &entry.name;
        unsafe { f(ctx, name.as_ptr().cast(), name.len(), c_int::from(is_dir)) };
    }
    result
}

/// Host `sg_vfs_remove`: a file, or an empty directory.
#[no_mangle]
pub unsafe extern "C" fn sg_vfs_remove(path: *const c_char, len: usize) -> sg_status {
    unsafe { on_path(path, len, false, |s, path| s.remove(path)) }
}

/// Host `sg_vfs_rename`: refuses an existing target, as the shim does.
#[no_mangle]
pub unsafe extern "C" fn sg_vfs_rename(
    from: *const c_char,
    from_len: usize,
    to: *const c_char,
    to_len: usize,
) -> sg_status {
    let result = with_storage(|storage| {
        let (from, to) = unsafe { (checked(from, from_len, false)?, checked(to, to_len, false)?) };
        storage.rename(from, to).map_err(status_of)
    });
    result.err().unwrap_or(sys::SG_OK)
}

/// Host `sg_vfs_sync`: the storage's sync (`syncfs` for a directory).
#[no_mangle]
pub extern "C" fn sg_vfs_sync() -> sg_status {
    let result = with_storage(|s| {
        count(|s| s.syncs += 1);
        s.sync().map_err(status_of)
    });
    result.err().unwrap_or(sys::SG_OK)
}

/*****************
 ** RTC, timer **
 *****************/

/// The RTC's reading of `unix` seconds (the core's calendar code).
pub fn rtc_time(unix: u64) -> sg_rtc_time {
    let t = DateTime::from_unix(unix);
    sg_rtc_time {
        year: t.year,
        month: t.month,
        day: t.day,
        hour: t.hour,
        minute: t.minute,
        second: t.second,
        microsecond: 0,
    }
}

/// Host `sg_rtc_now`: the system clock.
#[no_mangle]
pub unsafe extern "C" fn sg_rtc_now(out: *mut sg_rtc_time) -> sg_status {
    let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
        return sys::SG_ERR_IO;
    };
    let mut t = rtc_time(now.as_secs());
    t.microsecond = now.subsec_micros();
    unsafe { *out = t };
    sys::SG_OK
}

/// Host `sg_timer_elapsed_us`.
#[no_mangle]
pub extern "C" fn sg_timer_elapsed_us() -> u64 {
    let start = START.with(|s| {
        if s.get().is_none() {
            s.set(Some(Instant::now()));
        }
        s.get()
    });
    start.map(|s| s.elapsed().as_micros() as u64).unwrap_or(0)
}

/// Host `sg_timer_sleep_us`.
#[no_mangle]
pub extern "C" fn sg_timer_sleep_us(us: u64) {
    std::thread::sleep(std::time::Duration::from_micros(us));
}

/// A one-line description for test failure messages.
pub fn describe() -> String {
    let vfs = VFS_NAME.with(|n| n.borrow().clone());
    format!("host component, {vfs}, {:?}", stats())
}

#[cfg(test)]
mod tests {
    use super::*;
    use genode::vfs::{DirEntry, Vfs};
    use genode::Error;
    use snapper_core::MemStorage;
    use std::fs;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("genode-host-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn config_attributes_of_the_top_node() {
        let xml = "<?xml version=\"1.0\"?>\n<!-- c --><config verbose=\"yes\" bufsize='4K'>\n<vfs><fs/></vfs></config>";
        assert_eq!(
            top_attributes(xml).unwrap(),
            [
                ("verbose".to_string(), "yes".to_string()),
                ("bufsize".to_string(), "4K".to_string())
            ]
        );
        assert_eq!(top_attributes("<config/>").unwrap(), []);
        assert_eq!(top_attributes("no xml"), None);
        assert_eq!(top_attributes("<config a=\"unterminated>"), None);

        let dir = temp_dir("config");
        install("<config tests=\"7\" verbose=\"no\"/>", &dir);
        assert_eq!(
            genode::config::attribute("tests").unwrap().as_deref(),
            Some("7")
        );
        assert_eq!(genode::config::attribute("missing").unwrap(), None);
        install("garbage", &dir);
        assert_eq!(genode::config::attributes(), Err(Error::Unavailable));
    }

    #[test]
    fn vfs_maps_onto_a_host_directory() {
        let dir = temp_dir("vfs");
        install("<config/>", &dir);
        vfs_behaves_like_genodes();
    }

    #[test]
    fn vfs_maps_onto_an_installed_storage() {
        install_storage("<config/>", Box::new(MemStorage::new()));
        vfs_behaves_like_genodes();
    }

    /// A storage whose every call fails with one error.
    struct Failing(StorageError);

    impl Storage for Failing {
        fn create_dir(&mut self, _: &str) -> Result<(), StorageError> {
            Err(self.0)
        }
        fn write_new_file(&mut self, _: &str, _: &[&[u8]]) -> Result<(), StorageError> {
            Err(self.0)
        }
        fn write_at(&mut self, _: &str, _: u64, _: &[&[u8]]) -> Result<(), StorageError> {
            Err(self.0)
        }
        fn read_at(&mut self, _: &str, _: u64, _: &mut [u8]) -> Result<usize, StorageError> {
            Err(self.0)
        }
        fn file_size(&mut self, _: &str) -> Result<u64, StorageError> {
            Err(self.0)
        }
        fn list_dir(&mut self, _: &str) -> Result<Vec<snapper_core::DirEntry>, StorageError> {
            Err(self.0)
        }
        fn remove(&mut self, _: &str) -> Result<(), StorageError> {
            Err(self.0)
        }
        fn rename(&mut self, _: &str, _: &str) -> Result<(), StorageError> {
            Err(self.0)
        }
        fn sync(&mut self) -> Result<(), StorageError> {
            Err(self.0)
        }
    }

    /// Every storage error crosses the ABI as its own status, on every call.
    #[test]
    fn every_storage_error_crosses_the_abi_as_its_status() {
        let cases = [
            (StorageError::NotFound, Error::NotFound),
            (StorageError::AlreadyExists, Error::Exists),
            (StorageError::NotEmpty, Error::NotEmpty),
            (StorageError::WrongKind, Error::WrongKind),
            (StorageError::NoSpace, Error::NoSpace),
            (StorageError::Io, Error::Io),
        ];
        for (error, expected) in cases {
            install_storage("<config/>", Box::new(Failing(error)));
            let mut vfs = Vfs::init().unwrap();
            let mut buf = [0u8; 4];
            let got = [
                vfs.create_dir("a"),
                vfs.write_new("a", &[b"x"]),
                vfs.write_at("a", 0, &[b"x"]),
                vfs.read_at("a", 0, &mut buf).map(drop),
                vfs.file_size("a").map(drop),
                vfs.list_dir("").map(drop),
                vfs.remove("a"),
                vfs.rename("a", "b"),
                vfs.sync(),
            ];
            assert_eq!(got, [Err(expected); 9], "{error:?}");
            assert_eq!(stats().files_written, 0);
            assert_eq!(stats().writes_in_place, 0);
        }
    }

    fn vfs_behaves_like_genodes() {
        let mut vfs = Vfs::init().unwrap();
        vfs.create_dir("a").unwrap();
        assert_eq!(vfs.create_dir("a"), Err(Error::Exists));
        assert_eq!(vfs.create_dir("x/y"), Err(Error::NotFound));
        vfs.write_new("a/f", &[b"he", b"llo"]).unwrap();
        assert_eq!(vfs.write_new("a/f", &[b"x"]), Err(Error::Exists));
        let mut buf = [0u8; 8];
        assert_eq!(vfs.read_at("a/f", 1, &mut buf), Ok(4));
        assert_eq!(&buf[..4], b"ello");
        assert_eq!(vfs.read_at("a/f", 99, &mut buf), Ok(0));
        assert_eq!(vfs.read_at("a", 0, &mut buf), Err(Error::WrongKind));
        assert_eq!(vfs.file_size("a/f"), Ok(5));
        assert_eq!(vfs.file_size("a"), Err(Error::WrongKind));
        assert_eq!(vfs.file_size("nope"), Err(Error::NotFound));
        assert_eq!(
            vfs.list_dir(""),
            Ok(std::vec![DirEntry {
                name: "a".into(),
                is_dir: true
            }])
        );
        assert_eq!(vfs.list_dir("a/f"), Err(Error::WrongKind));
        assert_eq!(vfs.remove("a"), Err(Error::NotEmpty));
        vfs.write_new("a/g", &[]).unwrap();
        assert_eq!(vfs.rename("a/f", "a/g"), Err(Error::Exists));
        vfs.rename("a/f", "a/h").unwrap();
        assert_eq!(vfs.read_at("a/h", 0, &mut buf), Ok(5));
        assert_eq!(vfs.write_new("/abs", &[]), Err(Error::Invalid));
        assert_eq!(vfs.write_new("a//b", &[]), Err(Error::Invalid));
        assert_eq!(vfs.write_new(&"n".repeat(600), &[]), Err(Error::Invalid));
        assert_eq!(stats().files_written, 2);
        vfs.sync().unwrap();
        assert_eq!(stats().syncs, 1);
        vfs.write_at("a/h", 1, &[b"EL", b"L"]).unwrap();
        vfs.write_at("a/h", 7, &[b"!"]).unwrap();
        assert_eq!(vfs.read_at("a/h", 0, &mut buf), Ok(8));
        assert_eq!(&buf, b"hELLo\0\0!");
        assert_eq!(vfs.write_at("a", 0, &[b"x"]), Err(Error::WrongKind));
        assert_eq!(vfs.write_at("nope", 0, &[b"x"]), Err(Error::NotFound));
        assert_eq!(vfs.write_at("/abs", 0, &[b"x"]), Err(Error::Invalid));
        assert_eq!(stats().writes_in_place, 2);
        vfs.remove("a/g").unwrap();
        vfs.remove("a/h").unwrap();
        vfs.remove("a").unwrap();
        assert_eq!(vfs.list_dir(""), Ok(std::vec![]));
        assert_eq!(vfs.write_new("nodir/f", &[b"x"]), Err(Error::NotFound));
        assert_eq!(vfs.remove("gone"), Err(Error::NotFound));
        assert_eq!(vfs.rename("gone", "other"), Err(Error::NotFound));
    }

    #[test]
    fn vfs_needs_init() {
        let dir = temp_dir("noinit");
        install("<config/>", &dir);
        // a handle of the previous component: the new one has no VFS yet
        let mut vfs = Vfs::init().unwrap();
        install("<config/>", &dir);
        assert_eq!(vfs.create_dir("a"), Err(Error::Unavailable));
        install("<config/>", &dir.join("missing"));
        assert_eq!(Vfs::init().unwrap_err(), Error::Unavailable);
    }

    #[test]
    fn civil_time_matches_known_dates() {
        let t = rtc_time(0);
        assert_eq!((t.year, t.month, t.day, t.hour), (1970, 1, 1, 0));
        // 2024-02-29T12:34:56Z, a leap day
        let t = rtc_time(1_709_210_096);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2024, 2, 29, 12, 34, 56)
        );
        let now = genode::rtc::now().unwrap();
        assert!(now.year >= 2024 && (1..=12).contains(&now.month));
    }

    #[test]
    fn log_lines_are_kept_per_thread() {
        let dir = temp_dir("log");
        install("<config/>", &dir);
        genode::log_info!("hello {}", 1);
        genode::log_error!("bad");
        assert_eq!(
            log_lines(),
            [
                (Level::Info, "hello 1".to_string()),
                (Level::Error, "bad".to_string())
            ]
        );
    }
}
