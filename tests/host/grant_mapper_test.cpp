// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: one test per rule of the grant mapper; splitting would
// scatter the shared fixture.
// The backend grant mapper (xbc/grant_mapper.hpp) and its page pool against
// the fake grant table: persistent hits, the cap, transient overflow, failed
// maps in the middle of a batch, repeated grefs, LRU purge and idle timeout
// through the jiffies clock, teardown, and every allocation failing in turn.
// The fake's own books (live mappings, violations) are the ground truth.
#include <string.h>

#include <vector>

#include <gtest/gtest.h>

#include "support/fake_xen.hpp"
#include "support/kapi_host.hpp"
#include "xbc/grant_mapper.hpp"

namespace xbc {
namespace {

constexpr DomId kFront(1);
constexpr uint16_t kBackDomid = 0;

class Mapper : public testing::Test {
protected:
	void SetUp() override { host::set_jiffies(1000); }
	void TearDown() override
	{
		mapper_ = Box<GrantMapper>();
		for (size_t i = 0; i < refs_.size(); i++) {
			EXPECT_TRUE(kapi_gnttab_try_end_access(refs_[i])) << "ref " << refs_[i] << " still mapped";
			kapi_page_free(pages_[i]);
		}
		EXPECT_EQ(xen_.leftovers(), "");
	}

	// A frontend page granted to the backend; returns its ref.
	uint32_t grant(bool readonly = false)
	{
		kapi_page *p = kapi_page_alloc(KAPI_GFP_KERNEL);
		uint32_t ref = 0;
		EXPECT_EQ(kapi_gnttab_grant_page(kBackDomid, p, readonly, &ref), 0);
		pages_.push_back(p);
		refs_.push_back(ref);
		return ref;
	}
	std::vector<SegmentGrant> grant_segs(uint32_t n, bool readonly = false)
	{
		std::vector<SegmentGrant> segs;
		for (uint32_t i = 0; i < n; i++)
			segs.push_back({GrantRef(grant()), readonly});
		return segs;
	}
	void make(bool persistent, uint32_t cap = 1056, uint32_t timeout_s = 60, uint32_t max_pages = 1024)
	{
		GrantMapperConfig cfg;
		cfg.persistent = persistent;
		cfg.grants = {cap, timeout_s};
		cfg.pool.max_buffer_pages = max_pages;
		auto r = GrantMapper::create(Gfp::kKernel, kFront, cfg);
		ASSERT_TRUE(r.is_ok());
		mapper_ = r.take();
	}

	host::FakeXen xen_;
	Box<GrantMapper> mapper_;
	std::vector<kapi_page *> pages_;
	std::vector<uint32_t> refs_;
};

TEST_F(Mapper, PersistentGrantsAreMappedOnceAndShareMemory)
{
	make(true);
	auto segs = grant_segs(3);
	{
		RequestMapping req;
		ASSERT_TRUE(mapper_->map(segs.data(), 3, req).is_ok());
		EXPECT_EQ(req.count(), 3u);
		EXPECT_TRUE(req.is_persistent(0) && req.is_persistent(2));
		// The backend page shows the frontend's bytes: a real mapping.
		memcpy(kapi_page_address(pages_[1]), "hello", 6);
		EXPECT_STREQ(static_cast<char *>(kapi_page_address(req.page(1))), "hello");
	}	// RAII: released here
	EXPECT_EQ(mapper_->stats().in_use, 0u);
	EXPECT_EQ(mapper_->stats().requests, 0u);
	const size_t calls = xen_.gnttab().map_calls;
	RequestMapping again;
	ASSERT_TRUE(mapper_->map(segs.data(), 3, again).is_ok());
	EXPECT_EQ(xen_.gnttab().map_calls, calls) << "hits need no hypercall";
	const GrantMapperStats s = mapper_->stats();
	EXPECT_EQ(s.hits, 3u);
	EXPECT_EQ(s.misses, 3u);
	EXPECT_EQ(s.maps, 3u);
	EXPECT_EQ(s.unmaps, 0u);
	EXPECT_EQ(s.mapped, 3u);
	EXPECT_EQ(s.in_use, 3u);
	again.release();
	again.release();	// idempotent
	EXPECT_EQ(xen_.gnttab().live_mappings, 3u);
}

TEST_F(Mapper, CapReachedExactlyThenOverflowIsTransient)
{
	make(true, /*cap=*/4);
	auto segs = grant_segs(5);
	RequestMapping req;
	ASSERT_TRUE(mapper_->map(segs.data(), 5, req).is_ok());
	for (uint32_t i = 0; i < 4; i++)
		EXPECT_TRUE(req.is_persistent(i)) << i;	// the cap-th is persistent
	EXPECT_FALSE(req.is_persistent(4));		// the cap+1-th is not
	EXPECT_EQ(mapper_->stats().overflow_maps, 1u);
	EXPECT_TRUE(mapper_->grants().overflowed());
	EXPECT_EQ(mapper_->stats().mapped, 5u);
	req.release();
	const GrantMapperStats s = mapper_->stats();
	EXPECT_EQ(s.unmaps, 1u);
	EXPECT_EQ(s.mapped, 4u);
	EXPECT_EQ(s.persistent, 4u);
	EXPECT_EQ(xen_.map_count(segs[4].ref.raw()), 0u);
	EXPECT_EQ(xen_.map_count(segs[3].ref.raw()), 1u);
}

TEST_F(Mapper, PersistentOffMapsEverySegmentEveryTime)
{
	make(false);
	auto segs = grant_segs(3, /*readonly=*/true);
	for (int round = 0; round < 2; round++) {
		RequestMapping req;
		ASSERT_TRUE(mapper_->map(segs.data(), 3, req).is_ok());
		EXPECT_FALSE(req.is_persistent(0));
		// Read-only mapping: the backend only reads guest memory.
		memcpy(kapi_page_address(pages_[0]), "ro", 3);
		EXPECT_STREQ(static_cast<char *>(kapi_page_address(req.page(0))), "ro");
	}
	const GrantMapperStats s = mapper_->stats();
	EXPECT_EQ(s.maps, 6u);
	EXPECT_EQ(s.unmaps, 6u);
	EXPECT_EQ(s.hits, 0u);
	EXPECT_EQ(s.mapped, 0u);
	EXPECT_EQ(s.persistent, 0u);
	EXPECT_EQ(xen_.gnttab().live_mappings, 0u);
	// Pages come back to the pool and are reused, not reallocated.
	EXPECT_EQ(mapper_->pool().stats().allocated, 3u);
	EXPECT_EQ(mapper_->pool().stats().reused, 3u);
}

TEST_F(Mapper, BatchesAtMostMaxBatchPerHypercall)
{
	make(false);
	auto segs = grant_segs(70);
	RequestMapping req;
	ASSERT_TRUE(mapper_->map(segs.data(), 70, req).is_ok());
	EXPECT_EQ(xen_.gnttab().map_calls, 3u);	// 32 + 32 + 6
	req.release();
	EXPECT_EQ(xen_.gnttab().unmap_calls, 3u);
	EXPECT_EQ(xen_.gnttab().live_mappings, 0u);
	EXPECT_TRUE(xen_.violations().empty());
}

TEST_F(Mapper, FailedMapInMiddleOfBatchReleasesTheRest)
{
	for (bool persistent : {false, true}) {
		SCOPED_TRACE(persistent);
		make(persistent);
		auto segs = grant_segs(5);
		xen_.fail_map(segs[2].ref.raw(), host::gntst::kBadGntref);
		RequestMapping req;
		Status st = mapper_->map(segs.data(), 5, req);
		EXPECT_EQ(st.code(), -err::kIo);
		EXPECT_FALSE(req.is_mapped());
		GrantMapperStats s = mapper_->stats();
		EXPECT_EQ(s.map_failures, 1u);
		EXPECT_EQ(s.maps, 4u);
		EXPECT_EQ(s.in_use, 0u);
		EXPECT_EQ(s.requests, 0u);
		// Persistent: the 4 good maps stay as idle entries; transient:
		// all undone. Either way the fake agrees with our count.
		EXPECT_EQ(s.mapped, persistent ? 4u : 0u);
		EXPECT_EQ(xen_.gnttab().live_mappings, s.mapped);
		EXPECT_EQ(mapper_->pool().stats().outstanding, s.mapped);
		xen_.clear_map_failures();
		// The same request now succeeds.
		ASSERT_TRUE(mapper_->map(segs.data(), 5, req).is_ok());
		req.release();
		GrantTeardownReport rep = mapper_->teardown();
		EXPECT_EQ(rep.still_mapped, 0u);
		TearDown();
		pages_.clear();
		refs_.clear();
	}
}

// XSA-365: gnttab_map_refs may return an error after the hypercall mapped
// some of the batch (a p2m update failing for one op). Each op's own status
// says what is mapped: the good ones must be tracked and unmapped, their
// pages never handed out again while they still show guest memory.
TEST_F(Mapper, BatchErrorWithSomeOpsMappedTracksEachOpsStatus)
{
	for (bool persistent : {false, true}) {
		SCOPED_TRACE(persistent);
		make(persistent);
		auto segs = grant_segs(5);
		xen_.fail_map(segs[3].ref.raw(), host::gntst::kGeneralError, /*times=*/1);
		xen_.fail_next_map_call(-12 /* -ENOMEM */);
		RequestMapping req;
		EXPECT_EQ(mapper_->map(segs.data(), 5, req).code(), -err::kIo);
		EXPECT_FALSE(req.is_mapped());
		GrantMapperStats s = mapper_->stats();
		EXPECT_EQ(s.maps, 4u);
		EXPECT_EQ(s.map_failures, 1u);
		// Persistent: the four good maps stay as idle entries;
		// transient: all four were unmapped. The fake agrees.
		EXPECT_EQ(s.mapped, persistent ? 4u : 0u);
		EXPECT_EQ(xen_.gnttab().live_mappings, s.mapped);
		EXPECT_EQ(mapper_->pool().stats().outstanding, s.mapped);

		// The pool's pages are all unmapped: fresh grants map onto
		// them without finding a mapping already there.
		auto more = grant_segs(5);
		RequestMapping again;
		ASSERT_TRUE(mapper_->map(more.data(), 5, again).is_ok());
		again.release();
		EXPECT_TRUE(xen_.violations().empty()) << xen_.violations().front();
		EXPECT_EQ(mapper_->teardown().still_mapped, 0u);
		TearDown();
		pages_.clear();
		refs_.clear();
	}
}

TEST_F(Mapper, UnmapCallErrorLeaksOnlyTheOpsThatFailed)
{
	// The unmap call errs after every op of the batch unmapped fine: no
	// page is still mapped, so none may be leaked (before the fix all
	// five were counted failed and never returned to the pool).
	make(false);
	auto segs = grant_segs(5);
	RequestMapping req;
	ASSERT_TRUE(mapper_->map(segs.data(), 5, req).is_ok());
	xen_.fail_next_unmap_call(-12 /* -ENOMEM */);
	req.release();
	GrantMapperStats s = mapper_->stats();
	EXPECT_EQ(s.unmap_failures, 0u);
	EXPECT_EQ(s.mapped, 0u);
	EXPECT_EQ(xen_.gnttab().live_mappings, 0u);
	EXPECT_EQ(xen_.gnttab().unmap_failures, 0u);
	EXPECT_EQ(mapper_->pool().stats().outstanding, 0u);
	EXPECT_EQ(mapper_->teardown().failed, 0u);
}

TEST_F(Mapper, UnknownRefsZeroAndAllOnesFailCleanly)
{
	make(true);
	auto segs = grant_segs(2);
	SegmentGrant bad[4] = {segs[0], {GrantRef(0), false}, segs[1], {GrantRef(0xffffffffu), false}};
	RequestMapping req;
	EXPECT_EQ(mapper_->map(bad, 4, req).code(), -err::kIo);
	EXPECT_EQ(mapper_->stats().map_failures, 2u);
	EXPECT_EQ(mapper_->grants().find(GrantRef(0)), nullptr);
	EXPECT_EQ(mapper_->stats().in_use, 0u);
	EXPECT_EQ(xen_.gnttab().live_mappings, mapper_->stats().mapped);
}

TEST_F(Mapper, RepeatedGrefInOneRequestIsServedTransiently)
{
	// As in-tree: a gref the tree cannot lend again gets a transient
	// mapping of its own, unmapped when the request is released.
	make(true);
	const uint32_t a = grant();
	const uint32_t b = grant();
	// Both copies miss: the second is mapped, then kept out of the tree.
	SegmentGrant twice[3] = {{GrantRef(a), false}, {GrantRef(b), false}, {GrantRef(a), false}};
	RequestMapping req;
	ASSERT_TRUE(mapper_->map(twice, 3, req).is_ok());
	EXPECT_EQ(xen_.map_count(a), 2u);
	EXPECT_TRUE(req.is_persistent(0));
	EXPECT_FALSE(req.is_persistent(2));
	EXPECT_EQ(memcmp(kapi_page_address(req.page(0)), kapi_page_address(req.page(2)), KAPI_PAGE_SIZE), 0);
	req.release();
	EXPECT_EQ(xen_.map_count(a), 1u) << "the transient duplicate was unmapped";
	EXPECT_EQ(mapper_->stats().in_use, 0u);
	// Now a is persistent and idle: the first copy hits, the second finds
	// it in use and is mapped transiently.
	ASSERT_TRUE(mapper_->map(twice, 3, req).is_ok());
	EXPECT_EQ(xen_.map_count(a), 2u);
	req.release();
	EXPECT_EQ(xen_.map_count(a), 1u);
	EXPECT_EQ(mapper_->stats().in_use, 0u);
	EXPECT_EQ(xen_.gnttab().live_mappings, 2u);
	EXPECT_TRUE(mapper_->grants().check());
}

TEST_F(Mapper, GrantInUseByAnotherRequestIsServedTransiently)
{
	make(true);
	auto segs = grant_segs(2);
	RequestMapping first, second;
	ASSERT_TRUE(mapper_->map(segs.data(), 2, first).is_ok());
	ASSERT_TRUE(mapper_->map(segs.data() + 1, 1, second).is_ok());
	EXPECT_FALSE(second.is_persistent(0));
	EXPECT_EQ(xen_.map_count(segs[1].ref.raw()), 2u);
	// Both mappings show the same guest page.
	static_cast<unsigned char *>(kapi_page_address(first.page(1)))[5] = 0x5a;
	EXPECT_EQ(static_cast<unsigned char *>(kapi_page_address(second.page(0)))[5], 0x5a);
	EXPECT_EQ(mapper_->stats().in_use, 2u);	// first's grants untouched
	second.release();
	EXPECT_EQ(xen_.map_count(segs[1].ref.raw()), 1u);
	EXPECT_TRUE(first.is_mapped());
	first.release();
	EXPECT_EQ(mapper_->stats().in_use, 0u);
}

TEST_F(Mapper, TooManySegmentsOrMappedTwiceIsRefused)
{
	make(false);
	std::vector<SegmentGrant> many(RequestMapping::kMaxSegments + 1, {GrantRef(8), false});
	RequestMapping req;
	EXPECT_EQ(mapper_->map(many.data(), many.size(), req).code(), -err::kInval);
	auto segs = grant_segs(1);
	ASSERT_TRUE(mapper_->map(segs.data(), 1, req).is_ok());
	EXPECT_EQ(mapper_->map(segs.data(), 1, req).code(), -err::kBusy);
	EXPECT_TRUE(req.is_mapped());
	RequestMapping empty;
	EXPECT_TRUE(mapper_->map(nullptr, 0, empty).is_ok());
	EXPECT_EQ(empty.count(), 0u);
}

TEST_F(Mapper, IdleTimeoutPurgeViaPeriodic)
{
	make(true, 1056, /*timeout_s=*/60);
	auto segs = grant_segs(4);
	RequestMapping req;
	ASSERT_TRUE(mapper_->map(segs.data(), 2, req).is_ok());
	req.release();						// 0, 1 idle at t0
	ASSERT_TRUE(mapper_->map(segs.data() + 2, 2, req).is_ok());	// 2, 3 in use
	host::advance_jiffies(60 * host::kHz);
	mapper_->periodic();
	GrantMapperStats s = mapper_->stats();
	EXPECT_EQ(s.evictions, 2u);
	EXPECT_EQ(s.unmaps, 2u);
	EXPECT_EQ(s.persistent, 2u);
	EXPECT_EQ(xen_.map_count(segs[0].ref.raw()), 0u);
	EXPECT_EQ(xen_.map_count(segs[2].ref.raw()), 1u);
	req.release();
	// The purge runs at most every kLruIntervalMs.
	host::advance_jiffies(60 * host::kHz);
	mapper_->periodic();
	EXPECT_EQ(mapper_->stats().evictions, 4u);
	host::advance_jiffies(1);
	mapper_->periodic();
	EXPECT_EQ(mapper_->stats().evictions, 4u);
	EXPECT_EQ(xen_.gnttab().live_mappings, 0u);
}

TEST_F(Mapper, LruPurgeAtCapWithOverflowEvictsLeastRecent)
{
	make(true, /*cap=*/100, /*timeout_s=*/0);
	auto segs = grant_segs(101);
	RequestMapping req;
	ASSERT_TRUE(mapper_->map(segs.data(), 101, req).is_ok());	// 100 + 1 overflow
	req.release();
	// Touch 0..49 again so 50..99 are the least recently used.
	host::advance_jiffies(1);
	ASSERT_TRUE(mapper_->map(segs.data(), 50, req).is_ok());
	req.release();
	EXPECT_EQ(mapper_->purge(), 5u);	// (100/100)*5 + 0
	for (uint32_t i = 50; i < 55; i++)
		EXPECT_EQ(mapper_->grants().find(segs[i].ref), nullptr) << i;
	EXPECT_NE(mapper_->grants().find(segs[0].ref), nullptr);
	EXPECT_EQ(mapper_->stats().mapped, 95u);
	EXPECT_EQ(mapper_->purge(), 0u) << "overflow mark cleared";
}

TEST_F(Mapper, TeardownUnmapsEverythingBatched)
{
	make(true);
	auto segs = grant_segs(300);
	RequestMapping a, b;
	ASSERT_TRUE(mapper_->map(segs.data(), 150, a).is_ok());
	ASSERT_TRUE(mapper_->map(segs.data() + 150, 150, b).is_ok());
	a.release();
	b.release();
	const size_t calls = xen_.gnttab().unmap_calls;
	GrantTeardownReport rep = mapper_->teardown();
	EXPECT_EQ(rep.unmapped, 300u);
	EXPECT_EQ(rep.failed, 0u);
	EXPECT_EQ(rep.busy, 0u);
	EXPECT_EQ(rep.still_mapped, 0u);
	EXPECT_EQ(rep.pending, 0u);
	// Asynchronous batches of up to RequestMapping::kMaxSegments.
	EXPECT_EQ(xen_.gnttab().unmap_calls - calls, 2u);
	EXPECT_EQ(xen_.gnttab().live_mappings, 0u);
	EXPECT_EQ(mapper_->pool().stats().cached, 0u);
}

TEST_F(Mapper, TeardownLeavesRequestsStillHoldingGrants)
{
	make(true);
	auto segs = grant_segs(3);
	RequestMapping held, done;
	ASSERT_TRUE(mapper_->map(segs.data(), 1, held).is_ok());
	ASSERT_TRUE(mapper_->map(segs.data() + 1, 2, done).is_ok());
	done.release();
	GrantTeardownReport rep = mapper_->teardown();
	EXPECT_EQ(rep.unmapped, 2u);
	EXPECT_EQ(rep.busy, 1u);
	EXPECT_EQ(rep.still_mapped, 1u);
	held.release();
	rep = mapper_->teardown();
	EXPECT_EQ(rep.still_mapped, 0u);
}

TEST_F(Mapper, PoolKeepsAtMostItsLimitAndSqueezeEmptiesIt)
{
	make(false, 1056, 60, /*max_pages=*/2);
	auto segs = grant_segs(5);
	RequestMapping req;
	ASSERT_TRUE(mapper_->map(segs.data(), 5, req).is_ok());
	req.release();
	EXPECT_EQ(mapper_->pool().stats().cached, 2u);
	EXPECT_EQ(mapper_->pool().stats().freed, 3u);
	mapper_->squeeze();
	EXPECT_EQ(mapper_->pool().stats().cached, 0u);
	// While squeezing, returned pages are freed at once.
	ASSERT_TRUE(mapper_->map(segs.data(), 1, req).is_ok());
	req.release();
	EXPECT_EQ(mapper_->pool().stats().cached, 0u);
	// After the squeeze window (10 ms) the pool keeps pages again.
	host::advance_jiffies(host::kHz);
	ASSERT_TRUE(mapper_->map(segs.data(), 1, req).is_ok());
	req.release();
	EXPECT_EQ(mapper_->pool().stats().cached, 1u);
}

TEST_F(Mapper, EveryAllocationFailureIsClean)
{
	for (bool persistent : {false, true}) {
		SCOPED_TRACE(persistent);
		auto segs = grant_segs(35);	// two map batches
		size_t n = host::for_each_alloc_failure([&](bool expect_success) {
			GrantMapperConfig cfg;
			cfg.persistent = persistent;
			auto r = GrantMapper::create(Gfp::kKernel, kFront, cfg);
			if (r.is_error()) {
				EXPECT_FALSE(expect_success);
				return;
			}
			Box<GrantMapper> m = r.take();
			RequestMapping req;
			Status st = m->map(segs.data(), 35, req);
			if (expect_success) {
				EXPECT_TRUE(st.is_ok());
			}
			if (st.is_error()) {
				EXPECT_FALSE(req.is_mapped());
				EXPECT_EQ(m->stats().in_use, 0u);
			}
			req.release();
			EXPECT_EQ(m->teardown().still_mapped, 0u);
			EXPECT_EQ(xen_.gnttab().live_mappings, 0u);
		});
		EXPECT_GE(n, 3u);
		EXPECT_TRUE(xen_.violations().empty());
		TearDown();
		pages_.clear();
		refs_.clear();
	}
}

} // namespace
} // namespace xbc
