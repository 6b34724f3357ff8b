// SPDX-License-Identifier: GPL-2.0-only
/* kapi memory (common/include/kapi/memory.h) over kmalloc, the page allocator and shrinkers. */
#include "shim.h"

#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/version.h>

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

struct kapi_shrinker {
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	struct shrinker *sh;
#else
	struct shrinker sh;
#endif
	kapi_shrink_count_fn count;
	kapi_shrink_scan_fn scan;
	void *ctx;
};

static struct kapi_shrinker *kapi_shrinker_of(struct shrinker *sh)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return sh->private_data;
#else
	return container_of(sh, struct kapi_shrinker, sh);
#endif
}

static unsigned long kapi_shrink_count(struct shrinker *sh, struct shrink_control *sc)
{
	struct kapi_shrinker *s = kapi_shrinker_of(sh);
	unsigned long n = s->count(s->ctx);

	return n ? n : SHRINK_EMPTY;
}

static unsigned long kapi_shrink_scan(struct shrinker *sh, struct shrink_control *sc)
{
	struct kapi_shrinker *s = kapi_shrinker_of(sh);
	unsigned long n = s->scan(s->ctx, sc->nr_to_scan);

	return n == KAPI_SHRINK_STOP ? SHRINK_STOP : n;
}

struct kapi_shrinker *kapi_shrinker_register(const char *name, kapi_shrink_count_fn count,
					     kapi_shrink_scan_fn scan, void *ctx)
{
	struct kapi_shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);
	struct shrinker *sh;

	if (!s)
		return NULL;
	s->count = count;
	s->scan = scan;
	s->ctx = ctx;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	sh = shrinker_alloc(0, "%s", name);
	if (!sh) {
		kfree(s);
		return NULL;
	}
	s->sh = sh;
	sh->private_data = s;
#else
	sh = &s->sh;
#endif
	sh->count_objects = kapi_shrink_count;
	sh->scan_objects = kapi_shrink_scan;
	sh->seeks = DEFAULT_SEEKS;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	shrinker_register(sh);
#else
	if (register_shrinker(sh, "%s", name)) {
		kfree(s);
		return NULL;
	}
#endif
	return s;
}

void kapi_shrinker_unregister(struct kapi_shrinker *s)
{
	if (!s)
		return;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	shrinker_free(s->sh);
#else
	unregister_shrinker(&s->sh);
#endif
	kfree(s);
}
