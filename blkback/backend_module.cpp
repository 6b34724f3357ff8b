// SPDX-License-Identifier: GPL-2.0-only
// Backend: module-wide state (module init and exit) and the zombies: vbds
// removed with I/O in flight, freed later by a reaper, never in xenwatch.
#include "backend.hpp"

#include "kapi/blkif_abi.h"
#include "kapi/log.h"
#include "kapi/thread.h"
#include "xbc/xenstore.hpp"
#include "xbc/xs_value.hpp"

#include "backend_ring.hpp"
#include "platform.h"
#include "text.hpp"
#include "backend_detail.hpp"

namespace xbc::blkback {

namespace {

// Module-level zombie reaper (module_init..module_exit). Zombies are
// Backends removed with bios in flight; the reaper work frees them on our
// own workqueue, which module_exit destroys (so waits for) after every
// zombie is gone. The reaper never drops the module pin: remove() did.
//
// Built whole by module_init from handles made first, freed by module_exit:
// the members go in reverse order, which is the teardown's order (the
// work item, waiting for its last run; then the workqueue; the list; last
// the wait queue module_exit waited on).
struct Zombies : Pinned {
	Zombies(WaitQueue gone_wq, IrqSpinLock lock, Workqueue reap_wq, Work reap_work) noexcept
		: gone(move(gone_wq)), ready(move(lock), nullptr), wq(move(reap_wq)), work(move(reap_work))
	{
	}
	WaitQueue gone;		// woken as count drops
	// Last ring retired, to be freed.
	Guarded<Backend *, IrqSpinLock> ready;
	Workqueue wq;
	Work work;		// runs on wq
	Atomic<unsigned> count;	// removed, not yet freed
};
// Null while the module is not loaded. constinit: a module runs no static
// constructors (and a pointer needs no static destructor).
constinit Zombies *g_zombies = nullptr;

bool no_zombies(void *) noexcept
{
	return g_zombies->count.load() == 0;
}

} // namespace

int Backend::module_init() noexcept
{
	Workqueue wq(kapi_workqueue_create("xbc_blkback_reap"));
	// The work's context is the module's one Zombies: none needed.
	Work work(kapi_work_create(&Backend::on_zombie_work, nullptr, KAPI_GFP_KERNEL));
	auto lock = IrqSpinLock::create("xbc_blkback_zombies");
	WaitQueue gone(kapi_waitq_create(KAPI_GFP_KERNEL));
	if (!wq || !work || lock.is_error() || !gone)
		return -err::kNoMem;
	Box<Zombies> z = xbc::create<Zombies>(Gfp::kKernel, move(gone), lock.take(), move(wq), move(work));
	if (z.is_null())
		return -err::kNoMem;
	g_zombies = z.release();
	return 0;
}

void Backend::module_exit() noexcept
{
	if (!g_zombies)
		return;
	Zombies &z = *g_zombies;
	// Each zombie holds a module pin, so none should be left by now; the
	// wait is only a safety net for a pin taken out of order.
	constexpr unsigned kLogEveryMs = 10000;
	while (!no_zombies(nullptr) &&
	       !kapi_waitq_wait_timeout(z.gone, &no_zombies, nullptr,
					kapi_msecs_to_jiffies(kLogEveryMs)))
		kapi_log(KAPI_LOG_WARNING, "unload waits for %u removed vbds' in-flight I/O\n",
			 nr_zombies());
	// The reaper's last run may still be returning: ~Zombies waits for it
	// (work first), then frees the rest.
	Box<Zombies>::adopt(g_zombies).reset();
	g_zombies = nullptr;
}

unsigned Backend::nr_zombies() noexcept
{
	return g_zombies ? g_zombies->count.load() : 0;
}

void Backend::remove(Box<Backend> be) noexcept
{
	// Without the lock: the callback takes it, and unwatch waits for a
	// running callback.
	be->watch_.reset();
	Backend *zombie = nullptr;
	{
		MutexGuard l(be->lock_);
		be->disconnect();
		// ring_retired decides under lock_ too: no ring can retire
		// between this test and the hand-over.
		if (be->nr_retiring() > 0 && g_zombies) {
			kapi_log(KAPI_LOG_INFO, "%s: removed; %u rings retire once their I/O completes\n",
				 kapi_xenbus_nodename(be->dev_), be->nr_retiring());
			be->removed_ = true;
			{
				MutexGuard x(be->xs_lock_);
				be->ring_view_.removed = true;
			}
			// Retiring rings still unmap through the device.
			kapi_xenbus_device_get(be->dev_);
			be->dev_ref_.reset(be->dev_);
			// The zombie keeps the module pin until the reaper frees it:
			// rmmod then fails (module in use), as in-tree, rather than
			// waiting on a device's I/O. module_exit cancels the reaper's
			// work before the text goes, so its module_put is safe.
			be->zombie_refs_.store(2);
			g_zombies->count.add(1);
			zombie = be.release();
		}
	}
	// Only now, with remove() out of mutex_unlock(lock_) (the unlocker may
	// still touch the mutex after another task took it), may the last
	// ring's retirement free the zombie. Do not touch it after this.
	if (zombie)
		zombie->zombie_put();
	// Otherwise nothing retires (or no reaper): ~Backend frees it now.
}

void Backend::zombie_put() noexcept
{
	if (zombie_refs_.sub(1) == 0)
		zombie_ready();
}

void Backend::zombie_ready() noexcept
{
	Zombies &z = *g_zombies;
	z.ready.with([this](Backend *&ready) {
		next_zombie_ = ready;
		ready = this;
	});
	kapi_work_queue_on(z.wq, z.work);
}

void Backend::on_zombie_work(void *) noexcept
{
	Zombies &z = *g_zombies;
	for (;;) {
		Backend *be = z.ready.with([](Backend *&ready) {
			Backend *first = ready;
			if (first)
				ready = first->next_zombie_;
			return first;
		});
		if (!be)
			return;
		// Waits for the ring work that handed it over to return.
		Box<Backend>::adopt(be).reset();
		z.count.sub(1);
		kapi_waitq_wake(z.gone);
	}
}

} // namespace xbc::blkback
