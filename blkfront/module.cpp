// SPDX-License-Identifier: GPL-2.0-only
// C++ entry of xen-blkfront: module load and unload, called from the C shim
// blkfront/blkfront.c. Load creates the driver state (minor registry, the
// persistent-grant purge thread); the xenbus driver is registered by the
// shim after this returns 0, and unregistered before exit runs.
#include "entry.h"
#include "blkfront/frontend.hpp"

int xbc_blkfront_init(void) noexcept
{
	return xbc::blkfront::driver_init();
}

void xbc_blkfront_exit(void) noexcept
{
	xbc::blkfront::driver_exit();
}
