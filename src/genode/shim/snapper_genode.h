/*
 * \brief  C ABI between Genode (the C++ shim) and no_std Rust components
 * \date   2026-11-24
 *
 * The generic part, which crate 'genode' wraps: start-up, log, heap, config,
 * VFS, RTC, timer. A session protocol adds its own part in its own header
 * (Snapper's: src/session/shim/snapper_session_abi.h).
 *
 * Two implementations exist: the shim's *.cc over Genode's API, and the Rust
 * crate 'genode-host' over std, which stands in for Genode under 'cargo
 * test'. Both must keep to exactly these signatures; the Rust declarations
 * live in 'src/genode/src/sys.rs'.
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

/*
 * Write the concatenation of 'parts' into the existing file 'path' at
 * 'offset', replacing the bytes there; past the end the file grows, a gap
 * between the old end and 'offset' reading as zeros; no bytes change
 * nothing. SG_ERR_NOT_FOUND if the file does not exist, SG_ERR_WRONG_KIND
 * for a directory. Does NOT sync, like 'sg_vfs_write_new': a crash may
 * leave the old or the new bytes (or torn blocks) within the range and the
 * old length or one up to the new, never a change outside the range. On
 * lwext4, overwriting the blocks of an existing file costs no allocation
 * and no metadata but its times, a fraction of what a new file costs.
 */
sg_status sg_vfs_write_at(char const *path, sg_size_t path_len, sg_u64 offset,
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


#ifdef __cplusplus
}
#endif

#endif /* _SNAPPER_GENODE_H_ */
