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
	// GoogleTest has closed the test's result by now, so a leak cannot be
	// added to it: the test is named and counted as failed here instead,
	// and never as passed.
	void OnTestEnd(const testing::TestInfo &info) override
	{
		const size_t live = xbc::host::alloc_stats().live;
		if (live == live_at_start_)
			return;
		printf("[  FAILED  ] %s.%s: leaked %zu kapi allocations\n", info.test_suite_name(),
		       info.name(), live - live_at_start_);
		leaked_tests_++;
		if (info.result()->Passed())
			leaked_passing_++;
	}

public:
	size_t live_at_start_ = 0;
	int leaked_tests_ = 0;
	int leaked_passing_ = 0;	// leaked, though their assertions held
};

} // namespace

int main(int argc, char **argv)
{
	testing::InitGoogleTest(&argc, argv);
	auto *leaks = new LeakCheck;
	testing::UnitTest::GetInstance()->listeners().Append(leaks);
	const int rc = RUN_ALL_TESTS();
	const auto *u = testing::UnitTest::GetInstance();
	const int passed = u->successful_test_count() - leaks->leaked_passing_;
	const int failed = u->failed_test_count() + leaks->leaked_passing_;
	if (leaks->leaked_tests_)
		printf("%d tests leaked kapi allocations (named above)\n", leaks->leaked_tests_);
	printf("host: %d passed, %d failed\n", passed, failed);
	return rc != 0 || failed != 0 ? 1 : 0;
}
