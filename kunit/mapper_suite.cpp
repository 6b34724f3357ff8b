// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_grants, continued: the shipped backend GrantMapper
// (common/grant_mapper.cpp) and its PagePool (common/page_pool.cpp) on real
// pages and the kernel-side fake grant table (kunit/fake_gnttab.c). The
// fake's books are the ground truth: every case ends with no live mapping
// and no grant page left. fake_stats() is grants_suite.cpp's (one unity TU).
#include "kapi/gnttab.h"
#include "fake_gnttab.h"
#include "xbc_kunit.hpp"
#include "xbc/grant_mapper.hpp"
#include "xbc/memory.hpp"
#include "xbc/page_pool.hpp"

namespace xbc::kunit {
namespace {

constexpr uint32_t kMapperFirstRef = 2000;

// A mapper over refs kMapperFirstRef.. the "frontend" offered writable.
struct MapperBench {
	Box<GrantMapper> mapper;
	RequestMapping req;
	SegmentGrant segs[RequestMapping::kMaxSegments] = {};

	MapperBench(bool persistent, uint32_t cap, uint32_t nr_refs) noexcept
	{
		GrantMapperConfig cfg;
		cfg.persistent = persistent;
		cfg.grants = {cap, 60};
		cfg.max_requests = 1;	// one request released asynchronously
		auto made = GrantMapper::create(Gfp::kKernel, DomId(1), cfg);
		if (made.is_ok())
			mapper = made.take();
		for (uint32_t i = 0; i < nr_refs; i++) {
			segs[i] = SegmentGrant{GrantRef(kMapperFirstRef + i), false};
			xbc_fake_gnttab_peer_offer(kMapperFirstRef + i, false);
		}
	}
	// On the heap: with RequestMapping's slots, far beyond a stack frame.
	[[nodiscard]] static Box<MapperBench> make(bool persistent, uint32_t cap, uint32_t nr_refs) noexcept
	{
		Box<MapperBench> b = create<MapperBench>(Gfp::kKernel, persistent, cap, nr_refs);
		if (!b.is_null() && b->mapper.is_null())
			b.reset();
		return b;
	}
	// Maps and releases segs[first..first+n).
	[[nodiscard]] bool touch(uint32_t first, uint32_t n) noexcept
	{
		const bool mapped = mapper->map(segs + first, n, req).is_ok();
		req.release();
		return mapped;
	}
};

// The fake's books at the end of a case: no mapping, no grant page left.
void expect_books_balanced(struct kunit *test) noexcept
{
	const struct xbc_fake_gnttab_stats f = fake_stats();
	XK_EXPECT_EQ(f.live_maps, 0);
	XK_EXPECT_EQ(f.live_pages, 0);
}

} // namespace
} // namespace xbc::kunit

using namespace xbc;
using namespace xbc::kunit;

XBC_KUNIT_CASE(grant_mapper_map_fails_per_op)
{
	// One op of a batch fails (a gref never offered): only that request
	// fails, and whatever else the batch mapped is undone or kept idle.
	for (int pass = 0; pass < 2; pass++) {
		const bool persistent = pass == 1;
		xbc_fake_gnttab_reset();
		Box<MapperBench> b = MapperBench::make(persistent, 1056, 5);
		XK_ASSERT(!b.is_null());
		xbc_fake_gnttab_peer_revoke(kMapperFirstRef + 2);
		XK_EXPECT_EQ(b->mapper->map(b->segs, 5, b->req).code(), -err::kIo);
		XK_EXPECT(!b->req.is_mapped());
		GrantMapperStats s = b->mapper->stats();
		XK_EXPECT_EQ(s.map_failures, 1);
		XK_EXPECT_EQ(s.maps, 4);
		XK_EXPECT_EQ(s.in_use, 0);
		XK_EXPECT_EQ(s.mapped, persistent ? 4 : 0);
		XK_EXPECT_EQ(fake_stats().live_maps, s.mapped);
		XK_EXPECT_EQ(b->mapper->pool().stats().outstanding, s.mapped);
		// Offered again, the same request maps; each page shows its gref.
		xbc_fake_gnttab_peer_offer(kMapperFirstRef + 2, false);
		XK_ASSERT(b->mapper->map(b->segs, 5, b->req).is_ok());
		bool right_pages = true;
		for (uint32_t i = 0; i < 5; i++)
			right_pages &= *static_cast<uint32_t *>(kapi_page_address(b->req.page(i))) ==
				       kMapperFirstRef + i;
		XK_EXPECT(right_pages);
		b->req.release();
		XK_EXPECT_EQ(b->mapper->teardown().still_mapped, 0);
		b->mapper.reset();
		expect_books_balanced(test);
	}
}

XBC_KUNIT_CASE(grant_mapper_unmap_fails_per_op)
{
	// One unmap op of a batch fails: that page may still show the guest's
	// frame, so it is leaked (never pooled, never freed); the rest return.
	Box<MapperBench> b = MapperBench::make(false, 1056, 3);
	XK_ASSERT(!b.is_null());
	XK_ASSERT(b->mapper->map(b->segs, 3, b->req).is_ok());
	xbc_fake_gnttab_fail_unmap(kMapperFirstRef + 1);
	b->req.release();
	const GrantMapperStats s = b->mapper->stats();
	XK_EXPECT_EQ(s.unmaps, 2);
	XK_EXPECT_EQ(s.unmap_failures, 1);
	XK_EXPECT_EQ(fake_stats().live_maps, 1);
	XK_EXPECT_EQ(b->mapper->pool().stats().cached, 2);
	const GrantTeardownReport td = b->mapper->teardown();
	XK_EXPECT_EQ(td.failed, 0);
	XK_EXPECT_EQ(b->mapper->pool().stats().cached, 0);
	b->mapper.reset();
	// Only the leaked page is left: the test gives it back.
	XK_EXPECT_EQ(fake_stats().live_pages, 1);
	kapi_page *leaked = xbc_fake_gnttab_reclaim(kMapperFirstRef + 1);
	XK_ASSERT(leaked != nullptr);
	kapi_gnttab_free_pages(1, &leaked);
	expect_books_balanced(test);
}

XBC_KUNIT_CASE(grant_mapper_lru_purge_at_cap)
{
	// 100 persistent + 1 overflow; 0..49 used again, so 50..99 are the
	// least recently used: the purge at the cap takes (100/100)*5 of them.
	Box<MapperBench> b = MapperBench::make(true, 100, 101);
	XK_ASSERT(!b.is_null());
	XK_ASSERT(b->touch(0, 101));
	XK_EXPECT_EQ(b->mapper->stats().overflow_maps, 1);
	XK_EXPECT_EQ(fake_stats().live_maps, 100);
	XK_ASSERT(b->touch(0, 50));
	XK_EXPECT_EQ(b->mapper->stats().hits, 50);
	XK_EXPECT_EQ(b->mapper->purge(), 5);
	bool lru_went = true;
	for (uint32_t i = 50; i < 55; i++)
		lru_went &= b->mapper->grants().find(b->segs[i].ref) == nullptr;
	XK_EXPECT(lru_went);
	XK_EXPECT(b->mapper->grants().find(b->segs[0].ref) != nullptr);
	XK_EXPECT(b->mapper->grants().find(b->segs[55].ref) != nullptr);
	XK_EXPECT_EQ(b->mapper->stats().evictions, 5);
	XK_EXPECT_EQ(fake_stats().live_maps, 95);
	XK_EXPECT_EQ(b->mapper->purge(), 0); // the overflow mark is cleared
	const GrantTeardownReport td = b->mapper->teardown();
	XK_EXPECT_EQ(td.unmapped, 95);
	XK_EXPECT_EQ(td.still_mapped, 0);
	b->mapper.reset();
	XK_EXPECT_EQ(fake_stats().unmap_failures, 0);
	expect_books_balanced(test);
}

XBC_KUNIT_CASE(page_pool_get_put_shrink)
{
	PagePoolConfig cfg;
	cfg.max_buffer_pages = 2;
	cfg.squeeze_duration_ms = 60000;	// outlasts the case under TCG
	auto made = PagePool::create(Gfp::kKernel, cfg);
	XK_ASSERT(made.is_ok());
	Box<PagePool> pool = made.take();
	kapi_page *pages[5] = {};
	XK_ASSERT(pool->get(pages, 5).is_ok());
	XK_EXPECT_EQ(pool->stats().allocated, 5);
	XK_EXPECT_EQ(fake_stats().live_pages, 5);
	bool usable = true;
	for (kapi_page *p : pages)
		usable &= p != nullptr && kapi_page_address(p) != nullptr;
	XK_EXPECT(usable);
	// The pool keeps its limit; the rest are freed at once.
	pool->put(pages, 5);
	XK_EXPECT_EQ(pool->stats().cached, 2);
	XK_EXPECT_EQ(pool->stats().freed, 3);
	XK_EXPECT_EQ(fake_stats().live_pages, 2);
	// Three pages: two from the cache, one allocated.
	XK_ASSERT(pool->get(pages, 3).is_ok());
	XK_EXPECT_EQ(pool->stats().reused, 2);
	XK_EXPECT_EQ(pool->stats().allocated, 6);
	XK_EXPECT_EQ(pool->stats().outstanding, 3);
	pool->put(pages, 3);
	pool->shrink(1);
	XK_EXPECT_EQ(pool->stats().cached, 1);
	XK_EXPECT_EQ(fake_stats().live_pages, 1);
	// A squeeze empties it and keeps it empty for its duration.
	pool->squeeze();
	XK_EXPECT_EQ(pool->stats().cached, 0);
	XK_ASSERT(pool->get(pages, 1).is_ok());
	pool->put(pages, 1);
	XK_EXPECT_EQ(pool->stats().cached, 0);
	pool.reset();
	expect_books_balanced(test);
}

XBC_KUNIT_CASE(grant_mapper_release_async_in_the_call)
{
	// A completed request's transient mappings go through the asynchronous
	// unmap. No page here has another holder, so it finishes inside the
	// call: the caller may answer at once, and no callback follows.
	xbc_fake_gnttab_reset();
	Box<MapperBench> b = MapperBench::make(false, 1056, 3);
	XK_ASSERT(!b.is_null());
	int callbacks = 0;
	const UnmapDoneFn count = [](void *ctx) noexcept { ++*static_cast<int *>(ctx); };
	for (int round = 0; round < 2; round++) {
		// The second round reuses the one request batch.
		XK_ASSERT(b->mapper->map(b->segs, 3, b->req).is_ok());
		XK_EXPECT(b->mapper->release_async(b->req, count, &callbacks));
		XK_EXPECT(!b->req.is_mapped());
		XK_EXPECT_EQ(fake_stats().live_maps, 0);
	}
	XK_EXPECT_EQ(callbacks, 0);
	const GrantMapperStats s = b->mapper->stats();
	XK_EXPECT_EQ(s.unmaps, 6);
	XK_EXPECT_EQ(s.mapped, 0);
	XK_EXPECT_EQ(s.requests, 0);
	XK_EXPECT_EQ(b->mapper->pool().stats().cached, 3);
	XK_EXPECT_EQ(b->mapper->teardown().pending, 0);
	b->mapper.reset();
	expect_books_balanced(test);
}
