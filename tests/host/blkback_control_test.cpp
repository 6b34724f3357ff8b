// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: one test per control-path rule; they share one fixture.
// The blkback control path against the fake Xen: the xenbus handshake, the
// keys in-tree 6.1 writes and reads, hostile xenstore values, disconnect
// and reconnect, resize. (Data path: blkback_io_test.cpp.)
#include "blkback_harness.hpp"
#include "xbc/xenstore.hpp"

namespace xbc::test {
namespace {

TEST(BlkbackControl, ProbeAdvertisesLimitsThenInitWait)
{
	Bench b;
	host::set_online_cpus(3);
	b.probe();
	EXPECT_EQ(b.back_key("feature-max-indirect-segments"), "256");
	EXPECT_EQ(b.back_key("multi-queue-max-queues"), "3");	// max_queues=0: CPUs
	EXPECT_EQ(b.back_key("max-ring-page-order"), "4");
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_INITWAIT);
	// Nothing about the device before the hotplug script names it.
	EXPECT_EQ(b.back_key("sectors"), "<none>");
}

TEST(BlkbackControl, ProbeHonoursParameters)
{
	Bench b;
	host::blkback_params().max_queues = 2;
	host::blkback_params().max_ring_page_order = 9;	// out of range: the maximum
	b.probe();
	EXPECT_EQ(b.back_key("multi-queue-max-queues"), "2");
	EXPECT_EQ(b.back_key("max-ring-page-order"), "4");
}

// In-tree keeps the int parameter in an unsigned: -1 is above 4, so 4.
TEST(BlkbackControl, NegativeRingOrderParameterIsTheMaximum)
{
	for (int order : {-1, -2147483647 - 1}) {
		Bench b;
		host::blkback_params().max_ring_page_order = order;
		b.probe();
		EXPECT_EQ(b.back_key("max-ring-page-order"), "4") << order;
		b.hotplug();
		FrontendOptions o;
		o.ring_page_order = 4;
		b.frontend_init(o);
		EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED) << order;
	}
}

// The errno of each refusal is in-tree's: -ENOSYS for the protocol and the
// queue count, -EINVAL for the ring order.
TEST(BlkbackControl, RefusalsCarryTheInTreeErrno)
{
	struct Case {
		const char *key;
		const char *value;
		int err;
	} const cases[] = {
		{"protocol", "sparc-abi", -err::kNoSys},
		{"multi-queue-num-queues", "0", -err::kNoSys},
		{"multi-queue-num-queues", "5", -err::kNoSys},
		{"multi-queue-num-queues", "two", -err::kNoSys},
		{"ring-page-order", "5", -err::kInval},
		{"ring-page-order", "-1", -err::kInval},
	};
	for (const auto &c : cases) {
		Bench b;
		host::blkback_params().max_queues = 4;
		b.probe();
		b.hotplug();
		b.xen.xs_write(b.pair.front_path + "/" + c.key, c.value);
		FrontendOptions o;
		o.protocol = nullptr;	// keep ours
		b.xen.xs_write(b.pair.front_path + "/protocol", std::string(c.key) == "protocol" ? c.value : "x86_64-abi");
		b.frontend_init(o);
		EXPECT_NE(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED) << c.key << "=" << c.value;
		ASSERT_FALSE(b.xen.fatal_errors(b.pair.back).empty()) << c.key << "=" << c.value;
		EXPECT_EQ(b.xen.fatal_errors(b.pair.back).back().err, c.err) << c.key << "=" << c.value;
		EXPECT_EQ(b.xen.live_ring_maps(), 0u);
	}
}

TEST(BlkbackControl, EmptyProtocolIsNative)
{
	Bench b;
	b.probe();
	b.hotplug();
	b.xen.xs_write(b.pair.front_path + "/protocol", "");
	FrontendOptions o;
	o.protocol = nullptr;	// keep the empty key
	b.frontend_init(o);
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED);
}

TEST(BlkbackControl, HandshakeWritesInTreeKeysAndConnects)
{
	host::DiskSpec spec;
	spec.nr_sectors = 4096;
	spec.logical_block_size = 512;
	spec.physical_block_size = 4096;
	spec.write_cache = true;
	spec.discard = true;
	spec.secure_erase = true;
	spec.discard_granularity = 4096;
	spec.discard_alignment = 0;
	Bench b(spec);
	const size_t syncs = host::bdev_syncs();	// a process-wide count
	b.probe();
	b.hotplug();
	EXPECT_TRUE(b.disk().is_open());
	// The device alone does not connect: the frontend is not ready.
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_INITWAIT);
	b.frontend_init();
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(b.back_key("sectors"), "4096");
	EXPECT_EQ(b.back_key("info"), "0");
	EXPECT_EQ(b.back_key("sector-size"), "512");
	EXPECT_EQ(b.back_key("physical-sector-size"), "4096");
	EXPECT_EQ(b.back_key("feature-flush-cache"), "1");
	EXPECT_EQ(b.back_key("feature-barrier"), "1");
	EXPECT_EQ(b.back_key("feature-discard"), "1");
	EXPECT_EQ(b.back_key("discard-granularity"), "4096");
	EXPECT_EQ(b.back_key("discard-alignment"), "0");
	EXPECT_EQ(b.back_key("discard-secure"), "1");
	EXPECT_EQ(b.back_key("feature-persistent"), "1");
	EXPECT_TRUE(b.xen.fatal_errors(b.pair.back).empty());
	// One ring, its thread named as in-tree: <domid>.<dev>-<ring>.
	ASSERT_EQ(b.be->nr_rings(), 1u);
	EXPECT_EQ(host::thread_stats().live, 1u);
	EXPECT_EQ(host::bdev_syncs(), syncs + 1);
	EXPECT_TRUE(host::run_thread_body_until_stop("1.xvda-0"));
	// The keys were written in one transaction.
	EXPECT_GE(b.xen.commits(), 1u);
}

TEST(BlkbackControl, ThreadNamesDropDevPrefix)
{
	// As in-tree: a "dev" key of /dev/xvdb names the thread 1.xvdb-0.
	Bench b;
	b.xen.xs_write(b.pair.back_path + "/dev", "/dev/xvdb");
	b.connect();
	EXPECT_TRUE(host::run_thread_body_until_stop("1.xvdb-0"));
}

TEST(BlkbackControl, FrontendFirstThenHotplugAlsoConnects)
{
	Bench b;
	b.probe();
	b.frontend_init();
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_INITWAIT);
	b.hotplug();
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED);
}

TEST(BlkbackControl, ReadOnlyModeAndCdrom)
{
	Bench b;
	b.xen.xs_write(b.pair.front_path + "/device-type", "cdrom");
	b.probe();
	b.hotplug("r");
	b.frontend_init();
	ASSERT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(b.back_key("info"), std::to_string(KAPI_VDISK_READONLY | KAPI_VDISK_CDROM));
	char mode[8];
	b.be->mode(mode, sizeof(mode));
	EXPECT_STREQ(mode, "r");
	uint32_t ma, mi;
	ASSERT_TRUE(b.be->physical_device(&ma, &mi));
	EXPECT_EQ(ma, 8u);
	EXPECT_EQ(mi, 0x10u);
}

TEST(BlkbackControl, OverlongModeFailsTheDevice)
{
	// mode is read into the 8 bytes the sysfs attribute keeps: a longer
	// one fails the device (-E2BIG) rather than open it with a cut mode.
	Bench b;
	b.probe();
	b.hotplug("rrrrrrrw");
	b.frontend_init();
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CLOSING);
	EXPECT_EQ(b.be->device(), nullptr);
	char mode[16];
	b.be->mode(mode, sizeof(mode));
	EXPECT_STREQ(mode, "");
}

TEST(BlkbackControl, NoWriteCacheMeansNoFlushOrBarrier)
{
	host::DiskSpec spec;
	spec.write_cache = false;
	Bench b(spec);
	b.connect();
	EXPECT_EQ(b.back_key("feature-flush-cache"), "0");
	EXPECT_EQ(b.back_key("feature-barrier"), "0");
	EXPECT_EQ(b.back_key("feature-discard"), "0");
	EXPECT_EQ(b.back_key("discard-granularity"), "<none>");
}

TEST(BlkbackControl, DiscardEnableZeroSuppressesDiscardKeys)
{
	host::DiskSpec spec;
	spec.discard = true;
	Bench b(spec);
	b.xen.xs_write(b.pair.back_path + "/discard-enable", "0");
	b.connect();
	EXPECT_EQ(b.back_key("feature-discard"), "<none>");
}

TEST(BlkbackControl, TransactionRetriedOnEagain)
{
	Bench b;
	b.probe();
	b.hotplug();
	b.xen.fail_next_commits(2);
	b.frontend_init();
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(b.back_key("sectors"), "2048");
	EXPECT_GE(b.xen.commits_failed(), 2u);
}

TEST(BlkbackControl, PersistentAdvertisedButUnusedWhenFrontendLacksIt)
{
	Bench b;
	FrontendOptions o;
	o.persistent = false;
	b.connect(o);
	// Advertise our capability; use only what both sides want.
	EXPECT_EQ(b.back_key("feature-persistent"), "1");
	EXPECT_FALSE(b.ring().grant_stats().maps);	// nothing mapped yet
}

TEST(BlkbackControl, ParameterSnapshotTakenAtConnect)
{
	Bench b;
	b.probe();
	b.hotplug();
	host::blkback_params().feature_persistent = false;
	b.frontend_init();
	EXPECT_EQ(b.back_key("feature-persistent"), "0");
	// Changing the parameter later changes nothing on this connection.
	host::blkback_params().feature_persistent = true;
	EXPECT_EQ(b.back_key("feature-persistent"), "0");
}

TEST(BlkbackControl, MultiQueueAndMultiPageRing)
{
	Bench b;
	FrontendOptions o;
	o.queues = 2;
	o.ring_page_order = 2;
	b.connect(o);
	ASSERT_EQ(b.be->nr_rings(), 2u);
	// 4 pages of 112-byte slots: 128 entries.
	EXPECT_EQ(b.ring(0).size(), 128u);
	EXPECT_EQ(b.ring(1).size(), 128u);
	EXPECT_EQ(host::thread_stats().live, 2u);
	EXPECT_EQ(b.xen.live_ring_maps(), 2u);
}

TEST(BlkbackControl, HostileQueueCountsAreFatal)
{
	for (const char *q : {"0", "5", "99999999999999999999"}) {
		Bench b;
		host::blkback_params().max_queues = 4;
		b.probe();
		b.hotplug();
		b.xen.xs_write(b.pair.front_path + "/multi-queue-num-queues", q);
		b.frontend_init();
		// All refused; in-tree reads an unparsable count as 1 queue
		// and connects a layout the frontend never asked for.
		EXPECT_NE(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED) << q;
		EXPECT_FALSE(b.xen.fatal_errors(b.pair.back).empty()) << q;
		EXPECT_EQ(b.be->nr_rings(), 0u);
		EXPECT_EQ(b.xen.live_ring_maps(), 0u);
	}
}

TEST(BlkbackControl, RingPageOrderAboveMaximumIsFatal)
{
	Bench b;
	host::blkback_params().max_ring_page_order = 1;
	b.probe();
	b.hotplug();
	FrontendOptions o;
	o.ring_page_order = 2;
	b.frontend_init(o);
	EXPECT_NE(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED);
	ASSERT_FALSE(b.xen.fatal_errors(b.pair.back).empty());
	EXPECT_NE(b.xen.fatal_errors(b.pair.back).back().msg.find("ring page order"), std::string::npos);
	EXPECT_EQ(b.xen.live_ring_maps(), 0u);
}

TEST(BlkbackControl, HostileFrontendKeys)
{
	struct Case {
		const char *key;
		const char *value;
	} const cases[] = {
		{"protocol", "sparc-abi"},
		{"protocol", "x86_64-abix"},
		{"protocol", "x86_64-abi-but-much-longer-than-sixty-four-bytes-so-it-does-not-fit"},
		{"event-channel", "-1"},
		{"event-channel", "12x"},
		{"event-channel", ""},
		{"ring-ref", "4294967296"},
		{"ring-ref", "99"},	// a ref nobody granted: the map fails
	};
	for (const auto &c : cases) {
		Bench b;
		b.probe();
		b.hotplug();
		b.frontend_init();
		ASSERT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED);
		// Reconnect with one key broken.
		b.frontend_state(KAPI_XENBUS_CLOSING);
		b.frontend_state(KAPI_XENBUS_CLOSED);
		b.frontend_state(KAPI_XENBUS_INITIALISING);
		b.xen.xs_write(b.pair.front_path + "/" + c.key, c.value);
		b.frontend_state(KAPI_XENBUS_INITIALISED);
		EXPECT_NE(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED) << c.key << "=" << c.value;
		EXPECT_FALSE(b.xen.fatal_errors(b.pair.back).empty()) << c.key;
		EXPECT_EQ(b.be->nr_rings(), 0u) << c.key;
		EXPECT_EQ(b.xen.live_ring_maps(), 0u) << c.key;
	}
}

TEST(BlkbackControl, HostilePhysicalDevice)
{
	for (const char *v : {"", "8", "8:", ":10", "zz:1", "1000:0", "8:10:1", "8 :10"}) {
		Bench b;
		b.probe();
		b.hotplug("w", v);
		EXPECT_FALSE(b.disk().is_open()) << v;
		EXPECT_FALSE(b.xen.fatal_errors(b.pair.back).empty()) << v;
	}
}

TEST(BlkbackControl, MissingDeviceIsFatal)
{
	Bench b;
	b.probe();
	b.hotplug("w", "9:0");
	EXPECT_FALSE(b.xen.fatal_errors(b.pair.back).empty());
	uint32_t ma, mi;
	EXPECT_FALSE(b.be->physical_device(&ma, &mi));
}

TEST(BlkbackControl, ChangingPhysicalDeviceIsRefused)
{
	Bench b;
	b.probe();
	b.hotplug();
	const size_t logs = host::log_count();
	b.xen.xs_write(b.pair.back_path + "/physical-device", "8:20");
	b.xen.run_watches();
	EXPECT_GT(host::log_count(), logs);
	uint32_t ma, mi;
	ASSERT_TRUE(b.be->physical_device(&ma, &mi));
	EXPECT_EQ(mi, 0x10u);
}

TEST(BlkbackControl, CloseDisconnectsAndFreesEverything)
{
	Bench b;
	b.connect();
	EXPECT_FALSE(b.frontend_state(KAPI_XENBUS_CLOSING));
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CLOSING);
	EXPECT_EQ(b.be->nr_rings(), 1u);	// Closing alone keeps the rings
	EXPECT_FALSE(b.frontend_state(KAPI_XENBUS_CLOSED));
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CLOSED);
	EXPECT_EQ(b.be->nr_rings(), 0u);
	EXPECT_EQ(b.xen.live_ring_maps(), 0u);
	EXPECT_EQ(b.xen.gnttab().live_mappings, 0u);
	EXPECT_EQ(host::thread_stats().live, 0u);
	EXPECT_EQ(b.xen.bound_irqs(), 1u);	// only the frontend's end
}

TEST(BlkbackControl, EachVbdPinsTheModuleUntilRemoved)
{
	// As in-tree: rmmod must fail while a vbd exists rather than
	// disconnect a guest's disk under it.
	ASSERT_EQ(host::module_pins(), 0);
	{
		Bench b;
		b.connect();
		EXPECT_EQ(host::module_pins(), 1);
		b.frontend_state(KAPI_XENBUS_CLOSED);
		// Closed is not removal: the vbd (and the pin) stays.
		EXPECT_EQ(host::module_pins(), 1);
		b.be.reset();
		EXPECT_EQ(host::module_pins(), 0);
	}
	// A probe failing at any allocation leaves no pin behind.
	Bench b;
	host::for_each_alloc_failure([&b](bool) {
		auto r = Backend::probe(b.pair.back);
		EXPECT_EQ(host::module_pins(), r.is_ok() ? 1 : 0);
	});
	EXPECT_EQ(host::module_pins(), 0);
}

// Our node names the physical-device watch. One too long for an xs::Path
// is refused at probe; before, the path was cut short and the watch sat
// on another node, so the hotplug script's key never reached us.
TEST(BlkbackControl, ProbeRefusesANodeTooLongToWatch)
{
	Bench b;
	const std::string node = "backend/vbd/1/" + std::string(xs::Path::kCapacity, '7');
	kapi_xenbus_device *dev = b.xen.add_device(node, b.pair.front_path, 0, 1);
	const size_t watches = b.xen.live_watches();
	auto r = Backend::probe(dev);
	EXPECT_EQ(r.status().code(), -err::kNameTooLong);
	EXPECT_EQ(b.xen.live_watches(), watches);
	EXPECT_EQ(host::module_pins(), 0);
	b.xen.remove_device(dev);
}

TEST(BlkbackControl, ClosedWhileOfflineAsksForUnregister)
{
	Bench b;
	b.connect();
	EXPECT_TRUE(b.frontend_state(KAPI_XENBUS_CLOSED, /*online=*/false));
	EXPECT_TRUE(b.be->frontend_changed(KAPI_XENBUS_UNKNOWN, true));
}

TEST(BlkbackControl, ReconnectAfterClose)
{
	Bench b;
	b.connect();
	b.frontend_state(KAPI_XENBUS_CLOSING);
	b.frontend_state(KAPI_XENBUS_CLOSED);
	b.frontend_state(KAPI_XENBUS_INITIALISING);
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_INITWAIT);
	b.frontend_state(KAPI_XENBUS_INITIALISED);
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(b.be->nr_rings(), 1u);
}

TEST(BlkbackControl, ConnectedTwiceDoesNotReconnect)
{
	Bench b;
	b.connect();
	const size_t maps = b.xen.gnttab().map_calls;
	b.frontend_state(KAPI_XENBUS_CONNECTED);
	EXPECT_EQ(b.xen.gnttab().map_calls, maps);
	EXPECT_EQ(b.xen.device_state(b.pair.back), KAPI_XENBUS_CONNECTED);
}

TEST(BlkbackControl, UnknownFrontendStateIsFatal)
{
	Bench b;
	b.connect();
	EXPECT_FALSE(b.be->frontend_changed(kapi_xenbus_state(42), true));
	EXPECT_FALSE(b.xen.fatal_errors(b.pair.back).empty());
}

TEST(BlkbackControl, OnlineResizeRewritesSectorsAndState)
{
	Bench b;
	b.connect();
	b.disk().resize(8192);
	b.ring(0).run_once();
	EXPECT_EQ(b.back_key("sectors"), "8192");
	EXPECT_EQ(b.back_key("state"), std::to_string(KAPI_XENBUS_CONNECTED));
}

TEST(BlkbackControl, ThreadStartFailureIsFatal)
{
	Bench b;
	b.probe();
	b.hotplug();
	host::fail_next_thread_run(12);
	b.frontend_init();
	EXPECT_FALSE(b.xen.fatal_errors(b.pair.back).empty());
	EXPECT_EQ(host::thread_stats().live, 0u);
}

TEST(BlkbackControl, EveryAllocationFailureInConnectIsClean)
{
	// Each allocation of the backend's connect fails in turn: the device
	// is then not connected, and nothing leaks.
	const size_t base = host::alloc_stats().live;
	bool connected = false;
	size_t i = 0;
	for (; !connected && i < 2000; i++) {
		{
			Bench b;
			b.probe();
			b.hotplug();
			b.frontend_prepare();
			const size_t injected_before = host::alloc_stats().injected_failures;
			host::fail_allocs_after(i);
			b.frontend_state(KAPI_XENBUS_INITIALISED);
			const bool injected = host::alloc_stats().injected_failures > injected_before;
			host::clear_alloc_failure();
			connected = b.xen.device_state(b.pair.back) == KAPI_XENBUS_CONNECTED;
			if (!connected) {
				EXPECT_TRUE(injected) << i;
				EXPECT_EQ(b.be->nr_rings(), 0u) << i;
				EXPECT_EQ(b.xen.live_ring_maps(), 0u) << i;
				EXPECT_EQ(b.xen.gnttab().live_mappings, 0u) << i;
			}
		}
		EXPECT_EQ(host::alloc_stats().live, base) << "leak when allocation " << i << " failed";
	}
	EXPECT_TRUE(connected);
	EXPECT_GT(i, 5u);	// the path really allocates
}

} // namespace
} // namespace xbc::test
