// SPDX-License-Identifier: GPL-2.0-only
/*
 * kapi evtchn (common/include/kapi/evtchn.h): event channels bound to
 * lateeoi interrupts. The shim-owned struct kapi_irq carries the C++
 * callback and its context (the irq's dev_id), and keeps the irq name alive
 * for as long as the handler is registered. No 6.1/6.12 differences.
 */
#include "shim.h"
#include "kapi/evtchn.h"

#include <linux/interrupt.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <xen/events.h>
#include <xen/xenbus.h>

struct kapi_irq {
	int irq;
	kapi_irq_fn fn;
	void *ctx;
	char name[32];		/* /proc/interrupts label; request_irq keeps the pointer */
};

static irqreturn_t kapi_evtchn_interrupt(int irq, void *dev_id)
{
	struct kapi_irq *ki = dev_id;

	ki->fn(ki->ctx);
	return IRQ_HANDLED;
}

static struct kapi_irq *kapi_irq_new(kapi_irq_fn fn, void *ctx, const char *name)
{
	struct kapi_irq *ki = kzalloc(sizeof(*ki), GFP_KERNEL);

	if (!ki)
		return NULL;
	ki->fn = fn;
	ki->ctx = ctx;
	strscpy(ki->name, name, sizeof(ki->name));
	return ki;
}

int kapi_evtchn_alloc_bind(struct kapi_xenbus_device *dev, kapi_irq_fn fn, void *ctx, const char *name,
			   uint32_t *port, struct kapi_irq **out)
{
	struct xenbus_device *xbdev = (struct xenbus_device *)dev;
	struct kapi_irq *ki = kapi_irq_new(fn, ctx, name);
	evtchn_port_t evtchn;
	int err;

	if (!ki)
		return -ENOMEM;
	err = xenbus_alloc_evtchn(xbdev, &evtchn);
	if (err)
		goto free;
	err = bind_evtchn_to_irqhandler_lateeoi(evtchn, kapi_evtchn_interrupt, 0, ki->name, ki);
	if (err < 0) {
		xenbus_free_evtchn(xbdev, evtchn);
		goto free;
	}
	ki->irq = err;
	*port = evtchn;
	*out = ki;
	return 0;
free:
	kfree(ki);
	return err;
}

int kapi_evtchn_bind_interdomain(struct kapi_xenbus_device *dev, uint32_t remote_port, kapi_irq_fn fn,
				 void *ctx, const char *name, struct kapi_irq **out)
{
	struct kapi_irq *ki = kapi_irq_new(fn, ctx, name);
	int irq;

	if (!ki)
		return -ENOMEM;
	irq = bind_interdomain_evtchn_to_irqhandler_lateeoi((struct xenbus_device *)dev, remote_port,
							    kapi_evtchn_interrupt, 0, ki->name, ki);
	if (irq < 0) {
		kfree(ki);
		return irq;
	}
	ki->irq = irq;
	*out = ki;
	return 0;
}

void kapi_evtchn_unbind(struct kapi_irq *ki)
{
	if (!ki)
		return;
	/* Frees the irq (waiting for a running handler) and closes the port. */
	unbind_from_irqhandler(ki->irq, ki);
	kfree(ki);
}

void kapi_evtchn_notify(struct kapi_irq *ki)
{
	notify_remote_via_irq(ki->irq);
}

void kapi_evtchn_lateeoi(struct kapi_irq *ki, bool spurious)
{
	xen_irq_lateeoi(ki->irq, spurious ? XEN_EOI_FLAG_SPURIOUS : 0);
}
