/*
 * \brief  C entry point of the Snapper session's server side
 * \date   2026-11-26
 */

/* Snapper includes */
#include "session_main.h"

using namespace Snapper;


extern "C" sg_status sg_serve(sg_session_ops const *ops, sg_size_t bufsize)
{
	return guarded([&] { return session_main().serve(ops, bufsize); });
}
