// SPDX-License-Identifier: GPL-2.0-only
// blkfront/settings: the parameter snapshot and the in-tree feature rules,
// including backend values a kernel must not be handed.
#include <gtest/gtest.h>

#include "blkfront/settings.hpp"
#include "support/fake_blkmq.hpp"

using namespace xbc::blkfront;
using xbc::host::blkfront_params;
using xbc::host::FakeBlkmq;

namespace {

BackendFeatures plain()
{
	BackendFeatures b{};
	b.sectors = 1 << 20;
	b.sector_size = 512;
	b.physical_sector_size = 512;
	return b;
}

Settings defaults()
{
	FakeBlkmq::reset();
	return Settings::snapshot(4);
}

TEST(BlkfrontSettings, SnapshotClampsLikeInTreeModuleInit)
{
	FakeBlkmq::reset();
	blkfront_params().max_indirect_segments = 3;
	blkfront_params().max_queues = 64;
	blkfront_params().max_ring_page_order = 9;
	Settings s = Settings::snapshot(2);
	EXPECT_EQ(s.max_indirect_segments, 11u);
	EXPECT_EQ(s.max_queues, 2u);
	EXPECT_EQ(s.max_ring_page_order, 4u);
	blkfront_params().max_ring_page_order = -1;
	blkfront_params().max_queues = 0;
	blkfront_params().max_indirect_segments = 100000;
	s = Settings::snapshot(8);
	EXPECT_EQ(s.max_ring_page_order, 0u);
	EXPECT_EQ(s.max_queues, 1u);
	EXPECT_EQ(s.max_indirect_segments, kMaxIndirectSegments);
	FakeBlkmq::reset();
}

TEST(BlkfrontSettings, RingPlanTakesTheSmallerOfBothSides)
{
	Settings s = defaults();
	s.max_ring_page_order = 2;
	EXPECT_EQ(plan_rings(s, {4, 8}).ring_page_order, 2u);
	EXPECT_EQ(plan_rings(s, {1, 8}).ring_page_order, 1u);
	EXPECT_EQ(plan_rings(s, {1, 8}).nr_rings, 4u);
	EXPECT_EQ(plan_rings(s, {0, 0}).nr_rings, 1u);	// a backend offering 0 queues
}

TEST(BlkfrontSettings, PersistentOnlyWhenBothWantItAndThenBounce)
{
	Settings s = defaults();
	BackendFeatures b = plain();
	Features f;
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_FALSE(f.persistent);	// backend did not offer
	EXPECT_FALSE(f.bounce);
	b.persistent = true;
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_TRUE(f.persistent);
	EXPECT_TRUE(f.bounce);
	s.feature_persistent = false;
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_FALSE(f.persistent);
	EXPECT_FALSE(f.bounce);
	ASSERT_TRUE(negotiate_features(s, true, b, &f));	// trusted key 0
	EXPECT_TRUE(f.bounce);
	s.trusted = false;
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_TRUE(f.bounce);
}

TEST(BlkfrontSettings, IndirectOnlyAboveElevenSegments)
{
	Settings s = defaults();
	BackendFeatures b = plain();
	Features f;
	for (auto [offer, want] : {std::pair{0u, 0u}, {11u, 0u}, {12u, 12u}, {256u, 32u}}) {
		b.max_indirect_segments = offer;
		ASSERT_TRUE(negotiate_features(s, false, b, &f));
		EXPECT_EQ(f.max_indirect_segments, want) << offer;
		EXPECT_EQ(f.max_segments(), want ? want : 11u);
	}
}

TEST(BlkfrontSettings, FlushCacheOverridesBarrier)
{
	Settings s = defaults();
	BackendFeatures b = plain();
	Features f;
	b.barrier = true;
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_TRUE(f.flush && f.fua);
	b.flush_cache = true;
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_TRUE(f.flush);
	EXPECT_FALSE(f.fua);
}

TEST(BlkfrontSettings, HostileSizesAreRefusedOrRepaired)
{
	Settings s = defaults();
	BackendFeatures b = plain();
	Features f;
	for (uint32_t bad : {0u, 1u, 256u, 1000u, 8192u, 0xffffffffu}) {
		b.sector_size = bad;
		EXPECT_FALSE(negotiate_features(s, false, b, &f)) << bad;
	}
	b.sector_size = 4096;
	b.physical_sector_size = 512;	// smaller than logical: repaired
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_EQ(f.physical_block_size, 4096u);
	b.physical_sector_size = 12345;
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_EQ(f.physical_block_size, 4096u);
	b.discard = true;
	b.discard_granularity = 0;	// means the physical size (in-tree)
	b.discard_alignment = 5000;
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_EQ(f.discard_granularity, 4096u);
	EXPECT_EQ(f.discard_alignment, 5000u % 4096u);
	b.discard_granularity = 3000;	// not a power of two
	ASSERT_TRUE(negotiate_features(s, false, b, &f));
	EXPECT_EQ(f.discard_granularity, 4096u);
}

} // namespace
