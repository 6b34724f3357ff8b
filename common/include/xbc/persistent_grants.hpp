// SPDX-License-Identifier: GPL-2.0-only
// The backend's persistent grants of one ring: gref -> {page, handle,
// in-use, last-used}, a red-black tree keyed by GrantRef (Linux commit
// 0a8704a51f38; blkback.c get/add/put/purge_persistent_gnt). A frontend
// that negotiated feature-persistent reuses the same grefs, so the backend
// keeps them mapped instead of paying a map and an unmap (with its TLB
// flush) per segment.
//
// This class is bookkeeping only: it never calls the grant table. The
// GrantMapper (xbc/grant_mapper.hpp) maps, unmaps and owns the pages; it
// asks this class what is persistent and which entries to evict.
//
// The LRU rule (purge, run every kLruIntervalMs by the ring thread):
//   cap = max_persistent_grants, n = entries in the tree.
//   num_clean = 0                                 if n < cap, or n == cap and
//                                                 no map overflowed the cap
//                                                 since the last purge;
//             = min(n, (cap / 100) * 5 + (n - cap)) otherwise.
//   Pass 1: evict EVERY idle entry (not in use) unused for at least
//           persistent_grant_unused_seconds (0 = never), however many.
//   Pass 2: if pass 1 evicted fewer than num_clean, evict further idle
//           entries, least recently released first, until num_clean.
//   Entries in use are never evicted. If anything was evicted, the
//   overflow mark is cleared.
// In-tree pass 2 takes idle entries in gref order; we keep idle entries on
// a list in release order, so pass 2 is truly least-recently-used and
// both passes cost O(evicted) instead of a walk of the whole tree. The
// number evicted and pass 1's set are exactly the in-tree ones.
//
// A gref found in use is refused (acquire() says kInUse): one entry is
// never lent twice. (GrantMapper then maps that segment transiently.)
//
// Concurrency: one ring thread owns this; every call comes from it (in-tree
// needed atomics only because put_persistent_gnt ran in irq context; our
// engine returns grants from the ring thread).
#pragma once

#include "kapi/gnttab.h"
#include "xbc/list.hpp"
#include "xbc/memory.hpp"
#include "xbc/rbtree.hpp"
#include "xbc/result.hpp"
#include "xbc/types.hpp"

namespace xbc {

// In-tree LRU_INTERVAL and LRU_PERCENT_CLEAN.
inline constexpr uint32_t kLruIntervalMs = 100;
inline constexpr uint32_t kLruPercentClean = 5;

struct PersistentGrantsConfig {
	// max_persistent_grants: entries per ring (grants, in-tree 1056).
	uint32_t max_grants = 1056;
	// persistent_grant_unused_seconds: idle time before eviction
	// (seconds, in-tree 60; 0 = never evict for idleness).
	uint32_t unused_timeout_s = 60;
};

class PersistentGrants;

class PersistentGrant : Pinned {
public:
	PersistentGrant(GrantRef ref, struct kapi_page *page, GrantHandle handle) noexcept
		: ref_(ref), page_(page), handle_(handle)
	{
	}

	[[nodiscard]] GrantRef ref() const noexcept { return ref_; }
	[[nodiscard]] struct kapi_page *page() const noexcept { return page_; }
	[[nodiscard]] GrantHandle handle() const noexcept { return handle_; }
	[[nodiscard]] bool in_use() const noexcept { return in_use_; }
	// jiffies of the last release; meaningless while in use.
	[[nodiscard]] unsigned long last_used() const noexcept { return last_used_; }

private:
	friend class PersistentGrants;
	friend struct PersistentGrantKey;

	const GrantRef ref_;
	struct kapi_page *const page_;
	const GrantHandle handle_;
	bool in_use_ = true;	// a new entry belongs to the request that mapped it
	unsigned long last_used_ = 0;
	RbNode tree_node_;
	// On the idle list while not in use; on a victim list once evicted.
	ListNode lru_node_;

public:
	using VictimList = List<PersistentGrant, &PersistentGrant::lru_node_>;
};

struct PersistentGrantKey : KeyLess<GrantRef> {
	using Key = GrantRef;
	static Key key(const PersistentGrant &g) noexcept { return g.ref_; }
};

struct PersistentGrantsStats {
	uint64_t hits;		// lookups served by a mapped entry
	uint64_t misses;	// lookups that found nothing
	uint64_t in_use_refused;// lookups or adds of a gref already in use
	uint64_t added;		// entries added
	uint64_t evictions;	// entries evicted by the purge
	uint32_t entries;	// in the tree now
	uint32_t in_use;	// of which in use
};

class PersistentGrants : Pinned {
public:
	using VictimList = PersistentGrant::VictimList;

	explicit PersistentGrants(const PersistentGrantsConfig &cfg) noexcept;
	// Must be empty (the GrantMapper takes every entry out first).
	~PersistentGrants();

	enum class Lookup { kHit, kMiss, kInUse };
	// Looks `ref` up; on a hit marks it in use and returns it in *out.
	[[nodiscard]] Lookup acquire(GrantRef ref, PersistentGrant **out) noexcept;

	// Room for one more entry under the cap?
	[[nodiscard]] bool has_room() const noexcept { return tree_.size() < cfg_.max_grants; }
	// A fresh map had to stay transient because the tree was full; the
	// next purge then cleans even at exactly the cap (in-tree
	// overflow_max_grants).
	void note_overflow() noexcept { overflow_ = true; }
	[[nodiscard]] bool overflowed() const noexcept { return overflow_; }

	// Adds a freshly mapped grant, in use. Errors: -EBUSY at the cap
	// (overflow noted), -EEXIST when `ref` is present (*out = holder),
	// -ENOMEM. On error the caller still owns the mapping.
	[[nodiscard]] Status add(GrantRef ref, struct kapi_page *page, GrantHandle handle,
				 Gfp gfp, PersistentGrant **out) noexcept;

	// The request is done with `g`: it becomes idle, most recently used.
	void release(PersistentGrant &g) noexcept;

	// Applies the LRU rule at jiffies `now`: unlinks the victims from the
	// tree and appends them to `victims`. Returns how many.
	uint32_t select_victims(VictimList &victims, unsigned long now) noexcept;
	// Teardown: unlinks every idle entry onto `victims`; entries in use
	// stay (their requests still hold them). Returns how many moved.
	uint32_t take_all_idle(VictimList &victims) noexcept;
	// Frees an entry taken out by select_victims/take_all_idle once its
	// mapping is gone.
	static void destroy(PersistentGrant *g) noexcept;

	[[nodiscard]] PersistentGrant *find(GrantRef ref) const noexcept { return tree_.find(ref); }
	[[nodiscard]] uint32_t size() const noexcept { return static_cast<uint32_t>(tree_.size()); }
	[[nodiscard]] uint32_t in_use() const noexcept { return in_use_; }
	[[nodiscard]] const PersistentGrantsConfig &config() const noexcept { return cfg_; }
	[[nodiscard]] PersistentGrantsStats stats() const noexcept;
	// Tree invariants plus our own counts; for tests.
	[[nodiscard]] bool check() const noexcept;

	// The idle entries, least recently used first (for tests).
	[[nodiscard]] const PersistentGrant *idle_front() noexcept { return idle_.front(); }

private:
	using Tree = RbTree<PersistentGrant, &PersistentGrant::tree_node_, PersistentGrantKey>;

	void evict(PersistentGrant &g, VictimList &victims) noexcept;

	const PersistentGrantsConfig cfg_;
	const unsigned long timeout_jiffies_;	// 0 = never idle out
	Tree tree_;
	VictimList idle_;	// release order: front is least recently used
	uint32_t in_use_ = 0;
	bool overflow_ = false;
	uint64_t hits_ = 0;
	uint64_t misses_ = 0;
	uint64_t in_use_refused_ = 0;
	uint64_t added_ = 0;
	uint64_t evictions_ = 0;
};

} // namespace xbc
