// SPDX-License-Identifier: GPL-2.0-only
// Feature negotiation for both ends of a vbd, as pure functions from (our
// per-connection snapshot of the module parameters, the peer's parsed
// xenstore keys) to what the connection uses. Implemented in
// common/negotiate.cpp; the engines read and write the keys.
//
// The rule from the 2022 feature-persistent deadlock: we ADVERTISE our
// capability (the snapshot), and USE a feature only if our snapshot wants it
// AND the peer advertised it. The 0644 parameters can change at any time, so
// each connection reads them once (snapshot_*) and uses only that reading.
//
// Key names, defaults and limits follow the 6.1 in-tree drivers
// (xen-blkfront.c talk_to_blkback/blkfront_gather_backend_features,
// xen-blkback/xenbus.c connect_ring/connect), so either end interoperates
// with the in-tree other end. Where we are stricter, it is said below.
#pragma once

#include "kapi/xenbus.h"
#include "xbc/base.hpp"
#include "xbc/blkif.hpp"
#include "xbc/limits.hpp"
#include "xbc/result.hpp"
#include "xbc/xenstore.hpp"
#include "xbc/xs_value.hpp"

namespace xbc::negotiate {

// A peer key and how it is read: xbc/xenstore.hpp's, one policy for both
// engines.
using xs::Key;
using xs::read_key;

// ------------------------------------------------------------ frontend

// xen_blkfront's parameters, as declared (units: segments, queues, order).
struct FrontendParams {
	uint32_t max_indirect_segments = 32;	// 0444
	uint32_t max_queues = 4;		// 0444
	int32_t max_ring_page_order = 0;	// 0444
	bool trusted = true;			// 0644
	bool feature_persistent = true;		// 0644
};

// One connection's reading of them, clamped as the in-tree module init does
// (segments >= 11; an order outside 0..4, negative included, is 4; queues
// <= online CPUs), and also: segments <= what 8 indirect pages describe
// (limits::kMaxIndirectSegments), queues in 1..limits::kMaxFrontendQueues.
struct FrontendSnapshot {
	uint32_t max_indirect_segments;
	uint32_t max_queues;
	uint32_t max_ring_page_order;
	bool trusted;
	bool feature_persistent;
};
// Reads each field of `live` exactly once.
[[nodiscard]] FrontendSnapshot snapshot_frontend(const FrontendParams &live, unsigned online_cpus) noexcept;

// What the backend offered at probe time, read by the frontend at InitWait.
struct BackendProbeKeys {
	Key<uint32_t> max_ring_page_order;	// "max-ring-page-order", default 0
	Key<uint32_t> multi_queue_max_queues;	// "multi-queue-max-queues", default 1
};

// The rings the frontend sets up and the keys it writes for them.
struct FrontendRingPlan {
	uint32_t ring_page_order;	// min(ours, backend's)
	uint32_t nr_ring_pages;		// 1 << order
	bool write_ring_page_order;	// "ring-page-order" + "ring-ref%u" (else "ring-ref")
	uint32_t nr_queues;		// min(ours, backend's), at least 1
	bool write_num_queues;		// "multi-queue-num-queues" + "queue-%u/" dirs
};
[[nodiscard]] FrontendRingPlan plan_frontend_rings(const FrontendSnapshot &ours,
						   const BackendProbeKeys &backend) noexcept;

// The frontend advertises its capability, not what it will use.
struct FrontendAdvert {
	bool feature_persistent;		// "feature-persistent"
	const char *protocol;			// "protocol": the native name
};
[[nodiscard]] FrontendAdvert frontend_advert(const FrontendSnapshot &ours) noexcept;

// The backend's keys at Connected.
struct BackendConnectKeys {
	Key<uint64_t> sectors;			// required, 512-byte units
	Key<uint32_t> info;			// required, VDISK_* bits
	Key<uint32_t> sector_size;		// required, the logical block size
	Key<uint32_t> physical_sector_size;	// default: sector-size
	Key<bool> feature_persistent;
	Key<bool> feature_barrier;
	Key<bool> feature_flush_cache;
	Key<bool> feature_discard;
	Key<uint32_t> discard_granularity;	// bytes
	Key<uint32_t> discard_alignment;	// bytes
	Key<bool> discard_secure;
	Key<uint32_t> max_indirect_segments;	// "feature-max-indirect-segments"
};

// How the frontend asks for durability.
enum class FlushMode : uint8_t {
	kNone,			// old backend: writes are synchronous
	kFlushDiskCache,	// BLKIF_OP_FLUSH_DISKCACHE ("feature-flush-cache")
	kWriteBarrier,		// BLKIF_OP_WRITE_BARRIER ("feature-barrier"), also FUA
};

struct FrontendFeatures {
	bool persistent;		// our snapshot AND the backend's key
	bool bounce;			// copy through our own pages (XSA-403; persistent)
	FlushMode flush;		// flush-cache wins over barrier, as in-tree
	bool fua;			// only with barriers
	bool discard;
	bool secure_discard;
	uint32_t max_indirect_segments;	// 0: no indirect requests

	// Segments one request may carry.
	constexpr uint32_t max_segments() const noexcept
	{
		return max_indirect_segments ? max_indirect_segments : limits::kMaxDirectSegments;
	}
};
// `toolstack_trusted` is our own node's "trusted" key (default 1).
[[nodiscard]] FrontendFeatures negotiate_frontend(const FrontendSnapshot &ours, const BackendConnectKeys &backend,
						  Key<bool> toolstack_trusted) noexcept;

// A refused connection: the errno to report and a message for
// kapi_xenbus_dev_fatal.
struct Refusal {
	int err;		// negative errno
	const char *reason;
};

// The disk as the block layer will see it, from the backend's keys.
struct DiskGeometry {
	uint64_t sectors;		// 512-byte units, <= limits::kMaxSectors
	uint32_t info;			// VDISK_* bits
	uint32_t logical_block_size;	// power of two in [512, PAGE_SIZE]
	uint32_t physical_block_size;	// power of two in [logical, 1 MiB]
	uint32_t discard_granularity;	// bytes: power of two >= logical
	uint32_t discard_alignment;	// bytes, < discard_granularity
	bool physical_ignored;		// the backend's physical size was absurd
	bool granularity_ignored;	// its discard-granularity was unusable
};

// Issue 8 defect 10: absurd sizes never reach the block layer. Refused
// (-EINVAL): sectors, info or sector-size absent or malformed; sector-size
// not a power of two in [512, PAGE_SIZE]; sectors whose byte size does not
// fit loff_t. Repaired (and flagged, for the engine to log): a
// physical-sector-size that is not a power of two in [sector-size, 1 MiB]
// becomes sector-size; a discard-granularity that is absent, 0, not a power
// of two or below sector-size becomes the physical size (in-tree: 0 means
// the physical size); the alignment is taken modulo the granularity.
[[nodiscard]] bool negotiate_disk(const BackendConnectKeys &backend, DiskGeometry *out, Refusal *why) noexcept;

// The "sectors" rule alone, for a resize announced on a live disk.
[[nodiscard]] bool check_sectors(Key<uint64_t> sectors, uint64_t *out, Refusal *why) noexcept;

// ------------------------------------------------------------- backend

// xen_blkback's parameters that negotiation needs.
struct BackendParams {
	uint32_t max_queues = 0;		// 0644; 0 = number of online CPUs
	int32_t max_ring_page_order = 4;	// 0444
	bool feature_persistent = true;		// 0644
};

struct BackendSnapshot {
	uint32_t max_queues;		// resolved, >= 1
	uint32_t max_ring_page_order;	// <= 4; out of 0..4 (negative too): 4, as in-tree
	bool feature_persistent;
};
[[nodiscard]] BackendSnapshot snapshot_backend(const BackendParams &live, unsigned online_cpus) noexcept;

// Written at probe, before the frontend connects.
struct BackendProbeAdvert {
	uint32_t max_indirect_segments;	// "feature-max-indirect-segments"
	uint32_t max_queues;		// "multi-queue-max-queues"
	uint32_t max_ring_page_order;	// "max-ring-page-order"
};
[[nodiscard]] BackendProbeAdvert backend_probe_advert(const BackendSnapshot &ours) noexcept;

// What the disk can do (from kapi_bdev_query).
struct DiskCaps {
	bool write_cache;
	bool discard;
	bool secure_erase;
	uint32_t discard_granularity;	// bytes
	uint32_t discard_alignment;	// bytes
};

// Written at Connected. In-tree: flush and barrier both follow the write
// cache; discard keys only when the toolstack's "discard-enable" (default
// 1) allows, and then discard-secure as 0/1.
struct BackendConnectAdvert {
	bool feature_flush_cache;
	bool feature_barrier;
	bool feature_persistent;	// our capability
	bool write_discard;		// write "feature-discard" at all
	bool feature_discard;
	bool write_discard_params;	// granularity, alignment, secure
	uint32_t discard_granularity;
	uint32_t discard_alignment;
	bool discard_secure;
};
[[nodiscard]] BackendConnectAdvert backend_connect_advert(const BackendSnapshot &ours, const DiskCaps &disk,
							  Key<bool> toolstack_discard_enable) noexcept;

// The frontend's keys, read by the backend when the frontend is Initialised.
struct FrontendKeys {
	Key<uint32_t> ring_page_order;		// "ring-page-order"
	Key<uint32_t> num_queues;		// "multi-queue-num-queues"
	Key<bool> feature_persistent;
	Key<blkif::Abi> protocol;
};

struct BackendFeatures {
	uint32_t nr_queues;
	uint32_t ring_page_order;
	bool read_ring_page_keys;	// "ring-ref%u" (else the single "ring-ref")
	bool persistent;		// our snapshot AND the frontend's key
	blkif::Abi abi;
};

// In-tree rules: queues absent = 1, 0 or > our max -> -ENOSYS; order absent
// = single page, > our max -> -EINVAL; protocol absent or empty = native,
// unknown -> -ENOSYS. Stricter: a malformed queue count (-ENOSYS) or order
// (-EINVAL) is refused; in-tree reads it as the default and then fails on
// a missing ring key, or connects with a layout the frontend did not ask for.
// Returns true and fills *out, or false and fills *why.
[[nodiscard]] bool negotiate_backend(const BackendSnapshot &ours, const FrontendKeys &frontend,
				     BackendFeatures *out, Refusal *why) noexcept;

// ---------------------------------------------------- reading the keys

template <typename Read> [[nodiscard]] BackendProbeKeys read_backend_probe_keys(Read &&read) noexcept
{
	return BackendProbeKeys{xs::read_from<uint32_t>(read, "max-ring-page-order"),
				xs::read_from<uint32_t>(read, "multi-queue-max-queues")};
}

template <typename Read> [[nodiscard]] BackendConnectKeys read_backend_connect_keys(Read &&read) noexcept
{
	return BackendConnectKeys{
		xs::read_from<uint64_t>(read, "sectors"),
		xs::read_from<uint32_t>(read, "info"),
		xs::read_from<uint32_t>(read, "sector-size"),
		xs::read_from<uint32_t>(read, "physical-sector-size"),
		xs::read_from<bool>(read, "feature-persistent"),
		xs::read_from<bool>(read, "feature-barrier"),
		xs::read_from<bool>(read, "feature-flush-cache"),
		xs::read_from<bool>(read, "feature-discard"),
		xs::read_from<uint32_t>(read, "discard-granularity"),
		xs::read_from<uint32_t>(read, "discard-alignment"),
		xs::read_from<bool>(read, "discard-secure"),
		xs::read_from<uint32_t>(read, "feature-max-indirect-segments"),
	};
}

template <typename Read> [[nodiscard]] FrontendKeys read_frontend_keys(Read &&read) noexcept
{
	// An empty protocol is native, as in-tree's "%63s" scan finds nothing:
	// the one key whose rule is negotiation's, not the type's.
	auto proto = [](const char *b, size_t c) {
		return b[0] == '\0' ? Result<blkif::Abi>(blkif::Abi::kNative) : xs::parse_protocol(b, c);
	};
	return FrontendKeys{
		xs::read_from<uint32_t>(read, "ring-page-order"),
		xs::read_from<uint32_t>(read, "multi-queue-num-queues"),
		xs::read_from<bool>(read, "feature-persistent"),
		read_key<blkif::Abi>(read, "protocol", proto),
	};
}

} // namespace xbc::negotiate
