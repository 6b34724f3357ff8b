/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The few kernel facts only xen-blkback needs, implemented in blkback/blkback.c
 * (and by tests/host/support/fake_blkback.cpp on the host). They sit here
 * rather than in common/include/kapi because no other module uses them.
 */
#ifndef XBC_BLKBACK_PLATFORM_H
#define XBC_BLKBACK_PLATFORM_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

struct kapi_bdev;

/* num_online_cpus(): the default of max_queues. */
unsigned int xbc_blkback_online_cpus(void) KAPI_NOEXCEPT;

/*
 * Before the first request of a connection: write back dom0's dirty page
 * cache of the device and drop it (sync_blockdev + invalidate), so the
 * frontend and dom0 never see two versions of a block. 0 or -errno.
 */
int xbc_blkback_bdev_sync(struct kapi_bdev *bdev) KAPI_NOEXCEPT;

/*
 * Pin and unpin this module (__module_get / module_put, as in-tree): each
 * vbd holds a pin from probe until its last resource is freed, so rmmod
 * with vbds still there fails (EBUSY) instead of cutting off guests' disks.
 */
void xbc_blkback_module_get(void) KAPI_NOEXCEPT;
void xbc_blkback_module_put(void) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_BLKBACK_PLATFORM_H */
