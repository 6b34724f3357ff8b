// SPDX-License-Identifier: GPL-2.0-only
// The backend's free-page pool: see xbc/page_pool.hpp.
#include "xbc/page_pool.hpp"

#include "xbc/jiffies.hpp"

namespace xbc {

Result<Box<PagePool>> PagePool::create(Gfp gfp, const PagePoolConfig &cfg) noexcept
{
	BoxArray<struct kapi_page *> cache;
	if (cfg.max_buffer_pages > 0) {
		cache = BoxArray<struct kapi_page *>::create(cfg.max_buffer_pages, gfp);
		if (cache.is_null())
			return Status::error(err::kNoMem);
	}
	Box<PagePool> pool = xbc::create<PagePool>(gfp, cfg, move(cache));
	if (pool.is_null())
		return Status::error(err::kNoMem);
	return pool;
}

PagePool::PagePool(const PagePoolConfig &cfg, BoxArray<struct kapi_page *> &&cache) noexcept
	: cfg_(cfg), cache_(move(cache))
{
}

PagePool::~PagePool()
{
	shrink(0);
}

Status PagePool::get(struct kapi_page **pages, uint32_t n) noexcept
{
	const uint32_t from_cache = min(n, cached_);
	const uint32_t shortfall = n - from_cache;
	if (shortfall > 0) {
		// Allocate first, so a failure leaves the cache untouched.
		const int rc = kapi_gnttab_alloc_pages(shortfall, pages + from_cache);
		if (rc < 0)
			return Status::from_kapi(rc);
		allocated_ += shortfall;
	}
	for (uint32_t i = 0; i < from_cache; i++)
		pages[i] = cache_[--cached_];
	reused_ += from_cache;
	return Status::ok();
}

void PagePool::put(struct kapi_page *const *pages, uint32_t n) noexcept
{
	const uint32_t room = limit() > cached_ ? limit() - cached_ : 0;
	const uint32_t keep = min(n, room);
	for (uint32_t i = 0; i < keep; i++)
		cache_[cached_++] = pages[i];
	if (keep < n)
		free_pages(pages + keep, n - keep);
}

void PagePool::shrink(uint32_t keep) noexcept
{
	if (cached_ <= keep)
		return;
	free_pages(cache_.data() + keep, cached_ - keep);
	cached_ = keep;
}

void PagePool::squeeze() noexcept
{
	squeezing_ = true;
	squeeze_end_ = kapi_jiffies() + jiffies_from_ms(cfg_.squeeze_duration_ms);
	shrink(0);
}

uint32_t PagePool::limit() const noexcept
{
	if (squeezing_ && jiffies_before(kapi_jiffies(), squeeze_end_))
		return 0;
	return cfg_.max_buffer_pages;
}

PagePoolStats PagePool::stats() const noexcept
{
	const uint64_t held = allocated_ - freed_;
	return {allocated_, freed_, reused_, cached_, static_cast<uint32_t>(held - cached_)};
}

void PagePool::free_pages(struct kapi_page *const *pages, uint32_t n) noexcept
{
	// kapi_gnttab_free_pages takes a mutable array; it does not write it.
	kapi_gnttab_free_pages(n, const_cast<struct kapi_page **>(pages));
	freed_ += n;
}

} // namespace xbc
