/*
 * \brief  Symbols Rust's precompiled libraries need and ld.lib.so lacks
 * \date   2026-11-26
 */

/* Genode includes */
#include <base/log.h>
#include <base/sleep.h>
#include <util/string.h>

/* Snapper includes */
#include "snapper_genode.h"


/*
 * Rust's precompiled 'core' calls 'memcmp' and 'bcmp', which Genode's
 * ld.lib.so does not export (it has memcpy, memmove, memset). Weak, so a
 * libc linked into the same component wins.
 */
extern "C" __attribute__((weak)) int memcmp(void const *a, void const *b, sg_size_t n)
{
	return Genode::memcmp(a, b, n);
}

extern "C" __attribute__((weak)) int bcmp(void const *a, void const *b, sg_size_t n)
{
	return Genode::memcmp(a, b, n);
}


/*
 * The precompiled 'alloc' crate refers to Rust's unwinding personality from
 * its unwind tables. Our Rust code is built with panic=abort and no C++
 * exception passes through a Rust frame (every 'sg_*' function catches), so
 * it is never called; it only has to link.
 */
extern "C" __attribute__((weak)) void rust_eh_personality()
{
	Genode::error("rust_eh_personality called, which panic=abort rules out");
	Genode::sleep_forever();
}
