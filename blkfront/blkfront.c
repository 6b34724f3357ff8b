// SPDX-License-Identifier: GPL-2.0-only
/*
 * xen-blkfront, C side: the module's registration boilerplate, which the
 * kernel's macros make C-only. Module load and unload forward straight to
 * the C++ engine (blkfront/module.cpp). The parameters keep the in-tree
 * driver's names, types, permissions, defaults and descriptions, so
 * existing configuration (xen_blkfront.max_queues=... on the command line,
 * /sys/module/xen_blkfront/parameters/) carries over; the engine reads them
 * through the getters of blkfront/params.h.
 *
 * No xenbus driver and no MODULE_ALIAS yet: a module that autoloads for
 * vbd devices and then does nothing would break a system.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "../common/shim/shim.h"
#include "entry.h"
#include "params.h"

static unsigned int max_indirect_segments = 32;
module_param_named(max_indirect_segments, max_indirect_segments, uint, 0444);
MODULE_PARM_DESC(max_indirect_segments,
		 "Maximum amount of segments in indirect requests (default is 32)");

static unsigned int max_queues = 4;
module_param_named(max_queues, max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues, "Maximum number of hardware queues/rings used per virtual disk");

static int max_ring_page_order;
module_param_named(max_ring_page_order, max_ring_page_order, int, 0444);
MODULE_PARM_DESC(max_ring_page_order, "Maximum order of pages to be used for the shared ring");

static bool __read_mostly trusted = true;
module_param_named(trusted, trusted, bool, 0644);
MODULE_PARM_DESC(trusted, "Is the backend trusted");

static bool feature_persistent = true;
module_param(feature_persistent, bool, 0644);
MODULE_PARM_DESC(feature_persistent,
		"Enables the persistent grants feature");

unsigned int xbc_blkfront_param_max_indirect_segments(void)
{
	return READ_ONCE(max_indirect_segments);
}

unsigned int xbc_blkfront_param_max_queues(void)
{
	return READ_ONCE(max_queues);
}

int xbc_blkfront_param_max_ring_page_order(void)
{
	return READ_ONCE(max_ring_page_order);
}

bool xbc_blkfront_param_trusted(void)
{
	return READ_ONCE(trusted);
}

bool xbc_blkfront_param_feature_persistent(void)
{
	return READ_ONCE(feature_persistent);
}

static int __init xbc_blkfront_module_init(void)
{
	return xbc_blkfront_init();
}
module_init(xbc_blkfront_module_init);

static void __exit xbc_blkfront_module_exit(void)
{
	xbc_blkfront_exit();
}
module_exit(xbc_blkfront_module_exit);

MODULE_DESCRIPTION("Xen virtual block device frontend (xen-blkcxx, C++ engine)");
MODULE_LICENSE("GPL");
