// SPDX-License-Identifier: GPL-2.0-only
// Our frontend against our backend: the real blkfront engine (Frontend,
// IoRing) and the real blkback engine (Backend, BackendRing) connected
// through the fake Xen (one xenstore, grant table and event channels), the
// fake blk-mq on the frontend side and a fake disk behind the backend. The
// protocol then lives in the engines alone, and an interop fault shows up
// here in milliseconds instead of in a Xen boot. The scripted peers
// (blkfront_backend.hpp, blkback_harness.hpp) remain for hostile behaviour.
//
// The test plays xenbus and the schedulers: the frontend's otherend
// callback runs from a watch on the backend's state node, as xenbus does
// (so a backend rewriting its state, as a resize does, reaches it too);
// each state the frontend switches to reaches the backend in order; the
// test runs watches, irqs, the backend rings' thread bodies (run_once), bio
// completions and work items, until nothing moves.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include "blkback/backend.hpp"
#include "blkback/backend_ring.hpp"
#include "blkfront/engine.h"
#include "blkfront/entry.h"
#include "support/fake_blkback.hpp"
#include "support/fake_blkmq.hpp"
#include "support/fake_thread.hpp"
#include "support/fake_xen.hpp"
#include "support/kapi_host.hpp"

using namespace xbc;
using namespace xbc::host;

namespace {

constexpr uint32_t kMajor = 8;
constexpr uint32_t kMinor = 16;

std::vector<uint8_t> pattern(size_t n, unsigned seed)
{
	std::vector<uint8_t> v(n);
	for (size_t i = 0; i < n; i++)
		v[i] = uint8_t((i * 29 + seed * 101 + (i >> 12)) & 0xff);
	return v;
}

struct PairOptions {
	bool front_persistent = true;	// blkfront's feature_persistent
	bool back_persistent = true;	// blkback's feature_persistent
	unsigned front_queues = 1;	// blkfront's max_queues
	int back_ring_order = 4;	// blkback's max_ring_page_order
	int front_ring_order = 0;	// blkfront's max_ring_page_order
};

class PairTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		FakeBlkmq::reset();
		reset_blkback_params();
		ASSERT_EQ(xbc_blkfront_init(), 0);
		disk_ = &xen.add_disk(kMajor, kMinor);
		pair = xen.add_vbd_pair(1, 0, 51712);
	}

	void TearDown() override
	{
		if (h)
			disconnect();
		xbc_blkfront_exit();
		EXPECT_EQ(FakeBlkmq::double_completions(), 0u);
		EXPECT_EQ(FakeBlkmq::disks_alive(), 0u);
	}

	void bring_up(const PairOptions &o = PairOptions())
	{
		blkfront_params().feature_persistent = o.front_persistent;
		blkfront_params().max_queues = o.front_queues;
		blkfront_params().max_ring_page_order = o.front_ring_order;
		blkback_params().feature_persistent = o.back_persistent;
		blkback_params().max_ring_page_order = o.back_ring_order;

		auto b = blkback::Backend::probe(pair.back);
		ASSERT_TRUE(b.is_ok()) << b.status().code();
		be = b.take();
		// The hotplug script: the device behind the vbd.
		xen.xs_write(pair.back_path + "/physical-device", physical_);
		ASSERT_EQ(xbc_blkfront_probe(pair.front, &h), 0);
		ASSERT_EQ(kapi_xenbus_watch(pair.front, (pair.back_path + "/state").c_str(),
					    &PairTest::on_backend_state, this, &back_watch_),
			  0);
		run();
		ASSERT_EQ(xen.device_state(pair.back), KAPI_XENBUS_CONNECTED);
		ASSERT_EQ(xen.device_state(pair.front), KAPI_XENBUS_CONNECTED);
		ASSERT_NE(FakeBlkmq::disk(), nullptr);
		ASSERT_TRUE(FakeBlkmq::disk()->added);
	}

	// The guest unplugs the disk: xenbus_dev_remove calls the driver's
	// remove, then switches the frontend to Closed; the backend sees it
	// Closed and lets go, then the toolstack removes the backend.
	void disconnect()
	{
		kapi_xenbus_unwatch(back_watch_);
		back_watch_ = nullptr;
		xbc_blkfront_remove(h);
		h = nullptr;
		ASSERT_EQ(kapi_xenbus_switch_state(pair.front, KAPI_XENBUS_CLOSED), 0);
		run();
		if (be.get()) {
			EXPECT_EQ(xen.device_state(pair.back), KAPI_XENBUS_CLOSED);
			blkback::Backend::remove(move(be));
		}
		run();
	}

	// xenbus and the schedulers, until nothing moves.
	void run()
	{
		for (int round = 0; round < 10000; round++) {
			size_t moved = xen.run_watches();
			moved += relay(pair.front, front_seen_, [&](kapi_xenbus_state s) {
				if (be.get())
					(void)be->frontend_changed(s, true);
			});
			moved += xen.run_pending_irqs();
			if (be.get() && be->state() == KAPI_XENBUS_CONNECTED) {
				for (unsigned i = 0; i < be->nr_rings(); i++) {
					blkback::BackendRing *r = be->ring(i);
					const uint32_t before = r->in_flight();
					r->run_once();
					moved += r->in_flight() != before;
				}
			}
			moved += xen.complete_bios();
			moved += run_works();
			// A ring pass may have written xenstore (a resize):
			// idle only once its watch events are delivered too.
			if (!moved && !backend_busy() && !xen.pending_watch_events())
				return;
		}
		ADD_FAILURE() << "the pair never went idle";
	}

	// Delivers every state `dev` switched to since the last call, in order.
	template <typename Fn> size_t relay(kapi_xenbus_device *dev, size_t &seen, Fn deliver)
	{
		const std::vector<int> history = xen.state_history(dev);
		size_t n = 0;
		for (; seen < history.size(); seen++, n++)
			deliver(kapi_xenbus_state(history[seen]));
		return n;
	}

	// xenbus_otherend_changed: the state node as it reads now.
	static void on_backend_state(void *ctx, const char *path) noexcept
	{
		auto *t = static_cast<PairTest *>(ctx);
		const auto v = t->xen.xs_read(path);
		if (t->h && v)
			xbc_blkfront_otherend_changed(t->h, kapi_xenbus_state(atoi(v->c_str())));
	}

	bool backend_busy()
	{
		if (!be.get() || be->state() != KAPI_XENBUS_CONNECTED)
			return false;
		for (unsigned i = 0; i < be->nr_rings(); i++)
			if (be->ring(i)->in_flight())
				return true;
		return false;
	}

	// Dispatches on hardware queue `hwq` and runs both ends to idle.
	void submit(TestRequest &r, unsigned hwq = 0)
	{
		ASSERT_EQ(FakeBlkmq::dispatch(r.get(), hwq), 0);
		run();
		ASSERT_EQ(r->completions, 1);
		EXPECT_EQ(r->err, 0);
	}

	// Writes a pattern through the frontend, checks it on the backend's
	// disk, puts another pattern on the disk and reads it back.
	void round_trip(uint64_t sector, uint32_t bytes, unsigned seed, unsigned hwq = 0)
	{
		const auto out = pattern(bytes, seed);
		TestRequest w = TestRequest::rw(KAPI_BLK_OP_WRITE, sector, bytes);
		w.fill(out);
		submit(w, hwq);
		EXPECT_EQ(memcmp(disk_->data() + sector * 512, out.data(), bytes), 0) << "write " << seed;

		const auto in = pattern(bytes, seed + 1000);
		memcpy(disk_->data() + sector * 512, in.data(), bytes);
		TestRequest r = TestRequest::rw(KAPI_BLK_OP_READ, sector, bytes);
		submit(r, hwq);
		EXPECT_EQ(r.data(), in) << "read " << seed;
	}

	void transient_round_trips(const PairOptions &o);

	// Nothing the frontend granted is still granted or mapped.
	void expect_no_grants()
	{
		const GnttabStats g = xen.gnttab();
		EXPECT_EQ(g.live_grants, 0u);
		EXPECT_EQ(g.live_mappings, 0u);
		EXPECT_EQ(g.deferred_pending, 0u);
		EXPECT_EQ(xen.live_rings(), 0u);
		EXPECT_EQ(xen.live_ring_maps(), 0u);
		EXPECT_EQ(xen.leftovers(), "");
	}

	FakeXen xen;
	VbdPair pair;
	FakeDisk *disk_ = nullptr;
	std::string physical_ = "8:10";	// kMajor:kMinor in hex
	Box<blkback::Backend> be;
	xbc_blkfront *h = nullptr;
	size_t front_seen_ = 0;
	struct kapi_xenbus_watch *back_watch_ = nullptr;
};

TEST_F(PairTest, PersistentGrantsCarryDataBothWays)
{
	bring_up();
	ASSERT_EQ(FakeBlkmq::disk()->capacity, disk_->size_bytes() / 512);
	for (unsigned i = 0; i < 8; i++)
		round_trip(i * 16, 8192, i);
	// Persistent: the frontend's pages stay granted and mapped between
	// requests, so the second pass maps nothing new.
	const size_t maps = xen.gnttab().map_ops;
	EXPECT_GT(xen.gnttab().live_mappings, 0u);
	for (unsigned i = 0; i < 8; i++)
		round_trip(i * 16, 8192, i + 50);
	EXPECT_EQ(xen.gnttab().map_ops, maps);
	disconnect();
	expect_no_grants();
}

// Without persistent grants (refused by either end) every request's
// grants are ended and unmapped once it is answered.
void PairTest::transient_round_trips(const PairOptions &o)
{
	bring_up(o);
	const GnttabStats base = xen.gnttab();
	for (unsigned i = 0; i < 4; i++) {
		round_trip(i * 64, (i + 1) * 4096, i);
		EXPECT_EQ(xen.gnttab().live_grants, base.live_grants) << i;
		EXPECT_EQ(xen.gnttab().live_mappings, base.live_mappings) << i;
	}
	EXPECT_GT(xen.gnttab().map_ops, base.map_ops);
	disconnect();
	expect_no_grants();
}

TEST_F(PairTest, TransientGrantsWhenTheBackendRefusesPersistence)
{
	PairOptions o;
	o.back_persistent = false;
	transient_round_trips(o);
}

TEST_F(PairTest, TransientGrantsWhenTheFrontendRefusesPersistence)
{
	PairOptions o;
	o.front_persistent = false;
	transient_round_trips(o);
}

TEST_F(PairTest, IndirectSegmentsCarryLargeRequests)
{
	bring_up();
	// Indirect segments negotiated: the disk takes more than the 11
	// segments a direct request carries.
	ASSERT_GT(FakeBlkmq::disk()->cfg.max_segments, 11u);
	round_trip(256, 32 * 4096, 7);
	disconnect();
	expect_no_grants();
}

TEST_F(PairTest, IndirectSegmentsWithoutPersistentGrants)
{
	PairOptions o;
	o.front_persistent = false;
	o.back_persistent = false;
	bring_up(o);
	ASSERT_GT(FakeBlkmq::disk()->cfg.max_segments, 11u);
	round_trip(512, 32 * 4096, 9);
	round_trip(0, 17 * 4096, 10);
	disconnect();
	expect_no_grants();
}

TEST_F(PairTest, MultiQueueMultiPageRings)
{
	PairOptions o;
	o.front_queues = 2;
	o.front_ring_order = 2;
	bring_up(o);
	ASSERT_EQ(be->nr_rings(), 2u);
	round_trip(0, 4096, 1, 0);
	round_trip(64, 4096, 2, 1);
	disconnect();
	expect_no_grants();
}

TEST_F(PairTest, FlushReachesTheDisk)
{
	bring_up();
	TestRequest f = TestRequest::no_data(KAPI_BLK_OP_FLUSH);
	submit(f);
	EXPECT_GT(disk_->stats().flushes, 0u);
	disconnect();
	expect_no_grants();
}

TEST_F(PairTest, OnlineResizeReachesTheFrontendDisk)
{
	bring_up();
	const uint64_t before = FakeBlkmq::disk()->capacity;
	disk_->resize(before * 2);
	// A ring thread notices, announces (sectors, then the state node
	// rewritten) and the frontend's watch sets the new capacity.
	run();
	EXPECT_EQ(FakeBlkmq::disk()->capacity, before * 2);
	EXPECT_EQ(xen.xs_read(pair.back_path + "/sectors"), std::to_string(before * 2));
	round_trip(before + 64, 4096, 3);	// beyond the old end
	disconnect();
	expect_no_grants();
}

TEST_F(PairTest, DiscardReachesTheDisk)
{
	DiskSpec spec;
	spec.discard = true;
	spec.discard_granularity = 4096;
	disk_ = &xen.add_disk(kMajor, kMinor + 1, spec);
	physical_ = "8:11";	// hex, as the hotplug script writes it
	bring_up();
	ASSERT_TRUE(FakeBlkmq::disk()->cfg.discard);
	TestRequest d = TestRequest::no_data(KAPI_BLK_OP_DISCARD, 64, 64);
	submit(d);
	EXPECT_EQ(disk_->stats().discards, 1u);
	disconnect();
	expect_no_grants();
}

} // namespace
