// SPDX-License-Identifier: GPL-2.0-only
// The frontend's pool of granted pages: see xbc/grant_pool.hpp.
#include "xbc/grant_pool.hpp"

#include "kapi/gnttab.h"
#include "kapi/log.h"
#include "kapi/sync.h"
#include "xbc/jiffies.hpp"

namespace xbc {

Result<Box<GrantPool>> GrantPool::create(Gfp gfp, DomId backend, uint32_t limit, bool persistent) noexcept
{
	Box<GrantPool> pool = xbc::create<GrantPool>(gfp, backend, limit, persistent);
	if (pool.is_null())
		return Status::error(err::kNoMem);
	return pool;
}

GrantPool::GrantPool(DomId backend, uint32_t limit, bool persistent) noexcept
	: backend_(backend), limit_(limit), persistent_(persistent),
	  next_revoke_(kapi_jiffies() + jiffies_from_seconds(kGrantRevokeIntervalSeconds))
{
}

GrantPool::~GrantPool()
{
	(void)teardown();
}

Status GrantPool::grant(PoolGrant &g) noexcept
{
	uint32_t ref = 0;
	const int rc = kapi_gnttab_grant_page(backend_.raw(), g.page_, false, &ref);
	if (rc < 0)
		return Status::from_kapi(rc);
	g.ref_ = GrantRef(ref);
	granted_++;
	grants_made_++;
	return Status::ok();
}

uint32_t GrantPool::alloc_pages(Gfp gfp, uint32_t n, PageList &out) noexcept
{
	uint32_t made = 0;
	for (; made < n; made++) {
		struct kapi_page *page = kapi_page_alloc(to_kapi(gfp));
		if (!page)
			break;
		Box<PoolGrant> fresh = xbc::create<PoolGrant>(gfp, page);
		if (fresh.is_null()) {
			kapi_page_free(page);
			break;
		}
		out.push_back(*fresh.release());
	}
	return made;
}

void GrantPool::free_pages(PageList &l) noexcept
{
	while (PoolGrant *g = l.pop_front()) {
		// Never granted: nothing can map it.
		kapi_page_free(g->page_);
		Box<PoolGrant>::adopt(g).reset();
	}
}

uint32_t GrantPool::room() const noexcept
{
	const size_t pages = free_.size() + in_use_.size();
	return pages < limit_ ? static_cast<uint32_t>(limit_ - pages) : 0;
}

void GrantPool::adopt(PageList &l) noexcept
{
	for (uint32_t n = room(); n > 0; n--) {
		PoolGrant *g = l.pop_front();
		if (!g)
			break;
		free_.push_back(*g);
	}
}

uint32_t GrantPool::fill(Gfp gfp, uint32_t n) noexcept
{
	PageList l;
	const uint32_t made = alloc_pages(gfp, min(n, room()), l);
	adopt(l);
	const uint32_t surplus = static_cast<uint32_t>(l.size());
	free_pages(l);
	return made - surplus;
}

Result<PoolGrant *> GrantPool::get() noexcept
{
	PoolGrant *g = free_.front();
	if (!g)
		return Status::error(err::kNoMem);
	if (g->is_granted()) {
		free_.remove(*g);
		reuses_++;
		in_use_.push_back(*g);
		return g;
	}
	// An ungranted page: grant it. On failure it stays free, ungranted.
	XBC_TRY_STATUS(grant(*g));
	free_.remove(*g);
	in_use_.push_back(*g);
	return g;
}

bool GrantPool::try_end(PoolGrant &g) noexcept
{
	if (!g.is_granted())
		return true;
	if (!kapi_gnttab_try_end_access(g.ref_.raw()))
		return false;
	g.ref_ = GrantRef::invalid();
	granted_--;
	return true;
}

Status GrantPool::put(PoolGrant &g) noexcept
{
	in_use_.remove(g);
	if (!try_end(g)) {
		if (persistent_) {
			// The backend keeps it mapped: reuse it first.
			free_.push_front(g);
			return Status::ok();
		}
		kapi_log_ratelimited(KAPI_LOG_ERR, "xbc: backend has not unmapped grant %u\n", g.ref_.raw());
		dispose(g, nullptr);
		return Status::error(err::kBusy);
	}
	free_.push_back(g);
	return Status::ok();
}

uint32_t GrantPool::revoke_idle() noexcept
{
	// Granted entries form the front of the free list; move each ended one
	// behind the ungranted ones, in order.
	GrantList ended;
	for (PoolGrant &g : free_.safe()) {
		if (!g.is_granted())
			break;
		if (try_end(g)) {
			free_.remove(g);
			ended.push_back(g);
		}
	}
	const uint32_t n = static_cast<uint32_t>(ended.size());
	while (PoolGrant *g = ended.pop_front())
		free_.push_back(*g);
	revocations_ += n;
	return n;
}

void GrantPool::periodic() noexcept
{
	const unsigned long now = kapi_jiffies();
	if (jiffies_before(now, next_revoke_))
		return;
	next_revoke_ = now + jiffies_from_seconds(kGrantRevokeIntervalSeconds);
	(void)revoke_idle();
}

void GrantPool::dispose(PoolGrant &g, GrantPoolTeardown *report) noexcept
{
	struct kapi_page *page = g.page_;
	const bool was_granted = g.is_granted();
	if (try_end(g)) {
		kapi_page_free(page);
		if (report) {
			report->pages_freed++;
			report->ended += was_granted ? 1 : 0;
		}
	} else {
		// The backend still maps it: the kernel frees the page later.
		kapi_gnttab_end_access_deferred(g.ref_.raw(), page);
		g.ref_ = GrantRef::invalid();
		granted_--;
		deferred_++;
		if (report)
			report->deferred++;
	}
	Box<PoolGrant>::adopt(&g).reset();
}

uint32_t GrantPool::shrink(uint32_t keep) noexcept
{
	uint32_t freed = 0;
	// Ungranted pages first, from the back.
	while (free_.size() + in_use_.size() > keep) {
		PoolGrant *g = free_.back();
		if (!g || g->is_granted())
			break;
		free_.remove(*g);
		dispose(*g, nullptr);
		freed++;
	}
	// Then granted ones the backend has let go of.
	for (PoolGrant &g : free_.safe()) {
		if (free_.size() + in_use_.size() <= keep)
			break;
		if (!try_end(g))
			continue;
		free_.remove(g);
		dispose(g, nullptr);
		freed++;
	}
	return freed;
}

uint32_t GrantPool::spare(uint32_t reserve) const noexcept
{
	const size_t free = free_.size();
	return free > reserve ? static_cast<uint32_t>(free - reserve) : 0;
}

uint32_t GrantPool::reclaim(uint32_t reserve, uint32_t budget) noexcept
{
	const uint32_t n = min(spare(reserve), budget);
	if (n == 0)
		return 0;
	const uint32_t pages = static_cast<uint32_t>(free_.size() + in_use_.size());
	const uint32_t freed = shrink(pages - n);
	reclaimed_ += freed;
	return freed;
}

GrantPoolTeardown GrantPool::teardown() noexcept
{
	GrantPoolTeardown report = {0, 0, 0};
	while (PoolGrant *g = free_.pop_front())
		dispose(*g, &report);
	while (PoolGrant *g = in_use_.pop_front())
		dispose(*g, &report);
	return report;
}

GrantPoolStats GrantPool::stats() const noexcept
{
	GrantPoolStats s = {};
	s.granted = granted_;
	s.pages = static_cast<uint32_t>(free_.size() + in_use_.size());
	s.in_use = static_cast<uint32_t>(in_use_.size());
	s.grants_made = grants_made_;
	s.reuses = reuses_;
	s.revocations = revocations_;
	s.deferred = deferred_;
	s.reclaimed = reclaimed_;
	return s;
}

} // namespace xbc
