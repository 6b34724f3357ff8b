/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kapi blkmq: the frontend's block side. A blk-mq tag set plus its gendisk
 * (one "disk"), the few request accessors the engine needs, and completion.
 * The engine never sees struct request, struct gendisk or queue_limits:
 * requests cross as opaque handles, limits as one plain config struct.
 *
 * 6.1 vs 6.12 (blk_mq_alloc_disk(set, data) vs (set, &lim, data), BLK_FEAT_*
 * and queue_limits_commit_update) is hidden in common/shim/blkmq.c. Host
 * tests link tests/host/support/fake_blkmq.cpp instead.
 *
 * Sectors and lengths are in 512-byte units; block sizes in bytes.
 */
#ifndef KAPI_BLKMQ_H
#define KAPI_BLKMQ_H

#include "kapi/kapi.h"
#include "kapi/memory.h"
#include "kapi/xenbus.h"

KAPI_BEGIN_DECLS

/* struct request. Valid from queue_rq until kapi_blk_rq_complete/requeue. */
struct kapi_blk_request;
/* A tag set and its gendisk/request_queue. */
struct kapi_blkmq_disk;

enum kapi_blk_op {
	KAPI_BLK_OP_READ = 0,
	KAPI_BLK_OP_WRITE = 1,
	KAPI_BLK_OP_FLUSH = 2,		/* empty REQ_OP_FLUSH */
	KAPI_BLK_OP_DISCARD = 3,
	KAPI_BLK_OP_SECURE_ERASE = 4,
	KAPI_BLK_OP_OTHER = 5,		/* anything else: passthrough, zones... */
};
#define KAPI_BLK_RQ_FUA 0x1u

struct kapi_blk_rq_info {
	enum kapi_blk_op op;
	unsigned int flags;		/* KAPI_BLK_RQ_* */
	uint64_t sector;		/* blk_rq_pos */
	uint32_t nr_sectors;		/* blk_rq_sectors */
	uint32_t nr_phys_segments;
};
void kapi_blk_rq_get_info(struct kapi_blk_request *rq, struct kapi_blk_rq_info *info) KAPI_NOEXCEPT;

/*
 * Calls fn once per single-page piece of the request's data, in order
 * (rq_for_each_segment). Stops at and returns fn's first non-zero result.
 */
typedef int (*kapi_blk_segment_fn)(void *ctx, struct kapi_page *page, unsigned int offset,
				   unsigned int len) KAPI_NOEXCEPT;
int kapi_blk_rq_for_each_segment(struct kapi_blk_request *rq, kapi_blk_segment_fn fn,
				 void *ctx) KAPI_NOEXCEPT;

/* Completes the request with 0 or -errno (blk_mq_complete_request). Any context. */
void kapi_blk_rq_complete(struct kapi_blk_request *rq, int err) KAPI_NOEXCEPT;
/* Hands the request back to blk-mq to be dispatched again (blk_mq_requeue_request). */
void kapi_blk_rq_requeue(struct kapi_blk_request *rq) KAPI_NOEXCEPT;
/*
 * Suspend: takes the request's bios onto @disk's pending list and ends the
 * now empty request; kapi_blkmq_resubmit_bios sends them again, so the block
 * layer splits them for the new backend's limits (what in-tree does).
 */
void kapi_blk_rq_detach_bios(struct kapi_blkmq_disk *disk, struct kapi_blk_request *rq) KAPI_NOEXCEPT;
/* Submits every bio taken by kapi_blk_rq_detach_bios. Process context. */
void kapi_blkmq_resubmit_bios(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;

/*
 * A reference on a page the engine does not own (a request's data page),
 * so a page the backend may still map is never freed under it (get_page).
 * Dropped by kapi_gnttab_end_access_deferred.
 */
void kapi_blk_page_get(struct kapi_page *page) KAPI_NOEXCEPT;

/*
 * queue_rq, called by blk-mq on hardware queue @hwq after the request was
 * started. Returns:
 *   0            queued (or already completed by the engine);
 *   -EBUSY       no room: BLK_STS_DEV_RESOURCE. The engine has stopped that
 *                hardware queue (kapi_blkmq_stop_hw_queue, under the same
 *                lock its completion path takes, so no restart is lost)
 *                and restarts it with kapi_blkmq_start_stopped_queues;
 *   -EAGAIN      a transient shortage (grant refs, atomic memory) that no
 *                completion may end: BLK_STS_RESOURCE, blk-mq retries later;
 *   other -errno blk-mq fails the request with that error.
 */
struct kapi_blkmq_ops {
	int (*queue_rq)(void *ctx, unsigned int hwq, struct kapi_blk_request *rq) KAPI_NOEXCEPT;
};

struct kapi_blkmq_config {
	unsigned int nr_hw_queues;
	unsigned int queue_depth;
	uint64_t capacity;		/* 512-byte sectors */
	uint32_t logical_block_size;	/* bytes */
	uint32_t physical_block_size;	/* bytes */
	uint32_t max_hw_sectors;
	uint32_t max_segments;
	uint32_t max_segment_size;	/* bytes */
	uint32_t segment_boundary_mask;	/* a segment never crosses (mask + 1) */
	uint32_t dma_alignment;		/* mask: 511 = sector aligned buffers */
	bool write_cache;		/* flush requests make sense */
	bool fua;
	bool discard;
	bool secure_erase;
	uint32_t max_discard_sectors;
	uint32_t discard_granularity;	/* bytes */
	uint32_t discard_alignment;	/* bytes */
	bool readonly;
	bool removable;
	bool cdrom;			/* answers CDROM_GET_CAPABILITY */
	uint32_t major;
	uint32_t first_minor;
	uint32_t minors;
	char name[32];			/* "xvda", "xvdb1", ... */
};

/*
 * Allocates the tag set and gendisk with the given limits; nothing is visible
 * to userspace until kapi_blkmq_disk_add. -errno on failure.
 */
int kapi_blkmq_disk_alloc(const struct kapi_blkmq_config *cfg, const struct kapi_blkmq_ops *ops,
			  void *ctx, struct kapi_blkmq_disk **out) KAPI_NOEXCEPT;
/* device_add_disk under the xenbus device. */
int kapi_blkmq_disk_add(struct kapi_blkmq_disk *disk, struct kapi_xenbus_device *parent) KAPI_NOEXCEPT;
/*
 * Removes the disk if added (del_gendisk: waits for requests in flight, so
 * the engine must complete them all) and fails detached bios. The disk and
 * its queues stay valid until kapi_blkmq_disk_put. NULL is a no-op.
 * Process context.
 */
void kapi_blkmq_disk_del(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;
/*
 * Frees the gendisk, tag set and disk (put_disk, blk_mq_free_tag_set). No
 * queue_rq, completion or queue call may reach the disk any more: the
 * engine unbinds its interrupts first. NULL is a no-op. Process context.
 */
void kapi_blkmq_disk_put(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;

/*
 * New per-request limits after a resume onto another backend (in-tree
 * blkif_recover): requests built from then on fit them. Process context.
 */
int kapi_blkmq_set_max_segments(struct kapi_blkmq_disk *disk, unsigned int max_segments,
				unsigned int max_hw_sectors) KAPI_NOEXCEPT;
/* Online resize (set_capacity_and_notify). */
void kapi_blkmq_set_capacity(struct kapi_blkmq_disk *disk, uint64_t sectors) KAPI_NOEXCEPT;
/* The disk is gone: fail new I/O, capacity 0 (blk_mark_disk_dead). */
void kapi_blkmq_mark_dead(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;
/*
 * The backend refused flush/discard: stop offering it where the kernel lets
 * us change that from any context (6.1 does; 6.12 keeps its limits, and the
 * engine completes such requests itself).
 */
void kapi_blkmq_disable_flush(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;
void kapi_blkmq_disable_discard(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;

void kapi_blkmq_stop_queues(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;
/* Stops hardware queue @hwq (blk_mq_stop_hw_queue); any context. */
void kapi_blkmq_stop_hw_queue(struct kapi_blkmq_disk *disk, unsigned int hwq) KAPI_NOEXCEPT;
/*
 * Waits until no queue_rq runs and none starts until unquiesce
 * (blk_mq_quiesce_queue): the engine may then swap its rings. Process context.
 */
void kapi_blkmq_quiesce(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;
void kapi_blkmq_unquiesce(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;
/* Restarts stopped hardware queues asynchronously; any context. */
void kapi_blkmq_start_stopped_queues(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;
/* Dispatches requests handed back with kapi_blk_rq_requeue. */
void kapi_blkmq_kick_requeue(struct kapi_blkmq_disk *disk) KAPI_NOEXCEPT;

/* The number of online CPUs, to cap the number of queues. */
unsigned int kapi_num_online_cpus(void) KAPI_NOEXCEPT;

/*
 * HVM guests with emulated disks still present (no unplug): the in-tree
 * frontend then takes only xvd (major 202) vbds and no CD-ROMs.
 */
bool kapi_xen_hvm_with_legacy_disks(void) KAPI_NOEXCEPT;
bool kapi_xen_hvm_domain(void) KAPI_NOEXCEPT;

/*
 * Our side is closed (xenbus_frontend_closed: switch to Closed and let a
 * waiting shutdown proceed).
 */
void kapi_xenbus_frontend_closed(struct kapi_xenbus_device *dev) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* KAPI_BLKMQ_H */
