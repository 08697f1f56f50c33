//! Monotonic time and sleeping (a `Timer` session).

use crate::sys;

/// Microseconds since the component first used the timer.
pub fn elapsed_us() -> u64 {
    // SAFETY: no arguments.
    unsafe { sys::sg_timer_elapsed_us() }
}

/// Blocks the component for `us` microseconds.
pub fn sleep_us(us: u64) {
    // SAFETY: no arguments besides a plain integer.
    unsafe { sys::sg_timer_sleep_us(us) }
}
