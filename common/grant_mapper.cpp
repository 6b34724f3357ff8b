// SPDX-License-Identifier: GPL-2.0-only
// The backend's per-ring grant mapper: see xbc/grant_mapper.hpp.
#include "xbc/grant_mapper.hpp"

#include "kapi/log.h"
#include "kapi/sync.h"
#include "xbc/jiffies.hpp"

namespace xbc {

void RequestMapping::release() noexcept
{
	if (mapper_)
		mapper_->release(*this);
}

Result<Box<GrantMapper>> GrantMapper::create(Gfp gfp, DomId frontend,
					     const GrantMapperConfig &cfg) noexcept
{
	Box<PagePool> pool = XBC_TRY(PagePool::create(gfp, cfg.pool));
	Box<GrantMapper> m = xbc::create<GrantMapper>(gfp, frontend, cfg, move(pool));
	if (m.is_null())
		return Status::error(err::kNoMem);
	return m;
}

GrantMapper::GrantMapper(DomId frontend, const GrantMapperConfig &cfg, Box<PagePool> &&pool) noexcept
	: frontend_(frontend), cfg_(cfg), pool_(move(pool)), grants_(cfg.grants),
	  next_lru_(kapi_jiffies())
{
}

GrantMapper::~GrantMapper()
{
	// A request still mapped would point into freed memory afterwards.
	(void)XBC_CHECK(requests_ == 0);
	(void)teardown();
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

uint32_t GrantMapper::unmap_victims(PersistentGrants::VictimList &victims) noexcept
{
	uint32_t n = 0;
	while (PersistentGrant *g = victims.pop_front()) {
		queue_unmap(g->page(), g->handle());
		PersistentGrants::destroy(g);
		n++;
	}
	flush_unmaps();
	return n;
}

uint32_t GrantMapper::purge() noexcept
{
	PersistentGrants::VictimList victims;
	const uint32_t n = grants_.select_victims(victims, kapi_jiffies());
	unmap_victims(victims);
	return n;
}

void GrantMapper::periodic() noexcept
{
	const unsigned long now = kapi_jiffies();
	if (cfg_.persistent && jiffies_after(now, next_lru_)) {
		(void)purge();
		next_lru_ = now + jiffies_from_ms(kLruIntervalMs);
	}
	pool_->periodic();
}

GrantTeardownReport GrantMapper::teardown() noexcept
{
	unmapped_in_flush_ = 0;
	failed_in_flush_ = 0;
	PersistentGrants::VictimList victims;
	(void)grants_.take_all_idle(victims);
	unmap_victims(victims);
	pool_->shrink(0);
	return {unmapped_in_flush_, failed_in_flush_, grants_.size(), mapped_};
}

GrantMapperStats GrantMapper::stats() const noexcept
{
	const PersistentGrantsStats g = grants_.stats();
	return {g.hits, misses_, maps_, map_failures_, unmaps_, unmap_failures_, g.evictions,
		overflow_maps_, g.in_use_refused, mapped_, g.entries, g.in_use, requests_};
}

} // namespace xbc
