// SPDX-License-Identifier: GPL-2.0-only
// One reading of xen-blkfront's parameters; see settings.hpp.
#include "blkfront/settings.hpp"

#include "kapi/log.h"
#include "blkfront/params.h"

namespace xbc::blkfront {

negotiate::FrontendSnapshot snapshot_settings(unsigned online_cpus) noexcept
{
	const negotiate::FrontendParams live{
		xbc_blkfront_param_max_indirect_segments(),
		xbc_blkfront_param_max_queues(),
		xbc_blkfront_param_max_ring_page_order(),
		xbc_blkfront_param_trusted(),
		xbc_blkfront_param_feature_persistent(),
	};
	const negotiate::FrontendSnapshot s = negotiate::snapshot_frontend(live, online_cpus);
	// In-tree takes up to 4096 too; more cannot be described (8 indirect
	// pages of 512 segments): say so instead of clamping silently.
	if (live.max_indirect_segments > s.max_indirect_segments)
		kapi_log(KAPI_LOG_WARNING,
			 "blkfront: max_indirect_segments=%u is more than a request can describe; using %u\n",
			 live.max_indirect_segments, s.max_indirect_segments);
	return s;
}

} // namespace xbc::blkfront
