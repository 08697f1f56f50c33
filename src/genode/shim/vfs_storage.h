/*
 * \brief  The component's VFS as Snapper's storage: files by path
 * \date   2026-11-26
 *
 * Owns the VFS built from the config's <vfs> node, the root-directory
 * handle it syncs through, and the handles of files written but not yet
 * closed. Paths come from Rust as (pointer, length), relative to the root.
 */

#ifndef _SHIM__VFS_STORAGE_H_
#define _SHIM__VFS_STORAGE_H_

/* Genode includes */
#include <util/noncopyable.h>
#include <vfs/simple_env.h>

/* Snapper includes */
#include "types.h"
#include "zeroing_allocator.h"


class Snapper::Vfs_storage : Noncopyable
{
	private:

		/*
		 * Noncopyable
		 */
		Vfs_storage(Vfs_storage const &);
		Vfs_storage &operator = (Vfs_storage const &);

		using Directory_service = Vfs::Directory_service;
		using File_io_service   = Vfs::File_io_service;
		using Stat              = Directory_service::Stat;
		using Dirent            = Directory_service::Dirent;
		using Path              = String<Vfs::MAX_PATH_LEN>;

		/* what the VFS and its plugins allocate from (see zeroing_allocator.h) */
		Zeroing_allocator _alloc;
		Vfs::Simple_env   _vfs_env;

		/* the handle 'sync' syncs through and '_barrier' reads, kept open */
		Vfs::Vfs_handle  *_root_dir = nullptr;

		/*
		 * Handles of files just written, closed in batches after one
		 * barrier (see '_barrier') instead of one round trip per file
		 */
		static constexpr unsigned MAX_PENDING = 32;

		Vfs::Vfs_handle *_pending[MAX_PENDING] { };
		unsigned         _num_pending = 0;

		Vfs::File_system &_fs() { return _vfs_env.root_dir(); }

		/* let the file-system server make progress on what we submitted */
		void _wait() { _vfs_env.io().commit_and_wait(); }

		static bool _is_file(Stat const &);

		sg_status _stat(Path const &, Stat &);
		sg_status _write_all(Vfs::Vfs_handle &, sg_u8 const *, sg_size_t);
		sg_status _open_for_writing(Path const &, unsigned mode, Vfs::Vfs_handle *&);
		sg_status _write_parts(Vfs::Vfs_handle &, sg_bytes const *, sg_size_t);
		sg_status _write_zeros(Vfs::Vfs_handle &, sg_u64);
		sg_status _read_some(Vfs::Vfs_handle &, sg_u64 at, sg_u8 *, sg_size_t,
		                     sg_size_t &out);
		sg_status _barrier();
		sg_status _flush_pending();
		sg_status _check_empty_dir(Path const &);

		template <typename FN>
		sg_status _for_each_entry(Vfs::Vfs_handle &dir, FN const &fn);

		/*
		 * Runs 'write' on the just opened 'handle', which joins the pending
		 * ones: it stays open until the next flush (see '_barrier'), or is
		 * flushed now if 'write' failed or the list is full.
		 */
		template <typename FN>
		sg_status _write_pending(Vfs::Vfs_handle &handle, FN const &write)
		{
			_pending[_num_pending++] = &handle;

			sg_status const written = write();

			if (written != SG_OK || _num_pending == MAX_PENDING) {
				sg_status const flushed = _flush_pending();
				return written != SG_OK ? written : flushed;
			}
			return SG_OK;
		}

		enum class Pending { FLUSH, KEEP };

		/*
		 * The prologue of every file operation: the absolute VFS path of
		 * Rust's path, refused if it does not fit rather than truncated;
		 * then, unless 'KEEP', the pending handles closed, so that the
		 * operation sees every file written before it.
		 */
		template <typename FN>
		sg_status _with_path(char const *p, sg_size_t len, Pending pending,
		                     FN const &fn)
		{
			/* "/" + path + terminating zero */
			if (len + 2 > Path::capacity())
				return SG_ERR_INVALID;

			/* "" is the root itself */
			Path const path("/", Cstring(p, len));

			if (pending == Pending::FLUSH)
				if (sg_status const s = _flush_pending(); s != SG_OK)
					return s;

			return fn(path);
		}

	public:

		Vfs_storage(Env &, Allocator &, Node const &vfs_config);

		bool root_opened() const { return _root_dir != nullptr; }

		sg_status create_dir(char const *p, sg_size_t len);

		sg_status write_new(char const *p, sg_size_t len,
		                    sg_bytes const *parts, sg_size_t num_parts);

		sg_status write_at(char const *p, sg_size_t len, sg_u64 offset,
		                   sg_bytes const *parts, sg_size_t num_parts);

		sg_status read_at(char const *p, sg_size_t len, sg_u64 offset,
		                  sg_u8 *buf, sg_size_t buf_len, sg_size_t &out_read);

		sg_status file_size(char const *p, sg_size_t len, sg_u64 &out_size);

		sg_status list_dir(char const *p, sg_size_t len, void *ctx, sg_dirent_fn fn);

		sg_status remove(char const *p, sg_size_t len);

		sg_status rename(char const *f, sg_size_t f_len, char const *t, sg_size_t t_len);

		sg_status sync();
};

#endif /* _SHIM__VFS_STORAGE_H_ */
