// SPDX-License-Identifier: GPL-2.0-only
// The backend's free-page pool, one per ring (in-tree: ring->free_pages,
// a gnttab_page_cache). Grant mappings need pages that can take a foreign
// frame (kapi_gnttab_alloc_pages); allocating them is slow, so pages whose
// mapping ended come back here and are handed out again.
//
// Improvement on in-tree: the pool never holds more than its limit (the
// max_buffer_pages snapshot). In-tree the cache grows without bound between
// two shrinks of the ring thread; here a put beyond the limit frees at once.
// A squeeze (memory pressure: the xenbus reclaim_memory hook) drops the
// limit to 0 for buffer_squeeze_duration_ms, as in-tree.
//
// The cache is a fixed array of page pointers: a free page's own memory is
// never used for bookkeeping (a ballooned page may have no backing frame).
//
// Concurrency: owned by the ring thread; no locking.
#pragma once

#include "kapi/gnttab.h"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"

namespace xbc {

struct PagePoolConfig {
	// max_buffer_pages: free pages kept per ring (pages, in-tree 1024).
	uint32_t max_buffer_pages = 1024;
	// buffer_squeeze_duration_ms: how long a squeeze keeps the pool
	// empty (milliseconds, in-tree 10).
	uint32_t squeeze_duration_ms = 10;
};

struct PagePoolStats {
	uint64_t allocated;	// pages obtained from kapi_gnttab_alloc_pages
	uint64_t freed;		// pages given back with kapi_gnttab_free_pages
	uint64_t reused;	// gets served from the cache
	uint32_t cached;	// free pages held now
	uint32_t outstanding;	// pages handed out and not yet returned
};

class PagePool : Pinned {
public:
	[[nodiscard]] static Result<Box<PagePool>> create(Gfp gfp, const PagePoolConfig &cfg) noexcept;
	~PagePool();

	// Fills pages[0..n) from the cache, allocating any shortfall in one
	// batch. All or nothing: on -ENOMEM no page is handed out.
	[[nodiscard]] Status get(struct kapi_page **pages, uint32_t n) noexcept;
	// Takes back n unmapped pages; what exceeds the current limit is freed.
	// The caller must not pass a page that may still hold a mapping.
	void put(struct kapi_page *const *pages, uint32_t n) noexcept;

	// Frees cached pages down to `keep`.
	void shrink(uint32_t keep) noexcept;
	// Memory pressure: keep nothing for the squeeze duration, from now.
	void squeeze() noexcept;
	// The ring thread's periodic call: shrink to the current limit.
	void periodic() noexcept { shrink(limit()); }

	// max_buffer_pages, or 0 while a squeeze lasts.
	[[nodiscard]] uint32_t limit() const noexcept;
	[[nodiscard]] PagePoolStats stats() const noexcept;

	// For create() only.
	PagePool(const PagePoolConfig &cfg, BoxArray<struct kapi_page *> &&cache) noexcept;

private:
	void free_pages(struct kapi_page *const *pages, uint32_t n) noexcept;

	const PagePoolConfig cfg_;
	BoxArray<struct kapi_page *> cache_;	// capacity max_buffer_pages
	uint32_t cached_ = 0;
	bool squeezing_ = false;
	unsigned long squeeze_end_ = 0;		// jiffies
	uint64_t allocated_ = 0;
	uint64_t freed_ = 0;
	uint64_t reused_ = 0;
};

} // namespace xbc
