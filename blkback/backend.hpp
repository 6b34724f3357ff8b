// SPDX-License-Identifier: GPL-2.0-only
// xen-blkback's control path: one Backend per vbd (xenbus device "vbd"),
// the counterpart of in-tree drivers/block/xen-blkback/xenbus.c. It owns the
// xenbus state machine, the physical device, and the rings (data path:
// backend_ring.hpp).
//
//   probe:  write feature-max-indirect-segments, multi-queue-max-queues,
//           max-ring-page-order; watch physical-device; -> InitWait
//   hotplug physical-device + mode: open the device (read-only for mode
//           without 'w'; CD-ROM if the frontend's device-type says so)
//   frontend Initialised/Connected: snapshot the parameters, read protocol,
//           feature-persistent, multi-queue-num-queues, ring-page-order,
//           ring-ref(s) and event-channel (per queue-N), map the rings and
//           bind lateeoi irqs
//   both ready: write flush/barrier/discard/persistent/sectors/info/
//           sector sizes in one transaction, -> Connected, start the threads
//   frontend Closing -> Closing; Closed -> disconnect, Closed (and
//           unregister if the device went offline); Unknown -> unregister
//
// Concurrency: every control-path entry (probe, remove, frontend_changed,
// the physical-device watch, reclaim_memory, sysfs readers) takes lock_.
// The rings' threads never take lock_ (disconnect holds it while it stops
// them). Disconnect never waits for I/O (it runs in xenwatch, which every
// guest's devices share): it stops each ring's thread and shuts down at
// once the rings with nothing in flight. A ring with bios in flight is
// retiring: its last completion (through its work item, which takes lock_
// in ring_retired) unmaps and frees what it held, and only then does a
// Closed frontend see us Closed; the Backend's reap work item then frees
// the ring itself (its own work item cannot). Until then a reconnect is
// refused (-EBUSY, as in-tree). Removal (remove()) does not wait
// either: the Backend becomes a zombie, freed on the module's workqueue
// after its last ring retires. The destructor alone waits, without
// lock_, for a Backend destroyed directly with rings retiring.
#pragma once

#include "kapi/thread.h"
#include "kapi/xenbus.h"
#include "xbc/blkif.hpp"
#include "xbc/handle.hpp"
#include "xbc/memory.hpp"
#include "xbc/sync.hpp"
#include "xbc/result.hpp"

#include "device.hpp"
#include "settings.hpp"
#include "stats.hpp"

namespace xbc::blkback {

class BackendRing;

// This module pinned (__module_get) for the owner's life: rmmod fails
// while a guest has a disk here instead of cutting it off (as in-tree).
class ModulePin : Pinned {
public:
	ModulePin() noexcept;
	~ModulePin();
};

class Backend : Pinned {
public:
	// A complete Backend for `dev`, not yet started: no xenstore I/O.
	[[nodiscard]] static Result<Box<Backend>> create(kapi_xenbus_device *dev) noexcept;
	// xenbus probe: create(), then advertise, watch physical-device,
	// InitWait. On failure the device has been marked failed in xenstore
	// (dev_fatal) and nothing is left allocated.
	[[nodiscard]] static Result<Box<Backend>> probe(kapi_xenbus_device *dev) noexcept;
	// xenbus remove (xenwatch): unwatch and disconnect without waiting
	// for I/O. With none in flight the Backend is freed at once;
	// otherwise it becomes a zombie, freed on the module's workqueue
	// after its last ring retires, and never touches `dev`'s xenstore
	// nodes or state again.
	static void remove(Box<Backend> be) noexcept;
	// Frees everything. Waits for retiring rings, so only remove() (and
	// the zombie reaper, once none retire) should get here in the module.
	~Backend();

	// module_init / module_exit: the zombie reaper's workqueue. exit
	// waits until every zombie is freed. init: 0 or -errno.
	[[nodiscard]] static int module_init() noexcept;
	static void module_exit() noexcept;
	// Tests: removed Backends not yet freed.
	[[nodiscard]] static unsigned nr_zombies() noexcept;

	// otherend_changed. Returns true when the caller (the C shim) must
	// unregister the device: the frontend is gone (Unknown), or Closed
	// while the device is no longer online.
	[[nodiscard]] bool frontend_changed(kapi_xenbus_state frontend, bool online) noexcept;
	// Memory pressure (xenbus reclaim_memory): keep the rings' page pools
	// empty for buffer_squeeze_duration_ms.
	void reclaim_memory() noexcept;

	// sysfs: statistics/*, telemetry, physical_device, mode.
	[[nodiscard]] IoStats io_stats() noexcept;
	[[nodiscard]] GrantStats grant_stats() noexcept;
	// False until the hotplug script has named the device.
	[[nodiscard]] bool physical_device(uint32_t *major, uint32_t *minor) noexcept;
	// Copies the mode ("r", "w", ...) into buf (NUL-terminated, may be "").
	void mode(char *buf, size_t len) noexcept;

	// A retiring ring's work item: the ring is shut down (grants
	// unmapped, irq unbound) and may be freed. Takes lock_.
	void ring_retired(BackendRing &ring) noexcept;
	// Tests: rings still waiting for their in-flight bios.
	unsigned nr_retiring() const noexcept { return nr_retiring_.load(); }

	// For rings and tests.
	kapi_xenbus_device *xenbus() const noexcept { return dev_; }
	kapi_xenbus_state state() noexcept XBC_EXCLUDES(lock_)
	{
		MutexGuard l(lock_);
		return state_;
	}
	// Bumped by each reclaim_memory; a ring squeezes its page pool when
	// it sees a new value.
	unsigned long squeeze_generation() const noexcept { return squeeze_gen_.load_relaxed(); }
	// A ring's thread calls this when the device size changed: rewrite
	// `sectors` and `state` so a connected frontend re-reads the size.
	// Rings announce one at a time and each writes the device's live
	// size (again, until it holds still), so whichever commits last
	// leaves the newest size in xenstore: a ring that saw an older
	// change can no longer overwrite a newer one.
	void announce_resize(const Device &device) noexcept XBC_EXCLUDES(lock_, xs_lock_);
	// A flush (or with `barrier`, a barrier) came back EOPNOTSUPP: stop
	// advertising that one feature.
	void withdraw_flush_feature(bool barrier) noexcept XBC_EXCLUDES(lock_, xs_lock_);

	// Tests: the connection's rings (null when disconnected).
	unsigned nr_rings() noexcept XBC_EXCLUDES(lock_)
	{
		MutexGuard l(lock_);
		return nr_rings_;
	}
	BackendRing *ring(unsigned i) noexcept XBC_EXCLUDES(lock_)
	{
		MutexGuard l(lock_);
		return i < nr_rings_ ? rings_[i] : nullptr;
	}
	Device *device() noexcept XBC_EXCLUDES(lock_)
	{
		MutexGuard l(lock_);
		return device_.get();
	}

private:
	// Only create() builds one (xbc::create placement-constructs it).
	template <typename T, typename... Args> friend Box<T> xbc::create(Gfp, Args &&...) noexcept;
	Backend(kapi_xenbus_device *dev, Mutex lock, Mutex xs_lock) noexcept;

	static void on_physical_device(void *ctx, const char *path) noexcept;
	void physical_device_changed() noexcept XBC_EXCLUDES(lock_);
	[[nodiscard]] Status connect_rings() noexcept XBC_REQUIRES(lock_);
	void try_connect() noexcept XBC_REQUIRES(lock_);
	void write_connect_keys() noexcept XBC_REQUIRES(lock_);
	void write_discard_keys(kapi_xbt t, const negotiate::BackendConnectAdvert &a) noexcept;
	void disconnect() noexcept XBC_REQUIRES(lock_);
	// Frees the rings that finished retiring. Takes lock_ itself.
	void reap() noexcept XBC_EXCLUDES(lock_);
	static void on_reap_work(void *ctx) noexcept;
	static void on_zombie_work(void *ctx) noexcept;
	// ring_retired's part under lock_: true when the last ring of a
	// removed Backend retired.
	[[nodiscard]] bool retire_locked(BackendRing &ring) noexcept XBC_EXCLUDES(lock_);
	// remove() and the last retiring ring each drop one reference to a
	// zombie, after releasing lock_: the second one hands it to the reaper.
	void zombie_put() noexcept;
	// Both references are gone: hand it to the reaper.
	void zombie_ready() noexcept;
	void log_disconnected() noexcept XBC_REQUIRES(lock_);
	void switch_state(kapi_xenbus_state s) noexcept XBC_REQUIRES(lock_);
	void fatal(int err, const char *msg) noexcept XBC_REQUIRES(lock_);
	// state_ changed: copy it to ring_view_ (takes xs_lock_).
	void publish_state() noexcept XBC_REQUIRES(lock_) XBC_EXCLUDES(xs_lock_);

	// First, so released last: the destructor's code is the module's.
	ModulePin pin_;
	kapi_xenbus_device *const dev_;
	Mutex lock_;		// see the file comment
	// Serialises the rings' xenstore writes (announce_resize,
	// withdraw_flush_feature) and guards ring_view_ for them. Taken
	// after lock_, never before it.
	Mutex xs_lock_;
	Watch watch_;		// physical-device
	Work reap_work_;	// runs reap(); queued by ring_retired

	Box<Device> device_ XBC_GUARDED_BY(lock_);
	uint32_t major_ XBC_GUARDED_BY(lock_) = 0;
	uint32_t minor_ XBC_GUARDED_BY(lock_) = 0;
	bool have_physical_ XBC_GUARDED_BY(lock_) = false;
	char mode_[8] XBC_GUARDED_BY(lock_) = {};
	kapi_xenbus_state state_ XBC_GUARDED_BY(lock_) = KAPI_XENBUS_INITIALISING;
	VbdParams settings_ XBC_GUARDED_BY(lock_) = {};	// this connection's snapshot
	bool persistent_ XBC_GUARDED_BY(lock_) = false;	// used on this connection
	blkif::Abi abi_ XBC_GUARDED_BY(lock_) = blkif::Abi::kNative;
	BackendRing **rings_ XBC_GUARDED_BY(lock_) = nullptr;	// nr_rings_ owned rings
	unsigned nr_rings_ XBC_GUARDED_BY(lock_) = 0;
	kapi_xenbus_state frontend_ XBC_GUARDED_BY(lock_) = KAPI_XENBUS_UNKNOWN;	// last seen
	// Disconnected rings with bios in flight, then (once ring_retired)
	// the retired ones until reap() (reap_work_) frees them.
	BackendRing *retiring_ XBC_GUARDED_BY(lock_) = nullptr;
	BackendRing *retired_ XBC_GUARDED_BY(lock_) = nullptr;
	Atomic<unsigned> nr_retiring_;	// changed under lock_; the destructor polls it
	bool close_pending_ XBC_GUARDED_BY(lock_) = false;	// switch to Closed when none retire
	// Counters of rings already torn down, so sysfs totals survive a
	// reconnect.
	IoStats retired_io_ XBC_GUARDED_BY(lock_) = {};
	GrantStats retired_grants_ XBC_GUARDED_BY(lock_) = {};

	Atomic<unsigned long> squeeze_gen_;	// rings read it

	// Set by remove() under lock_ and xs_lock_ (ring_view_.removed),
	// with bios in flight: nothing may write to dev_'s nodes or switch
	// its state any more.
	bool removed_ XBC_GUARDED_BY(lock_) = false;
	// What the rings' xenstore writers need of the control state. They
	// cannot take lock_ (disconnect holds it while it stops their
	// threads), so the control path copies it here under xs_lock_ when
	// it changes: a locked snapshot, not a racy read of lock_'s fields.
	struct RingView {
		kapi_xenbus_state state;
		uint32_t major;
		uint32_t minor;
		bool removed;
	};
	RingView ring_view_ XBC_GUARDED_BY(xs_lock_) = {KAPI_XENBUS_INITIALISING, 0, 0, false};
	DeviceRef dev_ref_;			// a zombie's: retiring rings unmap through dev_
	// A zombie is freed only once remove() is out of lock_'s
	// mutex_unlock and the last ring has retired (2 -> 0).
	Atomic<unsigned> zombie_refs_;
	Backend *next_zombie_ = nullptr;	// the reaper's list
};

} // namespace xbc::blkback
