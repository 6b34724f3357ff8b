// SPDX-License-Identifier: GPL-2.0-only
// xen-blkback's control path (see backend.hpp for the state machine and the
// locking rules): probe, module state, the frontend's states, disconnect and
// teardown; the connect (rings, keys) is in backend_connect.cpp. Keys and
// their formats follow in-tree 6.1 exactly. Slightly over 450 lines: the
// state machine and the teardown it drives read best in one file.
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

using detail::kPathLen;
using detail::kValueLen;
using detail::write_uint;

ModulePin::ModulePin() noexcept
{
	xbc_blkback_module_get();
}

ModulePin::~ModulePin()
{
	xbc_blkback_module_put();
}

Backend::Backend(kapi_xenbus_device *dev, Mutex lock, Mutex xs_lock) noexcept
	: dev_(dev), lock_(move(lock)), xs_lock_(move(xs_lock))
{
}

// The locks first (they exist without the Backend), then the Backend with
// them, then what names it as its context, into an owning member: a
// failure at any step frees exactly what was made.
Result<Box<Backend>> Backend::create(kapi_xenbus_device *dev) noexcept
{
	auto lock = Mutex::create("xbc_vbd");
	// Not lock_: ring threads announce, and disconnect holds lock_ while
	// it stops them.
	auto xs_lock = Mutex::create("xbc_vbd_xs");
	if (lock.is_error() || xs_lock.is_error())
		return Status::error(err::kNoMem);
	Box<Backend> be = xbc::create<Backend>(Gfp::kKernel, dev, lock.take(), xs_lock.take());
	if (be.is_null())
		return Status::error(err::kNoMem);
	// Frees retired rings as soon as they retire: ring_retired runs in
	// the ring's own work item, which cannot free the ring it runs for.
	be->reap_work_.reset(kapi_work_create(&Backend::on_reap_work, be.get(), KAPI_GFP_KERNEL));
	if (!be->reap_work_)
		return Status::error(err::kNoMem);
	return move(be);
}

Result<Box<Backend>> Backend::probe(kapi_xenbus_device *dev) noexcept
{
	auto created = create(dev);
	if (created.is_error()) {
		kapi_xenbus_dev_fatal(dev, created.status().code(), "allocating backend structure");
		return created.status();
	}
	Box<Backend> be = created.take();
	const char *node = kapi_xenbus_nodename(dev);
	const negotiate::BackendProbeAdvert advert =
		negotiate::backend_probe_advert(VbdParams::snapshot(xbc_blkback_online_cpus()).negotiation);

	// Advertised up front, as in-tree: a frontend reads them when it sees
	// InitWait. Failing to write them only loses the features.
	if (write_uint(KAPI_XBT_NIL, node, "feature-max-indirect-segments", advert.max_indirect_segments)
		    .is_error())
		kapi_log(KAPI_LOG_WARNING, "%s: writing feature-max-indirect-segments failed\n", node);
	if (write_uint(KAPI_XBT_NIL, node, "multi-queue-max-queues", advert.max_queues).is_error())
		kapi_log(KAPI_LOG_WARNING, "%s: writing multi-queue-max-queues failed\n", node);

	const xs::Path path = xs::Path(node).child("physical-device");
	if (path.overflowed()) {
		kapi_log(KAPI_LOG_WARNING, "%s: probe failed (node name too long)\n", node);
		return Status::error(err::kNameTooLong);
	}
	const int rc = kapi_xenbus_watch(dev, path.c_str(), &Backend::on_physical_device, be.get(),
					 be->watch_.out());
	if (rc < 0) {
		kapi_log(KAPI_LOG_WARNING, "%s: probe failed (%d)\n", node, rc);
		return Status::error(-rc);
	}

	if (write_uint(KAPI_XBT_NIL, node, "max-ring-page-order", advert.max_ring_page_order).is_error())
		kapi_log(KAPI_LOG_WARNING, "%s: writing max-ring-page-order failed\n", node);

	{
		MutexGuard l(be->lock_);
		const int st = kapi_xenbus_switch_state(dev, KAPI_XENBUS_INITWAIT);
		if (st < 0) {
			kapi_log(KAPI_LOG_WARNING, "%s: probe failed (%d)\n", node, st);
			return Status::error(-st);
		}
		be->state_ = KAPI_XENBUS_INITWAIT;
		be->publish_state();
	}
	return move(be);
}

Backend::~Backend()
{
	// Unwatch first and without the lock: the callback takes it, and
	// unwatch waits for a running callback.
	watch_.reset();
	{
		MutexGuard l(lock_);
		disconnect();
	}
	// Removal cannot leave bios behind that point into the device, so
	// here (and only here) we wait for retiring rings; they take lock_.
	// A plain poll: uninterruptible, and removal with I/O held is rare.
	constexpr unsigned kPollMs = 100;
	for (unsigned waited = 0; nr_retiring() > 0; waited += kPollMs) {
		if (waited > 0 && waited % 10000 == 0)
			kapi_log(KAPI_LOG_WARNING, "%s: removal waits for %u rings' in-flight I/O\n",
				 kapi_xenbus_nodename(dev_), nr_retiring());
		kapi_msleep(kPollMs);
	}
	// The last ring_retired queued it before nr_retiring() reached 0:
	// cancel or wait for it, then free what it did not.
	reap_work_.reset();
	reap();
	{
		MutexGuard l(lock_);
		device_.reset();
	}
	// A zombie's device reference, after everything that used dev_; the
	// module pin (pin_, declared first) goes last, with the members.
	dev_ref_.reset();
}

void Backend::switch_state(kapi_xenbus_state s) noexcept
{
	const int rc = kapi_xenbus_switch_state(dev_, s);
	if (rc < 0) {
		kapi_log(KAPI_LOG_WARNING, "%s: switching to state %d failed (%d)\n",
			 kapi_xenbus_nodename(dev_), int(s), rc);
		return;
	}
	state_ = s;
	publish_state();
}

void Backend::publish_state() noexcept
{
	MutexGuard x(xs_lock_);
	ring_view_.state = state_;
}

void Backend::fatal(int err, const char *msg) noexcept
{
	// xenbus_dev_fatal also switches the device to Closing.
	kapi_xenbus_dev_fatal(dev_, err, msg);
	state_ = KAPI_XENBUS_CLOSING;
	publish_state();
}

void Backend::on_physical_device(void *ctx, const char *) noexcept
{
	static_cast<Backend *>(ctx)->physical_device_changed();
}

// The hotplug script wrote physical-device (and mode before it): open the
// device, then connect if the frontend is ready too.
void Backend::physical_device_changed() noexcept
{
	MutexGuard l(lock_);
	const char *node = kapi_xenbus_nodename(dev_);
	const xs::Key<xs::DevNumber> dev_number = xs::read<xs::DevNumber>(node, "physical-device");
	// The watch fires once when registered, before the script ran.
	if (dev_number.is_absent())
		return;
	if (!dev_number.is_valid()) {
		fatal(dev_number.error, "reading physical-device");
		return;
	}
	const uint32_t major = dev_number.value.major;
	const uint32_t minor = dev_number.value.minor;
	if (have_physical_) {
		if (major != major_ || minor != minor_)
			kapi_log(KAPI_LOG_WARNING,
				 "changing physical device (from %x:%x to %x:%x) not supported.\n",
				 major_, minor_, major, minor);
		return;
	}

	// Absent, or too long for mode_ (-E2BIG), fails the device.
	const auto mode = xs::read<xs::String<sizeof(mode_)>>(node, "mode");
	if (!mode.is_valid()) {
		fatal(mode.error, "reading mode");
		return;
	}
	// Unreadable or absent means a disk, as in-tree.
	const auto device_type = xs::read<xs::String<kValueLen>>(kapi_xenbus_otherend(dev_), "device-type");
	const bool cdrom = device_type.is_valid() && text_equal(device_type.value.c_str(), "cdrom");

	// The frontend's directory ends in its virtual device number; in-tree
	// gives up quietly when it does not.
	const char *other = kapi_xenbus_otherend(dev_);
	const char *last = other;
	size_t last_len = 0;
	for (const char *p = other; *p; p++) {
		last_len++;
		if (*p == '/') {
			last = p + 1;
			last_len = 0;
		}
	}
	if (xs::parse_u32(last, last_len + 1).is_error())
		return;

	const bool readonly = !text_contains(mode.value.c_str(), 'w');
	// No holder: in-tree opens shared, so one device may back several
	// vbds (a read-only image attached to many guests).
	auto dev = Device::open(major, minor, readonly, cdrom, nullptr);
	if (dev.is_error()) {
		fatal(dev.status().code(), "creating vbd structure");
		return;
	}
	device_ = dev.take();
	major_ = major;
	minor_ = minor;
	{
		MutexGuard x(xs_lock_);
		ring_view_.major = major;
		ring_view_.minor = minor;
	}
	copy_bytes(mode_, mode.value.text, sizeof(mode_));
	have_physical_ = true;
	try_connect();
}

bool Backend::frontend_changed(kapi_xenbus_state frontend, bool online) noexcept
{
	reap();
	MutexGuard l(lock_);
	frontend_ = frontend;
	switch (frontend) {
	case KAPI_XENBUS_INITIALISING:
		if (state_ == KAPI_XENBUS_CLOSED) {
			kapi_log(KAPI_LOG_INFO, "%s: prepare for reconnect\n", kapi_xenbus_nodename(dev_));
			switch_state(KAPI_XENBUS_INITWAIT);
		}
		return false;

	case KAPI_XENBUS_INITIALISED:
	case KAPI_XENBUS_CONNECTED:
		// Two quick watch events may skip a state: connect on either.
		if (state_ == KAPI_XENBUS_CONNECTED)
			return false;
		disconnect();
		// As in-tree: no new rings while old ones still have I/O.
		if (nr_retiring_.load() > 0) {
			fatal(-err::kBusy, "pending I/O");
			return false;
		}
		if (connect_rings().is_error()) {
			disconnect();
			return false;
		}
		try_connect();
		return false;

	case KAPI_XENBUS_CLOSING:
		switch_state(KAPI_XENBUS_CLOSING);
		return false;

	case KAPI_XENBUS_CLOSED:
		disconnect();
		// Closed tells the frontend its grants are free: not before
		// the last retiring ring has unmapped them (ring_retired).
		if (nr_retiring_.load() > 0) {
			close_pending_ = true;
			if (state_ != KAPI_XENBUS_CLOSING)
				switch_state(KAPI_XENBUS_CLOSING);
			return !online;
		}
		switch_state(KAPI_XENBUS_CLOSED);
		return !online;

	case KAPI_XENBUS_UNKNOWN:
		return true;

	default: {
		Text<48> msg;
		msg.add("saw state ").add_uint(unsigned(frontend)).add(" at frontend");
		fatal(-err::kInval, msg.c_str());
		return false;
	}
	}
}

// Stops every ring and frees everything the connection held, except what
// in-flight bios still use: those rings retire later. Never waits for I/O.
// Idempotent.
void Backend::disconnect() noexcept
{
	if (!rings_)
		return;
	unsigned retiring = 0;
	for (unsigned i = 0; i < nr_rings_; i++) {
		BackendRing *ring = rings_[i];
		if (!ring->retire()) {
			ring->next_retiring = retiring_;
			retiring_ = ring;
			retiring++;
			continue;
		}
		// Shut down: the irq unbound, every grant unmapped, the pages
		// freed; the ring goes.
		Box<BackendRing> r = Box<BackendRing>::adopt(ring);
		retired_io_.add(r->io_stats());
		retired_grants_.add(r->grant_stats());
	}
	kapi_free(rings_);
	rings_ = nullptr;
	nr_rings_ = 0;
	if (retiring) {
		nr_retiring_.add(retiring);
		kapi_log(KAPI_LOG_INFO, "%s: %u rings retire once their I/O completes\n",
			 kapi_xenbus_nodename(dev_), retiring);
		return;
	}
	log_disconnected();
}

void Backend::ring_retired(BackendRing &ring) noexcept
{
	if (retire_locked(ring))
		zombie_put();	// with lock_ released: the reaper may free it
}

bool Backend::retire_locked(BackendRing &ring) noexcept
{
	MutexGuard l(lock_);
	for (BackendRing **p = &retiring_; *p; p = &(*p)->next_retiring) {
		if (*p == &ring) {
			*p = ring.next_retiring;
			break;
		}
	}
	ring.next_retiring = retired_;
	retired_ = &ring;
	retired_io_.add(ring.io_stats());
	retired_grants_.add(ring.grant_stats());
	// Freed by the reap work, not at the next xenwatch event. Queued
	// before the count drops: the destructor destroys reap_work_ once
	// it sees no ring retiring.
	kapi_work_queue(reap_work_);
	if (nr_retiring_.sub(1) > 0)
		return false;
	// Removed: dev_'s nodes and state are no longer ours.
	if (removed_)
		return true;
	log_disconnected();
	if (close_pending_) {
		close_pending_ = false;
		switch_state(KAPI_XENBUS_CLOSED);
		// A frontend that already came back for a reconnect.
		if (frontend_ == KAPI_XENBUS_INITIALISING)
			switch_state(KAPI_XENBUS_INITWAIT);
	}
	return false;
}

void Backend::on_reap_work(void *ctx) noexcept
{
	static_cast<Backend *>(ctx)->reap();
}

// Without lock_: freeing a ring waits for its work item, which may still
// be on its way out of ring_retired (and lockdep would see lock_ -> work ->
// lock_).
void Backend::reap() noexcept
{
	BackendRing *list;
	{
		MutexGuard l(lock_);
		list = retired_;
		retired_ = nullptr;
	}
	while (BackendRing *ring = list) {
		list = ring->next_retiring;
		Box<BackendRing>::adopt(ring).reset();
	}
}

void Backend::log_disconnected() noexcept
{
	// "<log_name> N" for each counter of the list, in its order.
#define XBC_LOG_FORMAT(field, log_name) " " #log_name " %llu"
#define XBC_LOG_ARG(field, log_name) , (unsigned long long)retired_grants_.field
	kapi_log(KAPI_LOG_INFO,
		 "%s: disconnected: grants" XBC_BLKBACK_GRANT_COUNTERS(XBC_LOG_FORMAT) "\n",
		 kapi_xenbus_nodename(dev_) XBC_BLKBACK_GRANT_COUNTERS(XBC_LOG_ARG));
#undef XBC_LOG_ARG
#undef XBC_LOG_FORMAT
}

void Backend::reclaim_memory() noexcept
{
	// The rings' threads own their pools: they squeeze on seeing this.
	squeeze_gen_.add(1);
}

IoStats Backend::io_stats() noexcept
{
	MutexGuard l(lock_);
	IoStats s = retired_io_;
	for (unsigned i = 0; i < nr_rings_; i++)
		s.add(rings_[i]->io_stats());
	// A retiring ring's counters join retired_io_ only once it retires:
	// until then they count here, or the totals would dip meanwhile.
	for (const BackendRing *r = retiring_; r; r = r->next_retiring)
		s.add(r->io_stats());
	return s;
}

GrantStats Backend::grant_stats() noexcept
{
	MutexGuard l(lock_);
	GrantStats s = retired_grants_;
	for (unsigned i = 0; i < nr_rings_; i++)
		s.add(rings_[i]->grant_stats());
	for (const BackendRing *r = retiring_; r; r = r->next_retiring)
		s.add(r->grant_stats());
	return s;
}

bool Backend::physical_device(uint32_t *major, uint32_t *minor) noexcept
{
	MutexGuard l(lock_);
	*major = major_;
	*minor = minor_;
	return have_physical_;
}

void Backend::mode(char *buf, size_t len) noexcept
{
	if (len == 0)
		return;
	MutexGuard l(lock_);
	size_t i = 0;
	for (; i + 1 < len && i < sizeof(mode_) && mode_[i]; i++)
		buf[i] = mode_[i];
	buf[i] = '\0';
}

} // namespace xbc::blkback
