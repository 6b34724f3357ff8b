/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kapi gnttab: the grant table from both sides. A frontend grants its pages
 * to the backend domain; a backend maps the frontend's grants into pages of
 * its own. Batch calls take arrays so one hypercall serves many grants, and
 * every operation reports its own status: a failed map fails only itself.
 */
#ifndef KAPI_GNTTAB_H
#define KAPI_GNTTAB_H

#include "kapi/kapi.h"
#include "kapi/memory.h"

KAPI_BEGIN_DECLS

/* GNTST_okay; any other status is a failed operation (GNTST_* are negative). */
#define KAPI_GNTST_OKAY 0
/* GNTST_general_error. */
#define KAPI_GNTST_GENERAL_ERROR (-1)

/* --- frontend --- */

/* Grants @domid access to @page; writes the new ref to *ref. -ENOSPC when out of refs. */
int kapi_gnttab_grant_page(uint16_t domid, struct kapi_page *page, bool readonly,
			   uint32_t *ref) KAPI_NOEXCEPT;
/*
 * Ends access if the peer no longer maps the grant (gnttab_try_end_foreign_access):
 * true on success, and the ref is free. false: the peer still maps it, the ref
 * and page stay granted and must not be reused or freed.
 */
bool kapi_gnttab_try_end_access(uint32_t ref) KAPI_NOEXCEPT;
/*
 * Ends access and releases @page (may be NULL) once the peer unmaps it, however
 * long that takes (gnttab_end_foreign_access). After this the caller owns neither.
 */
void kapi_gnttab_end_access_deferred(uint32_t ref, struct kapi_page *page) KAPI_NOEXCEPT;

/*
 * A callback for when grant references come back (gnttab_request_free_callback):
 * armed, @fn(@ctx) runs once as soon as at least @count refs are free, at
 * once if they are already. It runs under the grant table's lock with irqs
 * off, from whatever context freed the refs: it must only queue work. Arming
 * an armed callback changes nothing. Destroy cancels it
 * (gnttab_cancel_free_callback): after that @fn neither runs nor is running.
 */
struct kapi_gnttab_free_callback;
typedef void (*kapi_gnttab_free_fn)(void *ctx) KAPI_NOEXCEPT;
struct kapi_gnttab_free_callback *kapi_gnttab_free_callback_create(enum kapi_gfp gfp) KAPI_NOEXCEPT;
void kapi_gnttab_free_callback_arm(struct kapi_gnttab_free_callback *cb, kapi_gnttab_free_fn fn,
				   void *ctx, uint16_t count) KAPI_NOEXCEPT;
/* NULL: no-op. */
void kapi_gnttab_free_callback_destroy(struct kapi_gnttab_free_callback *cb) KAPI_NOEXCEPT;

/* --- backend --- */

/* Pages that can take a foreign mapping (gnttab_alloc_pages). */
int kapi_gnttab_alloc_pages(unsigned int nr, struct kapi_page **pages) KAPI_NOEXCEPT;
void kapi_gnttab_free_pages(unsigned int nr, struct kapi_page **pages) KAPI_NOEXCEPT;

/* One grant mapping in a batch: inputs, then the outcome. */
struct kapi_grant_map {
	uint32_t ref;			/* in: the peer's grant */
	uint16_t domid;			/* in: the granting domain */
	bool readonly;			/* in: map without write access */
	struct kapi_page *page;		/* in: where to map it */
	uint32_t handle;		/* out: valid iff status == KAPI_GNTST_OKAY */
	int16_t status;			/* out: GNTST_* */
};
/*
 * Maps @nr grants (gnttab_map_refs). Each operation's status says whether it
 * is mapped, whatever the return value: gnttab_map_refs may fail after the
 * hypercall mapped part of the batch (XSA-365), and an operation it never
 * reached reports KAPI_GNTST_GENERAL_ERROR. Returns 0 or -errno; on -errno
 * the operations with status KAPI_GNTST_OKAY are mapped all the same.
 */
int kapi_gnttab_map(struct kapi_grant_map *ops, unsigned int nr) KAPI_NOEXCEPT;

struct kapi_grant_unmap {
	struct kapi_page *page;		/* in: the page holding the mapping */
	uint32_t handle;		/* in: from kapi_grant_map */
	int16_t status;			/* out: GNTST_* */
};
/*
 * Unmaps @nr mappings and waits until the pages are reusable
 * (gnttab_unmap_refs_sync): without bound while another holder keeps a
 * page, so only for pages no I/O has used (only we ever held them). Each
 * op's status says whether its mapping is gone, whatever the return value:
 * on -errno the operations with status KAPI_GNTST_OKAY are unmapped all the
 * same, and one the hypercall never reached reports KAPI_GNTST_GENERAL_ERROR.
 */
int kapi_gnttab_unmap(struct kapi_grant_unmap *ops, unsigned int nr) KAPI_NOEXCEPT;

/*
 * Asynchronous unmap (gnttab_unmap_refs_async), for pages I/O has used: a
 * page someone else still holds (a network stack, a stuck bio) is unmapped
 * only once they let go, and the caller never waits for that. The kernel
 * retries from the system workqueue with a growing delay, without bound.
 * One kapi_unmap_async carries one batch at a time; it must not be
 * destroyed while its batch is in flight.
 */
struct kapi_unmap_async;
typedef void (*kapi_unmap_done_fn)(void *ctx, int err) KAPI_NOEXCEPT;
struct kapi_unmap_async *kapi_gnttab_unmap_async_create(unsigned int capacity,
							enum kapi_gfp gfp) KAPI_NOEXCEPT;
void kapi_gnttab_unmap_async_destroy(struct kapi_unmap_async *u) KAPI_NOEXCEPT;
/*
 * Starts unmapping @nr mappings (at most the capacity). When all are done,
 * each op's status is written back to @ops as kapi_gnttab_unmap does, then
 * @done(@ctx, err) runs: inside this call if no page has another holder,
 * else later in process context. @ops must stay valid until then.
 * Returns 0, or -EINVAL (nr above the capacity: nothing started, @done
 * never runs).
 */
int kapi_gnttab_unmap_async(struct kapi_unmap_async *u, struct kapi_grant_unmap *ops,
			    unsigned int nr, kapi_unmap_done_fn done, void *ctx) KAPI_NOEXCEPT;

/*
 * One grant copy in a batch (GNTTABOP_copy): between @len bytes at @offset
 * of the peer's grant @ref and the same bytes of our own @page. The copy
 * never crosses a page: @offset + @len <= KAPI_PAGE_SIZE.
 */
struct kapi_grant_copy {
	uint32_t ref;			/* in: the peer's grant */
	uint16_t domid;			/* in: the granting domain */
	bool to_grant;			/* in: @page -> grant; else grant -> @page */
	struct kapi_page *page;		/* in: our page */
	uint16_t offset;		/* in: byte offset, in the grant and in @page */
	uint16_t len;			/* in: bytes */
	int16_t status;			/* out: GNTST_* */
};
/*
 * Copies @nr ranges (gnttab_batch_copy, which retries GNTST_eagain). Each
 * op's status says whether its bytes moved: a bad ref or a read-only grant
 * fails only its own op. Returns 0, or -EINVAL (then no op ran) for a
 * batch too large or a range that crosses a page.
 */
int kapi_gnttab_copy(struct kapi_grant_copy *ops, unsigned int nr) KAPI_NOEXCEPT;

/* The largest batch any of these calls accepts. */
#define KAPI_GNTTAB_MAX_BATCH 32u

KAPI_END_DECLS

#endif /* KAPI_GNTTAB_H */
