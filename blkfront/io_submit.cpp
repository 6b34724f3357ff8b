// SPDX-License-Identifier: GPL-2.0-only
// IoRing: turning a block request into ring requests (segments, grants,
// indirect pages) and pushing them; see io_ring.hpp.
#include "blkfront/io_ring.hpp"

#include "kapi/gnttab.h"
#include "kapi/log.h"
#include "blkfront/frontend.hpp"
#include "xbc/invariant.hpp"
#include "blkfront/io_ring_detail.hpp"

namespace xbc::blkfront {

using detail::kNoId;
using detail::kPoolRefillPages;
using detail::kSectorBytes;
using detail::op_byte;

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

// In-tree blkif_queue_rw_req: out of grant refs, the queue stops and the
// ring's free callback restarts it once enough refs are back. The queue is
// stopped under the lock before the callback is armed; the kick takes the
// lock, so it always finds stopped_queue_ set: no lost wakeup.
int IoRing::wait_for_refs(unsigned int hwq, uint32_t refs_needed) noexcept
{
	const int rc = busy(hwq);
	refs_back_.arm(refs_back, this, static_cast<uint16_t>(min(refs_needed, 0xffffu)));
	return rc;
}

void IoRing::refs_back(void *ctx) noexcept
{
	kapi_work_queue(static_cast<IoRing *>(ctx)->kick_work_);
}

void IoRing::kick_trampoline(void *ctx) noexcept
{
	static_cast<IoRing *>(ctx)->kick();
}

void IoRing::kick() noexcept
{
	uint32_t want = 0;
	{
		IrqSpinGuard g(lock_);
		if (refill_wanted_ && !pool_.is_null())
			want = min(pool_->room(), kPoolRefillPages);
		refill_wanted_ = false;
	}
	// Allocated without the lock (may sleep); whatever a pool replaced
	// meanwhile cannot take is freed below.
	GrantPool::PageList pages;
	if (want)
		(void)GrantPool::alloc_pages(Gfp::kNoIo, want, pages);
	{
		IrqSpinGuard g(lock_);
		if (!pool_.is_null())
			pool_->adopt(pages);
		restart_queue_locked();
	}
	GrantPool::free_pages(pages);
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
		if (granted.code() == -err::kNoSpc)
			return wait_for_refs(hwq, nr + (indirect ? blkif::indirect_pages_for(nr) : 0));
		if (granted.code() == -err::kNoMem) {
			// The pool ran dry (reclaimed under pressure): refill it in
			// process context; blk-mq retries this one meanwhile.
			refill_wanted_ = true;
			kapi_work_queue(kick_work_);
		}
		return -err::kAgain;
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
			auto p = pool_->get();
			if (p.is_error()) {
				st = p.status();
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
			const int rc = kapi_gnttab_grant_page(domid, seg.rq_page, s.is_write, &ref);
			if (rc < 0) {
				st = Status::from_kapi(rc);
				break;
			}
			seg.gref = ref;
		}
	}

	uint32_t pages_done = 0;
	if (st.is_ok() && s.nr_segs > kMaxDirectSegments) {
		const uint32_t pages = blkif::indirect_pages_for(s.nr_segs);
		for (; pages_done < pages; pages_done++) {
			auto p = pool_->get();
			if (p.is_error()) {
				st = p.status();
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

} // namespace xbc::blkfront
