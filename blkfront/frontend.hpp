// SPDX-License-Identifier: GPL-2.0-only
// The blkfront control path: one Frontend per vbd. It follows the backend's
// xenbus states exactly as the in-tree xen-blkfront does (the keys, their
// names and the timing), owns the rings (blkfront/io_ring.hpp) and the disk
// (kapi/blkmq.h), and decides what the connection uses.
//
//   backend InitWait   -> read max-ring-page-order / multi-queue-max-queues,
//                         create rings, write every connection key in ONE
//                         transaction (retried on -EAGAIN), go Initialised
//   backend Connected  -> read sectors/info/sector-size/physical-sector-size
//                         and the feature keys, size the rings, create the
//                         disk, go Connected; a later Connected is a resize
//   backend Closing    -> the disk is dead, we go Closed
//   resume             -> requeue what was in flight, new rings, reconnect
//   remove             -> drain or fail everything, free all, never freeing a
//                         page the backend can still reach
//
// Unlike in-tree, a rebind after unbind reconnects: probe puts our state
// node back to Initialising, so a backend waiting in Closed re-offers
// InitWait (in-tree leaves the node at Closed and nothing happens).
//
// Concurrency: mutex_ serialises the control path (xenwatch thread, probe,
// remove, resume, the purge thread); what it guards is declared so below
// and clang checks it (scripts/check, tsa). The data path (queue_rq, irq)
// never takes it (queue_rq may run in atomic context): it reads rings_
// (changed only while the queues are quiesced), nr_rings_ and the Atomic
// flags and snapshots below, which the control path publishes.
#pragma once

#include "kapi/blkmq.h"
#include "kapi/thread.h"
#include "kapi/xenbus.h"
#include "blkfront/io_ring.hpp"
#include "blkfront/settings.hpp"
#include "blkfront/vdev.hpp"
#include "xbc/handle.hpp"
#include "xbc/list.hpp"
#include "xbc/memory.hpp"
#include "xbc/sync.hpp"

namespace xbc::blkfront {

class Driver;

// What an IoRing sees of its frontend, and all it may do to it (IoRing
// holds a RingOwner, nothing more of the Frontend): the disk's name and
// handle, the feature flags the data path reads and the irq path clears,
// the device's broken, stopped and removing states, and the purge demand.
// The Frontend is the one RingOwner; its control path writes these.
class RingOwner {
public:
	const char *name() const noexcept { return layout_.name; }
	kapi_blkmq_disk *disk() const noexcept { return disk_.get(); }
	[[nodiscard]] bool is_broken() const noexcept { return broken_.load_relaxed(); }
	[[nodiscard]] bool flush_enabled() const noexcept { return flush_.load_relaxed(); }
	[[nodiscard]] bool fua_enabled() const noexcept { return fua_.load_relaxed(); }
	[[nodiscard]] bool discard_enabled() const noexcept { return discard_.load_relaxed(); }
	[[nodiscard]] bool secure_discard_enabled() const noexcept { return secure_discard_.load_relaxed(); }
	// The control path stopped every queue (Closing): no completion may
	// restart them; only connect or remove does.
	[[nodiscard]] bool queues_stopped() const noexcept { return queues_stopped_.load_relaxed(); }
	// The backend answered EOPNOTSUPP: stop using the feature (in-tree).
	void disable_flush() noexcept;
	void disable_discard() noexcept;
	// A ring broke: the device is in an error state from now on.
	void ring_broken() noexcept;
	// A ring holds one more (+1) or one fewer (-1) request the backend
	// maps: the purge thread must run while any is held. Any context.
	void held_changed(int delta) noexcept;
	// remove() began: a request held from now on cannot wait for a purge.
	[[nodiscard]] bool is_removing() const noexcept { return removing_.load_relaxed(); }

protected:
	RingOwner(Driver *driver, const VdevLayout &layout) noexcept : driver_(driver), layout_(layout) {}
	~RingOwner() = default;

	Driver *driver_;
	VdevLayout layout_;
	// Written under the Frontend's mutex_, quiesced. Released (del, then
	// put) only after the rings are destroyed: see drop_disk, remove,
	// ~Frontend.
	Disk disk_;
	Atomic<bool> removing_;		// remove() began: other control calls do nothing;
					// written under mutex_, the irq path reads it too
	// Feature flags the data path reads, the irq path may clear.
	Atomic<bool> flush_;
	Atomic<bool> fua_;
	Atomic<bool> discard_;
	Atomic<bool> secure_discard_;
	Atomic<bool> broken_;
	Atomic<bool> queues_stopped_;
};

class Frontend : Pinned, public RingOwner {
public:
	// Reads virtual-device and computes the disk's name and minors; puts
	// our state node to Initialising.
	[[nodiscard]] static Result<Box<Frontend>> create(kapi_xenbus_device *dev, Driver *driver) noexcept;
	~Frontend();

	// --- control path (process context)
	void otherend_changed(kapi_xenbus_state state) noexcept;
	[[nodiscard]] Status resume() noexcept;
	// Everything down, before destruction.
	void remove() noexcept;
	// Ends grants the backend stopped mapping (persistent grants only).
	void purge() noexcept;
	[[nodiscard]] bool is_ready() const noexcept { return disk_added_.load_relaxed(); }
	[[nodiscard]] GrantPoolStats pool_stats() noexcept XBC_EXCLUDES(mutex_);
	// The shrinker's view: pool pages beyond each ring's reserve, and
	// giving up to `budget` of them back. A device busy in its control
	// path (which may be allocating) is skipped: 0.
	[[nodiscard]] uint32_t pool_spare() noexcept XBC_EXCLUDES(mutex_);
	uint32_t reclaim_pool(uint32_t budget) noexcept XBC_EXCLUDES(mutex_);
	// A copy taken under mutex_ (tests).
	[[nodiscard]] Features features() noexcept XBC_EXCLUDES(mutex_)
	{
		MutexGuard g(mutex_);
		return features_;
	}
	[[nodiscard]] uint32_t nr_rings() const noexcept { return nr_rings_.load(); }
	// Tests: ring i of the connection, looked up under mutex_.
	[[nodiscard]] IoRing *ring(uint32_t i) noexcept XBC_EXCLUDES(mutex_)
	{
		MutexGuard g(mutex_);
		return i < nr_rings_.load_relaxed() ? rings_[i].get() : nullptr;
	}

	// --- data path (any context); the rings' view is RingOwner's
	[[nodiscard]] int queue_rq(unsigned int hwq, kapi_blk_request *rq) noexcept;

	ListNode driver_node;	// on Driver's device list, under its mutex

private:
	// Reached from create() alone (xbc::create constructs). Its minors
	// are reserved in place (an intrusive node) before create() returns it.
	template <typename T, typename... Args> friend Box<T> xbc::create(Gfp, Args &&...) noexcept;
	Frontend(kapi_xenbus_device *dev, Driver *driver, Mutex mutex, const VdevLayout &layout) noexcept;

	enum class Conn : uint8_t { kDisconnected, kConnected, kSuspended };

	Status talk_to_backend() noexcept XBC_REQUIRES(mutex_);
	Status write_connection_keys(kapi_xbt t, const negotiate::FrontendRingPlan &plan,
				     const char **what) noexcept XBC_REQUIRES(mutex_);
	void remove_layout_keys(kapi_xbt t, const char *node) noexcept;
	void connect() noexcept XBC_REQUIRES(mutex_);
	void resize() noexcept XBC_REQUIRES(mutex_);
	Status create_disk(const negotiate::DiskGeometry &g) noexcept XBC_REQUIRES(mutex_);
	void apply_features(const Features &f) noexcept XBC_REQUIRES(mutex_);
	uint32_t disk_segments() const noexcept XBC_REQUIRES(mutex_);
	void log_features() noexcept XBC_REQUIRES(mutex_);
	void closing() noexcept XBC_REQUIRES(mutex_);
	// Rings holding requests the backend still maps are kept aside (retired)
	// until purge() sees them released; `final` (remove) gives up on them.
	void destroy_rings(bool final = false) noexcept XBC_REQUIRES(mutex_);
	// Quiesces, fails what the disk holds, deletes it; see frontend.cpp.
	void drop_disk() noexcept XBC_REQUIRES(mutex_);
	[[nodiscard]] bool holds_mapped_requests() const noexcept XBC_REQUIRES(mutex_);
	void sweep_retired() noexcept XBC_REQUIRES(mutex_);
	void switch_state(kapi_xenbus_state s) noexcept XBC_REQUIRES(mutex_);
	// Whether this device's persistent grants need the purge thread.
	void set_purge_user(bool on) noexcept XBC_REQUIRES(mutex_);
	// conn_ and its snapshot for the data path, together.
	void set_conn(Conn c) noexcept XBC_REQUIRES(mutex_);
	// The one read of rings_ without mutex_: see queue_rq.
	[[nodiscard]] IoRing *data_path_ring(uint32_t i) const noexcept XBC_NO_THREAD_SAFETY_ANALYSIS
	{
		return rings_[i].get();
	}

	kapi_xenbus_device *dev_;
	Mutex mutex_;
	blkif::Vdev handle_;
	MinorRange minors_;

	// Control state.
	kapi_xenbus_state our_state_ XBC_GUARDED_BY(mutex_) = KAPI_XENBUS_INITIALISING;
	Conn conn_ XBC_GUARDED_BY(mutex_) = Conn::kDisconnected;
	// conn_ as the data path sees it: queue_rq may run in atomic context,
	// so it cannot take mutex_; set_conn() publishes every change here.
	Atomic<Conn> conn_snapshot_{Conn::kDisconnected};
	negotiate::FrontendSnapshot settings_ XBC_GUARDED_BY(mutex_) = {};
	// our node's "trusted", read with settings_
	negotiate::Key<bool> trusted_key_ XBC_GUARDED_BY(mutex_) = {};
	Features features_ XBC_GUARDED_BY(mutex_) = {};
	// the disk's hardware queues, fixed once made
	uint32_t hw_queues_ XBC_GUARDED_BY(mutex_) = 0;
	uint32_t disk_max_segments_ XBC_GUARDED_BY(mutex_) = 0;	// what the disk was made with
	bool disk_fua_ XBC_GUARDED_BY(mutex_) = false;	// the disk advertises FUA (fixed once made)
	bool purge_user_ XBC_GUARDED_BY(mutex_) = false;	// counted in the driver's demand
	Atomic<bool> disk_added_;	// written under mutex_; sysfs reads it

	// Written under mutex_ with the queues quiesced, nr_rings_ raised
	// with release; queue_rq alone reads rings_ without mutex_ (through
	// data_path_ring, after loading nr_rings_ with acquire).
	Box<IoRing> rings_[kMaxFrontendQueues] XBC_GUARDED_BY(mutex_);
	Atomic<uint32_t> nr_rings_;
	// No longer on the data path.
	Box<IoRing> retired_[kMaxFrontendQueues] XBC_GUARDED_BY(mutex_);
	Atomic<bool> dead_;
};

// Module-wide state: the minors in use, the devices (for the purge).
class Driver : Pinned {
public:
	// The whole driver: its state, then (their context being the Driver)
	// the purge thread and the pool shrinker, both running on success.
	[[nodiscard]] static Result<Box<Driver>> create() noexcept;
	~Driver();

	MinorRegistry &minors() noexcept { return *minors_; }
	void add(Frontend &fe) noexcept;
	void remove(Frontend &fe) noexcept;
	// One pass of the in-tree 10 s purge over every device.
	void purge_all() noexcept;
	// Reasons for the purge thread to run (devices connected with
	// persistent grants, held requests) come and go; while there are none
	// it sleeps without a timeout. Any context.
	void purge_demand(int delta) noexcept;
	[[nodiscard]] bool purge_wanted() const noexcept { return purge_demand_.load() != 0; }
	// The shrinker (registered by create()): free pool pages of every
	// device, and giving up to `nr` back (KAPI_SHRINK_STOP: busy, later).
	[[nodiscard]] unsigned long pool_spare() noexcept;
	[[nodiscard]] unsigned long reclaim_pools(unsigned long nr) noexcept;
	// The purge thread's body.
	[[nodiscard]] int purge_thread() noexcept;

private:
	// Reached from create() alone (xbc::create constructs).
	template <typename T, typename... Args> friend Box<T> xbc::create(Gfp, Args &&...) noexcept;
	Driver(Box<MinorRegistry> minors, Mutex mutex, WaitQueue purge_wq) noexcept;

	WaitQueue purge_wq_;
	// Started by create() once the Driver exists (their context): the
	// destructor stops them first, the shrinker before the thread.
	Thread purge_thread_;
	Shrinker shrinker_;
	Atomic<uint32_t> purge_demand_;
	Box<MinorRegistry> minors_;
	Guarded<List<Frontend, &Frontend::driver_node>, Mutex> devices_;
};

// The driver instance between module init and exit (null otherwise).
Driver *driver_instance() noexcept;
// Module init/exit: the driver state and the purge thread.
[[nodiscard]] int driver_init() noexcept;
void driver_exit() noexcept;
// "key value" lines for sysfs; returns the length written (NUL excluded).
int format_pool_stats(const GrantPoolStats &s, char *buf, unsigned int len) noexcept;

} // namespace xbc::blkfront

// The C shim's opaque per-device handle (struct xbc_blkfront in engine.h):
// the Frontend it owns.
struct xbc_blkfront {
	xbc::Box<xbc::blkfront::Frontend> fe;
};
