// SPDX-License-Identifier: GPL-2.0-only
// Frontend: the handshake with the backend (rings, keys, features) and
// connect (negotiation, the disk, resize); see frontend.hpp.
#include "blkfront/frontend.hpp"

#include "kapi/blkif_abi.h"
#include "kapi/log.h"
#include "kapi/thread.h"
#include "blkfront/engine.h"
#include "xbc/invariant.hpp"
#include "xbc/xenstore.hpp"

namespace xbc::blkfront {


Status Frontend::talk_to_backend() noexcept
{
	const char *node = kapi_xenbus_nodename(dev_);
	const char *back = kapi_xenbus_otherend(dev_);

	settings_ = snapshot_settings(kapi_num_online_cpus());
	trusted_key_ = xs::read<bool>(node, "trusted");
	negotiate::FrontendRingPlan plan =
		negotiate::plan_frontend_rings(settings_, negotiate::read_backend_probe_keys(xs::Dir{back}));
	// blk-mq's hardware queues are fixed once the disk exists; after a
	// resume we never use more rings than it has.
	if (hw_queues_ && plan.nr_queues > hw_queues_)
		plan.nr_queues = hw_queues_;

	destroy_rings();
	for (uint32_t i = 0; i < plan.nr_queues; i++) {
		IoRingConfig cfg;
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

Status Frontend::write_connection_keys(kapi_xbt t, const negotiate::FrontendRingPlan &plan,
					 const char **what) noexcept
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
	XBC_TRY_STATUS(Status::from_kapi(kapi_blkmq_disk_alloc(&cfg, &kOps, this, disk_.out())));
	hw_queues_ = nr_rings_.load_relaxed();
	disk_max_segments_ = segments;
	return Status::ok();
}

} // namespace xbc::blkfront
