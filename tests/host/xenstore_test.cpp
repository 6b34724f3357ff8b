// SPDX-License-Identifier: GPL-2.0-only
// xbc/xenstore.hpp, the xenstore layer both engines use. xs::transaction:
// a raced commit is redone whole, at most kMaxTransactionRetries times; a
// body error aborts and is not retried; each failure says where.
// xs::write_uint: plain decimal.
#include <string>

#include <gtest/gtest.h>

#include "support/fake_xen.hpp"
#include "support/kapi_host.hpp"
#include "xbc/xenstore.hpp"

namespace xbc::xs {
namespace {

class XsTransaction : public testing::Test {
protected:
	void TearDown() override { EXPECT_EQ(xen_.leftovers(), ""); }

	// Writes dir/key = "<attempt>" in the transaction; counts attempts.
	TxResult write_attempt(int body_error = 0)
	{
		return transaction([&](kapi_xbt t) -> Status {
			const std::string v = std::to_string(++attempts_);
			const int rc = kapi_xenbus_write(t, "dir", "key", v.c_str());
			if (rc < 0)
				return Status::from_kapi(rc);
			return body_error ? Status::from_kapi(body_error) : Status::ok();
		});
	}

	host::FakeXen xen_;
	unsigned attempts_ = 0;
};

TEST_F(XsTransaction, RacedCommitsAreRedoneWhole)
{
	xen_.fail_next_commits(3);
	const TxResult tx = write_attempt();
	EXPECT_FALSE(tx.is_error());
	EXPECT_EQ(attempts_, 4u);
	EXPECT_EQ(xen_.xs_read("dir/key"), "4");	// only the last attempt's write
}

TEST_F(XsTransaction, RetriesAreBounded)
{
	// A peer that makes every commit race cannot keep xenwatch here.
	xen_.fail_next_commits(kMaxTransactionRetries + 1);
	const TxResult tx = write_attempt();
	EXPECT_EQ(tx.status.code(), -err::kAgain);
	EXPECT_EQ(tx.stage, TxStage::kCommit);
	EXPECT_EQ(attempts_, kMaxTransactionRetries + 1);
	EXPECT_EQ(xen_.xs_read("dir/key"), std::nullopt);
}

TEST_F(XsTransaction, BodyErrorAbortsAndIsNotRetried)
{
	xen_.fail_next_commits(1);
	const TxResult tx = write_attempt(-err::kIo);
	EXPECT_EQ(tx.status.code(), -err::kIo);
	EXPECT_EQ(tx.stage, TxStage::kBody);
	EXPECT_EQ(attempts_, 1u);
	EXPECT_EQ(xen_.xs_read("dir/key"), std::nullopt);	// aborted, not committed
}

TEST_F(XsTransaction, StartFailureRunsNoBody)
{
	xen_.fail_next_transaction_starts(1);
	const TxResult tx = write_attempt();
	EXPECT_EQ(tx.status.code(), -12);
	EXPECT_EQ(tx.stage, TxStage::kStart);
	EXPECT_EQ(attempts_, 0u);
}

TEST_F(XsTransaction, WriteUintWritesPlainDecimal)
{
	// What both engines write for every number key ("sectors", "ring-ref0").
	for (uint64_t v : {uint64_t(0), uint64_t(42), ~uint64_t(0)}) {
		EXPECT_TRUE(write_uint(KAPI_XBT_NIL, "dir", "n", v).is_ok());
		EXPECT_EQ(xen_.xs_read("dir/n"), std::to_string(v));
	}
}

} // namespace
} // namespace xbc::xs
