/*
 * \brief  The component's VFS as Snapper's storage, and its C entry points
 * \date   2026-11-26
 */

/* Snapper includes */
#include "main.h"

using namespace Snapper;


Vfs_storage::Vfs_storage(Env &env, Allocator &alloc, Node const &vfs_config)
:
	_alloc(alloc), _vfs_env(env, _alloc, vfs_config)
{
	if (_fs().opendir("/", false, &_root_dir, _alloc) != Directory_service::OPENDIR_OK)
		_root_dir = nullptr;
}


bool Vfs_storage::_is_file(Stat const &st)
{
	return st.type == Vfs::Node_type::CONTINUOUS_FILE
	    || st.type == Vfs::Node_type::TRANSACTIONAL_FILE;
}


sg_status Vfs_storage::_stat(Path const &path, Stat &st)
{
	switch (_fs().stat(path.string(), st)) {
	case Directory_service::STAT_OK:           return SG_OK;
	case Directory_service::STAT_ERR_NO_ENTRY: return SG_ERR_NOT_FOUND;
	default:                                   return SG_ERR_IO;
	}
}


sg_status Vfs_storage::_write_all(Vfs::Vfs_handle &handle, sg_u8 const *ptr, sg_size_t len)
{
	while (len > 0) {
		size_t out = 0;
		Const_byte_range_ptr const src { (char const *)ptr, len };

		switch (handle.fs().write(&handle, src, out)) {
		case File_io_service::WRITE_ERR_WOULD_BLOCK:
			_wait();
			continue;
		case File_io_service::WRITE_ERR_INVALID:
		case File_io_service::WRITE_ERR_IO:
			return SG_ERR_IO;
		case File_io_service::WRITE_OK:
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


/* 'handle' opened with 'mode', or why not */
sg_status Vfs_storage::_open_for_writing(Path const &path, unsigned mode,
                                         Vfs::Vfs_handle *&handle)
{
	using D = Directory_service;
	switch (_fs().open(path.string(), mode, &handle, _alloc)) {
	case D::OPEN_OK:                break;
	case D::OPEN_ERR_EXISTS:        return SG_ERR_EXISTS;
	case D::OPEN_ERR_UNACCESSIBLE:  return SG_ERR_NOT_FOUND;
	case D::OPEN_ERR_NO_SPACE:      return SG_ERR_NO_SPACE;
	case D::OPEN_ERR_NAME_TOO_LONG: return SG_ERR_INVALID;
	case D::OPEN_ERR_OUT_OF_RAM:
	case D::OPEN_ERR_OUT_OF_CAPS:   return SG_ERR_NO_MEMORY;
	case D::OPEN_ERR_NO_PERM:       return SG_ERR_IO;
	}
	return handle ? SG_OK : SG_ERR_IO;
}


sg_status Vfs_storage::_write_parts(Vfs::Vfs_handle &handle, sg_bytes const *parts,
                                     sg_size_t num_parts)
{
	for (sg_size_t i = 0; i < num_parts; i++)
		if (sg_status const s = _write_all(handle, parts[i].ptr, parts[i].len); s != SG_OK)
			return s;
	return SG_OK;
}


/* 'count' zeros at the handle's seek position, a block at a time */
sg_status Vfs_storage::_write_zeros(Vfs::Vfs_handle &handle, sg_u64 count)
{
	static sg_u8 const zeros[4096] { };

	while (count > 0) {
		sg_size_t const chunk = (sg_size_t)min(count, (sg_u64)sizeof(zeros));
		if (sg_status const s = _write_all(handle, zeros, chunk); s != SG_OK)
			return s;
		count -= chunk;
	}
	return SG_OK;
}


/* one queued read, as 'Genode::Readonly_file::read' does it */
sg_status Vfs_storage::_read_some(Vfs::Vfs_handle &handle, sg_u64 at, sg_u8 *buf,
                                  sg_size_t len, sg_size_t &out)
{
	handle.seek(at);

	while (!handle.fs().queue_read(&handle, len))
		_wait();

	for (;;) {
		Byte_range_ptr const dst { (char *)buf, len };
		switch (handle.fs().complete_read(&handle, dst, out)) {
		case File_io_service::READ_QUEUED:
			_wait();
			continue;
		case File_io_service::READ_OK:
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
 * component submitted so far, without a sync (which would flush lwext4's
 * cache). The 'fs' plugin's writes are asynchronous packets, while 'close',
 * 'rename' and 'unlink' are RPCs that can overtake them: a handle closed
 * before its WRITE packets were processed loses the data. The server
 * handles a session's packets in order, so the acknowledgement of one small
 * read of the root directory implies that all earlier writes are done.
 */
sg_status Vfs_storage::_barrier()
{
	if (!_root_dir)
		return SG_ERR_UNAVAILABLE;

	Dirent dirent { };
	sg_size_t got = 0;
	return _read_some(*_root_dir, 0, (sg_u8 *)&dirent, sizeof(dirent), got);
}


/* close the handles of files written since the last flush */
sg_status Vfs_storage::_flush_pending()
{
	if (_num_pending == 0)
		return SG_OK;

	sg_status const s = _barrier();
	for (unsigned i = 0; i < _num_pending; i++) {
		_pending[i]->close();
		_pending[i] = nullptr;
	}
	_num_pending = 0;
	return s;
}


/*
 * Calls 'fn(name, is_dir)' for each entry of the open directory 'dir' but
 * "." and ".." (some plugins list the directory itself and its parent) and
 * nameless ones, until 'fn' answers false.
 */
template <typename FN>
sg_status Vfs_storage::_for_each_entry(Vfs::Vfs_handle &dir, FN const &fn)
{
	for (sg_u64 i = 0;; i++) {
		Dirent dirent { };
		sg_size_t got = 0;
		sg_status const r = _read_some(dir, i*sizeof(Dirent),
		                               (sg_u8 *)&dirent, sizeof(Dirent), got);
		if (r != SG_OK) return r;
		if (got < sizeof(Dirent) || dirent.type == Directory_service::Dirent_type::END)
			return SG_OK;
		dirent.sanitize();

		char const * const name = dirent.name.buf;
		if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (!fn(name, dirent.type == Directory_service::Dirent_type::DIRECTORY))
			return SG_OK;
	}
}


/* SG_OK if directory 'path' has no entries, else SG_ERR_NOT_EMPTY */
sg_status Vfs_storage::_check_empty_dir(Path const &path)
{
	Vfs::Vfs_handle *handle = nullptr;
	if (_fs().opendir(path.string(), false, &handle, _alloc) != Directory_service::OPENDIR_OK
	 || !handle)
		return SG_ERR_IO;

	Vfs::Vfs_handle::Guard guard(handle);

	bool empty = true;
	sg_status const s = _for_each_entry(*handle, [&] (char const *, bool) {
		empty = false;
		return false; });

	return (s != SG_OK) ? s : empty ? SG_OK : SG_ERR_NOT_EMPTY;
}


/* keeps the pending handles: a new directory touches none of those files */
sg_status Vfs_storage::create_dir(char const *p, sg_size_t len)
{
	return _with_path(p, len, Pending::KEEP, [&] (Path const &path) {

		using D = Directory_service;
		Vfs::Vfs_handle *handle = nullptr;
		switch (_fs().opendir(path.string(), true, &handle, _alloc)) {
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


sg_status Vfs_storage::write_new(char const *p, sg_size_t len,
                                 sg_bytes const *parts, sg_size_t num_parts)
{
	/* this file's handle joins the pending ones */
	return _with_path(p, len, Pending::KEEP, [&] (Path const &path) {

		using D = Directory_service;
		Vfs::Vfs_handle *handle = nullptr;
		unsigned const mode = D::OPEN_MODE_WRONLY | D::OPEN_MODE_CREATE;
		if (sg_status const s = _open_for_writing(path, mode, handle); s != SG_OK)
			return s;

		/*
		 * Deliberately no sync here: a snapshot of N objects must cost a
		 * few flushes of the lwext4 cache, not N ('sync'). The handle stays
		 * open until the next flush of pending handles, which every other
		 * operation but 'create_dir' does first.
		 */
		return _write_pending(*handle, [&] {
			return _write_parts(*handle, parts, num_parts); });
	});
}


/*
 * Flushes the pending handles first, so that this write lands after every
 * earlier write (the same file may be among them); its own handle then
 * joins the pending ones as a new file's does.
 */
sg_status Vfs_storage::write_at(char const *p, sg_size_t len, sg_u64 offset,
                                sg_bytes const *parts, sg_size_t num_parts)
{
	return _with_path(p, len, Pending::FLUSH, [&] (Path const &path) {

		/*
		 * The size is needed before writing: the lwext4 plugin refuses a
		 * write that starts past the end of the file, and through the 'fs'
		 * plugin that refusal would come back in a packet nobody reads. A
		 * gap is therefore written as zeros first. The stat also tells
		 * "missing" from "a directory" without a failed open.
		 */
		Stat st { };
		if (sg_status const s = _stat(path, st); s != SG_OK)
			return s;
		if (!_is_file(st))
			return SG_ERR_WRONG_KIND;

		sg_size_t total = 0;
		for (sg_size_t i = 0; i < num_parts; i++)
			total += parts[i].len;
		if (total == 0)
			return SG_OK;

		/* no CREATE: the file is there, and opening does not truncate it */
		Vfs::Vfs_handle *handle = nullptr;
		unsigned const mode = Directory_service::OPEN_MODE_WRONLY;
		if (sg_status const s = _open_for_writing(path, mode, handle); s != SG_OK)
			return s;

		return _write_pending(*handle, [&] {
			if (offset > st.size) {
				handle->seek(st.size);
				if (sg_status const s = _write_zeros(*handle, offset - st.size); s != SG_OK)
					return s;
			}
			handle->seek(offset);
			return _write_parts(*handle, parts, num_parts); });
	});
}


sg_status Vfs_storage::read_at(char const *p, sg_size_t len, sg_u64 offset,
                               sg_u8 *buf, sg_size_t buf_len, sg_size_t &out_read)
{
	out_read = 0;
	return _with_path(p, len, Pending::FLUSH, [&] (Path const &path) {

		using D = Directory_service;
		Vfs::Vfs_handle *handle = nullptr;
		switch (_fs().open(path.string(), D::OPEN_MODE_RDONLY, &handle, _alloc)) {
		case D::OPEN_OK: break;
		case D::OPEN_ERR_UNACCESSIBLE: {
			/* only now ask why, to keep the common case at one RPC */
			Stat st { };
			sg_status const s = _stat(path, st);
			if (s != SG_OK) return s;
			return _is_file(st) ? SG_ERR_IO : SG_ERR_WRONG_KIND;
		}
		case D::OPEN_ERR_OUT_OF_RAM:
		case D::OPEN_ERR_OUT_OF_CAPS:  return SG_ERR_NO_MEMORY;
		default:                       return SG_ERR_IO;
		}
		if (!handle)
			return SG_ERR_IO;

		Vfs::Vfs_handle::Guard guard(handle);

		/*
		 * A short answer to a request this small means the end of the
		 * file: the 'fs' plugin serves up to half its packet buffer (64 KiB
		 * by default) in one packet, local plugins serve it whole. Stopping
		 * there saves the round trip that would read 0 bytes.
		 */
		enum { SHORT_READ_IS_EOF = 16*1024 };

		sg_size_t total = 0;
		while (total < buf_len) {
			sg_size_t const want = buf_len - total;
			sg_size_t got = 0;
			sg_status const r = _read_some(*handle, offset + total, buf + total,
			                               want, got);
			if (r != SG_OK) return r;
			if (got == 0) break;
			total += got;
			if (got < want && want <= SHORT_READ_IS_EOF) break;
		}
		out_read = total;
		return SG_OK;
	});
}


sg_status Vfs_storage::file_size(char const *p, sg_size_t len, sg_u64 &out_size)
{
	out_size = 0;
	return _with_path(p, len, Pending::FLUSH, [&] (Path const &path) {

		Stat st { };
		sg_status const s = _stat(path, st);
		if (s != SG_OK) return s;
		if (!_is_file(st)) return SG_ERR_WRONG_KIND;
		out_size = st.size;
		return SG_OK;
	});
}


sg_status Vfs_storage::list_dir(char const *p, sg_size_t len, void *ctx, sg_dirent_fn fn)
{
	return _with_path(p, len, Pending::FLUSH, [&] (Path const &path) {

		using D = Directory_service;
		Vfs::Vfs_handle *handle = nullptr;
		switch (_fs().opendir(path.string(), false, &handle, _alloc)) {
		case D::OPENDIR_OK: break;
		case D::OPENDIR_ERR_LOOKUP_FAILED: {
			/* tell "is a file" apart from "does not exist" */
			Stat st { };
			return (_stat(path, st) == SG_OK) ? SG_ERR_WRONG_KIND
			                                  : SG_ERR_NOT_FOUND;
		}
		case D::OPENDIR_ERR_OUT_OF_RAM:
		case D::OPENDIR_ERR_OUT_OF_CAPS: return SG_ERR_NO_MEMORY;
		default:                         return SG_ERR_IO;
		}
		if (!handle)
			return SG_ERR_IO;

		Vfs::Vfs_handle::Guard guard(handle);

		return _for_each_entry(*handle, [&] (char const *name, bool is_dir) {
			fn(ctx, name, strlen(name), is_dir ? 1 : 0);
			return true; });
	});
}


sg_status Vfs_storage::remove(char const *p, sg_size_t len)
{
	return _with_path(p, len, Pending::FLUSH, [&] (Path const &path) {

		/*
		 * Genode's <ram/> file system unlinks a directory with all its
		 * content. Snapper relies on "only if empty" to keep files that
		 * later generations still use, so check first.
		 */
		Stat st { };
		sg_status const found = _stat(path, st);
		if (found != SG_OK) return found;
		if (st.type == Vfs::Node_type::DIRECTORY) {
			sg_status const empty = _check_empty_dir(path);
			if (empty != SG_OK) return empty;
		}

		using D = Directory_service;
		switch (_fs().unlink(path.string())) {
		case D::UNLINK_OK:            return SG_OK;
		case D::UNLINK_ERR_NO_ENTRY:  return SG_ERR_NOT_FOUND;
		case D::UNLINK_ERR_NOT_EMPTY: return SG_ERR_NOT_EMPTY;
		case D::UNLINK_ERR_NO_PERM:   return SG_ERR_IO;
		}
		return SG_ERR_IO;
	});
}


sg_status Vfs_storage::rename(char const *f, sg_size_t f_len, char const *t, sg_size_t t_len)
{
	return _with_path(f, f_len, Pending::FLUSH, [&] (Path const &from) {
		return _with_path(t, t_len, Pending::KEEP, [&] (Path const &to) {

			/*
			 * The lwext4 plugin unlinks an existing target before renaming,
			 * so "rename over" is not atomic there; refuse it instead.
			 */
			Stat st { };
			if (_stat(to, st) == SG_OK)
				return SG_ERR_EXISTS;

			using D = Directory_service;
			switch (_fs().rename(from.string(), to.string())) {
			case D::RENAME_OK:           return SG_OK;
			case D::RENAME_ERR_NO_ENTRY: return SG_ERR_NOT_FOUND;
			case D::RENAME_ERR_CROSS_FS:
			case D::RENAME_ERR_NO_PERM:  return SG_ERR_IO;
			}
			return SG_ERR_IO;
		});
	});
}


sg_status Vfs_storage::sync()
{
	if (!_root_dir)
		return SG_ERR_UNAVAILABLE;

	if (sg_status const flushed = _flush_pending(); flushed != SG_OK)
		return flushed;

	/*
	 * A sync through any handle makes lwext4 flush its whole cache, and the
	 * fs plugin forwards a directory sync to the server, so one sync of the
	 * root covers every file written since the last one.
	 */
	Vfs::Vfs_handle &handle = *_root_dir;
	while (!handle.fs().queue_sync(&handle))
		_wait();

	for (;;) {
		switch (handle.fs().complete_sync(&handle)) {
		case File_io_service::SYNC_QUEUED:
			_wait();
			continue;
		case File_io_service::SYNC_OK:
			return SG_OK;
		case File_io_service::SYNC_ERR_INVALID:
			return SG_ERR_IO;
		}
	}
}


/*******************
 ** C entry points **
 *******************/

namespace {

	/* 'fn' on the VFS, which 'sg_vfs_init' must have built */
	template <typename FN>
	sg_status with_vfs(FN const &fn)
	{
		return guarded([&] { return main().with_vfs(fn); });
	}
}


extern "C" sg_status sg_vfs_init(void)
{
	return guarded([&] { return main().init_vfs(); });
}


extern "C" sg_status sg_vfs_create_dir(char const *p, sg_size_t p_len)
{
	return with_vfs([&] (Vfs_storage &vfs) { return vfs.create_dir(p, p_len); });
}


extern "C" sg_status sg_vfs_write_new(char const *p, sg_size_t p_len,
                                      sg_bytes const *parts, sg_size_t num_parts)
{
	return with_vfs([&] (Vfs_storage &vfs) {
		return vfs.write_new(p, p_len, parts, num_parts); });
}


extern "C" sg_status sg_vfs_write_at(char const *p, sg_size_t p_len, sg_u64 offset,
                                     sg_bytes const *parts, sg_size_t num_parts)
{
	return with_vfs([&] (Vfs_storage &vfs) {
		return vfs.write_at(p, p_len, offset, parts, num_parts); });
}


extern "C" sg_status sg_vfs_read_at(char const *p, sg_size_t p_len, sg_u64 offset,
                                    sg_u8 *buf, sg_size_t len, sg_size_t *out_read)
{
	*out_read = 0;
	return with_vfs([&] (Vfs_storage &vfs) {
		return vfs.read_at(p, p_len, offset, buf, len, *out_read); });
}


extern "C" sg_status sg_vfs_file_size(char const *p, sg_size_t p_len, sg_u64 *out_size)
{
	*out_size = 0;
	return with_vfs([&] (Vfs_storage &vfs) {
		return vfs.file_size(p, p_len, *out_size); });
}


extern "C" sg_status sg_vfs_list_dir(char const *p, sg_size_t p_len,
                                     void *ctx, sg_dirent_fn fn)
{
	return with_vfs([&] (Vfs_storage &vfs) { return vfs.list_dir(p, p_len, ctx, fn); });
}


extern "C" sg_status sg_vfs_remove(char const *p, sg_size_t p_len)
{
	return with_vfs([&] (Vfs_storage &vfs) { return vfs.remove(p, p_len); });
}


extern "C" sg_status sg_vfs_rename(char const *f, sg_size_t f_len,
                                   char const *t, sg_size_t t_len)
{
	return with_vfs([&] (Vfs_storage &vfs) { return vfs.rename(f, f_len, t, t_len); });
}


extern "C" sg_status sg_vfs_sync(void)
{
	return with_vfs([&] (Vfs_storage &vfs) { return vfs.sync(); });
}
