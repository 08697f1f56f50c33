/*
 * \brief  The Snapper session's part of the component
 * \date   2026-11-26
 */

/* Snapper includes */
#include "session_main.h"

using namespace Snapper;


sg_status Session_main::serve(sg_session_ops const *ops, size_t bufsize)
{
	if (_root.constructed())
		return SG_ERR_EXISTS;
	if (!ops || bufsize == 0)
		return SG_ERR_INVALID;

	Env &env = _main.env();
	_root.construct(env, _main.heap(), *ops, bufsize);
	env.parent().announce(env.ep().manage(*_root));
	return SG_OK;
}


/*
 * Like 'main()', for the C entry points of server.cc and client.cc; made
 * when the component first serves or opens the session, after
 * 'Component::construct' made 'Main'.
 */
Session_main &Snapper::session_main()
{
	static Session_main session_main { main() };
	return session_main;
}
