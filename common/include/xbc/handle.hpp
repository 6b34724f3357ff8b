// SPDX-License-Identifier: GPL-2.0-only
// Owners for the kapi handles that are not locks (sync.hpp owns those): a
// wait queue, a work item, a workqueue, a xenbus watch, a kernel thread, an
// event channel's irq binding, a shrinker, a blk-mq disk, a reference on a
// xenbus device, a backend's mapping of the peer's shared ring.
//
// An Owned<H, Release> holds one handle or none: move-only, its destructor
// releases what it holds, reset() releases early where the order of a
// teardown matters (say why at the call), release() hands the raw handle on
// where ownership passes elsewhere. It converts to the raw handle so the
// kapi calls that only use it (queue, wake, wait) read as before; only the
// owner releases it.
#pragma once

#include "kapi/blkmq.h"
#include "kapi/evtchn.h"
#include "kapi/memory.h"
#include "kapi/thread.h"
#include "kapi/xenbus.h"
#include "xbc/base.hpp"
#include "xbc/result.hpp"

namespace xbc {

template <typename H, void (*Release)(H *) noexcept> class Owned {
public:
	constexpr Owned() noexcept = default;
	// Takes ownership of h (may be null: holds nothing).
	explicit Owned(H *h) noexcept : h_(h) {}
	Owned(Owned &&o) noexcept : h_(o.release()) {}
	Owned &operator=(Owned &&o) noexcept
	{
		if (this != &o)
			reset(o.release());
		return *this;
	}
	Owned(const Owned &) = delete;
	Owned &operator=(const Owned &) = delete;
	~Owned() { reset(); }

	// Releases what is held now, then holds h.
	void reset(H *h = nullptr) noexcept
	{
		H *old = h_;
		h_ = h;
		if (old)
			Release(old);
	}
	// Gives up ownership without releasing.
	[[nodiscard]] H *release() noexcept
	{
		H *h = h_;
		h_ = nullptr;
		return h;
	}
	[[nodiscard]] H *get() const noexcept { return h_; }
	operator H *() const noexcept { return h_; }	// borrowed, for kapi calls

	// For kapi functions that create into an out-parameter: the slot to
	// fill, after releasing what is held. Left null if creation fails.
	[[nodiscard]] H **out() noexcept
	{
		reset();
		return &h_;
	}

private:
	H *h_ = nullptr;
};

namespace detail {
// kthread_stop's result is the thread's: an owner that needs it calls
// kapi_thread_stop(t.release()) itself.
inline void stop_thread(kapi_thread *t) noexcept
{
	(void)kapi_thread_stop(t);
}
// A disk is deleted (del_gendisk, if added) before it is put. An owner that
// must delete it apart from the put (outside a lock) calls
// kapi_blkmq_disk_del itself, then kapi_blkmq_disk_put(d.release()).
inline void del_and_put_disk(kapi_blkmq_disk *d) noexcept
{
	kapi_blkmq_disk_del(d);
	kapi_blkmq_disk_put(d);
}
} // namespace detail

using WaitQueue = Owned<kapi_waitq, kapi_waitq_destroy>;
// Destroying cancels it or waits for its last run (never from its own fn).
using Work = Owned<kapi_work, kapi_work_destroy>;
using Workqueue = Owned<kapi_workqueue, kapi_workqueue_destroy>;
// Unwatching waits for a running callback: never with a lock it takes.
using Watch = Owned<struct kapi_xenbus_watch, kapi_xenbus_unwatch>;
using Thread = Owned<kapi_thread, detail::stop_thread>;
// Unbinding waits for a running handler: no event reaches the ring after.
using Irq = Owned<kapi_irq, kapi_evtchn_unbind>;
// Unregistering waits for a running count or scan.
using Shrinker = Owned<kapi_shrinker, kapi_shrinker_unregister>;
// Releasing deletes then puts: no queue_rq, completion or queue call may
// reach the disk after (its owner's rings and irqs go first).
using Disk = Owned<kapi_blkmq_disk, detail::del_and_put_disk>;
// A reference that keeps a xenbus device (and so its otherend) alive.
using DeviceRef = Owned<struct kapi_xenbus_device, kapi_xenbus_device_put>;

// The peer's shared ring pages, mapped contiguously into our space
// (backend side). Unmapping needs the device it was mapped through, which
// must outlive the mapping.
class MappedRing {
public:
	constexpr MappedRing() noexcept = default;
	[[nodiscard]] static Result<MappedRing> map(kapi_xenbus_device *dev, const uint32_t *grefs,
						    unsigned nr_grefs) noexcept
	{
		MappedRing m;
		XBC_TRY_STATUS(Status::from_kapi(kapi_xenbus_map_ring(dev, grefs, nr_grefs, &m.area_)));
		m.dev_ = dev;
		return move(m);
	}
	MappedRing(MappedRing &&o) noexcept : dev_(o.dev_), area_(o.area_) { o.area_ = nullptr; }
	MappedRing &operator=(MappedRing &&o) noexcept
	{
		if (this != &o) {
			reset();
			dev_ = o.dev_;
			area_ = o.area_;
			o.area_ = nullptr;
		}
		return *this;
	}
	MappedRing(const MappedRing &) = delete;
	MappedRing &operator=(const MappedRing &) = delete;
	~MappedRing() { reset(); }

	// Unmaps now (where a teardown's order matters: say why at the call).
	void reset() noexcept
	{
		void *area = area_;
		area_ = nullptr;
		if (area)
			kapi_xenbus_unmap_ring(dev_, area);
	}
	[[nodiscard]] void *area() const noexcept { return area_; }

private:
	kapi_xenbus_device *dev_ = nullptr;
	void *area_ = nullptr;
};

} // namespace xbc
