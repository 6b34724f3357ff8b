// SPDX-License-Identifier: GPL-2.0-only
/*
 * kapi xenbus (common/include/kapi/xenbus.h): xenstore, device state,
 * watches and shared rings of a xenbus device. struct kapi_xenbus_device is
 * never defined: it is the kernel's struct xenbus_device, renamed. No
 * 6.1/6.12 differences here.
 */
#include "shim.h"
#include "kapi/xenbus.h"

#include <linux/err.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <xen/xenbus.h>

static struct xenbus_device *to_xbdev(const struct kapi_xenbus_device *dev)
{
	return (struct xenbus_device *)dev;
}

/* kapi_xbt is the transaction id of struct xenbus_transaction. */
static struct xenbus_transaction to_xbt(kapi_xbt t)
{
	struct xenbus_transaction xbt = { .id = t };

	return xbt;
}

const char *kapi_xenbus_nodename(const struct kapi_xenbus_device *dev)
{
	return to_xbdev(dev)->nodename;
}

const char *kapi_xenbus_otherend(const struct kapi_xenbus_device *dev)
{
	return to_xbdev(dev)->otherend;
}

uint16_t kapi_xenbus_otherend_id(const struct kapi_xenbus_device *dev)
{
	return to_xbdev(dev)->otherend_id;
}

int kapi_xenbus_switch_state(struct kapi_xenbus_device *dev, enum kapi_xenbus_state state)
{
	return xenbus_switch_state(to_xbdev(dev), (enum xenbus_state)state);
}

void kapi_xenbus_dev_fatal(struct kapi_xenbus_device *dev, int err, const char *msg)
{
	xenbus_dev_fatal(to_xbdev(dev), err, "%s", msg);
}

int kapi_xenbus_transaction_start(kapi_xbt *t)
{
	struct xenbus_transaction xbt;
	int err = xenbus_transaction_start(&xbt);

	if (!err)
		*t = xbt.id;
	return err;
}

int kapi_xenbus_transaction_end(kapi_xbt t, bool abort)
{
	return xenbus_transaction_end(to_xbt(t), abort);
}

/*
 * xenbus_read allocates the value at whatever length the peer wrote; the
 * copy into the caller's bounded buffer is what the C++ side sees.
 */
int kapi_xenbus_read(kapi_xbt t, const char *dir, const char *node, char *buf, size_t len)
{
	unsigned int value_len;
	char *value = xenbus_read(to_xbt(t), dir, node, &value_len);
	ssize_t copied;

	if (IS_ERR(value))
		return PTR_ERR(value);
	copied = strscpy(buf, value, len);
	kfree(value);
	if (copied < 0 || copied > INT_MAX)
		return -E2BIG;
	return copied;
}

int kapi_xenbus_write(kapi_xbt t, const char *dir, const char *node, const char *value)
{
	return xenbus_write(to_xbt(t), dir, node, value);
}

int kapi_xenbus_rm(kapi_xbt t, const char *dir, const char *node)
{
	return xenbus_rm(to_xbt(t), dir, node);
}

struct kapi_xenbus_watch {
	struct xenbus_watch watch;
	kapi_xenbus_watch_fn fn;
	void *ctx;
};

static void kapi_xenbus_watch_cb(struct xenbus_watch *watch, const char *path, const char *token)
{
	struct kapi_xenbus_watch *w = container_of(watch, struct kapi_xenbus_watch, watch);

	w->fn(w->ctx, path);
}

int kapi_xenbus_watch(struct kapi_xenbus_device *dev, const char *path, kapi_xenbus_watch_fn fn,
		      void *ctx, struct kapi_xenbus_watch **out)
{
	struct kapi_xenbus_watch *w = kzalloc(sizeof(*w), GFP_KERNEL);
	int err;

	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->ctx = ctx;
	/* The pathfmt form copies the path into watch.node; freed on unwatch. */
	err = xenbus_watch_pathfmt(to_xbdev(dev), &w->watch, NULL, kapi_xenbus_watch_cb, "%s", path);
	if (err) {
		kfree(w);
		return err;
	}
	*out = w;
	return 0;
}

void kapi_xenbus_unwatch(struct kapi_xenbus_watch *w)
{
	if (!w)
		return;
	/* Waits for a callback in flight before returning. */
	unregister_xenbus_watch(&w->watch);
	kfree(w->watch.node);
	kfree(w);
}

int kapi_xenbus_setup_ring(struct kapi_xenbus_device *dev, unsigned int nr_pages, void **vaddr,
			   uint32_t *grefs)
{
	/* grant_ref_t is uint32_t. Same allocation flags as in-tree blkfront. */
	return xenbus_setup_ring(to_xbdev(dev), GFP_NOIO | __GFP_HIGH, vaddr, nr_pages, grefs);
}

void kapi_xenbus_teardown_ring(void **vaddr, unsigned int nr_pages, uint32_t *grefs)
{
	xenbus_teardown_ring(vaddr, nr_pages, grefs);
}

int kapi_xenbus_map_ring(struct kapi_xenbus_device *dev, const uint32_t *grefs, unsigned int nr_grefs,
			 void **vaddr)
{
	/* The kernel takes grant_ref_t * but only reads the array. */
	return xenbus_map_ring_valloc(to_xbdev(dev), (grant_ref_t *)grefs, nr_grefs, vaddr);
}

void kapi_xenbus_unmap_ring(struct kapi_xenbus_device *dev, void *vaddr)
{
	xenbus_unmap_ring_vfree(to_xbdev(dev), vaddr);
}

void kapi_xenbus_device_get(struct kapi_xenbus_device *dev)
{
	get_device(&to_xbdev(dev)->dev);
}

void kapi_xenbus_device_put(struct kapi_xenbus_device *dev)
{
	put_device(&to_xbdev(dev)->dev);
}
