/*
 * \brief  C entry points of the Snapper session's client side
 * \date   2026-11-26
 */

/* Snapper includes */
#include "session_main.h"

using namespace Snapper;


extern "C" sg_status sg_client_open(void)
{
	return guarded([&] { session_main().open_client(); return SG_OK; });
}


extern "C" sg_status sg_client_buffer(sg_u8 **out_ptr, sg_size_t *out_len)
{
	*out_ptr = nullptr;
	*out_len = 0;
	return guarded([&] {
		return session_main().with_client([&] (Client &client) {
			Byte_range_ptr const buf = client.buffer();
			*out_ptr = (sg_u8 *)buf.start;
			*out_len = buf.num_bytes;
			return SG_OK;
		});
	});
}


extern "C" sg_u32 sg_client_call(sg_rpc rpc, sg_size_t size, sg_u64 id,
                                 char const *name, sg_size_t name_len)
{
	try {
		sg_u32 result = SG_RESULT_NO_SESSION;
		session_main().with_client([&] (Client &client) {
			result = client.call(rpc, size, id, name, name_len);
			return SG_OK;
		});
		return result;
	}
	catch (...) { return SG_RESULT_NO_SESSION; }
}


extern "C" void sg_client_close(void)
{
	try { session_main().close_client(); } catch (...) { }
}
