//! Feature `runtime`: what a no_std Rust component needs from its runtime
//! on Genode: a global allocator over the component's heap and a panic
//! handler.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::fmt::Write;

use crate::log::{self, Level, LineBuffer};
use crate::sys;

/// Genode's `Heap` hands out 16-byte aligned blocks.
const HEAP_ALIGN: usize = 16;

/// `GlobalAlloc` over `Genode::Heap` (via `sg_alloc`/`sg_free`).
pub struct GenodeHeap;

// Larger alignments are rare (page-aligned buffers); they over-allocate and
// keep the heap's pointer in the word before the aligned block.
const WORD: usize = core::mem::size_of::<usize>();

unsafe impl GlobalAlloc for GenodeHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let size = layout.size().max(1);
        if layout.align() <= HEAP_ALIGN {
            // SAFETY: plain allocation.
            return unsafe { sys::sg_alloc(size) }.cast();
        }
        let Some(total) = size.checked_add(layout.align() + WORD) else {
            return core::ptr::null_mut();
        };
        // SAFETY: plain allocation.
        let raw = unsafe { sys::sg_alloc(total) }.cast::<u8>();
        if raw.is_null() {
            return raw;
        }
        let aligned =
            ((raw as usize + WORD + layout.align() - 1) & !(layout.align() - 1)) as *mut u8;
        // SAFETY: `aligned - WORD >= raw`, inside the block, word-aligned
        // because `aligned` is aligned to more than a word.
        unsafe { aligned.cast::<usize>().sub(1).write(raw as usize) };
        aligned
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let size = layout.size().max(1);
        if layout.align() <= HEAP_ALIGN {
            // SAFETY: `ptr` came from `sg_alloc(size)`.
            unsafe { sys::sg_free(ptr.cast::<c_void>(), size) };
            return;
        }
        // SAFETY: written by `alloc` right before the aligned block.
        let raw = unsafe { ptr.cast::<usize>().sub(1).read() } as *mut c_void;
        let total = size + layout.align() + WORD;
        unsafe { sys::sg_free(raw, total) };
    }
}

#[global_allocator]
static HEAP: GenodeHeap = GenodeHeap;

/// Logs the panic as one error line and ends the component with exit value
/// 101 (Rust's convention for a panicked program). Nothing unwinds: the
/// build uses panic=abort, and no Rust frame is left to unwind into C++.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut line = LineBuffer::new();
    let _ = write!(line, "panic: {info}");
    log::raw(Level::Error, line.as_str());
    crate::exit(101)
}
