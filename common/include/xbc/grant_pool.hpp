// SPDX-License-Identifier: GPL-2.0-only
// The frontend's pool of granted pages, one per ring (in-tree: rinfo->grants
// with get_free_grant/get_grant, blkif_completion, purge_persistent_grants
// and blkif_free_ring in xen-blkfront.c). Data is copied through these
// pages, so with feature-persistent the backend maps each grant once and
// keeps it; without, every grant is ended when its request completes.
//
// Order: free grants still granted sit at the front and are reused first
// (LIFO, as in-tree: the backend most likely still maps them); free pages
// whose grant was ended sit at the back and are granted again on use. The
// pool holds at most `limit` pages (what the ring can have in flight, given
// by the caller). get() never allocates: pages come in through fill() or
// adopt(), in process context (at connect, or from a refill work item), so
// the I/O path needs no GFP_ATOMIC page. Under memory pressure reclaim()
// gives free pages back, never one in use or still mapped by the backend.
//
// A page the backend may still map is NEVER freed or reused for anything
// else: when kapi_gnttab_try_end_access refuses, teardown hands the ref and
// the page to kapi_gnttab_end_access_deferred (the kernel frees the page
// once the backend lets go) and counts it.
//
// Concurrency: the caller holds the ring lock around every call.
#pragma once

#include "xbc/counters.hpp"
#include "xbc/list.hpp"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"
#include "xbc/types.hpp"

namespace xbc {

// In-tree: blkfront_delay_work every HZ * 10.
inline constexpr uint32_t kGrantRevokeIntervalSeconds = 10;

class GrantPool;

class PoolGrant : Pinned {
public:
	explicit PoolGrant(struct kapi_page *page) noexcept : page_(page) {}

	// The grant for page(); invalid while not granted.
	[[nodiscard]] GrantRef ref() const noexcept { return ref_; }
	[[nodiscard]] struct kapi_page *page() const noexcept { return page_; }
	[[nodiscard]] bool is_granted() const noexcept { return ref_.is_valid(); }

private:
	friend class GrantPool;
	GrantRef ref_ = GrantRef::invalid();
	struct kapi_page *const page_;
	ListNode node_;	// on the free list or the in-use list
};

// The pool's counters, X(field, sysfs key, type), in the order blkfront's
// persistent_grants file prints them ("key value" lines).
#define XBC_GRANT_POOL_COUNTERS(X)							\
	X(granted, granted_pages, uint32_t)	/* of the pages, granted now */		\
	X(pages, pool_pages, uint32_t)		/* pages owned (free + in use) */	\
	X(in_use, in_use, uint32_t)		/* handed out by get(), not put() */	\
	X(grants_made, grants_made, uint64_t)	/* kapi_gnttab_grant_page successes */	\
	X(reuses, reuses, uint64_t)		/* get() served by a grant in place */	\
	X(revocations, revocations, uint64_t)	/* idle grants ended by revoke_idle() */ \
	X(deferred, deferred_frees, uint64_t)	/* grants (and pages) ended deferred */ \
	X(reclaimed, reclaimed_pages, uint64_t)	/* free pages reclaim() gave back */

struct GrantPoolStats {
#define XBC_GRANT_POOL_FIELD(field, key, type) type field;
	XBC_GRANT_POOL_COUNTERS(XBC_GRANT_POOL_FIELD)
#undef XBC_GRANT_POOL_FIELD
	XBC_COUNTER_OPS(GrantPoolStats, XBC_GRANT_POOL_COUNTERS)
};

struct GrantPoolTeardown {
	uint32_t ended;		// grants ended at once
	uint32_t deferred;	// still mapped by the backend: deferred
	uint32_t pages_freed;	// pages we freed ourselves
};

class GrantPool : Pinned {
public:
	// `persistent`: feature-persistent is in use on this connection.
	[[nodiscard]] static Result<Box<GrantPool>> create(Gfp gfp, DomId backend, uint32_t limit,
							   bool persistent) noexcept;
	// Tears down (see teardown()).
	~GrantPool();

	// Pages made outside the caller's lock (allocation may sleep), for adopt().
	using PageList = List<PoolGrant, &PoolGrant::node_>;
	// Appends up to n new ungranted pages to `out`; returns how many.
	static uint32_t alloc_pages(Gfp gfp, uint32_t n, PageList &out) noexcept;
	// Frees the (ungranted) pages left on `l`.
	static void free_pages(PageList &l) noexcept;
	// Takes pages from `l` while below the limit; the rest stay on `l`.
	void adopt(PageList &l) noexcept;
	// alloc_pages + adopt + free_pages of the surplus; returns how many
	// pages the pool gained.
	uint32_t fill(Gfp gfp, uint32_t n) noexcept;
	// Pages the pool may still take.
	[[nodiscard]] uint32_t room() const noexcept;

	// A granted page for one segment; never allocates. Errors: -ENOMEM
	// when no page is free, or the grant table's own error (-ENOSPC: no
	// free refs).
	[[nodiscard]] Result<PoolGrant *> get() noexcept;

	// The request using `g` completed. Persistent: a grant the backend
	// still maps goes to the front for reuse, one it unmapped is ended and
	// goes to the back. Not persistent: the grant must end now; if the
	// backend still maps it, the page is handed to deferred end and
	// dropped, and -EBUSY says the backend broke the protocol.
	[[nodiscard]] Status put(PoolGrant &g) noexcept;

	// Ends the grants of free pages the backend no longer maps (keeping
	// the pages for re-granting). Returns how many.
	uint32_t revoke_idle() noexcept;
	// Runs revoke_idle() when kGrantRevokeIntervalSeconds have passed.
	void periodic() noexcept;
	// Frees free pages until at most `keep` pages remain: ungranted ones
	// first, then granted ones whose grant can be ended. Returns how many.
	uint32_t shrink(uint32_t keep) noexcept;
	// Memory pressure: free pages beyond `reserve` free ones, at most
	// `budget`, through shrink(); counted in reclaimed. Returns how many.
	uint32_t reclaim(uint32_t reserve, uint32_t budget) noexcept;
	// Free pages beyond `reserve`: what reclaim() may give back at most.
	[[nodiscard]] uint32_t spare(uint32_t reserve) const noexcept;

	// Disconnect: ends every grant, free or in use, and frees every page
	// that the backend cannot reach; the rest go to deferred end. Every
	// PoolGrant pointer handed out becomes invalid.
	GrantPoolTeardown teardown() noexcept;

	[[nodiscard]] GrantPoolStats stats() const noexcept;
	[[nodiscard]] uint32_t limit() const noexcept { return limit_; }

	// For create() only.
	GrantPool(DomId backend, uint32_t limit, bool persistent) noexcept;

private:
	using GrantList = PageList;

	[[nodiscard]] Status grant(PoolGrant &g) noexcept;
	// Ends g's grant if the backend let go; true when g is now ungranted.
	bool try_end(PoolGrant &g) noexcept;
	// Releases g and its page for good (deferred if still mapped).
	void dispose(PoolGrant &g, GrantPoolTeardown *report) noexcept;

	const DomId backend_;
	const uint32_t limit_;
	const bool persistent_;
	GrantList free_;	// granted first, then ungranted
	GrantList in_use_;
	uint32_t granted_ = 0;
	unsigned long next_revoke_;
	uint64_t grants_made_ = 0;
	uint64_t reuses_ = 0;
	uint64_t revocations_ = 0;
	uint64_t deferred_ = 0;
	uint64_t reclaimed_ = 0;
};

} // namespace xbc
