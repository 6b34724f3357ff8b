// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: the shared negotiation (xbc/negotiate.hpp) that both
// modules link, fed with hostile xenstore keys and any module parameters.
//
// Input: our parameters and the online CPU count, then for each key the
// engines read, one byte saying how the read goes (absent, a read error,
// too long for the buffer, or a value) and the value's bytes. The keys go
// through the same read_*_keys readers and xs_value parsers as in the
// modules, then through every rule. Each result must stay inside the
// limits of xbc/limits.hpp and inside what our own snapshot allows,
// whatever the peer wrote.
#include "fuzz_common.hpp"
#include "xbc/negotiate.hpp"

using namespace xbc;
using namespace xbc::negotiate;

namespace {

constexpr bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

// A fake kapi_xenbus_read whose answers come from the fuzzer's input, in
// the order the readers ask.
struct HostileStore {
	fuzz::Bytes *in;

	int operator()(const char *, char *buf, size_t len) const
	{
		const uint8_t how = in->take<uint8_t>();
		switch (how % 8) {
		case 0:
			return -err::kNoEnt;
		case 1:
			return -err::kIo;
		case 2:
			return -err::kTooBig;
		default:
			break;
		}
		// A value of up to len - 1 bytes, NUL-terminated as the shim does.
		const size_t n = in->take<uint8_t>() % len;
		in->fill(buf, n);
		buf[n] = '\0';
		return static_cast<int>(n);
	}
};

void check_frontend(const FrontendSnapshot &ours, fuzz::Bytes &in)
{
	XBC_FUZZ_CHECK(ours.max_indirect_segments >= limits::kMaxDirectSegments &&
		       ours.max_indirect_segments <= limits::kMaxIndirectSegments);
	XBC_FUZZ_CHECK(ours.max_queues >= 1 && ours.max_queues <= limits::kMaxFrontendQueues);
	XBC_FUZZ_CHECK(ours.max_ring_page_order <= limits::kMaxRingPageOrder);

	HostileStore store{&in};
	const BackendProbeKeys probe = read_backend_probe_keys(store);
	const FrontendRingPlan plan = plan_frontend_rings(ours, probe);
	XBC_FUZZ_CHECK(plan.ring_page_order <= ours.max_ring_page_order);
	XBC_FUZZ_CHECK(plan.nr_ring_pages == 1u << plan.ring_page_order);
	XBC_FUZZ_CHECK(plan.nr_queues >= 1 && plan.nr_queues <= ours.max_queues);
	XBC_FUZZ_CHECK(!plan.write_num_queues || plan.nr_queues > 1);

	const BackendConnectKeys keys = read_backend_connect_keys(store);
	const Key<bool> trusted = xs::read_from<bool>(store, "trusted");
	const FrontendFeatures f = negotiate_frontend(ours, keys, trusted);
	// Used only if we want it and the backend offered it.
	XBC_FUZZ_CHECK(!f.persistent || (ours.feature_persistent && keys.feature_persistent.is_valid() &&
					 keys.feature_persistent.value));
	XBC_FUZZ_CHECK(f.max_indirect_segments == 0 ||
		       (f.max_indirect_segments > limits::kMaxDirectSegments &&
			f.max_indirect_segments <= ours.max_indirect_segments));
	XBC_FUZZ_CHECK(f.max_segments() <= limits::kMaxIndirectSegments);
	XBC_FUZZ_CHECK(!f.fua || f.flush == FlushMode::kWriteBarrier);
	XBC_FUZZ_CHECK(!f.secure_discard || f.discard);

	DiskGeometry g{};
	Refusal why{};
	if (negotiate_disk(keys, &g, &why)) {
		XBC_FUZZ_CHECK(g.sectors <= limits::kMaxSectors);
		XBC_FUZZ_CHECK(is_pow2(g.logical_block_size) && g.logical_block_size >= limits::kMinSectorSize &&
			       g.logical_block_size <= limits::kMaxSectorSize);
		XBC_FUZZ_CHECK(is_pow2(g.physical_block_size) &&
			       g.physical_block_size >= g.logical_block_size &&
			       g.physical_block_size <= limits::kMaxPhysicalSectorSize);
		XBC_FUZZ_CHECK(is_pow2(g.discard_granularity) && g.discard_granularity >= g.logical_block_size);
		XBC_FUZZ_CHECK(g.discard_alignment < g.discard_granularity);
	} else {
		XBC_FUZZ_CHECK(why.err < 0 && why.reason != nullptr);
	}

	// A resize announced later goes through the same sectors rule.
	uint64_t sectors = 0;
	if (check_sectors(xs::read_from<uint64_t>(store, "sectors"), &sectors, &why))
		XBC_FUZZ_CHECK(sectors <= limits::kMaxSectors);
	else
		XBC_FUZZ_CHECK(why.err < 0 && why.reason != nullptr);
}

void check_backend(const BackendSnapshot &ours, fuzz::Bytes &in)
{
	XBC_FUZZ_CHECK(ours.max_queues >= 1);
	XBC_FUZZ_CHECK(ours.max_ring_page_order <= limits::kMaxRingPageOrder);

	const BackendProbeAdvert advert = backend_probe_advert(ours);
	XBC_FUZZ_CHECK(advert.max_indirect_segments == limits::kBackendIndirectSegments);
	XBC_FUZZ_CHECK(advert.max_queues == ours.max_queues);
	XBC_FUZZ_CHECK(advert.max_ring_page_order == ours.max_ring_page_order);

	HostileStore store{&in};
	const FrontendKeys keys = read_frontend_keys(store);
	BackendFeatures b{};
	Refusal why{};
	if (negotiate_backend(ours, keys, &b, &why)) {
		XBC_FUZZ_CHECK(b.nr_queues >= 1 && b.nr_queues <= ours.max_queues);
		XBC_FUZZ_CHECK(b.ring_page_order <= ours.max_ring_page_order);
		XBC_FUZZ_CHECK(!b.read_ring_page_keys || keys.ring_page_order.is_valid());
		XBC_FUZZ_CHECK(!b.persistent || (ours.feature_persistent && keys.feature_persistent.is_valid() &&
						 keys.feature_persistent.value));
	} else {
		// The in-tree errnos, so toolstacks see what they expect.
		XBC_FUZZ_CHECK(why.err == -err::kNoSys || why.err == -err::kInval);
		XBC_FUZZ_CHECK(why.reason != nullptr);
	}

	DiskCaps caps{};
	caps.write_cache = in.take<uint8_t>() & 1;
	caps.discard = in.take<uint8_t>() & 1;
	caps.secure_erase = in.take<uint8_t>() & 1;
	caps.discard_granularity = in.take<uint32_t>();
	caps.discard_alignment = in.take<uint32_t>();
	const BackendConnectAdvert c = backend_connect_advert(ours, caps, xs::read_from<bool>(store, "discard-enable"));
	XBC_FUZZ_CHECK(c.feature_persistent == ours.feature_persistent);
	XBC_FUZZ_CHECK(!c.feature_flush_cache || caps.write_cache);
	XBC_FUZZ_CHECK(!c.feature_discard || (c.write_discard && caps.discard));
	XBC_FUZZ_CHECK(!c.discard_secure || caps.secure_erase);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz::Bytes in(data, size);
	const unsigned cpus = 1 + in.take<uint16_t>() % 4096;

	FrontendParams fp;
	fp.max_indirect_segments = in.take<uint32_t>();
	fp.max_queues = in.take<uint32_t>();
	fp.max_ring_page_order = in.take<int32_t>();
	fp.trusted = in.take<uint8_t>() & 1;
	fp.feature_persistent = in.take<uint8_t>() & 1;

	BackendParams bp;
	bp.max_queues = in.take<uint32_t>();
	bp.max_ring_page_order = in.take<int32_t>();
	bp.feature_persistent = in.take<uint8_t>() & 1;

	if (in.take<uint8_t>() & 1)
		check_frontend(snapshot_frontend(fp, cpus), in);
	else
		check_backend(snapshot_backend(bp, cpus), in);
	return 0;
}
