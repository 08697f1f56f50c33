/*
 * \brief  The Snapper session's part of the component: server and client
 * \date   2026-11-26
 */

#ifndef _SESSION_SHIM__SESSION_MAIN_H_
#define _SESSION_SHIM__SESSION_MAIN_H_

/* Genode includes */
#include <util/reconstructible.h>

/* Snapper includes */
#include "client.h"
#include "main.h"
#include "server.h"

namespace Snapper {

	struct Session_main;

	/* the component's one 'Session_main', made on first use (session_main.cc) */
	Session_main &session_main();
}


/*
 * Beside the component's generic 'Main' (src/genode/shim), which knows
 * nothing of this session. Each service is opened on first use: a client
 * announces nothing, the server opens no Snapper session.
 */
struct Snapper::Session_main : Noncopyable
{
	Main &_main;

	Constructible<Root>   _root   { };
	Constructible<Client> _client { };

	Session_main(Main &main) : _main(main) { }

	/* announces the Snapper service, answered by 'ops' */
	sg_status serve(sg_session_ops const *ops, size_t bufsize);

	void open_client()
	{
		if (!_client.constructed())
			_client.construct(_main.env());
	}

	void close_client() { _client.destruct(); }

	template <typename FN>
	sg_status with_client(FN const &fn)
	{
		return _client.constructed() ? fn(*_client) : SG_ERR_UNAVAILABLE;
	}
};

#endif /* _SESSION_SHIM__SESSION_MAIN_H_ */
