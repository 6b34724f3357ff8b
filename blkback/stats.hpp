// SPDX-License-Identifier: GPL-2.0-only
// The backend's counters, generated from the one list in counters.h: a
// snapshot (the C struct sysfs reads, plus its sum) and a ring's live
// counters. Each ring counts its own (only its thread writes them);
// readers in other contexts (sysfs, the control path) load them relaxed,
// which on x86-64 is a plain 8-byte move.
#pragma once

#include "xbc/base.hpp"
#include "xbc/counters.hpp"
#include "xbc/sync.hpp"

#include "counters.h"

namespace xbc::blkback {

#define XBC_COUNTER_LIVE(field, ...) Atomic<uint64_t> field;

// A snapshot, summed over rings and connections.
struct IoStats : xbc_vbd_io_stats {
	XBC_COUNTER_OPS(IoStats, XBC_BLKBACK_IO_COUNTERS)
};
struct GrantStats : xbc_vbd_grant_stats {
	XBC_COUNTER_OPS(GrantStats, XBC_BLKBACK_GRANT_COUNTERS)
};

// One ring's counters, written by its thread only.
struct IoCounters {
	using Stats = IoStats;
	XBC_BLKBACK_IO_COUNTERS(XBC_COUNTER_LIVE)
};
struct GrantCounters {
	using Stats = GrantStats;
	XBC_BLKBACK_GRANT_COUNTERS(XBC_COUNTER_LIVE)
};

#undef XBC_COUNTER_LIVE

template <typename Counters> [[nodiscard]] typename Counters::Stats snapshot(const Counters &c) noexcept
{
	typename Counters::Stats s = {};
	Counters::Stats::zip(s, c, [](uint64_t &v, const Atomic<uint64_t> &live) { v = live.load_relaxed(); });
	return s;
}

// Replaces every counter (the grant counters mirror the mapper's).
template <typename Counters> void publish(Counters &c, const typename Counters::Stats &s) noexcept
{
	Counters::Stats::zip(c, s, [](Atomic<uint64_t> &live, uint64_t v) { live.store_relaxed(v); });
}

} // namespace xbc::blkback
