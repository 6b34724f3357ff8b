// SPDX-License-Identifier: GPL-2.0-only
// Host stand-ins for what blkback/blkback.c provides the engine in the
// kernel: the module parameters (blkback/params.h) and the platform facts
// (blkback/platform.h). Tests set them; reset_blkback_params() restores the
// in-tree defaults.
#pragma once

#include <stddef.h>

namespace xbc::host {

struct BlkbackParams {
	int max_buffer_pages = 1024;
	int max_persistent_grants = 1056;
	unsigned persistent_grant_unused_seconds = 60;
	unsigned max_queues = 0;
	int max_ring_page_order = 4;
	int log_stats = 0;
	bool feature_persistent = true;
	int buffer_squeeze_duration_ms = 10;
	bool grant_copy = true;
};

// The live parameters (what a sysfs write would change).
BlkbackParams &blkback_params() noexcept;
void reset_blkback_params() noexcept;

// num_online_cpus() as the engine sees it (default 4).
void set_online_cpus(unsigned n) noexcept;
// xbc_blkback_bdev_sync calls, and the error the next one returns.
[[nodiscard]] size_t bdev_syncs() noexcept;
void fail_next_bdev_sync(int err) noexcept;
// Module pins held now (xbc_blkback_module_get minus _put).
[[nodiscard]] long module_pins() noexcept;

} // namespace xbc::host
