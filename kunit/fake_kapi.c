// SPDX-License-Identifier: GPL-2.0-only
/*
 * Over 450 lines: it mirrors kapi's xenbus, evtchn, block and blkmq headers
 * one to one, so a reader finds each fake where the header is.
 */
/*
 * Kernel-side fakes of the kapi xenbus, evtchn, block and blkmq functions,
 * and of the modules' parameter and platform shims, for xbc_kunit.ko (see
 * kunit/fake_kapi.h). Only what the engine suites drive behaves; the rest
 * answers as a device with no xenstore and no disk would (-ENOENT,
 * -ENODEV, no-ops), so that the shipped engine files link unchanged.
 */
#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/irq_work.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "kapi/blkmq.h"
#include "kapi/block.h"
#include "kapi/evtchn.h"
#include "kapi/gnttab.h"
#include "kapi/xenbus.h"
#include "blkback/params.h"
#include "blkback/platform.h"
#include "blkfront/params.h"
#include "kunit/fake_gnttab.h"
#include "kunit/fake_kapi.h"

/* --- xenbus ---------------------------------------------------------------- */

struct kapi_xenbus_device {
	const char *nodename;
	const char *otherend;
	uint16_t otherend_id;
};

static struct kapi_xenbus_device fake_front = {
	"device/vbd/51712", "backend/vbd/1/51712", 0
};
static struct kapi_xenbus_device fake_back = {
	"backend/vbd/1/51712", "/local/domain/1/device/vbd/51712", 1
};
static atomic_t live_rings = ATOMIC_INIT(0);

struct kapi_xenbus_device *xbc_fake_xenbus_front(void)
{
	return &fake_front;
}

struct kapi_xenbus_device *xbc_fake_xenbus_back(void)
{
	return &fake_back;
}

unsigned int xbc_fake_xenbus_live_rings(void)
{
	return atomic_read(&live_rings);
}

const char *kapi_xenbus_nodename(const struct kapi_xenbus_device *dev)
{
	return dev->nodename;
}

const char *kapi_xenbus_otherend(const struct kapi_xenbus_device *dev)
{
	return dev->otherend;
}

uint16_t kapi_xenbus_otherend_id(const struct kapi_xenbus_device *dev)
{
	return dev->otherend_id;
}

int kapi_xenbus_switch_state(struct kapi_xenbus_device *dev, enum kapi_xenbus_state state)
{
	return 0;
}

void kapi_xenbus_dev_fatal(struct kapi_xenbus_device *dev, int err, const char *msg)
{
	pr_info("xbc_kunit: %s: dev_fatal %d: %s\n", dev->nodename, err, msg);
}

int kapi_xenbus_transaction_start(kapi_xbt *t)
{
	*t = 1;
	return 0;
}

int kapi_xenbus_transaction_end(kapi_xbt t, bool abort)
{
	return 0;
}

/* An empty xenstore: reads find nothing, writes vanish. */
int kapi_xenbus_read(kapi_xbt t, const char *dir, const char *node, char *buf, size_t len)
{
	return -ENOENT;
}

int kapi_xenbus_write(kapi_xbt t, const char *dir, const char *node, const char *value)
{
	return 0;
}

int kapi_xenbus_rm(kapi_xbt t, const char *dir, const char *node)
{
	return 0;
}

int kapi_xenbus_watch(struct kapi_xenbus_device *dev, const char *path, kapi_xenbus_watch_fn fn,
		      void *ctx, struct kapi_xenbus_watch **out)
{
	return -ENOSYS;
}

void kapi_xenbus_unwatch(struct kapi_xenbus_watch *watch)
{
}

/* One-page rings only: what the engine suites use. */
int kapi_xenbus_setup_ring(struct kapi_xenbus_device *dev, unsigned int nr_pages, void **vaddr,
			   uint32_t *grefs)
{
	struct kapi_page *page;
	int rc;

	if (nr_pages != 1)
		return -EINVAL;
	page = kapi_page_alloc(KAPI_GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	rc = kapi_gnttab_grant_page(dev->otherend_id, page, false, &grefs[0]);
	if (rc) {
		kapi_page_free(page);
		return rc;
	}
	*vaddr = kapi_page_address(page);
	atomic_inc(&live_rings);
	return 0;
}

void kapi_xenbus_teardown_ring(void **vaddr, unsigned int nr_pages, uint32_t *grefs)
{
	if (!*vaddr)
		return;
	/* Frees the page, now or once the peer unmaps it. */
	kapi_gnttab_end_access_deferred(grefs[0], (struct kapi_page *)virt_to_page(*vaddr));
	*vaddr = NULL;
	grefs[0] = 0;
	atomic_dec(&live_rings);
}

/* The peer's ring page itself: a real mapping shows the same memory. */
int kapi_xenbus_map_ring(struct kapi_xenbus_device *dev, const uint32_t *grefs,
			 unsigned int nr_grefs, void **vaddr)
{
	struct kapi_page *page;

	if (nr_grefs != 1)
		return -EINVAL;
	page = xbc_fake_gnttab_peer_page(grefs[0]);
	if (!page)
		return -ENOENT;
	*vaddr = kapi_page_address(page);
	atomic_inc(&live_rings);
	return 0;
}

void kapi_xenbus_unmap_ring(struct kapi_xenbus_device *dev, void *vaddr)
{
	if (vaddr)
		atomic_dec(&live_rings);
}

void kapi_xenbus_device_get(struct kapi_xenbus_device *dev)
{
}

void kapi_xenbus_device_put(struct kapi_xenbus_device *dev)
{
}

void kapi_xenbus_frontend_closed(struct kapi_xenbus_device *dev)
{
}

/* --- event channels --------------------------------------------------------- */

struct kapi_irq {
	kapi_irq_fn fn;
	void *ctx;
	struct irq_work work;
	atomic_t notified;
	uint32_t port;
};

static atomic_t live_irqs = ATOMIC_INIT(0);
static atomic_t next_port = ATOMIC_INIT(1);
static struct kapi_irq *last_bound;

static void fake_irq_work(struct irq_work *work)
{
	struct kapi_irq *irq = container_of(work, struct kapi_irq, work);

	irq->fn(irq->ctx);
}

static int fake_bind(kapi_irq_fn fn, void *ctx, uint32_t *port, struct kapi_irq **out)
{
	struct kapi_irq *irq = kzalloc(sizeof(*irq), GFP_KERNEL);

	if (!irq)
		return -ENOMEM;
	irq->fn = fn;
	irq->ctx = ctx;
	init_irq_work(&irq->work, fake_irq_work);
	irq->port = atomic_inc_return(&next_port);
	if (port)
		*port = irq->port;
	WRITE_ONCE(last_bound, irq);
	atomic_inc(&live_irqs);
	*out = irq;
	return 0;
}

int kapi_evtchn_alloc_bind(struct kapi_xenbus_device *dev, kapi_irq_fn fn, void *ctx,
			   const char *name, uint32_t *port, struct kapi_irq **out)
{
	return fake_bind(fn, ctx, port, out);
}

int kapi_evtchn_bind_interdomain(struct kapi_xenbus_device *dev, uint32_t remote_port,
				 kapi_irq_fn fn, void *ctx, const char *name, struct kapi_irq **out)
{
	return fake_bind(fn, ctx, NULL, out);
}

void kapi_evtchn_unbind(struct kapi_irq *irq)
{
	if (!irq)
		return;
	irq_work_sync(&irq->work);
	if (READ_ONCE(last_bound) == irq)
		WRITE_ONCE(last_bound, NULL);
	kfree(irq);
	atomic_dec(&live_irqs);
}

void kapi_evtchn_notify(struct kapi_irq *irq)
{
	atomic_inc(&irq->notified);
}

void kapi_evtchn_lateeoi(struct kapi_irq *irq, bool spurious)
{
}

struct kapi_irq *xbc_fake_evtchn_last_bound(void)
{
	return READ_ONCE(last_bound);
}

void xbc_fake_evtchn_fire(struct kapi_irq *irq)
{
	irq_work_queue(&irq->work);
	irq_work_sync(&irq->work);
}

unsigned int xbc_fake_evtchn_notified(struct kapi_irq *irq)
{
	return atomic_read(&irq->notified);
}

unsigned int xbc_fake_evtchn_live(void)
{
	return atomic_read(&live_irqs);
}

/* --- the backend's block device --------------------------------------------- */

struct kapi_bdev {
	unsigned char *data;
	uint64_t nr_sectors;
};

static struct kapi_bdev fake_disk;
static struct irq_work disk_irq;	/* completes bios: see fake_disk_irq */
static atomic_t disk_opens, bios_in_flight, bios, read_bios, write_bios, flush_bios, failed_bios;

static void fake_disk_irq(struct irq_work *work);

int xbc_fake_disk_create(uint64_t nr_sectors)
{
	init_irq_work(&disk_irq, fake_disk_irq);
	fake_disk.data = vzalloc(nr_sectors * 512);
	if (!fake_disk.data)
		return -ENOMEM;
	fake_disk.nr_sectors = nr_sectors;
	atomic_set(&disk_opens, 0);
	atomic_set(&bios_in_flight, 0);
	atomic_set(&bios, 0);
	atomic_set(&read_bios, 0);
	atomic_set(&write_bios, 0);
	atomic_set(&flush_bios, 0);
	atomic_set(&failed_bios, 0);
	return 0;
}

void xbc_fake_disk_destroy(void)
{
	irq_work_sync(&disk_irq);
	vfree(fake_disk.data);
	fake_disk.data = NULL;
	fake_disk.nr_sectors = 0;
}

unsigned char *xbc_fake_disk_data(void)
{
	return fake_disk.data;
}

void xbc_fake_disk_get_stats(struct xbc_fake_disk_stats *out)
{
	out->opens = atomic_read(&disk_opens);
	out->bios_in_flight = atomic_read(&bios_in_flight);
	out->bios = atomic_read(&bios);
	out->read_bios = atomic_read(&read_bios);
	out->write_bios = atomic_read(&write_bios);
	out->flush_bios = atomic_read(&flush_bios);
	out->failed_bios = atomic_read(&failed_bios);
}

int kapi_bdev_open(uint32_t major, uint32_t minor, bool readonly, void *holder,
		   struct kapi_bdev **out)
{
	if (!fake_disk.data)
		return -ENXIO;
	atomic_inc(&disk_opens);
	*out = &fake_disk;
	return 0;
}

void kapi_bdev_close(struct kapi_bdev *bdev)
{
	if (bdev)
		atomic_dec(&disk_opens);
}

void kapi_bdev_query(struct kapi_bdev *bdev, struct kapi_bdev_info *info)
{
	memset(info, 0, sizeof(*info));
	info->nr_sectors = bdev->nr_sectors;
	info->logical_block_size = 512;
	info->physical_block_size = 512;
	info->write_cache = true;
	info->discard = true;
	info->discard_granularity = 512;
}

uint64_t kapi_bdev_nr_sectors(struct kapi_bdev *bdev)
{
	return bdev->nr_sectors;
}

struct kapi_bio {
	struct llist_node node;		/* on done_bios once submitted */
	struct kapi_bdev *bdev;
	enum kapi_bio_op op;
	uint64_t sector;
	kapi_bio_done_fn done;
	void *ctx;
	unsigned int nr_vecs, max_vecs;
	struct {
		struct kapi_page *page;
		unsigned int len, offset;
	} vec[];
};

static LLIST_HEAD(done_bios);

/* Moves one bio's bytes, ends it, frees it. */
static void fake_bio_complete(struct kapi_bio *bio)
{
	uint64_t pos = bio->sector * 512;
	int err = 0;
	unsigned int i;

	for (i = 0; i < bio->nr_vecs; i++) {
		unsigned char *page = kapi_page_address(bio->vec[i].page);

		if (pos + bio->vec[i].len > bio->bdev->nr_sectors * 512) {
			err = -EIO;
			break;
		}
		if (bio->op == KAPI_BIO_READ)
			memcpy(page + bio->vec[i].offset, bio->bdev->data + pos, bio->vec[i].len);
		else
			memcpy(bio->bdev->data + pos, page + bio->vec[i].offset, bio->vec[i].len);
		pos += bio->vec[i].len;
	}
	if (err)
		atomic_inc(&failed_bios);
	bio->done(bio->ctx, err);
	kfree(bio);
	atomic_dec(&bios_in_flight);
}

/*
 * Hard-irq context, as a real completion can be. One irq_work for the disk
 * (never freed: irq_work_single touches the work after its function runs,
 * so a bio cannot carry its own), completing bios in submission order.
 */
static void fake_disk_irq(struct irq_work *work)
{
	struct llist_node *list = llist_reverse_order(llist_del_all(&done_bios));
	struct kapi_bio *bio, *next;

	llist_for_each_entry_safe(bio, next, list, node)
		fake_bio_complete(bio);
}

struct kapi_bio *kapi_bio_alloc(struct kapi_bdev *bdev, enum kapi_bio_op op, unsigned int flags,
				uint64_t sector, unsigned int nr_vecs, kapi_bio_done_fn done,
				void *ctx)
{
	struct kapi_bio *bio = kzalloc(struct_size(bio, vec, nr_vecs), GFP_NOIO);

	if (!bio)
		return NULL;
	bio->bdev = bdev;
	bio->op = op;
	bio->sector = sector;
	bio->done = done;
	bio->ctx = ctx;
	bio->max_vecs = nr_vecs;
	return bio;
}

bool kapi_bio_add_page(struct kapi_bio *bio, struct kapi_page *page, unsigned int len,
		       unsigned int offset)
{
	if (bio->nr_vecs == bio->max_vecs || offset + len > PAGE_SIZE)
		return false;
	bio->vec[bio->nr_vecs].page = page;
	bio->vec[bio->nr_vecs].len = len;
	bio->vec[bio->nr_vecs].offset = offset;
	bio->nr_vecs++;
	return true;
}

void kapi_bio_submit(struct kapi_bio *bio)
{
	atomic_inc(&bios);
	atomic_inc(bio->op == KAPI_BIO_READ ? &read_bios :
		   bio->op == KAPI_BIO_WRITE ? &write_bios : &flush_bios);
	atomic_inc(&bios_in_flight);
	llist_add(&bio->node, &done_bios);
	irq_work_queue(&disk_irq);
}

void kapi_bio_put(struct kapi_bio *bio)
{
	kfree(bio);
}

int kapi_bdev_discard(struct kapi_bdev *bdev, uint64_t sector, uint64_t nr_sectors, bool secure,
		      enum kapi_gfp gfp)
{
	if (sector > bdev->nr_sectors || nr_sectors > bdev->nr_sectors - sector)
		return -EIO;
	memset(bdev->data + sector * 512, 0, nr_sectors * 512);
	return 0;
}

/* --- the frontend's blk-mq side ----------------------------------------------- */

void kapi_blk_rq_get_info(struct kapi_blk_request *rq, struct kapi_blk_rq_info *info)
{
	*info = rq->info;
}

int kapi_blk_rq_for_each_segment(struct kapi_blk_request *rq, kapi_blk_segment_fn fn, void *ctx)
{
	unsigned int i;
	int rc;

	for (i = 0; i < rq->nr_pieces; i++) {
		rc = fn(ctx, rq->piece[i].page, rq->piece[i].offset, rq->piece[i].len);
		if (rc)
			return rc;
	}
	return 0;
}

void kapi_blk_rq_complete(struct kapi_blk_request *rq, int err)
{
	WRITE_ONCE(rq->err, err);
	WRITE_ONCE(rq->completions, rq->completions + 1);
}

void kapi_blk_rq_requeue(struct kapi_blk_request *rq)
{
	WRITE_ONCE(rq->requeues, rq->requeues + 1);
}

void kapi_blk_rq_detach_bios(struct kapi_blkmq_disk *disk, struct kapi_blk_request *rq)
{
	WRITE_ONCE(rq->requeues, rq->requeues + 1);
}

void kapi_blkmq_resubmit_bios(struct kapi_blkmq_disk *disk)
{
}

void kapi_blk_page_get(struct kapi_page *page)
{
	get_page((struct page *)page);
}

/* No gendisk: the engine suites drive an IoRing without one. */
int kapi_blkmq_disk_alloc(const struct kapi_blkmq_config *cfg, const struct kapi_blkmq_ops *ops,
			  void *ctx, struct kapi_blkmq_disk **out)
{
	return -ENODEV;
}

int kapi_blkmq_disk_add(struct kapi_blkmq_disk *disk, struct kapi_xenbus_device *parent)
{
	return -ENODEV;
}

void kapi_blkmq_disk_del(struct kapi_blkmq_disk *disk) {}
void kapi_blkmq_disk_put(struct kapi_blkmq_disk *disk) {}

int kapi_blkmq_set_max_segments(struct kapi_blkmq_disk *disk, unsigned int max_segments,
				unsigned int max_hw_sectors)
{
	return 0;
}

void kapi_blkmq_set_capacity(struct kapi_blkmq_disk *disk, uint64_t sectors) {}
void kapi_blkmq_mark_dead(struct kapi_blkmq_disk *disk) {}
void kapi_blkmq_disable_flush(struct kapi_blkmq_disk *disk) {}
void kapi_blkmq_disable_discard(struct kapi_blkmq_disk *disk) {}
void kapi_blkmq_stop_queues(struct kapi_blkmq_disk *disk) {}
void kapi_blkmq_stop_hw_queue(struct kapi_blkmq_disk *disk, unsigned int hwq) {}
void kapi_blkmq_quiesce(struct kapi_blkmq_disk *disk) {}
void kapi_blkmq_unquiesce(struct kapi_blkmq_disk *disk) {}
void kapi_blkmq_start_stopped_queues(struct kapi_blkmq_disk *disk) {}
void kapi_blkmq_kick_requeue(struct kapi_blkmq_disk *disk) {}

unsigned int kapi_num_online_cpus(void)
{
	return num_online_cpus();
}

bool kapi_xen_hvm_with_legacy_disks(void)
{
	return false;
}

bool kapi_xen_hvm_domain(void)
{
	return false;
}

/* --- the modules' parameters and platform shims (in-tree defaults) ---------- */

static atomic_long_t blkback_pins = ATOMIC_LONG_INIT(0);

int xbc_blkback_param_max_buffer_pages(void) { return 1024; }
int xbc_blkback_param_max_persistent_grants(void) { return 1056; }
unsigned int xbc_blkback_param_persistent_grant_unused_seconds(void) { return 60; }
unsigned int xbc_blkback_param_max_queues(void) { return 0; }
int xbc_blkback_param_max_ring_page_order(void) { return 0; }
int xbc_blkback_param_log_stats(void) { return 0; }
bool xbc_blkback_param_feature_persistent(void) { return true; }
int xbc_blkback_param_buffer_squeeze_duration_ms(void) { return 10; }
bool xbc_blkback_param_grant_copy(void) { return true; }
unsigned int xbc_blkback_online_cpus(void) { return num_online_cpus(); }
int xbc_blkback_bdev_sync(struct kapi_bdev *bdev) { return 0; }
void xbc_blkback_module_get(void) { atomic_long_inc(&blkback_pins); }
void xbc_blkback_module_put(void) { atomic_long_dec(&blkback_pins); }

long xbc_fake_blkback_module_pins(void)
{
	return atomic_long_read(&blkback_pins);
}

unsigned int xbc_blkfront_param_max_indirect_segments(void) { return 32; }
unsigned int xbc_blkfront_param_max_queues(void) { return 4; }
int xbc_blkfront_param_max_ring_page_order(void) { return 0; }
bool xbc_blkfront_param_trusted(void) { return true; }
bool xbc_blkfront_param_feature_persistent(void) { return true; }
