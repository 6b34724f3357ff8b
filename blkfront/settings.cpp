// SPDX-License-Identifier: GPL-2.0-only
// One reading of xen-blkfront's parameters and the feature rules; see
// settings.hpp.
#include "blkfront/settings.hpp"

#include "blkfront/params.h"

namespace xbc::blkfront {

namespace {

constexpr bool is_power_of_two(uint32_t v) noexcept
{
	return v && (v & (v - 1)) == 0;
}

} // namespace

Settings Settings::snapshot(unsigned online_cpus) noexcept
{
	Settings s;
	s.max_indirect_segments = xbc_blkfront_param_max_indirect_segments();
	if (s.max_indirect_segments < kMaxDirectSegments)
		s.max_indirect_segments = kMaxDirectSegments;
	if (s.max_indirect_segments > kMaxIndirectSegments)
		s.max_indirect_segments = kMaxIndirectSegments;

	const unsigned cpus = online_cpus ? online_cpus : 1;
	s.max_queues = xbc_blkfront_param_max_queues();
	if (s.max_queues > cpus)
		s.max_queues = cpus;
	if (s.max_queues > kMaxRings)
		s.max_queues = kMaxRings;
	if (s.max_queues == 0)
		s.max_queues = 1;

	const int order = xbc_blkfront_param_max_ring_page_order();
	s.max_ring_page_order = order < 0 ? 0u
			       : uint32_t(order) > kMaxRingPageOrder ? kMaxRingPageOrder
								      : uint32_t(order);
	s.trusted = xbc_blkfront_param_trusted();
	s.feature_persistent = xbc_blkfront_param_feature_persistent();
	return s;
}

RingPlan plan_rings(const Settings &s, const BackendOffer &offer) noexcept
{
	RingPlan p;
	p.ring_page_order = min(s.max_ring_page_order, offer.max_ring_page_order);
	p.nr_rings = min(s.max_queues, offer.max_queues);
	if (p.nr_rings == 0)
		p.nr_rings = 1;
	return p;
}

bool negotiate_features(const Settings &s, bool untrusted_key, const BackendFeatures &b,
			Features *out) noexcept
{
	Features f{};
	if (!is_power_of_two(b.sector_size) || b.sector_size < 512 || b.sector_size > KAPI_PAGE_SIZE)
		return false;
	f.logical_block_size = b.sector_size;
	f.physical_block_size = b.physical_sector_size;
	// A physical size the kernel would refuse falls back to the logical one.
	if (!is_power_of_two(f.physical_block_size) || f.physical_block_size < f.logical_block_size)
		f.physical_block_size = f.logical_block_size;

	if (b.barrier) {
		f.flush = true;
		f.fua = true;
	}
	if (b.flush_cache) {
		f.flush = true;
		f.fua = false;
	}

	if (b.discard) {
		f.discard = true;
		f.secure_discard = b.discard_secure;
		f.discard_granularity = b.discard_granularity;
		if (!is_power_of_two(f.discard_granularity) ||
		    f.discard_granularity < f.logical_block_size)
			f.discard_granularity = f.physical_block_size;
		f.discard_alignment = b.discard_alignment % f.discard_granularity;
	}

	f.persistent = s.feature_persistent && b.persistent;
	f.bounce = !s.trusted || untrusted_key || f.persistent;

	uint32_t indirect = b.max_indirect_segments;
	if (indirect > s.max_indirect_segments)
		indirect = s.max_indirect_segments;
	if (indirect <= kMaxDirectSegments)
		indirect = 0;
	f.max_indirect_segments = indirect;
	*out = f;
	return true;
}

} // namespace xbc::blkfront
