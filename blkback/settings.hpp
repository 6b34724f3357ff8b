// SPDX-License-Identifier: GPL-2.0-only
// The backend's module parameters as one connection sees them. Most are
// 0644, so they can change at any time; a connection takes one snapshot
// when the frontend connects and uses only that (the 2022 feature-persistent
// deadlock: what we advertised and what we use must come from one reading).
// Values are clamped here, so the engine never sees a negative count. The
// negotiation part (queues, ring order, persistent grants) is clamped by
// the shared rule in xbc/negotiate.hpp, which also decides the connection.
#pragma once

#include "xbc/negotiate.hpp"

namespace xbc::blkback {

using limits::kBackendIndirectSegments;	// offered in probe, accepted per request
using limits::kMaxRingPageOrder;
using limits::kMaxRingPages;

// In-tree constants (drivers/block/xen-blkback).
inline constexpr unsigned kLruIntervalMs = 100;		// purge period
inline constexpr unsigned kLruPercentClean = 5;		// of the cap, per purge
inline constexpr unsigned kStatsIntervalMs = 10 * 1000;	// log_stats period

// Named for the vbd (a blkback-only word) so that it is not taken for
// negotiate::BackendParams (the live values negotiation clamps) or
// blkfront's module parameters.
struct VbdParams {
	// feature_persistent (advertise and, with the peer's key, use),
	// max_queues (0 in the parameter = CPUs), max_ring_page_order.
	negotiate::BackendSnapshot negotiation;
	uint32_t max_persistent_grants;	// per ring, grants
	uint32_t pgrant_timeout_s;	// idle persistent grant lifetime, 0 = forever
	uint32_t max_buffer_pages;	// free pages kept per ring
	bool log_stats;
	uint32_t buffer_squeeze_ms;	// keep the page pool empty this long on pressure
	bool grant_copy;		// no persistent grants: copy, not map + unmap

	// Reads every parameter once (blkback/params.h), clamps, resolves
	// max_queues 0 to `online_cpus` (negotiate::snapshot_backend).
	[[nodiscard]] static VbdParams snapshot(unsigned online_cpus) noexcept;
};

} // namespace xbc::blkback
