// SPDX-License-Identifier: GPL-2.0-only
// One reading of xen-blkback's module parameters (see settings.hpp).
#include "settings.hpp"

#include "params.h"

namespace xbc::blkback {

namespace {

uint32_t non_negative(int v) noexcept
{
	return v < 0 ? 0u : static_cast<uint32_t>(v);
}

} // namespace

Settings Settings::snapshot(unsigned online_cpus) noexcept
{
	Settings s;
	s.feature_persistent = xbc_blkback_param_feature_persistent();
	s.max_persistent_grants = non_negative(xbc_blkback_param_max_persistent_grants());
	s.pgrant_timeout_s = xbc_blkback_param_persistent_grant_unused_seconds();
	s.max_buffer_pages = non_negative(xbc_blkback_param_max_buffer_pages());
	s.max_queues = xbc_blkback_param_max_queues();
	if (s.max_queues == 0)
		s.max_queues = online_cpus ? online_cpus : 1;
	// In-tree resets an out-of-range order to the maximum at load.
	const int order = xbc_blkback_param_max_ring_page_order();
	s.max_ring_page_order = order < 0 || order > int(kMaxRingPageOrder) ? kMaxRingPageOrder
									: uint32_t(order);
	s.log_stats = xbc_blkback_param_log_stats() != 0;
	s.buffer_squeeze_ms = non_negative(xbc_blkback_param_buffer_squeeze_duration_ms());
	return s;
}

} // namespace xbc::blkback
