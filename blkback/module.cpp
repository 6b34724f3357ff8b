// SPDX-License-Identifier: GPL-2.0-only
// C++ entry of xen-blkback: module load and unload, called from the C shim
// blkback/blkback.c. For now it only proves that C++ runs at load; the
// backend engine (xenbus driver, rings) hooks in here when it exists.
#include "entry.h"
#include "kapi/log.h"

int xbc_blkback_init(void) noexcept
{
	kapi_log(KAPI_LOG_INFO, "C++ engine loaded (no xenbus driver registered yet)\n");
	return 0;
}

void xbc_blkback_exit(void) noexcept
{
	kapi_log(KAPI_LOG_INFO, "C++ engine unloaded\n");
}
