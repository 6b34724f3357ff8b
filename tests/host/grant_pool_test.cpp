// SPDX-License-Identifier: GPL-2.0-only
// The frontend grant pool (xbc/grant_pool.hpp) against the fake grant
// table: LIFO reuse, lazy growth to the limit, revocation of grants the
// backend unmapped (and not of those it still maps), shrink, teardown that
// never frees a page the backend can reach, and allocation failures.
#include <vector>

#include <gtest/gtest.h>

#include "support/fake_xen.hpp"
#include "support/kapi_host.hpp"
#include "xbc/grant_pool.hpp"

namespace xbc {
namespace {

constexpr DomId kBack(0);
constexpr uint16_t kFrontDomid = 1;

class Pool : public testing::Test {
protected:
	void SetUp() override { host::set_jiffies(1000); }
	void TearDown() override
	{
		for (auto &m : maps_)
			backend_unmap(m);
		maps_.clear();
		pool_ = Box<GrantPool>();
		EXPECT_EQ(xen_.leftovers(), "");
	}
	void make(uint32_t limit, bool persistent)
	{
		auto r = GrantPool::create(Gfp::kKernel, kBack, limit, persistent);
		ASSERT_TRUE(r.is_ok());
		pool_ = r.take();
	}
	// get() never allocates: the page a request finds missing is filled
	// in first, as blkfront's refill does.
	PoolGrant *get()
	{
		if (pool_->stats().pages == pool_->stats().in_use) {
			EXPECT_EQ(pool_->fill(Gfp::kKernel, 1), 1u);
		}
		auto r = pool_->get();
		EXPECT_TRUE(r.is_ok()) << r.status().code();
		return r.is_ok() ? r.take() : nullptr;
	}
	// The backend maps a grant (as a persistent backend would keep it).
	struct Mapping {
		kapi_page *page;
		uint32_t handle;
	};
	Mapping backend_map(GrantRef ref)
	{
		Mapping m{nullptr, 0};
		EXPECT_EQ(kapi_gnttab_alloc_pages(1, &m.page), 0);
		kapi_grant_map op = {};
		op.ref = ref.raw();
		op.domid = kFrontDomid;
		op.page = m.page;
		EXPECT_EQ(kapi_gnttab_map(&op, 1), 0);
		EXPECT_EQ(op.status, KAPI_GNTST_OKAY);
		m.handle = op.handle;
		maps_.push_back(m);
		return m;
	}
	void backend_unmap(Mapping m)
	{
		kapi_grant_unmap op = {m.page, m.handle, 0};
		EXPECT_EQ(kapi_gnttab_unmap(&op, 1), 0);
		kapi_gnttab_free_pages(1, &m.page);
	}
	void backend_unmap_all()
	{
		for (auto &m : maps_)
			backend_unmap(m);
		maps_.clear();
	}

	host::FakeXen xen_;
	Box<GrantPool> pool_;
	std::vector<Mapping> maps_;
};

TEST_F(Pool, FilledUpFrontGetNeverAllocates)
{
	make(3, true);
	EXPECT_EQ(pool_->get().status().code(), -err::kNoMem) << "empty";
	EXPECT_EQ(pool_->fill(Gfp::kKernel, 3), 3u);
	EXPECT_EQ(pool_->stats().pages, 3u);
	EXPECT_EQ(pool_->stats().granted, 0u);
	EXPECT_EQ(pool_->fill(Gfp::kKernel, 5), 0u) << "never beyond the limit";
	const size_t live = host::alloc_stats().live;
	PoolGrant *a = get(), *b = get(), *c = get();
	ASSERT_TRUE(a && b && c);
	EXPECT_EQ(host::alloc_stats().live, live) << "get() allocated";
	EXPECT_TRUE(a->is_granted());
	EXPECT_TRUE(xen_.is_granted(a->ref().raw()));
	EXPECT_EQ(pool_->get().status().code(), -err::kNoMem);
	EXPECT_EQ(pool_->stats().in_use, 3u);
	for (PoolGrant *g : {a, b, c})
		EXPECT_TRUE(pool_->put(*g).is_ok());
	EXPECT_EQ(pool_->stats().in_use, 0u);
}

// Memory pressure gives back free pages beyond the reserve, and never a
// page in use or one the backend still maps.
TEST_F(Pool, ReclaimTakesOnlyFreeUnmappedPagesBeyondTheReserve)
{
	make(6, true);
	ASSERT_EQ(pool_->fill(Gfp::kKernel, 6), 6u);
	PoolGrant *a = get(), *b = get(), *c = get();
	backend_map(a->ref());
	ASSERT_TRUE(pool_->put(*a).is_ok());	// still mapped: kept granted
	ASSERT_TRUE(pool_->put(*b).is_ok());	// ended
	EXPECT_EQ(pool_->spare(0), 5u);
	EXPECT_EQ(pool_->spare(1), 4u);
	EXPECT_EQ(pool_->reclaim(1, 2), 2u) << "the budget";
	EXPECT_EQ(pool_->reclaim(1, 100), 2u) << "one free page stays";
	EXPECT_EQ(pool_->stats().pages, 2u);
	EXPECT_EQ(pool_->reclaim(0, 100), 0u) << "the mapped one and the one in use stay";
	EXPECT_TRUE(xen_.is_granted(a->ref().raw()));
	EXPECT_EQ(pool_->stats().in_use, 1u);
	EXPECT_EQ(pool_->stats().reclaimed, 4u);
	backend_unmap_all();
	EXPECT_EQ(pool_->reclaim(0, 100), 1u);
	EXPECT_EQ(pool_->stats().reclaimed, 5u);
	ASSERT_TRUE(pool_->put(*c).is_ok());
	EXPECT_EQ(xen_.violations().size(), 0u);
}

TEST_F(Pool, StillMappedGrantsAreReusedFirstLifo)
{
	make(4, true);
	PoolGrant *a = get(), *b = get(), *c = get();
	backend_map(a->ref());
	backend_map(b->ref());
	// c is not mapped: put ends its grant and sends it to the back.
	ASSERT_TRUE(pool_->put(*a).is_ok());
	ASSERT_TRUE(pool_->put(*c).is_ok());
	ASSERT_TRUE(pool_->put(*b).is_ok());
	EXPECT_FALSE(c->is_granted());
	EXPECT_TRUE(a->is_granted());
	const GrantRef ref_b = b->ref();
	// Last granted in, first out: b, then a, then c (granted afresh).
	EXPECT_EQ(get(), b);
	EXPECT_EQ(b->ref(), ref_b) << "reused without a new grant";
	EXPECT_EQ(get(), a);
	EXPECT_EQ(get(), c);
	EXPECT_TRUE(c->is_granted());
	const GrantPoolStats s = pool_->stats();
	EXPECT_EQ(s.reuses, 2u);
	EXPECT_EQ(s.grants_made, 4u);	// a, b, c, c again
	EXPECT_EQ(s.pages, 3u);
	backend_unmap_all();
	for (PoolGrant *g : {a, b, c})
		ASSERT_TRUE(pool_->put(*g).is_ok());
}

TEST_F(Pool, RevocationEndsOnlyGrantsTheBackendUnmapped)
{
	make(4, true);
	PoolGrant *a = get(), *b = get();
	backend_map(a->ref());
	Mapping mb = backend_map(b->ref());
	ASSERT_TRUE(pool_->put(*a).is_ok());
	ASSERT_TRUE(pool_->put(*b).is_ok());
	EXPECT_EQ(pool_->revoke_idle(), 0u) << "both still mapped";
	// The backend drops b (its purge); the next scan ends b's grant.
	backend_unmap(mb);
	maps_.pop_back();
	const uint32_t ref_b = b->ref().raw();
	EXPECT_EQ(pool_->revoke_idle(), 1u);
	EXPECT_FALSE(b->is_granted());
	EXPECT_FALSE(xen_.is_granted(ref_b));
	EXPECT_TRUE(a->is_granted());
	EXPECT_EQ(pool_->stats().revocations, 1u);
	EXPECT_EQ(pool_->stats().pages, 2u) << "the page is kept for re-granting";
	// a (still granted) is handed out before b.
	EXPECT_EQ(get(), a);
	EXPECT_EQ(get(), b);
	backend_unmap_all();
	ASSERT_TRUE(pool_->put(*a).is_ok());
	ASSERT_TRUE(pool_->put(*b).is_ok());
}

TEST_F(Pool, PeriodicRevokesEveryTenSeconds)
{
	make(2, true);
	PoolGrant *a = get();
	ASSERT_TRUE(pool_->put(*a).is_ok());	// not mapped: already ended
	a = get();
	Mapping m = backend_map(a->ref());
	ASSERT_TRUE(pool_->put(*a).is_ok());
	backend_unmap(m);
	maps_.clear();
	host::advance_jiffies(10 * host::kHz - 1);
	pool_->periodic();
	EXPECT_TRUE(a->is_granted()) << "not due yet";
	host::advance_jiffies(1);
	pool_->periodic();
	EXPECT_FALSE(a->is_granted());
	EXPECT_EQ(pool_->stats().revocations, 1u);
}

TEST_F(Pool, NonPersistentBackendStillMappingIsAnErrorAndDeferred)
{
	make(2, false);
	PoolGrant *a = get(), *b = get();
	ASSERT_TRUE(pool_->put(*a).is_ok());	// unmapped: ended, page kept
	EXPECT_EQ(pool_->stats().granted, 1u);
	backend_map(b->ref());
	EXPECT_EQ(pool_->put(*b).code(), -err::kBusy);
	GrantPoolStats s = pool_->stats();
	EXPECT_EQ(s.deferred, 1u);
	EXPECT_EQ(s.pages, 1u) << "the page left the pool; it was not freed by us";
	EXPECT_EQ(xen_.gnttab().deferred_pending, 1u);
	backend_unmap_all();	// now the kernel side frees it
	EXPECT_EQ(xen_.gnttab().deferred_freed, 1u);
}

TEST_F(Pool, TeardownNeverFreesAPageTheBackendMaps)
{
	make(8, true);
	std::vector<PoolGrant *> g;
	for (int i = 0; i < 5; i++)
		g.push_back(get());
	backend_map(g[0]->ref());	// will be free but mapped
	backend_map(g[3]->ref());	// will stay in use and mapped
	ASSERT_TRUE(pool_->put(*g[0]).is_ok());
	ASSERT_TRUE(pool_->put(*g[1]).is_ok());	// free, ended
	ASSERT_TRUE(pool_->put(*g[2]).is_ok());
	// g[3] and g[4] are in flight at disconnect.
	GrantPoolTeardown rep = pool_->teardown();
	EXPECT_EQ(rep.deferred, 2u);
	EXPECT_EQ(rep.ended, 1u);		// g[4]: granted, not mapped
	EXPECT_EQ(rep.pages_freed, 3u);		// g[1], g[2] (ungranted), g[4]
	EXPECT_EQ(pool_->stats().pages, 0u);
	EXPECT_EQ(pool_->stats().granted, 0u);
	EXPECT_EQ(xen_.gnttab().deferred_pending, 2u);
	EXPECT_TRUE(xen_.violations().empty());
	backend_unmap_all();
	EXPECT_EQ(xen_.gnttab().deferred_freed, 2u);
	EXPECT_EQ(xen_.gnttab().live_grants, 0u);
}

TEST_F(Pool, ShrinkFreesUngrantedFirstAndNeverAMappedOne)
{
	make(8, true);
	std::vector<PoolGrant *> g;
	for (int i = 0; i < 4; i++)
		g.push_back(get());
	backend_map(g[0]->ref());
	for (PoolGrant *x : g)
		ASSERT_TRUE(pool_->put(*x).is_ok());
	// 1 granted (mapped) + 3 ungranted free pages.
	EXPECT_EQ(pool_->shrink(2), 2u);
	EXPECT_EQ(pool_->stats().pages, 2u);
	EXPECT_EQ(pool_->shrink(0), 1u) << "the mapped one stays";
	EXPECT_EQ(pool_->stats().pages, 1u);
	EXPECT_EQ(pool_->stats().granted, 1u);
	backend_unmap_all();
	EXPECT_EQ(pool_->shrink(0), 1u);
	EXPECT_EQ(pool_->stats().pages, 0u);
}

TEST_F(Pool, GrantTableFullKeepsThePageForLater)
{
	make(4, true);
	xen_.set_grant_limit(1);
	PoolGrant *a = get();
	ASSERT_NE(a, nullptr);
	ASSERT_EQ(pool_->fill(Gfp::kKernel, 1), 1u);
	auto r = pool_->get();
	EXPECT_EQ(r.status().code(), -err::kNoSpc);
	EXPECT_EQ(pool_->stats().pages, 2u);
	EXPECT_EQ(pool_->stats().in_use, 1u);
	xen_.set_grant_limit(SIZE_MAX);
	PoolGrant *b = get();
	EXPECT_NE(b, a);
	EXPECT_EQ(pool_->stats().pages, 2u) << "the ungranted page was used, not a new one";
	ASSERT_TRUE(pool_->put(*a).is_ok());
	ASSERT_TRUE(pool_->put(*b).is_ok());
}

TEST_F(Pool, EveryAllocationFailureIsClean)
{
	size_t n = host::for_each_alloc_failure([&](bool expect_success) {
		auto r = GrantPool::create(Gfp::kKernel, kBack, 4, true);
		if (r.is_error()) {
			EXPECT_FALSE(expect_success);
			return;
		}
		Box<GrantPool> p = r.take();
		const uint32_t filled = p->fill(Gfp::kKernel, 3);
		if (filled < 3) {
			EXPECT_FALSE(expect_success);
		}
		std::vector<PoolGrant *> got;
		for (int i = 0; i < 3; i++) {
			auto g = p->get();
			if (g.is_error()) {
				EXPECT_FALSE(expect_success);
				EXPECT_EQ(g.status().code(), -err::kNoMem);
				break;
			}
			got.push_back(g.take());
		}
		for (PoolGrant *g : got)
			EXPECT_TRUE(p->put(*g).is_ok());
		EXPECT_EQ(p->stats().in_use, 0u);
	});
	EXPECT_EQ(n, 7u);	// the pool, then a page and an entry per grant
	EXPECT_EQ(xen_.gnttab().live_grants, 0u);
}

} // namespace
} // namespace xbc
