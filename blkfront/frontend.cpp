// SPDX-License-Identifier: GPL-2.0-only
// The blkfront control path and the module-wide driver state; see
// frontend.hpp. The C shim (blkfront/blkfront.c) forwards xenbus callbacks
// to the extern "C" functions at the end of this file.
#include "blkfront/frontend.hpp"

#include "kapi/blkif_abi.h"
#include "kapi/log.h"
#include "kapi/thread.h"
#include "blkfront/engine.h"
#include "xbc/invariant.hpp"
#include "xbc/xenstore.hpp"

namespace xbc::blkfront {

namespace {

// Longest value we accept from xenstore for a number: 20 digits + NUL.
constexpr size_t kNumberLen = 24;

Driver *g_driver;	// trivially initialised: no constructor runs

} // namespace

Driver *driver_instance() noexcept
{
	return g_driver;
}

// ---------------------------------------------------------------------------
// Frontend: probe

Frontend::Frontend(kapi_xenbus_device *dev, Driver *driver, Mutex mutex, const VdevLayout &layout) noexcept
	: dev_(dev), driver_(driver), mutex_(move(mutex)), layout_(layout),
	  handle_(handle_from_nodename(kapi_xenbus_nodename(dev)))
{
}

Result<Box<Frontend>> Frontend::create(kapi_xenbus_device *dev, Driver *driver) noexcept
{
	const char *node = kapi_xenbus_nodename(dev);
	char buf[kNumberLen];
	int rc = kapi_xenbus_read(KAPI_XBT_NIL, node, "virtual-device", buf, sizeof(buf));
	if (rc < 0)
		rc = kapi_xenbus_read(KAPI_XBT_NIL, node, "virtual-device-ext", buf, sizeof(buf));
	if (rc < 0) {
		kapi_xenbus_dev_fatal(dev, rc, "reading virtual-device");
		return Status::from_kapi(rc);
	}
	auto vdevice = parse_vdevice(buf);
	if (vdevice.is_error()) {
		kapi_xenbus_dev_fatal(dev, -err::kInval, "parsing virtual-device");
		return vdevice.status();
	}

	if (kapi_xen_hvm_domain()) {
		// Emulated disks still plugged: take only xvd vbds, and never
		// a CD-ROM (in-tree rules).
		const uint32_t v = vdevice.value();
		const uint32_t major = (v & (1u << 28)) ? kXenVbdMajor : (v >> 8);
		if (kapi_xen_hvm_with_legacy_disks() && major != kXenVbdMajor)
			return Status::error(err::kNoDev);
		// No device-type (or one we cannot read) is refused too: the
		// toolstack writes it for every PV disk.
		char type[32];
		if (kapi_xenbus_read(KAPI_XBT_NIL, node, "device-type", type, sizeof(type)) < 0 ||
		    (type[0] == 'c' && type[1] == 'd' && type[2] == 'r' && type[3] == 'o' &&
		     type[4] == 'm'))
			return Status::error(err::kNoDev);
	}

	auto layout = layout_for_vdev(vdevice.value());
	if (layout.is_error()) {
		kapi_log(KAPI_LOG_WARNING, "blkfront: vdevice %#x is not a disk we can name\n",
			 vdevice.value());
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
	char state[kNumberLen];
	if (kapi_xenbus_read(KAPI_XBT_NIL, node, "state", state, sizeof(state)) >= 0 &&
	    !(state[0] == '1' && state[1] == '\0'))
		kapi_xenbus_write(KAPI_XBT_NIL, node, "state", "1");
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
	kapi_blkmq_disk_del(disk_);
	kapi_blkmq_disk_put(disk_);
	disk_ = nullptr;
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

Status Frontend::talk_to_backend() noexcept
{
	const char *node = kapi_xenbus_nodename(dev_);
	const char *back = kapi_xenbus_otherend(dev_);

	settings_ = snapshot_settings(kapi_num_online_cpus());
	trusted_key_ = xs::read<bool>(node, "trusted");
	RingPlan plan = negotiate::plan_frontend_rings(settings_,
						       negotiate::read_backend_probe_keys(xs::Dir{back}));
	// blk-mq's hardware queues are fixed once the disk exists; after a
	// resume we never use more rings than it has.
	if (hw_queues_ && plan.nr_queues > hw_queues_)
		plan.nr_queues = hw_queues_;

	destroy_rings();
	for (uint32_t i = 0; i < plan.nr_queues; i++) {
		RingConfig cfg;
		cfg.index = i;
		cfg.ring_page_order = plan.ring_page_order;
		cfg.backend = DomId(kapi_xenbus_otherend_id(dev_));
		cfg.handle = handle_;
		auto ring = IoRing::create(dev_, this, cfg);
		if (ring.is_error()) {
			kapi_xenbus_dev_fatal(dev_, ring.status().code(), "setting up ring");
			destroy_rings();
			return ring.status();
		}
		rings_[i] = ring.take();
		// Release: queue_rq sees the ring whole once it sees it counted.
		nr_rings_.store(i + 1);
	}

	const char *what = nullptr;
	// Run synchronously, under the mutex_ this function holds; clang's
	// analysis does not carry that into a lambda.
	const xs::TxResult tx = xs::transaction([&](kapi_xbt t) XBC_NO_THREAD_SAFETY_ANALYSIS {
		return write_connection_keys(t, plan, &what);
	});
	if (tx.is_error()) {
		const char *stage = tx.stage == xs::TxStage::kStart ? "starting transaction"
				    : tx.stage == xs::TxStage::kBody ? what
								      : "completing transaction";
		kapi_xenbus_dev_fatal(dev_, tx.status.code(), stage);
		destroy_rings();
		return tx.status;
	}
	switch_state(KAPI_XENBUS_INITIALISED);
	return Status::ok();
}

void Frontend::remove_layout_keys(kapi_xbt t, const char *node) noexcept
{
	// Removing an absent node fails with -ENOENT, which is the goal.
	static constexpr const char *kSingleKeys[] = {"ring-page-order", "multi-queue-num-queues", "ring-ref",
						      "event-channel"};
	for (const char *key : kSingleKeys)
		xs::remove(t, node, xs::Path(key)).ignore_error_deliberately();
	for (uint32_t i = 0; i < kMaxRingPages; i++) {
		if (xs::remove(t, node, xs::Path("ring-ref").add_uint(i)).is_error())
			break;
	}
	for (uint32_t q = 0; q < kMaxFrontendQueues; q++) {
		if (xs::remove(t, node, xs::Path("queue-").add_uint(q)).is_error())
			break;
	}
}

Status Frontend::write_connection_keys(kapi_xbt t, const RingPlan &plan, const char **what) noexcept
{
	const char *node = kapi_xenbus_nodename(dev_);
	const uint32_t pages = 1u << plan.ring_page_order;

	// Keys of an earlier connection (rebind, another ring layout) would
	// mislead the backend: remove every layout key before writing ours.
	*what = "removing stale keys";
	remove_layout_keys(t, node);

	if (pages > 1) {
		*what = "writing ring-page-order";
		XBC_TRY_STATUS(xs::write_uint(t, node, "ring-page-order", plan.ring_page_order));
	}
	const uint32_t nr_rings = nr_rings_.load_relaxed();	// ours: under mutex_
	if (nr_rings > 1) {
		*what = "writing multi-queue-num-queues";
		XBC_TRY_STATUS(xs::write_uint(t, node, "multi-queue-num-queues", nr_rings));
	}
	for (uint32_t q = 0; q < nr_rings; q++) {
		xs::Path prefix;
		if (nr_rings > 1)
			prefix.add("queue-").add_uint(q).add("/");
		*what = "writing ring-ref";
		if (pages == 1) {
			XBC_TRY_STATUS(xs::write_uint(t, node, xs::Path(prefix).add("ring-ref"),
						      rings_[q]->ring_ref(0)));
		} else {
			for (uint32_t i = 0; i < pages; i++)
				XBC_TRY_STATUS(xs::write_uint(t, node, xs::Path(prefix).add("ring-ref").add_uint(i),
							      rings_[q]->ring_ref(i)));
		}
		*what = "writing event-channel";
		XBC_TRY_STATUS(xs::write_uint(t, node, xs::Path(prefix).add("event-channel"),
					      rings_[q]->event_channel()));
	}
	// We advertise our capability; we use it only if the backend does too.
	const negotiate::FrontendAdvert advert = negotiate::frontend_advert(settings_);
	*what = "writing protocol";
	XBC_TRY_STATUS(Status::from_kapi(kapi_xenbus_write(t, node, "protocol", advert.protocol)));
	*what = "writing feature-persistent";
	XBC_TRY_STATUS(xs::write_uint(t, node, "feature-persistent", advert.feature_persistent ? 1 : 0));
	return Status::ok();
}

void Frontend::apply_features(const Features &f) noexcept
{
	features_ = f;
	flush_.store_relaxed(f.flush != negotiate::FlushMode::kNone);
	fua_.store_relaxed(f.fua);
	discard_.store_relaxed(f.discard);
	secure_discard_.store_relaxed(f.secure_discard);
}

// Segments per request the disk may take now: what the rings carry, and
// never more than a barrier can if the disk advertises FUA.
uint32_t Frontend::disk_segments() const noexcept
{
	const uint32_t segs = features_.max_segments();
	return disk_fua_ && segs > kMaxDirectSegments ? kMaxDirectSegments : segs;
}

void Frontend::log_features() noexcept
{
	// The in-tree line, word for word, so existing log checks still match.
	const char *flush = fua_enabled()     ? "barrier: enabled;"
			    : flush_enabled() ? "flush diskcache: enabled;"
					      : "barrier or flush: disabled;";
	kapi_log(KAPI_LOG_INFO, "blkfront: %s: %s %s %s %s %s %s %s\n", name(), flush,
		 "persistent grants:", features_.persistent ? "enabled;" : "disabled;",
		 "indirect descriptors:", features_.max_indirect_segments ? "enabled;" : "disabled;",
		 "bounce buffer:", features_.bounce ? "enabled" : "disabled;");
}

void Frontend::connect() noexcept
{
	if (conn_ == Conn::kConnected) {
		resize();
		return;
	}

	const negotiate::BackendConnectKeys b =
		negotiate::read_backend_connect_keys(xs::Dir{kapi_xenbus_otherend(dev_)});
	negotiate::DiskGeometry geometry;
	negotiate::Refusal why;
	if (!negotiate::negotiate_disk(b, &geometry, &why)) {
		kapi_xenbus_dev_fatal(dev_, why.err, why.reason);
		return;
	}
	if (geometry.physical_ignored)
		kapi_log(KAPI_LOG_WARNING, "blkfront: %s: ignoring physical-sector-size %u, using %u\n",
			 name(), b.physical_sector_size.value, geometry.physical_block_size);
	if (geometry.granularity_ignored)
		kapi_log(KAPI_LOG_WARNING, "blkfront: %s: ignoring discard-granularity %u, using %u\n",
			 name(), b.discard_granularity.value, geometry.discard_granularity);
	const Features f = negotiate::negotiate_frontend(settings_, b, trusted_key_);
	Status st = Status::ok();
	apply_features(f);
	for (uint32_t i = 0; i < nr_rings_.load_relaxed(); i++) {
		st = rings_[i]->configure(f);
		if (st.is_error()) {
			kapi_xenbus_dev_fatal(dev_, st.code(), "setting up ring buffers");
			return;
		}
	}

	const bool recovering = conn_ == Conn::kSuspended;
	if (!disk_) {
		st = create_disk(geometry);
		if (st.is_error()) {
			kapi_xenbus_dev_fatal(dev_, st.code(), "creating the disk");
			return;
		}
	} else if (disk_segments() != disk_max_segments_) {
		// A resume onto another backend: the disk's limits follow it
		// (in-tree blkif_recover), so requests built from now on fit.
		const uint32_t segs = disk_segments();
		st = Status::from_kapi(kapi_blkmq_set_max_segments(disk_, segs, segs * (KAPI_PAGE_SIZE / 512)));
		if (st.is_error()) {
			kapi_xenbus_dev_fatal(dev_, st.code(), "updating the queue limits");
			return;
		}
		disk_max_segments_ = segs;
	}
	log_features();
	switch_state(KAPI_XENBUS_CONNECTED);
	set_conn(Conn::kConnected);
	set_purge_user(features_.persistent);
	broken_.store_relaxed(false);
	queues_stopped_.store_relaxed(false);
	kapi_blkmq_start_stopped_queues(disk_);
	if (recovering) {
		kapi_blkmq_kick_requeue(disk_);
		kapi_blkmq_resubmit_bios(disk_);
		return;
	}
	if (!disk_added_.load_relaxed()) {
		st = Status::from_kapi(kapi_blkmq_disk_add(disk_, dev_));
		if (st.is_error()) {
			kapi_xenbus_dev_fatal(dev_, st.code(), "adding the disk");
			return;
		}
		disk_added_.store_relaxed(true);
	}
}

void Frontend::resize() noexcept
{
	const xs::Key<uint64_t> key = xs::read<uint64_t>(kapi_xenbus_otherend(dev_), "sectors");
	uint64_t sectors;
	negotiate::Refusal why;
	if (!negotiate::check_sectors(key, &sectors, &why)) {
		// A resize we cannot take keeps the old capacity.
		if (key.is_valid())
			kapi_log(KAPI_LOG_WARNING, "blkfront: %s: %s: %llu\n", name(), why.reason,
				 static_cast<unsigned long long>(key.value));
		return;
	}
	kapi_log(KAPI_LOG_INFO, "blkfront: %s: setting capacity to %llu\n", name(),
		 static_cast<unsigned long long>(sectors));
	kapi_blkmq_set_capacity(disk_, sectors);
}

Status Frontend::create_disk(const negotiate::DiskGeometry &g) noexcept
{
	kapi_blkmq_config cfg{};
	const uint32_t segments = features_.max_segments();
	// A barrier carries at most 11 segments (blkif has no indirect
	// barrier; in-tree BUG_ONs): with bigger requests, the block layer
	// sends FUA as a write then a flush (a barrier without data).
	disk_fua_ = features_.fua && segments <= kMaxDirectSegments;
	cfg.nr_hw_queues = nr_rings_.load_relaxed();
	cfg.queue_depth = rings_[0]->size();
	cfg.capacity = g.sectors;
	cfg.logical_block_size = g.logical_block_size;
	cfg.physical_block_size = g.physical_block_size;
	cfg.max_hw_sectors = segments * (KAPI_PAGE_SIZE / 512);
	cfg.max_segments = segments;
	cfg.max_segment_size = KAPI_PAGE_SIZE;
	cfg.segment_boundary_mask = KAPI_PAGE_SIZE - 1;
	cfg.dma_alignment = 511;
	cfg.write_cache = features_.flush != negotiate::FlushMode::kNone;
	cfg.fua = disk_fua_;
	cfg.discard = features_.discard;
	cfg.secure_erase = features_.secure_discard;
	cfg.max_discard_sectors = 0xffffffffu;
	cfg.discard_granularity = g.discard_granularity;
	cfg.discard_alignment = g.discard_alignment;
	cfg.readonly = (g.info & KAPI_VDISK_READONLY) != 0;
	cfg.removable = (g.info & KAPI_VDISK_REMOVABLE) != 0;
	cfg.cdrom = (g.info & KAPI_VDISK_CDROM) != 0;
	cfg.major = kXenVbdMajor;
	cfg.first_minor = layout_.first_minor;
	cfg.minors = layout_.minors;
	static_assert(sizeof(cfg.name) >= sizeof(layout_.name));
	copy_bytes(cfg.name, layout_.name, sizeof(layout_.name));

	static constexpr kapi_blkmq_ops kOps = {
		[](void *ctx, unsigned int hwq, kapi_blk_request *rq) noexcept {
			return static_cast<Frontend *>(ctx)->queue_rq(hwq, rq);
		},
	};
	kapi_blkmq_disk *disk = nullptr;
	XBC_TRY_STATUS(Status::from_kapi(kapi_blkmq_disk_alloc(&cfg, &kOps, this, &disk)));
	disk_ = disk;
	hw_queues_ = nr_rings_.load_relaxed();
	disk_max_segments_ = segments;
	return Status::ok();
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

void Frontend::disable_flush() noexcept
{
	flush_.store_relaxed(false);
	fua_.store_relaxed(false);
	kapi_blkmq_disable_flush(disk_);
}

void Frontend::disable_discard() noexcept
{
	discard_.store_relaxed(false);
	secure_discard_.store_relaxed(false);
	kapi_blkmq_disable_discard(disk_);
}

void Frontend::ring_broken() noexcept
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

void Frontend::held_changed(int delta) noexcept
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
		mutex_.unlock();
		kapi_blkmq_disk_del(disk_);
		mutex_.lock();
		dead_.store_relaxed(true);
		// The rings (and their irqs) go before the disk's memory: a
		// completion still running on another CPU restarts queues.
		destroy_rings(true);
		kapi_blkmq_disk_put(disk_);
		disk_ = nullptr;
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
	kapi_blkmq_disk_del(disk_);
	kapi_blkmq_disk_put(disk_);
	disk_ = nullptr;
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

// ---------------------------------------------------------------------------
// Driver

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
	return d;
}

Driver::~Driver()
{
	// The shrinker first (it walks the devices), then the thread: it
	// purges the devices; purge_wq_ goes with the members.
	kapi_shrinker_unregister(shrinker_);
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

// The in-tree blkfront_work: every 10 s, end the grants backends dropped
// (and fail held requests the backend let go of). With nothing to purge
// it sleeps until there is (in-tree's delayed work runs regardless).
int purge_thread_body(void *ctx) noexcept
{
	Driver *d = static_cast<Driver *>(ctx);
	while (!kapi_thread_should_stop()) {
		if (!d->purge_wanted()) {
			kapi_waitq_wait_timeout(d->purge_wq_, purge_is_wanted, d, KAPI_WAIT_FOREVER);
			continue;
		}
		kapi_waitq_wait_timeout(d->purge_wq_, purge_should_stop, d,
					static_cast<unsigned long>(kPurgeIntervalSeconds) * kapi_hz());
		if (kapi_thread_should_stop())
			break;
		d->purge_all();
	}
	return 0;
}

} // namespace

} // namespace xbc::blkfront

// ---------------------------------------------------------------------------
// C entry points (blkfront/entry.h, blkfront/engine.h)

using xbc::blkfront::Driver;
using xbc::blkfront::Frontend;

namespace xbc::blkfront {

// Module init: the driver state and the purge thread.
int driver_init() noexcept
{
	auto d = Driver::create();
	if (d.is_error())
		return d.status().code();
	Box<Driver> driver = d.take();
	const int rc =
		kapi_thread_run(purge_thread_body, driver.get(), "xbc_blkfront", driver->purge_thread_.out());
	if (rc < 0)
		return rc;
	driver->shrinker_ = kapi_shrinker_register("xbc_blkfront", shrink_count, shrink_scan, driver.get());
	if (!driver->shrinker_)
		return -err::kNoMem;
	g_driver = driver.release();
	return 0;
}

void driver_exit() noexcept
{
	Box<Driver>::adopt(g_driver).reset();
	g_driver = nullptr;
}

} // namespace xbc::blkfront

int xbc_blkfront_probe(kapi_xenbus_device *dev, xbc_blkfront **out) noexcept
{
	Driver *driver = xbc::blkfront::driver_instance();
	if (!driver)
		return -xbc::err::kNoDev;
	auto fe = Frontend::create(dev, driver);
	if (fe.is_error())
		return fe.status().code();
	xbc::Box<xbc_blkfront> handle = xbc::create<xbc_blkfront>(xbc::Gfp::kKernel);
	if (handle.is_null())
		return -xbc::err::kNoMem;
	handle->fe = fe.take();
	*out = handle.release();
	return 0;
}

void xbc_blkfront_otherend_changed(xbc_blkfront *h, kapi_xenbus_state state) noexcept
{
	h->fe->otherend_changed(state);
}

int xbc_blkfront_resume(xbc_blkfront *h) noexcept
{
	return h->fe->resume().code();
}

void xbc_blkfront_remove(xbc_blkfront *h) noexcept
{
	h->fe->remove();
	xbc::Box<xbc_blkfront>::adopt(h).reset();
}

int xbc_blkfront_is_ready(xbc_blkfront *h) noexcept
{
	return h->fe->is_ready() ? 1 : 0;
}

namespace xbc::blkfront {

int format_pool_stats(const GrantPoolStats &s, char *buf, unsigned int len) noexcept
{
	const struct {
		const char *key;
		uint64_t value;
	} rows[] = {
#define XBC_POOL_ROW(field, key, type) {#key " ", s.field},
		XBC_GRANT_POOL_COUNTERS(XBC_POOL_ROW)
#undef XBC_POOL_ROW
	};
	if (len == 0)
		return 0;
	unsigned int n = 0;
	for (const auto &row : rows) {
		const xs::Decimal num(row.value);
		const char *parts[] = {row.key, num.c_str(), "\n"};
		for (const char *p : parts)
			for (; *p && n + 1 < len; p++)
				buf[n++] = *p;
	}
	buf[n] = '\0';
	return int(n);
}

} // namespace xbc::blkfront

int xbc_blkfront_format_stats(xbc_blkfront *h, char *buf, unsigned int len) noexcept
{
	return xbc::blkfront::format_pool_stats(h->fe->pool_stats(), buf, len);
}
