// SPDX-License-Identifier: GPL-2.0-only
// xen-blkback's data path: one BackendRing per queue (counterpart of the
// in-tree drivers/block/xen-blkback/blkback.c). It maps the frontend's
// shared ring, binds its lateeoi event channel, and runs one kernel thread
// that turns requests into bios and completions into responses.
//
//   irq (hard irq)        -> events_pending_ = true, wake the thread
//   thread: run_once()    -> retire completed requests (release grants,
//                            respond), consume new requests (copy once,
//                            decode and validate, map grants, submit bios),
//                            lateeoi once the ring is drained, LRU purge,
//                            page-pool shrink, log_stats
//   bio done (irq/softirq)-> record the error, and when the request's last
//                            bio is done put it on the done list, wake
//   unmap done (any ctx)  -> a completed request's transient mappings are
//                            gone: back on the done list, to be answered
//
// A request is answered, and its slot and pages reused, only once its
// transient mappings are unmapped. The unmap is asynchronous (another
// holder may keep a page for a while): the thread never waits for it.
//
// Concurrency contract:
//   - The ring thread owns the shared ring's consumer and producer state,
//     the PersistentGrants tree, the page pool, the grant mapper and the
//     grant copier (with its own pool of pages), the free
//     list of pending requests and every counter. Nothing else touches
//     them while the thread runs (stop() first: disconnect does). After
//     retire() with bios in flight, the ring's work item owns them: each
//     completion queues it, and it answers, then finally shuts down.
//   - The irq handler touches only events_pending_ and the wait queue.
//   - Bio completion touches only its own PendingRequest's status and bio
//     count (atomics), the done list and retiring_ (done_lock_, irq-safe);
//     an unmap completion, its request's `unmapped` flag and the same.
//   - Readers of the counters (sysfs) load them relaxed (stats.hpp).
//
// A broken ring (the frontend's producer index claims more requests than
// the ring holds) is halted: logged once (ratelimited), no further request
// is read and the irq is never acknowledged again, until disconnect.
#pragma once

#include "kapi/evtchn.h"
#include "kapi/thread.h"
#include "kapi/xenbus.h"
#include "xbc/blkif.hpp"
#include "xbc/blkif_ring.hpp"
#include "xbc/grant_mapper.hpp"
#include "xbc/handle.hpp"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"
#include "xbc/sync.hpp"

#include "device.hpp"
#include "grant_copy.hpp"
#include "settings.hpp"
#include "stats.hpp"
#ifdef XBC_HOSTILE
#include "hostile.hpp"
#endif

namespace xbc::blkback {

class Backend;

// What the frontend wrote for one ring (ring-ref(s), event-channel under
// its queue-N directory), with what the connection settled for all rings.
// Not blkfront's RingConfig/RingPlan: those are the frontend's side.
struct FrontendRingKeys {
	unsigned index;			// queue number
	blkif::Abi abi;
	unsigned nr_pages;		// 1 << ring-page-order
	GrantRef refs[16];		// ring-ref / ring-refN
	EvtchnPort port;		// event-channel
	bool persistent;		// our snapshot && frontend's feature-persistent
};

class BackendRing;

// One request between the ring and its response. Pool-allocated per ring
// (as many as the ring has slots), never allocated on the I/O path.
struct PendingRequest {
	BackendRing *ring;
	PendingRequest *next;		// free list or done list
	blkif::RequestId id;
	blkif::Op op;			// echoed in the response
	Atomic<int16_t> status;		// bio completions may set an error
	Atomic<bool> flush_unsupported;	// a flush/barrier bio said EOPNOTSUPP
	Atomic<int32_t> pending;	// bios in flight + 1 while building
	RequestMapping grants;		// the mapped segments (released by the thread)
	// Set by the unmap completion before it puts the request back on
	// the done list (done_lock_ orders it): answer it now.
	bool unmapped = false;
	CopiedRequest copied;		// or our pages, with grant_copy (ditto)

	// The page segment i's bio addresses.
	[[nodiscard]] struct kapi_page *page(uint32_t i) const noexcept
	{
		return copied.is_active() ? copied.page(i) : grants.page(i);
	}
};

// The ring's pending requests, one per ring slot: the frontend can never
// have more outstanding, so the pool never runs dry for a well-behaved
// peer. Each is its own allocation (a RequestMapping is a few KiB). Owns
// them all; a request's `ring` is set by the ring that takes the pool.
class RequestPool {
public:
	RequestPool() noexcept = default;
	[[nodiscard]] static Result<RequestPool> create(uint32_t nr_requests) noexcept;
	RequestPool(RequestPool &&) noexcept = default;
	RequestPool &operator=(RequestPool &&o) noexcept
	{
		if (this != &o) {
			reset();
			slots_ = move(o.slots_);
		}
		return *this;
	}
	~RequestPool() { reset(); }

	// Frees every request (each releases what it still holds: its grant
	// copier's pages, its mappings), then the array.
	void reset() noexcept;
	[[nodiscard]] uint32_t size() const noexcept { return uint32_t(slots_.size()); }
	[[nodiscard]] PendingRequest *operator[](uint32_t i) const noexcept { return slots_[i]; }

private:
	BoxArray<PendingRequest *> slots_;	// zero-filled: null until made
};

// Per-ring scratch space for the one request being dispatched: too big
// for the kernel stack, and only the ring thread uses it.
// A request's segments must all fit one RequestMapping.
static_assert(kBackendIndirectSegments <= RequestMapping::kMaxSegments,
	      "the advertised feature-max-indirect-segments exceeds RequestMapping");

struct RingScratch {
	blkif::Segment segs[kBackendIndirectSegments];
	SegmentGrant grants[kBackendIndirectSegments];
	RequestMapping indirect;	// a request's indirect pages, briefly
};

class BackendRing : Pinned {
public:
	// Maps the frontend's ring and binds its event channel; the ring is
	// complete (every resource held) or not made at all.
	[[nodiscard]] static Result<Box<BackendRing>> create(Backend &owner, const VbdParams &params,
							     const FrontendRingKeys &keys) noexcept;
	// Stops the thread, drains, unbinds, unmaps every grant and the ring.
	~BackendRing();

	// Starts the ring thread (named `name`) serving `device`, which must
	// outlive the ring. Rings can be mapped before the hotplug script has
	// named the device; they only run once it is open.
	[[nodiscard]] Status start(const char *name, Device &device) noexcept;
	// Stops the ring thread; idempotent.
	void stop() noexcept;
	// With the thread stopped: waits for every in-flight bio and answers
	// its request. Idempotent.
	void drain() noexcept;
	// stop(), drain(), unbind the irq, unmap every grant and the ring,
	// empty the page pool; the counters stay readable. Idempotent.
	void shutdown() noexcept;
	// Disconnect without waiting for I/O (xenwatch must never block on
	// a device): stops the thread and answers what has completed. True:
	// the ring is shut down now. False: bios or unmaps are still in
	// flight; each completion queues the ring's work item, which answers
	// it, and the last one shuts the ring down and calls
	// Backend::ring_retired. The ring may only be freed after that call.
	[[nodiscard]] bool retire() noexcept;
	// Backend's list of rings retiring or retired (under its lock).
	BackendRing *next_retiring = nullptr;

	// One pass of the thread's loop. Host tests call it directly.
	void run_once() noexcept;

	[[nodiscard]] IoStats io_stats() const noexcept;
	[[nodiscard]] GrantStats grant_stats() const noexcept;
	[[nodiscard]] bool broken() const noexcept { return broken_; }
	// Requests taken from the ring and not yet answered.
	[[nodiscard]] uint32_t in_flight() const noexcept { return pool_.size() - nr_free_; }
	[[nodiscard]] uint32_t size() const noexcept { return ring_.size(); }

private:
	enum class Consume { kDrained, kNoSlot, kYield };

	// What create() acquires before the ring exists (none of it needs the
	// ring's address), moved in whole.
	struct Parts {
		MappedRing area;		// the frontend's ring pages
		blkif::BlkifBackRing ring;	// attached to `area`
		Box<GrantCopier> copier;	// grant_copy without persistent grants
		Box<RingScratch> scratch;
		RequestPool pool;
	};
	// Only create() builds one (xbc::create placement-constructs it).
	template <typename T, typename... Args> friend Box<T> xbc::create(Gfp, Args &&...) noexcept;
	BackendRing(Backend &owner, const VbdParams &params, const FrontendRingKeys &keys,
		    IrqSpinLock done_lock, WaitQueue wq, Parts &&parts) noexcept;
	// create()'s last step: what needs the ring's address (callback
	// contexts), acquired into owning members so that the destructor is
	// right whichever of them fails.
	[[nodiscard]] Status bind() noexcept;
	static void on_irq(void *ctx) noexcept;
	static int thread_main(void *ctx) noexcept;
	static bool has_work(void *ctx) noexcept;
	static bool has_done(void *ctx) noexcept;
	static void on_bio_done(void *ctx, int err) noexcept;
	static bool has_done_or_stop(void *ctx) noexcept;
	static void on_retire_work(void *ctx) noexcept;
	// A request's transient mappings are unmapped (any context).
	static void on_unmapped(void *ctx) noexcept;
	// A purge or teardown unmap finished (any context).
	static void on_background_unmap(void *ctx) noexcept;
	// Marks the ring retiring: completions queue the work item from now.
	void hand_to_work() noexcept;
	// Unbinds the irq, unmaps the ring, frees the copier. Once.
	void finish() noexcept;
	// Unmaps every idle grant and empties the pool without waiting: true
	// once nothing is left unmapping. Call again until then.
	[[nodiscard]] bool torn_down() noexcept;

	void complete_one(PendingRequest *p) noexcept;
	void retire_completed() noexcept;
	[[nodiscard]] Consume consume_requests() noexcept;
	void count_request(blkif::Op op) noexcept;
	void dispatch(const blkif::Decoded &d) noexcept;
	void dispatch_discard(const blkif::Request &req) noexcept;
	void dispatch_rw(const blkif::Request &req) noexcept;
	// Gives `p` its segments' pages: our own (copied in for a write) or
	// the frontend's, mapped. False: the request failed (not answered).
	[[nodiscard]] bool attach_pages(PendingRequest *p, bool write, uint32_t nr_segs) noexcept;
	// A completed grant-copy read whose data goes back to the grants.
	[[nodiscard]] static bool copies_back(const PendingRequest *p) noexcept;
	// Releases a completed request's pages or mappings; a failed copy
	// back (retire_completed queued them all) fails it. False: transient
	// mappings are unmapping; on_unmapped brings the request back.
	[[nodiscard]] bool release_pages(PendingRequest *p) noexcept;
	[[nodiscard]] bool read_indirect_segments(const blkif::Request &req, Sector *total) noexcept;
	// Builds and submits the bios of a mapped request (segments in the
	// scratch area); a bio allocation failure fails the request.
	void submit_bios(PendingRequest *p, const blkif::Request &req, uint32_t nr_segs) noexcept;
	// Until every request taken is answered. `stoppable` (the ring
	// thread only): also gives up, returning false, on kthread_stop.
	bool wait_for_in_flight(bool stoppable) noexcept;
	void respond(blkif::RequestId id, blkif::Op op, blkif::RspStatus status) noexcept;
	void publish_responses() noexcept;
	void fail_request(blkif::RequestId id, blkif::Op op) noexcept;
	void halt(const char *why) noexcept;
	void housekeeping() noexcept;
	void publish_grant_stats() noexcept;
	void print_stats() noexcept;
#ifdef XBC_HOSTILE
	// Test-only (hostile.hpp): arms on a request at the cue sector.
	void hostile_see(const blkif::Request &req) noexcept;
	// Test-only: corrupts or replaces `rsp`; true if it must not be pushed.
	[[nodiscard]] bool hostile_respond(blkif::Response *rsp) noexcept;
	// Test-only: answers `p` but keeps its grants mapped; true if it did.
	[[nodiscard]] bool hostile_keep(PendingRequest *p) noexcept;
	// Test-only: writes into and lets go of the kept request when due,
	// or now if `now` (the thread has stopped: a disconnect).
	void hostile_release_kept(bool now) noexcept;
#endif

	PendingRequest *take_free() noexcept;
	void put_free(PendingRequest *p) noexcept;

	Backend &owner_;
	Device *device_ = nullptr;	// set by start(), before the thread runs
	const VbdParams settings_;
	const unsigned index_;
	const bool persistent_;
	const EvtchnPort port_;

	// Owned; the destructor releases them in its order (see there), and
	// finish() the copier and the ring mapping early.
	MappedRing area_;		// from create(), unmapped by finish()
	blkif::BlkifBackRing ring_;	// lives in area_
	WaitQueue wq_;			// from create()
	Box<GrantMapper> mapper_;	// bind(): its unmaps call us back
	Box<GrantCopier> copier_;	// from create(), freed by finish()
	Box<RingScratch> scratch_;	// from create()
	RequestPool pool_;		// from create()
	Irq irq_;			// bind(), last
	Thread thread_;			// start() to stop()
	Work retire_work_;		// bind(); see retire()

	// Ring thread only.
	PendingRequest *free_ = nullptr;
	uint32_t nr_free_ = 0;
	bool broken_ = false;
	bool shut_down_ = false;
	bool finished_ = false;		// finish() ran (thread, then work item)
	bool torn_down_ = false;	// torn_down() said true
	bool eoi_owed_ = false;		// an event was taken and not yet acknowledged
	bool saw_request_ = false;	// since the last lateeoi: not spurious
	bool responses_pushed_ = false;	// pushed, not yet published
	bool flush_withdrawn_ = false;	// feature-flush-cache
	bool barrier_withdrawn_ = false;	// feature-barrier
	unsigned long squeeze_seen_ = 0;	// Backend's squeeze generation
	unsigned long next_stats_ = 0;
	IoCounters io_;			// written by the thread, read relaxed
	GrantCounters grants_;		// the mapper's counters, published by the thread

	// Shared with irq and completion contexts.
	IrqSpinLock done_lock_;
	Atomic<bool> events_pending_;
	// Changed under done_lock_; has_work() peeks at it without.
	Atomic<PendingRequest *> done_;
	bool retiring_ XBC_GUARDED_BY(done_lock_) = false;	// completions queue the work

#ifdef XBC_HOSTILE
	// Test-only, ring thread only (hostile.hpp).
	hostile::Attack attack_ = hostile::Attack::kNone;
	bool attack_armed_ = false;	// a request reached the cue sector
	bool attack_fired_ = false;
	bool attack_mute_ = false;	// the ring's indices are forged: answer nothing more
	uint32_t attack_swallow_ = 0;	// responses already forged ahead of their requests
	PendingRequest *attack_kept_ = nullptr;	// answered, grants still mapped
	unsigned long attack_kept_until_ = 0;	// jiffies
#endif
};

} // namespace xbc::blkback
