/*
 * \brief  Client side of the Snapper session, for a Rust client component
 * \date   2026-11-26
 */

#ifndef _SHIM__CLIENT_H_
#define _SHIM__CLIENT_H_

/* Genode includes */
#include <util/noncopyable.h>

/* Snapper includes */
#include <snapper_session/connection.h>
#include "snapper_session_abi.h"
#include "types.h"

namespace Snapper { struct Client; }


struct Snapper::Client : Noncopyable
{
	Connection _connection;

	Client(Env &env) : _connection(env) { }

	Byte_range_ptr buffer() { return _connection.buffer(); }

	/* one RPC by its ABI number, its result as the session answers it */
	sg_u32 call(sg_rpc rpc, sg_size_t size, sg_u64 id,
	            char const *name, sg_size_t name_len)
	{
		Session_client &s = _connection;
		Generation_name const gen { Cstring(name, name ? name_len : 0) };

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
};

#endif /* _SHIM__CLIENT_H_ */
