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
 * The xenbus driver "vbd" forwards probe, remove, otherend_changed and
 * reclaim_memory to the C++ Backend (blkback/vbd_entry.h), and serves the
 * in-tree sysfs files (physical_device, mode, statistics/) plus our
 * persistent-grant telemetry (persistent_grants/) from its counters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/device.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sysfs.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include "../common/shim/shim.h"
#include "entry.h"
#include "params.h"
#include "vbd_entry.h"

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

/* Ours, not in-tree: see docs/blkback.md. On: it beat map + unmap (docs/benchmarks.md). */
static bool grant_copy = true;
module_param(grant_copy, bool, 0444);
MODULE_PARM_DESC(grant_copy,
"Serve frontends without persistent grants by grant copy into backend pages instead of map + unmap");

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

bool xbc_blkback_param_grant_copy(void)
{
	return READ_ONCE(grant_copy);
}

#ifdef XBC_HOSTILE
/* Test-only (blkback/hostile.hpp): never in the shipped module. */
static char *attacks = "";
module_param(attacks, charp, 0444);
MODULE_PARM_DESC(attacks, "TEST ONLY: <vdev>:<attack>,... (blkback/hostile.hpp)");

const char *xbc_blkback_param_hostile_attacks(void)
{
	return attacks;
}
#endif

/* --- the xenbus driver ------------------------------------------------- */

static struct kapi_xenbus_device *to_kapi(struct xenbus_device *dev)
{
	return (struct kapi_xenbus_device *)dev;
}

static struct xbc_vbd *vbd_of(struct device *d)
{
	return dev_get_drvdata(d);
}

static ssize_t physical_device_show(struct device *d, struct device_attribute *attr, char *buf)
{
	struct xbc_vbd *vbd = vbd_of(d);
	u32 major = 0, minor = 0;

	if (vbd)
		xbc_vbd_physical_device(vbd, &major, &minor);
	return sysfs_emit(buf, "%x:%x\n", major, minor);
}
static DEVICE_ATTR_RO(physical_device);

static ssize_t mode_show(struct device *d, struct device_attribute *attr, char *buf)
{
	struct xbc_vbd *vbd = vbd_of(d);
	char mode[16] = "";

	if (vbd)
		xbc_vbd_mode(vbd, mode, sizeof(mode));
	return sysfs_emit(buf, "%s\n", mode);
}
static DEVICE_ATTR_RO(mode);

static struct attribute *xbc_vbd_attrs[] = {
	&dev_attr_physical_device.attr,
	&dev_attr_mode.attr,
	NULL
};

static const struct attribute_group xbc_vbd_group = {
	.attrs = xbc_vbd_attrs,
};

/* statistics/<field> and persistent_grants/<field>, from counters.h. */
#define XBC_VBD_STAT(kind, name)						\
	static ssize_t kind##_##name##_show(struct device *d,			\
					    struct device_attribute *attr,	\
					    char *buf)				\
	{									\
		struct xbc_vbd *vbd = vbd_of(d);				\
		struct xbc_vbd_##kind##_stats s = {};				\
										\
		if (vbd)							\
			xbc_vbd_##kind##_stats(vbd, &s);			\
		return sysfs_emit(buf, "%llu\n", (unsigned long long)s.name);	\
	}									\
	static struct device_attribute dev_attr_##kind##_##name =		\
		__ATTR(name, 0444, kind##_##name##_show, NULL);
#define XBC_VBD_IO_STAT(name) XBC_VBD_STAT(io, name)
#define XBC_VBD_GRANT_STAT(name, log_name) XBC_VBD_STAT(grant, name)
#define XBC_VBD_IO_ATTR(name) &dev_attr_io_##name.attr,
#define XBC_VBD_GRANT_ATTR(name, log_name) &dev_attr_grant_##name.attr,

XBC_BLKBACK_IO_COUNTERS(XBC_VBD_IO_STAT)
XBC_BLKBACK_GRANT_COUNTERS(XBC_VBD_GRANT_STAT)

static struct attribute *xbc_vbd_stat_attrs[] = {
	XBC_BLKBACK_IO_COUNTERS(XBC_VBD_IO_ATTR)
	NULL
};

static const struct attribute_group xbc_vbd_stat_group = {
	.name = "statistics",
	.attrs = xbc_vbd_stat_attrs,
};

static struct attribute *xbc_vbd_grant_attrs[] = {
	XBC_BLKBACK_GRANT_COUNTERS(XBC_VBD_GRANT_ATTR)
	NULL
};

static const struct attribute_group xbc_vbd_grant_group = {
	.name = "persistent_grants",
	.attrs = xbc_vbd_grant_attrs,
};

static const struct attribute_group *xbc_vbd_groups[] = {
	&xbc_vbd_group,
	&xbc_vbd_stat_group,
	&xbc_vbd_grant_group,
	NULL
};

static int xbc_blkbk_probe(struct xenbus_device *dev, const struct xenbus_device_id *id)
{
	struct xbc_vbd *vbd = NULL;
	int err = xbc_vbd_probe(to_kapi(dev), &vbd);

	if (err)
		return err;
	dev_set_drvdata(&dev->dev, vbd);
	err = sysfs_create_groups(&dev->dev.kobj, xbc_vbd_groups);
	if (err) {
		dev_set_drvdata(&dev->dev, NULL);
		xbc_vbd_remove(vbd);
		xenbus_dev_fatal(dev, err, "creating sysfs entries");
	}
	return err;
}

static void xbc_blkbk_remove(struct xenbus_device *dev)
{
	struct xbc_vbd *vbd = dev_get_drvdata(&dev->dev);

	sysfs_remove_groups(&dev->dev.kobj, xbc_vbd_groups);
	dev_set_drvdata(&dev->dev, NULL);
	xbc_vbd_remove(vbd);
}

static void xbc_blkbk_frontend_changed(struct xenbus_device *dev, enum xenbus_state state)
{
	struct xbc_vbd *vbd = dev_get_drvdata(&dev->dev);

	if (!vbd)
		return;
	if (xbc_vbd_frontend_changed(vbd, (enum kapi_xenbus_state)state,
				     xenbus_dev_is_online(dev)))
		device_unregister(&dev->dev);
}

static void xbc_blkbk_reclaim_memory(struct xenbus_device *dev)
{
	struct xbc_vbd *vbd = dev_get_drvdata(&dev->dev);

	if (vbd)
		xbc_vbd_reclaim_memory(vbd);
}

static const struct xenbus_device_id xbc_blkbk_ids[] = {
	{ "vbd" },
	{ "" }
};

static struct xenbus_driver xbc_blkbk_driver = {
	.ids = xbc_blkbk_ids,
	.probe = xbc_blkbk_probe,
	.remove = xbc_blkbk_remove,
	.otherend_changed = xbc_blkbk_frontend_changed,
	.allow_rebind = true,
	.reclaim_memory = xbc_blkbk_reclaim_memory,
};

static int __init xbc_blkback_module_init(void)
{
	int err;

	if (!xen_domain())
		return -ENODEV;
	err = kapi_block_init();
	if (err)
		return err;
	err = xbc_blkback_init();
	if (err)
		goto fail_block;
	err = xenbus_register_backend(&xbc_blkbk_driver);
	if (err)
		goto fail_engine;
	return 0;

fail_engine:
	xbc_blkback_exit();
fail_block:
	kapi_block_exit();
	return err;
}
module_init(xbc_blkback_module_init);

static void __exit xbc_blkback_module_exit(void)
{
	xenbus_unregister_driver(&xbc_blkbk_driver);
	xbc_blkback_exit();
	kapi_block_exit();
}
module_exit(xbc_blkback_module_exit);

MODULE_DESCRIPTION("Xen block device backend (xen-blkcxx, C++ engine)");
MODULE_LICENSE("GPL");
/* The package version (Kbuild: dkms.conf PACKAGE_VERSION). */
MODULE_VERSION(XBC_VERSION);
MODULE_ALIAS("xen-backend:vbd");
