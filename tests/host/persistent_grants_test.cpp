// SPDX-License-Identifier: GPL-2.0-only
// The persistent-grant tree and its LRU rule (xbc/persistent_grants.hpp).
// The tree is bookkeeping only, so pages and handles here are tokens that
// are never dereferenced; mapping through the fake grant table is tested
// in grant_mapper_test.cpp.
#include <vector>

#include <gtest/gtest.h>

#include "support/kapi_host.hpp"
#include "xbc/persistent_grants.hpp"

namespace xbc {
namespace {

kapi_page *token_page(uint32_t i)
{
	return reinterpret_cast<kapi_page *>(static_cast<uintptr_t>(0x10000 + i * 0x1000));
}

// Test fixture: owns the tree and frees whatever is left at the end.
class PGrants : public testing::Test {
protected:
	void make(uint32_t cap, uint32_t timeout_s)
	{
		host::set_jiffies(1000);
		pg_ = new PersistentGrants(PersistentGrantsConfig{cap, timeout_s});
	}
	void TearDown() override
	{
		if (!pg_)
			return;
		// Return anything still in use, then free every entry.
		std::vector<PersistentGrant *> busy;
		for (uint32_t r : refs_) {
			PersistentGrant *g = pg_->find(GrantRef(r));
			if (g && g->in_use())
				pg_->release(*g);
		}
		PersistentGrants::VictimList v;
		pg_->take_all_idle(v);
		drop(v);
		delete pg_;
	}
	static void drop(PersistentGrants::VictimList &v)
	{
		while (PersistentGrant *g = v.pop_front())
			PersistentGrants::destroy(g);
	}
	PersistentGrant *add(uint32_t ref)
	{
		PersistentGrant *g = nullptr;
		Status s = pg_->add(GrantRef(ref), token_page(ref), GrantHandle(ref + 7), Gfp::kKernel, &g);
		EXPECT_TRUE(s.is_ok()) << s.code();
		refs_.push_back(ref);
		return g;
	}
	std::vector<uint32_t> victim_refs(PersistentGrants::VictimList &v)
	{
		std::vector<uint32_t> out;
		for (PersistentGrant &g : v)
			out.push_back(g.ref().raw());
		return out;
	}
	PersistentGrants *pg_ = nullptr;
	std::vector<uint32_t> refs_;
};

TEST_F(PGrants, AddAcquireReleaseAndCounters)
{
	make(8, 60);
	PersistentGrant *g = add(5);
	ASSERT_NE(g, nullptr);
	EXPECT_TRUE(g->in_use());
	EXPECT_EQ(g->page(), token_page(5));
	EXPECT_EQ(g->handle(), GrantHandle(12));
	EXPECT_EQ(pg_->in_use(), 1u);
	pg_->release(*g);
	EXPECT_FALSE(g->in_use());
	EXPECT_EQ(g->last_used(), 1000u);

	PersistentGrant *out = nullptr;
	EXPECT_EQ(pg_->acquire(GrantRef(5), &out), PersistentGrants::Lookup::kHit);
	EXPECT_EQ(out, g);
	EXPECT_EQ(pg_->acquire(GrantRef(6), &out), PersistentGrants::Lookup::kMiss);
	EXPECT_EQ(out, nullptr);
	// Asking for it again while in use is refused, never handed out twice.
	EXPECT_EQ(pg_->acquire(GrantRef(5), &out), PersistentGrants::Lookup::kInUse);
	EXPECT_EQ(out, nullptr);
	const PersistentGrantsStats s = pg_->stats();
	EXPECT_EQ(s.hits, 1u);
	EXPECT_EQ(s.misses, 1u);
	EXPECT_EQ(s.in_use_refused, 1u);
	EXPECT_EQ(s.added, 1u);
	EXPECT_EQ(s.entries, 1u);
	EXPECT_EQ(s.in_use, 1u);
	EXPECT_TRUE(pg_->check());
}

TEST_F(PGrants, DuplicateAddIsRefusedWithHolder)
{
	make(8, 60);
	PersistentGrant *first = add(9);
	PersistentGrant *out = nullptr;
	Status s = pg_->add(GrantRef(9), token_page(99), GrantHandle(1), Gfp::kKernel, &out);
	EXPECT_EQ(s.code(), -err::kExist);
	EXPECT_EQ(out, first);
	EXPECT_EQ(pg_->size(), 1u);
	EXPECT_TRUE(pg_->check());
}

TEST_F(PGrants, ExtremeRefsAreOrdinaryKeys)
{
	make(8, 60);
	PersistentGrant *lo = add(0);
	PersistentGrant *hi = add(0xffffffffu);
	pg_->release(*lo);
	pg_->release(*hi);
	PersistentGrant *out = nullptr;
	EXPECT_EQ(pg_->acquire(GrantRef(0), &out), PersistentGrants::Lookup::kHit);
	EXPECT_EQ(out, lo);
	EXPECT_EQ(pg_->acquire(GrantRef(0xffffffffu), &out), PersistentGrants::Lookup::kHit);
	EXPECT_EQ(out, hi);
	EXPECT_TRUE(pg_->check());
}

TEST_F(PGrants, CapIsExactAndNotesOverflow)
{
	make(4, 60);
	for (uint32_t r = 0; r < 4; r++)
		add(r);
	EXPECT_FALSE(pg_->has_room());
	EXPECT_FALSE(pg_->overflowed());
	PersistentGrant *out = nullptr;
	EXPECT_EQ(pg_->add(GrantRef(4), token_page(4), GrantHandle(4), Gfp::kKernel, &out).code(),
		  -err::kBusy);
	EXPECT_TRUE(pg_->overflowed());
	EXPECT_EQ(pg_->size(), 4u);
}

TEST_F(PGrants, NoPurgeBelowCapOrAtCapWithoutOverflow)
{
	make(100, 0);	// timeout off: only the cap rule acts
	for (uint32_t r = 0; r < 100; r++)
		pg_->release(*add(r));
	PersistentGrants::VictimList v;
	EXPECT_EQ(pg_->select_victims(v, 5000), 0u);	// n == cap, no overflow
	pg_->note_overflow();
	// n == cap with overflow: (100 / 100) * 5 + 0 = 5.
	EXPECT_EQ(pg_->select_victims(v, 5000), 5u);
	EXPECT_FALSE(pg_->overflowed());
	EXPECT_EQ(pg_->size(), 95u);
	EXPECT_EQ(pg_->stats().evictions, 5u);
	drop(v);
	EXPECT_TRUE(pg_->check());
}

TEST_F(PGrants, PercentUsesIntegerDivisionOfTheCap)
{
	// In-tree: (max_pgrants / 100) * LRU_PERCENT_CLEAN; a cap under 100
	// cleans nothing beyond the excess. 1056 -> 10 * 5 = 50.
	make(1056, 0);
	for (uint32_t r = 0; r < 1056; r++)
		pg_->release(*add(r));
	pg_->note_overflow();
	PersistentGrants::VictimList v;
	EXPECT_EQ(pg_->select_victims(v, 2000), 50u);
	drop(v);
	pg_->note_overflow();
	EXPECT_EQ(pg_->select_victims(v, 2000), 0u) << "1006 < cap: nothing to clean";
	drop(v);
	EXPECT_TRUE(pg_->check());
}

TEST_F(PGrants, LruOrderIsReleaseOrderNotGrefOrder)
{
	make(100, 0);
	// Add 100, release in a scrambled order: 37 * i mod 100 (a permutation).
	std::vector<PersistentGrant *> g(100);
	for (uint32_t r = 0; r < 100; r++)
		g[r] = add(r);
	std::vector<uint32_t> order;
	for (uint32_t i = 0; i < 100; i++) {
		const uint32_t r = (37 * i) % 100;
		order.push_back(r);
		pg_->release(*g[r]);
		host::advance_jiffies(1);
	}
	// Re-use the first two released: they become the most recent.
	PersistentGrant *out = nullptr;
	ASSERT_EQ(pg_->acquire(GrantRef(order[0]), &out), PersistentGrants::Lookup::kHit);
	pg_->release(*out);
	ASSERT_EQ(pg_->acquire(GrantRef(order[1]), &out), PersistentGrants::Lookup::kHit);
	pg_->release(*out);
	pg_->note_overflow();
	PersistentGrants::VictimList v;
	ASSERT_EQ(pg_->select_victims(v, 5000), 5u);
	EXPECT_EQ(victim_refs(v), (std::vector<uint32_t>{order[2], order[3], order[4], order[5], order[6]}));
	drop(v);
	EXPECT_TRUE(pg_->check());
}

TEST_F(PGrants, EvictionSkipsInUseGrants)
{
	make(10, 0);
	std::vector<PersistentGrant *> g;
	for (uint32_t r = 0; r < 10; r++)
		g.push_back(add(r));
	// Only 3 idle; the excess rule wants more than exist idle.
	pg_->release(*g[2]);
	pg_->release(*g[7]);
	pg_->release(*g[4]);
	pg_->note_overflow();
	PersistentGrants::VictimList v;
	// num_clean = (10/100)*5 + 0 = 0 -> nothing, even overflowed.
	EXPECT_EQ(pg_->select_victims(v, 1000), 0u);
	drop(v);
	// Over the cap can only happen if the cap shrank; emulate a small cap
	// with many idle: a fresh tree of cap 200 with 200 entries, 3 idle.
	TearDown();
	pg_ = nullptr;
	refs_.clear();
	make(200, 0);
	for (uint32_t r = 0; r < 200; r++)
		g.push_back(add(r));
	for (uint32_t r : {11u, 150u, 3u})
		pg_->release(*pg_->find(GrantRef(r)));
	pg_->note_overflow();
	// Wants (200/100)*5 = 10, only 3 are idle: those 3 go, none in use.
	EXPECT_EQ(pg_->select_victims(v, 1000), 3u);
	EXPECT_EQ(victim_refs(v), (std::vector<uint32_t>{11, 150, 3}));
	for (PersistentGrant &x : v)
		EXPECT_FALSE(x.in_use());
	drop(v);
	EXPECT_EQ(pg_->size(), 197u);
	EXPECT_EQ(pg_->in_use(), 197u);
	EXPECT_TRUE(pg_->check());
}

TEST_F(PGrants, IdleTimeoutEvictsAllTimedOutEvenBelowCap)
{
	make(1056, 60);
	const unsigned long hz = host::kHz;
	PersistentGrant *a = add(1), *b = add(2), *c = add(3), *d = add(4);
	pg_->release(*a);			// t = 1000
	host::advance_jiffies(10 * hz);
	pg_->release(*b);			// t = 1000 + 10 s
	pg_->release(*c);
	(void)d;				// stays in use forever
	PersistentGrants::VictimList v;
	// 60 s after a's release, less one tick: nothing has timed out yet.
	EXPECT_EQ(pg_->select_victims(v, 1000 + 60 * hz - 1), 0u);
	// Exactly 60 s: a goes (>= in-tree), b and c are only 50 s idle.
	EXPECT_EQ(pg_->select_victims(v, 1000 + 60 * hz), 1u);
	EXPECT_EQ(victim_refs(v), (std::vector<uint32_t>{1}));
	drop(v);
	// Much later: b and c go; d, in use, stays however old.
	EXPECT_EQ(pg_->select_victims(v, 1000 + 1000 * hz), 2u);
	drop(v);
	EXPECT_EQ(pg_->size(), 1u);
	EXPECT_TRUE(pg_->find(GrantRef(4))->in_use());
}

TEST_F(PGrants, IdleTimeoutSurvivesJiffiesWrap)
{
	make(16, 1);
	host::set_jiffies(~0ul - 10);
	PersistentGrant *a = add(1);
	pg_->release(*a);
	PersistentGrants::VictimList v;
	EXPECT_EQ(pg_->select_victims(v, ~0ul - 10 + host::kHz - 1), 0u);
	EXPECT_EQ(pg_->select_victims(v, host::kHz), 1u);	// wrapped past 0
	drop(v);
}

TEST_F(PGrants, TimeoutZeroMeansNever)
{
	make(16, 0);
	pg_->release(*add(1));
	PersistentGrants::VictimList v;
	EXPECT_EQ(pg_->select_victims(v, 1000 + 100000ul * host::kHz), 0u);
}

TEST_F(PGrants, BothPassesTogether)
{
	// Cap 100, 100 entries, overflow: num_clean = 5. 8 are timed out:
	// pass 1 takes all 8 (more than 5, in-tree does the same).
	make(100, 60);
	std::vector<PersistentGrant *> g;
	for (uint32_t r = 0; r < 100; r++)
		g.push_back(add(r));
	for (uint32_t r = 0; r < 8; r++)
		pg_->release(*g[r]);
	host::advance_jiffies(61 * host::kHz);
	for (uint32_t r = 8; r < 20; r++)
		pg_->release(*g[r]);
	pg_->note_overflow();
	PersistentGrants::VictimList v;
	EXPECT_EQ(pg_->select_victims(v, 1000 + 61 * host::kHz), 8u);
	drop(v);
	// Now 92 < cap: no count-driven cleaning, and nothing else timed out.
	pg_->note_overflow();
	EXPECT_EQ(pg_->select_victims(v, 1000 + 61 * host::kHz), 0u);
	EXPECT_TRUE(pg_->check());
}

TEST_F(PGrants, AddAllocationFailureLeavesNothing)
{
	make(8, 60);
	size_t runs = host::for_each_alloc_failure([&](bool expect_success) {
		PersistentGrant *out = nullptr;
		Status s = pg_->add(GrantRef(77), token_page(77), GrantHandle(1), Gfp::kNoIo, &out);
		EXPECT_EQ(s.is_ok(), expect_success);
		if (s.is_ok()) {
			pg_->release(*out);
			PersistentGrants::VictimList v;
			EXPECT_EQ(pg_->take_all_idle(v), 1u);
			drop(v);
		} else {
			EXPECT_EQ(s.code(), -err::kNoMem);
			EXPECT_EQ(pg_->size(), 0u);
		}
	});
	EXPECT_EQ(runs, 1u);
	EXPECT_TRUE(pg_->check());
}

} // namespace
} // namespace xbc
