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

VbdParams VbdParams::snapshot(unsigned online_cpus) noexcept
{
	VbdParams s;
	const negotiate::BackendParams live{
		xbc_blkback_param_max_queues(),
		xbc_blkback_param_max_ring_page_order(),
		xbc_blkback_param_feature_persistent(),
	};
	s.negotiation = negotiate::snapshot_backend(live, online_cpus);
	s.max_persistent_grants = non_negative(xbc_blkback_param_max_persistent_grants());
	s.pgrant_timeout_s = xbc_blkback_param_persistent_grant_unused_seconds();
	s.max_buffer_pages = non_negative(xbc_blkback_param_max_buffer_pages());
	s.log_stats = xbc_blkback_param_log_stats() != 0;
	s.buffer_squeeze_ms = non_negative(xbc_blkback_param_buffer_squeeze_duration_ms());
	s.grant_copy = xbc_blkback_param_grant_copy();
	return s;
}

} // namespace xbc::blkback
