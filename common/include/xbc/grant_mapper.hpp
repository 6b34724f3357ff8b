// SPDX-License-Identifier: GPL-2.0-only
// The backend's per-ring grant mapper: turns a request's segments (grefs)
// into pages it can do I/O on, and back (in-tree: xen_blkbk_map/unmap and
// free_persistent_gnts in blkback.c). It owns the ring's PersistentGrants
// tree and PagePool.
//
// Per segment of a request:
//   - persistent grants negotiated and the gref is in the tree: use that
//     mapping (a hit);
//   - otherwise map it, batched (<= KAPI_GNTTAB_MAX_BATCH per hypercall),
//     onto a page from the pool; if persistent and the tree has room, the
//     new mapping joins the tree, else it stays transient (an overflow map)
//     and is unmapped when the request is released.
// Every operation's status is checked. A failed map fails only its request,
// and everything that request mapped is released before map() returns:
// persistent entries go back to idle, transient mappings are unmapped,
// pages return to the pool (XSA-365/371: no page or handle leaks).
// A gref whose persistent entry is already in use (twice in one request, or
// in two requests in flight) is served as in-tree serves it: by a transient
// mapping of its own, unmapped when its request is released.
// An unmap that fails leaves its page unusable: we log, count and leak that
// page rather than hand memory that may still show a guest frame to anyone.
//
// Unmaps of pages I/O has used are asynchronous (in-tree:
// gnttab_unmap_refs_async): another holder (a network stack, a stuck bio)
// may keep such a page, and the kernel then unmaps it only once they let
// go, however long that takes. release_async() (a completed request) and
// the LRU purge and teardown (persistent grants) never wait for it: a
// request's callback says when its mappings are gone, and the page goes
// back to the pool only then (reap_unmaps()). Pages no I/O has used (a
// failed map, indirect descriptor pages) are unmapped at once: nothing
// else ever holds them.
//
// With persistent grants, maps are read-write whatever the segment says, so
// the mapping can serve later requests (as in-tree); without, a segment the
// backend only reads (a disk write) is mapped read-only.
//
// RequestMapping is the per-request RAII owner: destroying it releases.
//
// Concurrency: one ring thread calls everything here, including release()
// (the engine must bring bio completions back to the ring thread, or hold
// the ring's lock around release()). Asynchronous unmap completions touch
// only their batch and the completed list (under its lock), then call
// their callback.
#pragma once

#include "kapi/gnttab.h"
#include "xbc/memory.hpp"
#include "xbc/page_pool.hpp"
#include "xbc/persistent_grants.hpp"
#include "xbc/result.hpp"
#include "xbc/sync.hpp"
#include "xbc/types.hpp"

namespace xbc {

// One segment's grant, as decoded and validated from the request.
struct SegmentGrant {
	GrantRef ref;
	bool readonly;	// the backend only reads this page (a disk write)
};

class GrantMapper;

class RequestMapping : Pinned {
public:
	// MAX_INDIRECT_SEGMENTS: the most segments blkback accepts per request.
	static constexpr uint32_t kMaxSegments = 256;

	RequestMapping() noexcept = default;
	~RequestMapping() { release(); }

	[[nodiscard]] bool is_mapped() const noexcept { return mapper_ != nullptr; }
	[[nodiscard]] uint32_t count() const noexcept { return count_; }
	// The page holding segment i's guest memory (i < count()).
	[[nodiscard]] struct kapi_page *page(uint32_t i) const noexcept { return slot(i).page; }
	[[nodiscard]] bool is_persistent(uint32_t i) const noexcept { return slot(i).persistent != nullptr; }

	// Returns persistent grants to the tree and unmaps transient ones at
	// once: only for pages no I/O has used. Idempotent.
	void release() noexcept;

private:
	friend class GrantMapper;
	struct Slot {
		struct kapi_page *page;		// null: nothing to undo
		PersistentGrant *persistent;	// non-null: borrowed from the tree
		GrantHandle handle;		// transient mapping's handle
	};
	const Slot &slot(uint32_t i) const noexcept
	{
		if (i >= count_)
			__builtin_trap();
		return slots_[i];
	}

	GrantMapper *mapper_ = nullptr;
	uint32_t count_ = 0;
	Slot slots_[kMaxSegments];
};

// Runs when an asynchronous unmap finished, in any context but hard irq,
// possibly on another CPU; it must not call back into the mapper.
using UnmapDoneFn = void (*)(void *ctx) noexcept;

struct GrantMapperConfig {
	// feature-persistent is in use on this connection (our setting AND
	// the frontend's key, snapshotted at connect).
	bool persistent = true;
	// Requests released asynchronously at once (one unmap batch each).
	uint32_t max_requests = 0;
	// Told when a purge or teardown unmap finished (reap_unmaps() then
	// has work); may be null.
	UnmapDoneFn on_background_unmap = nullptr;
	void *background_ctx = nullptr;
	PersistentGrantsConfig grants;
	PagePoolConfig pool;
};

struct GrantMapperStats {
	uint64_t hits;		// segments served by a persistent mapping
	uint64_t misses;	// segments that needed a fresh map
	uint64_t maps;		// successful map operations
	uint64_t map_failures;	// failed map operations
	uint64_t unmaps;	// successful unmap operations
	uint64_t unmap_failures;// failed unmap operations (page leaked)
	uint64_t evictions;	// persistent entries dropped by the LRU purge
	uint64_t overflow_maps;	// fresh maps kept transient although persistent
				// (tree full, or the gref's entry in use)
	uint64_t refused_in_use;// segments naming a grant already in use
	uint32_t mapped;	// grant mappings live now (persistent + transient)
	uint32_t persistent;	// entries in the tree
	uint32_t in_use;	// of which in use
	uint32_t requests;	// RequestMappings currently mapped
};

struct GrantTeardownReport {
	uint32_t unmapped;	// mappings undone
	uint32_t failed;	// unmaps that failed (pages leaked)
	uint32_t busy;		// entries still in use by a request (left alone)
	uint32_t still_mapped;	// stats().mapped afterwards: 0 on success
	uint32_t pending;	// unmaps not yet done (another holder has a page)
};

class GrantMapper : Pinned {
public:
	[[nodiscard]] static Result<Box<GrantMapper>> create(Gfp gfp, DomId frontend,
							     const GrantMapperConfig &cfg) noexcept;
	// Tears down; requests must have been released first, and teardown()
	// must have reported nothing pending (an unmap completion points here).
	~GrantMapper();

	// Maps segs[0..n) into `out`, which must not be mapped. On error
	// nothing stays mapped or borrowed and `out` is empty. n may be 0.
	// Errors: -EINVAL (n > kMaxSegments), -ENOMEM (no pages), -EIO (a map
	// operation failed), -EBUSY (`out` already mapped).
	[[nodiscard]] Status map(const SegmentGrant *segs, uint32_t n, RequestMapping &out) noexcept;

	// The ring thread's periodic work (call at least every kLruIntervalMs):
	// the LRU purge when due, then the pool shrink.
	void periodic() noexcept;
	// Runs the LRU purge now; returns how many entries went.
	uint32_t purge() noexcept;
	// Memory pressure (xenbus reclaim_memory): empty the page pool now and
	// for the squeeze duration.
	void squeeze() noexcept { pool_->squeeze(); }

	// Releases `req` after its I/O: persistent grants go back to the tree
	// now, transient mappings are unmapped asynchronously. True: nothing
	// was left to unmap and `done` will not run. False: `done(ctx)` runs
	// once the mappings are gone; reap_unmaps() then recycles the pages.
	[[nodiscard]] bool release_async(RequestMapping &req, UnmapDoneFn done, void *ctx) noexcept;
	// Takes back finished asynchronous unmaps (pages to the pool, counters)
	// and starts queued purge and teardown unmaps.
	void reap_unmaps() noexcept;

	// Unmaps every idle persistent grant (asynchronously, batched) and
	// empties the pool. Entries still in use belong to requests not yet
	// released: they are left and reported (busy). Call again until it
	// reports nothing pending (on_background_unmap says when to retry).
	GrantTeardownReport teardown() noexcept;

	[[nodiscard]] GrantMapperStats stats() const noexcept;
	[[nodiscard]] PersistentGrants &grants() noexcept { return grants_; }
	[[nodiscard]] PagePool &pool() noexcept { return *pool_; }
	[[nodiscard]] const GrantMapperConfig &config() const noexcept { return cfg_; }

	// For create() only.
	GrantMapper(DomId frontend, const GrantMapperConfig &cfg, Box<PagePool> &&pool,
		    IrqSpinLock &&completed_lock) noexcept;

private:
	friend class RequestMapping;
	struct UnmapBatch;

	void release(RequestMapping &req) noexcept;
	// Maps the queued batch (map_ops_[0..nmap_)) for `req`; false if any
	// operation failed or no pages could be had.
	[[nodiscard]] Status flush_maps(RequestMapping &req) noexcept;
	// Queues one mapping for unmapping; flushes a full batch.
	void queue_unmap(struct kapi_page *page, GrantHandle handle) noexcept;
	void flush_unmaps() noexcept;
	// Starts `b` (ops filled); true if it finished within the call.
	bool start_batch(UnmapBatch &b) noexcept;
	static void on_batch_done(void *ctx, int err) noexcept;
	// Accounts a finished batch and frees it for reuse.
	void finish_batch(UnmapBatch &b) noexcept;
	// Moves backlog entries into free background batches and starts them.
	void pump_backlog() noexcept;

	const DomId frontend_;
	const GrantMapperConfig cfg_;
	Box<PagePool> pool_;
	PersistentGrants grants_;
	unsigned long next_lru_;	// jiffies of the next purge

	// Batches live here rather than on the (small) kernel stack.
	struct kapi_grant_map map_ops_[KAPI_GNTTAB_MAX_BATCH];
	uint32_t map_slot_[KAPI_GNTTAB_MAX_BATCH];	// op -> segment index
	uint32_t nmap_ = 0;
	struct kapi_grant_unmap unmap_ops_[KAPI_GNTTAB_MAX_BATCH];
	uint32_t nunmap_ = 0;
	struct kapi_page *page_batch_[KAPI_GNTTAB_MAX_BATCH];
	uint32_t unmapped_in_flush_ = 0;	// for teardown's report
	uint32_t failed_in_flush_ = 0;

	// Asynchronous unmaps. Owner (ring thread) only, except completed_.
	UnmapBatch *free_requests_ = nullptr;	// cfg.max_requests batches
	UnmapBatch *free_background_ = nullptr;	// kBackgroundBatches batches
	PersistentGrants::VictimList backlog_;	// purged, not yet unmapping
	uint32_t batches_in_flight_ = 0;	// started, not yet finished
	bool teardown_pending_ = false;		// the last teardown() left some
	// Finished in any context, not yet reaped.
	Guarded<UnmapBatch *, IrqSpinLock> completed_;

	uint64_t misses_ = 0;
	uint64_t maps_ = 0;
	uint64_t map_failures_ = 0;
	uint64_t unmaps_ = 0;
	uint64_t unmap_failures_ = 0;
	uint64_t overflow_maps_ = 0;
	uint32_t mapped_ = 0;
	uint32_t requests_ = 0;
};

} // namespace xbc
