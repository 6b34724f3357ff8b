// SPDX-License-Identifier: GPL-2.0-only
/*
 * xen-blkfront, C side: the module's registration boilerplate, which the
 * kernel's macros make C-only. Module load and unload forward straight to
 * the C++ engine (blkfront/module.cpp); the xenbus driver "vbd" forwards
 * every callback to the engine (blkfront/engine.h, blkfront/entry.cpp);
 * blk-mq and the gendisk live behind kapi/blkmq.h (common/shim/blkmq.c).
 * The parameters keep the in-tree driver's names, types, permissions,
 * defaults and descriptions, so existing configuration
 * (xen_blkfront.max_queues=... on the command line,
 * /sys/module/xen_blkfront/parameters/) carries over; the engine reads them
 * through the getters of blkfront/params.h. The aliases are in-tree's, so
 * the module autoloads for vbd devices as xen-blkfront does.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/device.h>
#include <linux/major.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <xen/platform_pci.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include "../common/shim/shim.h"
#include "engine.h"
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

/* struct kapi_xenbus_device is struct xenbus_device, renamed. */
static struct kapi_xenbus_device *to_kdev(struct xenbus_device *dev)
{
	return (struct kapi_xenbus_device *)dev;
}

static int xbc_blkfront_xb_probe(struct xenbus_device *dev, const struct xenbus_device_id *id)
{
	struct xbc_blkfront *fe;
	int err = xbc_blkfront_probe(to_kdev(dev), &fe);

	if (err)
		return err;
	dev_set_drvdata(&dev->dev, fe);
	return 0;
}

static void xbc_blkfront_xb_changed(struct xenbus_device *dev, enum xenbus_state state)
{
	xbc_blkfront_otherend_changed(dev_get_drvdata(&dev->dev), (enum kapi_xenbus_state)state);
}

static int xbc_blkfront_xb_resume(struct xenbus_device *dev)
{
	return xbc_blkfront_resume(dev_get_drvdata(&dev->dev));
}

static void xbc_blkfront_xb_remove(struct xenbus_device *dev)
{
	xbc_blkfront_remove(dev_get_drvdata(&dev->dev));
	dev_set_drvdata(&dev->dev, NULL);
}

static int xbc_blkfront_xb_is_ready(struct xenbus_device *dev)
{
	return xbc_blkfront_is_ready(dev_get_drvdata(&dev->dev));
}

/* Our persistent-grant pool, per device (no in-tree counterpart). */
static ssize_t persistent_grants_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct xbc_blkfront *fe = dev_get_drvdata(dev);

	if (!fe)
		return -ENODEV;
	return xbc_blkfront_format_stats(fe, buf, PAGE_SIZE);
}
static DEVICE_ATTR_RO(persistent_grants);

static struct attribute *xbc_blkfront_attrs[] = {
	&dev_attr_persistent_grants.attr,
	NULL,
};
ATTRIBUTE_GROUPS(xbc_blkfront);

static const struct xenbus_device_id xbc_blkfront_ids[] = {
	{ "vbd" },
	{ "" }
};

static struct xenbus_driver xbc_blkfront_driver = {
	.ids = xbc_blkfront_ids,
	.probe = xbc_blkfront_xb_probe,
	.remove = xbc_blkfront_xb_remove,
	.resume = xbc_blkfront_xb_resume,
	.otherend_changed = xbc_blkfront_xb_changed,
	.is_ready = xbc_blkfront_xb_is_ready,
	.driver = {
		.dev_groups = xbc_blkfront_groups,
	},
};

static int __init xbc_blkfront_module_init(void)
{
	int err;

	/* As in-tree: only in a Xen guest whose PV disks are not unplugged. */
	if (!xen_domain() || !xen_has_pv_disk_devices())
		return -ENODEV;
	if (register_blkdev(XENVBD_MAJOR, "xvd")) {
		pr_warn("can't get major %d with name xvd\n", XENVBD_MAJOR);
		return -ENODEV;
	}
	err = xbc_blkfront_init();
	if (err)
		goto out_blkdev;
	err = xenbus_register_frontend(&xbc_blkfront_driver);
	if (err)
		goto out_engine;
	return 0;

out_engine:
	xbc_blkfront_exit();
out_blkdev:
	unregister_blkdev(XENVBD_MAJOR, "xvd");
	return err;
}
module_init(xbc_blkfront_module_init);

static void __exit xbc_blkfront_module_exit(void)
{
	xenbus_unregister_driver(&xbc_blkfront_driver);
	xbc_blkfront_exit();
	unregister_blkdev(XENVBD_MAJOR, "xvd");
}
module_exit(xbc_blkfront_module_exit);

MODULE_DESCRIPTION("Xen virtual block device frontend (xen-blkcxx, C++ engine)");
MODULE_LICENSE("GPL");
/* The package version (Kbuild: dkms.conf PACKAGE_VERSION). */
MODULE_VERSION(XBC_VERSION);
MODULE_ALIAS_BLOCKDEV_MAJOR(XENVBD_MAJOR);
MODULE_ALIAS("xen:vbd");
MODULE_ALIAS("xenblk");
