/*
 * \brief  Genode side of Snapper's C ABI (see snapper_genode.h): start-up
 * \date   2026-11-24
 *
 * Everything a no_std Rust component needs from Genode, behind plain C
 * functions: log, exit, heap, config, RTC and timer here; the VFS in
 * vfs_storage.cc, symbols Rust's libraries need in libc_stubs.cc. (The
 * Snapper session's server and client are in src/session/shim.) No C++
 * exception leaves the shim; each entry point catches and answers with an
 * 'sg_status'.
 *
 * Written for Genode 26.02: 'Node' for the config (XML or HID), the VFS in
 * 'Genode::Vfs', 'Root_component::_create_session' answering a
 * 'Create_result' instead of throwing.
 */

/* Snapper includes */
#include "main.h"

using namespace Snapper;


sg_status Main::init_vfs()
{
	if (_vfs.constructed())
		return SG_OK;

	sg_status status = SG_ERR_UNAVAILABLE;
	config().node().with_optional_sub_node("vfs", [&] (Node const &vfs) {
		_vfs.construct(_env, _heap, vfs);
		status = _vfs->root_opened() ? SG_OK : SG_ERR_IO; });
	return status;
}


/*
 * The C entry points are free functions; this is how they reach the
 * component's one 'Main'.
 */
static Main *_main_ptr;

Main &Snapper::main() { return *_main_ptr; }


/*
 * The Rust code runs deep call chains (postcard, blake3) on the entrypoint;
 * the default 64 KiB stack is too tight for that.
 */
Genode::size_t Component::stack_size() { return 256*1024; }


void Component::construct(Genode::Env &env)
{
	static Main main { env };
	_main_ptr = &main;

	sg_component_construct();
}


/*************************
 ** Component lifecycle **
 *************************/

extern "C" void sg_log(sg_log_level level, char const *msg, sg_size_t len)
{
	try {
		Cstring const text(msg, len);
		switch (level) {
		case SG_LOG_WARNING: warning(text); break;
		case SG_LOG_ERROR:   error(text);   break;
		case SG_LOG_INFO:    log(text);     break;
		}
	} catch (...) { }
}


extern "C" void sg_exit(int code)
{
	try { main().exit(code); } catch (...) { }
	sleep_forever();
}


/**********
 ** Heap **
 **********/

extern "C" void *sg_alloc(sg_size_t size)
{
	try {
		return main().heap().try_alloc(size).convert<void *>(
			[&] (Memory::Allocation &a) {
				/* ownership passes to Rust, which frees via 'sg_free' */
				a.deallocate = false;
				return a.ptr; },
			[&] (Alloc_error) -> void * { return nullptr; });
	} catch (...) { return nullptr; }
}


extern "C" void sg_free(void *ptr, sg_size_t size)
{
	try { main().heap().free(ptr, size); } catch (...) { }
}


/************
 ** Config **
 ************/

extern "C" sg_status sg_config_attributes(void *ctx, sg_attribute_fn fn)
{
	return guarded([&] {
		Node const config = main().config().node();
		if (config.type() == "empty")
			return SG_ERR_UNAVAILABLE;

		config.for_each_attribute([&] (Node::Attribute const &a) {
			fn(ctx, a.name.string(), a.name.length() ? a.name.length() - 1 : 0,
			   a.value.start, a.value.num_bytes); });
		return SG_OK;
	});
}


/****************
 ** RTC, timer **
 ****************/

extern "C" sg_status sg_rtc_now(sg_rtc_time *out)
{
	return guarded([&] {
		Rtc::Timestamp const ts = main().rtc().current_time();
		*out = sg_rtc_time { .year = ts.year, .month = ts.month, .day = ts.day,
		                     .hour = ts.hour, .minute = ts.minute,
		                     .second = ts.second, .microsecond = ts.microsecond };
		return SG_OK;
	});
}


extern "C" sg_u64 sg_timer_elapsed_us(void)
{
	try { return main().timer().elapsed_us(); } catch (...) { return 0; }
}


extern "C" void sg_timer_sleep_us(sg_u64 us)
{
	try { main().timer().usleep(us); } catch (...) { }
}
