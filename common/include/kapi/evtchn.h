/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kapi evtchn: event channels bound to lateeoi interrupts (the XSA-332/391
 * lesson: the handler acknowledges only when it has drained the ring, and
 * says whether the event was spurious, so a peer cannot storm us).
 */
#ifndef KAPI_EVTCHN_H
#define KAPI_EVTCHN_H

#include "kapi/kapi.h"
#include "kapi/xenbus.h"

KAPI_BEGIN_DECLS

struct kapi_irq;
/* Runs in hard-irq context; must not sleep. */
typedef void (*kapi_irq_fn)(void *ctx) KAPI_NOEXCEPT;

/* Frontend: allocate an unbound port for the peer and bind it. */
int kapi_evtchn_alloc_bind(struct kapi_xenbus_device *dev, kapi_irq_fn fn, void *ctx, const char *name,
			   uint32_t *port, struct kapi_irq **out) KAPI_NOEXCEPT;
/* Backend: bind to the peer's port (bind_interdomain_evtchn_to_irqhandler_lateeoi). */
int kapi_evtchn_bind_interdomain(struct kapi_xenbus_device *dev, uint32_t remote_port, kapi_irq_fn fn,
				 void *ctx, const char *name, struct kapi_irq **out) KAPI_NOEXCEPT;
/* Unbinds and frees the port; waits for a running handler. NULL is a no-op. */
void kapi_evtchn_unbind(struct kapi_irq *irq) KAPI_NOEXCEPT;
void kapi_evtchn_notify(struct kapi_irq *irq) KAPI_NOEXCEPT;
/* Acknowledge after draining; @spurious when the event brought no work. */
void kapi_evtchn_lateeoi(struct kapi_irq *irq, bool spurious) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* KAPI_EVTCHN_H */
