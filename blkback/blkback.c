// SPDX-License-Identifier: GPL-2.0-only
/*
 * xen-blkback, C side: the module's registration boilerplate, which the
 * kernel's macros make C-only. Module load and unload forward straight to
 * the C++ engine (blkback/module.cpp). The parameters keep the in-tree
 * driver's names, types, permissions, defaults and descriptions, so
 * existing configuration (xen_blkback.max_persistent_grants=... on the
 * command line, /sys/module/xen_blkback/parameters/) carries over; the
 * engine reads them through the getters of blkback/params.h.
 *
 * No xenbus driver and no MODULE_ALIAS yet: a module that autoloads for
 * vbd devices and then does nothing would break a system.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "../common/shim/shim.h"
#include "entry.h"
#include "params.h"

static int max_buffer_pages = 1024;
module_param_named(max_buffer_pages, max_buffer_pages, int, 0644);
MODULE_PARM_DESC(max_buffer_pages,
"Maximum number of free pages to keep in each block backend buffer");

static int max_pgrants = 1056;
module_param_named(max_persistent_grants, max_pgrants, int, 0644);
MODULE_PARM_DESC(max_persistent_grants,
		 "Maximum number of grants to map persistently");

static unsigned int pgrant_timeout = 60;
module_param_named(persistent_grant_unused_seconds, pgrant_timeout,
		   uint, 0644);
MODULE_PARM_DESC(persistent_grant_unused_seconds,
		 "Time in seconds an unused persistent grant is allowed to "
		 "remain allocated. Default is 60, 0 means unlimited.");

static unsigned int max_queues;
module_param_named(max_queues, max_queues, uint, 0644);
MODULE_PARM_DESC(max_queues,
		 "Maximum number of hardware queues per virtual disk."
		 "By default it is the number of online CPUs.");

/* 4 is XENBUS_MAX_RING_GRANT_ORDER, the in-tree default. */
static int max_ring_page_order = 4;
module_param_named(max_ring_page_order, max_ring_page_order, int, 0444);
MODULE_PARM_DESC(max_ring_page_order, "Maximum order of pages to be used for the shared ring");

/* The in-tree driver gives this one no description either. */
static int log_stats;
module_param(log_stats, int, 0644);

static bool feature_persistent = true;
module_param(feature_persistent, bool, 0644);
MODULE_PARM_DESC(feature_persistent, "Enables the persistent grants feature");

static int buffer_squeeze_duration_ms = 10;
module_param_named(buffer_squeeze_duration_ms,
		   buffer_squeeze_duration_ms, int, 0644);
MODULE_PARM_DESC(buffer_squeeze_duration_ms,
"Duration in ms to squeeze pages buffer when a memory pressure is detected");

int xbc_blkback_param_max_buffer_pages(void)
{
	return READ_ONCE(max_buffer_pages);
}

int xbc_blkback_param_max_persistent_grants(void)
{
	return READ_ONCE(max_pgrants);
}

unsigned int xbc_blkback_param_persistent_grant_unused_seconds(void)
{
	return READ_ONCE(pgrant_timeout);
}

unsigned int xbc_blkback_param_max_queues(void)
{
	return READ_ONCE(max_queues);
}

int xbc_blkback_param_max_ring_page_order(void)
{
	return READ_ONCE(max_ring_page_order);
}

int xbc_blkback_param_log_stats(void)
{
	return READ_ONCE(log_stats);
}

bool xbc_blkback_param_feature_persistent(void)
{
	return READ_ONCE(feature_persistent);
}

int xbc_blkback_param_buffer_squeeze_duration_ms(void)
{
	return READ_ONCE(buffer_squeeze_duration_ms);
}

static int __init xbc_blkback_module_init(void)
{
	int err = kapi_block_init();

	if (err)
		return err;
	err = xbc_blkback_init();
	if (err)
		kapi_block_exit();
	return err;
}
module_init(xbc_blkback_module_init);

static void __exit xbc_blkback_module_exit(void)
{
	xbc_blkback_exit();
	kapi_block_exit();
}
module_exit(xbc_blkback_module_exit);

MODULE_DESCRIPTION("Xen block device backend (xen-blkcxx, C++ engine)");
MODULE_LICENSE("GPL");
