// SPDX-License-Identifier: GPL-2.0-only
// The blkfront data path for one ring; see io_ring.hpp for the contract.
// Construction, errors and teardown here; submission in io_submit.cpp,
// completion in io_complete.cpp.
#include "blkfront/io_ring.hpp"

#include "kapi/gnttab.h"
#include "kapi/log.h"
#include "blkfront/frontend.hpp"
#include "xbc/invariant.hpp"
#include "blkfront/io_ring_detail.hpp"

namespace xbc::blkfront {

using detail::kNoId;
using detail::kPoolPrefillPages;
using detail::op_byte;

// ---------------------------------------------------------------------------
// IoRing: construction and teardown

IoRing::IoRing(kapi_xenbus_device *dev, RingOwner *owner, const IoRingConfig &cfg,
	       IrqSpinLock lock) noexcept
	: dev_(dev), owner_(owner), cfg_(cfg), lock_(move(lock))
{
}

Result<Box<IoRing>> IoRing::create(kapi_xenbus_device *dev, RingOwner *owner,
				   const IoRingConfig &cfg) noexcept
{
	if (cfg.ring_page_order > kMaxRingPageOrder)
		return Status::error(err::kInval);
	// A resume builds rings while the disk is quiesced: reclaim must not
	// wait on I/O to it (swap on this vbd).
	auto lock = IrqSpinLock::create("xbc_blkfront_ring", Gfp::kNoIo);
	if (lock.is_error())
		return lock.status();
	Box<IoRing> r = xbc::create<IoRing>(Gfp::kNoIo, dev, owner, cfg, lock.take());
	if (r.is_null())
		return Status::error(err::kNoMem);
	const uint32_t pages = r->nr_ring_pages();
	// From here the destructor undoes whatever was set up.
	XBC_TRY_STATUS(Status::from_kapi(kapi_xenbus_setup_ring(dev, pages, &r->ring_area_, r->grefs_)));
	auto ring = blkif::NativeFrontRing::init(r->ring_area_, size_t(pages) * KAPI_PAGE_SIZE);
	if (ring.is_error())
		return ring.status();
	const uint32_t size = ring.value().size();
	r->size_ = size;
	// Sleeps (kvzalloc): made before the lock is taken.
	BoxArray<Shadow> shadow = BoxArray<Shadow>::create_large(size, Gfp::kNoIo);
	if (shadow.is_null())
		return Status::error(err::kNoMem);
	for (uint32_t i = 0; i < size; i++)
		shadow[i].next_free = i + 1 < size ? i + 1 : kNoId;
	{
		// No other context knows the ring yet; the lock states the rule.
		IrqSpinGuard g(r->lock_);
		r->ring_ = ring.take();
		r->shadow_ = move(shadow);
		r->free_head_ = 0;
	}

	r->kick_work_.reset(kapi_work_create(kick_trampoline, r.get(), KAPI_GFP_NOIO));
	if (!r->kick_work_)
		return Status::error(err::kNoMem);
	auto cb = GrantFreeCallback::create(Gfp::kNoIo);
	if (cb.is_error())
		return cb.status();
	r->refs_back_ = cb.take();

	XBC_TRY_STATUS(Status::from_kapi(kapi_evtchn_alloc_bind(dev, irq_trampoline, r.get(), "blkif",
								 &r->port_, r->irq_.out())));
	return r;
}

IoRing::~IoRing()
{
	// Cancelled before the work it queues, so nothing is queued after.
	refs_back_ = GrantFreeCallback();
	kick_work_.reset();
	// No handler may run while we take the ring apart.
	irq_.reset();
	fail_all(-err::kIo);
	Box<GrantPool> pool;
	{
		IrqSpinGuard g(lock_);
		leak_held_locked();
		pool = move(pool_);
	}
	pool.reset();	// ends every grant; defers what the backend still maps
	if (ring_area_)
		kapi_xenbus_teardown_ring(&ring_area_, nr_ring_pages(), grefs_);
}

Status IoRing::configure(const Features &f) noexcept
{
	const uint32_t size = size_;
	const uint32_t max_segs = f.max_segments();
	const uint32_t indirect_pages =
		f.max_indirect_segments ? blkif::indirect_pages_for(f.max_indirect_segments) : 0;

	// configure() is the only writer of segs_ and max_segs_ (the control
	// path, serialised by the frontend's mutex); a locked look is enough.
	const bool new_segs = [&] {
		IrqSpinGuard g(lock_);
		return max_segs != max_segs_ || segs_.is_null();
	}();
	BoxArray<SegSlot> segs;
	if (new_segs) {
		segs = BoxArray<SegSlot>::create_large(size_t(size) * max_segs, Gfp::kNoIo);
		if (segs.is_null())
			return Status::error(err::kNoMem);
	}
	// What the ring can hold in flight: every segment and indirect page of
	// every slot (in-tree preallocates exactly this; we grow to it).
	const uint32_t limit = size * ((f.bounce ? max_segs : 0) + indirect_pages);
	auto pool = GrantPool::create(Gfp::kNoIo, cfg_.backend, limit, f.persistent);
	if (pool.is_error())
		return pool.status();
	// The pages now, in process context: the I/O path never allocates one.
	// Less than one maximal request could never make progress.
	const uint32_t reserve = (f.bounce ? max_segs : 0) + indirect_pages;
	if (pool.value()->fill(Gfp::kNoIo, min(limit, max(reserve, kPoolPrefillPages))) < reserve)
		return Status::error(err::kNoMem);
	// Both are torn down on return, outside the lock: the old SegSlots are
	// a kvzalloc (vfree may sleep), the old pool ends grants.
	Box<GrantPool> old_pool;
	BoxArray<SegSlot> old_segs;

	const unsigned long flags = lock_.lock();
	if (in_flight_.load_relaxed() != 0 || held_.load_relaxed() != 0 || broken_.load_relaxed()) {
		// Reconfiguring under live requests would orphan their grants;
		// a held request still needs its SegSlots (its grant and page),
		// and a broken ring stays broken until it is destroyed.
		lock_.unlock(flags);
		return Status::error(err::kBusy);
	}
	if (!segs.is_null()) {
		old_segs = move(segs_);
		segs_ = move(segs);
		max_segs_ = max_segs;
	}
	bounce_ = f.bounce;
	persistent_ = f.persistent;
	old_pool = move(pool_);
	pool_ = pool.take();
	pool_reserve_ = reserve;
	refill_wanted_ = false;
	live_ = true;
	lock_.unlock(flags);
	return Status::ok();
}

// ---------------------------------------------------------------------------
// Error, teardown, suspend

void IoRing::break_ring(const char *why, uint64_t value) noexcept
{
	kapi_log_ratelimited(KAPI_LOG_ERR, "blkfront: %s: %s (%llu); ring %u disabled for further use\n",
			     owner_->name(), why, static_cast<unsigned long long>(value), cfg_.index);
	broken_.store_relaxed(true);
	live_ = false;
	owner_->ring_broken();
	fail_all_locked(-err::kIo);
	// Requests waiting in a queue we stopped must reach queue() to fail.
	restart_queue_locked();
}

void IoRing::fail_all_locked(int err_code) noexcept
{
	if (shadow_.is_null())
		return;
	for (uint32_t id = 0; id < shadow_.size(); id++)
		if (shadow_[id].in_flight)
			(void)finish_locked(id, err_code, false);	// held ones stay
}

void IoRing::fail_all(int err_code) noexcept
{
	const unsigned long flags = lock_.lock();
	live_ = false;
	fail_all_locked(err_code);
	lock_.unlock(flags);
}

void IoRing::requeue_all() noexcept
{
	const unsigned long flags = lock_.lock();
	live_ = false;
	for (uint32_t id = 0; !shadow_.is_null() && id < shadow_.size(); id++) {
		Shadow &s = shadow_[id];
		if (!s.in_flight)
			continue;
		if (release_grants(s, segs_of(id), false) == Release::kPageKept) {
			hold_locked(id);	// never reissued while mapped
			continue;
		}
		kapi_blk_request *rq = s.rq;
		// Plain reads and writes go back as bios, which the block layer
		// splits for whatever the next backend takes; flush, barrier
		// (FUA) and discard carry no bios to split and are requeued whole.
		const bool plain = s.data_op == op_byte(blkif::Op::kRead) ||
				   s.data_op == op_byte(blkif::Op::kWrite);
		free_id(id);
		in_flight_.sub_serialised(1);
		if (plain)
			kapi_blk_rq_detach_bios(owner_->disk(), rq);
		else
			kapi_blk_rq_requeue(rq);
	}
	lock_.unlock(flags);
}

void IoRing::purge() noexcept
{
	const unsigned long flags = lock_.lock();
	if (persistent_ && !pool_.is_null())
		pool_->revoke_idle();
	retry_held_locked();
	lock_.unlock(flags);
}

uint32_t IoRing::pool_spare() const noexcept
{
	IrqSpinGuard g(lock_);
	return pool_.is_null() ? 0 : pool_->spare(pool_reserve_);
}

uint32_t IoRing::reclaim_pool(uint32_t budget) noexcept
{
	IrqSpinGuard g(lock_);
	return pool_.is_null() ? 0 : pool_->reclaim(pool_reserve_, budget);
}

GrantPoolStats IoRing::pool_stats() const noexcept
{
	const unsigned long flags = lock_.lock();
	const GrantPoolStats s = pool_.is_null() ? GrantPoolStats{} : pool_->stats();
	lock_.unlock(flags);
	return s;
}

} // namespace xbc::blkfront
