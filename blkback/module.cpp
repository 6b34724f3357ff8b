// SPDX-License-Identifier: GPL-2.0-only
// C++ entry of xen-blkback: module load and unload, called from the C shim
// blkback/blkback.c, which then registers the xenbus driver whose callbacks
// reach the engine through blkback/vbd_entry.h.
#include "entry.h"
#include "kapi/log.h"

#include "backend.hpp"

int xbc_blkback_init(void) noexcept
{
	const int rc = xbc::blkback::Backend::module_init();
	if (rc < 0)
		return rc;
	kapi_log(KAPI_LOG_INFO, "C++ engine loaded\n");
	return 0;
}

// After xenbus removed every vbd: waits for the ones removed with I/O in
// flight to be freed.
void xbc_blkback_exit(void) noexcept
{
	xbc::blkback::Backend::module_exit();
	kapi_log(KAPI_LOG_INFO, "C++ engine unloaded\n");
}
