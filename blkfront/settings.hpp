// SPDX-License-Identifier: GPL-2.0-only
// xen-blkfront's module parameters as one connection sees them, and the
// features a connection uses. trusted and feature_persistent are 0644 and
// may change at any time: a connection reads them once, when it talks to the
// backend, and uses only that reading (the 2022 feature-persistent deadlock:
// advertise our capability, use it only if we want it AND the backend
// advertised it, and take both from one snapshot).
#pragma once

#include "xbc/base.hpp"

namespace xbc::blkfront {

// In-tree limits (xen-blkfront.c, xenbus.h).
inline constexpr uint32_t kMaxRingPageOrder = 4;	// XENBUS_MAX_RING_GRANT_ORDER
inline constexpr uint32_t kMaxDirectSegments = 11;	// BLKIF_MAX_SEGMENTS_PER_REQUEST
inline constexpr uint32_t kMaxRings = 32;		// our cap on queues per disk
// Our cap on segments per indirect request: 8 indirect pages' worth would be
// 4096, whose shadow arrays no longer fit one kmalloc; blkback offers 256.
inline constexpr uint32_t kMaxIndirectSegments = 512;
inline constexpr unsigned kPurgeIntervalSeconds = 10;	// in-tree blkfront_work period

struct Settings {
	uint32_t max_indirect_segments;	// >= 11, <= kMaxIndirectSegments
	uint32_t max_queues;		// 1..min(online CPUs, kMaxRings)
	uint32_t max_ring_page_order;	// 0..4
	bool trusted;			// false: bounce every byte (XSA-403)
	bool feature_persistent;	// advertise, and use if the backend does

	// Reads every parameter once (blkfront/params.h) and clamps as the
	// in-tree module init does.
	[[nodiscard]] static Settings snapshot(unsigned online_cpus) noexcept;
};

// What the backend offered before we connect (read at InitWait).
struct BackendOffer {
	uint32_t max_ring_page_order;	// max-ring-page-order, default 0
	uint32_t max_queues;		// multi-queue-max-queues, default 1
};

// The ring layout we ask for: order min(ours, theirs); queues min(ours,
// theirs), at least one.
struct RingPlan {
	uint32_t ring_page_order;
	uint32_t nr_rings;
};
[[nodiscard]] RingPlan plan_rings(const Settings &s, const BackendOffer &offer) noexcept;

// The backend's keys at Connected, parsed; absent keys hold their defaults.
struct BackendFeatures {
	uint64_t sectors;
	uint32_t info;			// VDISK_* bits
	uint32_t sector_size;
	uint32_t physical_sector_size;
	bool barrier;			// feature-barrier
	bool flush_cache;		// feature-flush-cache
	bool discard;			// feature-discard
	uint32_t discard_granularity;
	uint32_t discard_alignment;
	bool discard_secure;
	bool persistent;		// feature-persistent
	uint32_t max_indirect_segments;	// feature-max-indirect-segments
};

// What this connection does.
struct Features {
	bool flush;			// send flush (or barrier) requests
	bool fua;			// flush + FUA: the backend has barriers
	bool discard;
	bool secure_discard;
	uint32_t discard_granularity;	// bytes, never 0 when discard
	uint32_t discard_alignment;	// bytes
	bool persistent;		// our snapshot AND the backend's key
	bool bounce;			// copy through pages we own
	uint32_t max_indirect_segments;	// 0: no indirect requests
	uint32_t logical_block_size;
	uint32_t physical_block_size;

	// Segments one request may carry.
	uint32_t max_segments() const noexcept
	{
		return max_indirect_segments ? max_indirect_segments : kMaxDirectSegments;
	}
};

// The in-tree rules: barrier gives flush+FUA, flush-cache overrides with
// flush only; indirect only above 11 segments, capped by our parameter;
// persistent grants force bouncing. Sector sizes a kernel cannot take (not a
// power of two, below 512 or above a page) are refused with -EINVAL;
// discard granularity 0 means the physical sector size.
[[nodiscard]] bool negotiate_features(const Settings &s, bool untrusted_key,
				      const BackendFeatures &b, Features *out) noexcept;

} // namespace xbc::blkfront
