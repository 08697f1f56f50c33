/*
 * \brief  Allocator that hands out zeroed memory, for the VFS plugins
 * \date   2026-11-26
 *
 * The lwext4 VFS plugin (genode-world, src/lib/vfs/lwext4/block.cc) takes
 * its 'Block_device' from 'vfs_env.alloc().alloc(sizeof ...)' and sets only
 * some members: 'ext4_blockdev_iface.lock' and '.unlock' stay whatever the
 * heap block held before, and lwext4 calls them if they are not null. On a
 * fresh heap they are zero; once the component has freed memory that the
 * VFS then reuses, they are garbage: snapperbench, whose VFS is built after
 * its Snapper steps, jumped to address 1 in 'ext4_bdif_unlock' during
 * 'ext4_mount' (seen on Genode 26.02 base-linux with HINTS=yes). Zeroing
 * every block the VFS and its plugins get makes such members null, as they
 * would be on a fresh heap; it costs a memset per VFS allocation, a few
 * per file operation and the cache once.
 */

#ifndef _SNAPPER__ZEROING_ALLOCATOR_H_
#define _SNAPPER__ZEROING_ALLOCATOR_H_

#include <base/allocator.h>
#include <util/string.h>

namespace Snapper { struct Zeroing_allocator; }


struct Snapper::Zeroing_allocator : Genode::Allocator
{
	Genode::Allocator &_alloc;

	Zeroing_allocator(Genode::Allocator &alloc) : _alloc(alloc) { }

	Alloc_result try_alloc(Genode::size_t size) override
	{
		return _alloc.try_alloc(size).convert<Alloc_result>(
			[&] (Allocation &a) -> Alloc_result {
				/* ownership passes to the result below */
				a.deallocate = false;
				Genode::bzero(a.ptr, size);
				return { *this, { a.ptr, size } };
			},
			[&] (Genode::Alloc_error e) -> Alloc_result { return e; });
	}

	void _free(Allocation &a) override { free(a.ptr, a.num_bytes); }

	void free(void *ptr, Genode::size_t size) override { _alloc.free(ptr, size); }

	Genode::size_t consumed() const override { return _alloc.consumed(); }

	Genode::size_t overhead(Genode::size_t size) const override {
		return _alloc.overhead(size); }

	bool need_size_for_free() const override { return _alloc.need_size_for_free(); }
};

#endif /* _SNAPPER__ZEROING_ALLOCATOR_H_ */
