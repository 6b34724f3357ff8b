// SPDX-License-Identifier: GPL-2.0-only
// BackendRing: pending requests, bio completion, responses, and the
// test-only attack hooks (see backend_ring.hpp).
#include "backend_ring.hpp"

#include "kapi/block.h"
#include "kapi/log.h"
#include "xbc/invariant.hpp"
#include "xbc/jiffies.hpp"

#include "backend.hpp"

namespace xbc::blkback {

namespace {

using blkif::Op;
using blkif::RspStatus;

} // namespace

// --- pending requests -----------------------------------------------------

PendingRequest *BackendRing::take_free() noexcept
{
	PendingRequest *p = free_;
	if (!p)
		return nullptr;
	free_ = p->next;
	p->next = nullptr;
	nr_free_--;
	return p;
}

void BackendRing::put_free(PendingRequest *p) noexcept
{
	p->next = free_;
	free_ = p;
	nr_free_++;
}

// Bio completion: irq or softirq context. Only records and queues.
void BackendRing::on_bio_done(void *ctx, int error) noexcept
{
	auto *p = static_cast<PendingRequest *>(ctx);
	if (error) {
		const bool flush = p->op == Op::kFlushDiskCache || p->op == Op::kWriteBarrier;
		if (flush && error == -err::kOpNotSupp) {
			p->flush_unsupported.store(true);
			p->status.store(int16_t(RspStatus::kEopnotsupp));
		} else {
			p->status.store(int16_t(RspStatus::kError));
		}
	}
	if (p->pending.sub(1) == 0)
		p->ring->complete_one(p);
}

void BackendRing::complete_one(PendingRequest *p) noexcept
{
	IrqSpinGuard g(done_lock_);
	p->next = done_.load_relaxed();
	done_.store(p);
	// Wake under the lock: once the thread (or the work item) can take
	// `p` off the list, a drain may finish and the ring (and wq_) be
	// freed, so nothing here may touch the ring after the unlock.
	kapi_waitq_wake(wq_);
	if (retiring_)
		kapi_work_queue(retire_work_);
}

// Ring thread: every request whose bios are all done releases its grants
// (persistent ones become idle, transient ones are unmapped in a batch)
// and is answered.
void BackendRing::retire_completed() noexcept
{
	PendingRequest *list;
	{
		IrqSpinGuard g(done_lock_);
		list = done_.load_relaxed();
		done_.store(nullptr);
	}
	// The unmaps of requests back from on_unmapped finished before they
	// were listed: their pages go back to the pool now.
	mapper_->reap_unmaps();

	// Read data goes back to the grants in as few copy calls as the
	// completed requests allow.
	if (!copier_.is_null()) {
		for (PendingRequest *p = list; p; p = p->next) {
			if (copies_back(p))
				copier_->queue_copy_out(p->copied);
		}
		copier_->flush_copies();
	}
#ifdef XBC_HOSTILE
	hostile_release_kept(false);
#endif
	while (list) {
		PendingRequest *p = list;
		list = p->next;
		if (!p->unmapped) {
#ifdef XBC_HOSTILE
			if (hostile_keep(p))
				continue;
#endif
			const bool released = release_pages(p);
			if (p->flush_unsupported.load()) {
				// As in-tree: withdraw only the feature that failed.
				const bool barrier = p->op == Op::kWriteBarrier;
				bool &withdrawn = barrier ? barrier_withdrawn_ : flush_withdrawn_;
				if (!withdrawn) {
					withdrawn = true;
					owner_.withdraw_flush_feature(barrier);
				}
			}
			// Not while the frontend's grants are still mapped: the
			// answer comes when on_unmapped brings it back.
			if (!released)
				continue;
		}
		p->unmapped = false;
		respond(p->id, p->op, RspStatus(p->status.load()));
		put_free(p);
	}
	publish_responses();
}

// Barrier and drain: wait until every request taken from the ring has
// been answered.
bool BackendRing::wait_for_in_flight(bool stoppable) noexcept
{
	const unsigned long second = jiffies_from_ms(1000);
	const kapi_wait_cond_fn cond = stoppable ? &BackendRing::has_done_or_stop
						 : &BackendRing::has_done;
	unsigned waited = 0;
	while (in_flight() > 0) {
		if (stoppable && kapi_thread_should_stop())
			return false;
		if (!kapi_waitq_wait_timeout(wq_, cond, this, second)) {
			// A bio that never completes is the device's bug, not
			// ours; say so now and then rather than hang silently.
			if (++waited % 10 == 0)
				kapi_log(KAPI_LOG_WARNING, "ring %u: still waiting for %u requests\n",
					 index_, in_flight());
		}
		retire_completed();
	}
	return true;
}

// --- responses -------------------------------------------------------------

void BackendRing::respond(blkif::RequestId id, Op op, RspStatus status) noexcept
{
	blkif::Response rsp;
	rsp.id = id;
	rsp.operation = op;
	rsp.status = status;
#ifdef XBC_HOSTILE
	if (hostile_respond(&rsp))
		return;
#endif
	// Every consumed request is answered exactly once, so a slot is
	// always free; a failure here is our bug.
	const Status st = ring_.push_response(rsp);
	if (!XBC_CHECK(st.is_ok()))
		return;
	responses_pushed_ = true;
}

void BackendRing::publish_responses() noexcept
{
	if (!responses_pushed_)
		return;
	responses_pushed_ = false;
	if (ring_.publish_responses())
		kapi_evtchn_notify(irq_);
}

#ifdef XBC_HOSTILE
// --- test-only attacks (hostile.hpp) ----------------------------------------

void BackendRing::hostile_see(const blkif::Request &req) noexcept
{
	if (hostile::on_cue(attack_) && req.sector.raw() >= hostile::kCueSector)
		attack_armed_ = true;
}

bool BackendRing::hostile_keep(PendingRequest *p) noexcept
{
	if (attack_ != hostile::Attack::kKeepGrant || !attack_armed_ || attack_fired_ ||
	    p->op != Op::kRead)
		return false;
	attack_fired_ = true;
	kapi_log(KAPI_LOG_NOTICE, "hostile: %s ring %u: keep-grant: answering id %llu, keeping its %u grants\n",
		 kapi_xenbus_nodename(owner_.xenbus()), index_,
		 static_cast<unsigned long long>(p->id.raw()), p->grants.count());
	respond(p->id, p->op, RspStatus(p->status.load()));
	attack_kept_ = p;
	attack_kept_until_ = kapi_jiffies() + jiffies_from_ms(hostile::kKeepGrantMs);
	return true;
}

void BackendRing::hostile_release_kept(bool now) noexcept
{
	PendingRequest *p = attack_kept_;
	if (!p || (!now && jiffies_before(kapi_jiffies(), attack_kept_until_)))
		return;
	attack_kept_ = nullptr;
	for (uint32_t i = 0; i < p->grants.count(); i++)
		copy_bytes(kapi_page_address(p->grants.page(i)), hostile::kLatePattern,
			   sizeof(hostile::kLatePattern));
	kapi_log(KAPI_LOG_NOTICE, "hostile: %s ring %u: keep-grant: wrote into %u answered pages, unmapping\n",
		 kapi_xenbus_nodename(owner_.xenbus()), index_, p->grants.count());
	p->grants.release();
	put_free(p);
}

bool BackendRing::hostile_respond(blkif::Response *rsp) noexcept
{
	using hostile::Attack;
	if (attack_mute_)
		return true;
	if (attack_swallow_ > 0) {
		// Its slot already holds a forged response.
		--attack_swallow_;
		return true;
	}
	if (!attack_armed_ || attack_fired_)
		return false;
	attack_fired_ = true;
	kapi_log(KAPI_LOG_NOTICE, "hostile: %s ring %u: %s on the response to id %llu\n",
		 kapi_xenbus_nodename(owner_.xenbus()), index_, hostile::attack_name(attack_),
		 static_cast<unsigned long long>(rsp->id.raw()));
	switch (attack_) {
	case Attack::kBadId:
		rsp->id = blkif::RequestId(rsp->id.raw() | (uint64_t(0xbad) << 40));
		return false;
	case Attack::kStaleId:
		rsp->id = blkif::RequestId(rsp->id.raw() ^ 1);
		return false;
	case Attack::kBadOp:
		rsp->operation = rsp->operation == Op::kRead ? Op::kWrite : Op::kRead;
		return false;
	case Attack::kBadStatus:
		rsp->status = blkif::RspStatus(5);
		return false;
	case Attack::kDupId:
		// The response, then the same again in the next slot; the next
		// request's own response is swallowed so the indices stay sane.
		if (ring_.push_response(*rsp).is_error())
			return true;
		ring_.forge_responses(1, rsp);
		attack_swallow_ = 1;
		responses_pushed_ = true;
		return true;
	case Attack::kRspProd:
		// The response, then rsp_prod a whole ring further; nothing is
		// answered on this ring afterwards.
		if (ring_.push_response(*rsp).is_error())
			return true;
		ring_.forge_responses(ring_.size(), nullptr);
		attack_mute_ = true;
		responses_pushed_ = true;
		return true;
	case Attack::kFlood:
		// Events with nothing behind them, paced so that dom0's own
		// watchdogs stay quiet; then the honest response.
		for (unsigned round = 0; round < 600; round++) {
			for (unsigned i = 0; i < 100; i++)
				kapi_evtchn_notify(irq_);
			kapi_msleep(5);
		}
		return false;
	default:
		return false;
	}
}
#endif

void BackendRing::fail_request(blkif::RequestId id, Op op) noexcept
{
	respond(id, op, RspStatus::kError);
	// As in-tree: back off a little, so a frontend that floods bad
	// requests costs it time rather than us CPU.
	kapi_msleep(1);
}

void BackendRing::halt(const char *why) noexcept
{
	broken_ = true;
	kapi_log_ratelimited(KAPI_LOG_WARNING,
			     "%s: ring %u: frontend %s; halting ring processing\n",
			     kapi_xenbus_nodename(owner_.xenbus()), index_, why);
}

} // namespace xbc::blkback
