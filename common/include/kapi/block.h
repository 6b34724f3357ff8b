/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kapi block, backend side: open a block device by number, learn its
 * geometry and features, and submit bios over pages. 6.1 opens with
 * blkdev_get_by_dev, 6.12 with bdev_file_open_by_dev; only the shim knows.
 * Lengths and positions are in 512-byte sectors.
 *
 * The frontend's blk-mq/gendisk side is added with the frontend engine.
 */
#ifndef KAPI_BLOCK_H
#define KAPI_BLOCK_H

#include "kapi/kapi.h"
#include "kapi/memory.h"

KAPI_BEGIN_DECLS

struct kapi_bdev;
/* @holder identifies the exclusive opener. -ENXIO, -EACCES, ... on failure. */
int kapi_bdev_open(uint32_t major, uint32_t minor, bool readonly, void *holder,
		   struct kapi_bdev **out) KAPI_NOEXCEPT;
void kapi_bdev_close(struct kapi_bdev *bdev) KAPI_NOEXCEPT;

struct kapi_bdev_info {
	uint64_t nr_sectors;		/* capacity, 512-byte units */
	uint32_t logical_block_size;	/* bytes */
	uint32_t physical_block_size;	/* bytes */
	bool write_cache;		/* volatile cache: flush/barrier make sense */
	bool readonly;			/* bdev_read_only */
	bool removable;
	bool cdrom;
	bool discard;			/* bdev_max_discard_sectors > 0 */
	bool secure_erase;
	uint32_t discard_granularity;	/* bytes */
	uint32_t discard_alignment;	/* bytes */
};
void kapi_bdev_query(struct kapi_bdev *bdev, struct kapi_bdev_info *info) KAPI_NOEXCEPT;
/* The live capacity (bdev_nr_sectors): cheap enough to read per request. */
uint64_t kapi_bdev_nr_sectors(struct kapi_bdev *bdev) KAPI_NOEXCEPT;

enum kapi_bio_op {
	KAPI_BIO_READ = 0,
	KAPI_BIO_WRITE = 1,
	KAPI_BIO_FLUSH = 2,		/* empty REQ_PREFLUSH write */
};
#define KAPI_BIO_FLAG_PREFLUSH 0x1u
#define KAPI_BIO_FLAG_FUA 0x2u
#define KAPI_BIO_FLAG_SYNC 0x4u	/* REQ_SYNC: in-tree blkback marks every write so */

struct kapi_bio;
/* Completion in irq/softirq context; @err is 0 or -errno. */
typedef void (*kapi_bio_done_fn)(void *ctx, int err) KAPI_NOEXCEPT;
/* NULL on allocation failure. */
struct kapi_bio *kapi_bio_alloc(struct kapi_bdev *bdev, enum kapi_bio_op op, unsigned int flags,
				uint64_t sector, unsigned int nr_vecs, kapi_bio_done_fn done,
				void *ctx) KAPI_NOEXCEPT;
/* false when the bio is full: submit it and start another. */
bool kapi_bio_add_page(struct kapi_bio *bio, struct kapi_page *page, unsigned int len,
		       unsigned int offset) KAPI_NOEXCEPT;
void kapi_bio_submit(struct kapi_bio *bio) KAPI_NOEXCEPT;
/* Drops a bio that was never submitted. */
void kapi_bio_put(struct kapi_bio *bio) KAPI_NOEXCEPT;

/* Synchronous discard or secure erase of a range; 0 or -errno. */
int kapi_bdev_discard(struct kapi_bdev *bdev, uint64_t sector, uint64_t nr_sectors, bool secure,
		      enum kapi_gfp gfp) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* KAPI_BLOCK_H */
