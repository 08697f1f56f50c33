/*
 * \brief  Client-side Snapper session interface
 * \date   2026-11-24
 */

#ifndef _INCLUDE__SNAPPER_SESSION__CLIENT_H_
#define _INCLUDE__SNAPPER_SESSION__CLIENT_H_

#include <base/attached_dataspace.h>
#include <base/mutex.h>
#include <base/rpc_client.h>
#include <util/misc_math.h>
#include <util/string.h>
#include <snapper_session/snapper_session.h>

namespace Snapper { class Session_client; }


class Snapper::Session_client : public Genode::Rpc_client<Session>
{
	private:

		using Local_rm = Genode::Local::Constrained_region_map;

		/* payload buffer shared with the server */
		Genode::Attached_dataspace _io_buffer;

		/* the buffer carries one payload at a time */
		Genode::Mutex _mutex { };

	public:

		Session_client(Local_rm &local_rm, Genode::Capability<Session> cap)
		:
			Genode::Rpc_client<Session>(cap),
			_io_buffer(local_rm, call<Rpc_dataspace>())
		{ }

		/**
		 * Size of the shared buffer, the largest payload the server accepts
		 */
		Genode::size_t buffer_size() const { return _io_buffer.size(); }

		/**
		 * Direct access to the shared buffer, for clients that produce the
		 * payload in place and call '_take_snapshot' themselves
		 */
		Genode::Byte_range_ptr buffer() const { return _io_buffer.bytes(); }

		Genode::Dataspace_capability _dataspace() override {
			return call<Rpc_dataspace>(); }

		Result init_snapshot() override {
			return call<Rpc_init_snapshot>(); }

		Result _take_snapshot(Genode::size_t size, Archive::ArchiveKey id) override {
			return call<Rpc_take_snapshot>(size, id); }

		/**
		 * Store 'size' bytes at 'payload' as object 'id'
		 *
		 * A payload larger than the shared buffer is refused here, before it
		 * could overrun the buffer (2.0 copied it regardless).
		 */
		Result take_snapshot(void const *payload, Genode::size_t size,
		                     Archive::ArchiveKey id)
		{
			if (size > _io_buffer.size())
				return PayloadTooLarge;

			Genode::Mutex::Guard guard(_mutex);
			Genode::memcpy(_io_buffer.local_addr<void>(), payload, size);
			return call<Rpc_take_snapshot>(size, id);
		}

		Result commit_snapshot() override {
			return call<Rpc_commit_snapshot>(); }

		Result open_generation(Generation_name const &generation = "") override {
			return call<Rpc_open_generation>(generation); }

		Result _restore(Genode::size_t size, Archive::ArchiveKey id) override {
			return call<Rpc_restore>(size, id); }

		/**
		 * Copy object 'id' to 'dest', at most 'size' bytes
		 */
		Result restore(void *dest, Genode::size_t size, Archive::ArchiveKey id)
		{
			Genode::Mutex::Guard guard(_mutex);
			Result const result = call<Rpc_restore>(size, id);
			if (result == Ok)
				Genode::memcpy(dest, _io_buffer.local_addr<void>(),
				               Genode::min(size, _io_buffer.size()));
			return result;
		}

		Result close_generation() override {
			return call<Rpc_close_generation>(); }

		Result purge(Generation_name const &generation = "") override {
			return call<Rpc_purge>(generation); }

		Result purge_expired() override {
			return call<Rpc_purge_expired>(); }

		Result purge_zombies() override {
			return call<Rpc_purge_zombies>(); }
};

#endif /* _INCLUDE__SNAPPER_SESSION__CLIENT_H_ */
