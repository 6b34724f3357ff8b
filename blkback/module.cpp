// SPDX-License-Identifier: GPL-2.0-only
// C++ entry of xen-blkback: module load and unload, called from the C shim
// blkback/blkback.c, which then registers the xenbus driver whose callbacks
// reach the engine through blkback/vbd_entry.h.
#include "entry.h"
#include "kapi/log.h"

int xbc_blkback_init(void) noexcept
{
	kapi_log(KAPI_LOG_INFO, "C++ engine loaded\n");
	return 0;
}

void xbc_blkback_exit(void) noexcept
{
	kapi_log(KAPI_LOG_INFO, "C++ engine unloaded\n");
}
