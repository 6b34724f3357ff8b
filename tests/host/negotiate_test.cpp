// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: one test per negotiation rule.
// Feature negotiation: each in-tree rule, a peer that lacks every key, a
// peer that writes garbage, and the keys read back from the fake xenstore.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "kapi/xenbus.h"
#include "support/fake_xen.hpp"
#include "xbc/negotiate.hpp"

namespace xbc::negotiate {
namespace {

template <typename T> Key<T> k(T v) { return Key<T>::valid(v); }

FrontendSnapshot fe_default(unsigned cpus = 8) { return snapshot_frontend(FrontendParams{}, cpus); }
BackendSnapshot be_default(unsigned cpus = 8) { return snapshot_backend(BackendParams{}, cpus); }

TEST(Negotiate, FrontendSnapshotClampsAsModuleInit)
{
	FrontendParams p;
	FrontendSnapshot s = snapshot_frontend(p, 8);
	EXPECT_EQ(s.max_indirect_segments, 32u);
	EXPECT_EQ(s.max_queues, 4u);
	EXPECT_EQ(s.max_ring_page_order, 0u);
	EXPECT_TRUE(s.feature_persistent);
	EXPECT_TRUE(s.trusted);
	p.max_indirect_segments = 3;		// below 11: raised to 11
	p.max_queues = 64;			// above the CPUs
	p.max_ring_page_order = 9;		// above 4
	s = snapshot_frontend(p, 2);
	EXPECT_EQ(s.max_indirect_segments, 11u);
	EXPECT_EQ(s.max_queues, 2u);
	EXPECT_EQ(s.max_ring_page_order, 4u);
	p.max_indirect_segments = 1u << 30;	// more than 8 indirect pages hold
	p.max_queues = 0;
	p.max_ring_page_order = -1;		// in-tree: unsigned, so above 4: 4
	s = snapshot_frontend(p, 0);
	EXPECT_EQ(s.max_indirect_segments, limits::kMaxIndirectSegments);
	EXPECT_EQ(s.max_indirect_segments, 4096u);	// 8 pages of 512, not 512
	EXPECT_EQ(s.max_queues, 1u);
	EXPECT_EQ(s.max_ring_page_order, 4u);
	// Queues: the online CPUs as in-tree, and our ring table's 32.
	p.max_queues = 64;
	EXPECT_EQ(snapshot_frontend(p, 48).max_queues, limits::kMaxFrontendQueues);
	EXPECT_EQ(snapshot_frontend(p, 48).max_queues, 32u);
	EXPECT_EQ(snapshot_frontend(p, 6).max_queues, 6u);
	p.max_queues = 0xffffffffu;
	EXPECT_EQ(snapshot_frontend(p, 0xffffffffu).max_queues, 32u);
}

TEST(Negotiate, SnapshotIsACopyLaterParamChangesDoNotReachIt)
{
	FrontendParams live;
	const FrontendSnapshot s = snapshot_frontend(live, 4);
	live.feature_persistent = false;	// admin flips the 0644 param
	BackendConnectKeys be{};
	be.feature_persistent = k(true);
	EXPECT_TRUE(negotiate_frontend(s, be, Key<bool>::absent()).persistent);
	EXPECT_FALSE(negotiate_frontend(snapshot_frontend(live, 4), be, Key<bool>::absent()).persistent);
}

TEST(Negotiate, PersistentNeedsOurSnapshotAndThePeersKey)
{
	FrontendSnapshot ours = fe_default();
	BackendConnectKeys be{};
	EXPECT_FALSE(negotiate_frontend(ours, be, {}).persistent);	// key absent
	be.feature_persistent = k(false);
	EXPECT_FALSE(negotiate_frontend(ours, be, {}).persistent);
	be.feature_persistent = Key<bool>::malformed();
	EXPECT_FALSE(negotiate_frontend(ours, be, {}).persistent);
	be.feature_persistent = k(true);
	EXPECT_TRUE(negotiate_frontend(ours, be, {}).persistent);
	ours.feature_persistent = false;
	EXPECT_FALSE(negotiate_frontend(ours, be, {}).persistent);
	// We advertise the capability even when the peer has none.
	EXPECT_FALSE(frontend_advert(ours).feature_persistent);
	EXPECT_TRUE(frontend_advert(fe_default()).feature_persistent);
	EXPECT_STREQ(frontend_advert(ours).protocol, "x86_64-abi");

	BackendSnapshot b = be_default();
	FrontendKeys fe{};
	BackendFeatures out;
	Refusal why;
	ASSERT_TRUE(negotiate_backend(b, fe, &out, &why));
	EXPECT_FALSE(out.persistent);
	fe.feature_persistent = k(true);
	ASSERT_TRUE(negotiate_backend(b, fe, &out, &why));
	EXPECT_TRUE(out.persistent);
	b.feature_persistent = false;
	ASSERT_TRUE(negotiate_backend(b, fe, &out, &why));
	EXPECT_FALSE(out.persistent);
	EXPECT_FALSE(backend_connect_advert(b, DiskCaps{}, {}).feature_persistent);
}

TEST(Negotiate, FrontendRingOrderAndQueues)
{
	FrontendParams p;
	p.max_ring_page_order = 3;
	p.max_queues = 4;
	const FrontendSnapshot ours = snapshot_frontend(p, 8);
	FrontendRingPlan plan = plan_frontend_rings(ours, BackendProbeKeys{});
	EXPECT_EQ(plan.ring_page_order, 0u);	// backend lacks the key: one page
	EXPECT_EQ(plan.nr_ring_pages, 1u);
	EXPECT_FALSE(plan.write_ring_page_order);
	EXPECT_EQ(plan.nr_queues, 1u);		// and one queue
	EXPECT_FALSE(plan.write_num_queues);

	plan = plan_frontend_rings(ours, BackendProbeKeys{k(4u), k(2u)});
	EXPECT_EQ(plan.ring_page_order, 3u);	// ours is smaller
	EXPECT_EQ(plan.nr_ring_pages, 8u);
	EXPECT_TRUE(plan.write_ring_page_order);
	EXPECT_EQ(plan.nr_queues, 2u);		// theirs is smaller
	EXPECT_TRUE(plan.write_num_queues);

	plan = plan_frontend_rings(ours, BackendProbeKeys{k(1u), k(0u)});
	EXPECT_EQ(plan.ring_page_order, 1u);
	EXPECT_EQ(plan.nr_queues, 1u);		// a 0 offer still gives one
	plan = plan_frontend_rings(ours, BackendProbeKeys{k(0xffffffffu), k(0xffffffffu)});
	EXPECT_EQ(plan.ring_page_order, 3u);
	EXPECT_EQ(plan.nr_queues, 4u);
	plan = plan_frontend_rings(ours, BackendProbeKeys{Key<uint32_t>::malformed(), Key<uint32_t>::malformed()});
	EXPECT_EQ(plan.ring_page_order, 0u);
	EXPECT_EQ(plan.nr_queues, 1u);
}

TEST(Negotiate, BackendAcceptsOrderUpToItsMaxAndRejectsMore)
{
	BackendParams p;
	p.max_ring_page_order = 2;
	const BackendSnapshot ours = snapshot_backend(p, 4);
	FrontendKeys fe{};
	BackendFeatures out;
	Refusal why{};
	ASSERT_TRUE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_EQ(out.ring_page_order, 0u);
	EXPECT_FALSE(out.read_ring_page_keys);	// single "ring-ref"
	fe.ring_page_order = k(0u);
	ASSERT_TRUE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_TRUE(out.read_ring_page_keys);	// "ring-ref0"
	fe.ring_page_order = k(2u);
	ASSERT_TRUE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_EQ(out.ring_page_order, 2u);
	fe.ring_page_order = k(3u);
	EXPECT_FALSE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_EQ(why.err, -err::kInval);
	fe.ring_page_order = Key<uint32_t>::malformed();
	EXPECT_FALSE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_EQ(why.err, -err::kInval);
	EXPECT_EQ(backend_probe_advert(ours).max_ring_page_order, 2u);
	EXPECT_EQ(snapshot_backend(BackendParams{0, 7, true}, 1).max_ring_page_order, 4u);
	// In-tree stores the int in an unsigned: a negative order is 4, not 0.
	EXPECT_EQ(snapshot_backend(BackendParams{0, -1, true}, 1).max_ring_page_order, 4u);
	EXPECT_EQ(snapshot_backend(BackendParams{0, -2147483647 - 1, true}, 1).max_ring_page_order, 4u);
	EXPECT_EQ(snapshot_backend(BackendParams{0, 0, true}, 1).max_ring_page_order, 0u);
}

TEST(Negotiate, BackendQueuesRejectZeroAndAboveMax)
{
	BackendParams p;	// max_queues 0 = online CPUs
	const BackendSnapshot ours = snapshot_backend(p, 3);
	EXPECT_EQ(ours.max_queues, 3u);
	EXPECT_EQ(backend_probe_advert(ours).max_queues, 3u);
	EXPECT_EQ(backend_probe_advert(ours).max_indirect_segments, 256u);
	FrontendKeys fe{};
	BackendFeatures out;
	Refusal why{};
	ASSERT_TRUE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_EQ(out.nr_queues, 1u);			// absent: one queue
	fe.num_queues = k(3u);
	ASSERT_TRUE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_EQ(out.nr_queues, 3u);
	for (uint32_t bad : {0u, 4u, 0xffffffffu}) {
		fe.num_queues = k(bad);
		EXPECT_FALSE(negotiate_backend(ours, fe, &out, &why)) << bad;
		EXPECT_EQ(why.err, -err::kNoSys);
		EXPECT_NE(why.reason, nullptr);
	}
	fe.num_queues = Key<uint32_t>::malformed();
	EXPECT_FALSE(negotiate_backend(ours, fe, &out, &why));
	p.max_queues = 16;	// explicit, may exceed the CPUs as in-tree
	EXPECT_EQ(snapshot_backend(p, 3).max_queues, 16u);
}

TEST(Negotiate, IndirectSegmentsUsedOnlyAboveEleven)
{
	const FrontendSnapshot ours = fe_default();	// 32
	BackendConnectKeys be{};
	EXPECT_EQ(negotiate_frontend(ours, be, {}).max_indirect_segments, 0u);	// absent
	be.max_indirect_segments = k(11u);
	EXPECT_EQ(negotiate_frontend(ours, be, {}).max_indirect_segments, 0u);
	be.max_indirect_segments = k(12u);
	EXPECT_EQ(negotiate_frontend(ours, be, {}).max_indirect_segments, 12u);
	be.max_indirect_segments = k(256u);
	EXPECT_EQ(negotiate_frontend(ours, be, {}).max_indirect_segments, 32u);
	be.max_indirect_segments = k(0xffffffffu);
	EXPECT_EQ(negotiate_frontend(ours, be, {}).max_indirect_segments, 32u);
	FrontendParams p;
	p.max_indirect_segments = 11;	// the frontend wants none
	EXPECT_EQ(negotiate_frontend(snapshot_frontend(p, 1), be, {}).max_indirect_segments, 0u);
	p.max_indirect_segments = 4096;
	be.max_indirect_segments = k(256u);
	EXPECT_EQ(negotiate_frontend(snapshot_frontend(p, 1), be, {}).max_indirect_segments, 256u);
}

TEST(Negotiate, FlushCacheWinsOverBarrier)
{
	const FrontendSnapshot ours = fe_default();
	BackendConnectKeys be{};
	FrontendFeatures f = negotiate_frontend(ours, be, {});
	EXPECT_EQ(f.flush, FlushMode::kNone);
	EXPECT_FALSE(f.fua);
	be.feature_barrier = k(true);
	f = negotiate_frontend(ours, be, {});
	EXPECT_EQ(f.flush, FlushMode::kWriteBarrier);
	EXPECT_TRUE(f.fua);
	be.feature_flush_cache = k(true);
	f = negotiate_frontend(ours, be, {});
	EXPECT_EQ(f.flush, FlushMode::kFlushDiskCache);
	EXPECT_FALSE(f.fua);
	be.feature_barrier = k(false);
	EXPECT_EQ(negotiate_frontend(ours, be, {}).flush, FlushMode::kFlushDiskCache);

	DiskCaps disk{};
	BackendConnectAdvert a = backend_connect_advert(be_default(), disk, {});
	EXPECT_FALSE(a.feature_flush_cache);
	EXPECT_FALSE(a.feature_barrier);
	disk.write_cache = true;
	a = backend_connect_advert(be_default(), disk, {});
	EXPECT_TRUE(a.feature_flush_cache);
	EXPECT_TRUE(a.feature_barrier);
}

TEST(Negotiate, DiscardParametersBothWays)
{
	const FrontendSnapshot ours = fe_default();
	BackendConnectKeys be{};
	be.discard_granularity = k(4096u);	// without feature-discard: ignored
	be.sectors = k(uint64_t(1) << 20);
	be.info = k(0u);
	be.sector_size = k(512u);
	FrontendFeatures f = negotiate_frontend(ours, be, {});
	EXPECT_FALSE(f.discard);
	be.feature_discard = k(true);
	be.discard_alignment = k(512u);
	be.discard_secure = k(true);
	f = negotiate_frontend(ours, be, {});
	EXPECT_TRUE(f.discard);
	EXPECT_TRUE(f.secure_discard);
	DiskGeometry g{};
	Refusal why{};
	ASSERT_TRUE(negotiate_disk(be, &g, &why));
	EXPECT_EQ(g.discard_granularity, 4096u);
	EXPECT_EQ(g.discard_alignment, 512u);
	be.discard_granularity = Key<uint32_t>::malformed();
	be.discard_secure = Key<bool>::absent();
	be.physical_sector_size = k(2048u);
	f = negotiate_frontend(ours, be, {});
	EXPECT_FALSE(f.secure_discard);
	ASSERT_TRUE(negotiate_disk(be, &g, &why));
	EXPECT_EQ(g.discard_granularity, 2048u);	// default: physical sector size
	EXPECT_EQ(g.discard_alignment, 512u);

	DiskCaps disk{true, true, false, 1u << 20, 0};
	BackendConnectAdvert a = backend_connect_advert(be_default(), disk, Key<bool>::absent());
	EXPECT_TRUE(a.write_discard);
	EXPECT_TRUE(a.feature_discard);
	EXPECT_TRUE(a.write_discard_params);
	EXPECT_EQ(a.discard_granularity, 1u << 20);
	EXPECT_FALSE(a.discard_secure);
	a = backend_connect_advert(be_default(), disk, k(false));	// discard-enable=0
	EXPECT_FALSE(a.write_discard);
	EXPECT_FALSE(a.feature_discard);
	disk.discard = false;
	a = backend_connect_advert(be_default(), disk, {});
	EXPECT_TRUE(a.write_discard);		// "feature-discard" = 0
	EXPECT_FALSE(a.feature_discard);
	EXPECT_FALSE(a.write_discard_params);
}

TEST(Negotiate, BounceWhenUntrustedOrPersistent)
{
	FrontendSnapshot ours = fe_default();
	BackendConnectKeys be{};
	EXPECT_FALSE(negotiate_frontend(ours, be, {}).bounce);
	EXPECT_FALSE(negotiate_frontend(ours, be, k(true)).bounce);
	EXPECT_TRUE(negotiate_frontend(ours, be, k(false)).bounce);	// toolstack: untrusted
	EXPECT_FALSE(negotiate_frontend(ours, be, Key<bool>::malformed()).bounce);
	be.feature_persistent = k(true);
	EXPECT_TRUE(negotiate_frontend(ours, be, {}).bounce);
	ours.trusted = false;
	be.feature_persistent = {};
	EXPECT_TRUE(negotiate_frontend(ours, be, {}).bounce);
}

TEST(Negotiate, ProtocolAbsentIsNativeUnknownIsRefused)
{
	const BackendSnapshot ours = be_default();
	FrontendKeys fe{};
	BackendFeatures out;
	Refusal why{};
	ASSERT_TRUE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_EQ(out.abi, blkif::Abi::kNative);
	fe.protocol = k(blkif::Abi::kX86_32);
	ASSERT_TRUE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_EQ(out.abi, blkif::Abi::kX86_32);
	fe.protocol = Key<blkif::Abi>::malformed();
	EXPECT_FALSE(negotiate_backend(ours, fe, &out, &why));
	EXPECT_EQ(why.err, -err::kNoSys);
}

// Issue 8 defect 10: absurd disk keys from a backend.
BackendConnectKeys disk_keys(uint64_t sectors, uint32_t sector_size)
{
	BackendConnectKeys b{};
	b.sectors = k(sectors);
	b.info = k(0u);
	b.sector_size = k(sector_size);
	return b;
}

TEST(NegotiateDisk, SectorSizeIsAPowerOfTwoFrom512ToAPage)
{
	DiskGeometry g{};
	Refusal why{};
	for (uint32_t good : {512u, 1024u, 2048u, 4096u}) {
		ASSERT_TRUE(negotiate_disk(disk_keys(8, good), &g, &why)) << good;
		EXPECT_EQ(g.logical_block_size, good);
		EXPECT_EQ(g.physical_block_size, good);	// absent: the logical size
	}
	for (uint32_t bad : {0u, 1u, 3u, 256u, 1000u, 3072u, 8192u, 1u << 31, 0xffffffffu}) {
		why = Refusal{};
		EXPECT_FALSE(negotiate_disk(disk_keys(8, bad), &g, &why)) << bad;
		EXPECT_EQ(why.err, -err::kInval) << bad;
		ASSERT_NE(why.reason, nullptr);
		EXPECT_NE(std::string(why.reason).find("sector-size"), std::string::npos);
	}
	BackendConnectKeys b = disk_keys(8, 512);
	b.sector_size = Key<uint32_t>::malformed();
	EXPECT_FALSE(negotiate_disk(b, &g, &why));
	b.sector_size = {};
	EXPECT_FALSE(negotiate_disk(b, &g, &why));	// required, as in-tree
	b = disk_keys(8, 512);
	b.info = {};
	EXPECT_FALSE(negotiate_disk(b, &g, &why));
}

TEST(NegotiateDisk, SectorsNear2To64AreRefusedNotWrapped)
{
	DiskGeometry g{};
	Refusal why{};
	ASSERT_TRUE(negotiate_disk(disk_keys(limits::kMaxSectors, 4096), &g, &why));
	EXPECT_EQ(g.sectors, limits::kMaxSectors);
	// The byte size of the largest disk still fits loff_t.
	EXPECT_LE(g.sectors, uint64_t(INT64_MAX) / 512);
	for (uint64_t bad : {limits::kMaxSectors + 1, uint64_t(1) << 63, ~uint64_t(0), ~uint64_t(0) - 7}) {
		why = Refusal{};
		EXPECT_FALSE(negotiate_disk(disk_keys(bad, 512), &g, &why)) << bad;
		EXPECT_EQ(why.err, -err::kInval);
		EXPECT_NE(std::string(why.reason).find("sectors"), std::string::npos);
	}
	uint64_t s = 0;
	EXPECT_FALSE(check_sectors(k(~uint64_t(0)), &s, &why));	// a resize to 2^64-1
	EXPECT_EQ(s, 0u);
	EXPECT_FALSE(check_sectors(Key<uint64_t>::malformed(), &s, &why));
	EXPECT_FALSE(check_sectors({}, &s, &why));
	ASSERT_TRUE(check_sectors(k(uint64_t(0)), &s, &why));	// an empty medium is fine
	EXPECT_EQ(s, 0u);
}

TEST(NegotiateDisk, AbsurdPhysicalSectorSizeNeverBecomesTheDiscardGranularity)
{
	BackendConnectKeys b = disk_keys(1 << 20, 512);
	b.feature_discard = k(true);
	DiskGeometry g{};
	Refusal why{};
	for (uint32_t bad : {1u << 31, 0xffffffffu, 2u << 20, 3u, 12345u, 256u, 0u}) {
		b.physical_sector_size = k(bad);
		ASSERT_TRUE(negotiate_disk(b, &g, &why)) << bad;
		EXPECT_EQ(g.physical_block_size, 512u) << bad;
		EXPECT_EQ(g.discard_granularity, 512u) << bad;
		EXPECT_TRUE(g.physical_ignored) << bad;
	}
	b.physical_sector_size = k(limits::kMaxPhysicalSectorSize);
	ASSERT_TRUE(negotiate_disk(b, &g, &why));
	EXPECT_EQ(g.physical_block_size, 1u << 20);
	EXPECT_EQ(g.discard_granularity, 1u << 20);
	EXPECT_FALSE(g.physical_ignored);
	b.physical_sector_size = Key<uint32_t>::malformed();
	ASSERT_TRUE(negotiate_disk(b, &g, &why));
	EXPECT_EQ(g.physical_block_size, 512u);
	EXPECT_FALSE(g.physical_ignored);	// malformed counts as absent

	// An unusable discard-granularity falls back to the physical size.
	b = disk_keys(8, 4096);
	b.physical_sector_size = k(512u);	// below the logical size: ignored
	for (uint32_t bad : {3000u, 1024u, 0xffffffffu}) {
		b.discard_granularity = k(bad);
		b.discard_alignment = k(5000u);
		ASSERT_TRUE(negotiate_disk(b, &g, &why)) << bad;
		EXPECT_EQ(g.physical_block_size, 4096u);
		EXPECT_EQ(g.discard_granularity, 4096u) << bad;
		EXPECT_TRUE(g.granularity_ignored) << bad;
		EXPECT_EQ(g.discard_alignment, 5000u % 4096u);
	}
	b.discard_granularity = k(0u);	// 0: the physical size, silently
	ASSERT_TRUE(negotiate_disk(b, &g, &why));
	EXPECT_FALSE(g.granularity_ignored);
	b.discard_granularity = k(1u << 31);	// huge but a usable power of two
	b.discard_alignment = k(0xffffffffu);
	ASSERT_TRUE(negotiate_disk(b, &g, &why));
	EXPECT_EQ(g.discard_granularity, 1u << 31);
	EXPECT_LT(g.discard_alignment, g.discard_granularity);
}

TEST(NegotiateDisk, AbsurdOffersAreClampedToOurs)
{
	FrontendParams p;
	p.max_ring_page_order = 4;
	p.max_queues = 8;
	p.max_indirect_segments = 4096;
	const FrontendSnapshot ours = snapshot_frontend(p, 8);
	// max-ring-page-order 31, multi-queue-max-queues 2^31 and 0.
	FrontendRingPlan plan = plan_frontend_rings(ours, BackendProbeKeys{k(31u), k(1u << 31)});
	EXPECT_EQ(plan.ring_page_order, 4u);
	EXPECT_EQ(plan.nr_ring_pages, 16u);
	EXPECT_EQ(plan.nr_queues, 8u);
	plan = plan_frontend_rings(ours, BackendProbeKeys{k(31u), k(0u)});
	EXPECT_EQ(plan.nr_queues, 1u);
	// feature-max-indirect-segments 2^32-1: the protocol's 4096 at most.
	BackendConnectKeys be{};
	be.max_indirect_segments = k(0xffffffffu);
	EXPECT_EQ(negotiate_frontend(ours, be, {}).max_indirect_segments, 4096u);
	EXPECT_EQ(negotiate_frontend(ours, be, {}).max_segments(), 4096u);
	be.max_indirect_segments = {};
	EXPECT_EQ(negotiate_frontend(ours, be, {}).max_segments(), limits::kMaxDirectSegments);
}

TEST(NegotiateLimits, OneMeaningPerLimit)
{
	EXPECT_EQ(limits::kMaxIndirectSegments, 4096u);
	EXPECT_EQ(&blkif::kMaxIndirectSegments, &limits::kMaxIndirectSegments);
	EXPECT_EQ(limits::kBackendIndirectSegments, 256u);
	EXPECT_EQ(limits::kMaxRingPageOrder, 4u);
	EXPECT_EQ(backend_probe_advert(be_default()).max_indirect_segments, limits::kBackendIndirectSegments);
}

// The readers against the fake xenstore: real key names, hostile values.
TEST(Negotiate, KeysReadFromXenstoreIncludingAMissingAndAGarbageOne)
{
	host::FakeXen fake;
	const std::string be = "/local/domain/0/backend/vbd/1/51712";
	const std::string fe = "/local/domain/1/device/vbd/51712";
	auto reader = [](const std::string &dir) {
		return [dir](const char *node, char *buf, size_t len) {
			return kapi_xenbus_read(KAPI_XBT_NIL, dir.c_str(), node, buf, len);
		};
	};
	// A backend as in-tree writes it, with one key corrupted and one too long.
	fake.xs_write(be + "/feature-persistent", "1");
	fake.xs_write(be + "/feature-flush-cache", "1");
	fake.xs_write(be + "/feature-barrier", "yes");
	fake.xs_write(be + "/feature-max-indirect-segments", "256");
	fake.xs_write(be + "/max-ring-page-order", "4");
	fake.xs_write(be + "/sectors", "18446744073709551615");
	fake.xs_write(be + "/sector-size", "4096");
	fake.xs_write(be + "/physical-sector-size", "-1");
	fake.xs_write(be + "/discard-granularity", std::string(100, '1'));
	const BackendConnectKeys ck = read_backend_connect_keys(reader(be));
	EXPECT_TRUE(ck.feature_persistent.is_valid() && ck.feature_persistent.value);
	EXPECT_TRUE(ck.feature_barrier.is_malformed());
	EXPECT_EQ(ck.feature_discard.state, Key<bool>::State::kAbsent);
	EXPECT_TRUE(ck.discard_granularity.is_malformed());
	EXPECT_EQ(ck.max_indirect_segments.value, 256u);
	EXPECT_EQ(ck.sectors.value, ~uint64_t(0));
	EXPECT_EQ(ck.sector_size.value, 4096u);
	EXPECT_TRUE(ck.physical_sector_size.is_malformed());
	EXPECT_EQ(ck.info.state, Key<uint32_t>::State::kAbsent);
	const BackendProbeKeys pk = read_backend_probe_keys(reader(be));
	EXPECT_EQ(pk.max_ring_page_order.value, 4u);
	EXPECT_FALSE(pk.multi_queue_max_queues.is_valid());

	const FrontendFeatures f = negotiate_frontend(fe_default(), ck, {});
	EXPECT_TRUE(f.persistent);
	EXPECT_EQ(f.flush, FlushMode::kFlushDiskCache);
	EXPECT_EQ(f.max_indirect_segments, 32u);

	// A frontend that wrote nothing at all: every default.
	const FrontendKeys none = read_frontend_keys(reader(fe));
	BackendFeatures out;
	Refusal why{};
	ASSERT_TRUE(negotiate_backend(be_default(), none, &out, &why));
	EXPECT_EQ(out.nr_queues, 1u);
	EXPECT_EQ(out.ring_page_order, 0u);
	EXPECT_FALSE(out.persistent);
	EXPECT_EQ(out.abi, blkif::Abi::kNative);
	fake.xs_write(fe + "/protocol", "x86_32-abi");
	fake.xs_write(fe + "/multi-queue-num-queues", "-2");
	const FrontendKeys bad = read_frontend_keys(reader(fe));
	EXPECT_EQ(bad.protocol.value, blkif::Abi::kX86_32);
	EXPECT_FALSE(negotiate_backend(be_default(), bad, &out, &why));
	EXPECT_EQ(why.err, -err::kNoSys);
	// An empty protocol is native, as in-tree.
	fake.xs_write(fe + "/protocol", "");
	fake.xs_write(fe + "/multi-queue-num-queues", "1");
	ASSERT_TRUE(negotiate_backend(be_default(), read_frontend_keys(reader(fe)), &out, &why));
	EXPECT_EQ(out.abi, blkif::Abi::kNative);
}

} // namespace
} // namespace xbc::negotiate
