// SPDX-License-Identifier: GPL-2.0-only
// xbc/handle.hpp: an Owned kapi handle is released exactly once, by
// whoever owns it last; release() hands it on unreleased; reset() releases
// early; out() is the slot a kapi constructor fills.
#include <gtest/gtest.h>

#include "support/kapi_host.hpp"
#include "xbc/handle.hpp"

namespace xbc {
namespace {

struct Fake {
	int id;
};
int g_released[4];

void release_fake(Fake *f) noexcept
{
	g_released[f->id]++;
}
using FakeHandle = Owned<Fake, release_fake>;

class OwnedTest : public testing::Test {
protected:
	void SetUp() override
	{
		for (int &n : g_released)
			n = 0;
	}
	Fake a_{1}, b_{2}, c_{3};
};

TEST_F(OwnedTest, DestructorReleasesOnce)
{
	{
		FakeHandle h(&a_);
		EXPECT_EQ(h.get(), &a_);
		EXPECT_EQ(g_released[1], 0);
	}
	EXPECT_EQ(g_released[1], 1);
	{
		FakeHandle empty;
		EXPECT_EQ(empty.get(), nullptr);
	}	// holds nothing: releases nothing (release_fake would crash)
}

TEST_F(OwnedTest, MovePassesOwnership)
{
	FakeHandle to;
	{
		FakeHandle from(&a_);
		to = move(from);
		EXPECT_EQ(from.get(), nullptr);
	}
	EXPECT_EQ(g_released[1], 0);	// the moved-from owner released nothing
	FakeHandle third(move(to));
	EXPECT_EQ(third.get(), &a_);
	// Assigning over a holder releases what it held first.
	FakeHandle other(&b_);
	third = move(other);
	EXPECT_EQ(g_released[1], 1);
	EXPECT_EQ(g_released[2], 0);
	EXPECT_EQ(third.get(), &b_);
}

TEST_F(OwnedTest, ReleaseHandsOnResetReleasesEarly)
{
	FakeHandle h(&a_);
	Fake *raw = h.release();
	EXPECT_EQ(raw, &a_);
	EXPECT_EQ(h.get(), nullptr);
	h.reset(&b_);
	EXPECT_EQ(g_released[1], 0);	// released by no one: the caller has it
	h.reset(&c_);
	EXPECT_EQ(g_released[2], 1);
	h.reset();
	EXPECT_EQ(g_released[3], 1);
	h.reset();
	EXPECT_EQ(g_released[3], 1);
}

TEST_F(OwnedTest, OutReleasesTheOldHandleFirst)
{
	FakeHandle h(&a_);
	Fake **slot = h.out();
	EXPECT_EQ(g_released[1], 1);
	EXPECT_EQ(*slot, nullptr);	// a failed constructor leaves it empty
	*slot = &b_;
	EXPECT_EQ(h.get(), &b_);
}

// The real kapi handles: the host's leak check fails this test if an
// owner forgets its handle.
TEST(KapiHandles, OwnersFreeTheirHandles)
{
	const size_t live = host::alloc_stats().live;
	{
		WaitQueue wq(kapi_waitq_create(KAPI_GFP_KERNEL));
		ASSERT_NE(wq.get(), nullptr);
		Work work(kapi_work_create([](void *) noexcept {}, nullptr, KAPI_GFP_KERNEL));
		ASSERT_NE(work.get(), nullptr);
		kapi_waitq_wake(wq);	// borrowed for the calls that only use it
		EXPECT_GT(host::alloc_stats().live, live);
	}
	EXPECT_EQ(host::alloc_stats().live, live);
}

} // namespace
} // namespace xbc
