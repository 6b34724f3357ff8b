// SPDX-License-Identifier: GPL-2.0-only
// Feature negotiation rules (xbc/negotiate.hpp): pure functions, no I/O.
#include "xbc/negotiate.hpp"

namespace xbc::negotiate {

namespace {

constexpr bool is_power_of_two(uint64_t v) noexcept
{
	return v && (v & (v - 1)) == 0;
}

// A ring-order parameter as in-tree reads it: the int lands in an unsigned
// variable and module init resets anything above 4 to 4, so a negative
// order is 4 too.
constexpr uint32_t clamp_ring_order(int32_t order) noexcept
{
	return order < 0 ? limits::kMaxRingPageOrder
			 : min(static_cast<uint32_t>(order), limits::kMaxRingPageOrder);
}

} // namespace

FrontendSnapshot snapshot_frontend(const FrontendParams &live, unsigned online_cpus) noexcept
{
	// 0644 fields can change under us: read each once, then decide.
	const uint32_t segs = read_once(live.max_indirect_segments);
	const uint32_t queues = read_once(live.max_queues);
	const int32_t order = read_once(live.max_ring_page_order);
	const bool trusted = read_once(live.trusted);
	const bool persistent = read_once(live.feature_persistent);
	const uint32_t cpus = online_cpus ? online_cpus : 1;

	FrontendSnapshot s;
	s.max_indirect_segments = min(max(segs, limits::kMaxDirectSegments), limits::kMaxIndirectSegments);
	s.max_queues = min(min(max(queues, 1u), cpus), limits::kMaxFrontendQueues);
	s.max_ring_page_order = clamp_ring_order(order);
	s.trusted = trusted;
	s.feature_persistent = persistent;
	return s;
}

FrontendRingPlan plan_frontend_rings(const FrontendSnapshot &ours, const BackendProbeKeys &backend) noexcept
{
	FrontendRingPlan p;
	p.ring_page_order = min(ours.max_ring_page_order, backend.max_ring_page_order.or_default(0));
	p.nr_ring_pages = 1u << p.ring_page_order;
	p.write_ring_page_order = p.nr_ring_pages > 1;
	p.nr_queues = min(ours.max_queues, backend.multi_queue_max_queues.or_default(1));
	if (p.nr_queues == 0)
		p.nr_queues = 1;
	p.write_num_queues = p.nr_queues > 1;
	return p;
}

FrontendAdvert frontend_advert(const FrontendSnapshot &ours) noexcept
{
	return FrontendAdvert{ours.feature_persistent, xs::protocol_name(blkif::Abi::kNative)};
}

FrontendFeatures negotiate_frontend(const FrontendSnapshot &ours, const BackendConnectKeys &backend,
				    Key<bool> toolstack_trusted) noexcept
{
	FrontendFeatures f{};
	f.persistent = ours.feature_persistent && backend.feature_persistent.or_default(false);
	// Untrusted backend, or persistent grants (which copy anyway): bounce.
	f.bounce = !ours.trusted || !toolstack_trusted.or_default(true) || f.persistent;

	f.flush = FlushMode::kNone;
	if (backend.feature_barrier.or_default(false)) {
		f.flush = FlushMode::kWriteBarrier;
		f.fua = true;
	}
	if (backend.feature_flush_cache.or_default(false)) {
		f.flush = FlushMode::kFlushDiskCache;
		f.fua = false;
	}

	if (backend.feature_discard.or_default(false)) {
		f.discard = true;
		f.secure_discard = backend.discard_secure.or_default(false);
	}

	uint32_t segs = backend.max_indirect_segments.or_default(0);
	segs = min(segs, ours.max_indirect_segments);
	f.max_indirect_segments = segs > limits::kMaxDirectSegments ? segs : 0;
	return f;
}

bool check_sectors(Key<uint64_t> sectors, uint64_t *out, Refusal *why) noexcept
{
	if (!sectors.is_valid()) {
		*why = Refusal{-err::kInval, "backend sectors missing or malformed"};
		return false;
	}
	if (sectors.value > limits::kMaxSectors) {
		*why = Refusal{-err::kInval, "backend sectors exceed the largest disk (2^63-1 bytes)"};
		return false;
	}
	*out = sectors.value;
	return true;
}

bool negotiate_disk(const BackendConnectKeys &backend, DiskGeometry *out, Refusal *why) noexcept
{
	DiskGeometry g{};
	if (!check_sectors(backend.sectors, &g.sectors, why))
		return false;
	if (!backend.info.is_valid()) {
		*why = Refusal{-err::kInval, "backend info missing or malformed"};
		return false;
	}
	g.info = backend.info.value;
	if (!backend.sector_size.is_valid()) {
		*why = Refusal{-err::kInval, "backend sector-size missing or malformed"};
		return false;
	}
	const uint32_t logical = backend.sector_size.value;
	if (!is_power_of_two(logical) || logical < limits::kMinSectorSize || logical > limits::kMaxSectorSize) {
		*why = Refusal{-err::kInval, "backend sector-size is not a power of two in [512, PAGE_SIZE]"};
		return false;
	}
	g.logical_block_size = logical;

	// A hint: absent is the logical size; absurd is ignored.
	const uint32_t physical = backend.physical_sector_size.or_default(logical);
	const bool physical_ok = is_power_of_two(physical) && physical >= logical &&
				 physical <= limits::kMaxPhysicalSectorSize;
	g.physical_block_size = physical_ok ? physical : logical;
	g.physical_ignored = !physical_ok && backend.physical_sector_size.is_valid();

	const uint32_t granularity = backend.discard_granularity.or_default(0);
	const bool granularity_ok = is_power_of_two(granularity) && granularity >= logical;
	g.discard_granularity = granularity_ok ? granularity : g.physical_block_size;
	g.granularity_ignored = !granularity_ok && granularity != 0;
	g.discard_alignment = backend.discard_alignment.or_default(0) % g.discard_granularity;
	*out = g;
	return true;
}

BackendSnapshot snapshot_backend(const BackendParams &live, unsigned online_cpus) noexcept
{
	const uint32_t queues = read_once(live.max_queues);
	const int32_t order = read_once(live.max_ring_page_order);
	const bool persistent = read_once(live.feature_persistent);
	const uint32_t cpus = online_cpus ? online_cpus : 1;

	BackendSnapshot s;
	s.max_queues = queues ? queues : cpus;
	s.max_ring_page_order = clamp_ring_order(order);
	s.feature_persistent = persistent;
	return s;
}

BackendProbeAdvert backend_probe_advert(const BackendSnapshot &ours) noexcept
{
	return BackendProbeAdvert{limits::kBackendIndirectSegments, ours.max_queues, ours.max_ring_page_order};
}

BackendConnectAdvert backend_connect_advert(const BackendSnapshot &ours, const DiskCaps &disk,
					    Key<bool> toolstack_discard_enable) noexcept
{
	BackendConnectAdvert a{};
	a.feature_flush_cache = disk.write_cache;
	a.feature_barrier = disk.write_cache;
	a.feature_persistent = ours.feature_persistent;
	// discard-enable=0 (or unreadable as 0/1 -> default 1) leaves no key.
	a.write_discard = toolstack_discard_enable.or_default(true);
	if (a.write_discard && disk.discard) {
		a.feature_discard = true;
		a.write_discard_params = true;
		a.discard_granularity = disk.discard_granularity;
		a.discard_alignment = disk.discard_alignment;
		a.discard_secure = disk.secure_erase;
	}
	return a;
}

bool negotiate_backend(const BackendSnapshot &ours, const FrontendKeys &fe, BackendFeatures *out,
		       Refusal *why) noexcept
{
	if (fe.protocol.is_malformed()) {
		*why = Refusal{-err::kNoSys, "unknown frontend protocol"};
		return false;
	}
	if (fe.num_queues.is_malformed()) {
		*why = Refusal{-err::kNoSys, "malformed multi-queue-num-queues"};
		return false;
	}
	const uint32_t queues = fe.num_queues.or_default(1);
	if (queues == 0 || queues > ours.max_queues) {
		*why = Refusal{-err::kNoSys, "guest requested more queues than the maximum, or none"};
		return false;
	}
	if (fe.ring_page_order.is_malformed()) {
		*why = Refusal{-err::kInval, "malformed ring-page-order"};
		return false;
	}
	if (fe.ring_page_order.is_valid() && fe.ring_page_order.value > ours.max_ring_page_order) {
		*why = Refusal{-err::kInval, "requested ring page order exceeds the maximum"};
		return false;
	}
	BackendFeatures f;
	f.nr_queues = queues;
	f.ring_page_order = fe.ring_page_order.or_default(0);
	f.read_ring_page_keys = fe.ring_page_order.is_valid();
	f.persistent = ours.feature_persistent && fe.feature_persistent.or_default(false);
	f.abi = fe.protocol.or_default(blkif::Abi::kNative);
	*out = f;
	return true;
}

} // namespace xbc::negotiate
