// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_grants: the frontend's GrantPool (common/grant_pool.cpp)
// and the backend's persistent-grant tree (common/persistent_grants.cpp)
// holding real mappings: pages from
// kapi_gnttab_alloc_pages and handles from kapi_gnttab_map, both served by
// the kernel-side fake grant table (kunit/fake_gnttab.c), with real jiffies
// for the LRU ages. Every case ends with the fake's books balanced: no live
// mapping and no page left behind.
#include "kapi/gnttab.h"
#include "fake_gnttab.h"
#include "xbc_kunit.hpp"
#include "xbc/memory.hpp"
#include "xbc/grant_pool.hpp"
#include "xbc/persistent_grants.hpp"

namespace xbc::kunit {
namespace {

constexpr uint32_t kFirstRef = 1000;

// N pages with one mapping each, as a backend would hold them.
class Mappings {
public:
	Mappings(struct kunit *test, unsigned n) noexcept : test_(test), n_(n)
	{
		pages_ = BoxArray<kapi_page *>::create(n, Gfp::kKernel);
		handles_ = BoxArray<uint32_t>::create(n, Gfp::kKernel);
		ops_ = BoxArray<kapi_grant_map>::create(KAPI_GNTTAB_MAX_BATCH, Gfp::kKernel);
		if (pages_.is_null() || handles_.is_null() || ops_.is_null())
			return;
		if (kapi_gnttab_alloc_pages(n, pages_.data()) != 0) {
			pages_.reset();
			return;
		}
		ok_ = true;
		for (unsigned i = 0; i < n; i++)
			xbc_fake_gnttab_peer_offer(kFirstRef + i, false);
		for (unsigned base = 0; base < n && ok_; base += KAPI_GNTTAB_MAX_BATCH) {
			const unsigned batch = min(n - base, KAPI_GNTTAB_MAX_BATCH);
			for (unsigned j = 0; j < batch; j++)
				ops_[j] = kapi_grant_map{kFirstRef + base + j, 0, false,
							 pages_[base + j], 0, -1};
			ok_ &= kapi_gnttab_map(ops_.data(), batch) == 0;
			for (unsigned j = 0; j < batch; j++) {
				ok_ &= ops_[j].status == KAPI_GNTST_OKAY;
				handles_[base + j] = ops_[j].handle;
			}
		}
	}
	~Mappings()
	{
		if (!pages_.is_null())
			kapi_gnttab_free_pages(n_, pages_.data());
	}

	bool ok() const noexcept { return ok_; }
	GrantRef ref(unsigned i) const noexcept { return GrantRef(kFirstRef + i); }
	kapi_page *page(unsigned i) const noexcept { return pages_[i]; }
	GrantHandle handle(unsigned i) const noexcept { return GrantHandle(handles_[i]); }
	unsigned index_of(GrantRef ref) const noexcept { return ref.raw() - kFirstRef; }

	// Unmaps one mapping; true when the fake accepted the handle.
	bool unmap(kapi_page *page, GrantHandle handle) noexcept
	{
		kapi_grant_unmap op{page, handle.raw(), -1};
		return kapi_gnttab_unmap(&op, 1) == 0 && op.status == KAPI_GNTST_OKAY;
	}

private:
	struct kunit *test_;
	unsigned n_;
	bool ok_ = false;
	BoxArray<kapi_page *> pages_;
	BoxArray<uint32_t> handles_;
	BoxArray<kapi_grant_map> ops_;
};

// Unmaps and frees every victim; returns how many, or -1 on a bad unmap.
long retire(Mappings &maps, PersistentGrants::VictimList &victims) noexcept
{
	long n = 0;
	bool ok = true;
	while (PersistentGrant *g = victims.pop_front()) {
		ok &= maps.unmap(g->page(), g->handle());
		PersistentGrants::destroy(g);
		n++;
	}
	return ok ? n : -1;
}

struct xbc_fake_gnttab_stats fake_stats() noexcept
{
	struct xbc_fake_gnttab_stats s;
	xbc_fake_gnttab_get_stats(&s);
	return s;
}

} // namespace
} // namespace xbc::kunit

using namespace xbc;
using namespace xbc::kunit;

XBC_KUNIT_CASE(persistent_grants_cap_and_lru)
{
	constexpr unsigned kCap = 200; // pass 2 cleans (200/100)*5 = 10
	Mappings maps(test, kCap + 1);
	XK_ASSERT(maps.ok());
	XK_EXPECT_EQ(fake_stats().live_maps, kCap + 1);
	{
		PersistentGrants pg(PersistentGrantsConfig{kCap, 60});
		PersistentGrant *g = nullptr;
		bool added = true;
		for (unsigned i = 0; i < kCap; i++)
			added &= pg.add(maps.ref(i), maps.page(i), maps.handle(i), Gfp::kKernel, &g).is_ok();
		XK_EXPECT(added);
		XK_EXPECT_EQ(pg.in_use(), kCap);
		// One more: refused at the cap, overflow noted, mapping still ours.
		XK_EXPECT_EQ(pg.add(maps.ref(kCap), maps.page(kCap), maps.handle(kCap), Gfp::kKernel, &g)
				     .code(),
			     -err::kBusy);
		XK_EXPECT(pg.overflowed());
		XK_EXPECT(maps.unmap(maps.page(kCap), maps.handle(kCap)));
		// At the cap even a duplicate is refused as -EBUSY (checked first).
		XK_EXPECT_EQ(pg.add(maps.ref(3), maps.page(3), maps.handle(3), Gfp::kKernel, &g).code(),
			     -err::kBusy);

		// Release in index order except 0..4, which stay in use.
		for (unsigned i = 5; i < kCap; i++)
			pg.release(*pg.find(maps.ref(i)));
		XK_EXPECT(pg.check());
		PersistentGrant *got = nullptr;
		XK_EXPECT(pg.acquire(maps.ref(0), &got) == PersistentGrants::Lookup::kInUse);
		XK_EXPECT(pg.acquire(GrantRef(7), &got) == PersistentGrants::Lookup::kMiss);
		XK_EXPECT(pg.acquire(maps.ref(9), &got) == PersistentGrants::Lookup::kHit);
		XK_ASSERT(got != nullptr);
		XK_EXPECT_EQ(kapi_page_address(got->page()) != nullptr, true);
		// The fake wrote the mapped ref into the page: the right mapping.
		XK_EXPECT_EQ(*static_cast<uint32_t *>(kapi_page_address(got->page())), kFirstRef + 9);
		pg.release(*got); // 9 is now the most recently used

		// At the cap with overflow: pass 2 evicts the 10 least recently
		// released idle entries, 5..8 and 10..15, never in-use 0..4.
		PersistentGrants::VictimList victims;
		XK_EXPECT_EQ(pg.select_victims(victims, kapi_jiffies()), 10);
		bool lru_order = true;
		unsigned expect = 5;
		for (PersistentGrant &v : victims) {
			lru_order &= maps.index_of(v.ref()) == expect;
			expect = expect == 8 ? 10 : expect + 1;
		}
		XK_EXPECT(lru_order);
		XK_EXPECT(!pg.overflowed());
		XK_EXPECT(pg.find(maps.ref(9)) != nullptr);
		XK_EXPECT_EQ(retire(maps, victims), 10);
		XK_EXPECT(pg.check());
		// Below the cap, a duplicate gref is refused and the holder handed back.
		XK_EXPECT_EQ(pg.add(maps.ref(3), maps.page(3), maps.handle(3), Gfp::kKernel, &g).code(),
			     -err::kExist);
		XK_EXPECT(g == pg.find(maps.ref(3)));

		// Below the cap, nothing is idle long enough: no eviction.
		XK_EXPECT_EQ(pg.select_victims(victims, kapi_jiffies()), 0);
		// 61 s later every idle entry has timed out; in-use ones stay.
		const unsigned long later = kapi_jiffies() + 61ul * kapi_hz();
		XK_EXPECT_EQ(pg.select_victims(victims, later), kCap - 10 - 5);
		XK_EXPECT_EQ(retire(maps, victims), kCap - 10 - 5);
		XK_EXPECT_EQ(pg.size(), 5);
		XK_EXPECT_EQ(pg.in_use(), 5);

		const PersistentGrantsStats st = pg.stats();
		XK_EXPECT_EQ(st.hits, 1);
		XK_EXPECT_EQ(st.misses, 1);
		XK_EXPECT_EQ(st.evictions, kCap - 5);

		// Teardown: the in-use ones come back, then everything goes.
		for (unsigned i = 0; i < 5; i++)
			pg.release(*pg.find(maps.ref(i)));
		XK_EXPECT_EQ(pg.take_all_idle(victims), 5);
		XK_EXPECT_EQ(retire(maps, victims), 5);
		XK_EXPECT_EQ(pg.size(), 0);
		XK_EXPECT(pg.check());
	}
	const struct xbc_fake_gnttab_stats s = fake_stats();
	XK_EXPECT_EQ(s.live_maps, 0);
	XK_EXPECT_EQ(s.unmap_failures, 0);
	XK_EXPECT_EQ(s.map_failures, 0);
}

XBC_KUNIT_CASE(fake_gnttab_refuses_bad_maps)
{
	// The fake itself must catch what a real grant table would, or the
	// suites above prove less than they claim.
	kapi_page *page = nullptr;
	XK_ASSERT(kapi_gnttab_alloc_pages(1, &page) == 0);
	xbc_fake_gnttab_peer_offer(50, true);
	kapi_grant_map ops[3] = {
		{50, 0, false, page, 0, 0}, // writable map of a read-only grant
		{51, 0, true, page, 0, 0},  // never offered
		{50, 0, true, page, 0, 0},  // fine
	};
	XK_ASSERT(kapi_gnttab_map(ops, 3) == 0);
	XK_EXPECT(ops[0].status != KAPI_GNTST_OKAY);
	XK_EXPECT(ops[1].status != KAPI_GNTST_OKAY);
	XK_EXPECT(ops[2].status == KAPI_GNTST_OKAY);
	kapi_grant_unmap un[2] = {{page, ops[2].handle, 0}, {page, ops[2].handle, 0}};
	XK_ASSERT(kapi_gnttab_unmap(un, 2) == 0);
	XK_EXPECT(un[0].status == KAPI_GNTST_OKAY);
	XK_EXPECT(un[1].status != KAPI_GNTST_OKAY); // a handle unmaps once
	kapi_gnttab_free_pages(1, &page);

	// Frontend side: a grant the backend still maps cannot be ended.
	kapi_page *mine = kapi_page_alloc(KAPI_GFP_KERNEL);
	XK_ASSERT(mine != nullptr);
	uint32_t ref = 0;
	XK_ASSERT(kapi_gnttab_grant_page(0, mine, false, &ref) == 0);
	xbc_fake_gnttab_set_peer_mapped(ref, true);
	XK_EXPECT(!kapi_gnttab_try_end_access(ref));
	kapi_gnttab_end_access_deferred(ref, mine); // the fake keeps the page
	XK_EXPECT_EQ(fake_stats().deferred, 1);
	xbc_fake_gnttab_set_peer_mapped(ref, false); // ...and frees it now
	const struct xbc_fake_gnttab_stats s = fake_stats();
	XK_EXPECT_EQ(s.deferred, 0);
	XK_EXPECT_EQ(s.live_grants, 0);
	XK_EXPECT_EQ(s.live_maps, 0);
	XK_EXPECT_EQ(s.live_pages, 0);
}

// The frontend's pool (common/grant_pool.cpp): real pages granted through
// the fake; the "backend" maps some of them persistently.
XBC_KUNIT_CASE(grant_pool_persistent_reuse_and_teardown)
{
	constexpr uint32_t kLimit = 16;
	auto made = GrantPool::create(Gfp::kKernel, DomId(0), kLimit, true);
	XK_ASSERT(made.is_ok());
	Box<GrantPool> pool = made.take();
	// The pages come up front (blkfront: at connect); get() never allocates.
	XK_EXPECT_EQ(pool->fill(Gfp::kKernel, kLimit + 1), kLimit);
	PoolGrant *held[kLimit] = {};
	bool got_all = true;
	for (uint32_t i = 0; i < kLimit; i++) {
		auto g = pool->get();
		got_all &= g.is_ok();
		if (g.is_ok())
			held[i] = g.value();
	}
	XK_ASSERT(got_all);
	XK_EXPECT_EQ(fake_stats().live_grants, kLimit);
	bool granted_right = true;
	for (uint32_t i = 0; i < kLimit; i++) {
		bool readonly = true;
		granted_right &= xbc_fake_gnttab_is_granted(held[i]->ref().raw(), &readonly);
	}
	XK_EXPECT(granted_right);
	// All in flight: no free page left, and get() makes none.
	XK_EXPECT_EQ(pool->get().status().code(), -err::kNoMem);

	// The backend keeps 0..3 mapped (persistent); the rest it unmapped.
	for (uint32_t i = 0; i < 4; i++)
		xbc_fake_gnttab_set_peer_mapped(held[i]->ref().raw(), true);
	bool put_ok = true;
	for (uint32_t i = 0; i < kLimit; i++)
		put_ok &= pool->put(*held[i]).is_ok();
	XK_EXPECT(put_ok);
	XK_EXPECT_EQ(fake_stats().live_grants, 4); // the unmapped 12 were ended
	GrantPoolStats st = pool->stats();
	XK_EXPECT_EQ(st.pages, kLimit);
	XK_EXPECT_EQ(st.granted, 4);
	XK_EXPECT_EQ(st.in_use, 0);

	// Reuse comes first, last put first (LIFO): 3, then 2.
	auto again = pool->get();
	XK_ASSERT(again.is_ok());
	XK_EXPECT(again.value() == held[3]);
	XK_EXPECT_EQ(pool->stats().reuses, 1);

	// The backend lets go of 0: revoke_idle ends exactly that one.
	xbc_fake_gnttab_set_peer_mapped(held[0]->ref().raw(), false);
	XK_EXPECT_EQ(pool->revoke_idle(), 1);
	XK_EXPECT_EQ(fake_stats().live_grants, 3);

	// Teardown with 1 and 2 (free) and 3 (in use) still mapped: those
	// three go to deferred end, every other page is freed now.
	const GrantPoolTeardown td = pool->teardown();
	XK_EXPECT_EQ(td.deferred, 3);
	XK_EXPECT_EQ(td.pages_freed, kLimit - 3);
	XK_EXPECT_EQ(fake_stats().deferred, 3);
	pool.reset();
	// The backend unmaps: the deferred pages are freed (KASAN would see a
	// double free if the pool had freed them too).
	for (uint32_t ref = XBC_FAKE_FIRST_REF; ref < XBC_FAKE_FIRST_REF + 64; ref++)
		xbc_fake_gnttab_set_peer_mapped(ref, false);
	const struct xbc_fake_gnttab_stats s = fake_stats();
	XK_EXPECT_EQ(s.deferred, 0);
	XK_EXPECT_EQ(s.live_grants, 0);
}

XBC_KUNIT_CASE(grant_pool_refusals)
{
	// Not persistent: a grant the backend still maps at completion is a
	// protocol breach: -EBUSY, and the page goes to deferred end.
	auto made = GrantPool::create(Gfp::kKernel, DomId(0), 4, false);
	XK_ASSERT(made.is_ok());
	Box<GrantPool> pool = made.take();
	XK_EXPECT_EQ(pool->fill(Gfp::kKernel, 1), 1);
	auto g = pool->get();
	XK_ASSERT(g.is_ok());
	xbc_fake_gnttab_set_peer_mapped(g.value()->ref().raw(), true);
	const uint32_t ref = g.value()->ref().raw();
	XK_EXPECT_EQ(pool->put(*g.value()).code(), -err::kBusy);
	XK_EXPECT_EQ(pool->stats().deferred, 1);
	XK_EXPECT_EQ(pool->stats().pages, 0);
	xbc_fake_gnttab_set_peer_mapped(ref, false);

	// The grant table runs out of refs: get() fails with its error and
	// the page stays in the pool, ungranted, for a later try.
	xbc_fake_gnttab_set_grant_limit(1);
	XK_EXPECT_EQ(pool->fill(Gfp::kKernel, 2), 2);
	auto first = pool->get();
	XK_ASSERT(first.is_ok());
	XK_EXPECT_EQ(pool->get().status().code(), -err::kNoSpc);
	XK_EXPECT_EQ(pool->stats().pages, 2);
	XK_EXPECT_EQ(pool->stats().granted, 1);
	XK_EXPECT(pool->put(*first.value()).is_ok());
	const GrantPoolTeardown td = pool->teardown();
	XK_EXPECT_EQ(td.deferred, 0);
	pool.reset();
	const struct xbc_fake_gnttab_stats s = fake_stats();
	XK_EXPECT_EQ(s.live_grants, 0);
	XK_EXPECT_EQ(s.deferred, 0);
}
