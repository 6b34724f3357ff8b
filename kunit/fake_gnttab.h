/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test controls for the kernel-side fake grant table (kunit/fake_gnttab.c).
 * Plain QEMU has no hypervisor, so xbc_kunit.ko links this fake in place of
 * the real kapi gnttab shim: the core's grant bookkeeping then runs on the
 * real rb core, kmalloc, pages and locks, against a grant table whose state
 * the tests can inspect and steer.
 *
 * Frontend side: refs handed out by kapi_gnttab_grant_page start at
 * XBC_FAKE_FIRST_REF; a test can say the backend still maps one (so
 * try_end_access fails) and cap how many may be live (-ENOSPC beyond).
 * Backend side: a map succeeds only for refs the "peer" offered, read-only
 * offers refuse writable maps, and each successful map writes the ref into
 * the first 4 bytes of the page so a test can see which grant landed where
 * (or, for a ref offered with a page, shows that page's bytes).
 */
#ifndef XBC_KUNIT_FAKE_GNTTAB_H
#define XBC_KUNIT_FAKE_GNTTAB_H

#include "kapi/kapi.h"

#define XBC_FAKE_FIRST_REF 8u		/* Linux reserves refs 0..7 */
#define XBC_FAKE_MAX_GRANTS 1024u	/* live frontend grants */
#define XBC_FAKE_MAX_PEER_REFS 4096u	/* refs a peer can offer: 0..4095 */
#define XBC_FAKE_MAX_MAPS 2048u		/* live backend mappings */

KAPI_BEGIN_DECLS

struct xbc_fake_gnttab_stats {
	unsigned int live_grants;	/* frontend refs not yet ended */
	unsigned int deferred;		/* ended while the peer still mapped them */
	unsigned int live_maps;		/* backend mappings not yet unmapped */
	unsigned int live_pages;	/* kapi_gnttab_alloc_pages not yet freed */
	unsigned int grant_calls, end_calls;
	unsigned int map_ops, map_failures, unmap_ops, unmap_failures;
	unsigned int map_batches, unmap_batches;
	unsigned int copy_ops, copy_failures, copy_batches;
};

/* Forgets all state (call at the start of a case; the previous case must
 * have cleaned up, which xbc_fake_gnttab_get_stats shows). */
void xbc_fake_gnttab_reset(void) KAPI_NOEXCEPT;
void xbc_fake_gnttab_get_stats(struct xbc_fake_gnttab_stats *out) KAPI_NOEXCEPT;

/* Frontend: at most @n live grants (default XBC_FAKE_MAX_GRANTS). */
void xbc_fake_gnttab_set_grant_limit(unsigned int n) KAPI_NOEXCEPT;
/* Frontend: whether the backend maps @ref; unmapping completes a deferred end. */
void xbc_fake_gnttab_set_peer_mapped(uint32_t ref, bool mapped) KAPI_NOEXCEPT;
/* Frontend: is @ref live, and was it granted read-only? */
bool xbc_fake_gnttab_is_granted(uint32_t ref, bool *readonly) KAPI_NOEXCEPT;

/* Frontend: the page @ref grants (what a backend would map), or NULL. */
struct kapi_page *xbc_fake_gnttab_granted_page(uint32_t ref, bool *readonly) KAPI_NOEXCEPT;

/* Backend: the peer grants (or stops granting) @ref to us. */
void xbc_fake_gnttab_peer_offer(uint32_t ref, bool readonly) KAPI_NOEXCEPT;
/*
 * Backend: the peer grants @page (its memory, owned by the test) as @ref.
 * A mapping of @ref then starts with the page's bytes and is where they
 * live until it is unmapped (a writable one's bytes go back to @page);
 * kapi_gnttab_copy reads and writes them. Access them through
 * xbc_fake_gnttab_peer_view, which follows them.
 */
void xbc_fake_gnttab_peer_offer_page(uint32_t ref, struct kapi_page *page,
				     bool readonly) KAPI_NOEXCEPT;
/* The offered page of @ref (kapi_xenbus_map_ring maps it in place), or NULL. */
struct kapi_page *xbc_fake_gnttab_peer_page(uint32_t ref) KAPI_NOEXCEPT;
/* The bytes of an offered page of @ref as the peer sees them now, or NULL. */
void *xbc_fake_gnttab_peer_view(uint32_t ref) KAPI_NOEXCEPT;
void xbc_fake_gnttab_peer_revoke(uint32_t ref) KAPI_NOEXCEPT;
/* Backend: the next unmap of @ref's mapping fails (the op's status; the
 * mapping stays live, as after a failed p2m update). */
void xbc_fake_gnttab_fail_unmap(uint32_t ref) KAPI_NOEXCEPT;
/* Backend: drops @ref's live mapping (one the code under test leaked after
 * a failed unmap) and returns its page for the test to free, or NULL. */
struct kapi_page *xbc_fake_gnttab_reclaim(uint32_t ref) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_KUNIT_FAKE_GNTTAB_H */
