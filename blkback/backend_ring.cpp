// SPDX-License-Identifier: GPL-2.0-only
// xen-blkback's data path (see backend_ring.hpp for the flow and the
// concurrency contract).
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

constexpr int kEOpNotSupp = err::kOpNotSupp;
// Pages a bio may carry before we start another (BIO_MAX_VECS).
constexpr unsigned kBioMaxVecs = 256;

} // namespace

BackendRing::BackendRing(Backend &owner, const Settings &settings, const RingSetup &setup,
			 IrqSpinLock done_lock, WaitQueue wq) noexcept
	: owner_(owner), settings_(settings), index_(setup.index),
	  persistent_(setup.persistent), port_(setup.port), wq_(move(wq)), done_lock_(move(done_lock))
{
}

Result<Box<BackendRing>> BackendRing::create(Backend &owner, const Settings &settings,
					     const RingSetup &setup) noexcept
{
	if (setup.nr_pages == 0 || setup.nr_pages > 16 ||
	    (setup.nr_pages & (setup.nr_pages - 1)) != 0)
		return Status::error(err::kInval);
	auto done_lock = IrqSpinLock::create("xbc_ring_done");
	if (done_lock.is_error())
		return done_lock.status();
	WaitQueue wq(kapi_waitq_create(KAPI_GFP_KERNEL));
	if (!wq)
		return Status::error(err::kNoMem);
	auto ring = xbc::create<BackendRing>(Gfp::kKernel, owner, settings, setup, done_lock.take(), move(wq));
	if (ring.is_null())
		return Status::error(err::kNoMem);
	XBC_TRY_STATUS(ring->init(setup));
	return move(ring);
}

// Everything that can fail, in the order the destructor undoes it.
Status BackendRing::init(const RingSetup &setup) noexcept
{
	kapi_xenbus_device *dev = owner_.xenbus();
	uint32_t refs[16];
	for (unsigned i = 0; i < setup.nr_pages; i++)
		refs[i] = setup.refs[i].raw();
	XBC_TRY_STATUS(Status::from_kapi(kapi_xenbus_map_ring(dev, refs, setup.nr_pages, &ring_area_)));

	// Attach where the frontend's ring stands (a reconnect may find it
	// mid-way), and refuse one that already claims more requests than
	// it can hold.
	const auto *hdr = static_cast<const SringHeader *>(ring_area_);
	const RingIdx rsp_prod(read_once(hdr->rsp_prod));
	const RingIdx req_prod(read_once(hdr->req_prod));
	const size_t bytes = size_t(setup.nr_pages) * KAPI_PAGE_SIZE;
	ring_ = XBC_TRY(blkif::BlkifBackRing::attach(setup.abi, ring_area_, bytes, rsp_prod));
#ifdef XBC_HOSTILE
	attack_ = hostile::attack_for(kapi_xenbus_nodename(dev));
#endif
	if (rsp_prod.distance_to(req_prod) > ring_.size())
		return Status::error(err::kIo);

	GrantMapperConfig mc;
	mc.persistent = persistent_;
	mc.max_requests = ring_.size();
	mc.on_background_unmap = &BackendRing::on_background_unmap;
	mc.background_ctx = this;
	mc.grants.max_grants = settings_.max_persistent_grants;
	mc.grants.unused_timeout_s = settings_.pgrant_timeout_s;
	mc.pool.max_buffer_pages = settings_.max_buffer_pages;
	mc.pool.squeeze_duration_ms = settings_.buffer_squeeze_ms;
	mapper_ = XBC_TRY(GrantMapper::create(Gfp::kKernel, DomId(kapi_xenbus_otherend_id(dev)), mc));
	squeeze_seen_ = owner_.squeeze_generation();
	// Grant copy replaces map + unmap only where every segment would be
	// a transient mapping; with persistent grants the mapper serves all.
	if (settings_.grant_copy && !persistent_)
		copier_ = XBC_TRY(GrantCopier::create(DomId(kapi_xenbus_otherend_id(dev)), ring_.size()));

	scratch_ = xbc::create<RingScratch>(Gfp::kKernel);
	if (scratch_.is_null())
		return Status::error(err::kNoMem);

	// One pending request per ring slot: the frontend can never have more
	// outstanding, so the pool never runs dry for a well-behaved peer.
	// Each is its own allocation (a RequestMapping is a few KiB).
	pool_ = static_cast<PendingRequest **>(
		kapi_zalloc(sizeof(PendingRequest *) * ring_.size(), KAPI_GFP_KERNEL));
	if (!pool_)
		return Status::error(err::kNoMem);
	for (uint32_t i = 0; i < ring_.size(); i++) {
		auto p = xbc::create<PendingRequest>(Gfp::kKernel);
		if (p.is_null())
			return Status::error(err::kNoMem);
		p->ring = this;
		pool_[i] = p.release();
		nr_pending_ = i + 1;
		put_free(pool_[i]);
	}

	retire_work_.reset(kapi_work_create(&BackendRing::on_retire_work, this, KAPI_GFP_KERNEL));
	if (!retire_work_)
		return Status::error(err::kNoMem);

	XBC_TRY_STATUS(Status::from_kapi(kapi_evtchn_bind_interdomain(
		dev, setup.port.raw(), &BackendRing::on_irq, this, "blkif-backend", irq_.out())));
	next_stats_ = kapi_jiffies() + jiffies_from_ms(kStatsIntervalMs);
	return Status::ok();
}

BackendRing::~BackendRing()
{
	// After retire(): waits for the work item's last run to return.
	retire_work_.reset();
	shutdown();
	if (pool_) {
		for (uint32_t i = 0; i < nr_pending_; i++)
			Box<PendingRequest>::adopt(pool_[i]).reset();
		kapi_free(pool_);
	}
	scratch_.reset();
	copier_.reset();
	mapper_.reset();
	// wq_ goes with the members, after the thread stopped (stop()).
}

void BackendRing::shutdown() noexcept
{
	if (shut_down_)
		return;
	shut_down_ = true;
	stop();
	drain();
	finish();
	// Not from xenwatch (retire() hands pending unmaps to the work item):
	// the destructor must not free what an unmap completion touches.
	for (unsigned waited_ms = 0; !torn_down(); waited_ms += 10) {
		if (waited_ms > 0 && waited_ms % 10000 == 0)
			kapi_log(KAPI_LOG_WARNING, "ring %u: still waiting for grant unmaps\n", index_);
		kapi_msleep(10);
	}
}

bool BackendRing::retire() noexcept
{
	stop();
	if (pool_)
		retire_completed();
	if (!pool_ || in_flight() == 0) {
		finish();
		if (torn_down()) {
			shut_down_ = true;
			return true;
		}
	}
	hand_to_work();
	return false;
}

void BackendRing::hand_to_work() noexcept
{
	// From here the work item owns the ring's state, as the thread did;
	// a completion already queued, or a teardown already unmapping (its
	// completion may have come before retiring_), starts it.
	IrqSpinGuard g(done_lock_);
	retiring_ = true;
	if (done_.load_relaxed() || finished_)
		kapi_work_queue(retire_work_);
}

// Process context, after retire(): answer what completed, and after the
// last completion and the last unmap shut down and tell the Backend, once
// (the item may be queued again by completions it has already answered).
void BackendRing::on_retire_work(void *ctx) noexcept
{
	auto *r = static_cast<BackendRing *>(ctx);
	if (r->shut_down_)
		return;
	r->retire_completed();
	if (r->in_flight() > 0)
		return;
	r->finish();
	if (!r->torn_down())
		return;
	r->shut_down_ = true;
	r->owner_.ring_retired(*r);
}

void BackendRing::on_unmapped(void *ctx) noexcept
{
	auto *p = static_cast<PendingRequest *>(ctx);
	p->unmapped = true;
	p->ring->complete_one(p);
}

void BackendRing::on_background_unmap(void *ctx) noexcept
{
	auto *r = static_cast<BackendRing *>(ctx);
	// The thread reaps at its next pass; a retiring ring's work item
	// goes on with the teardown.
	IrqSpinGuard g(r->done_lock_);
	kapi_waitq_wake(r->wq_);
	if (r->retiring_)
		kapi_work_queue(r->retire_work_);
}

void BackendRing::finish() noexcept
{
	if (finished_)
		return;
	finished_ = true;
	// No more events: a running handler finishes before this returns.
	irq_.reset();
	// Every request is answered, so every page is back: free the pool.
	if (!copier_.is_null()) {
		const GrantCopyStats &c = copier_->stats();
		kapi_log(KAPI_LOG_INFO,
			 "ring %u: grant copy: requests %llu fallbacks %llu ops %llu failed %llu calls %llu\n",
			 index_, (unsigned long long)c.requests, (unsigned long long)c.fallbacks,
			 (unsigned long long)c.ops, (unsigned long long)c.failures,
			 (unsigned long long)c.calls);
		copier_.reset();
	}
	// Nothing answers on the ring any more.
	if (ring_area_)
		kapi_xenbus_unmap_ring(owner_.xenbus(), ring_area_);
	ring_area_ = nullptr;
}

bool BackendRing::torn_down() noexcept
{
	if (torn_down_)
		return true;
	// Every request released its grants; now the idle persistent ones
	// go, and the page pool, as their unmaps complete.
	if (!mapper_.is_null()) {
		const GrantTeardownReport r = mapper_->teardown();
		publish_grant_stats();
		if (r.pending)
			return false;
		if (r.still_mapped || r.busy || r.failed)
			kapi_log(KAPI_LOG_ERR,
				 "ring %u: teardown left %u mapped (%u busy, %u unmaps failed)\n",
				 index_, r.still_mapped, r.busy, r.failed);
	}
	torn_down_ = true;
	return true;
}

Status BackendRing::start(const char *name, Device &device) noexcept
{
	device_ = &device;
	if (thread_)
		return Status::ok();
	return Status::from_kapi(kapi_thread_run(&BackendRing::thread_main, this, name, thread_.out()));
}

void BackendRing::stop() noexcept
{
	if (!thread_)
		return;
	// Stopped here rather than by thread_'s owner: the body's result
	// is logged.
	const int rc = kapi_thread_stop(thread_.release());
#ifdef XBC_HOSTILE
	hostile_release_kept(true);
#endif
	if (rc < 0)
		kapi_log(KAPI_LOG_WARNING, "ring %u: thread ended with %d\n", index_, rc);
	if (settings_.log_stats)
		print_stats();
}

void BackendRing::drain() noexcept
{
	if (!pool_)
		return;
	(void)wait_for_in_flight(/*stoppable=*/false);
	retire_completed();
}

// --- the thread -----------------------------------------------------------

void BackendRing::on_irq(void *ctx) noexcept
{
	auto *r = static_cast<BackendRing *>(ctx);
	r->events_pending_.store(true);
	kapi_waitq_wake(r->wq_);
}

bool BackendRing::has_work(void *ctx) noexcept
{
	auto *r = static_cast<BackendRing *>(ctx);
	return r->events_pending_.load() || r->done_.load() != nullptr ||
	       kapi_thread_should_stop();
}

bool BackendRing::has_done(void *ctx) noexcept
{
	auto *r = static_cast<BackendRing *>(ctx);
	return r->done_.load() != nullptr;
}

bool BackendRing::has_done_or_stop(void *ctx) noexcept
{
	return has_done(ctx) || kapi_thread_should_stop();
}

int BackendRing::thread_main(void *ctx) noexcept
{
	auto *r = static_cast<BackendRing *>(ctx);
	const unsigned long interval = jiffies_from_ms(kLruIntervalMs);
	while (!kapi_thread_should_stop()) {
		// A busy frontend keeps the wait below from ever sleeping, so
		// the thread must offer to freeze here or block suspend.
		if (kapi_try_to_freeze())
			continue;
		// A timeout still runs the housekeeping (purge, pool shrink).
		(void)kapi_waitq_wait_timeout(r->wq_, &BackendRing::has_work, r, interval);
		if (kapi_thread_should_stop())
			break;
		r->run_once();
	}
	return 0;
}

void BackendRing::run_once() noexcept
{
	if (!XBC_CHECK(device_ != nullptr))
		return;
	// Every ring looks: ring 0 may be idle while another serves I/O.
	Sector now;
	if (device_->take_resize(&now))
		owner_.announce_resize(*device_);
	if (events_pending_.exchange(false))
		eoi_owed_ = true;

	retire_completed();
	Consume c = Consume::kDrained;
	if (!broken_) {
		c = consume_requests();
		if (c == Consume::kYield)
			events_pending_.store(true);
	}
	publish_responses();

	// Acknowledge the event only once the ring is drained, and say
	// whether it brought any work (XSA-332/391). A halted ring is never
	// acknowledged again: its events stay masked.
	if (eoi_owed_ && !broken_ && c == Consume::kDrained) {
		kapi_evtchn_lateeoi(irq_, !saw_request_);
		eoi_owed_ = false;
		saw_request_ = false;
	}
	housekeeping();
}

void BackendRing::housekeeping() noexcept
{
	// Memory pressure: the pool stays empty for buffer_squeeze_duration_ms.
	const unsigned long gen = owner_.squeeze_generation();
	if (gen != squeeze_seen_) {
		squeeze_seen_ = gen;
		mapper_->squeeze();
	}
	// The LRU purge when due, then the pool shrink to its limit.
	mapper_->periodic();
	publish_grant_stats();
	if (settings_.log_stats && jiffies_after(kapi_jiffies(), next_stats_))
		print_stats();
}

// The mapper's counters are the ring thread's; sysfs reads this copy.
void BackendRing::publish_grant_stats() noexcept
{
	const GrantMapperStats m = mapper_->stats();
	GrantStats g = {};
	g.hits = m.hits;
	g.misses = m.misses;
	g.maps = m.maps;
	g.unmaps = m.unmaps;
	g.evictions = m.evictions;
	g.mapped = m.mapped;
	// Without persistent grants every map is transient.
	g.transient_maps = persistent_ ? m.overflow_maps : m.maps;
	publish(grants_, g);
}

void BackendRing::print_stats() noexcept
{
	const IoStats io = io_stats();
	const GrantStats g = grant_stats();
	kapi_log(KAPI_LOG_INFO,
		 "ring %u: oo %3llu  |  rd %4llu  |  wr %4llu  |  f %4llu  |  ds %4llu | pg: %4llu/%4u\n",
		 index_, (unsigned long long)io.oo_req, (unsigned long long)io.rd_req,
		 (unsigned long long)io.wr_req, (unsigned long long)io.f_req,
		 (unsigned long long)io.ds_req, (unsigned long long)g.mapped,
		 settings_.max_persistent_grants);
	next_stats_ = kapi_jiffies() + jiffies_from_ms(kStatsIntervalMs);
}

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
		if (flush && error == -kEOpNotSupp) {
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

// --- requests --------------------------------------------------------------

BackendRing::Consume BackendRing::consume_requests() noexcept
{
	// Yield after a ring's worth, so one busy frontend cannot keep the
	// thread from its housekeeping (and the scheduler gets a say).
	uint32_t budget = ring_.size();
	for (;;) {
		auto pending = ring_.pending_requests();
		if (pending.is_error()) {
			halt("provided bogus ring requests (producer overflow)");
			return Consume::kDrained;
		}
		uint32_t n = pending.value();
		if (n == 0) {
			auto more = ring_.final_check_for_requests();
			if (more.is_error()) {
				halt("provided bogus ring requests (producer overflow)");
				return Consume::kDrained;
			}
			if (!more.value())
				return Consume::kDrained;
			continue;
		}
		for (; n > 0; n--) {
			// A stop (disconnect) must not wait behind a ring full
			// of whole-disk discards or barriers: what is left on
			// the ring stays unread.
			if (kapi_thread_should_stop())
				return Consume::kYield;
			if (nr_free_ == 0) {
				io_.oo_req.add_serialised(1);
				return Consume::kNoSlot;
			}
			blkif::Limits limits;
			limits.capacity = device_->capacity();
			limits.max_indirect_segments = kBackendIndirectSegments;
			blkif::Decoded d;
			if (!ring_.pop_request(limits, &d))
				break;
			saw_request_ = true;
			dispatch(d);
			if (--budget == 0)
				return Consume::kYield;
			kapi_cond_resched();
		}
	}
}

void BackendRing::dispatch(const blkif::Decoded &d) noexcept
{
	if (d.ok() && d.request.data_op == Op::kDiscard) {
		dispatch_discard(d.request);
		return;
	}
	if (d.ok()) {
		dispatch_rw(d.request);
		return;
	}
	// Counted like in-tree, which counts before it validates.
	switch (d.response_op) {
	case Op::kRead:
		io_.rd_req.add_serialised(1);
		break;
	case Op::kWrite:
		io_.wr_req.add_serialised(1);
		break;
	case Op::kFlushDiskCache:
	case Op::kWriteBarrier:
		io_.f_req.add_serialised(1);
		break;
	default:
		break;
	}
	if (d.error == blkif::DecodeError::kUnknownOp) {
		respond(d.id, d.response_op, RspStatus::kEopnotsupp);
		return;
	}
	fail_request(d.id, d.response_op);
}

// Discard runs synchronously in the ring thread, as in-tree.
void BackendRing::dispatch_discard(const blkif::Request &req) noexcept
{
	if (device_->readonly()) {
		respond(req.id, Op::kDiscard, RspStatus::kError);
		return;
	}
	io_.ds_req.add_serialised(1);
	const bool secure = req.discard_secure && device_->discard_secure();
	const int rc = kapi_bdev_discard(device_->bdev(), req.sector.raw(), req.nr_sectors.raw(), secure,
					 KAPI_GFP_KERNEL);
	respond(req.id, Op::kDiscard,
		rc == -kEOpNotSupp ? RspStatus::kEopnotsupp : rc ? RspStatus::kError : RspStatus::kOkay);
}

// The segments of an indirect request: its indirect pages go through the
// grant mapper like data pages (with persistent grants mapped read-write
// and kept; without, mapped read-only and unmapped right after; with grant
// copy, copied into the copier's own pages), and each segment is copied
// out once.
bool BackendRing::read_indirect_segments(const blkif::Request &req, Sector *total) noexcept
{
	const unsigned nr_pages = req.indirect.nr_pages;
	RingScratch &sc = *scratch_;
	const void *addrs[blkif::kMaxIndirectPages];
	if (!copier_.is_null()) {
		// Grant copy: the descriptor pages too, into the copier's own.
		if (copier_->copy_indirect(req.indirect.grefs, nr_pages, addrs).is_error())
			return false;
	} else {
		SegmentGrant grants[blkif::kMaxIndirectPages];
		for (unsigned i = 0; i < nr_pages; i++)
			grants[i] = SegmentGrant{req.indirect.grefs[i], /*readonly=*/true};
		if (mapper_->map(grants, nr_pages, sc.indirect).is_error())
			return false;
		for (unsigned i = 0; i < nr_pages; i++)
			addrs[i] = kapi_page_address(sc.indirect.page(i));
	}
	// Each segment is copied out of the shared page once, then checked.
	auto r = blkif::decode_indirect_segments(req, addrs, nr_pages, sc.segs, kBackendIndirectSegments,
						 device_->capacity());
	sc.indirect.release();
	if (r.is_error())
		return false;
	*total = r.value();
	return true;
}

void BackendRing::dispatch_rw(const blkif::Request &req) noexcept
{
	const Op op = req.data_op;
	const bool write = op != Op::kRead;
#ifdef XBC_HOSTILE
	hostile_see(req);
#endif
	switch (op) {
	case Op::kRead:
		io_.rd_req.add_serialised(1);
		break;
	case Op::kWrite:
		io_.wr_req.add_serialised(1);
		break;
	default:
		io_.f_req.add_serialised(1);
		break;
	}
	if (write && device_->readonly()) {
		fail_request(req.id, op);
		return;
	}

	uint32_t nr_segs;
	Sector total;
	if (req.is_indirect()) {
		if (!read_indirect_segments(req, &total)) {
			fail_request(req.id, op);
			return;
		}
		nr_segs = req.indirect.nr_segments;
	} else {
		nr_segs = req.nr_segments;
		for (uint32_t i = 0; i < nr_segs; i++)
			scratch_->segs[i] = req.segments[i];
		total = req.nr_sectors;
	}

	// Requests must respect the device's logical block size.
	const uint64_t mask = device_->sector_align_mask();
	if (mask) {
		bool misaligned = (req.sector.raw() & mask) != 0;
		for (uint32_t i = 0; i < nr_segs; i++)
			misaligned |= (scratch_->segs[i].nr_sectors() & mask) != 0;
		if (misaligned) {
			fail_request(req.id, op);
			return;
		}
	}

	// A barrier waits for everything before it, then flushes; a stop
	// (disconnect) does not wait behind it.
	if (op == Op::kWriteBarrier && !wait_for_in_flight(/*stoppable=*/true)) {
		fail_request(req.id, op);
		return;
	}

	PendingRequest *p = take_free();
	if (!XBC_CHECK(p != nullptr)) {
		fail_request(req.id, op);
		return;
	}
	p->id = req.id;
	p->op = op;
	p->status.store_relaxed(int16_t(RspStatus::kOkay));
	p->flush_unsupported.store_relaxed(false);

	if (!attach_pages(p, write, nr_segs)) {
		put_free(p);
		fail_request(req.id, op);
		return;
	}
	submit_bios(p, req, nr_segs);
	if (op == Op::kRead)
		io_.rd_sect.add_serialised(total.raw());
	else
		io_.wr_sect.add_serialised(total.raw());
}

bool BackendRing::attach_pages(PendingRequest *p, bool write, uint32_t nr_segs) noexcept
{
	if (!copier_.is_null() && nr_segs > 0 && copier_->take(scratch_->segs, nr_segs, p->copied)) {
		// A copy the frontend made fail is its request's error.
		if (write && copier_->copy_in(p->copied).is_error()) {
			p->copied.release();
			return false;
		}
		return true;
	}
	// For a write we only read the frontend's pages.
	SegmentGrant *grants = scratch_->grants;
	for (uint32_t i = 0; i < nr_segs; i++)
		grants[i] = SegmentGrant{scratch_->segs[i].gref, /*readonly=*/write};
	return mapper_->map(grants, nr_segs, p->grants).is_ok();
}

bool BackendRing::copies_back(const PendingRequest *p) noexcept
{
	// Only a read that succeeded has data for the frontend.
	return p->copied.is_active() && p->op == Op::kRead &&
	       p->status.load() == int16_t(RspStatus::kOkay);
}

bool BackendRing::release_pages(PendingRequest *p) noexcept
{
	if (p->copied.is_active()) {
		if (p->copied.copy_failed())
			p->status.store(int16_t(RspStatus::kError));
		p->copied.release();
	}
	return mapper_->release_async(p->grants, &BackendRing::on_unmapped, p);
}

void BackendRing::submit_bios(PendingRequest *p, const blkif::Request &req, uint32_t nr_segs) noexcept
{
	const Op op = p->op;
	unsigned flags = 0;
	enum kapi_bio_op bio_op = KAPI_BIO_WRITE;
	switch (op) {
	case Op::kRead:
		bio_op = KAPI_BIO_READ;
		break;
	case Op::kWrite:
		flags = KAPI_BIO_FLAG_SYNC;
		break;
	case Op::kFlushDiskCache:
		flags = KAPI_BIO_FLAG_PREFLUSH;
		break;
	default: // barrier: everything before it is done; flush, then FUA
		flags = KAPI_BIO_FLAG_PREFLUSH | KAPI_BIO_FLAG_FUA;
		break;
	}

	// One reference while building, so an early completion cannot answer
	// the request before its last bio is out.
	p->pending.store(1);
	uint64_t sector = req.sector.raw();
	kapi_bio *bio = nullptr;
	bool failed = false;
	for (uint32_t i = 0; i < nr_segs && !failed; i++) {
		const blkif::Segment &s = scratch_->segs[i];
		kapi_page *page = p->page(i);
		while (!bio || !kapi_bio_add_page(bio, page, s.length_bytes(), s.offset_bytes())) {
			if (bio) {
				p->pending.add(1);
				kapi_bio_submit(bio);
			}
			const unsigned vecs = nr_segs - i < kBioMaxVecs ? nr_segs - i : kBioMaxVecs;
			bio = kapi_bio_alloc(device_->bdev(), bio_op, flags, sector, vecs,
					     &BackendRing::on_bio_done, p);
			if (!bio) {
				p->status.store(int16_t(RspStatus::kError));
				failed = true;
				break;
			}
		}
		sector += s.nr_sectors();
	}
	// A flush or barrier without data still needs its (empty) flush bio.
	if (!failed && !bio && nr_segs == 0) {
		bio = kapi_bio_alloc(device_->bdev(), KAPI_BIO_FLUSH, flags, 0, 0,
				     &BackendRing::on_bio_done, p);
		if (!bio)
			p->status.store(int16_t(RspStatus::kError));
	}
	if (bio) {
		if (failed) {
			kapi_bio_put(bio);
		} else {
			p->pending.add(1);
			kapi_bio_submit(bio);
		}
	}
	if (p->pending.sub(1) == 0)
		complete_one(p);
}

// --- counters --------------------------------------------------------------

IoStats BackendRing::io_stats() const noexcept
{
	return snapshot(io_);
}

GrantStats BackendRing::grant_stats() const noexcept
{
	return snapshot(grants_);
}

} // namespace xbc::blkback
