/*
 * \brief  Connection to the Snapper service
 * \date   2026-11-24
 */

#ifndef _INCLUDE__SNAPPER_SESSION__CONNECTION_H_
#define _INCLUDE__SNAPPER_SESSION__CONNECTION_H_

#include <base/connection.h>
#include <base/env.h>
#include <snapper_session/client.h>

namespace Snapper { struct Connection; }


struct Snapper::Connection : Genode::Connection<Session>, Session_client
{
	/*
	 * Covers the server's session object; the payload buffer is paid by the
	 * server, sized by its 'bufsize' config attribute, as in 2.0.
	 */
	static constexpr Genode::size_t RAM_QUOTA = 8*1024;

	Connection(Genode::Env &env, Label const &label = Label())
	:
		Genode::Connection<Session>(env, label, Ram_quota { RAM_QUOTA }, Args()),
		Session_client(env.rm(), cap())
	{ }
};

#endif /* _INCLUDE__SNAPPER_SESSION__CONNECTION_H_ */
