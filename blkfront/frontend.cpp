// SPDX-License-Identifier: GPL-2.0-only
// The blkfront control path, per device: probe, the xenbus state machine,
// the data path entry and teardown (see frontend.hpp). The handshake and
// connect are in connect.cpp, the module-wide Driver and purge thread in
// driver.cpp, the C entry points in entry.cpp.
#include "blkfront/frontend.hpp"

#include "kapi/blkif_abi.h"
#include "kapi/log.h"
#include "kapi/thread.h"
#include "blkfront/engine.h"
#include "xbc/invariant.hpp"
#include "xbc/xenstore.hpp"

namespace xbc::blkfront {

namespace {

// device-type names a CD-ROM (in-tree compares the first 5 characters).
bool is_cdrom_type(const char *type) noexcept
{
	static constexpr char kCdrom[] = "cdrom";
	for (size_t i = 0; i + 1 < sizeof(kCdrom); i++)
		if (type[i] != kCdrom[i])
			return false;
	return true;
}

} // namespace

// ---------------------------------------------------------------------------
// Frontend: probe

Frontend::Frontend(kapi_xenbus_device *dev, Driver *driver, Mutex mutex, const VdevLayout &layout) noexcept
	: RingOwner(driver, layout), dev_(dev), mutex_(move(mutex)),
	  handle_(handle_from_nodename(kapi_xenbus_nodename(dev)))
{
}

Result<Box<Frontend>> Frontend::create(kapi_xenbus_device *dev, Driver *driver) noexcept
{
	const char *node = kapi_xenbus_nodename(dev);
	// In-tree's rule: virtual-device-ext when virtual-device is absent or
	// unreadable as a number (ours: parse_vdevice, strictly).
	const auto parse = [](const char *buf, size_t) noexcept { return parse_vdevice(buf); };
	xs::Key<uint32_t> vdevice = xs::read_key<uint32_t>(xs::Dir{node}, "virtual-device", parse);
	if (!vdevice.is_valid())
		vdevice = xs::read_key<uint32_t>(xs::Dir{node}, "virtual-device-ext", parse);
	if (!vdevice.is_valid()) {
		kapi_xenbus_dev_fatal(dev, vdevice.error, "reading virtual-device");
		return Status::from_kapi(vdevice.error);
	}

	if (kapi_xen_hvm_domain()) {
		// Emulated disks still plugged: take only xvd vbds, and never
		// a CD-ROM (in-tree rules).
		const uint32_t v = vdevice.value;
		const uint32_t major = (v & (1u << 28)) ? kXenVbdMajor : (v >> 8);
		if (kapi_xen_hvm_with_legacy_disks() && major != kXenVbdMajor)
			return Status::error(err::kNoDev);
		// No device-type (or one we cannot read) is refused too: the
		// toolstack writes it for every PV disk.
		const xs::Key<bool> cdrom = xs::read_key<bool>(xs::Dir{node}, "device-type",
							       [](const char *type, size_t) noexcept {
								       return Result<bool>(is_cdrom_type(type));
							       });
		if (!cdrom.is_valid() || cdrom.value)
			return Status::error(err::kNoDev);
	}

	auto layout = layout_for_vdev(vdevice.value);
	if (layout.is_error()) {
		kapi_log(KAPI_LOG_WARNING, "blkfront: vdevice %#x is not a disk we can name\n",
			 vdevice.value);
		return layout.status();
	}

	auto mutex = Mutex::create("xbc_blkfront_dev");
	if (mutex.is_error())
		return mutex.status();
	Box<Frontend> fe = xbc::create<Frontend>(Gfp::kKernel, dev, driver, mutex.take(), layout.value());
	if (fe.is_null())
		return Status::error(err::kNoMem);
	const Status reserved = driver->minors().reserve(fe->minors_, layout.value().first_minor,
							 layout.value().minors);
	if (reserved.is_error())
		return reserved;

	// A previous driver instance (unbind, rmmod) left our node at Closed:
	// say Initialising again so the backend offers InitWait anew.
	// (Absent: nothing to put back; present but not Initialising, even
	// unreadable: put back.)
	const xs::Key<uint32_t> state = xs::read<uint32_t>(node, "state");
	if (!state.is_absent() && state.or_default(0) != KAPI_XENBUS_INITIALISING)
		xs::write_uint(KAPI_XBT_NIL, node, "state", KAPI_XENBUS_INITIALISING).ignore_error_deliberately();
	driver->add(*fe);
	return fe;
}

Frontend::~Frontend()
{
	// Off the purge list first, so the purge thread never sees us die.
	if (driver_node.is_linked())
		driver_->remove(*this);
	// Normally remove() did all this; the same order if it did not: no
	// irq may reach the disk once it is put.
	{
		MutexGuard g(mutex_);	// no other user is left; keeps the rules uniform
		destroy_rings(true);
	}
	disk_.reset();	// del, then put: after the rings, as ever
	if (minors_.node.is_linked())
		driver_->minors().release(minors_);
}

void Frontend::set_conn(Conn c) noexcept
{
	conn_ = c;
	conn_snapshot_.store_relaxed(c);
}

void Frontend::switch_state(kapi_xenbus_state s) noexcept
{
	our_state_ = s;
	if (s == KAPI_XENBUS_CLOSED)
		kapi_xenbus_frontend_closed(dev_);
	else
		(void)kapi_xenbus_switch_state(dev_, s);	// xenbus reports failures itself
}

// ---------------------------------------------------------------------------
// Frontend: xenbus states

void Frontend::otherend_changed(kapi_xenbus_state state) noexcept
{
	MutexGuard g(mutex_);
	if (removing_.load_relaxed())
		return;
	switch (state) {
	case KAPI_XENBUS_INITWAIT:
		if (our_state_ == KAPI_XENBUS_INITIALISING)
			talk_to_backend().ignore_error_deliberately();	// reported inside
		break;
	case KAPI_XENBUS_CONNECTED:
		// A backend that re-announces Connected tells us of a resize.
		if (our_state_ != KAPI_XENBUS_INITIALISED && our_state_ != KAPI_XENBUS_CONNECTED) {
			// Back after Closing: that disk is dead for good (in-tree
			// marks it so); the new connection gets a new one.
			if (disk_ && our_state_ == KAPI_XENBUS_CLOSED)
				drop_disk();
			if (talk_to_backend().is_error())
				break;
		}
		connect();
		break;
	case KAPI_XENBUS_CLOSED:
		if (our_state_ == KAPI_XENBUS_CLOSED)
			break;
		// A fresh probe sees the backend still Closed from the last
		// connection until it notices our Initialising: not a close.
		if (our_state_ == KAPI_XENBUS_INITIALISING && conn_ == Conn::kDisconnected)
			break;
		closing();
		break;
	case KAPI_XENBUS_CLOSING:
		closing();
		break;
	case KAPI_XENBUS_UNKNOWN:
		// The backend's node is gone (its driver domain died, or the
		// toolstack removed it): nothing will answer our rings again.
		// Fail what they hold now rather than at remove (a request
		// whose grant is still mapped is held, as at a reconnect).
		if (disk_ && our_state_ != KAPI_XENBUS_CLOSED) {
			closing();
			drop_disk();
		}
		break;
	default:
		break;
	}
}
void Frontend::closing() noexcept
{
	if (our_state_ == KAPI_XENBUS_CLOSING || our_state_ == KAPI_XENBUS_CLOSED)
		return;
	if (disk_) {
		queues_stopped_.store_relaxed(true);	// before the stop a completion could undo
		// An irq that read the flag before it was set may still be
		// restarting queues under its ring lock: let it finish first.
		for (uint32_t i = 0; i < nr_rings_.load_relaxed(); i++)
			rings_[i]->wait_for_irq_section();
		kapi_blkmq_stop_queues(disk_);
		kapi_blkmq_mark_dead(disk_);
	}
	switch_state(KAPI_XENBUS_CLOSED);
}

// ---------------------------------------------------------------------------
// Frontend: data path entry

int Frontend::queue_rq(unsigned int hwq, kapi_blk_request *rq) noexcept
{
	if (dead_.load_relaxed())
		return -err::kIo;
	// Acquire pairs with talk_to_backend's release: a ring counted is a
	// ring fully made.
	const uint32_t n = nr_rings_.load();
	IoRing *ring = n ? data_path_ring(hwq % n) : nullptr;
	if (!ring) {
		// Between rings (a resume that failed to reconnect). Stopping
		// the queue here would race with connect's restart, which may
		// have run already and is not ordered with us by any lock: let
		// blk-mq retry after a delay (BLK_STS_RESOURCE) instead. conn_
		// is mutex_'s, which we may not sleep on here: its snapshot.
		if (conn_snapshot_.load_relaxed() != Conn::kSuspended)
			return -err::kIo;
		return -err::kAgain;
	}
	return ring->queue(rq, hwq);
}

void RingOwner::disable_flush() noexcept
{
	flush_.store_relaxed(false);
	fua_.store_relaxed(false);
	kapi_blkmq_disable_flush(disk_);
}

void RingOwner::disable_discard() noexcept
{
	discard_.store_relaxed(false);
	secure_discard_.store_relaxed(false);
	kapi_blkmq_disable_discard(disk_);
}

void RingOwner::ring_broken() noexcept
{
	broken_.store_relaxed(true);
}

// ---------------------------------------------------------------------------
// Frontend: teardown, suspend, purge

void Frontend::set_purge_user(bool on) noexcept
{
	if (on == purge_user_)
		return;
	purge_user_ = on;
	driver_->purge_demand(on ? 1 : -1);
}

void RingOwner::held_changed(int delta) noexcept
{
	driver_->purge_demand(delta);
}

void Frontend::destroy_rings(bool final) noexcept
{
	set_purge_user(false);
	const uint32_t n = nr_rings_.load_relaxed();
	nr_rings_.store_relaxed(0);
	for (uint32_t i = 0; i < n; i++) {
		if (!final && rings_[i]->held()) {
			for (Box<IoRing> &slot : retired_) {
				if (slot.is_null()) {
					slot = move(rings_[i]);
					break;
				}
			}
		}
		rings_[i].reset();	// no free slot: the destructor's last resort
	}
	if (final)
		for (Box<IoRing> &r : retired_)
			r.reset();
}

bool Frontend::holds_mapped_requests() const noexcept
{
	for (const Box<IoRing> &r : retired_)
		if (!r.is_null())
			return true;
	for (uint32_t i = 0; i < nr_rings_.load_relaxed(); i++)
		if (rings_[i]->held())
			return true;
	return false;
}

void Frontend::sweep_retired() noexcept
{
	for (Box<IoRing> &r : retired_) {
		if (r.is_null())
			continue;
		r->purge();
		if (!r->held())
			r.reset();
	}
}

Status Frontend::resume() noexcept
{
	MutexGuard g(mutex_);
	if (removing_.load_relaxed())
		return Status::error(err::kNoDev);
	// xenbus put our state back to Initialising before calling us.
	our_state_ = KAPI_XENBUS_INITIALISING;
	if (disk_)
		kapi_blkmq_quiesce(disk_);
	for (uint32_t i = 0; i < nr_rings_.load_relaxed(); i++)
		rings_[i]->requeue_all();
	if (conn_ == Conn::kConnected)
		set_conn(Conn::kSuspended);
	destroy_rings();
	// A ring that broke (or held a request just now) belonged to the old
	// connection; held requests wait in retired_ for the purge. What is
	// dispatched from now on waits for the new rings instead of failing.
	broken_.store_relaxed(false);
	// New rings exist (not yet live) before blk-mq may dispatch again, so
	// a dispatch stops its queue under the ring lock and connect restarts it.
	const Status st = talk_to_backend();
	if (disk_)
		kapi_blkmq_unquiesce(disk_);
	return st;
}

void Frontend::remove() noexcept
{
	// Off the purge list first: the purge thread, which holds the driver
	// mutex every probe and rmmod need, never waits for this device.
	if (driver_node.is_linked())
		driver_->remove(*this);
	mutex_.lock();
	removing_.store_relaxed(true);
	// Pairs with IoRing::hold_locked: a request held from here on gets
	// the last resort at once; one held before shows in the checks below.
	full_fence();
	// A healthy disk goes first, while the backend still answers, so its
	// dirty data is written back (in-tree order). A dead one is failed,
	// and so is one with requests held from an earlier connection
	// (del_gendisk would wait for them).
	sweep_retired();
	const bool healthy = conn_ == Conn::kConnected && !is_broken() &&
			     our_state_ == KAPI_XENBUS_CONNECTED && !holds_mapped_requests();
	if (disk_ && healthy && disk_added_.load_relaxed()) {
		// del_gendisk may wait long on a slow backend: not under our
		// mutex, so xenwatch (otherend_changed) never blocks on it;
		// removing_ makes every other control call a no-op meanwhile.
		// disk_ stays owned meanwhile: only its deletion runs unlocked.
		mutex_.unlock();
		kapi_blkmq_disk_del(disk_);
		mutex_.lock();
		dead_.store_relaxed(true);
		// The rings (and their irqs) go before the disk's memory: a
		// completion still running on another CPU restarts queues.
		destroy_rings(true);
		// Deleted above already: the put alone (Disk's release would
		// delete again).
		kapi_blkmq_disk_put(disk_.release());
		disk_added_.store_relaxed(false);
	}
	dead_.store_relaxed(true);
	if (disk_)
		drop_disk();
	destroy_rings(true);
	set_conn(Conn::kDisconnected);
	mutex_.unlock();
}

// A disk whose backend is gone: quiesced, so no queue_rq holds a ring while
// the rings go (failing what is in flight), then everything it still holds
// is dispatched to fail (no ring, or dead_), and it is deleted. Requests
// the backend still maps get the last resort (see io_ring.hpp): del_gendisk
// waits for every request of the disk.
void Frontend::drop_disk() noexcept
{
	kapi_blkmq_quiesce(disk_);
	kapi_blkmq_mark_dead(disk_);
	set_conn(Conn::kDisconnected);
	destroy_rings(true);
	kapi_blkmq_unquiesce(disk_);
	// Queues stopped at Closing, and the requeue list (flush, FUA,
	// discard handed back at a resume that never reconnected) still hold
	// requests: dispatch them so they fail, or del_gendisk waits for them
	// forever.
	kapi_blkmq_start_stopped_queues(disk_);
	kapi_blkmq_kick_requeue(disk_);
	// The rings are gone already: nothing reaches the disk after put.
	disk_.reset();	// del, then put
	disk_added_.store_relaxed(false);
	queues_stopped_.store_relaxed(false);
	hw_queues_ = 0;
}

void Frontend::purge() noexcept
{
	// The purge thread holds the driver mutex: never wait for a device
	// busy in its control path (a connect, a remove); next round.
	if (!mutex_.try_lock())
		return;
	// Every ring: held requests may wait for the backend to unmap.
	for (uint32_t i = 0; i < nr_rings_.load_relaxed(); i++)
		rings_[i]->purge();
	sweep_retired();
	mutex_.unlock();
}

GrantPoolStats Frontend::pool_stats() noexcept
{
	GrantPoolStats sum{};
	MutexGuard g(mutex_);
	for (uint32_t i = 0; i < nr_rings_.load_relaxed(); i++)
		sum.add(rings_[i]->pool_stats());
	return sum;
}

uint32_t Frontend::pool_spare() noexcept
{
	// Reclaim may run inside our own connect's allocations: never wait.
	if (!mutex_.try_lock())
		return 0;
	uint32_t n = 0;
	for (uint32_t i = 0; i < nr_rings_.load_relaxed(); i++)
		n += rings_[i]->pool_spare();
	mutex_.unlock();
	return n;
}

uint32_t Frontend::reclaim_pool(uint32_t budget) noexcept
{
	if (!mutex_.try_lock())
		return 0;
	uint32_t freed = 0;
	for (uint32_t i = 0; i < nr_rings_.load_relaxed() && freed < budget; i++)
		freed += rings_[i]->reclaim_pool(budget - freed);
	mutex_.unlock();
	return freed;
}

} // namespace xbc::blkfront
