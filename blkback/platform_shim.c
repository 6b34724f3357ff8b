// SPDX-License-Identifier: GPL-2.0-only
/*
 * blkback/platform.h for the kernel. Included by blkback/kapi_unit.c after
 * common/shim/block.c, whose struct kapi_bdev it needs.
 */
#include <linux/blkdev.h>
#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/version.h>

#include "platform.h"

unsigned int xbc_blkback_online_cpus(void)
{
	return num_online_cpus();
}

int xbc_blkback_bdev_sync(struct kapi_bdev *kbdev)
{
	struct block_device *bdev = kbdev->bdev;
	int err = sync_blockdev(bdev);

	if (err)
		return err;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	invalidate_inode_pages2(bdev->bd_mapping);
#else
	invalidate_inode_pages2(bdev->bd_inode->i_mapping);
#endif
	return 0;
}

void xbc_blkback_module_get(void)
{
	__module_get(THIS_MODULE);
}

void xbc_blkback_module_put(void)
{
	module_put(THIS_MODULE);
}
