/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test controls for the kernel-side fakes of the kapi the engines need
 * beyond memory, locks, threads and grants (kunit/fake_kapi.c): xenbus,
 * event channels, the backend's block device and bios, the frontend's
 * blk-mq requests, and both modules' parameters. Plain QEMU has no Xen and
 * the tests need a disk whose bytes they can check, so xbc_kunit.ko links
 * these in place of common/shim/{xenbus,evtchn,block,blkmq}.c and the
 * modules' C shims. Everything else the engines touch is the real kernel:
 * kthreads, wait queues, work items, kmalloc, pages, spinlocks, mutexes.
 *
 * Event channels: a bound port's handler runs in hard-irq context (an
 * irq_work) when the test fires it; the engine's notify only counts.
 * Bios complete in hard-irq context too (one irq_work each), after moving
 * their bytes between the pages and the fake disk.
 */
#ifndef XBC_KUNIT_FAKE_KAPI_H
#define XBC_KUNIT_FAKE_KAPI_H

#include "kapi/blkmq.h"
#include "kapi/block.h"
#include "kapi/evtchn.h"
#include "kapi/xenbus.h"

KAPI_BEGIN_DECLS

/* A frontend's and a backend's xenbus device (domid 1 <-> dom0). */
struct kapi_xenbus_device *xbc_fake_xenbus_front(void) KAPI_NOEXCEPT;
struct kapi_xenbus_device *xbc_fake_xenbus_back(void) KAPI_NOEXCEPT;
/* Ring pages set up (frontend) plus rings mapped (backend), still live. */
unsigned int xbc_fake_xenbus_live_rings(void) KAPI_NOEXCEPT;

/* The port bound last (the one an engine object just created), or NULL. */
struct kapi_irq *xbc_fake_evtchn_last_bound(void) KAPI_NOEXCEPT;
/* The peer signals @irq: runs its handler in hard-irq context, waits for it. */
void xbc_fake_evtchn_fire(struct kapi_irq *irq) KAPI_NOEXCEPT;
/* kapi_evtchn_notify calls on @irq so far (the engine kicked its peer). */
unsigned int xbc_fake_evtchn_notified(struct kapi_irq *irq) KAPI_NOEXCEPT;
unsigned int xbc_fake_evtchn_live(void) KAPI_NOEXCEPT;

/* The one fake disk kapi_bdev_open opens (any major:minor): zeroed,
 * 512-byte sectors, a volatile write cache. 0 or -ENOMEM. */
int xbc_fake_disk_create(uint64_t nr_sectors) KAPI_NOEXCEPT;
void xbc_fake_disk_destroy(void) KAPI_NOEXCEPT;
unsigned char *xbc_fake_disk_data(void) KAPI_NOEXCEPT;
struct xbc_fake_disk_stats {
	unsigned int opens;		/* kapi_bdev_open minus close */
	unsigned int bios_in_flight;	/* submitted, not yet completed */
	unsigned int bios;		/* submitted so far */
	unsigned int read_bios, write_bios, flush_bios;
	unsigned int failed_bios;	/* completed with an error */
};
void xbc_fake_disk_get_stats(struct xbc_fake_disk_stats *out) KAPI_NOEXCEPT;

/* A blk-mq request as the frontend engine receives it: the test fills
 * info and the pieces; kapi_blk_rq_complete/requeue record the outcome. */
#define XBC_FAKE_RQ_MAX_PIECES 64u
struct kapi_blk_request {
	struct kapi_blk_rq_info info;
	unsigned int nr_pieces;
	struct {
		struct kapi_page *page;
		unsigned int offset;
		unsigned int len;
	} piece[XBC_FAKE_RQ_MAX_PIECES];
	int completions;		/* kapi_blk_rq_complete calls */
	int err;			/* the last one's error */
	int requeues;			/* requeue + detach_bios calls */
};

/* Module parameters' values and pins, as the modules' C shims give them. */
long xbc_fake_blkback_module_pins(void) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_KUNIT_FAKE_KAPI_H */
