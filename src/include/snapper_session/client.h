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

namespace Snapper { class Session_client; class Take_batch; }


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

		Result _take_batch() override {
			return call<Rpc_take_batch>(); }

		Result _restore_batch() override {
			return call<Rpc_restore_batch>(); }

		/**
		 * The reply header the server left in the buffer
		 */
		Batch_reply batch_reply(Result result) const
		{
			Batch::Header const &h = *_io_buffer.local_addr<Batch::Header const>();
			bool const reply = _io_buffer.size() >= sizeof(h)
			                && h.magic == Batch::MAGIC && (h.kind & Batch::KIND_REPLY);
			return { result, reply ? h.done : 0, reply ? h.failed : Batch::NONE };
		}

		/**
		 * Take the batch already in the shared buffer (see 'Take_batch')
		 */
		Batch_reply take_batch()
		{
			Genode::Mutex::Guard guard(_mutex);
			return batch_reply(call<Rpc_take_batch>());
		}

		/**
		 * Restore the objects 'ids[0..count)': as many as fit come back in
		 * the buffer, read them with 'restored'. Records from 'done' on
		 * (and after 'failed') were not restored: ask again for them.
		 */
		Batch_reply restore_batch(Archive::ArchiveKey const *ids, unsigned count)
		{
			Genode::size_t const table = sizeof(Batch::Header)
			                           + Genode::size_t(count)*sizeof(Batch::Record);
			if (count == 0 || table > _io_buffer.size())
				return { BufferTooSmall, 0, Batch::NONE };

			Genode::Mutex::Guard guard(_mutex);
			Batch::Header &h = *_io_buffer.local_addr<Batch::Header>();
			Batch::Record *r = (Batch::Record *)(&h + 1);
			for (unsigned i = 0; i < count; i++)
				r[i] = { ids[i], 0, 0, 0, 0 };
			h = { Batch::MAGIC, Batch::VERSION, Batch::KIND_RESTORE, count,
			      sizeof(Batch::Header), 0, 0, 0, 0 };
			return batch_reply(call<Rpc_restore_batch>());
		}

		/**
		 * Record 'n' of the last restore reply; 'payload' points into the
		 * shared buffer. False if the reply names bytes outside the buffer.
		 */
		bool restored(unsigned n, Batch::Record &record, void const *&payload) const
		{
			Genode::size_t const size = _io_buffer.size();
			Genode::size_t const at = sizeof(Batch::Header) + Genode::size_t(n)*sizeof(Batch::Record);
			if (at + sizeof(Batch::Record) > size)
				return false;
			record = *(Batch::Record const *)(_io_buffer.local_addr<char const>() + at);
			if (Genode::size_t(record.offset) + record.size > size)
				return false;
			payload = _io_buffer.local_addr<char const>() + record.offset;
			return true;
		}
};


/**
 * Builds a 'take_batch' in the shared buffer: payloads from the header on,
 * the record table in the last 'capacity' slots of the buffer
 *
 * 'take' and 'hint' answer false when the batch is full: 'flush' and add
 * again. One batch at a time per session, on one thread.
 */
class Snapper::Take_batch
{
	private:

		Session_client       &_client;
		char           *const _buf;
		Genode::size_t  const _table;     /* offset of the record table */
		unsigned        const _capacity;  /* records the table holds */
		unsigned              _count  = 0;
		Genode::size_t        _cursor = sizeof(Batch::Header);

		static Genode::size_t _align(Genode::size_t n) {
			return (n + Batch::ALIGN - 1) & ~Genode::size_t(Batch::ALIGN - 1); }

		static unsigned _fitting(Genode::size_t size, unsigned capacity)
		{
			/* at most half the buffer for the table */
			Genode::size_t const max = size / 2 / sizeof(Batch::Record);
			return unsigned(Genode::min(Genode::size_t(capacity), max));
		}

		Batch::Record &_record(unsigned n) {
			return ((Batch::Record *)(_buf + _table))[n]; }

	public:

		Take_batch(Session_client &client, unsigned capacity = 1024)
		:
			_client(client), _buf(client.buffer().start),
			_table((client.buffer_size()
			        - _fitting(client.buffer_size(), capacity)*sizeof(Batch::Record))
			       & ~Genode::size_t(Batch::ALIGN - 1)),
			_capacity(_fitting(client.buffer_size(), capacity))
		{ }

		unsigned count() const { return _count; }

		/**
		 * Queue object 'id'; false if it does not fit (flush first; a
		 * payload that fits no batch goes through 'take_snapshot')
		 */
		bool take(Archive::ArchiveKey id, void const *payload, Genode::size_t size)
		{
			if (_count == _capacity || _cursor + size > _table)
				return false;
			Genode::memcpy(_buf + _cursor, payload, size);
			_record(_count++) = { id, Genode::uint32_t(_cursor), Genode::uint32_t(size), 0, 0 };
			_cursor = _align(_cursor + size);
			return true;
		}

		/**
		 * Queue a hint: 'id' is unchanged since the base generation
		 */
		bool hint(Archive::ArchiveKey id)
		{
			if (_count == _capacity)
				return false;
			_record(_count++) = { id, 0, 0, Batch::HINT, 0 };
			return true;
		}

		/**
		 * Send what is queued; the batch is empty afterwards
		 */
		Batch_reply flush()
		{
			if (_count == 0)
				return { Ok, 0, Batch::NONE };
			*(Batch::Header *)_buf = { Batch::MAGIC, Batch::VERSION, Batch::KIND_TAKE,
			                           _count, Genode::uint32_t(_table), 0, 0, 0, 0 };
			_count  = 0;
			_cursor = sizeof(Batch::Header);
			return _client.take_batch();
		}
};

#endif /* _INCLUDE__SNAPPER_SESSION__CLIENT_H_ */
