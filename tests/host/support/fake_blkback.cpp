// SPDX-License-Identifier: GPL-2.0-only
// Host implementation of blkback/params.h and blkback/platform.h (see
// fake_blkback.hpp).
#include "support/fake_blkback.hpp"

#include "blkback/params.h"
#include "blkback/platform.h"

namespace {

xbc::host::BlkbackParams g_params;
unsigned g_cpus = 4;
size_t g_syncs;
int g_sync_err;
long g_pins;

} // namespace

namespace xbc::host {

BlkbackParams &blkback_params() noexcept { return g_params; }
void reset_blkback_params() noexcept
{
	g_params = BlkbackParams();
	g_cpus = 4;
	g_sync_err = 0;
}
void set_online_cpus(unsigned n) noexcept { g_cpus = n; }
size_t bdev_syncs() noexcept { return g_syncs; }
void fail_next_bdev_sync(int err) noexcept { g_sync_err = err; }
long module_pins() noexcept { return g_pins; }

} // namespace xbc::host

extern "C" {

int xbc_blkback_param_max_buffer_pages(void) noexcept { return g_params.max_buffer_pages; }
int xbc_blkback_param_max_persistent_grants(void) noexcept { return g_params.max_persistent_grants; }
unsigned int xbc_blkback_param_persistent_grant_unused_seconds(void) noexcept
{
	return g_params.persistent_grant_unused_seconds;
}
unsigned int xbc_blkback_param_max_queues(void) noexcept { return g_params.max_queues; }
int xbc_blkback_param_max_ring_page_order(void) noexcept { return g_params.max_ring_page_order; }
int xbc_blkback_param_log_stats(void) noexcept { return g_params.log_stats; }
bool xbc_blkback_param_feature_persistent(void) noexcept { return g_params.feature_persistent; }
int xbc_blkback_param_buffer_squeeze_duration_ms(void) noexcept
{
	return g_params.buffer_squeeze_duration_ms;
}

bool xbc_blkback_param_grant_copy(void) noexcept { return g_params.grant_copy; }

unsigned int xbc_blkback_online_cpus(void) noexcept { return g_cpus; }

int xbc_blkback_bdev_sync(struct kapi_bdev *) noexcept
{
	g_syncs++;
	const int e = g_sync_err;
	g_sync_err = 0;
	return e;
}

void xbc_blkback_module_get(void) noexcept { g_pins++; }
void xbc_blkback_module_put(void) noexcept { g_pins--; }

} // extern "C"
