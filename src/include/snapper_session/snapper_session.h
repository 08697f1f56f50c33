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
	};

	/* 2.0 clients name the object identifier 'Archive::ArchiveKey' */
	struct Archive { using ArchiveKey = Genode::uint64_t; };

	/* 128 = Genode::Vfs::Directory_service::Dirent::Name::MAX_LEN */
	using Generation_name = Genode::String<128>;

	struct Session;
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

	GENODE_RPC_INTERFACE(Rpc_dataspace, Rpc_init_snapshot, Rpc_take_snapshot,
	                     Rpc_commit_snapshot, Rpc_open_generation, Rpc_restore,
	                     Rpc_close_generation, Rpc_purge, Rpc_purge_expired,
	                     Rpc_purge_zombies);
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
