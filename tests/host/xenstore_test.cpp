// SPDX-License-Identifier: GPL-2.0-only
// xbc/xenstore.hpp, the xenstore layer both engines use. xs::transaction:
// a raced commit is redone whole, at most kMaxTransactionRetries times; a
// body error aborts and is not retried; each failure says where.
// xs::write_uint: plain decimal. xs::read<T>: absent, valid and malformed
// kept apart, with why. xs::Path: an overflow is refused, never truncated.
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

// ------------------------------------------------------------ typed reads

class XsRead : public testing::Test {
protected:
	void TearDown() override { EXPECT_EQ(xen_.leftovers(), ""); }
	host::FakeXen xen_;
};

TEST_F(XsRead, AbsentIsNotMalformed)
{
	// Absent takes the in-tree default; malformed may be refused: the
	// callers (negotiate) need the two apart.
	const Key<uint32_t> k = read<uint32_t>("dir", "missing");
	EXPECT_TRUE(k.is_absent());
	EXPECT_FALSE(k.is_malformed());
	EXPECT_EQ(k.error, -err::kNoEnt);
	EXPECT_EQ(k.or_default(7), 7u);
}

TEST_F(XsRead, ValidValuesParseByTheOneRuleOfTheirType)
{
	xen_.xs_write("dir/u32", "4294967295");
	xen_.xs_write("dir/u64", "18446744073709551615");
	xen_.xs_write("dir/flag", "1");
	xen_.xs_write("dir/dev", "fd:1");
	EXPECT_EQ(read<uint32_t>("dir", "u32").value, 0xffffffffu);
	EXPECT_TRUE(read<uint32_t>("dir", "u32").is_valid());
	EXPECT_EQ(read<uint64_t>("dir", "u64").value, ~uint64_t(0));
	EXPECT_TRUE(read<bool>("dir", "flag").value);
	const Key<DevNumber> dev = read<DevNumber>("dir", "dev");
	ASSERT_TRUE(dev.is_valid());
	EXPECT_EQ(dev.value.major, 0xfdu);
	EXPECT_EQ(dev.value.minor, 1u);
	EXPECT_EQ(dev.error, 0);
}

TEST_F(XsRead, MalformedSaysWhy)
{
	xen_.xs_write("dir/junk", "12x");
	xen_.xs_write("dir/big", "4294967296");
	xen_.xs_write("dir/two", "2");
	xen_.xs_write("dir/empty", "");
	EXPECT_EQ(read<uint32_t>("dir", "junk").error, -err::kInval);
	EXPECT_TRUE(read<uint32_t>("dir", "junk").is_malformed());
	EXPECT_EQ(read<uint32_t>("dir", "big").error, -err::kRange);
	EXPECT_TRUE(read<uint64_t>("dir", "big").is_valid());	// the type decides
	EXPECT_EQ(read<bool>("dir", "two").error, -err::kInval);	// stricter than in-tree
	EXPECT_TRUE(read<uint32_t>("dir", "empty").is_malformed());
	EXPECT_EQ(read<uint32_t>("dir", "junk").or_default(7), 7u);
}

TEST_F(XsRead, TextIsBoundedByItsTypeNeverTruncated)
{
	// blkback's mode, device-type and dev: a value that does not fit
	// String<N> with its NUL is malformed (-E2BIG), not cut short.
	xen_.xs_write("dir/fits", "1234567");
	xen_.xs_write("dir/long", "12345678");
	xen_.xs_write("dir/empty", "");
	const std::string wide(63, 'x');
	xen_.xs_write("dir/wide", wide);
	const Key<String<8>> fits = read<String<8>>("dir", "fits");
	ASSERT_TRUE(fits.is_valid());
	EXPECT_STREQ(fits.value.c_str(), "1234567");
	EXPECT_EQ(read<String<8>>("dir", "long").error, -err::kTooBig);
	EXPECT_TRUE(read<String<8>>("dir", "long").is_malformed());
	// The bound is the type's, not kValueLen's: a wider String reads more.
	EXPECT_EQ(read<String<64>>("dir", "wide").value.c_str(), wide);
	EXPECT_STREQ(read<String<8>>("dir", "empty").value.c_str(), "");
	EXPECT_TRUE(read<String<8>>("dir", "missing").is_absent());
}

TEST_F(XsRead, ValueLongerThanAnyCanonicalOneIsMalformed)
{
	// One buffer for every read (kValueLen). blkback's own reader took 63
	// characters, so a zero-padded "000...01" event-channel connected
	// there and not at the frontend's readers; now it is refused at both:
	// no canonical value is longer than 20 digits.
	const std::string padded = std::string(39, '0') + "1";
	xen_.xs_write("dir/padded", padded);
	const Key<uint32_t> k = read<uint32_t>("dir", "padded");
	EXPECT_TRUE(k.is_malformed());
	EXPECT_EQ(k.error, -err::kTooBig);
	// The longest canonical value still fits.
	xen_.xs_write("dir/max", std::to_string(~uint64_t(0)));
	EXPECT_TRUE(read<uint64_t>("dir", "max").is_valid());
}

TEST_F(XsRead, ReadsThroughPaths)
{
	xen_.xs_write("fe/queue-1/ring-ref3", "9");
	const Path dir = Path("fe").child("queue-").add_uint(1);
	EXPECT_EQ(std::string(dir.c_str()), "fe/queue-1");
	EXPECT_EQ(read<uint32_t>(dir, Path("ring-ref").add_uint(3)).value, 9u);
	EXPECT_TRUE(read<uint32_t>(dir, Path("ring-ref").add_uint(4)).is_absent());
}

// ------------------------------------------------------------------ paths

TEST(XsPath, BuildsNodeSlashKey)
{
	Path p("device/vbd/51712");
	p.child("queue-").add_uint(uint64_t(31)).add("/").add("event-channel");
	EXPECT_FALSE(p.overflowed());
	EXPECT_EQ(std::string(p.c_str()), "device/vbd/51712/queue-31/event-channel");
	EXPECT_EQ(std::string(Path().c_str()), "");
}

TEST(XsPath, FillsToCapacityAndRefusesOneMore)
{
	const std::string longest(Path::kCapacity - 1, 'a');	// and the NUL
	Path full(longest.c_str());
	EXPECT_FALSE(full.overflowed());
	EXPECT_EQ(std::string(full.c_str()), longest);

	Path over(longest.c_str());
	over.add("b");
	EXPECT_TRUE(over.overflowed());
	// Refused whole, not truncated: the text is what fitted before.
	EXPECT_EQ(std::string(over.c_str()), longest);
	// And stays refused: a later short part does not make it valid.
	over.add("");
	EXPECT_TRUE(over.overflowed());
}

class XsPathUse : public XsRead {};

TEST_F(XsPathUse, OverflowedPathIsNeverReadWrittenOrRemoved)
{
	// A truncated name would be another node: the prefix of the one meant.
	const std::string stem(Path::kCapacity - 4, 'k');
	xen_.xs_write("dir/" + stem, "5");
	Path key(stem.c_str());
	key.add("ring-ref").add_uint(0);
	ASSERT_TRUE(key.overflowed());

	EXPECT_EQ(write_uint(KAPI_XBT_NIL, "dir", key, 1).code(), -err::kNameTooLong);
	EXPECT_EQ(remove(KAPI_XBT_NIL, "dir", key).code(), -err::kNameTooLong);
	const Key<uint32_t> k = read<uint32_t>(Path("dir"), key);
	EXPECT_TRUE(k.is_malformed());
	EXPECT_EQ(k.error, -err::kNameTooLong);
	Path dir("dir");
	dir.add(stem.c_str()).add("/more");
	ASSERT_TRUE(dir.overflowed());
	EXPECT_EQ(read<uint32_t>(dir, "x").error, -err::kNameTooLong);
	EXPECT_EQ(xen_.xs_read("dir/" + stem), "5");	// untouched
}

TEST_F(XsPathUse, RemoveReportsAbsentNodes)
{
	xen_.xs_write("dir/ring-ref0", "1");
	EXPECT_TRUE(remove(KAPI_XBT_NIL, "dir", Path("ring-ref").add_uint(0)).is_ok());
	EXPECT_EQ(xen_.xs_read("dir/ring-ref0"), std::nullopt);
	// The frontend's stale-key sweep stops at the first absent one.
	EXPECT_EQ(remove(KAPI_XBT_NIL, "dir", Path("ring-ref").add_uint(0)).code(), -err::kNoEnt);
}

} // namespace
} // namespace xbc::xs
