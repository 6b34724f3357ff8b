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

KAPI_END_DECLS

#endif /* KAPI_MEMORY_H */
