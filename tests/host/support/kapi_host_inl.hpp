// SPDX-License-Identifier: GPL-2.0-only
#pragma once

#include <gtest/gtest.h>

namespace xbc::host {

template <typename Body> size_t for_each_alloc_failure(Body &&body)
{
	// First a clean run, to learn how many allocations the path makes.
	const size_t base_live = alloc_stats().live;
	const size_t before = alloc_stats().total;
	body(/*expect_success=*/true);
	const size_t needed = alloc_stats().total - before;
	EXPECT_EQ(alloc_stats().live, base_live) << "clean run leaked";
	for (size_t i = 0; i < needed; i++) {
		fail_allocs_after(i);
		body(/*expect_success=*/false);
		clear_alloc_failure();
		EXPECT_EQ(alloc_stats().live, base_live) << "leak when allocation " << i << " failed";
	}
	return needed;
}

} // namespace xbc::host
