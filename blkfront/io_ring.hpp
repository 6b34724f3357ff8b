// SPDX-License-Identifier: GPL-2.0-only
// One blkfront ring (one blk-mq hardware queue): the shared ring pages and
// event channel, the shadow table of requests in flight, and the GrantPool
// (xbc/grant_pool.hpp) of granted pages the data is bounced through. Its counterpart in the backend
// is blkback/'s per-ring engine; the control path that creates and connects
// rings is blkfront/frontend.cpp.
//
// Data path:
//   queue():      take a shadow id; grant (pool page or the request's own
//                 page); copy write data in; fill the slot or the indirect
//                 pages; push; notify.
//   handle_irq(): copy each response out once; validate id (in range AND in
//                 flight), operation and status; copy read data out;
//                 recycle or end grants; complete the request.
// A response the ring cannot trust breaks the ring: it stops taking
// requests, every request in flight fails with -EIO, and no grant or page
// the backend may still reach is ever freed.
//
// A request whose own page the backend still maps (direct grants: trusted,
// no persistent grants) is never completed, not even failed: completing it
// would hand the page back to the page cache or an O_DIRECT buffer while
// the backend can still write into it (XSA-396). It is held in its shadow
// slot, the ring breaks, and purge() fails it once the grant really ends.
// Only remove gives up on it (the destructor, or at once for a request held
// while remove runs): it pins the page, defers the end-access and fails the
// request, so the disk can go.
//
// Concurrency: lock_ (irq-safe spinlock) guards everything below marked so;
// queue() runs in blk-mq's queue_rq context, handle_irq() in hard irq,
// both take it. Control calls (configure, shutdown, recover) run in the
// frontend's process context under its mutex, and take lock_ too.
#pragma once

#include "kapi/blkmq.h"
#include "kapi/evtchn.h"
#include "kapi/thread.h"
#include "kapi/xenbus.h"
#include "blkfront/settings.hpp"
#include "xbc/blkif_ring.hpp"
#include "xbc/grant_callback.hpp"
#include "xbc/grant_pool.hpp"
#include "xbc/handle.hpp"
#include "xbc/list.hpp"
#include "xbc/memory.hpp"
#include "xbc/sync.hpp"
#include "xbc/result.hpp"
#include "xbc/types.hpp"

namespace xbc::blkfront {

class RingOwner;

// Per shadow id: the request and what it holds.
struct SegSlot {
	PoolGrant *pool;		// bounce: the pool page; direct: null
	kapi_page *rq_page;		// the request's data page
	uint32_t gref;			// direct: the grant of rq_page
	uint16_t offset;		// bytes within the page
	uint16_t len;
};

struct Shadow {
	kapi_blk_request *rq;		// null when the id is free
	uint32_t next_free;
	bool in_flight;
	bool is_write;
	uint8_t wire_op;		// blkif::Op on the ring
	uint8_t data_op;		// what the response must echo
	uint16_t nr_segs;
	uint8_t nr_indirect;
	bool held;			// its page is still mapped: never completed yet
	PoolGrant *indirect[blkif::kMaxIndirectPages];
};

struct IoRingConfig {
	uint32_t index;			// queue number
	uint32_t ring_page_order;
	DomId backend;
	blkif::Vdev handle;
};

class IoRing : Pinned {
public:
	// Allocates and grants the ring pages and binds an event channel. The
	// ring takes no request until configure().
	[[nodiscard]] static Result<Box<IoRing>> create(kapi_xenbus_device *dev, RingOwner *owner,
							 const IoRingConfig &cfg) noexcept;
	~IoRing();

	// The values the frontend writes to xenstore.
	uint32_t nr_ring_pages() const noexcept { return 1u << cfg_.ring_page_order; }
	uint32_t ring_ref(uint32_t i) const noexcept { return grefs_[i]; }
	uint32_t event_channel() const noexcept { return port_; }
	uint32_t size() const noexcept { return size_; }

	// At Connected: size the shadow table for the negotiated features and
	// start taking requests.
	[[nodiscard]] Status configure(const Features &f) noexcept;

	// blk-mq queue_rq on hardware queue `hwq`: 0, -EBUSY (ring full; the
	// queue is stopped until space frees), -EAGAIN (shortage), -EIO.
	[[nodiscard]] int queue(kapi_blk_request *rq, unsigned int hwq) noexcept;
	// The event channel handler.
	void handle_irq() noexcept;

	// Stops taking requests; fails every request in flight with `err`,
	// ending grants safely. Used at disconnect and when the ring breaks.
	void fail_all(int err) noexcept;
	// Suspend: hands every request in flight back to the block layer, to
	// be issued again after the reconnect (reads and writes as bios, so
	// they are split for the new backend's limits; the rest requeued
	// whole); grants are ended (the new backend will not know them).
	void requeue_all() noexcept;
	// The periodic purge of grants the backend stopped mapping; also fails
	// the held requests whose grants have now ended.
	// Waits until no irq handler of this ring is inside lock_: one that
	// read "queues may run" before a Closing has finished restarting them.
	void wait_for_irq_section() noexcept;
	void purge() noexcept;
	// Requests held because the backend still maps their pages.
	[[nodiscard]] uint32_t held() const noexcept { return held_.load_relaxed(); }

	[[nodiscard]] GrantPoolStats pool_stats() const noexcept;
	// Memory pressure (the driver's shrinker): free pool pages beyond the
	// reserve one maximal request needs, and giving up to `budget` back.
	[[nodiscard]] uint32_t pool_spare() const noexcept;
	uint32_t reclaim_pool(uint32_t budget) noexcept;
	[[nodiscard]] bool is_broken() const noexcept { return broken_.load_relaxed(); }
	[[nodiscard]] uint32_t in_flight() const noexcept { return in_flight_.load_relaxed(); }

	// Test and sysfs counters.
	uint64_t completed() const noexcept { return completed_.load_relaxed(); }

private:
	// Reached from create() alone (xbc::create constructs); create()
	// finishes what needs the ring as context before it returns it.
	template <typename T, typename... Args> friend Box<T> xbc::create(Gfp, Args &&...) noexcept;
	IoRing(kapi_xenbus_device *dev, RingOwner *owner, const IoRingConfig &cfg,
	       IrqSpinLock lock) noexcept;

	static void irq_trampoline(void *ctx) noexcept;
	// Grant refs came back (any context, grant table lock held): kick.
	static void refs_back(void *ctx) noexcept;
	static void kick_trampoline(void *ctx) noexcept;
	// Process context: refills the pool if a request found it empty, and
	// restarts the queue a shortage stopped.
	void kick() noexcept;
	// Out of grant refs: stop the queue until refs_needed come back.
	int wait_for_refs(unsigned int hwq, uint32_t refs_needed) noexcept XBC_REQUIRES(lock_);

	int queue_locked(kapi_blk_request *rq, unsigned int hwq) noexcept XBC_REQUIRES(lock_);
	int busy(unsigned int hwq) noexcept XBC_REQUIRES(lock_);
	void restart_queue_locked() noexcept XBC_REQUIRES(lock_);
	Status grant_segments(Shadow &s, SegSlot *segs, bool bounce) noexcept XBC_REQUIRES(lock_);
	// What ending a request's grants found.
	enum class Release : uint8_t {
		kClean,
		kPoolKept,	// the backend still maps a pool page (deferred)
		kPageKept,	// ... or the request's own page: the grant stays
	};
	[[nodiscard]] Release release_grants(Shadow &s, SegSlot *segs, bool copy_out) noexcept
		XBC_REQUIRES(lock_);
	void force_release_grants(Shadow &s, SegSlot *segs) noexcept XBC_REQUIRES(lock_);
	void free_id(uint32_t id) noexcept XBC_REQUIRES(lock_);
	// Ends a request in flight: holds it (kPageKept; returns false and
	// breaks the device) or completes it with err (-EIO if a grant was kept).
	bool finish_locked(uint32_t id, int err, bool copy_out) noexcept XBC_REQUIRES(lock_);
	void hold_locked(uint32_t id) noexcept XBC_REQUIRES(lock_);
	void retry_held_locked() noexcept XBC_REQUIRES(lock_);
	void leak_held_locked() noexcept XBC_REQUIRES(lock_);
	// The last resort for one held request: pins its pages for the
	// deferred end-access and fails it.
	void leak_one_locked(uint32_t id) noexcept XBC_REQUIRES(lock_);
	void fail_held_locked(uint32_t id) noexcept XBC_REQUIRES(lock_);
	void break_ring(const char *why, uint64_t value) noexcept XBC_REQUIRES(lock_);
	void fail_all_locked(int err) noexcept XBC_REQUIRES(lock_);
	SegSlot *segs_of(uint32_t id) const noexcept XBC_REQUIRES(lock_)
	{
		return &segs_[size_t(id) * max_segs_];
	}

	kapi_xenbus_device *dev_;
	RingOwner *owner_;	// all a ring sees of its frontend
	IoRingConfig cfg_;
	mutable IrqSpinLock lock_;
	void *ring_area_ = nullptr;
	uint32_t grefs_[kMaxRingPages] = {};
	uint32_t port_ = 0;
	Irq irq_;
	// refs_back_ queues kick_work_; both torn down first in ~IoRing, the
	// callback before the work it queues.
	Work kick_work_;
	GrantFreeCallback refs_back_;
	uint32_t size_ = 0;		// ring_.size(), fixed by create()

	blkif::NativeFrontRing ring_ XBC_GUARDED_BY(lock_);
	BoxArray<Shadow> shadow_ XBC_GUARDED_BY(lock_);
	BoxArray<SegSlot> segs_ XBC_GUARDED_BY(lock_);
	uint32_t max_segs_ XBC_GUARDED_BY(lock_) = 0;
	uint32_t free_head_ XBC_GUARDED_BY(lock_) = 0;
	bool live_ XBC_GUARDED_BY(lock_) = false;	// configured and connected
	bool bounce_ XBC_GUARDED_BY(lock_) = false;
	bool persistent_ XBC_GUARDED_BY(lock_) = false;
	// we answered -EBUSY since the last kick
	bool stopped_queue_ XBC_GUARDED_BY(lock_) = false;
	Box<GrantPool> pool_ XBC_GUARDED_BY(lock_);	// made per connection by configure()
	// pool pages one maximal request takes: what reclaim never touches
	uint32_t pool_reserve_ XBC_GUARDED_BY(lock_) = 0;
	bool refill_wanted_ XBC_GUARDED_BY(lock_) = false;	// a request found the pool empty
	// Written under lock_, read without it by the control path and sysfs.
	Atomic<bool> broken_;
	Atomic<uint32_t> in_flight_;
	Atomic<uint32_t> held_;
	Atomic<uint64_t> completed_;
};

} // namespace xbc::blkfront
