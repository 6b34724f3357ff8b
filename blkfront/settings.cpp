// SPDX-License-Identifier: GPL-2.0-only
// One reading of xen-blkfront's parameters; see settings.hpp.
#include "blkfront/settings.hpp"

#include "blkfront/params.h"

namespace xbc::blkfront {

Settings snapshot_settings(unsigned online_cpus) noexcept
{
	const negotiate::FrontendParams live{
		xbc_blkfront_param_max_indirect_segments(),
		xbc_blkfront_param_max_queues(),
		xbc_blkfront_param_max_ring_page_order(),
		xbc_blkfront_param_trusted(),
		xbc_blkfront_param_feature_persistent(),
	};
	return negotiate::snapshot_frontend(live, online_cpus);
}

} // namespace xbc::blkfront
