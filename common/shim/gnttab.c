// SPDX-License-Identifier: GPL-2.0-only
/*
 * kapi gnttab (common/include/kapi/gnttab.h): granting pages to the peer
 * (frontend), mapping the peer's grants and copying to and from them
 * (backend). Batches are copied into the kernel's op arrays on the stack
 * (at most KAPI_GNTTAB_MAX_BATCH entries), or for an asynchronous unmap
 * into its kapi_unmap_async, and each op's outcome is copied back. No
 * 6.1/6.12 differences.
 */
#include "shim.h"
#include "kapi/gnttab.h"

#include <linux/mm.h>
#include <linux/slab.h>
#include <xen/grant_table.h>
#include <xen/page.h>

int kapi_gnttab_grant_page(uint16_t domid, struct kapi_page *page, bool readonly, uint32_t *ref)
{
	int r = gnttab_grant_foreign_access(domid, xen_page_to_gfn((struct page *)page), readonly);

	if (r < 0)
		return r;
	*ref = r;
	return 0;
}

bool kapi_gnttab_try_end_access(uint32_t ref)
{
	return gnttab_try_end_foreign_access(ref) != 0;
}

void kapi_gnttab_end_access_deferred(uint32_t ref, struct kapi_page *page)
{
	gnttab_end_foreign_access(ref, (struct page *)page);
}

struct kapi_gnttab_free_callback *kapi_gnttab_free_callback_create(enum kapi_gfp gfp)
{
	return kzalloc(sizeof(struct gnttab_free_callback), kapi_to_gfp(gfp));
}

void kapi_gnttab_free_callback_arm(struct kapi_gnttab_free_callback *cb, kapi_gnttab_free_fn fn,
				   void *ctx, uint16_t count)
{
	gnttab_request_free_callback((struct gnttab_free_callback *)cb, fn, ctx, count);
}

void kapi_gnttab_free_callback_destroy(struct kapi_gnttab_free_callback *cb)
{
	if (!cb)
		return;
	gnttab_cancel_free_callback((struct gnttab_free_callback *)cb);
	kfree(cb);
}

int kapi_gnttab_alloc_pages(unsigned int nr, struct kapi_page **pages)
{
	if (nr > INT_MAX)
		return -EINVAL;
	return gnttab_alloc_pages(nr, (struct page **)pages);
}

void kapi_gnttab_free_pages(unsigned int nr, struct kapi_page **pages)
{
	if (nr > INT_MAX)
		return;
	gnttab_free_pages(nr, (struct page **)pages);
}

/* The kernel virtual address a grant op maps at or unmaps from. */
static unsigned long kapi_page_host_addr(struct kapi_page *page)
{
	return (unsigned long)page_address((struct page *)page);
}

int kapi_gnttab_map(struct kapi_grant_map *ops, unsigned int nr)
{
	struct gnttab_map_grant_ref map[KAPI_GNTTAB_MAX_BATCH];
	struct page *pages[KAPI_GNTTAB_MAX_BATCH];
	unsigned int i;
	int err;

	if (nr > KAPI_GNTTAB_MAX_BATCH)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		uint32_t flags = GNTMAP_host_map | (ops[i].readonly ? GNTMAP_readonly : 0);

		gnttab_set_map_op(&map[i], kapi_page_host_addr(ops[i].page), flags, ops[i].ref,
				  ops[i].domid);
		/* An op the hypercall never reaches keeps this status. */
		map[i].status = GNTST_general_error;
		pages[i] = (struct page *)ops[i].page;
	}
	err = gnttab_map_refs(map, NULL, pages, nr);
	/*
	 * Even when err is set, ops before the failure point are mapped
	 * (XSA-365): pass every op's own status on.
	 */
	for (i = 0; i < nr; i++) {
		ops[i].status = map[i].status;
		ops[i].handle = map[i].handle;
	}
	return err;
}

/* Fills the kernel's unmap ops for @ops; each reads as failed until done. */
static void kapi_unmap_prepare(const struct kapi_grant_unmap *ops, unsigned int nr,
			       struct gnttab_unmap_grant_ref *unmap, struct page **pages)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		gnttab_set_unmap_op(&unmap[i], kapi_page_host_addr(ops[i].page), GNTMAP_host_map,
				    ops[i].handle);
		/* An op the hypercall never reaches keeps this status. */
		unmap[i].status = GNTST_general_error;
		pages[i] = (struct page *)ops[i].page;
	}
}

/*
 * As for maps: an error may come after the hypercall unmapped part of the
 * batch. Pass every op's own status on. When the hypercall itself failed,
 * the kernel skipped its per-page cleanup (the page stays PageForeign, the
 * p2m entry stale) even for ops Xen did process: those pages must not be
 * reused either.
 */
static void kapi_unmap_outcome(struct kapi_grant_unmap *ops, unsigned int nr,
			       const struct gnttab_unmap_grant_ref *unmap, struct page **pages,
			       int err)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		ops[i].status = unmap[i].status;
		if (err && PageForeign(pages[i]))
			ops[i].status = GNTST_general_error;
	}
}

int kapi_gnttab_unmap(struct kapi_grant_unmap *ops, unsigned int nr)
{
	struct gnttab_unmap_grant_ref unmap[KAPI_GNTTAB_MAX_BATCH];
	struct page *pages[KAPI_GNTTAB_MAX_BATCH];
	struct gntab_unmap_queue_data data = {
		.unmap_ops = unmap,
		.kunmap_ops = NULL,
		.pages = pages,
		.count = nr,
	};
	int err;

	if (nr > KAPI_GNTTAB_MAX_BATCH)
		return -EINVAL;
	kapi_unmap_prepare(ops, nr, unmap, pages);
	err = gnttab_unmap_refs_sync(&data);
	kapi_unmap_outcome(ops, nr, unmap, pages, err);
	return err;
}

struct kapi_unmap_async {
	struct gntab_unmap_queue_data data;
	struct kapi_grant_unmap *ops;
	kapi_unmap_done_fn done;
	void *ctx;
	unsigned int capacity;
	struct gnttab_unmap_grant_ref *unmap;
	struct page **pages;
};

struct kapi_unmap_async *kapi_gnttab_unmap_async_create(unsigned int capacity, enum kapi_gfp gfp)
{
	struct kapi_unmap_async *u = kzalloc(sizeof(*u), kapi_to_gfp(gfp));

	if (!u)
		return NULL;
	u->capacity = capacity;
	u->unmap = kcalloc(capacity, sizeof(*u->unmap), kapi_to_gfp(gfp));
	u->pages = kcalloc(capacity, sizeof(*u->pages), kapi_to_gfp(gfp));
	if (!u->unmap || !u->pages) {
		kapi_gnttab_unmap_async_destroy(u);
		return NULL;
	}
	return u;
}

void kapi_gnttab_unmap_async_destroy(struct kapi_unmap_async *u)
{
	if (!u)
		return;
	kfree(u->unmap);
	kfree(u->pages);
	kfree(u);
}

/* The kernel's completion: from the caller or its delayed work. */
static void kapi_unmap_async_done(int result, struct gntab_unmap_queue_data *data)
{
	struct kapi_unmap_async *u = container_of(data, struct kapi_unmap_async, data);

	kapi_unmap_outcome(u->ops, data->count, u->unmap, u->pages, result);
	/* Last touch of @u: the callee may reuse or free it. */
	u->done(u->ctx, result);
}

int kapi_gnttab_unmap_async(struct kapi_unmap_async *u, struct kapi_grant_unmap *ops,
			    unsigned int nr, kapi_unmap_done_fn done, void *ctx)
{
	if (nr > u->capacity)
		return -EINVAL;
	kapi_unmap_prepare(ops, nr, u->unmap, u->pages);
	u->ops = ops;
	u->done = done;
	u->ctx = ctx;
	u->data.data = u;
	u->data.done = kapi_unmap_async_done;
	u->data.unmap_ops = u->unmap;
	u->data.kunmap_ops = NULL;
	u->data.pages = u->pages;
	u->data.count = nr;
	gnttab_unmap_refs_async(&u->data);
	return 0;
}

int kapi_gnttab_copy(struct kapi_grant_copy *ops, unsigned int nr)
{
	struct gnttab_copy copy[KAPI_GNTTAB_MAX_BATCH];
	unsigned int i;

	if (nr > KAPI_GNTTAB_MAX_BATCH)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (ops[i].offset + ops[i].len > XEN_PAGE_SIZE)
			return -EINVAL;
	}
	for (i = 0; i < nr; i++) {
		struct gnttab_copy *c = &copy[i];
		struct kapi_grant_copy *op = &ops[i];
		xen_pfn_t local = xen_page_to_gfn((struct page *)op->page);

		memset(c, 0, sizeof(*c));
		if (op->to_grant) {
			c->source.u.gmfn = local;
			c->source.domid = DOMID_SELF;
			c->dest.u.ref = op->ref;
			c->dest.domid = op->domid;
			c->flags = GNTCOPY_dest_gref;
		} else {
			c->source.u.ref = op->ref;
			c->source.domid = op->domid;
			c->dest.u.gmfn = local;
			c->dest.domid = DOMID_SELF;
			c->flags = GNTCOPY_source_gref;
		}
		c->source.offset = op->offset;
		c->dest.offset = op->offset;
		c->len = op->len;
	}
	gnttab_batch_copy(copy, nr);
	for (i = 0; i < nr; i++)
		ops[i].status = copy[i].status;
	return 0;
}
