// SPDX-License-Identifier: GPL-2.0-only
// blkfront/vdev: the in-tree device naming and minor layout, and the
// registry that refuses overlapping minors.
#include <gtest/gtest.h>
#include <string.h>

#include "blkfront/vdev.hpp"
#include "support/kapi_host.hpp"

using namespace xbc;
using namespace xbc::blkfront;

namespace {

struct Expect {
	uint32_t vdev;
	uint32_t minor;
	uint32_t minors;
	const char *name;
};

TEST(BlkfrontVdev, InTreeLayout)
{
	const Expect cases[] = {
		{(202u << 8) | 0, 0, 16, "xvda"},
		{(202u << 8) | 16, 16, 16, "xvdb"},
		{(202u << 8) | 1, 1, 1, "xvda1"},
		{(202u << 8) | 31, 31, 1, "xvdb15"},
		{(202u << 8) | 240, 240, 16, "xvdp"},
		{(3u << 8) | 0, 0, 16, "xvda"},		// hda
		{(3u << 8) | 64, 16, 16, "xvdb"},	// hdb
		{(22u << 8) | 0, 32, 16, "xvdc"},	// hdc
		{(8u << 8) | 0, 0, 16, "xvda"},		// sda
		{(8u << 8) | 17, 17, 1, "xvdb1"},	// sdb1
		{(65u << 8) | 0, 256, 16, "xvdq"},	// sdq
		{(128u << 8) | 0, 2048, 16, "xvddy"},	// sddy: group 8 -> index 128
		{(1u << 28) | 0, 0, 256, "xvda"},
		{(1u << 28) | (26u * 256), 26 * 256, 256, "xvdaa"},
		{(1u << 28) | (702u * 256), 702 * 256, 256, "xvdaaa"},
		{(1u << 28) | (27u * 256 + 5), 27 * 256 + 5, 1, "xvdab5"},
	};
	for (const Expect &c : cases) {
		auto r = layout_for_vdev(c.vdev);
		ASSERT_TRUE(r.is_ok()) << c.name;
		EXPECT_EQ(r.value().first_minor, c.minor) << c.name;
		EXPECT_EQ(r.value().minors, c.minors) << c.name;
		EXPECT_STREQ(r.value().name, c.name);
	}
}

TEST(BlkfrontVdev, RefusesWhatInTreeRefuses)
{
	EXPECT_EQ(layout_for_vdev(1u << 8).status().code(), -err::kNoDev);	// unknown major
	EXPECT_EQ(layout_for_vdev(2u << 28).status().code(), -err::kNoDev);	// above extended
	EXPECT_EQ(layout_for_vdev((1u << 28) | (1u << 20)).status().code(), -err::kNoDev);
	EXPECT_TRUE(layout_for_vdev((1u << 28) | ((1u << 20) - 256)).is_ok());
}

TEST(BlkfrontVdev, ParseVdeviceLikeScanfPercentI)
{
	EXPECT_EQ(parse_vdevice("51712").value(), 51712u);
	EXPECT_EQ(parse_vdevice("0xca00").value(), 0xca00u);
	EXPECT_EQ(parse_vdevice("268439552").value(), 268439552u);
	for (const char *bad : {"", "-1", "51712x", " 1", "0x", "0xg", "2147483648", "99999999999999999999"})
		EXPECT_TRUE(parse_vdevice(bad).is_error()) << bad;
}

TEST(BlkfrontVdev, HandleIsLastComponentTruncatedTo16Bits)
{
	EXPECT_EQ(handle_from_nodename("device/vbd/51712"), 51712);
	EXPECT_EQ(handle_from_nodename("device/vbd/268439552"), static_cast<uint16_t>(268439552u));
	EXPECT_EQ(handle_from_nodename("device/vbd/"), 0);
}

TEST(BlkfrontVdev, MinorRegistryRefusesOverlap)
{
	auto reg = MinorRegistry::create();
	ASSERT_TRUE(reg.is_ok());
	MinorRange a, b, c;
	EXPECT_TRUE(reg.value()->reserve(a, 0, 16).is_ok());
	EXPECT_EQ(reg.value()->reserve(b, 15, 1).code(), -err::kBusy);
	EXPECT_EQ(reg.value()->reserve(b, 0, 1).code(), -err::kBusy);
	EXPECT_TRUE(reg.value()->reserve(b, 16, 16).is_ok());
	EXPECT_EQ(reg.value()->reserve(c, 8, 16).code(), -err::kBusy);
	EXPECT_EQ(reg.value()->size(), 2u);
	reg.value()->release(a);
	EXPECT_TRUE(reg.value()->reserve(c, 1, 1).is_ok());	// freed range reusable
	reg.value()->release(a);				// double release ignored
	reg.value()->release(b);
	reg.value()->release(c);
	EXPECT_EQ(reg.value()->size(), 0u);
}

TEST(BlkfrontVdev, MinorRegistryCreateFailsCleanly)
{
	xbc::host::for_each_alloc_failure([](bool expect_success) {
		auto reg = MinorRegistry::create();
		EXPECT_EQ(reg.is_ok(), expect_success);
	});
}

} // namespace
