// SPDX-License-Identifier: GPL-2.0-only
// Feature negotiation rules (xbc/negotiate.hpp): pure functions, no I/O.
#include "xbc/negotiate.hpp"

namespace xbc::negotiate {

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
	s.max_indirect_segments = min(max(segs, kMaxSegmentsPerRequest), kMaxIndirectSegments);
	s.max_queues = min(max(queues, 1u), cpus);
	s.max_ring_page_order = order < 0 ? 0 : min(static_cast<uint32_t>(order), kMaxRingPageOrder);
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
		f.discard_granularity = backend.discard_granularity.or_default(0);
		f.discard_alignment = backend.discard_alignment.or_default(0);
		f.secure_discard = backend.discard_secure.or_default(false);
	}

	uint32_t segs = backend.max_indirect_segments.or_default(0);
	segs = min(segs, ours.max_indirect_segments);
	f.indirect_segments = segs > kMaxSegmentsPerRequest ? segs : 0;
	return f;
}

BackendSnapshot snapshot_backend(const BackendParams &live, unsigned online_cpus) noexcept
{
	const uint32_t queues = read_once(live.max_queues);
	const int32_t order = read_once(live.max_ring_page_order);
	const bool persistent = read_once(live.feature_persistent);
	const uint32_t cpus = online_cpus ? online_cpus : 1;

	BackendSnapshot s;
	s.max_queues = queues ? queues : cpus;
	s.max_ring_page_order = order < 0 ? 0 : min(static_cast<uint32_t>(order), kMaxRingPageOrder);
	s.feature_persistent = persistent;
	return s;
}

BackendProbeAdvert backend_probe_advert(const BackendSnapshot &ours) noexcept
{
	return BackendProbeAdvert{kBackendIndirectSegments, ours.max_queues, ours.max_ring_page_order};
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
