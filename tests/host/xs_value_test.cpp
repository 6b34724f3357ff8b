// SPDX-License-Identifier: GPL-2.0-only
// xs_value: what a hostile peer can write into xenstore must parse strictly.
#include <string.h>

#include <gtest/gtest.h>

#include "xbc/xs_value.hpp"

namespace xbc::xs {
namespace {

constexpr int kInval = -err::kInval;
constexpr int kRange = -err::kRange;

// Parses a C string with exactly its own buffer, as kapi_xenbus_read leaves it.
Result<uint64_t> u64(const char *s) { return parse_u64(s, strlen(s) + 1); }
int u64_err(const char *s) { return u64(s).status().code(); }

TEST(XsValue, DecimalAcceptsOnlyPlainDigits)
{
	EXPECT_EQ(u64("0").value(), 0u);
	EXPECT_EQ(u64("42").value(), 42u);
	EXPECT_EQ(u64("007").value(), 7u);
	EXPECT_EQ(u64("18446744073709551615").value(), ~0ull);
	EXPECT_EQ(u64_err(""), kInval);
	EXPECT_EQ(u64_err("-1"), kInval);
	EXPECT_EQ(u64_err("+1"), kInval);
	EXPECT_EQ(u64_err("1x"), kInval);
	EXPECT_EQ(u64_err("0x10"), kInval);
	EXPECT_EQ(u64_err(" 1"), kInval);
	EXPECT_EQ(u64_err("1 "), kInval);
	EXPECT_EQ(u64_err("1\n"), kInval);
	EXPECT_EQ(u64_err("1.0"), kInval);
	EXPECT_EQ(u64_err("18446744073709551616"), kRange);	// 2^64
	EXPECT_EQ(u64_err("99999999999999999999999999999"), kRange);
	EXPECT_EQ(u64_err("99999999999999999999999999999x"), kInval);
}

TEST(XsValue, DecimalNeedsItsNulWithinTheBuffer)
{
	const char no_nul[3] = {'1', '2', '3'};
	EXPECT_EQ(parse_u64(no_nul, sizeof(no_nul)).status().code(), kInval);
	EXPECT_EQ(parse_u64("12", 2).status().code(), kInval);	// NUL just outside
	EXPECT_EQ(parse_u64("12", 3).value(), 12u);
	EXPECT_EQ(parse_u64("12\0junk", 8).value(), 12u);	// stops at the NUL
	EXPECT_EQ(parse_u64(nullptr, 4).status().code(), kInval);
	EXPECT_EQ(parse_u64("1", 0).status().code(), kInval);
	char big[4096];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	EXPECT_EQ(parse_u64(big, sizeof(big)).status().code(), kRange);
}

TEST(XsValue, U32AndCustomMaximum)
{
	EXPECT_EQ(parse_u32("4294967295", 11).value(), 0xffffffffu);
	EXPECT_EQ(parse_u32("4294967296", 11).status().code(), kRange);
	EXPECT_EQ(parse_u32("4", 2, 4).value(), 4u);
	EXPECT_EQ(parse_u32("5", 2, 4).status().code(), kRange);
}

TEST(XsValue, BoolIsExactlyZeroOrOne)
{
	EXPECT_FALSE(parse_bool("0", 2).value());
	EXPECT_TRUE(parse_bool("1", 2).value());
	for (const char *bad : {"", "2", "01", "10", "true", "1 ", "y"})
		EXPECT_EQ(parse_bool(bad, strlen(bad) + 1).status().code(), kInval) << bad;
	const char one_no_nul[1] = {'1'};
	EXPECT_EQ(parse_bool(one_no_nul, 1).status().code(), kInval);
}

Result<DevNumber> dev(const char *s) { return parse_dev_number(s, strlen(s) + 1); }

TEST(XsValue, PhysicalDeviceIsHexMajorColonMinor)
{
	EXPECT_EQ(dev("fe:0").value().major, 0xfeu);
	EXPECT_EQ(dev("fe:0").value().minor, 0u);
	EXPECT_EQ(dev("1:0").value().major, 1u);
	EXPECT_EQ(dev("103:1A").value().minor, 0x1au);
	EXPECT_EQ(dev("fff:fffff").value().minor, kMaxMinor);
	EXPECT_EQ(dev("1000:0").status().code(), kRange);	// 13-bit major
	EXPECT_EQ(dev("0:100000").status().code(), kRange);
	EXPECT_EQ(dev("ffffffffffff:0").status().code(), kRange);
	for (const char *bad : {"", ":", "1:", ":1", "1", "1:2:3", "0x1:0", "1:0x0", "g:0", "1: 0", " 1:0",
				"1:0\n", "-1:0", "1000:zz"})
		EXPECT_EQ(dev(bad).status().code(), kInval) << bad;
}

TEST(XsValue, ProtocolNamesAsBlkbackReadsThem)
{
	auto proto = [](const char *s) { return parse_protocol(s, strlen(s) + 1); };
	EXPECT_EQ(proto("x86_32-abi").value(), blkif::Abi::kX86_32);
	EXPECT_EQ(proto("x86_64-abi").value(), blkif::Abi::kNative);	// native on x86_64
	for (const char *bad : {"", "native", "x86_64-abi ", "x86_64", "x86_32-abi\n", "arm-abi", "X86_32-ABI"})
		EXPECT_EQ(proto(bad).status().code(), kInval) << bad;
	const char trunc[10] = {'x', '8', '6', '_', '3', '2', '-', 'a', 'b', 'i'};
	EXPECT_EQ(parse_protocol(trunc, sizeof(trunc)).status().code(), kInval);
	EXPECT_STREQ(protocol_name(blkif::Abi::kNative), "x86_64-abi");
	EXPECT_STREQ(protocol_name(blkif::Abi::kX86_32), "x86_32-abi");
	EXPECT_STREQ(protocol_name(blkif::Abi::kX86_64), "x86_64-abi");
}

TEST(XsValue, FormatFitsOrWritesNothing)
{
	char buf[21];
	EXPECT_EQ(format_u64(0, buf, sizeof(buf)), 1u);
	EXPECT_STREQ(buf, "0");
	EXPECT_EQ(format_u64(~0ull, buf, sizeof(buf)), 20u);
	EXPECT_STREQ(buf, "18446744073709551615");
	EXPECT_EQ(format_u64(~0ull, buf, 20), 0u);		// no room for the NUL
	EXPECT_STREQ(buf, "");
	EXPECT_EQ(format_u64(12345, buf, 6), 5u);
	EXPECT_STREQ(buf, "12345");
	EXPECT_EQ(format_u64(7, buf, 0), 0u);
	EXPECT_STREQ(Decimal(1056).c_str(), "1056");
	EXPECT_EQ(Decimal(1056).size(), 4u);
	// Round trip through the strict parser.
	for (uint64_t v : {0ull, 9ull, 10ull, 4294967296ull, ~0ull}) {
		const Decimal d(v);
		EXPECT_EQ(parse_u64(d.c_str(), d.size() + 1).value(), v);
	}
}

} // namespace
} // namespace xbc::xs
