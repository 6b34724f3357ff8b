// SPDX-License-Identifier: GPL-2.0-only
// xen-blkfront's module parameters as one connection sees them. trusted and
// feature_persistent are 0644 and may change at any time: a connection
// reads every parameter once, when it talks to the backend, and uses only
// that reading (the 2022 feature-persistent deadlock). The rules that clamp
// the reading and decide the features are the shared ones in
// xbc/negotiate.hpp; this file only feeds them our parameters.
#pragma once

#include "xbc/negotiate.hpp"

namespace xbc::blkfront {

using limits::kMaxDirectSegments;
using limits::kMaxFrontendQueues;
using limits::kMaxRingPageOrder;

inline constexpr unsigned kPurgeIntervalSeconds = 10;	// in-tree blkfront_work period

// What this connection uses. Its parameter snapshot and the rings it asks
// for go by negotiate's own names (negotiate::FrontendSnapshot,
// negotiate::FrontendRingPlan): blkback's Settings and RingSetup are
// other things.
using Features = negotiate::FrontendFeatures;

// Reads every parameter once (blkfront/params.h) into the shared snapshot.
[[nodiscard]] negotiate::FrontendSnapshot snapshot_settings(unsigned online_cpus) noexcept;

} // namespace xbc::blkfront
