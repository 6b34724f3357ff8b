// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: one test per engine rule over one scripted-backend fixture;
// splitting would copy the fixture.
// The blkfront engine end to end on the host: the real Frontend and IoRing
// code against the fake Xen, with a scripted backend (blkfront_backend.hpp)
// on the other side of real shared rings and grants.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "blkfront/engine.h"
#include "blkfront/entry.h"
#include "blkfront/frontend.hpp"
#include "blkfront_backend.hpp"
#include "support/fake_blkmq.hpp"
#include "support/fake_xen.hpp"
#include "support/fake_thread.hpp"
#include "support/kapi_host.hpp"

using namespace xbc;
using namespace xbc::host;

// The C handle, as frontend.cpp defines it, to reach a device's rings.
namespace {

std::vector<uint8_t> pattern(size_t n, unsigned seed)
{
	std::vector<uint8_t> v(n);
	for (size_t i = 0; i < n; i++)
		v[i] = uint8_t((i * 131 + seed * 7 + (i >> 9)) & 0xff);
	return v;
}

class BlkfrontTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		FakeBlkmq::reset();
		ASSERT_EQ(xbc_blkfront_init(), 0);
		pair = xen.add_vbd_pair();
	}

	void TearDown() override
	{
		if (h)
			xbc_blkfront_remove(h);
		h = nullptr;
		// Every device gone: nothing may keep the purge thread awake.
		EXPECT_FALSE(blkfront::driver_instance()->purge_wanted());
		be.reset();
		xbc_blkfront_exit();
		EXPECT_EQ(FakeBlkmq::double_completions(), 0u);
		EXPECT_EQ(FakeBlkmq::disks_alive(), 0u);
	}

	// Probe through InitWait to Initialised.
	void handshake(BackendOptions o = BackendOptions())
	{
		be = std::make_unique<ScriptedBackend>(xen, pair, o);
		be->offer();
		ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
		xbc_blkfront_otherend_changed(h, KAPI_XENBUS_INITWAIT);
		ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_INITIALISED);
	}

	void bring_up(BackendOptions o = BackendOptions())
	{
		handshake(o);
		be->connect();
		xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
		ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_CONNECTED);
		ASSERT_NE(FakeBlkmq::disk(), nullptr);
	}

	// Direct grants (no persistent grants), the backend holding requests.
	void bring_up_holding()
	{
		blkfront_params().feature_persistent = false;
		bring_up();
		be->hold = true;
	}

	// Removes the device and puts both ends back to Initialising, for
	// another probe of the same pair.
	void remove_and_reset()
	{
		xbc_blkfront_remove(h);
		h = nullptr;
		be->disconnect();
		xen.xs_write(pair.front_path + "/state", "1");
		kapi_xenbus_switch_state(pair.front, KAPI_XENBUS_INITIALISING);
		kapi_xenbus_switch_state(pair.back, KAPI_XENBUS_INITIALISING);
	}

	std::string key(const std::string &k) { return be->front_key(k); }

	// A write of `bytes` at `sector` that must reach the backend's disk.
	void write_lands(uint64_t sector, uint32_t bytes, unsigned seed)
	{
		const auto data = pattern(bytes, seed);
		TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, sector, bytes);
		w.fill(data);
		ASSERT_EQ(submit(w), 0);
		EXPECT_EQ(w->err, 0);
		EXPECT_EQ(memcmp(be->disk().data() + sector * 512, data.data(), bytes), 0);
	}

	// Dispatch and let both ends run until nothing moves.
	int submit(TestRequest &r, unsigned hwq = 0)
	{
		const int rc = FakeBlkmq::dispatch(r.get(), hwq);
		run();
		return rc;
	}

	// Irqs on both ends and the backend's ring work, until nothing moves.
	void run()
	{
		for (int i = 0; i < 1000; i++) {
			const size_t irqs = xen.run_pending_irqs();
			const bool work = be && be->pump();
			if (!irqs && !work)
				return;
		}
		ADD_FAILURE() << "never idle";
	}

	GrantPoolStats pool()
	{
		GrantPoolStats s{};
		char buf[256];
		EXPECT_GT(xbc_blkfront_format_stats(h, buf, sizeof(buf)), 0);
		unsigned long v[8] = {};
		EXPECT_EQ(sscanf(buf,
				 "granted_pages %lu\npool_pages %lu\nin_use %lu\ngrants_made %lu\nreuses %lu\n"
				 "revocations %lu\ndeferred_frees %lu\nreclaimed_pages %lu",
				 &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]),
			  8);
		s.granted = uint32_t(v[0]);
		s.pages = uint32_t(v[1]);
		s.in_use = uint32_t(v[2]);
		s.grants_made = v[3];
		s.reuses = v[4];
		s.revocations = v[5];
		s.deferred = v[6];
		s.reclaimed = v[7];
		return s;
	}

	FakeXen xen;
	VbdPair pair;
	std::unique_ptr<ScriptedBackend> be;
	xbc_blkfront *h = nullptr;
};

// --- control path

TEST_F(BlkfrontTest, HandshakeWritesAllKeysInOneTransaction)
{
	FakeBlkmq::set_online_cpus(1);
	const size_t commits = xen.commits();
	handshake();
	EXPECT_EQ(xen.commits(), commits + 1);
	EXPECT_EQ(key("ring-ref"), std::to_string(std::stoul(key("ring-ref"))));
	EXPECT_FALSE(key("event-channel").empty());
	EXPECT_EQ(key("protocol"), "x86_64-abi");
	EXPECT_EQ(key("feature-persistent"), "1");
	// Defaults: order 0 and one queue need neither key (in-tree).
	EXPECT_EQ(key("ring-page-order"), "");
	EXPECT_EQ(key("multi-queue-num-queues"), "");
	EXPECT_TRUE(xen.is_granted(uint32_t(std::stoul(key("ring-ref")))));
}

TEST_F(BlkfrontTest, HandshakeRetriesARacedTransaction)
{
	xen.fail_next_commits(3);
	const size_t failed = xen.commits_failed();
	handshake();
	EXPECT_EQ(xen.commits_failed(), failed + 3);
	EXPECT_EQ(key("protocol"), "x86_64-abi");
	EXPECT_TRUE(xen.fatal_errors(pair.front).empty());
}

TEST_F(BlkfrontTest, FeaturePersistentParameterIsAdvertisedAsIs)
{
	blkfront_params().feature_persistent = false;
	handshake();
	EXPECT_EQ(key("feature-persistent"), "0");
}

TEST_F(BlkfrontTest, MultiQueueAndMultiPageRingKeys)
{
	blkfront_params().max_queues = 3;
	blkfront_params().max_ring_page_order = 2;
	FakeBlkmq::set_online_cpus(2);	// caps max_queues as in-tree
	BackendOptions o;
	o.max_queues = 4;
	o.max_ring_page_order = 1;	// the backend's smaller order wins
	bring_up(o);
	EXPECT_EQ(key("multi-queue-num-queues"), "2");
	EXPECT_EQ(key("ring-page-order"), "1");
	for (int q = 0; q < 2; q++) {
		const std::string p = "queue-" + std::to_string(q) + "/";
		EXPECT_FALSE(key(p + "ring-ref0").empty());
		EXPECT_FALSE(key(p + "ring-ref1").empty());
		EXPECT_EQ(key(p + "ring-ref2"), "");
		EXPECT_FALSE(key(p + "event-channel").empty());
	}
	EXPECT_EQ(key("ring-ref"), "");
	EXPECT_EQ(be->nr_rings(), 2u);
	EXPECT_EQ(FakeBlkmq::disk()->cfg.nr_hw_queues, 2u);
	// Two pages: (8192 - 64) / 112 = 72 entries, rounded down to 64.
	EXPECT_EQ(FakeBlkmq::disk()->cfg.queue_depth, 64u);

	// I/O on the second hardware queue goes over the second ring.
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 8, 4096);
	w.fill(pattern(4096, 1));
	ASSERT_EQ(submit(w, 1), 0);
	EXPECT_TRUE(w.done());
	EXPECT_EQ(w->err, 0);
	EXPECT_EQ(memcmp(be->disk().data() + 8 * 512, pattern(4096, 1).data(), 4096), 0);
}

// The largest rings with the most segments: 512 slots x 512 segments of
// bookkeeping is megabytes, which one kmalloc can never give.
TEST_F(BlkfrontTest, LargestRingsWithMostSegmentsConnect)
{
	blkfront_params().max_ring_page_order = 4;
	blkfront_params().max_indirect_segments = 512;
	FakeBlkmq::set_online_cpus(1);
	BackendOptions o;
	o.max_indirect_segments = 512;
	bring_up(o);
	EXPECT_EQ(FakeBlkmq::disk()->cfg.max_segments, 512u);
	EXPECT_EQ(FakeBlkmq::disk()->cfg.queue_depth, 512u);
	write_lands(0, 512 * 4096, 23);
}

TEST_F(BlkfrontTest, ConnectReadsBackendFeaturesIntoTheDisk)
{
	BackendOptions o;
	o.info = KAPI_VDISK_READONLY | KAPI_VDISK_REMOVABLE;
	bring_up(o);
	const kapi_blkmq_config &c = FakeBlkmq::disk()->cfg;
	EXPECT_EQ(c.capacity, 8192u);
	EXPECT_EQ(c.logical_block_size, 512u);
	EXPECT_EQ(c.physical_block_size, 4096u);
	EXPECT_TRUE(c.write_cache);
	EXPECT_FALSE(c.fua);		// flush-cache, not barrier
	EXPECT_TRUE(c.discard);
	EXPECT_EQ(c.discard_granularity, 4096u);
	EXPECT_EQ(c.max_segments, 32u);	// min(our 32, backend's 256)
	EXPECT_EQ(c.max_hw_sectors, 32u * 8);
	EXPECT_TRUE(c.readonly);
	EXPECT_TRUE(c.removable);
	EXPECT_EQ(c.major, 202u);
	EXPECT_EQ(c.first_minor, 0u);
	EXPECT_EQ(c.minors, 16u);
	EXPECT_STREQ(c.name, "xvda");
	EXPECT_TRUE(FakeBlkmq::disk()->added);
	EXPECT_NE(strstr(last_log(), "blkfront: xvda: flush diskcache: enabled; persistent grants: enabled; "
				     "indirect descriptors: enabled; bounce buffer: enabled"),
		  nullptr)
		<< last_log();
}

TEST_F(BlkfrontTest, BarrierMeansFlushAndFua)
{
	BackendOptions o;
	o.flush_cache = false;
	o.barrier = true;
	o.max_indirect_segments = 0;
	o.persistent = false;
	bring_up(o);
	EXPECT_TRUE(FakeBlkmq::disk()->cfg.fua);
	EXPECT_EQ(FakeBlkmq::disk()->cfg.max_segments, 11u);
	EXPECT_NE(strstr(last_log(), "barrier: enabled; persistent grants: disabled; indirect descriptors: "
				     "disabled; bounce buffer: disabled;"),
		  nullptr)
		<< last_log();
	TestRequest f = TestRequest::no_data(KAPI_BLK_OP_FLUSH);
	ASSERT_EQ(submit(f), 0);
	EXPECT_EQ(f->completions, 1);
	EXPECT_EQ(be->log().back().op, blkif::Op::kWriteBarrier);
}

// blkif has no indirect barrier: a FUA write over 11 segments could not be
// sent. With indirect descriptors, FUA is left to the block layer (write,
// then an empty barrier), and every request size works.
TEST_F(BlkfrontTest, BarrierWithIndirectLeavesFuaToTheBlockLayer)
{
	BackendOptions o;
	o.flush_cache = false;
	o.barrier = true;
	bring_up(o);
	const kapi_blkmq_config &c = FakeBlkmq::disk()->cfg;
	EXPECT_EQ(c.max_segments, 32u);
	EXPECT_TRUE(c.write_cache);
	EXPECT_FALSE(c.fua);
	write_lands(64, 32 * 4096, 22);
	TestRequest f = TestRequest::no_data(KAPI_BLK_OP_FLUSH);
	ASSERT_EQ(submit(f), 0);
	EXPECT_EQ(f->err, 0);
	EXPECT_EQ(be->log().back().op, blkif::Op::kWriteBarrier);
}

TEST_F(BlkfrontTest, BadSectorSizeIsFatalNotACrash)
{
	BackendOptions o;
	o.sector_size = 1000;
	handshake(o);
	be->connect();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(FakeBlkmq::disk(), nullptr);
	EXPECT_FALSE(xen.fatal_errors(pair.front).empty());
}

TEST_F(BlkfrontTest, GarbageBackendKeysAreFatalOrDefaulted)
{
	handshake();
	be->connect();
	xen.xs_write(pair.back_path + "/sectors", "12x");
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(FakeBlkmq::disk(), nullptr);
	ASSERT_FALSE(xen.fatal_errors(pair.front).empty());
}

// Issue 8 defect 10 through the shipped engine: the shared negotiation
// refuses what the block layer cannot take, and says why.
TEST_F(BlkfrontTest, AbsurdBackendSizesAreRefusedWithAReason)
{
	struct Case {
		const char *key;
		const char *value;
		const char *reason;
	} const cases[] = {
		{"sectors", "18446744073709551615", "sectors"},
		{"sectors", "18014398509481984", "sectors"},	// 2^54: 2^63 bytes
		{"sector-size", "3", "sector-size"},
		{"sector-size", "8192", "sector-size"},
		{"sector-size", "2147483648", "sector-size"},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(std::string(c.key) + "=" + c.value);
		TearDown();
		SetUp();
		handshake();
		be->connect();
		xen.xs_write(pair.back_path + "/" + c.key, c.value);
		xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
		EXPECT_EQ(FakeBlkmq::disk(), nullptr);
		ASSERT_FALSE(xen.fatal_errors(pair.front).empty());
		EXPECT_EQ(xen.fatal_errors(pair.front).back().err, -err::kInval);
		EXPECT_NE(xen.fatal_errors(pair.front).back().msg.find(c.reason), std::string::npos)
			<< xen.fatal_errors(pair.front).back().msg;
	}
}

TEST_F(BlkfrontTest, AbsurdPhysicalSectorSizeIsIgnoredWithAWarning)
{
	handshake();
	be->connect();
	xen.xs_write(pair.back_path + "/physical-sector-size", "2147483648");	// 2 GiB
	xen.xs_write(pair.back_path + "/discard-granularity", "0");
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	ASSERT_NE(FakeBlkmq::disk(), nullptr);
	const kapi_blkmq_config &c = FakeBlkmq::disk()->cfg;
	EXPECT_EQ(c.physical_block_size, 512u);
	EXPECT_TRUE(c.discard);
	EXPECT_EQ(c.discard_granularity, 512u);	// not 2 GiB
	EXPECT_TRUE(xen.fatal_errors(pair.front).empty());
}

TEST_F(BlkfrontTest, AbsurdBackendOffersAreClampedToOurs)
{
	be = std::make_unique<ScriptedBackend>(xen, pair, BackendOptions());
	be->offer();
	xen.xs_write(pair.back_path + "/max-ring-page-order", "31");
	xen.xs_write(pair.back_path + "/multi-queue-max-queues", "2147483648");
	ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_INITWAIT);
	ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_INITIALISED);
	EXPECT_EQ(key("ring-page-order"), "");	// our parameter: order 0
	EXPECT_EQ(key("multi-queue-num-queues"), "4");	// our max_queues 4
	be->connect();
	xen.xs_write(pair.back_path + "/feature-max-indirect-segments", "4294967295");
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	ASSERT_NE(FakeBlkmq::disk(), nullptr);
	EXPECT_EQ(FakeBlkmq::disk()->cfg.max_segments, 32u);	// our max_indirect_segments
	EXPECT_EQ(FakeBlkmq::disk()->cfg.nr_hw_queues, 4u);
}

TEST_F(BlkfrontTest, ZeroQueuesOfferedMeansOneRing)
{
	be = std::make_unique<ScriptedBackend>(xen, pair, BackendOptions());
	be->offer();
	xen.xs_write(pair.back_path + "/multi-queue-max-queues", "0");
	ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_INITWAIT);
	ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_INITIALISED);
	EXPECT_EQ(key("multi-queue-num-queues"), "");
	EXPECT_NE(key("ring-ref"), "");
}

TEST_F(BlkfrontTest, ResizeToAnAbsurdCapacityKeepsTheOldOne)
{
	bring_up();
	xen.xs_write(pair.back_path + "/sectors", "18446744073709551615");
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(FakeBlkmq::disk()->capacity_changes, 0u);
	EXPECT_NE(strstr(last_log(), "sectors exceed"), nullptr) << last_log();
	xen.xs_write(pair.back_path + "/sectors", "16384");
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(FakeBlkmq::disk()->capacity, 16384u);
}

// The engine's snapshot is the shared rule fed with our parameters.
TEST(BlkfrontSettings, SnapshotFeedsOurParametersToTheSharedRule)
{
	FakeBlkmq::reset();
	blkfront_params().max_indirect_segments = 100000;
	blkfront_params().max_queues = 64;
	blkfront_params().max_ring_page_order = -1;
	blkfront_params().feature_persistent = false;
	const negotiate::FrontendSnapshot s = blkfront::snapshot_settings(40);
	EXPECT_EQ(s.max_indirect_segments, 4096u);
	EXPECT_NE(strstr(last_log(), "max_indirect_segments=100000 is more than a request can describe; using 4096"),
		  nullptr) << last_log();
	// 4096, the in-tree maximum, is taken as is, without a word.
	blkfront_params().max_indirect_segments = 4096;
	const size_t logs = log_count();
	EXPECT_EQ(blkfront::snapshot_settings(40).max_indirect_segments, 4096u);
	EXPECT_EQ(log_count(), logs);
	EXPECT_EQ(s.max_queues, 32u);
	EXPECT_EQ(s.max_ring_page_order, 4u);
	EXPECT_FALSE(s.feature_persistent);
	EXPECT_TRUE(s.trusted);
	FakeBlkmq::reset();
}

TEST_F(BlkfrontTest, GarbageFeatureKeysFallBackToDefaults)
{
	handshake();
	be->connect();
	xen.xs_write(pair.back_path + "/feature-max-indirect-segments", "-1");
	xen.xs_write(pair.back_path + "/feature-persistent", "yes");
	xen.xs_write(pair.back_path + "/physical-sector-size", "99999999999999999999999");
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	ASSERT_NE(FakeBlkmq::disk(), nullptr);
	EXPECT_EQ(FakeBlkmq::disk()->cfg.max_segments, 11u);		// no indirect
	EXPECT_EQ(FakeBlkmq::disk()->cfg.physical_block_size, 512u);	// = sector-size
	EXPECT_NE(strstr(last_log(), "persistent grants: disabled;"), nullptr) << last_log();
}

TEST_F(BlkfrontTest, ConnectSurvivesEveryAllocationFailure)
{
	// One ring without indirect pages keeps the pool prefill small; its
	// page allocations are all one path, so past the first ones every
	// 37th is failed.
	blkfront_params().max_queues = 1;
	blkfront_params().max_indirect_segments = 11;
	be = std::make_unique<ScriptedBackend>(xen, pair);
	bool connected = false;
	for (size_t i = 0; i < 2000 && !connected; i += i < 200 ? 1 : 37) {
		be->offer();
		ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
		xbc_blkfront_otherend_changed(h, KAPI_XENBUS_INITWAIT);
		ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_INITIALISED);
		be->connect();
		const size_t live = alloc_stats().live;
		fail_allocs_after(i);
		xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
		clear_alloc_failure();
		connected = xen.device_state(pair.front) == KAPI_XENBUS_CONNECTED;
		if (!connected) {
			EXPECT_EQ(FakeBlkmq::disk(), nullptr) << "failed connect left a disk, i=" << i;
			// Rings configured before the failure keep their shadow
			// arrays and pools, a page and an entry per pool page
			// (freed at remove; the leak check sees it).
			EXPECT_LE(alloc_stats().live, live + 2 * 4 + 2 * pool().pages) << i;
		}
		remove_and_reset();
	}
	EXPECT_TRUE(connected);
}

TEST_F(BlkfrontTest, PurgeThreadStopsOnRequest)
{
	EXPECT_TRUE(run_thread_body_until_stop("xbc_blkfront"));
}

// The purge thread's first wait, then it is told to stop: its timeout
// says whether it sleeps until needed or wakes every 10 s.
unsigned long first_purge_wait()
{
	set_wait_hook([](void *) { set_thread_should_stop(true); }, nullptr);
	const size_t waits = thread_stats().waits;
	EXPECT_TRUE(run_thread_body("xbc_blkfront"));
	set_wait_hook(nullptr, nullptr);
	set_thread_should_stop(false);
	EXPECT_EQ(thread_stats().waits, waits + 1);
	return thread_stats().last_wait_timeout;
}

TEST_F(BlkfrontTest, PurgeThreadSleepsUntilADeviceUsesPersistentGrants)
{
	const unsigned long every_10s = 10ul * kHz;
	EXPECT_EQ(first_purge_wait(), KAPI_WAIT_FOREVER) << "no device";
	blkfront_params().feature_persistent = false;
	bring_up();
	EXPECT_EQ(first_purge_wait(), KAPI_WAIT_FOREVER) << "no persistent grants";
	remove_and_reset();
	blkfront_params().feature_persistent = true;
	const size_t wakes = thread_stats().wakes;
	bring_up();
	EXPECT_GT(thread_stats().wakes, wakes) << "the sleeping thread is woken";
	EXPECT_EQ(first_purge_wait(), every_10s);
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CLOSING);
	xbc_blkfront_remove(h);
	h = nullptr;
	EXPECT_EQ(first_purge_wait(), KAPI_WAIT_FOREVER) << "the device left";
}

TEST_F(BlkfrontTest, LaterConnectedIsAResize)
{
	bring_up();
	xen.xs_write(pair.back_path + "/sectors", "16384");
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(FakeBlkmq::disk()->capacity, 16384u);
	EXPECT_EQ(FakeBlkmq::disk()->capacity_changes, 1u);
	EXPECT_EQ(FakeBlkmq::disks_created(), 1u);
}

// --- data path

TEST_F(BlkfrontTest, WriteReadRoundTripWithPersistentGrants)
{
	bring_up();
	EXPECT_TRUE(be->persistent_used());
	const auto data = pattern(8192, 3);
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 16, 8192);
	w.fill(data);
	ASSERT_EQ(submit(w), 0);
	ASSERT_EQ(w->completions, 1);
	EXPECT_EQ(w->err, 0);
	EXPECT_EQ(memcmp(be->disk().data() + 16 * 512, data.data(), data.size()), 0);

	TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, 16, 8192);
	ASSERT_EQ(submit(r), 0);
	ASSERT_EQ(r->completions, 1);
	EXPECT_EQ(r->err, 0);
	EXPECT_EQ(r.data(), data);
}

TEST_F(BlkfrontTest, PersistentGrantsAreReusedNotRegranted)
{
	bring_up();
	const size_t grants_before = xen.gnttab().grants_made;
	for (unsigned i = 0; i < 20; i++) {
		TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, i * 8, 4096);
		w.fill(pattern(4096, i));
		ASSERT_EQ(submit(w), 0);
		ASSERT_EQ(w->err, 0);
	}
	// One page granted once, then reused: 19 reuses, 1 grant.
	EXPECT_EQ(xen.gnttab().grants_made - grants_before, 1u);
	const auto s = pool();
	EXPECT_EQ(s.grants_made, 1u);
	EXPECT_EQ(s.reuses, 19u);
	EXPECT_EQ(s.granted, 1u);
	EXPECT_EQ(s.in_use, 0u);
	EXPECT_EQ(be->persistent_mapped(), 1u);
	for (unsigned i = 0; i < 20; i++)
		EXPECT_EQ(memcmp(be->disk().data() + i * 4096, pattern(4096, i).data(), 4096), 0) << i;
}

TEST_F(BlkfrontTest, WithoutPersistentGrantsTheRequestPagesAreGrantedAndEnded)
{
	blkfront_params().feature_persistent = false;
	bring_up();
	EXPECT_FALSE(be->persistent_used());
	const size_t live = xen.gnttab().live_grants;
	const auto data = pattern(4096 * 3, 5);
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 4096 * 3);
	w.fill(data);
	ASSERT_EQ(submit(w), 0);
	EXPECT_EQ(w->err, 0);
	EXPECT_EQ(memcmp(be->disk().data(), data.data(), data.size()), 0);
	EXPECT_EQ(xen.gnttab().live_grants, live);	// every grant ended
	EXPECT_EQ(pool().grants_made, 0u);		// nothing bounced
	TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096 * 3);
	ASSERT_EQ(submit(r), 0);
	EXPECT_EQ(r.data(), data);
	EXPECT_EQ(xen.gnttab().live_grants, live);
}

TEST_F(BlkfrontTest, UntrustedBackendOnlySeesZeroedBouncePages)
{
	blkfront_params().feature_persistent = false;
	blkfront_params().trusted = false;
	BackendOptions o;
	o.persistent = false;
	bring_up(o);
	// The request's 512 bytes sit in a page full of other guest data.
	TestRequest w = TestRequest::pieces(KAPI_BLK_OP_WRITE, 0, {{1024, 512}});
	memset(kapi_page_address(w->pieces[0].page), 0x5a, KAPI_PAGE_SIZE);
	w.fill(pattern(512, 9));
	be->hold = true;
	ASSERT_EQ(submit(w), 0);
	const blkif::Request &seen = be->log().back();
	ASSERT_EQ(seen.nr_segments, 1);
	const auto *granted = static_cast<const uint8_t *>(xen.granted_page(seen.segments[0].gref.raw()));
	ASSERT_NE(granted, nullptr);
	EXPECT_NE(granted, kapi_page_address(w->pieces[0].page));
	for (unsigned i = 0; i < KAPI_PAGE_SIZE; i++) {
		if (i >= 1024 && i < 1536)
			continue;
		ASSERT_EQ(granted[i], 0) << "guest byte " << i << " exposed";
	}
	be->release();
	run();
	EXPECT_EQ(w->err, 0);
	EXPECT_EQ(memcmp(be->disk().data(), pattern(512, 9).data(), 512), 0);
	EXPECT_NE(strstr(last_log(), "bounce buffer: enabled"), nullptr);
}

TEST_F(BlkfrontTest, TrustedKeyZeroForcesBounce)
{
	blkfront_params().feature_persistent = false;
	xen.xs_write(pair.front_path + "/trusted", "0");
	bring_up();
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 4096);
	w.fill(pattern(4096, 12));
	be->hold = true;
	ASSERT_EQ(submit(w), 0);
	const void *granted = xen.granted_page(be->log().back().segments[0].gref.raw());
	EXPECT_NE(granted, kapi_page_address(w->pieces[0].page));
	be->release();
	run();
	EXPECT_EQ(w->err, 0);
	EXPECT_EQ(memcmp(be->disk().data(), pattern(4096, 12).data(), 4096), 0);
}

TEST_F(BlkfrontTest, ResumeOntoFewerQueuesSharesRings)
{
	blkfront_params().max_queues = 2;
	FakeBlkmq::set_online_cpus(2);
	bring_up();
	ASSERT_EQ(FakeBlkmq::disk()->cfg.nr_hw_queues, 2u);
	be->disconnect();
	BackendOptions o;
	o.max_queues = 1;	// the new host offers one queue
	be = std::make_unique<ScriptedBackend>(xen, pair, o);
	be->offer();
	ASSERT_EQ(xbc_blkfront_resume(h), 0);
	be->connect();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(be->nr_rings(), 1u);
	// Hardware queue 1 still works, over the one ring.
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 4096);
	w.fill(pattern(4096, 13));
	ASSERT_EQ(submit(w, 1), 0);
	EXPECT_EQ(w->err, 0);
	EXPECT_EQ(memcmp(be->disk().data(), pattern(4096, 13).data(), 4096), 0);
}

// The disk's limits follow the new backend: requests built for the old
// one's 32 segments would not fit a backend without indirect descriptors.
TEST_F(BlkfrontTest, ResumeOntoFewerSegmentsLowersTheDiskLimits)
{
	bring_up();
	ASSERT_EQ(FakeBlkmq::disk()->cfg.max_segments, 32u);
	be->disconnect();
	BackendOptions o;
	o.max_indirect_segments = 0;
	xen.xs_rm(pair.back_path + "/feature-max-indirect-segments");	// the new host's blkback
	be = std::make_unique<ScriptedBackend>(xen, pair, o);
	be->offer();
	ASSERT_EQ(xbc_blkfront_resume(h), 0);
	be->connect();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(FakeBlkmq::disk()->cfg.max_segments, 11u);
	EXPECT_EQ(FakeBlkmq::disk()->cfg.max_hw_sectors, 11u * 8);
	// Back onto a larger backend: up again, to what the disk began with.
	be->disconnect();
	be = std::make_unique<ScriptedBackend>(xen, pair);
	be->offer();
	ASSERT_EQ(xbc_blkfront_resume(h), 0);
	be->connect();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(FakeBlkmq::disk()->cfg.max_segments, 32u);
	write_lands(0, 32 * 4096, 24);
}

TEST_F(BlkfrontTest, IndirectDescriptorsCarryLargeRequests)
{
	bring_up();
	const auto data = pattern(32 * 4096, 11);
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 64, 32 * 4096);
	w.fill(data);
	ASSERT_EQ(submit(w), 0);
	EXPECT_EQ(w->err, 0);
	EXPECT_EQ(be->indirect_seen(), 1u);
	EXPECT_EQ(memcmp(be->disk().data() + 64 * 512, data.data(), data.size()), 0);
	TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, 64, 32 * 4096);
	ASSERT_EQ(submit(r), 0);
	EXPECT_EQ(r.data(), data);
}

// max_indirect_segments=4096, the in-tree maximum: one request of 4096
// segments (8 full indirect pages, 16 MiB) goes through whole.
TEST_F(BlkfrontTest, FourThousandNinetySixSegmentsInOneRequest)
{
	blkfront_params().max_indirect_segments = 4096;
	blkfront_params().max_queues = 1;
	BackendOptions o;
	o.max_indirect_segments = 4096;
	o.sectors = 65536;
	bring_up(o);
	EXPECT_EQ(h->fe->features().max_indirect_segments, 4096u);
	const uint32_t bytes = 4096 * 4096;
	const auto data = pattern(bytes, 12);
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, bytes);
	w.fill(data);
	ASSERT_EQ(submit(w), 0);
	EXPECT_EQ(w->err, 0);
	EXPECT_EQ(be->indirect_seen(), 1u);
	EXPECT_EQ(memcmp(be->disk().data(), data.data(), bytes), 0);
	TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, 0, bytes);
	ASSERT_EQ(submit(r), 0);
	EXPECT_EQ(r->err, 0);
	EXPECT_EQ(r.data(), data);
}

TEST_F(BlkfrontTest, ContiguousPiecesOfOnePageAreOneSegment)
{
	bring_up();
	TestRequest w = TestRequest::pieces(KAPI_BLK_OP_WRITE, 0, {{0, 512}, {512, 1024}, {1536, 512}}, true);
	w.fill(pattern(2048, 2));
	ASSERT_EQ(submit(w), 0);
	EXPECT_EQ(be->log().back().nr_segments, 1);
	EXPECT_EQ(be->log().back().segments[0].first_sect, 0);
	EXPECT_EQ(be->log().back().segments[0].last_sect, 3);
	EXPECT_EQ(memcmp(be->disk().data(), pattern(2048, 2).data(), 2048), 0);
}

TEST_F(BlkfrontTest, FullRingAnswersBusyAndRestartsWhenSpaceFrees)
{
	blkfront_params().feature_persistent = false;
	bring_up();
	be->hold = true;
	const uint32_t depth = FakeBlkmq::disk()->cfg.queue_depth;
	std::vector<TestRequest> reqs;
	for (uint32_t i = 0; i < depth; i++) {
		reqs.push_back(TestRequest::rw(KAPI_BLK_OP_READ, i * 8, 4096));
		ASSERT_EQ(submit(reqs.back()), 0) << i;
	}
	TestRequest extra = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	EXPECT_EQ(FakeBlkmq::dispatch(extra.get()), -err::kBusy);
	EXPECT_EQ(FakeBlkmq::disk()->hw_stops, 1u);
	const size_t restarts = FakeBlkmq::disk()->restarts;
	be->release();
	run();
	EXPECT_GT(FakeBlkmq::disk()->restarts, restarts);
	for (auto &r : reqs)
		EXPECT_EQ(r->completions, 1);
	be->hold = false;
	EXPECT_EQ(submit(extra), 0);
	EXPECT_EQ(extra->completions, 1);
}

// In-tree gnttab_request_free_callback: out of grant refs, the queue stops
// and the refs coming back restart it (not blk-mq's timed retry).
class GrantShortageTest : public BlkfrontTest {
protected:
	// One read in flight (held by the backend), then no ref left: the
	// next read stops its queue and arms the ring's free callback.
	void exhaust()
	{
		bring_up_holding();
		ASSERT_EQ(submit(first), 0);
		xen.set_grant_limit(xen.gnttab().live_grants);
		stops = FakeBlkmq::disk()->hw_stops;
		ASSERT_EQ(FakeBlkmq::dispatch(second.get()), -err::kBusy);
		EXPECT_EQ(FakeBlkmq::disk()->hw_stops, stops + 1);
		EXPECT_EQ(xen.gnttab().free_callbacks_armed, 1u);
	}

	TestRequest first = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	TestRequest second = TestRequest::rw(KAPI_BLK_OP_READ, 8, 4096);
	size_t stops = 0;
};

TEST_F(GrantShortageTest, RefsComingBackRestartTheQueue)
{
	exhaust();
	// Asking again while armed keeps the one registration.
	ASSERT_EQ(FakeBlkmq::dispatch(second.get()), -err::kBusy);
	EXPECT_EQ(xen.gnttab().free_callbacks_armed, 1u);
	const size_t restarts = FakeBlkmq::disk()->restarts;
	run_works();
	EXPECT_EQ(FakeBlkmq::disk()->restarts, restarts) << "restarted before any ref came back";
	be->release();
	run();	// the first read's grant ends: the callback queues the kick
	EXPECT_EQ(first->completions, 1);
	EXPECT_EQ(xen.gnttab().free_callbacks_run, 1u);
	run_works();
	EXPECT_EQ(FakeBlkmq::disk()->restarts, restarts + 1);
	be->hold = false;
	EXPECT_EQ(submit(second), 0);
	EXPECT_EQ(second->completions, 1);
	EXPECT_EQ(second->err, 0);
}

// The registration dies with the ring: FakeXen fails the test if a
// callback is still armed (it would run on a freed ring).
TEST_F(GrantShortageTest, RemoveCancelsTheCallback)
{
	exhaust();
	xbc_blkfront_remove(h);
	h = nullptr;
	EXPECT_EQ(xen.leftovers().find("free callback"), std::string::npos) << xen.leftovers();
	EXPECT_EQ(first->completions, 1);
	EXPECT_EQ(works_pending(), 0u);
}

// Pool pages come at connect (process context), not from the I/O path,
// and a shrinker gives the unused ones back: never one in use, one the
// backend maps, or the reserve a maximal request needs.
TEST_F(BlkfrontTest, PoolFilledAtConnectIsReclaimedUnderPressure)
{
	blkfront_params().max_queues = 1;
	bring_up();
	ASSERT_EQ(shrinkers_registered(), 1u);
	const uint32_t reserve = 32 + 1;	// 32 segments + their indirect page
	const GrantPoolStats filled = pool();
	EXPECT_EQ(filled.pages, 32u * reserve) << "every slot's pages at connect";
	EXPECT_EQ(filled.granted, 0u);
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 8192);
	w.fill(pattern(8192, 7));
	ASSERT_EQ(submit(w), 0);
	EXPECT_EQ(pool().granted, 2u);		// the backend keeps both mapped
	EXPECT_EQ(shrinkers_count(), filled.pages - reserve);
	const unsigned long freed = shrink_all(1u << 20);
	EXPECT_EQ(freed, filled.pages - reserve);
	const GrantPoolStats after = pool();
	EXPECT_EQ(after.reclaimed, freed);
	EXPECT_EQ(after.pages, reserve);
	EXPECT_EQ(after.granted, 2u) << "the two mapped pages stay";
	EXPECT_EQ(shrink_all(1u << 20), 0u) << "nothing beyond the reserve";
	EXPECT_EQ(xen.violations().size(), 0u);
	// The reserve carries a maximal request, with no allocation.
	TestRequest big = TestRequest::rw(KAPI_BLK_OP_WRITE, 64, 32 * 4096);
	big.fill(pattern(32 * 4096, 8));
	ASSERT_EQ(submit(big), 0);
	EXPECT_EQ(big->err, 0);
	EXPECT_EQ(memcmp(be->disk().data() + 64 * 512, pattern(32 * 4096, 8).data(), 32 * 4096), 0);
}

// The pool ran dry after a reclaim: the request is retried (blk-mq
// BLK_STS_RESOURCE) while a work item refills the pool in process context.
TEST_F(BlkfrontTest, DryPoolIsRefilledFromAWorkItem)
{
	blkfront_params().max_queues = 1;
	bring_up();
	(void)shrink_all(1u << 20);
	const uint32_t reserve = pool().pages;
	ASSERT_EQ(reserve, 33u);
	be->hold = true;
	TestRequest big = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 32 * 4096);
	big.fill(pattern(32 * 4096, 9));
	ASSERT_EQ(submit(big), 0);
	TestRequest small = TestRequest::rw(KAPI_BLK_OP_READ, 512, 4096);
	EXPECT_EQ(FakeBlkmq::dispatch(small.get()), -err::kAgain);
	EXPECT_EQ(works_pending(), 1u);
	EXPECT_EQ(pool().pages, reserve) << "the I/O path allocated";
	EXPECT_EQ(run_works(), 1u);
	EXPECT_GT(pool().pages, reserve);
	EXPECT_EQ(submit(small), 0);
	be->release();
	run();
	EXPECT_EQ(big->err, 0);
	EXPECT_EQ(small->completions, 1);
	EXPECT_EQ(small->err, 0);
}

class FullRingTest : public BlkfrontTest {
protected:
	// Every slot of ring 0 in flight, and one more request stopped its queue.
	void fill()
	{
		bring_up_holding();
		const uint32_t depth = FakeBlkmq::disk()->cfg.queue_depth;
		for (uint32_t i = 0; i < depth; i++) {
			reqs.push_back(TestRequest::rw(KAPI_BLK_OP_READ, i * 8, 4096));
			ASSERT_EQ(submit(reqs.back()), 0) << i;
		}
		ASSERT_EQ(FakeBlkmq::dispatch(extra.get()), -err::kBusy);
	}

	std::vector<TestRequest> reqs;
	TestRequest extra = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
};

// The waiting requests must reach queue_rq again, to be failed there.
TEST_F(FullRingTest, BreakingRestartsAStoppedQueue)
{
	fill();
	const size_t restarts = FakeBlkmq::disk()->restarts;
	be->push_raw_response(0, {blkif::RequestId(1000000), blkif::Op::kRead, blkif::RspStatus::kOkay});
	run();
	for (auto &r : reqs)
		EXPECT_EQ(r->err, -err::kIo);
	EXPECT_GT(FakeBlkmq::disk()->restarts, restarts);
	EXPECT_EQ(FakeBlkmq::dispatch(extra.get()), -err::kIo);
}

// Closing stopped every queue for good: a late completion must not undo it.
TEST_F(FullRingTest, CompletionAfterClosingLeavesQueuesStopped)
{
	fill();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CLOSING);
	const size_t restarts = FakeBlkmq::disk()->restarts;
	be->release();
	run();
	for (auto &r : reqs)
		EXPECT_EQ(r->completions, 1);
	EXPECT_EQ(FakeBlkmq::disk()->restarts, restarts);
}

TEST_F(BlkfrontTest, UnsupportedFlushAndDiscardAreDisabledAsInTree)
{
	bring_up();
	be->rewrite = [](const blkif::Request &req, blkif::Response *rsp) {
		if (req.data_op != blkif::Op::kRead && req.data_op != blkif::Op::kWrite)
			rsp->status = blkif::RspStatus::kEopnotsupp;
		return true;
	};
	TestRequest f = TestRequest::no_data(KAPI_BLK_OP_FLUSH);
	ASSERT_EQ(submit(f), 0);
	EXPECT_EQ(f->err, 0);			// in-tree completes it OK
	EXPECT_TRUE(FakeBlkmq::disk()->flush_disabled);
	TestRequest f2 = TestRequest::no_data(KAPI_BLK_OP_FLUSH);
	const size_t seen = be->requests_seen();
	ASSERT_EQ(submit(f2), 0);
	EXPECT_EQ(f2->completions, 1);
	EXPECT_EQ(be->requests_seen(), seen);	// not sent any more

	TestRequest d = TestRequest::no_data(KAPI_BLK_OP_DISCARD, 0, 8);
	ASSERT_EQ(submit(d), 0);
	EXPECT_EQ(d->err, -err::kOpNotSupp);
	EXPECT_TRUE(FakeBlkmq::disk()->discard_disabled);
	TestRequest d2 = TestRequest::no_data(KAPI_BLK_OP_DISCARD, 0, 8);
	EXPECT_EQ(FakeBlkmq::dispatch(d2.get()), -err::kOpNotSupp);
}

// In-tree completes a barrier answered EOPNOTSUPP as success even when it
// carried data: the write was never done. Only an empty flush may succeed.
TEST_F(BlkfrontTest, UnsupportedBarrierWithDataIsAnError)
{
	BackendOptions o;
	o.flush_cache = false;
	o.barrier = true;
	bring_up(o);
	be->rewrite = [](const blkif::Request &req, blkif::Response *rsp) {
		if (req.data_op == blkif::Op::kWriteBarrier)
			rsp->status = blkif::RspStatus::kEopnotsupp;
		return true;
	};
	TestRequest fua = TestRequest::rw(KAPI_BLK_OP_WRITE, 8, 4096, 0, KAPI_BLK_RQ_FUA);
	fua.fill(pattern(4096, 21));
	ASSERT_EQ(submit(fua), 0);
	EXPECT_EQ(be->log().back().data_op, blkif::Op::kWriteBarrier);
	EXPECT_EQ(fua->completions, 1);
	EXPECT_EQ(fua->err, -err::kIo);
	EXPECT_TRUE(FakeBlkmq::disk()->flush_disabled);	// and the feature goes
}

TEST_F(BlkfrontTest, UnsupportedBarrierWithoutDataSucceeds)
{
	BackendOptions o;
	o.flush_cache = false;
	o.barrier = true;
	bring_up(o);
	be->rewrite = [](const blkif::Request &, blkif::Response *rsp) {
		rsp->status = blkif::RspStatus::kEopnotsupp;
		return true;
	};
	TestRequest f = TestRequest::no_data(KAPI_BLK_OP_FLUSH);
	ASSERT_EQ(submit(f), 0);
	EXPECT_EQ(be->log().back().data_op, blkif::Op::kWriteBarrier);
	EXPECT_EQ(f->err, 0);
	EXPECT_TRUE(FakeBlkmq::disk()->flush_disabled);
}

// dm-multipath fails a path over on IOERR, not on NOTSUPP (in-tree: IOERR).
TEST_F(BlkfrontTest, UnsupportedReadOrWriteIsAnIoError)
{
	bring_up();
	be->rewrite = [](const blkif::Request &, blkif::Response *rsp) {
		rsp->status = blkif::RspStatus::kEopnotsupp;
		return true;
	};
	TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	ASSERT_EQ(submit(r), 0);
	EXPECT_EQ(r->err, -err::kIo);
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 4096);
	ASSERT_EQ(submit(w), 0);
	EXPECT_EQ(w->err, -err::kIo);
}

TEST_F(BlkfrontTest, DiscardReachesTheBackend)
{
	bring_up();
	memset(be->disk().data(), 0xff, 8192);
	TestRequest d = TestRequest::no_data(KAPI_BLK_OP_DISCARD, 0, 8);
	ASSERT_EQ(submit(d), 0);
	EXPECT_EQ(d->err, 0);
	EXPECT_EQ(be->log().back().op, blkif::Op::kDiscard);
	EXPECT_EQ(be->disk()[0], 0);
	EXPECT_EQ(be->disk()[4095], 0);
	EXPECT_EQ(be->disk()[4096], 0xff);
	TestRequest s = TestRequest::no_data(KAPI_BLK_OP_SECURE_ERASE, 0, 8);
	EXPECT_EQ(FakeBlkmq::dispatch(s.get()), -err::kOpNotSupp);	// not offered
}

// --- hostile backends

class HostileBackendTest : public BlkfrontTest {
protected:
	// Two requests in flight, held by the backend.
	void two_in_flight()
	{
		bring_up();
		be->hold = true;
		a = std::make_unique<TestRequest>(TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096));
		b = std::make_unique<TestRequest>(TestRequest::rw(KAPI_BLK_OP_WRITE, 8, 4096));
		ASSERT_EQ(submit(*a), 0);
		ASSERT_EQ(submit(*b), 0);
		ASSERT_EQ(be->log().size(), 2u);
	}

	void expect_broken()
	{
		EXPECT_EQ((*a)->completions, 1);
		EXPECT_EQ((*b)->completions, 1);
		EXPECT_EQ((*a)->err, -err::kIo);
		EXPECT_EQ((*b)->err, -err::kIo);
		TestRequest c = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
		EXPECT_EQ(FakeBlkmq::dispatch(c.get()), -err::kIo);
		EXPECT_NE(strstr(last_log(), "disabled for further use"), nullptr) << last_log();
	}

	std::unique_ptr<TestRequest> a, b;
};

TEST_F(HostileBackendTest, ResponseIdOutOfRangeBreaksTheRing)
{
	two_in_flight();
	be->push_raw_response(0, {blkif::RequestId(1000000), blkif::Op::kRead, blkif::RspStatus::kOkay});
	run();
	expect_broken();
	EXPECT_NE(strstr(last_log(), "ring 0 disabled"), nullptr);
}

TEST_F(HostileBackendTest, ResponseForAnIdNotInFlightBreaksTheRing)
{
	two_in_flight();
	// Ids 0 and 1 are in flight; 5 is in range but free.
	be->push_raw_response(0, {blkif::RequestId(5), blkif::Op::kRead, blkif::RspStatus::kOkay});
	run();
	expect_broken();
}

TEST_F(HostileBackendTest, DuplicateCompletionIsCaughtAndNothingCompletesTwice)
{
	two_in_flight();
	const blkif::Request first = be->log()[0];
	be->push_raw_response(0, {first.id, first.data_op, blkif::RspStatus::kOkay});
	be->push_raw_response(0, {first.id, first.data_op, blkif::RspStatus::kOkay});
	run();
	EXPECT_EQ((*a)->completions, 1);
	EXPECT_EQ((*a)->err, 0);		// the genuine answer
	EXPECT_EQ((*b)->completions, 1);
	EXPECT_EQ((*b)->err, -err::kIo);	// failed with the broken ring
	EXPECT_EQ(FakeBlkmq::double_completions(), 0u);
}

TEST_F(HostileBackendTest, WrongOperationBreaksTheRing)
{
	two_in_flight();
	const blkif::Request first = be->log()[0];	// a read
	be->push_raw_response(0, {first.id, blkif::Op::kWrite, blkif::RspStatus::kOkay});
	run();
	expect_broken();
}

TEST_F(HostileBackendTest, ResponseProducerOverflowBreaksTheRing)
{
	two_in_flight();
	be->set_rsp_prod(0, 3);	// three responses to two requests
	run();
	expect_broken();
	EXPECT_NE(strstr(last_log(), "illegal number of responses"), nullptr);
}

TEST_F(HostileBackendTest, UnknownStatusFailsOnlyThatRequest)
{
	two_in_flight();
	const blkif::Request first = be->log()[0];
	be->push_raw_response(0, {first.id, first.data_op, static_cast<blkif::RspStatus>(77)});
	be->ring(0).held.erase(be->ring(0).held.begin());	// answered by hand
	run();
	EXPECT_EQ((*a)->err, -err::kIo);
	EXPECT_EQ((*b)->completions, 0);
	be->release();
	run();
	EXPECT_EQ((*b)->completions, 1);
	EXPECT_EQ((*b)->err, 0);
}

// XSA-396: a request whose page the backend still maps after its answer is
// never completed (the page would go back to the page cache or an O_DIRECT
// buffer the backend can still write into); it is held, the device is
// broken, and it fails only once the backend lets go.
class StuckGrantTest : public HostileBackendTest {
protected:
	void SetUp() override
	{
		HostileBackendTest::SetUp();
		blkfront_params().feature_persistent = false;
	}

	// The backend maps the read's page writable and keeps it.
	ScriptedBackend::Mapping keep_read_mapped()
	{
		return be->map(be->log()[0].segments[0].gref.raw(), false);
	}

	// Both in flight, then the backend answers, keeping the read's page:
	// the read is held.
	ScriptedBackend::Mapping hold_the_read()
	{
		two_in_flight();
		auto m = keep_read_mapped();
		be->release();
		run();
		EXPECT_EQ((*a)->completions, 0);	// held
		return m;
	}

	// The backend scribbles into the guest page through its mapping.
	static void scribble(ScriptedBackend::Mapping m)
	{
		memset(kapi_page_address(m.page), 0xee, KAPI_PAGE_SIZE);
	}

	void expect_held_then_failed_after_unmap(ScriptedBackend::Mapping m)
	{
		EXPECT_EQ((*a)->completions, 0) << "completed while the backend maps its page";
		scribble(m);
		blkfront::driver_instance()->purge_all();	// still mapped: still held
		EXPECT_EQ((*a)->completions, 0);
		EXPECT_EQ(FakeBlkmq::pages_held(), 0u);
		be->unmap(m);
		blkfront::driver_instance()->purge_all();
		EXPECT_EQ((*a)->completions, 1);
		EXPECT_EQ((*a)->err, -err::kIo);
		EXPECT_TRUE(xen.violations().empty()) << xen.violations().front();
	}

	// The last resort: the read failed, its page pinned for the deferred
	// end-access, which frees it only once the backend unmaps.
	void expect_leaked_pinned(ScriptedBackend::Mapping m)
	{
		EXPECT_EQ((*a)->completions, 1);
		EXPECT_EQ((*a)->err, -err::kIo);
		EXPECT_EQ(FakeBlkmq::pages_held(), 1u);
		EXPECT_GE(xen.gnttab().deferred_pending, 1u);
		scribble(m);
		be->unmap(m);
		a.reset();
		EXPECT_EQ(FakeBlkmq::pages_held(), 0u);
		EXPECT_TRUE(xen.violations().empty());
	}

	// del_gendisk waits for every request of the disk: the held read must
	// be failed before it.
	void expect_failed_before_del_gendisk()
	{
		FakeBlkmq::on_disk_del([this] {
			freed_disk = true;
			EXPECT_EQ((*a)->completions, 1) << "del_gendisk would wait for it forever";
		});
	}
	bool freed_disk = false;
};

// A hostile backend answers the write-back of a healthy remove but keeps
// the page mapped: the request cannot wait for the purge (the device left
// the purge list), and del_gendisk waits for it. It gets the last resort at
// once: failed, its page pinned until the backend unmaps.
TEST_F(StuckGrantTest, HeldDuringRemoveGetsTheLastResortAtOnce)
{
	two_in_flight();
	ScriptedBackend::Mapping m{nullptr, 0};
	bool deleted = false;
	FakeBlkmq::on_disk_del([&] {
		m = keep_read_mapped();
		be->release();
		run();
		deleted = true;
		EXPECT_EQ((*a)->completions, 1) << "del_gendisk would wait for it forever";
		EXPECT_EQ((*b)->completions, 1);
	});
	xbc_blkfront_remove(h);
	h = nullptr;
	ASSERT_TRUE(deleted);
	expect_leaked_pinned(m);
}

TEST_F(StuckGrantTest, HeldFromTheResponsePath)
{
	two_in_flight();
	auto m = keep_read_mapped();
	be->release();
	run();
	EXPECT_EQ((*b)->completions, 1);
	EXPECT_EQ((*b)->err, -err::kIo);	// failed with the broken ring
	TestRequest c = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	EXPECT_EQ(FakeBlkmq::dispatch(c.get()), -err::kIo);
	EXPECT_NE(strstr(last_log(), "disabled for further use"), nullptr) << last_log();
	expect_held_then_failed_after_unmap(m);
}

TEST_F(StuckGrantTest, HeldWhenTheRingBreaks)
{
	two_in_flight();
	auto m = keep_read_mapped();
	be->push_raw_response(0, {blkif::RequestId(1000000), blkif::Op::kRead, blkif::RspStatus::kOkay});
	run();
	EXPECT_EQ((*b)->completions, 1);
	EXPECT_EQ((*b)->err, -err::kIo);
	expect_held_then_failed_after_unmap(m);
}

TEST_F(StuckGrantTest, HeldAtResumeNotRequeued)
{
	two_in_flight();
	auto m = keep_read_mapped();
	ASSERT_EQ(xbc_blkfront_resume(h), 0);
	EXPECT_FALSE((*a)->bios_detached);
	EXPECT_EQ((*a)->requeues, 0);
	EXPECT_TRUE((*b)->bios_detached);	// the clean one goes back as bios
	expect_held_then_failed_after_unmap(m);
}

// configure() zeroes the SegSlots a held request still needs (its grant
// would be ended as ref 0) and un-breaks the ring: it refuses instead.
TEST_F(StuckGrantTest, ConfigureRefusesARingThatHoldsARequest)
{
	auto m = hold_the_read();
	ASSERT_EQ((*a)->completions, 0);
	blkfront::IoRing *ring = h->fe->ring(0);
	ASSERT_NE(ring, nullptr);
	ASSERT_EQ(ring->held(), 1u);
	blkfront::Features f = h->fe->features();
	f.max_indirect_segments = f.max_indirect_segments ? 0 : 32;	// new SegSlots
	EXPECT_EQ(ring->configure(f).code(), -err::kBusy);
	EXPECT_TRUE(ring->is_broken());
	expect_held_then_failed_after_unmap(m);
}

// A request held at suspend broke only the old connection (its ring is
// kept aside): what is dispatched before the reconnect waits for it.
TEST_F(StuckGrantTest, ResumeClearsTheBrokenState)
{
	two_in_flight();
	auto m = keep_read_mapped();
	ASSERT_EQ(xbc_blkfront_resume(h), 0);
	TestRequest c = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	EXPECT_EQ(FakeBlkmq::dispatch(c.get()), -err::kBusy) << "failed instead of waiting to reconnect";
	EXPECT_EQ(c->completions, 0);
	expect_held_then_failed_after_unmap(m);
}

// del_gendisk waits for every request of the disk: one held in a ring kept
// aside at a resume must get the last resort before, or remove hangs.
TEST_F(StuckGrantTest, RemoveAfterResumeDoesNotWaitForAHeldRequest)
{
	two_in_flight();
	auto m = keep_read_mapped();
	ASSERT_EQ(xbc_blkfront_resume(h), 0);
	be->disconnect();
	be = std::make_unique<ScriptedBackend>(xen, pair);
	be->offer();
	be->connect();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_CONNECTED);
	ASSERT_EQ((*a)->completions, 0);
	expect_failed_before_del_gendisk();
	xbc_blkfront_remove(h);
	h = nullptr;
	EXPECT_TRUE(freed_disk);
	expect_leaked_pinned(m);
}

TEST_F(StuckGrantTest, NewDiskAfterClosingDoesNotWaitForAHeldRequest)
{
	auto m = hold_the_read();
	ASSERT_EQ((*a)->completions, 0);
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CLOSING);
	be->disconnect();
	expect_failed_before_del_gendisk();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_TRUE(freed_disk);
	expect_leaked_pinned(m);
}

TEST_F(StuckGrantTest, RemoveLeaksThePagePinnedAsALastResort)
{
	two_in_flight();
	auto m = keep_read_mapped();
	xbc_blkfront_remove(h);
	h = nullptr;
	EXPECT_NE(strstr(last_log(), "leaking"), nullptr) << last_log();
	expect_leaked_pinned(m);
}

// --- lifecycle

TEST_F(BlkfrontTest, UnbindAndRebindReconnects)
{
	bring_up();
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 4096);
	w.fill(pattern(4096, 4));
	ASSERT_EQ(submit(w), 0);

	// Unbind: remove, then xenbus says Closed; blkback disconnects.
	xbc_blkfront_remove(h);
	h = nullptr;
	kapi_xenbus_switch_state(pair.front, KAPI_XENBUS_CLOSED);
	be->disconnect();
	kapi_xenbus_switch_state(pair.back, KAPI_XENBUS_CLOSED);
	EXPECT_EQ(FakeBlkmq::disks_alive(), 0u);

	// Rebind: our probe sets Initialising; the backend still says Closed.
	ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
	EXPECT_EQ(*xen.xs_read(pair.front_path + "/state"), "1");
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CLOSED);	// stale: ignored
	EXPECT_EQ(*xen.xs_read(pair.front_path + "/state"), "1");
	be->offer();	// blkback: frontend Initialising while Closed -> InitWait
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_INITWAIT);
	ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_INITIALISED);
	be->connect();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	ASSERT_NE(FakeBlkmq::disk(), nullptr);
	TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	ASSERT_EQ(submit(r), 0);
	EXPECT_EQ(r.data(), pattern(4096, 4));
}

TEST_F(BlkfrontTest, ResumeReissuesWhatWasInFlight)
{
	bring_up();
	be->hold = true;
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 32, 4096);
	w.fill(pattern(4096, 6));
	ASSERT_EQ(submit(w), 0);
	TestRequest fua = TestRequest::rw(KAPI_BLK_OP_WRITE, 64, 4096, 0, KAPI_BLK_RQ_FUA);
	fua.fill(pattern(4096, 7));
	ASSERT_EQ(submit(fua), 0);
	ASSERT_EQ(w->completions, 0);
	ASSERT_EQ(fua->completions, 0);

	// Save/restore: the old backend is gone with its mappings.
	be->disconnect();
	ASSERT_EQ(xbc_blkfront_resume(h), 0);
	// The plain write's bios wait to be resubmitted (and re-split); its
	// request ended empty. The FUA write carries its flush: requeued whole.
	EXPECT_TRUE(w->bios_detached);
	EXPECT_EQ(w->completions, 1);
	EXPECT_EQ(w->err, 0);
	EXPECT_EQ(fua->requeues, 1);
	EXPECT_EQ(fua->completions, 0);
	EXPECT_EQ(FakeBlkmq::disk()->bios_resubmitted, 0u);
	EXPECT_EQ(xen.device_state(pair.front), KAPI_XENBUS_INITIALISED);

	BackendOptions o;
	o.persistent = false;	// the new host differs
	be = std::make_unique<ScriptedBackend>(xen, pair, o);
	be->offer();
	be->connect();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(xen.device_state(pair.front), KAPI_XENBUS_CONNECTED);
	EXPECT_GT(FakeBlkmq::disk()->requeue_kicks, 0u);
	EXPECT_EQ(FakeBlkmq::disk()->bios_resubmitted, 1u);
	EXPECT_EQ(FakeBlkmq::disks_created(), 1u);
	ASSERT_EQ(submit(fua), 0);	// blk-mq dispatches the requeued request
	EXPECT_EQ(fua->completions, 1);
	EXPECT_EQ(fua->err, 0);
	EXPECT_EQ(be->log().back().op, blkif::Op::kFlushDiskCache);
	EXPECT_EQ(memcmp(be->disk().data() + 64 * 512, pattern(4096, 7).data(), 4096), 0);
	EXPECT_NE(strstr(last_log(), "persistent grants: disabled;"), nullptr) << last_log();
}

// Flush, FUA and discard were requeued at the resume; nothing kicks them
// if the backend never comes back, and del_gendisk would wait for ever.
// A resume that could not make new rings leaves the disk between rings.
// Stopping a queue there races with connect's restart (which may already
// have run): blk-mq retries later instead (BLK_STS_RESOURCE).
TEST_F(BlkfrontTest, BetweenRingsTheQueueIsRetriedNotStopped)
{
	bring_up();
	fail_allocs_after(0);
	EXPECT_NE(xbc_blkfront_resume(h), 0);
	clear_alloc_failure();
	ASSERT_NE(FakeBlkmq::disk(), nullptr);
	const size_t stops = FakeBlkmq::disk()->hw_stops;
	TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	EXPECT_EQ(FakeBlkmq::dispatch(r.get()), -err::kAgain);
	EXPECT_EQ(FakeBlkmq::disk()->hw_stops, stops) << "stopped a queue no one may restart";
	EXPECT_EQ(r->completions, 0);
}

TEST_F(BlkfrontTest, RemoveAfterAResumeThatNeverReconnectedDoesNotHang)
{
	bring_up();
	be->hold = true;
	TestRequest fua = TestRequest::rw(KAPI_BLK_OP_WRITE, 64, 4096, 0, KAPI_BLK_RQ_FUA);
	TestRequest f = TestRequest::no_data(KAPI_BLK_OP_FLUSH);
	TestRequest d = TestRequest::no_data(KAPI_BLK_OP_DISCARD, 0, 8);
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 4096);
	for (TestRequest *r : {&fua, &f, &d, &w})
		ASSERT_EQ(submit(*r), 0);
	be->disconnect();
	ASSERT_EQ(xbc_blkfront_resume(h), 0);
	EXPECT_EQ(fua->requeues + f->requeues + d->requeues, 3);
	EXPECT_EQ(FakeBlkmq::disk()->requeued_unkicked, 3u);
	// The fake's disk_del checks nothing is left on the requeue list.
	xbc_blkfront_remove(h);
	h = nullptr;
	EXPECT_EQ(FakeBlkmq::disks_alive(), 0u);
}

TEST_F(BlkfrontTest, PurgeRevokesGrantsTheBackendDropped)
{
	bring_up();
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 8192);
	ASSERT_EQ(submit(w), 0);
	EXPECT_EQ(pool().granted, 2u);
	const uint32_t pages = pool().pages;
	blkfront::driver_instance()->purge_all();
	EXPECT_EQ(pool().revocations, 0u);	// still mapped: kept
	be->disconnect();			// the backend lets them go
	blkfront::driver_instance()->purge_all();
	EXPECT_EQ(pool().revocations, 2u);
	EXPECT_EQ(pool().granted, 0u);
	EXPECT_EQ(pool().pages, pages);		// pages kept for re-granting
}

TEST_F(BlkfrontTest, BackendClosingKillsTheDisk)
{
	bring_up();
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CLOSING);
	EXPECT_TRUE(FakeBlkmq::disk()->dead);
	EXPECT_EQ(xen.device_state(pair.front), KAPI_XENBUS_CLOSED);
}

// HVM: no PV disk without a device-type, and never a CD-ROM (in-tree).
TEST_F(BlkfrontTest, HvmProbeWantsADiskDeviceType)
{
	FakeBlkmq::set_hvm(true);
	xbc_blkfront *dev = nullptr;
	xen.xs_rm(pair.front_path + "/device-type");
	EXPECT_EQ(xbc_blkfront_probe(pair.front, &dev), -err::kNoDev);
	xen.xs_write(pair.front_path + "/device-type", "cdrom");
	EXPECT_EQ(xbc_blkfront_probe(pair.front, &dev), -err::kNoDev);
	xen.xs_write(pair.front_path + "/device-type", "disk");
	ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
}

TEST_F(BlkfrontTest, PvProbeNeedsNoDeviceType)
{
	xen.xs_rm(pair.front_path + "/device-type");
	ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
}

// In-tree reads virtual-device-ext whenever virtual-device does not scan as
// a number, not only when it is absent; with neither, the probe fails.
TEST_F(BlkfrontTest, ProbeFallsBackToVirtualDeviceExtWhenUnreadable)
{
	const std::string vdev = *xen.xs_read(pair.front_path + "/virtual-device");
	xen.xs_write(pair.front_path + "/virtual-device", "xvda");
	xbc_blkfront *dev = nullptr;
	EXPECT_EQ(xbc_blkfront_probe(pair.front, &dev), -err::kNoEnt);
	ASSERT_FALSE(xen.fatal_errors(pair.front).empty());
	EXPECT_EQ(xen.fatal_errors(pair.front).back().msg, "reading virtual-device");
	xen.xs_write(pair.front_path + "/virtual-device-ext", vdev);
	ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
	EXPECT_STREQ(h->fe->name(), "xvda");
}

// Probe puts a state node left at Closed back to Initialising (now read
// through the typed layer).
TEST_F(BlkfrontTest, ProbeResetsAStaleStateNode)
{
	xen.xs_write(pair.front_path + "/state", "6");
	ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
	EXPECT_EQ(*xen.xs_read(pair.front_path + "/state"), "1");
}

// Closing killed the disk for good (in-tree). A backend that comes back to
// Connected gets a new disk over new rings; the old disk's requests fail
// and its rings go only with its queues quiesced.
TEST_F(BlkfrontTest, ClosingThenConnectedAgainReconnectsWithANewDisk)
{
	bring_up();
	TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, 0, 4096);
	w.fill(pattern(4096, 31));
	ASSERT_EQ(submit(w), 0);
	be->hold = true;
	TestRequest stuck = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	ASSERT_EQ(submit(stuck), 0);
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CLOSING);
	ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_CLOSED);
	ASSERT_TRUE(FakeBlkmq::disk()->dead);

	be->disconnect();
	be->hold = false;
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(stuck->completions, 1);
	EXPECT_EQ(stuck->err, -err::kIo);
	EXPECT_EQ(FakeBlkmq::disks_created(), 2u);
	EXPECT_EQ(FakeBlkmq::disks_alive(), 1u);
	ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_CONNECTED);
	ASSERT_NE(FakeBlkmq::disk(), nullptr);
	EXPECT_FALSE(FakeBlkmq::disk()->dead);
	EXPECT_TRUE(FakeBlkmq::disk()->added);
	be->connect();	// the backend maps the new rings
	TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	ASSERT_EQ(submit(r), 0);
	EXPECT_EQ(r->err, 0);
	EXPECT_EQ(r.data(), pattern(4096, 31));
}

// The backend vanished under I/O (its driver domain died; the toolstack
// removed its directory, so xenbus reads its state as Unknown): nothing
// will ever answer. What the rings hold must fail now, not at remove, and
// the dead disk must go.
TEST_F(BlkfrontTest, BackendVanishingFailsWhatTheRingsHold)
{
	bring_up();
	be->hold = true;
	TestRequest stuck = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	ASSERT_EQ(submit(stuck), 0);
	ASSERT_EQ(stuck->completions, 0);
	be->disconnect();	// a dead domain's mappings are gone
	xen.xs_rm(pair.back_path);
	xbc_blkfront_otherend_changed(h, KAPI_XENBUS_UNKNOWN);
	EXPECT_EQ(stuck->completions, 1);
	EXPECT_EQ(stuck->err, -err::kIo);
	EXPECT_EQ(FakeBlkmq::disks_alive(), 0u);
	EXPECT_EQ(xen.device_state(pair.front), KAPI_XENBUS_CLOSED);
	xbc_blkfront_remove(h);
	h = nullptr;
}

// While remove waits in del_gendisk (a stalled backend), the purge thread
// and xenwatch must not block on this device: the purge thread holds the
// driver mutex, which every other vbd's probe and rmmod need.
TEST_F(BlkfrontTest, RemoveWaitingInDelGendiskBlocksNoOne)
{
	bring_up();
	bool ran = false;
	FakeBlkmq::on_disk_del([&] {
		ran = true;
		const size_t before = mutex_self_deadlocks();
		blkfront::driver_instance()->purge_all();
		xbc_blkfront_otherend_changed(h, KAPI_XENBUS_CLOSING);
		EXPECT_EQ(mutex_self_deadlocks(), before) << "would block on the removing device";
	});
	xbc_blkfront_remove(h);
	h = nullptr;
	EXPECT_TRUE(ran);
}

// A new segment count reallocates the ring's SegSlots: the old array is a
// kvzalloc, and vfree may sleep, so it is freed after the ring lock.
TEST_F(BlkfrontTest, ConfigureFreesTheOldSegmentsOutsideTheRingLock)
{
	bring_up();
	blkfront::IoRing *ring = h->fe->ring(0);
	ASSERT_NE(ring, nullptr);
	blkfront::Features f = h->fe->features();
	f.max_indirect_segments = f.max_indirect_segments ? 0 : 32;
	const size_t sleeps = sleeps_in_atomic();
	ASSERT_TRUE(ring->configure(f).is_ok());
	EXPECT_EQ(sleeps_in_atomic(), sleeps) << "slept under the ring spinlock";
	f = h->fe->features();
	ASSERT_TRUE(ring->configure(f).is_ok());	// back to what the disk was made for
	TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096);
	ASSERT_EQ(submit(r), 0);
	EXPECT_EQ(r->err, 0);
}

// A completion on another CPU must never reach the disk after put_disk:
// remove unbinds the rings' event channels between del_gendisk and put
// (in-tree order). Here the ring was full, so the completion would restart
// the queue the frontend stopped, on freed memory.
TEST_F(BlkfrontTest, RemoveUnbindsTheRingsBeforePuttingTheDisk)
{
	FakeBlkmq::set_online_cpus(1);
	bring_up();
	be->hold = true;
	std::vector<std::unique_ptr<TestRequest>> rqs;
	int rc = 0;
	while (rc == 0 && rqs.size() < 1000) {
		rqs.push_back(std::make_unique<TestRequest>(TestRequest::rw(KAPI_BLK_OP_READ, 0, 4096)));
		rc = FakeBlkmq::dispatch(rqs.back()->get());
		run();
	}
	ASSERT_EQ(rc, -err::kBusy) << "the ring never filled";
	FakeBlkmq::on_disk_del([&] { be->release(); });	// answered, irq not yet run
	bool put = false;
	FakeBlkmq::on_disk_put([&] {
		put = true;
		xen.run_pending_irqs();
	});
	xbc_blkfront_remove(h);
	h = nullptr;
	EXPECT_TRUE(put);
	for (auto &r : rqs)
		EXPECT_LE((*r)->completions, 1);
}

TEST_F(BlkfrontTest, ProbeFailsCleanlyAtEveryAllocation)
{
	be = std::make_unique<ScriptedBackend>(xen, pair);
	be->offer();
	for_each_alloc_failure([&](bool expect_success) {
		xbc_blkfront *dev = nullptr;
		const int rc = xbc_blkfront_probe(pair.front, &dev);
		if (rc == 0) {
			xbc_blkfront_otherend_changed(dev, KAPI_XENBUS_INITWAIT);
			if (expect_success) {
				EXPECT_EQ(xen.device_state(pair.front), KAPI_XENBUS_INITIALISED);
			}
			xbc_blkfront_remove(dev);
		} else {
			EXPECT_FALSE(expect_success);
		}
		xen.xs_write(pair.front_path + "/state", "1");
		kapi_xenbus_switch_state(pair.front, KAPI_XENBUS_INITIALISING);
	});
}

} // namespace
