// SPDX-License-Identifier: GPL-2.0-only
// The strong types and Result: the wrappers themselves can be wrong too.
#include <gtest/gtest.h>

#include "support/kapi_host.hpp"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"
#include "xbc/types.hpp"

namespace xbc {
namespace {

template <typename A, typename B>
concept Comparable = requires(A a, B b) { a == b; };

static_assert(!Comparable<GrantRef, GrantHandle>, "grant refs and handles must not mix");
static_assert(!Comparable<GrantRef, uint32_t>, "a raw integer is not a grant ref");
static_assert(!Comparable<Sector, RingIdx>);

TEST(StrongTypes, InvalidValuesAreTheLinuxOnes)
{
	EXPECT_EQ(GrantRef().raw(), 0xffffffffu);
	EXPECT_FALSE(GrantRef::invalid().is_valid());
	EXPECT_TRUE(GrantRef(0).is_valid());
	EXPECT_EQ(GrantHandle::invalid().raw(), 0xffffffffu);
	EXPECT_EQ(DomId::invalid().raw(), 0x7ff4);
	EXPECT_FALSE(EvtchnPort().is_valid());
}

TEST(StrongTypes, RingIdxWrapsAt2To32)
{
	RingIdx a(0xfffffffeu);
	RingIdx b = a + 4;
	EXPECT_EQ(b.raw(), 2u);
	EXPECT_EQ(a.distance_to(b), 4u);
	EXPECT_EQ(b.slot(32), 2u);
	EXPECT_EQ(a.slot(32), 30u);
}

TEST(StrongTypes, SectorRangeRejectsOverflowAndOverrun)
{
	const Sector cap(1000);
	EXPECT_TRUE(Sector(990).range_within(Sector(10), cap));
	EXPECT_FALSE(Sector(991).range_within(Sector(10), cap));
	EXPECT_FALSE(Sector(~0ull).range_within(Sector(2), Sector(~0ull)));
	EXPECT_EQ(Sector(3).bytes(), 1536u);
	EXPECT_EQ(Sector::from_bytes_floor(1023).raw(), 1u);
}

Result<int> half(int v)
{
	if (v % 2)
		return Status::error(err::kInval);
	return v / 2;
}

Result<int> quarter(int v)
{
	int h = XBC_TRY(half(v));
	return XBC_TRY(half(h));
}

TEST(Result, PropagatesErrorsAndValues)
{
	EXPECT_EQ(quarter(8).value(), 2);
	auto r = quarter(6);
	ASSERT_TRUE(r.is_error());
	EXPECT_EQ(r.status().code(), -err::kInval);
	// A Result from an OK status is refused, not silently valueless.
	Result<int> bogus(Status::ok());
	EXPECT_TRUE(bogus.is_error());
}

struct Counted {
	static inline int alive = 0;
	int v;
	explicit Counted(int x) : v(x) { alive++; }
	~Counted() { alive--; }
};

TEST(Box, FreesThroughKapiAndFailsCleanly)
{
	{
		auto b = create<Counted>(Gfp::kKernel, 7);
		ASSERT_FALSE(b.is_null());
		EXPECT_EQ(b->v, 7);
		EXPECT_EQ(Counted::alive, 1);
	}
	EXPECT_EQ(Counted::alive, 0);
	host::fail_allocs_after(0);
	auto none = create<Counted>(Gfp::kAtomic, 1);
	host::clear_alloc_failure();
	EXPECT_TRUE(none.is_null());
	EXPECT_EQ(Counted::alive, 0);
}

TEST(Box, OverAlignedObjectsAreAligned)
{
	struct alignas(256) Wide {
		char c;
	};
	auto b = create<Wide>(Gfp::kKernel);
	ASSERT_FALSE(b.is_null());
	EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 256, 0u);
	EXPECT_EQ(alloc_size_for(10, 256), 256u);
	EXPECT_EQ(alloc_size_for(300, 256), 512u);
	EXPECT_EQ(alloc_size_for(10, 8192), 0u);
}

} // namespace
} // namespace xbc
