/*
 * \brief  C ABI of the Snapper session between Genode (the session shim)
 *         and Rust (crate 'snapper-session')
 * \date   2026-11-24
 *
 * The session's part beside the generic ABI of snapper_genode.h (whose
 * rules of the boundary hold here too). Two implementations exist: server.cc
 * and client.cc here over Genode's API, and 'snapper_session::host' over std
 * for 'cargo test'. The Rust declarations live in 'src/session/src/sys.rs'.
 */

#ifndef _SNAPPER_SESSION_ABI_H_
#define _SNAPPER_SESSION_ABI_H_

#include "snapper_genode.h"

#ifdef __cplusplus
extern "C" {
#endif

/*****************************************
 ** Snapper session, server side        **
 *****************************************/

/*
 * One callback per RPC function of 'Snapper::Session', in its order. Each
 * returns a 'Snapper::Result' value. 'session' identifies the client
 * session; 'buf'/'buf_len' is that session's shared dataspace.
 */
typedef struct {
	void *ctx;
	sg_u32 (*init_snapshot)   (void *ctx, sg_u64 session);
	sg_u32 (*take_snapshot)   (void *ctx, sg_u64 session, sg_u8 const *buf,
	                           sg_size_t buf_len, sg_size_t size, sg_u64 id);
	sg_u32 (*commit_snapshot) (void *ctx, sg_u64 session);
	sg_u32 (*open_generation) (void *ctx, sg_u64 session,
	                           char const *name, sg_size_t name_len);
	sg_u32 (*restore)         (void *ctx, sg_u64 session, sg_u8 *buf,
	                           sg_size_t buf_len, sg_size_t size, sg_u64 id);
	sg_u32 (*close_generation)(void *ctx, sg_u64 session);
	sg_u32 (*purge)           (void *ctx, sg_u64 session,
	                           char const *name, sg_size_t name_len);
	sg_u32 (*purge_expired)   (void *ctx, sg_u64 session);
	sg_u32 (*purge_zombies)   (void *ctx, sg_u64 session);
	void   (*session_closed)  (void *ctx, sg_u64 session);

	/*
	 * Appended after 2.0's RPCs: the batched calls. The request is in the
	 * buffer in the batch wire format (doc/GENODE.md, "Batched calls"); the
	 * callback validates it before acting and writes the reply header (and,
	 * for restore, the table and payloads) into the same buffer.
	 */
	sg_u32 (*take_batch)      (void *ctx, sg_u64 session, sg_u8 *buf,
	                           sg_size_t buf_len);
	sg_u32 (*restore_batch)   (void *ctx, sg_u64 session, sg_u8 *buf,
	                           sg_size_t buf_len);
} sg_session_ops;

/*
 * Announce the "Snapper" service; each session gets a dataspace of 'bufsize'
 * bytes. 'ops' must stay valid for the component's lifetime.
 */
sg_status sg_serve(sg_session_ops const *ops, sg_size_t bufsize);


/*****************************************
 ** Snapper session, client side        **
 *****************************************/

/* RPC functions, numbered in the order of 'Snapper::Session' */
typedef enum {
	SG_RPC_INIT_SNAPSHOT    = 1,
	SG_RPC_TAKE_SNAPSHOT    = 2,
	SG_RPC_COMMIT_SNAPSHOT  = 3,
	SG_RPC_OPEN_GENERATION  = 4,
	SG_RPC_RESTORE          = 5,
	SG_RPC_CLOSE_GENERATION = 6,
	SG_RPC_PURGE            = 7,
	SG_RPC_PURGE_EXPIRED    = 8,
	SG_RPC_PURGE_ZOMBIES    = 9,
	SG_RPC_TAKE_BATCH       = 10, /* appended: 2.0's numbers stay */
	SG_RPC_RESTORE_BATCH    = 11,
} sg_rpc;

/* open the component's one Snapper session (idempotent) */
sg_status sg_client_open(void);

/* the session's shared buffer, valid until 'sg_client_close' */
sg_status sg_client_buffer(sg_u8 **out_ptr, sg_size_t *out_len);

/*
 * Perform one RPC. 'size'/'id' are used by take_snapshot and restore (the
 * payload is in the shared buffer), 'name' by open_generation and purge;
 * take_batch and restore_batch use none (the batch is in the buffer).
 * Returns the 'Snapper::Result' value; SG_RESULT_NO_SESSION if no session.
 */
enum { SG_RESULT_NO_SESSION = 0xffffffffu };
sg_u32 sg_client_call(sg_rpc rpc, sg_size_t size, sg_u64 id,
                      char const *name, sg_size_t name_len);

void sg_client_close(void);

#ifdef __cplusplus
}
#endif

#endif /* _SNAPPER_SESSION_ABI_H_ */
