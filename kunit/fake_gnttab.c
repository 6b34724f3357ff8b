// SPDX-License-Identifier: GPL-2.0-only
/*
 * Over 450 lines: the whole kapi grant-table surface (frontend and backend
 * halves) must be faked in one place, under one lock.
 */
/*
 * A kernel-side fake of the kapi grant-table functions (kapi/gnttab.h) for
 * xbc_kunit.ko, which runs under plain QEMU with no hypervisor. It keeps the
 * grant table as small static tables under one spinlock; pages come from the
 * real kapi memory shim (alloc_page). Controls: kunit/fake_gnttab.h.
 * The real shim is common/shim/gnttab.c; this file replaces it at link time.
 */
#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <xen/interface/grant_table.h>

#include "kapi/gnttab.h"
#include "kunit/fake_gnttab.h"

struct fake_grant {
	bool live;
	bool readonly;
	bool peer_mapped;
	bool deferred;		/* ended; page freed once the peer unmaps */
	struct kapi_page *page;
};

struct fake_offer {
	bool offered;
	bool readonly;
	struct kapi_page *page;	/* the peer's memory, or NULL */
};

struct fake_map {
	bool live;
	bool readonly;
	uint32_t ref;
	struct kapi_page *page;
};

static DEFINE_SPINLOCK(fake_lock);
static struct fake_grant grants[XBC_FAKE_MAX_GRANTS];
static struct fake_offer offers[XBC_FAKE_MAX_PEER_REFS];
static struct fake_map maps[XBC_FAKE_MAX_MAPS];
static unsigned int grant_limit = XBC_FAKE_MAX_GRANTS;
static uint32_t fail_unmap_ref = ~0u;	/* ~0: none */
static struct xbc_fake_gnttab_stats stats;

static void run_free_callbacks_locked(void);

static struct fake_grant *grant_of(uint32_t ref)
{
	if (ref < XBC_FAKE_FIRST_REF || ref - XBC_FAKE_FIRST_REF >= XBC_FAKE_MAX_GRANTS)
		return NULL;
	return &grants[ref - XBC_FAKE_FIRST_REF];
}

void xbc_fake_gnttab_reset(void)
{
	unsigned long flags;

	spin_lock_irqsave(&fake_lock, flags);
	memset(grants, 0, sizeof(grants));
	memset(offers, 0, sizeof(offers));
	memset(maps, 0, sizeof(maps));
	memset(&stats, 0, sizeof(stats));
	grant_limit = XBC_FAKE_MAX_GRANTS;
	fail_unmap_ref = ~0u;
	spin_unlock_irqrestore(&fake_lock, flags);
}

void xbc_fake_gnttab_get_stats(struct xbc_fake_gnttab_stats *out)
{
	unsigned long flags;

	spin_lock_irqsave(&fake_lock, flags);
	*out = stats;
	spin_unlock_irqrestore(&fake_lock, flags);
}

void xbc_fake_gnttab_set_grant_limit(unsigned int n)
{
	unsigned long flags;

	spin_lock_irqsave(&fake_lock, flags);
	grant_limit = min(n, XBC_FAKE_MAX_GRANTS);
	spin_unlock_irqrestore(&fake_lock, flags);
}

void xbc_fake_gnttab_set_peer_mapped(uint32_t ref, bool mapped)
{
	struct kapi_page *to_free = NULL;
	struct fake_grant *g;
	unsigned long flags;

	spin_lock_irqsave(&fake_lock, flags);
	g = grant_of(ref);
	if (g && g->live) {
		g->peer_mapped = mapped;
		if (!mapped && g->deferred) {
			/* The deferred end completes now, as gnttab's timer would. */
			to_free = g->page;
			memset(g, 0, sizeof(*g));
			stats.live_grants--;
			stats.deferred--;
		}
	}
	spin_unlock_irqrestore(&fake_lock, flags);
	if (to_free)
		kapi_page_free(to_free);
}

struct kapi_page *xbc_fake_gnttab_granted_page(uint32_t ref, bool *readonly)
{
	struct kapi_page *page = NULL;
	struct fake_grant *g;
	unsigned long flags;

	spin_lock_irqsave(&fake_lock, flags);
	g = grant_of(ref);
	if (g && g->live && !g->deferred) {
		page = g->page;
		if (readonly)
			*readonly = g->readonly;
	}
	spin_unlock_irqrestore(&fake_lock, flags);
	return page;
}

bool xbc_fake_gnttab_is_granted(uint32_t ref, bool *readonly)
{
	struct fake_grant *g;
	unsigned long flags;
	bool live = false;

	spin_lock_irqsave(&fake_lock, flags);
	g = grant_of(ref);
	if (g && g->live && !g->deferred) {
		live = true;
		if (readonly)
			*readonly = g->readonly;
	}
	spin_unlock_irqrestore(&fake_lock, flags);
	return live;
}

void xbc_fake_gnttab_peer_offer(uint32_t ref, bool readonly)
{
	xbc_fake_gnttab_peer_offer_page(ref, NULL, readonly);
}

void xbc_fake_gnttab_peer_offer_page(uint32_t ref, struct kapi_page *page, bool readonly)
{
	unsigned long flags;

	if (ref >= XBC_FAKE_MAX_PEER_REFS)
		return;
	spin_lock_irqsave(&fake_lock, flags);
	offers[ref].offered = true;
	offers[ref].readonly = readonly;
	offers[ref].page = page;
	spin_unlock_irqrestore(&fake_lock, flags);
}

struct kapi_page *xbc_fake_gnttab_peer_page(uint32_t ref)
{
	struct kapi_page *page = NULL;
	unsigned long flags;

	if (ref >= XBC_FAKE_MAX_PEER_REFS)
		return NULL;
	spin_lock_irqsave(&fake_lock, flags);
	if (offers[ref].offered)
		page = offers[ref].page;
	spin_unlock_irqrestore(&fake_lock, flags);
	return page;
}

/* Where @ref's bytes are now: in the mapping's page while one is live. */
static void *peer_view_locked(uint32_t ref)
{
	unsigned int h;

	if (ref >= XBC_FAKE_MAX_PEER_REFS || !offers[ref].page)
		return NULL;
	for (h = 0; h < XBC_FAKE_MAX_MAPS; h++) {
		if (maps[h].live && maps[h].ref == ref)
			return kapi_page_address(maps[h].page);
	}
	return kapi_page_address(offers[ref].page);
}

void *xbc_fake_gnttab_peer_view(uint32_t ref)
{
	unsigned long flags;
	void *view;

	spin_lock_irqsave(&fake_lock, flags);
	view = peer_view_locked(ref);
	spin_unlock_irqrestore(&fake_lock, flags);
	return view;
}

void xbc_fake_gnttab_peer_revoke(uint32_t ref)
{
	unsigned long flags;

	if (ref >= XBC_FAKE_MAX_PEER_REFS)
		return;
	spin_lock_irqsave(&fake_lock, flags);
	offers[ref].offered = false;
	spin_unlock_irqrestore(&fake_lock, flags);
}

void xbc_fake_gnttab_fail_unmap(uint32_t ref)
{
	unsigned long flags;

	spin_lock_irqsave(&fake_lock, flags);
	fail_unmap_ref = ref;
	spin_unlock_irqrestore(&fake_lock, flags);
}

struct kapi_page *xbc_fake_gnttab_reclaim(uint32_t ref)
{
	struct kapi_page *page = NULL;
	unsigned long flags;
	unsigned int h;

	spin_lock_irqsave(&fake_lock, flags);
	for (h = 0; h < XBC_FAKE_MAX_MAPS; h++) {
		if (maps[h].live && maps[h].ref == ref) {
			page = maps[h].page;
			memset(&maps[h], 0, sizeof(maps[h]));
			stats.live_maps--;
			break;
		}
	}
	spin_unlock_irqrestore(&fake_lock, flags);
	return page;
}

/* --- kapi/gnttab.h, frontend --- */

int kapi_gnttab_grant_page(uint16_t domid, struct kapi_page *page, bool readonly,
			   uint32_t *ref)
{
	unsigned long flags;
	unsigned int i;
	int rc = -ENOSPC;

	spin_lock_irqsave(&fake_lock, flags);
	stats.grant_calls++;
	if (stats.live_grants < grant_limit) {
		for (i = 0; i < XBC_FAKE_MAX_GRANTS; i++) {
			if (grants[i].live)
				continue;
			grants[i].live = true;
			grants[i].readonly = readonly;
			grants[i].page = page;
			stats.live_grants++;
			*ref = XBC_FAKE_FIRST_REF + i;
			rc = 0;
			break;
		}
	}
	spin_unlock_irqrestore(&fake_lock, flags);
	return rc;
}

bool kapi_gnttab_try_end_access(uint32_t ref)
{
	struct fake_grant *g;
	unsigned long flags;
	bool ended = false;

	spin_lock_irqsave(&fake_lock, flags);
	stats.end_calls++;
	g = grant_of(ref);
	if (g && g->live && !g->deferred && !g->peer_mapped) {
		memset(g, 0, sizeof(*g));
		stats.live_grants--;
		ended = true;
		run_free_callbacks_locked();
	}
	spin_unlock_irqrestore(&fake_lock, flags);
	return ended;
}

void kapi_gnttab_end_access_deferred(uint32_t ref, struct kapi_page *page)
{
	struct kapi_page *to_free = page;
	struct fake_grant *g;
	unsigned long flags;

	spin_lock_irqsave(&fake_lock, flags);
	stats.end_calls++;
	g = grant_of(ref);
	if (g && g->live && !g->deferred) {
		if (g->peer_mapped) {
			/* Keep the page until the peer lets go of it. */
			g->deferred = true;
			g->page = page;
			stats.deferred++;
			to_free = NULL;
		} else {
			memset(g, 0, sizeof(*g));
			stats.live_grants--;
			run_free_callbacks_locked();
		}
	}
	spin_unlock_irqrestore(&fake_lock, flags);
	if (to_free)
		kapi_page_free(to_free);
}

/*
 * Free callbacks, as gnttab_request_free_callback: armed ones run once, under
 * fake_lock, as soon as enough refs are free under the fake's limit.
 */
struct kapi_gnttab_free_callback {
	struct list_head node;	/* on armed_callbacks while armed */
	kapi_gnttab_free_fn fn;
	void *ctx;
	uint16_t count;
	bool armed;
};

static LIST_HEAD(armed_callbacks);

static void run_free_callbacks_locked(void)
{
	struct kapi_gnttab_free_callback *cb, *next;

	list_for_each_entry_safe(cb, next, &armed_callbacks, node) {
		if (stats.live_grants + cb->count > grant_limit)
			continue;
		list_del_init(&cb->node);
		cb->armed = false;
		cb->fn(cb->ctx);
	}
}

struct kapi_gnttab_free_callback *kapi_gnttab_free_callback_create(enum kapi_gfp gfp)
{
	struct kapi_gnttab_free_callback *cb = kzalloc(sizeof(*cb), GFP_KERNEL);

	if (cb)
		INIT_LIST_HEAD(&cb->node);
	return cb;
}

void kapi_gnttab_free_callback_arm(struct kapi_gnttab_free_callback *cb, kapi_gnttab_free_fn fn,
				   void *ctx, uint16_t count)
{
	unsigned long flags;

	spin_lock_irqsave(&fake_lock, flags);
	if (!cb->armed) {
		cb->fn = fn;
		cb->ctx = ctx;
		cb->count = count;
		cb->armed = true;
		list_add_tail(&cb->node, &armed_callbacks);
		run_free_callbacks_locked();
	}
	spin_unlock_irqrestore(&fake_lock, flags);
}

void kapi_gnttab_free_callback_destroy(struct kapi_gnttab_free_callback *cb)
{
	unsigned long flags;

	if (!cb)
		return;
	spin_lock_irqsave(&fake_lock, flags);
	if (cb->armed)
		list_del_init(&cb->node);
	spin_unlock_irqrestore(&fake_lock, flags);
	kfree(cb);
}

/* --- kapi/gnttab.h, backend --- */

int kapi_gnttab_alloc_pages(unsigned int nr, struct kapi_page **pages)
{
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		pages[i] = kapi_page_alloc(KAPI_GFP_KERNEL);
		if (!pages[i]) {
			while (i--)
				kapi_page_free(pages[i]);
			return -ENOMEM;
		}
	}
	spin_lock_irqsave(&fake_lock, flags);
	stats.live_pages += nr;
	spin_unlock_irqrestore(&fake_lock, flags);
	return 0;
}

void kapi_gnttab_free_pages(unsigned int nr, struct kapi_page **pages)
{
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < nr; i++)
		kapi_page_free(pages[i]);
	spin_lock_irqsave(&fake_lock, flags);
	stats.live_pages -= nr;
	spin_unlock_irqrestore(&fake_lock, flags);
}

static int16_t fake_map_one(struct kapi_grant_map *op)
{
	unsigned int h;

	if (op->ref >= XBC_FAKE_MAX_PEER_REFS || !offers[op->ref].offered)
		return GNTST_bad_gntref;
	if (offers[op->ref].readonly && !op->readonly)
		return GNTST_permission_denied;
	if (!op->page)
		return GNTST_bad_virt_addr;
	for (h = 0; h < XBC_FAKE_MAX_MAPS; h++) {
		if (maps[h].live)
			continue;
		/* A peer's page: the mapping shows its bytes from now on. */
		if (offers[op->ref].page)
			memcpy(kapi_page_address(op->page), peer_view_locked(op->ref), PAGE_SIZE);
		else
			/* Stand-in for the peer's data: which ref is here. */
			memcpy(kapi_page_address(op->page), &op->ref, sizeof(op->ref));
		maps[h].live = true;
		maps[h].readonly = op->readonly;
		maps[h].ref = op->ref;
		maps[h].page = op->page;
		op->handle = h;
		return GNTST_okay;
	}
	return GNTST_no_device_space;
}

int kapi_gnttab_map(struct kapi_grant_map *ops, unsigned int nr)
{
	unsigned long flags;
	unsigned int i;

	if (nr > KAPI_GNTTAB_MAX_BATCH)
		return -EINVAL;
	spin_lock_irqsave(&fake_lock, flags);
	stats.map_batches++;
	for (i = 0; i < nr; i++) {
		ops[i].status = fake_map_one(&ops[i]);
		stats.map_ops++;
		if (ops[i].status == GNTST_okay) {
			stats.live_maps++;
		} else {
			ops[i].handle = ~0u;
			stats.map_failures++;
		}
	}
	spin_unlock_irqrestore(&fake_lock, flags);
	return 0;
}

static void fake_unmap_batch(struct kapi_grant_unmap *ops, unsigned int nr)
{
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&fake_lock, flags);
	stats.unmap_batches++;
	for (i = 0; i < nr; i++) {
		uint32_t h = ops[i].handle;

		stats.unmap_ops++;
		if (h < XBC_FAKE_MAX_MAPS && maps[h].live && maps[h].ref == fail_unmap_ref) {
			fail_unmap_ref = ~0u;
			ops[i].status = GNTST_general_error;
			stats.unmap_failures++;
		} else if (h < XBC_FAKE_MAX_MAPS && maps[h].live && maps[h].page == ops[i].page) {
			struct kapi_page *peer = offers[maps[h].ref].page;

			/* What a writable mapping wrote is the peer's now. */
			if (peer && !maps[h].readonly)
				memcpy(kapi_page_address(peer), kapi_page_address(maps[h].page),
				       PAGE_SIZE);
			memset(&maps[h], 0, sizeof(maps[h]));
			stats.live_maps--;
			ops[i].status = GNTST_okay;
		} else {
			ops[i].status = GNTST_bad_handle;
			stats.unmap_failures++;
		}
	}
	spin_unlock_irqrestore(&fake_lock, flags);
}

int kapi_gnttab_unmap(struct kapi_grant_unmap *ops, unsigned int nr)
{
	if (nr > KAPI_GNTTAB_MAX_BATCH)
		return -EINVAL;
	fake_unmap_batch(ops, nr);
	return 0;
}

/* No page here ever has another holder: the unmap completes in the call. */
struct kapi_unmap_async {
	unsigned int capacity;
};

struct kapi_unmap_async *kapi_gnttab_unmap_async_create(unsigned int capacity, enum kapi_gfp gfp)
{
	struct kapi_unmap_async *u = kapi_zalloc(sizeof(*u), gfp);

	if (u)
		u->capacity = capacity;
	return u;
}

void kapi_gnttab_unmap_async_destroy(struct kapi_unmap_async *u)
{
	kapi_free(u);
}

int kapi_gnttab_unmap_async(struct kapi_unmap_async *u, struct kapi_grant_unmap *ops,
			    unsigned int nr, kapi_unmap_done_fn done, void *ctx)
{
	if (nr > u->capacity)
		return -EINVAL;
	fake_unmap_batch(ops, nr);
	done(ctx, 0);
	return 0;
}

/* Grant copy between our pages and the peer's offered pages. */
int kapi_gnttab_copy(struct kapi_grant_copy *ops, unsigned int nr)
{
	unsigned long flags;
	unsigned int i;

	if (nr > KAPI_GNTTAB_MAX_BATCH)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (ops[i].offset + ops[i].len > PAGE_SIZE)
			return -EINVAL;
	}
	spin_lock_irqsave(&fake_lock, flags);
	stats.copy_batches++;
	for (i = 0; i < nr; i++) {
		unsigned char *ours = kapi_page_address(ops[i].page);
		unsigned char *theirs;

		stats.copy_ops++;
		if (ops[i].ref >= XBC_FAKE_MAX_PEER_REFS || !offers[ops[i].ref].offered ||
		    !offers[ops[i].ref].page) {
			ops[i].status = GNTST_bad_gntref;
			stats.copy_failures++;
			continue;
		}
		if (ops[i].to_grant && offers[ops[i].ref].readonly) {
			ops[i].status = GNTST_permission_denied;
			stats.copy_failures++;
			continue;
		}
		theirs = peer_view_locked(ops[i].ref);
		if (ops[i].to_grant)
			memcpy(theirs + ops[i].offset, ours + ops[i].offset, ops[i].len);
		else
			memcpy(ours + ops[i].offset, theirs + ops[i].offset, ops[i].len);
		ops[i].status = GNTST_okay;
	}
	spin_unlock_irqrestore(&fake_lock, flags);
	return 0;
}
