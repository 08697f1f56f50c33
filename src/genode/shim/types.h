/*
 * \brief  What the parts of the shim share
 * \date   2026-11-26
 */

#ifndef _SHIM__TYPES_H_
#define _SHIM__TYPES_H_

/* Genode includes */
#include <base/exception.h>

/* Snapper includes */
#include "snapper_genode.h"

namespace Snapper {

	using namespace Genode;

	class  Vfs_storage;
	struct Main;

	/* the component's one 'Main', for the C entry points (main.cc) */
	Main &main();

	/*
	 * No C++ exception may reach Rust: run 'fn' and answer what it throws
	 * as a status. Genode reports quota exhaustion (and a constructor any
	 * failure) by exception.
	 */
	template <typename FN>
	sg_status guarded(FN const &fn)
	{
		try { return fn(); }
		catch (Out_of_ram)  { return SG_ERR_NO_MEMORY; }
		catch (Out_of_caps) { return SG_ERR_NO_MEMORY; }
		catch (...)         { return SG_ERR_IO; }
	}
}

#endif /* _SHIM__TYPES_H_ */
