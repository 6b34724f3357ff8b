// SPDX-License-Identifier: GPL-2.0-only
// IoRing: reading responses, completing requests, giving grants back;
// see io_ring.hpp.
#include "blkfront/io_ring.hpp"

#include "kapi/gnttab.h"
#include "kapi/log.h"
#include "blkfront/frontend.hpp"
#include "xbc/invariant.hpp"
#include "blkfront/io_ring_detail.hpp"

namespace xbc::blkfront {

using detail::op_byte;

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
	owner_->held_changed(1);
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
		fail_held_locked(id);
	}
}

// A held request whose pages are ours again (or pinned for the deferred
// end-access): it fails, never succeeds (its data may be half written).
void IoRing::fail_held_locked(uint32_t id) noexcept
{
	kapi_blk_request *rq = shadow_[id].rq;
	free_id(id);
	held_.sub_serialised(1);
	owner_->held_changed(-1);
	completed_.add_serialised(1);
	kapi_blk_rq_complete(rq, -err::kIo);
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
	fail_held_locked(id);
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

} // namespace xbc::blkfront
