/*
 * \brief  C ABI between Genode (the C++ shim) and Snapper's no_std Rust code
 * \date   2026-11-24
 *
 * Two implementations exist: the shim's *.cc over Genode's API, and the Rust
 * crates 'genode-host' (the generic part) and 'snapper-session' with its
 * feature 'host' (the Snapper session's part) over std, which stand in for
 * Genode under 'cargo test'. Both must keep to exactly these signatures; the
 * Rust declarations live in 'src/genode/src/sys.rs' (crate 'genode': up to
 * and including RTC and timer) and 'src/session/src/sys.rs' (crate
 * 'snapper-session': the two "Snapper session" parts).
 *
 * Rules of the boundary:
 *  - no exception and no Rust panic crosses it: the shim catches everything
 *    and answers with an 'sg_status', Rust aborts on panic;
 *  - strings are (pointer, length) pairs, never NUL-terminated, so that
 *    Rust passes its '&str' without copying;
 *  - paths are '/'-separated and relative to the VFS root of the component;
 *  - everything runs on the component's single entrypoint thread.
 */

#ifndef _SNAPPER_GENODE_H_
#define _SNAPPER_GENODE_H_

/*
 * Genode compiles with -nostdinc, so take the fixed-width types from the
 * compiler's predefined macros rather than from <stdint.h>.
 */
typedef __SIZE_TYPE__   sg_size_t;
typedef __UINT8_TYPE__  sg_u8;
typedef __UINT32_TYPE__ sg_u32;
typedef __UINT64_TYPE__ sg_u64;

#ifdef __cplusplus
extern "C" {
#endif

/* outcome of every fallible call; mirrors snapper_core::StorageError */
typedef enum {
	SG_OK              = 0,
	SG_ERR_NOT_FOUND   = 1,  /* path or its parent missing */
	SG_ERR_EXISTS      = 2,  /* something already has that name */
	SG_ERR_NOT_EMPTY   = 3,  /* directory still has entries */
	SG_ERR_WRONG_KIND  = 4,  /* file where a directory is needed or reverse */
	SG_ERR_NO_SPACE    = 5,  /* file system full */
	SG_ERR_IO          = 6,  /* any other I/O failure */
	SG_ERR_NO_MEMORY   = 7,  /* RAM or caps quota exhausted */
	SG_ERR_INVALID     = 8,  /* bad argument, e.g. a path too long */
	SG_ERR_UNAVAILABLE = 9,  /* service or config node not present */
} sg_status;

typedef enum {
	SG_LOG_INFO    = 0,
	SG_LOG_WARNING = 1,
	SG_LOG_ERROR   = 2,
} sg_log_level;


/*********************************************
 ** Provided by the component's Rust crate  **
 *********************************************/

/*
 * Called once from 'Component::construct'; returns when the component is
 * set up (a server then keeps serving via the callbacks given to 'sg_serve',
 * a client calls 'sg_exit' when done).
 */
void sg_component_construct(void);


/*************************
 ** Component lifecycle **
 *************************/

void sg_log(sg_log_level level, char const *msg, sg_size_t len);

/* report 'code' to the parent and never return */
void sg_exit(int code) __attribute__((noreturn));


/**********
 ** Heap **
 **********/

/* 16-byte aligned memory from the component's heap, NULL when exhausted */
void *sg_alloc(sg_size_t size);
void  sg_free(void *ptr, sg_size_t size);


/************
 ** Config **
 ************/

typedef void (*sg_attribute_fn)(void *ctx,
                                char const *name,  sg_size_t name_len,
                                char const *value, sg_size_t value_len);

/*
 * Call 'fn' for each attribute of the config ROM's top-level node, XML or
 * HID alike. Values are passed as they appear in the ROM (XML entities not
 * decoded). SG_ERR_UNAVAILABLE if the ROM is not a valid node.
 */
sg_status sg_config_attributes(void *ctx, sg_attribute_fn fn);


/*********
 ** VFS **
 *********/

/* build the VFS from the config's <vfs> node; idempotent */
sg_status sg_vfs_init(void);

sg_status sg_vfs_create_dir(char const *path, sg_size_t path_len);

typedef struct { sg_u8 const *ptr; sg_size_t len; } sg_bytes;

/*
 * Create file 'path' (which must not exist) with the concatenation of
 * 'parts' as content. Does NOT sync: call 'sg_vfs_sync' once for a batch.
 */
sg_status sg_vfs_write_new(char const *path, sg_size_t path_len,
                           sg_bytes const *parts, sg_size_t num_parts);

/* read up to 'len' bytes at 'offset'; '*out_read' < 'len' only at the end */
sg_status sg_vfs_read_at(char const *path, sg_size_t path_len, sg_u64 offset,
                         sg_u8 *buf, sg_size_t len, sg_size_t *out_read);

sg_status sg_vfs_file_size(char const *path, sg_size_t path_len, sg_u64 *out_size);

typedef void (*sg_dirent_fn)(void *ctx, char const *name, sg_size_t name_len,
                             int is_dir);

/* call 'fn' for each entry of directory 'path' ("" is the root) */
sg_status sg_vfs_list_dir(char const *path, sg_size_t path_len,
                          void *ctx, sg_dirent_fn fn);

/* remove a file or an empty directory */
sg_status sg_vfs_remove(char const *path, sg_size_t path_len);

/* rename; SG_ERR_EXISTS if 'to' exists (lwext4 would silently replace it) */
sg_status sg_vfs_rename(char const *from, sg_size_t from_len,
                        char const *to,   sg_size_t to_len);

/* make everything written so far durable (lwext4: one cache flush) */
sg_status sg_vfs_sync(void);


/*****************
 ** RTC, timer **
 *****************/

typedef struct {
	sg_u32 year, month, day, hour, minute, second, microsecond;
} sg_rtc_time;

sg_status sg_rtc_now(sg_rtc_time *out);

/* monotonic microseconds since the component's first timer use */
sg_u64 sg_timer_elapsed_us(void);
void   sg_timer_sleep_us(sg_u64 us);


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

#endif /* _SNAPPER_GENODE_H_ */
