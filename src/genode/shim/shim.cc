/*
 * \brief  Genode side of Snapper's C ABI (see snapper_genode.h)
 * \date   2026-11-24
 *
 * Everything a no_std Rust component needs from Genode, behind plain C
 * functions: log, exit, heap, config, VFS, RTC, timer, and the Snapper
 * session as server and as client. No C++ exception leaves this file; each
 * entry point catches and answers with an 'sg_status'.
 *
 * Written for Genode 26.02: 'Node' for the config (XML or HID), the VFS in
 * 'Genode::Vfs', 'Root_component::_create_session' answering a
 * 'Create_result' instead of throwing.
 */

/* Genode includes */
#include <base/attached_ram_dataspace.h>
#include <base/attached_rom_dataspace.h>
#include <base/component.h>
#include <base/heap.h>
#include <base/log.h>
#include <base/rpc_server.h>
#include <base/sleep.h>
#include <root/component.h>
#include <rtc_session/connection.h>
#include <timer_session/connection.h>
#include <util/reconstructible.h>
#include <vfs/simple_env.h>

/* Snapper includes */
#include <snapper_session/connection.h>
#include "snapper_genode.h"
#include "zeroing_allocator.h"

namespace Snapper {

	using namespace Genode;

	struct Session_component;
	struct Root;
	struct Main;

	using Vfs_path = String<Vfs::MAX_PATH_LEN>;
}


/*
 * Rust owns every decision; the session component only forwards each RPC
 * with its shared buffer to the callbacks given to 'sg_serve'.
 */
struct Snapper::Session_component : Rpc_object<Session>
{
	sg_session_ops const   &_ops;
	sg_u64           const  _id;
	Attached_ram_dataspace  _buffer;

	Session_component(Env &env, sg_session_ops const &ops, sg_u64 id,
	                  size_t bufsize)
	:
		_ops(ops), _id(id), _buffer(env.ram(), env.rm(), bufsize)
	{ }

	~Session_component() { _ops.session_closed(_ops.ctx, _id); }

	sg_u8 *_buf() { return _buffer.local_addr<sg_u8>(); }

	static Result _result(sg_u32 value) { return Result(value); }

	static sg_size_t _name_len(Generation_name const &name)
	{
		/* 'length' counts the terminating zero */
		return name.length() ? name.length() - 1 : 0;
	}

	Dataspace_capability _dataspace() override { return _buffer.cap(); }

	Result init_snapshot() override {
		return _result(_ops.init_snapshot(_ops.ctx, _id)); }

	Result _take_snapshot(size_t size, Archive::ArchiveKey id) override {
		return _result(_ops.take_snapshot(_ops.ctx, _id, _buf(), _buffer.size(),
		                                  size, id)); }

	Result commit_snapshot() override {
		return _result(_ops.commit_snapshot(_ops.ctx, _id)); }

	Result open_generation(Generation_name const &name) override {
		return _result(_ops.open_generation(_ops.ctx, _id, name.string(),
		                                    _name_len(name))); }

	Result _restore(size_t size, Archive::ArchiveKey id) override {
		return _result(_ops.restore(_ops.ctx, _id, _buf(), _buffer.size(),
		                            size, id)); }

	Result close_generation() override {
		return _result(_ops.close_generation(_ops.ctx, _id)); }

	Result purge(Generation_name const &name) override {
		return _result(_ops.purge(_ops.ctx, _id, name.string(), _name_len(name))); }

	Result purge_expired() override {
		return _result(_ops.purge_expired(_ops.ctx, _id)); }

	Result purge_zombies() override {
		return _result(_ops.purge_zombies(_ops.ctx, _id)); }

	Result _take_batch() override {
		return _result(_ops.take_batch(_ops.ctx, _id, _buf(), _buffer.size())); }

	Result _restore_batch() override {
		return _result(_ops.restore_batch(_ops.ctx, _id, _buf(), _buffer.size())); }
};


struct Snapper::Root : Root_component<Session_component>
{
	Env                  &_env;
	sg_session_ops const &_ops;
	size_t         const  _bufsize;
	sg_u64                _next_id = 1;

	Create_result _create_session(char const *) override
	{
		/*
		 * The dataspace constructor still reports exhaustion by exception;
		 * turn it into the 26.02 result type.
		 */
		try {
			return _alloc_obj(_env, _ops, _next_id++, _bufsize);
		}
		catch (Out_of_ram)  { return Create_error::INSUFFICIENT_RAM; }
		catch (Out_of_caps) { return Create_error::INSUFFICIENT_CAPS; }
		catch (...)         { return Create_error::DENIED; }
	}

	Root(Env &env, Allocator &md_alloc, sg_session_ops const &ops, size_t bufsize)
	:
		Root_component<Session_component>(env.ep(), md_alloc),
		_env(env), _ops(ops), _bufsize(bufsize)
	{ }
};


struct Snapper::Main
{
	Env &_env;

	Heap _heap { _env.ram(), _env.rm() };

	/* what the VFS and its plugins allocate from (see zeroing_allocator.h) */
	Zeroing_allocator _vfs_alloc { _heap };

	/*
	 * Every service is opened on first use: a client needs no Rtc, the
	 * server no Snapper session, and since 25.05 a denied session request
	 * ends the component.
	 */
	Constructible<Attached_rom_dataspace> _config { };
	Constructible<Vfs::Simple_env>        _vfs    { };
	Vfs::Vfs_handle                      *_root_dir = nullptr;

	/*
	 * Handles of files just written, closed in batches after one barrier
	 * (see '_barrier') instead of one round trip per file
	 */
	enum { MAX_PENDING = 32 };
	Vfs::Vfs_handle *_pending[MAX_PENDING] { };
	unsigned         _num_pending = 0;
	Constructible<Rtc::Connection>        _rtc    { };
	Constructible<Timer::Connection>      _timer  { };
	Constructible<Root>                   _root   { };
	Constructible<Snapper::Connection>    _client { };

	Main(Env &env) : _env(env) { }

	Main(Main const &) = delete;
	Main &operator = (Main const &) = delete;

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

	Vfs::Env::Io &io() { return _vfs->io(); }

	Vfs::File_system &fs() { return _vfs->root_dir(); }
};


static Snapper::Main *_main_ptr;


/*
 * The Rust code runs deep call chains (postcard, blake3) on the entrypoint;
 * the default 64 KiB stack is too tight for that.
 */
Genode::size_t Component::stack_size() { return 256*1024; }


void Component::construct(Genode::Env &env)
{
	static Snapper::Main main { env };
	_main_ptr = &main;

	sg_component_construct();
}


/*****************
 ** Helpers     **
 *****************/

namespace {

	using namespace Genode;
	using Snapper::Vfs_path;

	Snapper::Main &_main() { return *_main_ptr; }

	/*
	 * Absolute VFS path of a Rust path, or an invalid (empty) path if it does
	 * not fit, so that a long path is refused rather than truncated.
	 */
	Vfs_path _path(char const *path, sg_size_t len)
	{
		if (len + 2 > Vfs_path::capacity())
			return Vfs_path();
		return Vfs_path("/", Cstring(path, len));
	}

	bool _valid(Vfs_path const &path) { return path.length() > 1; }

	bool _vfs_ready() { return _main()._vfs.constructed(); }

	sg_status _stat(char const *path, Vfs::Directory_service::Stat &st)
	{
		switch (_main().fs().stat(path, st)) {
		case Vfs::Directory_service::STAT_OK:           return SG_OK;
		case Vfs::Directory_service::STAT_ERR_NO_ENTRY: return SG_ERR_NOT_FOUND;
		default:                                        return SG_ERR_IO;
		}
	}

	bool _is_file(Vfs::Directory_service::Stat const &st)
	{
		return st.type == Vfs::Node_type::CONTINUOUS_FILE
		    || st.type == Vfs::Node_type::TRANSACTIONAL_FILE;
	}

	sg_status _write_all(Vfs::Vfs_handle &handle, sg_u8 const *ptr, sg_size_t len)
	{
		while (len > 0) {
			size_t out = 0;
			Const_byte_range_ptr const src { (char const *)ptr, len };

			switch (handle.fs().write(&handle, src, out)) {
			case Vfs::File_io_service::WRITE_ERR_WOULD_BLOCK:
				_main().io().commit_and_wait();
				continue;
			case Vfs::File_io_service::WRITE_ERR_INVALID:
			case Vfs::File_io_service::WRITE_ERR_IO:
				return SG_ERR_IO;
			case Vfs::File_io_service::WRITE_OK:
				break;
			}
			out = min(out, len);
			if (out == 0)
				return SG_ERR_NO_SPACE;
			ptr += out;
			len -= out;
			handle.advance_seek(out);
		}
		return SG_OK;
	}

	/* one queued read, as 'Genode::Readonly_file::read' does it */
	sg_status _read_some(Vfs::Vfs_handle &handle, sg_u64 at, sg_u8 *buf,
	                     sg_size_t len, sg_size_t &out)
	{
		handle.seek(at);

		while (!handle.fs().queue_read(&handle, len))
			_main().io().commit_and_wait();

		for (;;) {
			Byte_range_ptr const dst { (char *)buf, len };
			switch (handle.fs().complete_read(&handle, dst, out)) {
			case Vfs::File_io_service::READ_QUEUED:
				_main().io().commit_and_wait();
				continue;
			case Vfs::File_io_service::READ_OK:
				if (out > len)
					return SG_ERR_IO;
				return SG_OK;
			default:
				return SG_ERR_IO;
			}
		}
	}

	/*
	 * Wait until the file-system server has processed every packet this
	 * component submitted so far, without a sync (which would flush
	 * lwext4's cache). The 'fs' plugin's writes are asynchronous packets,
	 * while 'close', 'rename' and 'unlink' are RPCs that can overtake them:
	 * a handle closed before its WRITE packets were processed loses the
	 * data. The server handles a session's packets in order, so the
	 * acknowledgement of one small read of the root directory implies that
	 * all earlier writes are done.
	 */
	sg_status _barrier()
	{
		Genode::Vfs::Vfs_handle *root = _main()._root_dir;
		if (!root)
			return SG_ERR_UNAVAILABLE;

		Genode::Vfs::Directory_service::Dirent dirent { };
		sg_size_t got = 0;
		return _read_some(*root, 0, (sg_u8 *)&dirent, sizeof(dirent), got);
	}

	/* SG_OK if directory 'path' has no entries but "." and "..", else SG_ERR_NOT_EMPTY */
	sg_status _check_empty_dir(Vfs_path const &path)
	{
		using D = Genode::Vfs::Directory_service;
		Genode::Vfs::Vfs_handle *handle = nullptr;
		if (_main().fs().opendir(path.string(), false, &handle, _main()._vfs_alloc) != D::OPENDIR_OK
		 || !handle)
			return SG_ERR_IO;

		Genode::Vfs::Vfs_handle::Guard guard(handle);

		for (sg_u64 i = 0;; i++) {
			D::Dirent dirent { };
			sg_size_t got = 0;
			sg_status const r = _read_some(*handle, i*sizeof(D::Dirent),
			                               (sg_u8 *)&dirent, sizeof(D::Dirent), got);
			if (r != SG_OK) return r;
			if (got < sizeof(D::Dirent) || dirent.type == D::Dirent_type::END)
				return SG_OK;
			dirent.sanitize();
			if (Genode::strcmp(dirent.name.buf, ".") && Genode::strcmp(dirent.name.buf, "..")
			 && dirent.name.buf[0])
				return SG_ERR_NOT_EMPTY;
		}
	}

	/* close the handles of files written since the last flush */
	sg_status _flush_pending()
	{
		Snapper::Main &main = _main();
		if (main._num_pending == 0)
			return SG_OK;

		sg_status const s = _barrier();
		for (unsigned i = 0; i < main._num_pending; i++) {
			main._pending[i]->close();
			main._pending[i] = nullptr;
		}
		main._num_pending = 0;
		return s;
	}

	template <typename FN>
	sg_status _guarded(FN const &fn)
	{
		try { return fn(); }
		catch (Out_of_ram)  { return SG_ERR_NO_MEMORY; }
		catch (Out_of_caps) { return SG_ERR_NO_MEMORY; }
		catch (...)         { return SG_ERR_IO; }
	}
}


/*************************
 ** Component lifecycle **
 *************************/

extern "C" void sg_log(sg_log_level level, char const *msg, sg_size_t len)
{
	try {
		Genode::Cstring const text(msg, len);
		switch (level) {
		case SG_LOG_WARNING: Genode::warning(text); break;
		case SG_LOG_ERROR:   Genode::error(text);   break;
		case SG_LOG_INFO:    Genode::log(text);     break;
		}
	} catch (...) { }
}


extern "C" void sg_exit(int code)
{
	try { _main()._env.parent().exit(code); } catch (...) { }
	Genode::sleep_forever();
}


/**********
 ** Heap **
 **********/

extern "C" void *sg_alloc(sg_size_t size)
{
	try {
		return _main()._heap.try_alloc(size).convert<void *>(
			[&] (Genode::Memory::Allocation &a) {
				/* ownership passes to Rust, which frees via 'sg_free' */
				a.deallocate = false;
				return a.ptr; },
			[&] (Genode::Alloc_error) -> void * { return nullptr; });
	} catch (...) { return nullptr; }
}


extern "C" void sg_free(void *ptr, sg_size_t size)
{
	try { _main()._heap.free(ptr, size); } catch (...) { }
}


/************
 ** Config **
 ************/

extern "C" sg_status sg_config_attributes(void *ctx, sg_attribute_fn fn)
{
	return _guarded([&] {
		Genode::Node const config = _main().config().node();
		if (config.type() == "empty")
			return SG_ERR_UNAVAILABLE;

		config.for_each_attribute([&] (Genode::Node::Attribute const &a) {
			fn(ctx, a.name.string(), a.name.length() ? a.name.length() - 1 : 0,
			   a.value.start, a.value.num_bytes); });
		return SG_OK;
	});
}


/*********
 ** VFS **
 *********/

extern "C" sg_status sg_vfs_init(void)
{
	return _guarded([&] {
		Snapper::Main &main = _main();
		if (main._vfs.constructed())
			return SG_OK;

		sg_status status = SG_ERR_UNAVAILABLE;
		main.config().node().with_optional_sub_node("vfs",
			[&] (Genode::Node const &vfs) {
				main._vfs.construct(main._env, main._vfs_alloc, vfs);
				status = SG_OK; });
		if (status != SG_OK)
			return status;

		/* the handle 'sg_vfs_sync' syncs through, kept open */
		if (main.fs().opendir("/", false, &main._root_dir, main._vfs_alloc)
		    != Genode::Vfs::Directory_service::OPENDIR_OK) {
			main._root_dir = nullptr;
			return SG_ERR_IO;
		}
		return SG_OK;
	});
}


extern "C" sg_status sg_vfs_create_dir(char const *p, sg_size_t p_len)
{
	return _guarded([&] {
		if (!_vfs_ready()) return SG_ERR_UNAVAILABLE;
		Vfs_path const path = _path(p, p_len);
		if (!_valid(path)) return SG_ERR_INVALID;

		using D = Genode::Vfs::Directory_service;
		Genode::Vfs::Vfs_handle *handle = nullptr;
		switch (_main().fs().opendir(path.string(), true, &handle, _main()._vfs_alloc)) {
		case D::OPENDIR_OK:                      break;
		case D::OPENDIR_ERR_LOOKUP_FAILED:       return SG_ERR_NOT_FOUND;
		case D::OPENDIR_ERR_NODE_ALREADY_EXISTS: return SG_ERR_EXISTS;
		case D::OPENDIR_ERR_NO_SPACE:            return SG_ERR_NO_SPACE;
		case D::OPENDIR_ERR_NAME_TOO_LONG:       return SG_ERR_INVALID;
		case D::OPENDIR_ERR_OUT_OF_RAM:
		case D::OPENDIR_ERR_OUT_OF_CAPS:         return SG_ERR_NO_MEMORY;
		case D::OPENDIR_ERR_PERMISSION_DENIED:   return SG_ERR_IO;
		}
		if (handle)
			handle->close();
		return SG_OK;
	});
}


extern "C" sg_status sg_vfs_write_new(char const *p, sg_size_t p_len,
                                      sg_bytes const *parts, sg_size_t num_parts)
{
	return _guarded([&] {
		if (!_vfs_ready()) return SG_ERR_UNAVAILABLE;
		Vfs_path const path = _path(p, p_len);
		if (!_valid(path)) return SG_ERR_INVALID;

		using D = Genode::Vfs::Directory_service;
		Genode::Vfs::Vfs_handle *handle = nullptr;
		unsigned const mode = D::OPEN_MODE_WRONLY | D::OPEN_MODE_CREATE;
		switch (_main().fs().open(path.string(), mode, &handle, _main()._vfs_alloc)) {
		case D::OPEN_OK:                break;
		case D::OPEN_ERR_EXISTS:        return SG_ERR_EXISTS;
		case D::OPEN_ERR_UNACCESSIBLE:  return SG_ERR_NOT_FOUND;
		case D::OPEN_ERR_NO_SPACE:      return SG_ERR_NO_SPACE;
		case D::OPEN_ERR_NAME_TOO_LONG: return SG_ERR_INVALID;
		case D::OPEN_ERR_OUT_OF_RAM:
		case D::OPEN_ERR_OUT_OF_CAPS:   return SG_ERR_NO_MEMORY;
		case D::OPEN_ERR_NO_PERM:       return SG_ERR_IO;
		}
		if (!handle)
			return SG_ERR_IO;

		/*
		 * Deliberately no sync here: a snapshot of N objects must cost a
		 * few flushes of the lwext4 cache, not N ('sg_vfs_sync'). The
		 * handle stays open until the next flush of pending handles, which
		 * every other VFS call but 'create_dir' does first.
		 */
		Snapper::Main &main = _main();
		main._pending[main._num_pending++] = handle;

		sg_status written = SG_OK;
		for (sg_size_t i = 0; i < num_parts && written == SG_OK; i++)
			written = _write_all(*handle, parts[i].ptr, parts[i].len);

		if (written != SG_OK || main._num_pending == Snapper::Main::MAX_PENDING) {
			sg_status const flushed = _flush_pending();
			return written != SG_OK ? written : flushed;
		}
		return SG_OK;
	});
}


extern "C" sg_status sg_vfs_read_at(char const *p, sg_size_t p_len, sg_u64 offset,
                                    sg_u8 *buf, sg_size_t len, sg_size_t *out_read)
{
	return _guarded([&] {
		*out_read = 0;
		if (!_vfs_ready()) return SG_ERR_UNAVAILABLE;
		Vfs_path const path = _path(p, p_len);
		if (!_valid(path)) return SG_ERR_INVALID;

		sg_status const flushed = _flush_pending();
		if (flushed != SG_OK) return flushed;

		using D = Genode::Vfs::Directory_service;
		Genode::Vfs::Vfs_handle *handle = nullptr;
		switch (_main().fs().open(path.string(), D::OPEN_MODE_RDONLY, &handle,
		                          _main()._vfs_alloc)) {
		case D::OPEN_OK: break;
		case D::OPEN_ERR_UNACCESSIBLE: {
			/* only now ask why, to keep the common case at one RPC */
			Genode::Vfs::Directory_service::Stat st { };
			sg_status const s = _stat(path.string(), st);
			if (s != SG_OK) return s;
			return _is_file(st) ? SG_ERR_IO : SG_ERR_WRONG_KIND;
		}
		case D::OPEN_ERR_OUT_OF_RAM:
		case D::OPEN_ERR_OUT_OF_CAPS:  return SG_ERR_NO_MEMORY;
		default:                       return SG_ERR_IO;
		}
		if (!handle)
			return SG_ERR_IO;

		Genode::Vfs::Vfs_handle::Guard guard(handle);

		/*
		 * A short answer to a request this small means the end of the file:
		 * the 'fs' plugin serves up to half its packet buffer (64 KiB by
		 * default) in one packet, local plugins serve it whole. Stopping
		 * there saves the round trip that would read 0 bytes.
		 */
		enum { SHORT_READ_IS_EOF = 16*1024 };

		sg_size_t total = 0;
		while (total < len) {
			sg_size_t const want = len - total;
			sg_size_t got = 0;
			sg_status const r = _read_some(*handle, offset + total, buf + total,
			                               want, got);
			if (r != SG_OK) return r;
			if (got == 0) break;
			total += got;
			if (got < want && want <= SHORT_READ_IS_EOF) break;
		}
		*out_read = total;
		return SG_OK;
	});
}


extern "C" sg_status sg_vfs_file_size(char const *p, sg_size_t p_len, sg_u64 *out_size)
{
	return _guarded([&] {
		*out_size = 0;
		if (!_vfs_ready()) return SG_ERR_UNAVAILABLE;
		if (sg_status const flushed = _flush_pending(); flushed != SG_OK) return flushed;
		Vfs_path const path = _path(p, p_len);
		if (!_valid(path)) return SG_ERR_INVALID;

		Genode::Vfs::Directory_service::Stat st { };
		sg_status const s = _stat(path.string(), st);
		if (s != SG_OK) return s;
		if (!_is_file(st)) return SG_ERR_WRONG_KIND;
		*out_size = st.size;
		return SG_OK;
	});
}


extern "C" sg_status sg_vfs_list_dir(char const *p, sg_size_t p_len,
                                     void *ctx, sg_dirent_fn fn)
{
	return _guarded([&] {
		if (!_vfs_ready()) return SG_ERR_UNAVAILABLE;
		if (sg_status const flushed = _flush_pending(); flushed != SG_OK) return flushed;
		/* "" is the root itself */
		Vfs_path const path = p_len ? _path(p, p_len) : Vfs_path("/");
		if (p_len && !_valid(path)) return SG_ERR_INVALID;

		using D = Genode::Vfs::Directory_service;
		Genode::Vfs::Vfs_handle *handle = nullptr;
		switch (_main().fs().opendir(path.string(), false, &handle, _main()._vfs_alloc)) {
		case D::OPENDIR_OK: break;
		case D::OPENDIR_ERR_LOOKUP_FAILED: {
			/* tell "is a file" apart from "does not exist" */
			Genode::Vfs::Directory_service::Stat st { };
			return (_stat(path.string(), st) == SG_OK) ? SG_ERR_WRONG_KIND
			                                           : SG_ERR_NOT_FOUND;
		}
		case D::OPENDIR_ERR_OUT_OF_RAM:
		case D::OPENDIR_ERR_OUT_OF_CAPS: return SG_ERR_NO_MEMORY;
		default:                         return SG_ERR_IO;
		}
		if (!handle)
			return SG_ERR_IO;

		Genode::Vfs::Vfs_handle::Guard guard(handle);

		using Dirent = D::Dirent;
		for (sg_u64 i = 0;; i++) {
			Dirent dirent { };
			sg_size_t got = 0;
			sg_status const r = _read_some(*handle, i*sizeof(Dirent),
			                               (sg_u8 *)&dirent, sizeof(Dirent), got);
			if (r != SG_OK) return r;
			if (got < sizeof(Dirent) || dirent.type == D::Dirent_type::END)
				break;
			dirent.sanitize();

			Genode::size_t const name_len = Genode::strlen(dirent.name.buf);
			if (name_len == 0)
				continue;
			/* some plugins list the directory itself and its parent */
			if (!Genode::strcmp(dirent.name.buf, ".") || !Genode::strcmp(dirent.name.buf, ".."))
				continue;
			fn(ctx, dirent.name.buf, name_len,
			   dirent.type == D::Dirent_type::DIRECTORY ? 1 : 0);
		}
		return SG_OK;
	});
}


extern "C" sg_status sg_vfs_remove(char const *p, sg_size_t p_len)
{
	return _guarded([&] {
		if (!_vfs_ready()) return SG_ERR_UNAVAILABLE;
		Vfs_path const path = _path(p, p_len);
		if (sg_status const flushed = _flush_pending(); flushed != SG_OK) return flushed;
		if (!_valid(path)) return SG_ERR_INVALID;

		/*
		 * Genode's <ram/> file system unlinks a directory with all its
		 * content. Snapper relies on "only if empty" to keep files that
		 * later generations still use, so check first.
		 */
		Genode::Vfs::Directory_service::Stat st { };
		sg_status const found = _stat(path.string(), st);
		if (found != SG_OK) return found;
		if (st.type == Genode::Vfs::Node_type::DIRECTORY) {
			sg_status const empty = _check_empty_dir(path);
			if (empty != SG_OK) return empty;
		}

		using D = Genode::Vfs::Directory_service;
		switch (_main().fs().unlink(path.string())) {
		case D::UNLINK_OK:            return SG_OK;
		case D::UNLINK_ERR_NO_ENTRY:  return SG_ERR_NOT_FOUND;
		case D::UNLINK_ERR_NOT_EMPTY: return SG_ERR_NOT_EMPTY;
		case D::UNLINK_ERR_NO_PERM:   return SG_ERR_IO;
		}
		return SG_ERR_IO;
	});
}


extern "C" sg_status sg_vfs_rename(char const *f, sg_size_t f_len,
                                   char const *t, sg_size_t t_len)
{
	return _guarded([&] {
		if (!_vfs_ready()) return SG_ERR_UNAVAILABLE;
		Vfs_path const from = _path(f, f_len);
		if (sg_status const flushed = _flush_pending(); flushed != SG_OK) return flushed;
		Vfs_path const to   = _path(t, t_len);
		if (!_valid(from) || !_valid(to)) return SG_ERR_INVALID;

		/*
		 * The lwext4 plugin unlinks an existing target before renaming, so
		 * "rename over" is not atomic there; refuse it instead.
		 */
		Genode::Vfs::Directory_service::Stat st { };
		if (_stat(to.string(), st) == SG_OK)
			return SG_ERR_EXISTS;

		using D = Genode::Vfs::Directory_service;
		switch (_main().fs().rename(from.string(), to.string())) {
		case D::RENAME_OK:           return SG_OK;
		case D::RENAME_ERR_NO_ENTRY: return SG_ERR_NOT_FOUND;
		case D::RENAME_ERR_CROSS_FS:
		case D::RENAME_ERR_NO_PERM:  return SG_ERR_IO;
		}
		return SG_ERR_IO;
	});
}


extern "C" sg_status sg_vfs_sync(void)
{
	return _guarded([&] {
		if (!_vfs_ready() || !_main()._root_dir) return SG_ERR_UNAVAILABLE;

		if (sg_status const flushed = _flush_pending(); flushed != SG_OK) return flushed;
		/*
		 * A sync through any handle makes lwext4 flush its whole cache, and
		 * the fs plugin forwards a directory sync to the server, so one sync
		 * of the root covers every file written since the last one.
		 */
		Genode::Vfs::Vfs_handle &handle = *_main()._root_dir;
		while (!handle.fs().queue_sync(&handle))
			_main().io().commit_and_wait();

		for (;;) {
			switch (handle.fs().complete_sync(&handle)) {
			case Genode::Vfs::File_io_service::SYNC_QUEUED:
				_main().io().commit_and_wait();
				continue;
			case Genode::Vfs::File_io_service::SYNC_OK:
				return SG_OK;
			case Genode::Vfs::File_io_service::SYNC_ERR_INVALID:
				return SG_ERR_IO;
			}
		}
	});
}


/*****************
 ** RTC, timer **
 *****************/

extern "C" sg_status sg_rtc_now(sg_rtc_time *out)
{
	return _guarded([&] {
		Snapper::Main &main = _main();
		if (!main._rtc.constructed())
			main._rtc.construct(main._env);

		Rtc::Timestamp const ts = main._rtc->current_time();
		*out = sg_rtc_time { .year = ts.year, .month = ts.month, .day = ts.day,
		                     .hour = ts.hour, .minute = ts.minute,
		                     .second = ts.second, .microsecond = ts.microsecond };
		return SG_OK;
	});
}


extern "C" sg_u64 sg_timer_elapsed_us(void)
{
	try { return _main().timer().elapsed_us(); } catch (...) { return 0; }
}


extern "C" void sg_timer_sleep_us(sg_u64 us)
{
	try { _main().timer().usleep(us); } catch (...) { }
}


/*****************************************
 ** Snapper session, server side        **
 *****************************************/

extern "C" sg_status sg_serve(sg_session_ops const *ops, sg_size_t bufsize)
{
	return _guarded([&] {
		Snapper::Main &main = _main();
		if (main._root.constructed())
			return SG_ERR_EXISTS;
		if (!ops || bufsize == 0)
			return SG_ERR_INVALID;

		main._root.construct(main._env, main._heap, *ops, bufsize);
		main._env.parent().announce(main._env.ep().manage(*main._root));
		return SG_OK;
	});
}


/*****************************************
 ** Snapper session, client side        **
 *****************************************/

extern "C" sg_status sg_client_open(void)
{
	return _guarded([&] {
		Snapper::Main &main = _main();
		if (!main._client.constructed())
			main._client.construct(main._env);
		return SG_OK;
	});
}


extern "C" sg_status sg_client_buffer(sg_u8 **out_ptr, sg_size_t *out_len)
{
	return _guarded([&] {
		*out_ptr = nullptr;
		*out_len = 0;
		Snapper::Main &main = _main();
		if (!main._client.constructed())
			return SG_ERR_UNAVAILABLE;
		Genode::Byte_range_ptr const buf = main._client->buffer();
		*out_ptr = (sg_u8 *)buf.start;
		*out_len = buf.num_bytes;
		return SG_OK;
	});
}


extern "C" sg_u32 sg_client_call(sg_rpc rpc, sg_size_t size, sg_u64 id,
                                 char const *name, sg_size_t name_len)
{
	try {
		Snapper::Main &main = _main();
		if (!main._client.constructed())
			return SG_RESULT_NO_SESSION;

		Snapper::Session_client &s = *main._client;
		Snapper::Generation_name const gen { Genode::Cstring(name, name ? name_len : 0) };

		switch (rpc) {
		case SG_RPC_INIT_SNAPSHOT:    return s.init_snapshot();
		case SG_RPC_TAKE_SNAPSHOT:    return s._take_snapshot(size, id);
		case SG_RPC_COMMIT_SNAPSHOT:  return s.commit_snapshot();
		case SG_RPC_OPEN_GENERATION:  return s.open_generation(gen);
		case SG_RPC_RESTORE:          return s._restore(size, id);
		case SG_RPC_CLOSE_GENERATION: return s.close_generation();
		case SG_RPC_PURGE:            return s.purge(gen);
		case SG_RPC_PURGE_EXPIRED:    return s.purge_expired();
		case SG_RPC_PURGE_ZOMBIES:    return s.purge_zombies();
		case SG_RPC_TAKE_BATCH:       return s._take_batch();
		case SG_RPC_RESTORE_BATCH:    return s._restore_batch();
		}
		return SG_RESULT_NO_SESSION;
	}
	catch (...) { return SG_RESULT_NO_SESSION; }
}


extern "C" void sg_client_close(void)
{
	try { _main()._client.destruct(); } catch (...) { }
}


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
