// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_negotiate: feature negotiation (common/negotiate.cpp) and
// the strict xenstore value parsers (common/xs_value.cpp) in the kernel,
// reading keys through a fake xenstore with kapi_xenbus_read's contract
// (length, -ENOENT, -E2BIG). Pure functions: the point here is that they
// behave the same in kernel code generation, under KASAN, with hostile text.
#include "xbc_kunit.hpp"
#include "xbc/negotiate.hpp"
#include "xbc/xs_value.hpp"

namespace xbc::kunit {
namespace {

using namespace xbc::negotiate;

struct XsEntry {
	const char *node;
	const char *value;
};

bool same(const char *a, const char *b) noexcept
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

// A read callback over a fixed table of keys.
struct FakeXenstore {
	const XsEntry *entries;
	size_t n;

	int operator()(const char *node, char *buf, size_t len) const noexcept
	{
		for (size_t i = 0; i < n; i++) {
			if (!same(entries[i].node, node))
				continue;
			size_t l = 0;
			while (entries[i].value[l])
				l++;
			if (l + 1 > len)
				return -7; // -E2BIG
			copy_bytes(buf, entries[i].value, l + 1);
			return static_cast<int>(l);
		}
		return -err::kNoEnt;
	}
};

template <size_t N> FakeXenstore store(const XsEntry (&e)[N]) noexcept
{
	return FakeXenstore{e, N};
}

FrontendSnapshot frontend(bool persistent) noexcept
{
	FrontendParams p;
	p.feature_persistent = persistent;
	p.max_indirect_segments = 64;
	return snapshot_frontend(p, 2);
}

} // namespace
} // namespace xbc::kunit

using namespace xbc;
using namespace xbc::negotiate;
using namespace xbc::kunit;

XBC_KUNIT_CASE(negotiate_use_only_what_both_want)
{
	const XsEntry yes[] = {{"feature-persistent", "1"}, {"feature-flush-cache", "1"},
			       {"feature-barrier", "1"}, {"feature-max-indirect-segments", "256"}};
	const XsEntry no[] = {{"feature-persistent", "0"}};
	const XsEntry junk[] = {{"feature-persistent", "yes"}, {"feature-max-indirect-segments", "-1"}};

	const BackendConnectKeys with = read_backend_connect_keys(store(yes));
	XK_EXPECT(with.feature_persistent.is_valid());
	const FrontendFeatures both = negotiate_frontend(frontend(true), with, Key<bool>::absent());
	XK_EXPECT(both.persistent);
	XK_EXPECT(both.flush == FlushMode::kFlushDiskCache); // flush-cache wins
	XK_EXPECT_EQ(both.max_indirect_segments, 64);            // min(ours, theirs)

	// We advertise our capability even when the peer lacks it...
	XK_EXPECT(frontend_advert(frontend(true)).feature_persistent);
	// ...but use it only if both sides want it (the 2022 deadlock rule).
	XK_EXPECT(!negotiate_frontend(frontend(true), read_backend_connect_keys(store(no)),
				      Key<bool>::absent()).persistent);
	XK_EXPECT(!negotiate_frontend(frontend(false), with, Key<bool>::absent()).persistent);

	// Malformed peer text counts as absent: defaults, nothing enabled.
	const BackendConnectKeys bad = read_backend_connect_keys(store(junk));
	XK_EXPECT(bad.feature_persistent.is_malformed());
	XK_EXPECT(bad.max_indirect_segments.is_malformed());
	const FrontendFeatures f = negotiate_frontend(frontend(true), bad, Key<bool>::absent());
	XK_EXPECT(!f.persistent);
	XK_EXPECT_EQ(f.max_indirect_segments, 0);
	XK_EXPECT(f.flush == FlushMode::kNone);
}

XBC_KUNIT_CASE(negotiate_backend_refusals)
{
	BackendParams params;
	const BackendSnapshot ours = snapshot_backend(params, 2);
	BackendFeatures out = {};
	Refusal why = {0, nullptr};

	const XsEntry good[] = {{"ring-page-order", "2"}, {"multi-queue-num-queues", "2"},
				{"feature-persistent", "1"}, {"protocol", "x86_32-abi"}};
	XK_ASSERT(negotiate_backend(ours, read_frontend_keys(store(good)), &out, &why));
	XK_EXPECT_EQ(out.ring_page_order, 2);
	XK_EXPECT_EQ(out.nr_queues, 2);
	XK_EXPECT(out.persistent);
	XK_EXPECT(out.abi == blkif::Abi::kX86_32);

	const XsEntry zero_queues[] = {{"multi-queue-num-queues", "0"}};
	XK_EXPECT(!negotiate_backend(ours, read_frontend_keys(store(zero_queues)), &out, &why));
	XK_EXPECT_EQ(why.err, -err::kNoSys);
	const XsEntry big_order[] = {{"ring-page-order", "5"}};
	XK_EXPECT(!negotiate_backend(ours, read_frontend_keys(store(big_order)), &out, &why));
	XK_EXPECT_EQ(why.err, -err::kInval);
	const XsEntry odd_proto[] = {{"protocol", "x86_16-abi"}};
	XK_EXPECT(!negotiate_backend(ours, read_frontend_keys(store(odd_proto)), &out, &why));
	XK_EXPECT(why.reason != nullptr);

	// Nothing written at all: one queue, one page, native, no persistence.
	const XsEntry none[] = {{"unrelated", "1"}};
	XK_ASSERT(negotiate_backend(ours, read_frontend_keys(store(none)), &out, &why));
	XK_EXPECT_EQ(out.nr_queues, 1);
	XK_EXPECT(!out.read_ring_page_keys);
	XK_EXPECT(!out.persistent);
	XK_EXPECT(out.abi == blkif::Abi::kNative);
}

// Issue 8 defect 10, as the modules run it: absurd sizes never pass.
XBC_KUNIT_CASE(negotiate_absurd_disk_keys)
{
	DiskGeometry g = {};
	Refusal why = {0, nullptr};
	const XsEntry huge[] = {{"sectors", "18446744073709551615"}, {"info", "0"}, {"sector-size", "512"}};
	XK_EXPECT(!negotiate_disk(read_backend_connect_keys(store(huge)), &g, &why));
	XK_EXPECT_EQ(why.err, -err::kInval);
	const XsEntry odd[] = {{"sectors", "8"}, {"info", "0"}, {"sector-size", "3"}};
	XK_EXPECT(!negotiate_disk(read_backend_connect_keys(store(odd)), &g, &why));
	const XsEntry phys[] = {{"sectors", "8"},
				{"info", "0"},
				{"sector-size", "512"},
				{"physical-sector-size", "2147483648"},
				{"feature-discard", "1"}};
	XK_ASSERT(negotiate_disk(read_backend_connect_keys(store(phys)), &g, &why));
	XK_EXPECT_EQ(g.physical_block_size, 512);
	XK_EXPECT_EQ(g.discard_granularity, 512);
	XK_EXPECT(g.physical_ignored);
	const XsEntry offers[] = {{"feature-max-indirect-segments", "4294967295"}};
	XK_EXPECT_EQ(negotiate_frontend(frontend(true), read_backend_connect_keys(store(offers)),
					Key<bool>::absent()).max_indirect_segments, 64);
	const XsEntry probe[] = {{"max-ring-page-order", "31"}, {"multi-queue-max-queues", "0"}};
	const FrontendRingPlan plan = plan_frontend_rings(frontend(true), read_backend_probe_keys(store(probe)));
	XK_EXPECT_EQ(plan.ring_page_order, 0);	// ours (the default 0), not 31
	XK_EXPECT_EQ(plan.nr_queues, 1);
}

XBC_KUNIT_CASE(xs_value_hostile_text)
{
	XK_EXPECT_EQ(xs::parse_u32("4294967295", 16).value(), 4294967295u);
	XK_EXPECT_EQ(xs::parse_u32("4294967296", 16).status().code(), -err::kRange);
	XK_EXPECT(xs::parse_u32("", 16).is_error());
	XK_EXPECT(xs::parse_u32("12abc", 16).is_error());
	XK_EXPECT(xs::parse_u32(" 12", 16).is_error());
	XK_EXPECT(xs::parse_u32("+1", 16).is_error());
	// Not NUL-terminated within the buffer: refused, not read past.
	const char unterminated[4] = {'1', '2', '3', '4'};
	XK_EXPECT(xs::parse_u32(unterminated, sizeof(unterminated)).is_error());
	XK_EXPECT(xs::parse_bool("1", 2).value());
	XK_EXPECT(xs::parse_bool("2", 2).is_error());
	auto dev = xs::parse_dev_number("fd:1A", 8);
	XK_ASSERT(dev.is_ok());
	XK_EXPECT_EQ(dev.value().major, 0xfd);
	XK_EXPECT_EQ(dev.value().minor, 0x1a);
	XK_EXPECT(xs::parse_dev_number("1000:0", 8).is_error()); // major > 12 bits
	char text[4];
	XK_EXPECT_EQ(xs::format_u64(12345, text, sizeof(text)), 0); // does not fit
	XK_EXPECT_EQ(text[0], 0);
}
