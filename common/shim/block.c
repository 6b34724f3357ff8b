// SPDX-License-Identifier: GPL-2.0-only
/*
 * kapi block (common/include/kapi/block.h): the backend's view of its
 * physical device, and bios over pages.
 *
 * 6.1/6.12 difference kept here, behind one version check: opening and
 * closing the device (blkdev_get_by_dev/blkdev_put with an fmode_t on 6.1,
 * bdev_file_open_by_dev/bdev_fput with a blk_mode_t file on 6.9+). Only
 * 6.1 and 6.12 are supported targets; 6.5-6.8 had other variants.
 *
 * Bios come from a shim-owned bio_set whose front padding holds the
 * completion callback, so a bio costs one mempool allocation, as in-tree.
 */
#include "shim.h"
#include "kapi/block.h"

#include <linux/bio.h>
#include <linux/blk_types.h>
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/version.h>

#define KAPI_BDEV_USES_FILE (LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0))

struct kapi_bdev {
	struct block_device *bdev;
#if KAPI_BDEV_USES_FILE
	struct file *file;
#else
	fmode_t mode;
#endif
};

int kapi_bdev_open(uint32_t major, uint32_t minor, bool readonly, void *holder,
		   struct kapi_bdev **out)
{
	struct kapi_bdev *b;
	dev_t devt = MKDEV(major, minor);

	/* MKDEV silently truncates: refuse numbers it cannot hold. */
	if (MAJOR(devt) != major || MINOR(devt) != minor)
		return -ENODEV;
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
#if KAPI_BDEV_USES_FILE
	/* A holder makes the open exclusive. */
	b->file = bdev_file_open_by_dev(devt, readonly ? BLK_OPEN_READ : BLK_OPEN_READ | BLK_OPEN_WRITE,
					holder, NULL);
	if (IS_ERR(b->file)) {
		int err = PTR_ERR(b->file);

		kfree(b);
		return err;
	}
	b->bdev = file_bdev(b->file);
#else
	b->mode = (readonly ? FMODE_READ : FMODE_READ | FMODE_WRITE) | (holder ? FMODE_EXCL : 0);
	b->bdev = blkdev_get_by_dev(devt, b->mode, holder);
	if (IS_ERR(b->bdev)) {
		int err = PTR_ERR(b->bdev);

		kfree(b);
		return err;
	}
#endif
	*out = b;
	return 0;
}

void kapi_bdev_close(struct kapi_bdev *b)
{
	if (!b)
		return;
#if KAPI_BDEV_USES_FILE
	bdev_fput(b->file);
#else
	blkdev_put(b->bdev, b->mode);
#endif
	kfree(b);
}

void kapi_bdev_query(struct kapi_bdev *b, struct kapi_bdev_info *info)
{
	struct block_device *bdev = b->bdev;

	memset(info, 0, sizeof(*info));
	info->nr_sectors = bdev_nr_sectors(bdev);
	info->logical_block_size = bdev_logical_block_size(bdev);
	info->physical_block_size = bdev_physical_block_size(bdev);
	info->write_cache = bdev_write_cache(bdev);
	info->readonly = bdev_read_only(bdev);
	info->removable = bdev->bd_disk->flags & GENHD_FL_REMOVABLE;
	info->cdrom = disk_to_cdi(bdev->bd_disk) != NULL;
	info->discard = bdev_max_discard_sectors(bdev) > 0;
	info->secure_erase = bdev_max_secure_erase_sectors(bdev) > 0;
	info->discard_granularity = bdev_discard_granularity(bdev);
	info->discard_alignment = bdev_discard_alignment(bdev);
}

uint64_t kapi_bdev_nr_sectors(struct kapi_bdev *b)
{
	return bdev_nr_sectors(b->bdev);
}

/* The front padding of every bio from kapi_bio_set: who to tell on completion. */
struct kapi_bio {
	kapi_bio_done_fn done;
	void *ctx;
	struct bio bio;		/* must be last: the bio_set allocates its vecs after it */
};

static struct bio_set kapi_bio_set;

/* Enough bios held in reserve that the backend's I/O always makes progress. */
#define KAPI_BIO_POOL_SIZE 128

int kapi_block_init(void)
{
	return bioset_init(&kapi_bio_set, KAPI_BIO_POOL_SIZE, offsetof(struct kapi_bio, bio),
			   BIOSET_NEED_BVECS);
}

void kapi_block_exit(void)
{
	bioset_exit(&kapi_bio_set);
}

static void kapi_bio_end_io(struct bio *bio)
{
	struct kapi_bio *kb = container_of(bio, struct kapi_bio, bio);
	kapi_bio_done_fn done = kb->done;
	void *ctx = kb->ctx;
	int err = blk_status_to_errno(bio->bi_status);

	/*
	 * Return the bio to our bio_set before telling the engine: the callback
	 * may let disconnect and module exit proceed, and bioset_exit() must
	 * not find this bio still outstanding.
	 */
	bio_put(bio);
	done(ctx, err);
}

struct kapi_bio *kapi_bio_alloc(struct kapi_bdev *b, enum kapi_bio_op op, unsigned int flags,
				uint64_t sector, unsigned int nr_vecs, kapi_bio_done_fn done,
				void *ctx)
{
	blk_opf_t opf;
	struct bio *bio;
	struct kapi_bio *kb;

	switch (op) {
	case KAPI_BIO_READ:
		opf = REQ_OP_READ;
		break;
	case KAPI_BIO_WRITE:
		opf = REQ_OP_WRITE;
		break;
	case KAPI_BIO_FLUSH:
		opf = REQ_OP_WRITE | REQ_PREFLUSH;
		break;
	default:
		return NULL;
	}
	if (flags & KAPI_BIO_FLAG_PREFLUSH)
		opf |= REQ_PREFLUSH;
	if (flags & KAPI_BIO_FLAG_FUA)
		opf |= REQ_FUA;
	if (flags & KAPI_BIO_FLAG_SYNC)
		opf |= REQ_SYNC;
	if (nr_vecs > BIO_MAX_VECS)
		return NULL;

	/* GFP_NOIO from a mempool: waits rather than fails, like in-tree. */
	bio = bio_alloc_bioset(b->bdev, nr_vecs, opf, GFP_NOIO, &kapi_bio_set);
	if (!bio)
		return NULL;
	kb = container_of(bio, struct kapi_bio, bio);
	kb->done = done;
	kb->ctx = ctx;
	bio->bi_iter.bi_sector = sector;
	bio->bi_end_io = kapi_bio_end_io;
	return kb;
}

bool kapi_bio_add_page(struct kapi_bio *kb, struct kapi_page *page, unsigned int len,
		       unsigned int offset)
{
	return bio_add_page(&kb->bio, (struct page *)page, len, offset) == len;
}

void kapi_bio_submit(struct kapi_bio *kb)
{
	submit_bio(&kb->bio);
}

void kapi_bio_put(struct kapi_bio *kb)
{
	if (kb)
		bio_put(&kb->bio);
}

int kapi_bdev_discard(struct kapi_bdev *b, uint64_t sector, uint64_t nr_sectors, bool secure,
		      enum kapi_gfp gfp)
{
	if (secure)
		return blkdev_issue_secure_erase(b->bdev, sector, nr_sectors, kapi_to_gfp(gfp));
	return blkdev_issue_discard(b->bdev, sector, nr_sectors, kapi_to_gfp(gfp));
}
