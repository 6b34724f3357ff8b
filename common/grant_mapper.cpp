// SPDX-License-Identifier: GPL-2.0-only
// The backend's per-ring grant mapper: see xbc/grant_mapper.hpp. One file
// of about 450 lines: the persistent tree, the transient batch and the
// asynchronous unmap share one lock and one set of invariants.
#include "xbc/grant_mapper.hpp"

#include "kapi/log.h"
#include "kapi/sync.h"
#include "xbc/jiffies.hpp"

namespace xbc {

namespace {

// Purge and teardown unmaps in flight at once: a few, as their pages wait
// in the backlog and nothing waits for them but teardown.
constexpr uint32_t kBackgroundBatches = 2;

} // namespace

// One asynchronous unmap: a request's transient mappings, or a purge or
// teardown batch of persistent ones.
struct GrantMapper::UnmapBatch : Pinned {
	// Who finishes the batch: the starter if the completion ran before
	// start_batch() was done with it, else the completion (via completed_).
	enum State : uint8_t { kStarting, kStarted, kDone };

	UnmapBatch() noexcept = default;
	~UnmapBatch() { kapi_gnttab_unmap_async_destroy(k); }

	GrantMapper *mapper = nullptr;
	kapi_unmap_async *k = nullptr;
	UnmapBatch *next = nullptr;	// free or completed list
	bool background = false;	// purge/teardown: tells cfg_.on_background_unmap
	UnmapDoneFn done = nullptr;	// a request's callback
	void *ctx = nullptr;
	int err = 0;			// the call's result, for the log
	Atomic<State> state;
	uint32_t n = 0;
	struct kapi_grant_unmap ops[RequestMapping::kMaxSegments];
};

void RequestMapping::release() noexcept
{
	if (mapper_)
		mapper_->release(*this);
}

Result<Box<GrantMapper>> GrantMapper::create(Gfp gfp, DomId frontend,
					     const GrantMapperConfig &cfg) noexcept
{
	Box<PagePool> pool = XBC_TRY(PagePool::create(gfp, cfg.pool));
	auto lock = IrqSpinLock::create("xbc_unmap_done", gfp);
	if (lock.is_error())
		return lock.status();
	Box<GrantMapper> m = xbc::create<GrantMapper>(gfp, frontend, cfg, move(pool), lock.take());
	if (m.is_null())
		return Status::error(err::kNoMem);
	// Every batch up front: a completion never waits for memory.
	for (uint32_t i = 0; i < cfg.max_requests + kBackgroundBatches; i++) {
		Box<UnmapBatch> b = xbc::create<UnmapBatch>(gfp);
		if (b.is_null())
			return Status::error(err::kNoMem);
		b->k = kapi_gnttab_unmap_async_create(RequestMapping::kMaxSegments, to_kapi(gfp));
		if (!b->k)
			return Status::error(err::kNoMem);
		b->mapper = m.get();
		b->background = i >= cfg.max_requests;
		UnmapBatch *&list = b->background ? m->free_background_ : m->free_requests_;
		b->next = list;
		list = b.release();
	}
	return m;
}

GrantMapper::GrantMapper(DomId frontend, const GrantMapperConfig &cfg, Box<PagePool> &&pool,
			 IrqSpinLock &&completed_lock) noexcept
	: frontend_(frontend), cfg_(cfg), pool_(move(pool)), grants_(cfg.grants),
	  next_lru_(kapi_jiffies()), completed_(move(completed_lock), nullptr)
{
}

GrantMapper::~GrantMapper()
{
	// A request still mapped would point into freed memory afterwards.
	(void)XBC_CHECK(requests_ == 0);
	// So would an unmap completion still to come: the owner calls
	// teardown() until nothing is pending before it frees us.
	(void)XBC_CHECK(teardown().pending == 0);
	UnmapBatch *lists[] = {free_requests_, free_background_};
	for (UnmapBatch *list : lists) {
		while (UnmapBatch *b = list) {
			list = b->next;
			Box<UnmapBatch>::adopt(b).reset();
		}
	}
}

Status GrantMapper::map(const SegmentGrant *segs, uint32_t n, RequestMapping &out) noexcept
{
	if (!XBC_CHECK(!out.is_mapped()))
		return Status::error(err::kBusy);
	if (n > RequestMapping::kMaxSegments)
		return Status::error(err::kInval);
	out.mapper_ = this;
	out.count_ = 0;
	requests_++;
	nmap_ = 0;

	Status st = Status::ok();
	for (uint32_t i = 0; i < n && st.is_ok(); i++) {
		RequestMapping::Slot &s = out.slots_[i];
		s = {nullptr, nullptr, GrantHandle::invalid()};
		out.count_ = i + 1;
		if (cfg_.persistent) {
			PersistentGrant *g = nullptr;
			const auto found = grants_.acquire(segs[i].ref, &g);
			if (found == PersistentGrants::Lookup::kHit) {
				s.page = g->page();
				s.persistent = g;
				continue;
			}
			// kInUse: another segment holds the entry; as in-tree,
			// this one gets a transient mapping of its own below.
		}
		misses_++;
		struct kapi_grant_map &op = map_ops_[nmap_];
		zero_bytes(&op, sizeof(op));
		op.ref = segs[i].ref.raw();
		op.domid = frontend_.raw();
		op.readonly = segs[i].readonly && !cfg_.persistent;
		op.handle = GrantHandle::invalid().raw();
		map_slot_[nmap_++] = i;
		if (nmap_ == KAPI_GNTTAB_MAX_BATCH)
			st = flush_maps(out);
	}
	if (st.is_ok() && nmap_ > 0)
		st = flush_maps(out);
	if (st.is_error()) {
		nmap_ = 0;	// queued ops hold no page yet: nothing to undo
		release(out);
	}
	return st;
}

Status GrantMapper::flush_maps(RequestMapping &req) noexcept
{
	const uint32_t n = nmap_;
	nmap_ = 0;
	if (pool_->get(page_batch_, n).is_error())
		return Status::error(err::kNoMem);
	for (uint32_t j = 0; j < n; j++) {
		map_ops_[j].page = page_batch_[j];
		// An op the call never reached reads as failed, not as mapped.
		map_ops_[j].status = KAPI_GNTST_GENERAL_ERROR;
	}

	// A non-zero return can come after the hypercall mapped part of the
	// batch (XSA-365): only each op's own status says what is mapped and
	// must be tracked; the return value only fails the request.
	const int rc = kapi_gnttab_map(map_ops_, n);
	Status st = rc < 0 ? Status::error(err::kIo) : Status::ok();
	uint32_t unused_pages = 0;
	for (uint32_t j = 0; j < n; j++) {
		const struct kapi_grant_map &op = map_ops_[j];
		RequestMapping::Slot &s = req.slots_[map_slot_[j]];
		if (op.status != KAPI_GNTST_OKAY) {
			map_failures_++;
			kapi_log_ratelimited(KAPI_LOG_WARNING, "xbc: map of grant %u from dom%u failed: %d\n",
					     op.ref, op.domid, op.status);
			// j >= unused_pages, so this never overwrites a page to come.
			page_batch_[unused_pages++] = op.page;
			st = Status::error(err::kIo);
			continue;
		}
		maps_++;
		mapped_++;
		s.page = op.page;
		s.handle = GrantHandle(op.handle);
		if (!cfg_.persistent)
			continue;
		if (!grants_.has_room()) {
			grants_.note_overflow();
			overflow_maps_++;
			continue;
		}
		PersistentGrant *g = nullptr;
		const Status added = grants_.add(GrantRef(op.ref), op.page, s.handle, Gfp::kNoIo, &g);
		if (added.is_ok()) {
			s.persistent = g;
		} else {
			// The gref is in the tree already (repeated, or in use
			// by another request), or no memory for the entry:
			// serve it transiently; release() unmaps it.
			overflow_maps_++;
		}
	}
	if (unused_pages > 0)
		pool_->put(page_batch_, unused_pages);
	return st;
}

void GrantMapper::release(RequestMapping &req) noexcept
{
	for (uint32_t i = 0; i < req.count_; i++) {
		RequestMapping::Slot &s = req.slots_[i];
		if (s.persistent)
			grants_.release(*s.persistent);
		else if (s.page)
			queue_unmap(s.page, s.handle);
		s = {nullptr, nullptr, GrantHandle::invalid()};
	}
	flush_unmaps();
	req.count_ = 0;
	req.mapper_ = nullptr;
	requests_--;
}

void GrantMapper::queue_unmap(struct kapi_page *page, GrantHandle handle) noexcept
{
	struct kapi_grant_unmap &op = unmap_ops_[nunmap_++];
	op.page = page;
	op.handle = handle.raw();
	// Only the call reports success: an op it never ran (say, it
	// refused the batch) must count as failed, its page still mapped.
	op.status = KAPI_GNTST_GENERAL_ERROR;
	if (nunmap_ == KAPI_GNTTAB_MAX_BATCH)
		flush_unmaps();
}

void GrantMapper::flush_unmaps() noexcept
{
	const uint32_t n = nunmap_;
	nunmap_ = 0;
	if (n == 0)
		return;
	const int rc = kapi_gnttab_unmap(unmap_ops_, n);
	uint32_t done = 0;
	for (uint32_t j = 0; j < n; j++) {
		const struct kapi_grant_unmap &op = unmap_ops_[j];
		// Each op's own status counts, not the call's: an error may
		// come after part of the batch was unmapped, and those pages
		// are as good as any.
		if (op.status != KAPI_GNTST_OKAY) {
			// The page may still show the guest's frame: never
			// reuse or free it. Leak it, loudly.
			unmap_failures_++;
			failed_in_flush_++;
			kapi_log_ratelimited(KAPI_LOG_ERR, "xbc: unmap of handle %u failed (%d, call %d): page leaked\n",
					     op.handle, op.status, rc);
			continue;
		}
		unmaps_++;
		mapped_--;
		page_batch_[done++] = op.page;
	}
	unmapped_in_flush_ += done;
	if (done > 0)
		pool_->put(page_batch_, done);
}

bool GrantMapper::release_async(RequestMapping &req, UnmapDoneFn done, void *ctx) noexcept
{
	if (!req.is_mapped())
		return true;
	UnmapBatch *b = free_requests_;
	if (!XBC_CHECK(b != nullptr)) {
		// More requests than configured: our bug. Unmap at once.
		release(req);
		return true;
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i < req.count_; i++) {
		RequestMapping::Slot &s = req.slots_[i];
		if (s.persistent) {
			grants_.release(*s.persistent);
		} else if (s.page) {
			struct kapi_grant_unmap &op = b->ops[n++];
			op.page = s.page;
			op.handle = s.handle.raw();
			op.status = KAPI_GNTST_GENERAL_ERROR;
		}
		s = {nullptr, nullptr, GrantHandle::invalid()};
	}
	req.count_ = 0;
	req.mapper_ = nullptr;
	requests_--;
	if (n == 0)
		return true;
	free_requests_ = b->next;
	b->n = n;
	b->done = done;
	b->ctx = ctx;
	return start_batch(*b);
}

bool GrantMapper::start_batch(UnmapBatch &b) noexcept
{
	batches_in_flight_++;
	b.err = 0;
	b.state.store(UnmapBatch::kStarting);
	const int rc = kapi_gnttab_unmap_async(b.k, b.ops, b.n, &GrantMapper::on_batch_done, &b);
	if (rc < 0) {
		// Never (n <= capacity); every op still reads as failed, so
		// its page is leaked rather than reused while mapped.
		b.err = rc;
		finish_batch(b);
		return true;
	}
	// Done already (inside the call, or on another CPU meanwhile): the
	// completion left the batch to us.
	if (b.state.exchange(UnmapBatch::kStarted) == UnmapBatch::kDone) {
		finish_batch(b);
		return true;
	}
	return false;
}

// Any context but hard irq. After the callback the owner may free the
// batch, the mapper and the ring: nothing here touches them afterwards.
void GrantMapper::on_batch_done(void *ctx, int err) noexcept
{
	auto *b = static_cast<UnmapBatch *>(ctx);
	b->err = err;
	if (b->state.exchange(UnmapBatch::kDone) == UnmapBatch::kStarting)
		return;	// start_batch() finishes it
	GrantMapper *m = b->mapper;
	const UnmapDoneFn done = b->background ? m->cfg_.on_background_unmap : b->done;
	void *const done_ctx = b->background ? m->cfg_.background_ctx : b->ctx;
	m->completed_.with([b, done, done_ctx](UnmapBatch *&list) {
		b->next = list;
		list = b;
		// Under the lock: the owner reaps the batch, and only then
		// may free anything, after this returns.
		if (done)
			done(done_ctx);
	});
}

void GrantMapper::finish_batch(UnmapBatch &b) noexcept
{
	batches_in_flight_--;
	uint32_t done = 0;
	for (uint32_t j = 0; j < b.n; j++) {
		const struct kapi_grant_unmap &op = b.ops[j];
		// Each op's own status counts (see flush_unmaps).
		if (op.status != KAPI_GNTST_OKAY) {
			unmap_failures_++;
			failed_in_flush_++;
			kapi_log_ratelimited(KAPI_LOG_ERR, "xbc: unmap of handle %u failed (%d, call %d): page leaked\n",
					     op.handle, op.status, b.err);
			continue;
		}
		unmaps_++;
		mapped_--;
		page_batch_[done++] = op.page;
		if (done == KAPI_GNTTAB_MAX_BATCH) {
			pool_->put(page_batch_, done);
			unmapped_in_flush_ += done;
			done = 0;
		}
	}
	if (done > 0)
		pool_->put(page_batch_, done);
	unmapped_in_flush_ += done;
	b.n = 0;
	UnmapBatch *&list = b.background ? free_background_ : free_requests_;
	b.next = list;
	list = &b;
}

void GrantMapper::reap_unmaps() noexcept
{
	UnmapBatch *list = completed_.with([](UnmapBatch *&l) {
		UnmapBatch *taken = l;
		l = nullptr;
		return taken;
	});
	while (UnmapBatch *b = list) {
		list = b->next;
		finish_batch(*b);
	}
	pump_backlog();
}

void GrantMapper::pump_backlog() noexcept
{
	while (free_background_ && !backlog_.empty()) {
		UnmapBatch &b = *free_background_;
		free_background_ = b.next;
		b.n = 0;
		while (b.n < RequestMapping::kMaxSegments) {
			PersistentGrant *g = backlog_.pop_front();
			if (!g)
				break;
			struct kapi_grant_unmap &op = b.ops[b.n++];
			op.page = g->page();
			op.handle = g->handle().raw();
			op.status = KAPI_GNTST_GENERAL_ERROR;
			PersistentGrants::destroy(g);
		}
		(void)start_batch(b);
	}
}

uint32_t GrantMapper::purge() noexcept
{
	PersistentGrants::VictimList victims;
	const uint32_t n = grants_.select_victims(victims, kapi_jiffies());
	while (PersistentGrant *g = victims.pop_front())
		backlog_.push_back(*g);
	pump_backlog();
	return n;
}

void GrantMapper::periodic() noexcept
{
	reap_unmaps();
	const unsigned long now = kapi_jiffies();
	if (cfg_.persistent && jiffies_after(now, next_lru_)) {
		(void)purge();
		next_lru_ = now + jiffies_from_ms(kLruIntervalMs);
	}
	pool_->periodic();
}

GrantTeardownReport GrantMapper::teardown() noexcept
{
	// A teardown that left unmaps pending goes on counting.
	if (!teardown_pending_) {
		unmapped_in_flush_ = 0;
		failed_in_flush_ = 0;
	}
	PersistentGrants::VictimList victims;
	(void)grants_.take_all_idle(victims);
	while (PersistentGrant *g = victims.pop_front())
		backlog_.push_back(*g);
	reap_unmaps();
	const uint32_t pending = batches_in_flight_ + (backlog_.empty() ? 0 : 1);
	teardown_pending_ = pending > 0;
	// Pages still unmapping come back later; the pool is emptied again then.
	pool_->shrink(0);
	return {unmapped_in_flush_, failed_in_flush_, grants_.size(), mapped_, pending};
}

GrantMapperStats GrantMapper::stats() const noexcept
{
	const PersistentGrantsStats g = grants_.stats();
	return {g.hits, misses_, maps_, map_failures_, unmaps_, unmap_failures_, g.evictions,
		overflow_maps_, g.in_use_refused, mapped_, g.entries, g.in_use, requests_};
}

} // namespace xbc
