// SPDX-License-Identifier: GPL-2.0-only
// The blkfront data path for one ring; see io_ring.hpp for the contract.
#include "blkfront/io_ring.hpp"

#include "kapi/gnttab.h"
#include "kapi/log.h"
#include "blkfront/frontend.hpp"
#include "xbc/invariant.hpp"

namespace xbc::blkfront {

namespace {

constexpr uint32_t kNoId = 0xffffffffu;
constexpr uint32_t kSectorBytes = 512;

uint8_t op_byte(blkif::Op op) noexcept
{
	return static_cast<uint8_t>(op);
}

} // namespace

// ---------------------------------------------------------------------------
// IoRing: construction and teardown

IoRing::IoRing(kapi_xenbus_device *dev, Frontend *owner, const RingConfig &cfg,
	       IrqSpinLock lock) noexcept
	: dev_(dev), owner_(owner), cfg_(cfg), lock_(move(lock))
{
}

Result<Box<IoRing>> IoRing::create(kapi_xenbus_device *dev, Frontend *owner,
				   const RingConfig &cfg) noexcept
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

	XBC_TRY_STATUS(Status::from_kapi(kapi_evtchn_alloc_bind(dev, irq_trampoline, r.get(), "blkif",
								 &r->port_, &r->irq_)));
	return r;
}

IoRing::~IoRing()
{
	// No handler may run while we take the ring apart.
	kapi_evtchn_unbind(irq_);
	irq_ = nullptr;
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
	live_ = true;
	lock_.unlock(flags);
	return Status::ok();
}

// ---------------------------------------------------------------------------
// Submission

namespace {

struct Gather {
	SegSlot *segs;
	uint32_t max;
	uint32_t n;
};

// Coalesces the request's pieces into page segments: blk-mq counts
// physically contiguous pieces of one page as one segment, so must we.
int gather_segment(void *ctx, kapi_page *page, unsigned int offset, unsigned int len) noexcept
{
	Gather *g = static_cast<Gather *>(ctx);
	if (len == 0 || offset % kSectorBytes || len % kSectorBytes || offset + len > KAPI_PAGE_SIZE ||
	    offset + len < offset)
		return -err::kInval;
	if (g->n > 0) {
		SegSlot &last = g->segs[g->n - 1];
		if (last.rq_page == page && uint32_t(last.offset) + last.len == offset) {
			last.len = static_cast<uint16_t>(last.len + len);
			return 0;
		}
	}
	if (g->n == g->max)
		return -err::kTooBig;
	SegSlot &s = g->segs[g->n++];
	s.pool = nullptr;
	s.rq_page = page;
	s.gref = GrantRef::invalid().raw();
	s.offset = static_cast<uint16_t>(offset);
	s.len = static_cast<uint16_t>(len);
	return 0;
}

blkif::Segment wire_segment(uint32_t gref, const SegSlot &s) noexcept
{
	blkif::Segment w;
	w.gref = GrantRef(gref);
	w.first_sect = static_cast<uint8_t>(s.offset / kSectorBytes);
	w.last_sect = static_cast<uint8_t>((s.offset + s.len) / kSectorBytes - 1);
	return w;
}

} // namespace

int IoRing::queue(kapi_blk_request *rq, unsigned int hwq) noexcept
{
	const unsigned long flags = lock_.lock();
	const int rc = queue_locked(rq, hwq);
	lock_.unlock(flags);
	return rc;
}

// Stops the hardware queue under the ring lock, so the completion that
// frees space (which takes the lock) always sees stopped_queue_.
int IoRing::busy(unsigned int hwq) noexcept
{
	stopped_queue_ = true;
	kapi_blkmq_stop_hw_queue(owner_->disk(), hwq);
	return -err::kBusy;
}

// Restarts the queue we stopped (ring full, not live), unless the control
// path stopped every queue for good (Closing).
void IoRing::restart_queue_locked() noexcept
{
	if (!stopped_queue_ || owner_->queues_stopped())
		return;
	stopped_queue_ = false;
	kapi_blkmq_start_stopped_queues(owner_->disk());
}

void IoRing::wait_for_irq_section() noexcept
{
	const unsigned long flags = lock_.lock();
	lock_.unlock(flags);
}

int IoRing::queue_locked(kapi_blk_request *rq, unsigned int hwq) noexcept
{
	if (broken_.load_relaxed() || owner_->is_broken())
		return -err::kIo;
	if (!live_) {
		// Not connected yet, or suspended: the queue restarts at connect.
		return busy(hwq);
	}

	kapi_blk_rq_info info;
	kapi_blk_rq_get_info(rq, &info);

	blkif::Op wire_op;
	bool is_write = false;
	bool has_data = false;
	bool secure = false;
	switch (info.op) {
	case KAPI_BLK_OP_READ:
		wire_op = blkif::Op::kRead;
		has_data = true;
		break;
	case KAPI_BLK_OP_WRITE:
		wire_op = blkif::Op::kWrite;
		is_write = true;
		has_data = true;
		if (info.flags & KAPI_BLK_RQ_FUA) {
			// A barrier is a superset of FUA; flush-only backends get
			// a preflushed write (what in-tree sends).
			if (owner_->fua_enabled())
				wire_op = blkif::Op::kWriteBarrier;
			else if (owner_->flush_enabled())
				wire_op = blkif::Op::kFlushDiskCache;
		}
		break;
	case KAPI_BLK_OP_FLUSH:
		if (!owner_->flush_enabled()) {
			// The backend cannot flush: its writes are as stable as
			// they get (what 6.12 in-tree does).
			kapi_blk_rq_complete(rq, 0);
			return 0;
		}
		wire_op = owner_->fua_enabled() ? blkif::Op::kWriteBarrier : blkif::Op::kFlushDiskCache;
		is_write = true;
		break;
	case KAPI_BLK_OP_DISCARD:
	case KAPI_BLK_OP_SECURE_ERASE:
		secure = info.op == KAPI_BLK_OP_SECURE_ERASE;
		if (!owner_->discard_enabled() || (secure && !owner_->secure_discard_enabled()))
			return -err::kOpNotSupp;
		wire_op = blkif::Op::kDiscard;
		is_write = true;
		break;
	default:
		return -err::kIo;
	}

	if (ring_.full())
		return busy(hwq);
	const uint32_t id = free_head_;
	if (!XBC_CHECK(id < ring_.size()))
		return -err::kIo;
	Shadow &s = shadow_[id];
	SegSlot *segs = segs_of(id);

	uint32_t nr = 0;
	if (has_data) {
		Gather g{segs, max_segs_, 0};
		const int rc = kapi_blk_rq_for_each_segment(rq, gather_segment, &g);
		if (rc < 0 || g.n == 0) {
			kapi_log_ratelimited(KAPI_LOG_ERR,
					     "blkfront: %s: request of %u segments does not fit (%d)\n",
					     owner_->name(), info.nr_phys_segments, rc);
			return -err::kIo;
		}
		nr = g.n;
	}

	s.rq = rq;
	s.is_write = is_write;
	s.nr_segs = static_cast<uint16_t>(nr);
	s.nr_indirect = 0;
	const bool indirect = nr > kMaxDirectSegments;
	s.wire_op = op_byte(indirect ? blkif::Op::kIndirect : wire_op);
	s.data_op = op_byte(wire_op);

	const Status granted = grant_segments(s, segs, bounce_);
	if (granted.is_error()) {
		s.rq = nullptr;
		return granted.code();
	}

	const blkif::RequestId rid(id);
	blkif::Request req;
	if (wire_op == blkif::Op::kDiscard) {
		req = blkif::make_discard(rid, Sector(info.sector), Sector(info.nr_sectors), secure);
	} else if (indirect) {
		GrantRef pages[blkif::kMaxIndirectPages];
		for (uint32_t i = 0; i < s.nr_indirect; i++)
			pages[i] = s.indirect[i]->ref();
		req = blkif::make_indirect(wire_op, rid, cfg_.handle, Sector(info.sector),
					   static_cast<uint16_t>(nr), pages);
	} else {
		blkif::Segment wire[kMaxDirectSegments];
		for (uint32_t i = 0; i < nr; i++)
			wire[i] = wire_segment(segs[i].pool ? segs[i].pool->ref().raw() : segs[i].gref, segs[i]);
		req = blkif::make_rw(wire_op, rid, cfg_.handle, Sector(info.sector), wire,
				     static_cast<uint8_t>(nr));
	}

	const Status pushed = blkif::push_native_request(ring_, req);
	if (pushed.is_error()) {
		force_release_grants(s, segs);
		s.rq = nullptr;
		return -err::kIo;
	}
	free_head_ = s.next_free;
	s.next_free = kNoId;
	s.in_flight = true;
	in_flight_.add_serialised(1);
	if (ring_.publish_requests())
		kapi_evtchn_notify(irq_);
	return 0;
}

Status IoRing::grant_segments(Shadow &s, SegSlot *segs, bool bounce) noexcept
{
	const uint16_t domid = cfg_.backend.raw();
	uint32_t done = 0;
	Status st = Status::ok();

	for (; done < s.nr_segs; done++) {
		SegSlot &seg = segs[done];
		if (bounce) {
			auto p = pool_->get(Gfp::kAtomic);
			if (p.is_error()) {
				st = Status::error(err::kAgain);
				break;
			}
			seg.pool = p.value();
			if (s.is_write) {
				const auto *src = static_cast<const uint8_t *>(kapi_page_address(seg.rq_page));
				auto *dst = static_cast<uint8_t *>(kapi_page_address(seg.pool->page()));
				copy_bytes(dst + seg.offset, src + seg.offset, seg.len);
			}
		} else {
			uint32_t ref;
			// The backend only reads what we write: grant read-only.
			if (kapi_gnttab_grant_page(domid, seg.rq_page, s.is_write, &ref) < 0) {
				st = Status::error(err::kAgain);
				break;
			}
			seg.gref = ref;
		}
	}

	uint32_t pages_done = 0;
	if (st.is_ok() && s.nr_segs > kMaxDirectSegments) {
		const uint32_t pages = blkif::indirect_pages_for(s.nr_segs);
		for (; pages_done < pages; pages_done++) {
			auto p = pool_->get(Gfp::kAtomic);
			if (p.is_error()) {
				st = Status::error(err::kAgain);
				break;
			}
			s.indirect[pages_done] = p.value();
		}
		s.nr_indirect = static_cast<uint8_t>(pages_done);
		if (st.is_ok()) {
			for (uint32_t i = 0; i < s.nr_segs; i++) {
				const uint32_t gref = segs[i].pool ? segs[i].pool->ref().raw() : segs[i].gref;
				void *page = kapi_page_address(
					s.indirect[i / blkif::kSegsPerIndirectPage]->page());
				const Status enc = blkif::encode_indirect_segment(
					page, i % blkif::kSegsPerIndirectPage, wire_segment(gref, segs[i]));
				if (enc.is_error()) {
					st = enc;
					break;
				}
			}
		}
	}
	if (st.is_ok())
		return st;

	// Undo what this request took; the backend never saw the request.
	const uint16_t nr = s.nr_segs;
	s.nr_segs = static_cast<uint16_t>(done);
	force_release_grants(s, segs);
	s.nr_segs = nr;
	return st;
}

// ---------------------------------------------------------------------------
// Completion

IoRing::Release IoRing::release_grants(Shadow &s, SegSlot *segs, bool copy_out) noexcept
{
	Release r = Release::kClean;
	for (uint32_t i = 0; i < s.nr_segs; i++) {
		SegSlot &seg = segs[i];
		if (seg.pool) {
			if (copy_out) {
				const auto *src = static_cast<const uint8_t *>(
					kapi_page_address(seg.pool->page()));
				auto *dst = static_cast<uint8_t *>(kapi_page_address(seg.rq_page));
				copy_bytes(dst + seg.offset, src + seg.offset, seg.len);
			}
			// Not persistent and still mapped: the pool defers it.
			if (pool_->put(*seg.pool).is_error() && r == Release::kClean)
				r = Release::kPoolKept;
			seg.pool = nullptr;
		} else if (GrantRef(seg.gref).is_valid()) {
			// Still mapped: the grant stays, and so does the request.
			if (kapi_gnttab_try_end_access(seg.gref))
				seg.gref = GrantRef::invalid().raw();
			else
				r = Release::kPageKept;
		}
	}
	for (uint32_t i = 0; i < s.nr_indirect; i++) {
		if (pool_->put(*s.indirect[i]).is_error() && r == Release::kClean)
			r = Release::kPoolKept;
		s.indirect[i] = nullptr;
	}
	s.nr_indirect = 0;
	return r;
}

void IoRing::force_release_grants(Shadow &s, SegSlot *segs) noexcept
{
	// Only for requests the backend never saw: every grant ends.
	const Release r = release_grants(s, segs, false);
	XBC_CHECK(r != Release::kPageKept);
}

void IoRing::free_id(uint32_t id) noexcept
{
	Shadow &s = shadow_[id];
	s.rq = nullptr;
	s.in_flight = false;
	s.held = false;
	s.next_free = free_head_;
	free_head_ = id;
}

void IoRing::hold_locked(uint32_t id) noexcept
{
	Shadow &s = shadow_[id];
	s.in_flight = false;	// a response for it now breaks the ring
	s.held = true;
	in_flight_.sub_serialised(1);
	held_.add_serialised(1);
	kapi_log_ratelimited(KAPI_LOG_ERR,
			     "blkfront: %s: backend has not unmapped a grant of request %u; holding it\n",
			     owner_->name(), id);
	broken_.store_relaxed(true);
	live_ = false;
	owner_->ring_broken();
	// remove() waits in del_gendisk for every request, and this device
	// has left the purge list: nothing would ever fail a request held now.
	// The fence pairs with remove()'s: either it sees the device broken
	// (and fails the disk instead), or we see removing.
	full_fence();
	if (owner_->is_removing())
		leak_one_locked(id);
}

bool IoRing::finish_locked(uint32_t id, int err_code, bool copy_out) noexcept
{
	Shadow &s = shadow_[id];
	const Release r = release_grants(s, segs_of(id), copy_out);
	if (r == Release::kPageKept) {
		hold_locked(id);
		return false;
	}
	kapi_blk_request *rq = s.rq;
	free_id(id);
	in_flight_.sub_serialised(1);
	completed_.add_serialised(1);
	kapi_blk_rq_complete(rq, r == Release::kClean ? err_code : -err::kIo);
	return r == Release::kClean;
}

// Fails each held request whose grants the backend has let go of by now.
void IoRing::retry_held_locked() noexcept
{
	for (uint32_t id = 0; held_.load_relaxed() && id < shadow_.size(); id++) {
		Shadow &s = shadow_[id];
		if (!s.held)
			continue;
		if (release_grants(s, segs_of(id), false) == Release::kPageKept)
			continue;
		kapi_blk_request *rq = s.rq;
		free_id(id);
		held_.sub_serialised(1);
		completed_.add_serialised(1);
		kapi_blk_rq_complete(rq, -err::kIo);
	}
}

// The last resort at teardown: the disk cannot go while a request is
// outstanding, so each held page is pinned and handed to the deferred
// end-access (freed only after the backend unmaps), and the request fails.
void IoRing::leak_held_locked() noexcept
{
	if (shadow_.is_null())
		return;
	retry_held_locked();
	for (uint32_t id = 0; held_.load_relaxed() && id < shadow_.size(); id++)
		if (shadow_[id].held)
			leak_one_locked(id);
}

void IoRing::leak_one_locked(uint32_t id) noexcept
{
	Shadow &s = shadow_[id];
	SegSlot *segs = segs_of(id);
	for (uint32_t i = 0; i < s.nr_segs; i++) {
		if (!GrantRef(segs[i].gref).is_valid())
			continue;
		kapi_blk_page_get(segs[i].rq_page);
		kapi_gnttab_end_access_deferred(segs[i].gref, segs[i].rq_page);
		segs[i].gref = GrantRef::invalid().raw();
	}
	kapi_log(KAPI_LOG_ERR,
		 "blkfront: %s: leaking the pages of request %u: the backend still maps them\n",
		 owner_->name(), id);
	kapi_blk_request *rq = s.rq;
	free_id(id);
	held_.sub_serialised(1);
	completed_.add_serialised(1);
	kapi_blk_rq_complete(rq, -err::kIo);
}

void IoRing::irq_trampoline(void *ctx) noexcept
{
	static_cast<IoRing *>(ctx)->handle_irq();
}

void IoRing::handle_irq() noexcept
{
	const unsigned long flags = lock_.lock();
	if (!live_ || broken_.load_relaxed()) {
		lock_.unlock(flags);
		kapi_evtchn_lateeoi(irq_, true);
		return;
	}

	bool spurious = true;
	for (;;) {
		auto pending = ring_.pending_responses();
		if (pending.is_error()) {
			break_ring("illegal number of responses", ring_.rsp_cons().raw());
			lock_.unlock(flags);
			return;	// no EOI: a broken ring raises no more events
		}
		blkif::Response rsp;
		while (blkif::pop_native_response(ring_, &rsp)) {
			spurious = false;
			const uint64_t id = rsp.id.raw();
			if (id >= ring_.size()) {
				break_ring("response has incorrect id", id);
				lock_.unlock(flags);
				return;
			}
			Shadow &s = shadow_[id];
			if (!s.in_flight) {
				break_ring("response references no pending request", id);
				lock_.unlock(flags);
				return;
			}
			if (op_byte(rsp.operation) != s.data_op) {
				break_ring("response has wrong operation", op_byte(rsp.operation));
				lock_.unlock(flags);
				return;
			}

			const int16_t status = static_cast<int16_t>(rsp.status);
			int rq_err = 0;
			if (status == KAPI_BLKIF_RSP_EOPNOTSUPP) {
				rq_err = -err::kOpNotSupp;
			} else if (status != KAPI_BLKIF_RSP_OKAY) {
				if (status != KAPI_BLKIF_RSP_ERROR)
					kapi_log_ratelimited(KAPI_LOG_WARNING,
							     "blkfront: %s: unknown response status %d\n",
							     owner_->name(), status);
				rq_err = -err::kIo;
			}

			const auto op = static_cast<blkif::Op>(s.data_op);
			if (op == blkif::Op::kDiscard && rq_err == -err::kOpNotSupp) {
				kapi_log_ratelimited(KAPI_LOG_WARNING, "blkfront: %s: discard op failed\n",
						     owner_->name());
				owner_->disable_discard();
			} else if (op == blkif::Op::kFlushDiskCache || op == blkif::Op::kWriteBarrier) {
				if (rq_err == -err::kIo && s.nr_segs == 0)
					rq_err = -err::kOpNotSupp;	// an empty flush failed
				if (rq_err) {
					kapi_log_ratelimited(KAPI_LOG_WARNING, "blkfront: %s: %s op failed\n",
							     owner_->name(),
							     op == blkif::Op::kFlushDiskCache ? "flush"
											      : "barrier");
					// Only an empty flush may pass as done: a
					// barrier carrying data wrote nothing (in-tree
					// reports success there, losing the write).
					if (rq_err == -err::kOpNotSupp)
						rq_err = s.nr_segs == 0 ? 0 : -err::kIo;
					owner_->disable_flush();
				}
			} else if (rq_err == -err::kOpNotSupp) {
				// A read or write the backend refuses is a failed
				// I/O: dm-multipath fails a path over on IOERR only.
				rq_err = -err::kIo;
			}

			const bool copy_out = rq_err == 0 && op == blkif::Op::kRead;
			if (!finish_locked(uint32_t(id), rq_err, copy_out)) {
				break_ring("backend has not unmapped a grant", id);
				lock_.unlock(flags);
				return;
			}
		}
		auto more = ring_.final_check_for_responses();
		if (more.is_error()) {
			break_ring("illegal number of responses", ring_.rsp_cons().raw());
			lock_.unlock(flags);
			return;
		}
		if (!more.value())
			break;
	}

	if (!ring_.full())
		restart_queue_locked();
	lock_.unlock(flags);
	kapi_evtchn_lateeoi(irq_, spurious);
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

GrantPoolStats IoRing::pool_stats() const noexcept
{
	const unsigned long flags = lock_.lock();
	const GrantPoolStats s = pool_.is_null() ? GrantPoolStats{} : pool_->stats();
	lock_.unlock(flags);
	return s;
}

} // namespace xbc::blkfront
