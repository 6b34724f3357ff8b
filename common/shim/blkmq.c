// SPDX-License-Identifier: GPL-2.0-only
/*
 * Over 450 lines: one file per kernel subsystem is the shim rule, and
 * blk-mq's tag set, gendisk, queue limits and request walk are one
 * subsystem.
 */
/*
 * kapi blkmq (common/include/kapi/blkmq.h): the frontend's tag set, gendisk
 * and request accessors. struct kapi_blk_request is the kernel's struct
 * request, renamed. The 6.1/6.12 differences live here and nowhere else:
 *  - 6.9+ takes the queue limits (and BLK_FEAT_* flags) at allocation, in
 *    blk_mq_alloc_disk(set, &lim, data); 6.1 sets them with blk_queue_*();
 *  - 6.12 cannot change the write cache from irq context, so
 *    kapi_blkmq_disable_flush is a no-op there (the engine completes
 *    flushes itself, as 6.12's in-tree driver does);
 *  - block_device_operations.ioctl takes fmode_t (6.1) or blk_mode_t (6.12).
 */
#include "shim.h"
#include "kapi/blkmq.h"

#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/cdrom.h>
#include <linux/cpumask.h>
#include <linux/hdreg.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <xen/platform_pci.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

struct kapi_blkmq_disk {
	struct blk_mq_tag_set tag_set;
	struct gendisk *gd;
	struct bio_list pending_bios;	/* detached at suspend, under pending_lock */
	spinlock_t pending_lock;
	struct kapi_blkmq_ops ops;
	void *ctx;
	bool added;
	bool cdrom;
};

/* Per-request data: the errno the engine completed it with. */
struct kapi_rq_pdu {
	int err;
};

static struct request *to_rq(struct kapi_blk_request *rq)
{
	return (struct request *)rq;
}

void kapi_blk_rq_get_info(struct kapi_blk_request *krq, struct kapi_blk_rq_info *info)
{
	struct request *rq = to_rq(krq);

	switch (req_op(rq)) {
	case REQ_OP_READ:
		info->op = KAPI_BLK_OP_READ;
		break;
	case REQ_OP_WRITE:
		info->op = KAPI_BLK_OP_WRITE;
		break;
	case REQ_OP_FLUSH:
		info->op = KAPI_BLK_OP_FLUSH;
		break;
	case REQ_OP_DISCARD:
		info->op = KAPI_BLK_OP_DISCARD;
		break;
	case REQ_OP_SECURE_ERASE:
		info->op = KAPI_BLK_OP_SECURE_ERASE;
		break;
	default:
		info->op = KAPI_BLK_OP_OTHER;
		break;
	}
	if (blk_rq_is_passthrough(rq))
		info->op = KAPI_BLK_OP_OTHER;
	info->flags = (rq->cmd_flags & REQ_FUA) ? KAPI_BLK_RQ_FUA : 0;
	info->sector = blk_rq_pos(rq);
	info->nr_sectors = blk_rq_sectors(rq);
	info->nr_phys_segments = rq->nr_phys_segments;
}

int kapi_blk_rq_for_each_segment(struct kapi_blk_request *krq, kapi_blk_segment_fn fn, void *ctx)
{
	struct req_iterator iter;
	struct bio_vec bv;
	int rc;

	rq_for_each_segment(bv, to_rq(krq), iter) {
		rc = fn(ctx, (struct kapi_page *)bv.bv_page, bv.bv_offset, bv.bv_len);
		if (rc)
			return rc;
	}
	return 0;
}

void kapi_blk_rq_complete(struct kapi_blk_request *krq, int err)
{
	struct request *rq = to_rq(krq);
	struct kapi_rq_pdu *pdu = blk_mq_rq_to_pdu(rq);

	pdu->err = err;
	blk_mq_complete_request(rq);
}

void kapi_blk_rq_requeue(struct kapi_blk_request *krq)
{
	blk_mq_requeue_request(to_rq(krq), false);
}

void kapi_blk_rq_detach_bios(struct kapi_blkmq_disk *d, struct kapi_blk_request *krq)
{
	struct request *rq = to_rq(krq);
	struct bio_list bios = { .head = rq->bio, .tail = rq->biotail };
	unsigned long flags;

	spin_lock_irqsave(&d->pending_lock, flags);
	bio_list_merge(&d->pending_bios, &bios);
	spin_unlock_irqrestore(&d->pending_lock, flags);
	rq->bio = NULL;
	rq->biotail = NULL;
	blk_mq_end_request(rq, BLK_STS_OK);
}

void kapi_blkmq_resubmit_bios(struct kapi_blkmq_disk *d)
{
	struct bio_list bios;
	struct bio *bio;
	unsigned long flags;

	spin_lock_irqsave(&d->pending_lock, flags);
	bios = d->pending_bios;
	bio_list_init(&d->pending_bios);
	spin_unlock_irqrestore(&d->pending_lock, flags);
	while ((bio = bio_list_pop(&bios)))
		submit_bio(bio);
}

void kapi_blk_page_get(struct kapi_page *page)
{
	get_page((struct page *)page);
}

static blk_status_t kapi_blkmq_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *qd)
{
	struct kapi_blkmq_disk *d = hctx->queue->queuedata;
	int rc;

	blk_mq_start_request(qd->rq);
	rc = d->ops.queue_rq(d->ctx, hctx->queue_num, (struct kapi_blk_request *)qd->rq);
	switch (rc) {
	case 0:
		return BLK_STS_OK;
	case -EBUSY:
		return BLK_STS_DEV_RESOURCE;
	case -EAGAIN:
		return BLK_STS_RESOURCE;
	default:
		return errno_to_blk_status(rc);
	}
}

static void kapi_blkmq_complete(struct request *rq)
{
	struct kapi_rq_pdu *pdu = blk_mq_rq_to_pdu(rq);

	blk_mq_end_request(rq, errno_to_blk_status(pdu->err));
}

static const struct blk_mq_ops kapi_blkmq_mq_ops = {
	.queue_rq = kapi_blkmq_queue_rq,
	.complete = kapi_blkmq_complete,
};

/* No geometry exists; report one that matches the size (as in-tree). */
static int kapi_blkmq_getgeo(struct block_device *bdev, struct hd_geometry *hg)
{
	sector_t nsect = get_capacity(bdev->bd_disk);
	sector_t cylinders = nsect;

	hg->heads = 0xff;
	hg->sectors = 0x3f;
	sector_div(cylinders, hg->heads * hg->sectors);
	hg->cylinders = cylinders;
	if ((sector_t)(hg->cylinders + 1) * hg->heads * hg->sectors < nsect)
		hg->cylinders = 0xffff;
	return 0;
}

static int kapi_blkmq_do_ioctl(struct block_device *bdev, unsigned int command, unsigned long arg)
{
	struct kapi_blkmq_disk *d = bdev->bd_disk->private_data;
	size_t i;

	switch (command) {
	case CDROMMULTISESSION:
		for (i = 0; i < sizeof(struct cdrom_multisession); i++)
			if (put_user(0, (char __user *)(arg + i)))
				return -EFAULT;
		return 0;
	case CDROM_GET_CAPABILITY:
		return d->cdrom ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
static int kapi_blkmq_ioctl(struct block_device *bdev, blk_mode_t mode, unsigned int command,
			    unsigned long arg)
#else
static int kapi_blkmq_ioctl(struct block_device *bdev, fmode_t mode, unsigned int command,
			    unsigned long arg)
#endif
{
	return kapi_blkmq_do_ioctl(bdev, command, arg);
}

static const struct block_device_operations kapi_blkmq_fops = {
	.owner = THIS_MODULE,
	.getgeo = kapi_blkmq_getgeo,
	.ioctl = kapi_blkmq_ioctl,
	.compat_ioctl = blkdev_compat_ptr_ioctl,
};

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
static struct gendisk *kapi_blkmq_alloc_gendisk(struct kapi_blkmq_disk *d,
						const struct kapi_blkmq_config *cfg)
{
	struct queue_limits lim = {
		.logical_block_size = cfg->logical_block_size,
		.physical_block_size = cfg->physical_block_size,
		.max_hw_sectors = cfg->max_hw_sectors,
		.max_segments = cfg->max_segments,
		.max_segment_size = cfg->max_segment_size,
		.seg_boundary_mask = cfg->segment_boundary_mask,
		.dma_alignment = cfg->dma_alignment,
	};

	if (cfg->write_cache)
		lim.features |= BLK_FEAT_WRITE_CACHE;
	if (cfg->fua)
		lim.features |= BLK_FEAT_FUA;
	if (cfg->discard) {
		lim.max_hw_discard_sectors = cfg->max_discard_sectors;
		lim.discard_granularity = cfg->discard_granularity;
		lim.discard_alignment = cfg->discard_alignment;
		if (cfg->secure_erase)
			lim.max_secure_erase_sectors = cfg->max_discard_sectors;
	}
	return blk_mq_alloc_disk(&d->tag_set, &lim, d);
}
#else
static struct gendisk *kapi_blkmq_alloc_gendisk(struct kapi_blkmq_disk *d,
						const struct kapi_blkmq_config *cfg)
{
	struct gendisk *gd = blk_mq_alloc_disk(&d->tag_set, d);
	struct request_queue *q;

	if (IS_ERR(gd))
		return gd;
	q = gd->queue;
	blk_queue_flag_set(QUEUE_FLAG_VIRT, q);
	blk_queue_logical_block_size(q, cfg->logical_block_size);
	blk_queue_physical_block_size(q, cfg->physical_block_size);
	blk_queue_max_hw_sectors(q, cfg->max_hw_sectors);
	blk_queue_segment_boundary(q, cfg->segment_boundary_mask);
	blk_queue_max_segment_size(q, cfg->max_segment_size);
	blk_queue_max_segments(q, cfg->max_segments);
	blk_queue_dma_alignment(q, cfg->dma_alignment);
	blk_queue_write_cache(q, cfg->write_cache, cfg->fua);
	if (cfg->discard) {
		blk_queue_max_discard_sectors(q, cfg->max_discard_sectors);
		q->limits.discard_granularity = cfg->discard_granularity;
		q->limits.discard_alignment = cfg->discard_alignment;
		if (cfg->secure_erase)
			blk_queue_max_secure_erase_sectors(q, cfg->max_discard_sectors);
	}
	return gd;
}
#endif

int kapi_blkmq_disk_alloc(const struct kapi_blkmq_config *cfg, const struct kapi_blkmq_ops *ops,
			  void *ctx, struct kapi_blkmq_disk **out)
{
	struct kapi_blkmq_disk *d;
	struct gendisk *gd;
	int err;

	*out = NULL;
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->ops = *ops;
	d->ctx = ctx;
	d->cdrom = cfg->cdrom;
	bio_list_init(&d->pending_bios);
	spin_lock_init(&d->pending_lock);

	d->tag_set.ops = &kapi_blkmq_mq_ops;
	d->tag_set.nr_hw_queues = cfg->nr_hw_queues;
	d->tag_set.queue_depth = cfg->queue_depth;
	d->tag_set.numa_node = NUMA_NO_NODE;
	d->tag_set.flags = BLK_MQ_F_SHOULD_MERGE;
	d->tag_set.cmd_size = sizeof(struct kapi_rq_pdu);
	d->tag_set.driver_data = d;
	err = blk_mq_alloc_tag_set(&d->tag_set);
	if (err)
		goto out_free;

	gd = kapi_blkmq_alloc_gendisk(d, cfg);
	if (IS_ERR(gd)) {
		err = PTR_ERR(gd);
		goto out_tag_set;
	}
	strscpy(gd->disk_name, cfg->name, DISK_NAME_LEN);
	gd->major = cfg->major;
	gd->first_minor = cfg->first_minor;
	gd->minors = cfg->minors;
	gd->fops = &kapi_blkmq_fops;
	gd->private_data = d;
	set_capacity(gd, cfg->capacity);
	if (cfg->readonly)
		set_disk_ro(gd, true);
	if (cfg->removable)
		gd->flags |= GENHD_FL_REMOVABLE;
	d->gd = gd;
	*out = d;
	return 0;

out_tag_set:
	blk_mq_free_tag_set(&d->tag_set);
out_free:
	kfree(d);
	return err;
}

int kapi_blkmq_disk_add(struct kapi_blkmq_disk *d, struct kapi_xenbus_device *parent)
{
	int err = device_add_disk(&((struct xenbus_device *)parent)->dev, d->gd, NULL);

	if (!err)
		d->added = true;
	return err;
}

/* Bios detached at a suspend that never reconnected: fail them. */
static void kapi_blkmq_fail_pending_bios(struct kapi_blkmq_disk *d)
{
	struct bio *bio;

	while ((bio = bio_list_pop(&d->pending_bios)))
		bio_io_error(bio);
}

void kapi_blkmq_disk_del(struct kapi_blkmq_disk *d)
{
	if (!d)
		return;
	kapi_blkmq_fail_pending_bios(d);
	if (d->added)
		del_gendisk(d->gd);
	d->added = false;
}

void kapi_blkmq_disk_put(struct kapi_blkmq_disk *d)
{
	if (!d)
		return;
	kapi_blkmq_fail_pending_bios(d);
	put_disk(d->gd);
	blk_mq_free_tag_set(&d->tag_set);
	kfree(d);
}

void kapi_blkmq_set_capacity(struct kapi_blkmq_disk *d, uint64_t sectors)
{
	set_capacity_and_notify(d->gd, sectors);
}

void kapi_blkmq_mark_dead(struct kapi_blkmq_disk *d)
{
	blk_mark_disk_dead(d->gd);
	set_capacity(d->gd, 0);
}

int kapi_blkmq_set_max_segments(struct kapi_blkmq_disk *d, unsigned int max_segments,
				unsigned int max_hw_sectors)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	struct queue_limits lim = queue_limits_start_update(d->gd->queue);

	lim.max_segments = max_segments;
	lim.max_hw_sectors = max_hw_sectors;
	return queue_limits_commit_update(d->gd->queue, &lim);
#else
	blk_queue_max_segments(d->gd->queue, max_segments);
	blk_queue_max_hw_sectors(d->gd->queue, max_hw_sectors);
	return 0;
#endif
}

void kapi_blkmq_disable_flush(struct kapi_blkmq_disk *d)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 9, 0)
	if (d)
		blk_queue_write_cache(d->gd->queue, false, false);
#endif
}

void kapi_blkmq_disable_discard(struct kapi_blkmq_disk *d)
{
	if (!d)
		return;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	blk_queue_disable_discard(d->gd->queue);
	blk_queue_disable_secure_erase(d->gd->queue);
#else
	blk_queue_max_discard_sectors(d->gd->queue, 0);
	blk_queue_max_secure_erase_sectors(d->gd->queue, 0);
#endif
}

void kapi_blkmq_stop_queues(struct kapi_blkmq_disk *d)
{
	blk_mq_stop_hw_queues(d->gd->queue);
}

void kapi_blkmq_stop_hw_queue(struct kapi_blkmq_disk *d, unsigned int hwq)
{
	struct blk_mq_hw_ctx *hctx;
	unsigned long i;

	if (!d)
		return;
	queue_for_each_hw_ctx(d->gd->queue, hctx, i)
		if (hctx->queue_num == hwq)
			blk_mq_stop_hw_queue(hctx);
}

void kapi_blkmq_quiesce(struct kapi_blkmq_disk *d)
{
	blk_mq_quiesce_queue(d->gd->queue);
}

void kapi_blkmq_unquiesce(struct kapi_blkmq_disk *d)
{
	blk_mq_unquiesce_queue(d->gd->queue);
}

void kapi_blkmq_start_stopped_queues(struct kapi_blkmq_disk *d)
{
	if (d)
		blk_mq_start_stopped_hw_queues(d->gd->queue, true);
}

void kapi_blkmq_kick_requeue(struct kapi_blkmq_disk *d)
{
	blk_mq_kick_requeue_list(d->gd->queue);
}

unsigned int kapi_num_online_cpus(void)
{
	return num_online_cpus();
}

bool kapi_xen_hvm_with_legacy_disks(void)
{
	return xen_hvm_domain() && xen_has_pv_and_legacy_disk_devices();
}

bool kapi_xen_hvm_domain(void)
{
	return xen_hvm_domain();
}

void kapi_xenbus_frontend_closed(struct kapi_xenbus_device *dev)
{
	xenbus_frontend_closed((struct xenbus_device *)dev);
}
