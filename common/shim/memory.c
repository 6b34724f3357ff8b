// SPDX-License-Identifier: GPL-2.0-only
/* kapi memory (common/include/kapi/memory.h) over kmalloc and the page allocator. */
#include "shim.h"

#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

void *kapi_malloc(size_t size, enum kapi_gfp gfp)
{
	return kmalloc(size, kapi_to_gfp(gfp));
}

void *kapi_zalloc(size_t size, enum kapi_gfp gfp)
{
	return kzalloc(size, kapi_to_gfp(gfp));
}

void kapi_free(void *ptr)
{
	kfree(ptr);
}

void *kapi_kvzalloc(size_t size, enum kapi_gfp gfp)
{
	unsigned int noio;
	void *p;

	if (WARN_ON_ONCE(gfp == KAPI_GFP_ATOMIC))
		return NULL;
	if (gfp != KAPI_GFP_NOIO)
		return kvzalloc(size, GFP_KERNEL);
	/* vmalloc's own allocations honour only the scoped form of NOIO. */
	noio = memalloc_noio_save();
	p = kvzalloc(size, GFP_KERNEL);
	memalloc_noio_restore(noio);
	return p;
}

void kapi_kvfree(void *ptr)
{
	kvfree(ptr);
}

/* struct kapi_page is never defined: it is the kernel's struct page, renamed. */
struct kapi_page *kapi_page_alloc(enum kapi_gfp gfp)
{
	return (struct kapi_page *)alloc_page(kapi_to_gfp(gfp) | __GFP_ZERO);
}

void kapi_page_free(struct kapi_page *page)
{
	if (page)
		__free_page((struct page *)page);
}

void *kapi_page_address(struct kapi_page *page)
{
	return page_address((struct page *)page);
}
