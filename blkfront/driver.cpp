// SPDX-License-Identifier: GPL-2.0-only
// The module-wide blkfront state: the Driver (devices, minors, the pool
// shrinker) and the purge thread, and module init and exit.
#include "blkfront/frontend.hpp"

#include "kapi/blkif_abi.h"
#include "kapi/log.h"
#include "kapi/thread.h"
#include "blkfront/engine.h"
#include "xbc/invariant.hpp"
#include "xbc/xenstore.hpp"

namespace xbc::blkfront {

namespace {

Driver *g_driver;	// trivially initialised: no constructor runs

} // namespace

Driver *driver_instance() noexcept
{
	return g_driver;
}

// ---------------------------------------------------------------------------
// Driver

namespace {

unsigned long shrink_count(void *ctx) noexcept
{
	return static_cast<Driver *>(ctx)->pool_spare();
}

unsigned long shrink_scan(void *ctx, unsigned long nr) noexcept
{
	return static_cast<Driver *>(ctx)->reclaim_pools(nr);
}

bool purge_should_stop(void *) noexcept
{
	return kapi_thread_should_stop();
}

bool purge_is_wanted(void *ctx) noexcept
{
	return kapi_thread_should_stop() || static_cast<Driver *>(ctx)->purge_wanted();
}

int purge_thread_body(void *ctx) noexcept
{
	return static_cast<Driver *>(ctx)->purge_thread();
}

} // namespace

Driver::Driver(Box<MinorRegistry> minors, Mutex mutex, WaitQueue purge_wq) noexcept
	: purge_wq_(move(purge_wq)), minors_(move(minors)), devices_(move(mutex))
{
}

Result<Box<Driver>> Driver::create() noexcept
{
	auto minors = MinorRegistry::create();
	if (minors.is_error())
		return minors.status();
	auto mutex = Mutex::create("xbc_blkfront_driver");
	if (mutex.is_error())
		return mutex.status();
	WaitQueue purge_wq(kapi_waitq_create(KAPI_GFP_KERNEL));
	if (!purge_wq)
		return Status::error(err::kNoMem);
	Box<Driver> d = xbc::create<Driver>(Gfp::kKernel, minors.take(), mutex.take(), move(purge_wq));
	if (d.is_null())
		return Status::error(err::kNoMem);
	// The thread and the shrinker call into the Driver: started last, and
	// on failure the destructor stops whichever runs (the Driver is not
	// published yet, so no device can be on it).
	const int rc = kapi_thread_run(purge_thread_body, d.get(), "xbc_blkfront", d->purge_thread_.out());
	if (rc < 0)
		return Status::from_kapi(rc);
	d->shrinker_.reset(kapi_shrinker_register("xbc_blkfront", shrink_count, shrink_scan, d.get()));
	if (!d->shrinker_)
		return Status::error(err::kNoMem);
	return d;
}

Driver::~Driver()
{
	// The shrinker first (it walks the devices), then the thread: it
	// purges the devices; purge_wq_ goes with the members.
	shrinker_.reset();
	purge_thread_.reset();
	devices_.with([](auto &devices) {
		XBC_CHECK(devices.empty());
		devices.clear();
	});
}

void Driver::add(Frontend &fe) noexcept
{
	devices_.with([&](auto &devices) { devices.push_back(fe); });
}

void Driver::remove(Frontend &fe) noexcept
{
	devices_.with([&](auto &devices) { devices.remove(fe); });
}

void Driver::purge_all() noexcept
{
	devices_.with([](auto &devices) {
		for (Frontend &fe : devices)
			fe.purge();
	});
}

unsigned long Driver::pool_spare() noexcept
{
	unsigned long n = 0;
	(void)devices_.try_with([&](auto &devices) {
		for (Frontend &fe : devices)
			n += fe.pool_spare();
	});
	return n;
}

unsigned long Driver::reclaim_pools(unsigned long nr) noexcept
{
	const uint32_t budget = static_cast<uint32_t>(min(nr, 0xffffffffUL));
	uint32_t freed = 0;
	const bool ran = devices_.try_with([&](auto &devices) {
		for (Frontend &fe : devices) {
			if (freed >= budget)
				break;
			freed += fe.reclaim_pool(budget - freed);
		}
	});
	return ran ? freed : KAPI_SHRINK_STOP;
}

void Driver::purge_demand(int delta) noexcept
{
	if (delta > 0) {
		purge_demand_.add(static_cast<uint32_t>(delta));
		kapi_waitq_wake(purge_wq_);
	} else {
		purge_demand_.sub(static_cast<uint32_t>(-delta));
	}
}

// The in-tree blkfront_work: every 10 s, end the grants backends dropped
// (and fail held requests the backend let go of). With nothing to purge
// it sleeps until there is (in-tree's delayed work runs regardless).
int Driver::purge_thread() noexcept
{
	while (!kapi_thread_should_stop()) {
		if (!purge_wanted()) {
			kapi_waitq_wait_timeout(purge_wq_, purge_is_wanted, this, KAPI_WAIT_FOREVER);
			continue;
		}
		kapi_waitq_wait_timeout(purge_wq_, purge_should_stop, this,
					static_cast<unsigned long>(kPurgeIntervalSeconds) * kapi_hz());
		if (kapi_thread_should_stop())
			break;
		purge_all();
	}
	return 0;
}

// Module init: the driver state and the purge thread.
int driver_init() noexcept
{
	auto d = Driver::create();
	if (d.is_error())
		return d.status().code();
	g_driver = d.take().release();
	return 0;
}

void driver_exit() noexcept
{
	Box<Driver>::adopt(g_driver).reset();
	g_driver = nullptr;
}

} // namespace xbc::blkfront
