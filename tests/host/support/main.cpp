// SPDX-License-Identifier: GPL-2.0-only
// GoogleTest entry point: every test must leave no kapi allocation behind,
// and the run closes with the project's one-line summary.
#include <stdio.h>

#include <gtest/gtest.h>

#include "support/kapi_host.hpp"

namespace {

class LeakCheck : public testing::EmptyTestEventListener {
	void OnTestStart(const testing::TestInfo &) override
	{
		xbc::host::clear_alloc_failure();
		live_at_start_ = xbc::host::alloc_stats().live;
	}
	void OnTestEnd(const testing::TestInfo &info) override
	{
		const size_t live = xbc::host::alloc_stats().live;
		if (live != live_at_start_) {
			fprintf(stderr, "LEAK: %s.%s left %zu kapi allocations\n",
				info.test_suite_name(), info.name(), live - live_at_start_);
			leaked_ = true;
		}
	}

public:
	size_t live_at_start_ = 0;
	bool leaked_ = false;
};

} // namespace

int main(int argc, char **argv)
{
	testing::InitGoogleTest(&argc, argv);
	auto *leaks = new LeakCheck;
	testing::UnitTest::GetInstance()->listeners().Append(leaks);
	const int rc = RUN_ALL_TESTS();
	const auto *u = testing::UnitTest::GetInstance();
	const int failed = u->failed_test_count() + (leaks->leaked_ ? 1 : 0);
	printf("host: %d passed, %d failed\n", u->successful_test_count(), failed);
	return rc != 0 || leaks->leaked_ ? 1 : 0;
}
