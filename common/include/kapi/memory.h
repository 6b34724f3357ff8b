/* SPDX-License-Identifier: GPL-2.0-only */
/* kapi memory: heap allocations and whole pages, always with an explicit context. */
#ifndef KAPI_MEMORY_H
#define KAPI_MEMORY_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

/* Allocation context: may the allocator sleep, and may it recurse into I/O? */
enum kapi_gfp {
	KAPI_GFP_KERNEL = 0,	/* process context, may sleep */
	KAPI_GFP_NOIO = 1,	/* may sleep, must not start block I/O (I/O paths) */
	KAPI_GFP_ATOMIC = 2,	/* irq/softirq or under a spinlock */
};

/*
 * Heap memory (kmalloc). Power-of-two sizes up to a page come back naturally
 * aligned; anything else is only 8-byte aligned. NULL on failure.
 */
void *kapi_malloc(size_t size, enum kapi_gfp gfp) KAPI_NOEXCEPT;
void *kapi_zalloc(size_t size, enum kapi_gfp gfp) KAPI_NOEXCEPT;
void kapi_free(void *ptr) KAPI_NOEXCEPT;
/*
 * Large zeroed arrays (kvzalloc): contiguous if cheap, else vmalloc. May
 * sleep: KAPI_GFP_KERNEL or KAPI_GFP_NOIO only. Freed with kapi_kvfree.
 */
void *kapi_kvzalloc(size_t size, enum kapi_gfp gfp) KAPI_NOEXCEPT;
void kapi_kvfree(void *ptr) KAPI_NOEXCEPT;

/* A whole page (struct page), zeroed. NULL on failure. */
struct kapi_page;
struct kapi_page *kapi_page_alloc(enum kapi_gfp gfp) KAPI_NOEXCEPT;
void kapi_page_free(struct kapi_page *page) KAPI_NOEXCEPT;
/* Kernel virtual address of a lowmem page: always valid on x86_64. */
void *kapi_page_address(struct kapi_page *page) KAPI_NOEXCEPT;

/*
 * A shrinker (memory pressure callback). count(ctx): objects that could be
 * freed now; scan(ctx, nr): free up to @nr, return how many, or
 * KAPI_SHRINK_STOP when it cannot make progress now (a lock is busy). Both
 * run in reclaim context, from any allocating task: never sleep or wait on
 * a lock whose holder may allocate. Kernel API: register_shrinker on 6.1,
 * shrinker_alloc + shrinker_register on 6.12; the shim hides which.
 */
#define KAPI_SHRINK_STOP (~0UL)
struct kapi_shrinker;
typedef unsigned long (*kapi_shrink_count_fn)(void *ctx) KAPI_NOEXCEPT;
typedef unsigned long (*kapi_shrink_scan_fn)(void *ctx, unsigned long nr) KAPI_NOEXCEPT;
/* NULL on failure. @name is the shrinker's debugfs name. */
struct kapi_shrinker *kapi_shrinker_register(const char *name, kapi_shrink_count_fn count,
					     kapi_shrink_scan_fn scan, void *ctx) KAPI_NOEXCEPT;
/* Unregisters and waits until no callback runs. NULL: no-op. */
void kapi_shrinker_unregister(struct kapi_shrinker *s) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* KAPI_MEMORY_H */
