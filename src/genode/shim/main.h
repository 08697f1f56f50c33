/*
 * \brief  The component: what the shim holds for the Rust code
 * \date   2026-11-26
 */

#ifndef _SHIM__MAIN_H_
#define _SHIM__MAIN_H_

/* Genode includes */
#include <base/attached_rom_dataspace.h>
#include <base/component.h>
#include <base/heap.h>
#include <rtc_session/connection.h>
#include <timer_session/connection.h>
#include <util/reconstructible.h>

/* Snapper includes */
#include "vfs_storage.h"


struct Snapper::Main : Noncopyable
{
	Env &_env;

	Heap _heap { _env.ram(), _env.rm() };

	/*
	 * Every service is opened on first use: a client needs no Rtc, and
	 * since 25.05 a denied session request ends the component. (A session
	 * protocol's shim keeps its own services, e.g. src/session/shim.)
	 */
	Constructible<Attached_rom_dataspace> _config { };
	Constructible<Vfs_storage>            _vfs    { };
	Constructible<Rtc::Connection>        _rtc    { };
	Constructible<Timer::Connection>      _timer  { };

	Main(Env &env) : _env(env) { }

	Attached_rom_dataspace &config()
	{
		if (!_config.constructed())
			_config.construct(_env, "config");
		return *_config;
	}

	Timer::Connection &timer()
	{
		if (!_timer.constructed())
			_timer.construct(_env);
		return *_timer;
	}

	Rtc::Connection &rtc()
	{
		if (!_rtc.constructed())
			_rtc.construct(_env);
		return *_rtc;
	}

	Env &env() { return _env; }

	Heap &heap() { return _heap; }

	void exit(int code) { _env.parent().exit(code); }

	/* builds the VFS from the config's <vfs> node, once */
	sg_status init_vfs();

	template <typename FN>
	sg_status with_vfs(FN const &fn)
	{
		return _vfs.constructed() ? fn(*_vfs) : SG_ERR_UNAVAILABLE;
	}
};

#endif /* _SHIM__MAIN_H_ */
