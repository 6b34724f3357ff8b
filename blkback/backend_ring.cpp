// SPDX-License-Identifier: GPL-2.0-only
// xen-blkback's data path (see backend_ring.hpp for the flow and the
// concurrency contract): the ring's life and its thread here; completions
// and responses in ring_completion.cpp; requests in ring_requests.cpp.
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

Result<RequestPool> RequestPool::create(uint32_t nr_requests) noexcept
{
	RequestPool pool;
	pool.slots_ = BoxArray<PendingRequest *>::create(nr_requests, Gfp::kKernel);
	if (pool.slots_.is_null())
		return Status::error(err::kNoMem);
	for (uint32_t i = 0; i < nr_requests; i++) {
		// A failure leaves the rest null: reset() frees what was made.
		pool.slots_[i] = xbc::create<PendingRequest>(Gfp::kKernel).release();
		if (!pool.slots_[i])
			return Status::error(err::kNoMem);
	}
	return move(pool);
}

void RequestPool::reset() noexcept
{
	for (size_t i = 0; i < slots_.size(); i++)
		Box<PendingRequest>::adopt(slots_[i]).reset();
	slots_ = BoxArray<PendingRequest *>();
}

BackendRing::BackendRing(Backend &owner, const VbdParams &params, const FrontendRingKeys &keys,
			 IrqSpinLock done_lock, WaitQueue wq, Parts &&parts) noexcept
	: owner_(owner), settings_(params), index_(keys.index), persistent_(keys.persistent),
	  port_(keys.port), area_(move(parts.area)), ring_(parts.ring), wq_(move(wq)),
	  copier_(move(parts.copier)), scratch_(move(parts.scratch)), pool_(move(parts.pool)),
	  done_lock_(move(done_lock))
{
	for (uint32_t i = 0; i < pool_.size(); i++) {
		pool_[i]->ring = this;
		put_free(pool_[i]);
	}
	squeeze_seen_ = owner_.squeeze_generation();
	next_stats_ = kapi_jiffies() + jiffies_from_ms(kStatsIntervalMs);
#ifdef XBC_HOSTILE
	attack_ = hostile::attack_for(kapi_xenbus_nodename(owner_.xenbus()));
#endif
}

// Two steps, so that no ring is ever half-built: first everything that can
// exist without the ring (locks, the mapping, the pools), which a failure
// frees by itself; then the ring, complete with those; then bind(), the
// few things that name the ring as their callback context, each into an
// owning member, so a failure there is an ordinary destruction.
Result<Box<BackendRing>> BackendRing::create(Backend &owner, const VbdParams &params,
					     const FrontendRingKeys &keys) noexcept
{
	if (keys.nr_pages == 0 || keys.nr_pages > 16 || (keys.nr_pages & (keys.nr_pages - 1)) != 0)
		return Status::error(err::kInval);
	auto done_lock = IrqSpinLock::create("xbc_ring_done");
	if (done_lock.is_error())
		return done_lock.status();
	WaitQueue wq(kapi_waitq_create(KAPI_GFP_KERNEL));
	if (!wq)
		return Status::error(err::kNoMem);

	kapi_xenbus_device *dev = owner.xenbus();
	Parts parts;
	uint32_t refs[16];
	for (unsigned i = 0; i < keys.nr_pages; i++)
		refs[i] = keys.refs[i].raw();
	parts.area = XBC_TRY(MappedRing::map(dev, refs, keys.nr_pages));

	// Attach where the frontend's ring stands (a reconnect may find it
	// mid-way), and refuse one that already claims more requests than
	// it can hold.
	const auto *hdr = static_cast<const SringHeader *>(parts.area.area());
	const RingIdx rsp_prod(read_once(hdr->rsp_prod));
	const RingIdx req_prod(read_once(hdr->req_prod));
	const size_t bytes = size_t(keys.nr_pages) * KAPI_PAGE_SIZE;
	parts.ring = XBC_TRY(blkif::BlkifBackRing::attach(keys.abi, parts.area.area(), bytes, rsp_prod));
	if (rsp_prod.distance_to(req_prod) > parts.ring.size())
		return Status::error(err::kIo);

	// Grant copy replaces map + unmap only where every segment would be
	// a transient mapping; with persistent grants the mapper serves all.
	if (params.grant_copy && !keys.persistent)
		parts.copier = XBC_TRY(GrantCopier::create(DomId(kapi_xenbus_otherend_id(dev)),
							   parts.ring.size()));
	parts.scratch = xbc::create<RingScratch>(Gfp::kKernel);
	if (parts.scratch.is_null())
		return Status::error(err::kNoMem);
	parts.pool = XBC_TRY(RequestPool::create(parts.ring.size()));

	auto ring = xbc::create<BackendRing>(Gfp::kKernel, owner, params, keys, done_lock.take(),
					     move(wq), move(parts));
	if (ring.is_null())
		return Status::error(err::kNoMem);
	XBC_TRY_STATUS(ring->bind());
	return move(ring);
}

Status BackendRing::bind() noexcept
{
	kapi_xenbus_device *dev = owner_.xenbus();
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

	retire_work_.reset(kapi_work_create(&BackendRing::on_retire_work, this, KAPI_GFP_KERNEL));
	if (!retire_work_)
		return Status::error(err::kNoMem);

	// Last: from here on an event may reach on_irq, so everything it and
	// the thread's first pass touch must exist.
	return Status::from_kapi(kapi_evtchn_bind_interdomain(
		dev, port_.raw(), &BackendRing::on_irq, this, "blkif-backend", irq_.out()));
}

BackendRing::~BackendRing()
{
	// After retire(): waits for the work item's last run to return.
	retire_work_.reset();
	// Thread, in-flight requests, irq, copier, ring mapping, grants: in
	// that order (see shutdown()).
	shutdown();
	// Then, as before the owners held them: the requests first (each may
	// still hold the copier's pages or the mapper's mappings), the
	// scratch, the copier (already gone unless bind() failed), the mapper.
	pool_.reset();
	scratch_.reset();
	copier_.reset();
	mapper_.reset();
	// wq_ and done_lock_ go with the members, after the thread stopped.
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
	retire_completed();
	if (in_flight() == 0) {
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
	// Nothing answers on the ring any more: unmap it before the grants'
	// teardown, as before.
	area_.reset();
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
	// bind() failed before the mapper: no request was ever taken (and
	// retire_completed needs the mapper).
	if (mapper_.is_null())
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

} // namespace xbc::blkback
