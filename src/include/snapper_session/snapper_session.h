/*
 * \brief  Snapper session interface
 * \date   2026-11-24
 *
 * Source-compatible with the session interface of Snapper 2.0 (the C++
 * original): the same RPC functions in the same order, the same 'Result'
 * values (new ones only appended), the payload carried in a shared
 * dataspace of 'bufsize' bytes handed out per session. A client written
 * against 2.0, e.g. PhantomOS, compiles unchanged.
 *
 * Differences, each for a reason:
 *  - 'purge_expired' returns a 'Result' (2.0: void) so that a failure is
 *    visible; callers that ignore the value compile as before.
 *  - generation names are 'Generation_name', a 'Genode::String<128>'. 2.0
 *    spelled the same type as 'Vfs::Directory_service::Dirent::Name::MAX_LEN',
 *    which no longer resolves outside 'namespace Genode' since the VFS moved
 *    into 'Genode::Vfs' in 26.02, and which needlessly pulled the VFS API
 *    into every client.
 *
 * Appended after 2.0's RPCs (so 2.0 clients, which know only the first ten,
 * work unchanged): '_take_batch' and '_restore_batch', the batched calls.
 * Their requests and replies travel in the shared buffer in the batch wire
 * format below ('Snapper::Batch', doc/GENODE.md "Batched calls"); the
 * client's 'Take_batch' and 'restore_batch' fill and read it.
 *
 * Hints: a take record flagged 'Batch::HINT' carries no payload and says
 * that the object is unchanged since the generation this one builds on; the
 * server links it to that generation's copy without reading or hashing
 * anything. The server cannot sample or verify hinted objects: it never
 * sees their bytes. A client that hints a changed object loses that change.
 * A hint for an id the base does not hold fails with 'NoMatches'.
 */

#ifndef _INCLUDE__SNAPPER_SESSION__SNAPPER_SESSION_H_
#define _INCLUDE__SNAPPER_SESSION__SNAPPER_SESSION_H_

#include <base/rpc.h>
#include <base/stdint.h>
#include <dataspace/capability.h>
#include <session/session.h>
#include <util/string.h>

namespace Snapper {

	/*
	 * Plain enum, not 'enum class': 2.0 clients write 'Snapper::Ok'.
	 */
	enum Result : Genode::uint32_t {
		Ok,               /* done */
		NoPriorGen,       /* init_snapshot: no previous generation (not an error) */
		InvalidState,     /* call not allowed in the current state */
		InitFailed,       /* init_snapshot could not create the generation */
		LoadGenFailed,    /* open_generation: no such or unreadable generation */
		InvalidVersion,   /* on-disk format version not understood */
		IntegrityFailed,  /* a checksum did not match */
		NoMatches,        /* restore: object not in the open generation */
		NoData,           /* nothing to act on */
		RestoreFailed,    /* restore: no backlink could be read */
		PurgeDenied,      /* purge: min_snapshots or state forbids it */

		/* added after 2.0 */
		PayloadTooLarge,  /* take_snapshot: size exceeds the shared buffer */
		BufferTooSmall,   /* restore: object larger than the given size */
		StorageFailed,    /* the file system reported an error */
		MalformedBatch,   /* batched call: the batch in the buffer is malformed,
		                     nothing of it was acted on */
	};

	/* 2.0 clients name the object identifier 'Archive::ArchiveKey' */
	struct Archive { using ArchiveKey = Genode::uint64_t; };

	/* 128 = Genode::Vfs::Directory_service::Dirent::Name::MAX_LEN */
	using Generation_name = Genode::String<128>;

	struct Session;

	/*
	 * The batch wire format, little-endian (as every Genode target), fields
	 * at natural alignment so that these structs are exactly the bytes:
	 *
	 *   header at offset 0 (32 bytes), record table at 'table_offset'
	 *   (8-byte aligned, 'count' records of 24 bytes), payloads at 8-byte
	 *   aligned offsets in table order, overlapping neither header, table
	 *   nor each other.
	 *
	 * In a reply the server sets 'kind' | KIND_REPLY, 'done' (records taken
	 * or restored), 'failed' (index of the failed record or NONE) and
	 * 'result' (its Result). A restore reply's table starts right after the
	 * header and gives each record's offset, size and result (NONE: not
	 * reached, ask again).
	 */
	namespace Batch {

		enum : Genode::uint32_t { MAGIC = 0x42504e53 /* "SNPB" */, NONE = ~0u };
		enum : Genode::uint16_t { VERSION = 1, KIND_TAKE = 1, KIND_RESTORE = 2,
		                          KIND_REPLY = 0x8000 };

		/* record flags; unknown bits make the batch malformed */
		enum : Genode::uint32_t { HINT = 1 };

		enum { ALIGN = 8 };

		struct Header
		{
			Genode::uint32_t magic;
			Genode::uint16_t version, kind;
			Genode::uint32_t count, table_offset;
			Genode::uint32_t done, failed, result, reserved;  /* 0 in a request */
		};

		struct Record
		{
			Genode::uint64_t id;
			Genode::uint32_t offset, size, flags;
			Genode::uint32_t result;  /* 0 in a request */
		};

		static_assert(sizeof(Header) == 32 && sizeof(Record) == 24,
		              "the structs must be the wire format");
	}

	/* what a batched call came to */
	struct Batch_reply
	{
		Result           result;  /* Ok, the failed record's, or MalformedBatch/NoData */
		Genode::uint32_t done;    /* records taken, or restored into the buffer */
		Genode::uint32_t failed;  /* index of the failed record, Batch::NONE if none */
	};
}


struct Snapper::Session : Genode::Session
{
	static char const *service_name() { return "Snapper"; }

	/*
	 * The session consumes a dataspace capability for the server's
	 * session-object allocation, its session capability, and a dataspace
	 * capability for the payload buffer.
	 */
	static constexpr unsigned CAP_QUOTA = 3;

	virtual ~Session() { }

	/**
	 * Return the shared payload buffer (internal, used by the client)
	 */
	virtual Genode::Dataspace_capability _dataspace() = 0;

	/**
	 * Begin a new generation
	 *
	 * Drops incomplete generations first. Answers 'NoPriorGen' when there is
	 * no committed generation to compare against; that is not an error.
	 */
	virtual Result init_snapshot() = 0;

	/**
	 * Store object 'id' whose 'size' bytes are in the shared buffer
	 * (internal; the client's 'take_snapshot' copies the payload first)
	 *
	 * An object unchanged since the previous generation costs no I/O.
	 */
	virtual Result _take_snapshot(Genode::size_t size, Archive::ArchiveKey id) = 0;

	/**
	 * Commit the generation begun by 'init_snapshot' and apply retention
	 */
	virtual Result commit_snapshot() = 0;

	/**
	 * Open a generation for restoring, the latest if 'generation' is empty
	 */
	virtual Result open_generation(Generation_name const &generation) = 0;

	/**
	 * Copy object 'id' into the shared buffer, at most 'size' bytes
	 * (internal; the client's 'restore' copies the payload out)
	 */
	virtual Result _restore(Genode::size_t size, Archive::ArchiveKey id) = 0;

	/**
	 * End restoring
	 */
	virtual Result close_generation() = 0;

	/**
	 * Remove a generation, the oldest if 'generation' is empty, and every
	 * file no other generation uses
	 */
	virtual Result purge(Generation_name const &generation) = 0;

	/**
	 * Purge the generations older than the configured 'expiration'
	 */
	virtual Result purge_expired() = 0;

	/**
	 * Delete files that no valid generation references
	 */
	virtual Result purge_zombies() = 0;

	/**
	 * Take the batch in the shared buffer (internal; see 'Take_batch')
	 *
	 * The whole batch is checked first: a malformed one answers
	 * 'MalformedBatch' (zero records: 'NoData') and nothing is stored. Then
	 * the records are taken in order until one fails: the ones before it
	 * are taken, it and the later ones are not. The reply header says which.
	 */
	virtual Result _take_batch() = 0;

	/**
	 * Restore the ids listed in the shared buffer, their payloads packed
	 * back into it as many as fit (internal; see 'restore_batch')
	 */
	virtual Result _restore_batch() = 0;


	/*******************
	 ** RPC interface **
	 *******************/

	GENODE_RPC(Rpc_dataspace, Genode::Dataspace_capability, _dataspace);
	GENODE_RPC(Rpc_init_snapshot, Result, init_snapshot);
	GENODE_RPC(Rpc_take_snapshot, Result, _take_snapshot, Genode::size_t,
	           Archive::ArchiveKey);
	GENODE_RPC(Rpc_commit_snapshot, Result, commit_snapshot);
	GENODE_RPC(Rpc_open_generation, Result, open_generation,
	           Generation_name const &);
	GENODE_RPC(Rpc_restore, Result, _restore, Genode::size_t,
	           Archive::ArchiveKey);
	GENODE_RPC(Rpc_close_generation, Result, close_generation);
	GENODE_RPC(Rpc_purge, Result, purge, Generation_name const &);
	GENODE_RPC(Rpc_purge_expired, Result, purge_expired);
	GENODE_RPC(Rpc_purge_zombies, Result, purge_zombies);
	GENODE_RPC(Rpc_take_batch, Result, _take_batch);
	GENODE_RPC(Rpc_restore_batch, Result, _restore_batch);

	/* 2.0's ten first, in 2.0's order: their opcodes stay the same */
	GENODE_RPC_INTERFACE(Rpc_dataspace, Rpc_init_snapshot, Rpc_take_snapshot,
	                     Rpc_commit_snapshot, Rpc_open_generation, Rpc_restore,
	                     Rpc_close_generation, Rpc_purge, Rpc_purge_expired,
	                     Rpc_purge_zombies, Rpc_take_batch, Rpc_restore_batch);
};


#ifndef SNAPPER_SESSION_NO_GLOBAL_NAMES
/*
 * 2.0's header put the whole 'Snapper' namespace into the global one and its
 * clients rely on it (they write 'Result' and 'Ok' unqualified). Define
 * SNAPPER_SESSION_NO_GLOBAL_NAMES before including to opt out.
 */
using namespace Snapper;
#endif

#endif /* _INCLUDE__SNAPPER_SESSION__SNAPPER_SESSION_H_ */
