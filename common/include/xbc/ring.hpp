// SPDX-License-Identifier: GPL-2.0-only
// Xen shared rings (io/ring.h semantics) over a caller-mapped area of 1..16
// pages: FrontRing produces requests and consumes responses, BackRing the
// reverse. The layout is the Xen one: a 64-byte header (req_prod,
// req_event, rsp_prod, rsp_event, padding), then a power-of-two number of
// entries, each a union of Req and Rsp.
//
// Rules that keep a hostile peer harmless:
//   - indices the peer writes are read once (read_once), then checked;
//   - each entry is copied out of shared memory exactly once and handed
//     back by value; nothing ever gets a pointer into the ring (XSA-155);
//   - entries we produce are built by the caller as whole values and
//     copied in, so no stale padding is published (XSA-216);
//   - a producer index that claims more than the ring can hold, or moves
//     backwards, is an error (-EPROTO): the caller marks the ring broken.
// RingIdx wraps at 2^32; all arithmetic is modular distance.
//
// The ring knows no blkif layout: Req/Rsp are opaque slot types (see
// xbc/blkif.hpp for the blkif ones and xbc/blkif_ring.hpp for a backend
// ring whose layout is chosen at connect time).
#pragma once

#include "kapi/blkif_abi.h"
#include "kapi/sync.h"
#include "xbc/base.hpp"
#include "xbc/limits.hpp"
#include "xbc/result.hpp"
#include "xbc/types.hpp"

namespace xbc {

// The shared header that precedes the entries (struct *_sring).
struct SringHeader {
	uint32_t req_prod;
	uint32_t req_event;
	uint32_t rsp_prod;
	uint32_t rsp_event;
	uint8_t pad[KAPI_SRING_PAD_SIZE];
};
static_assert(sizeof(SringHeader) == KAPI_SRING_HEADER_SIZE);
static_assert(__builtin_offsetof(SringHeader, req_prod) == KAPI_SRING_REQ_PROD_OFFSET);
static_assert(__builtin_offsetof(SringHeader, req_event) == KAPI_SRING_REQ_EVENT_OFFSET);
static_assert(__builtin_offsetof(SringHeader, rsp_prod) == KAPI_SRING_RSP_PROD_OFFSET);
static_assert(__builtin_offsetof(SringHeader, rsp_event) == KAPI_SRING_RSP_EVENT_OFFSET);
static_assert(__builtin_offsetof(SringHeader, pad) == KAPI_SRING_PAD_OFFSET);

// ring-page-order 0..4: 1..16 pages (defined in xbc/limits.hpp).
using limits::kMaxRingPageOrder;
using limits::kMaxRingPages;

// Entries in a ring of `area_bytes`: as many as fit after the header,
// rounded down to a power of two (RING_SIZE). 0 if none fits.
[[nodiscard]] constexpr uint32_t ring_entries(size_t area_bytes, size_t entry_size) noexcept
{
	if (entry_size == 0 || area_bytes <= sizeof(SringHeader))
		return 0;
	const size_t fit = (area_bytes - sizeof(SringHeader)) / entry_size;
	uint32_t n = 1;
	if (fit == 0)
		return 0;
	while (size_t(n) * 2 <= fit && n < (1u << 31))
		n *= 2;
	return n;
}

namespace ring_detail {

// Copy out of shared memory, then a compiler barrier: later uses read the
// local copy, never the shared source again.
inline void copy_from_shared(void *dst, const void *src, size_t n) noexcept
{
	copy_bytes(dst, src, n);
	asm volatile("" ::: "memory");
}

// 2^order pages, order 0..4, page aligned (a grant mapping always is).
inline Status check_area(void *area, size_t bytes) noexcept
{
	const size_t pages = bytes / KAPI_PAGE_SIZE;
	if (!area || bytes == 0 || bytes % KAPI_PAGE_SIZE != 0 || pages > kMaxRingPages ||
	    (pages & (pages - 1)) != 0 ||
	    (reinterpret_cast<uintptr_t>(area) & (KAPI_PAGE_SIZE - 1)) != 0)
		return Status::error(err::kInval);
	return Status::ok();
}

// The peer's index, read once.
inline RingIdx load_idx(const uint32_t &shared) noexcept
{
	return RingIdx(read_once(shared));
}

inline void store_idx(uint32_t &shared, RingIdx v) noexcept
{
	write_once(shared, v.raw());
}

// RING_PUSH_*_AND_CHECK_NOTIFY: publish `next` in `prod` after the
// entries, then tell whether the peer asked to be woken for an index in
// (old, next]. `old` is our private copy of what we last published: the
// shared field is writable by the peer.
inline bool publish(uint32_t &prod, const uint32_t &event, RingIdx old, RingIdx next) noexcept
{
	kapi_virt_wmb(); // entries visible before the index
	store_idx(prod, next);
	kapi_virt_mb(); // index visible before we read the peer's event
	const RingIdx ev = load_idx(event);
	return ev.distance_to(next) < old.distance_to(next);
}

} // namespace ring_detail

// Shared by both ends: where the entries are and how many.
template <typename Req, typename Rsp> class RingBase {
public:
	static_assert(__is_trivially_copyable(Req) && __is_trivially_copyable(Rsp),
		      "ring entries are plain bytes");
	union Entry {
		Req req;
		Rsp rsp;
	};
	static constexpr size_t kEntrySize = sizeof(Entry);

	uint32_t size() const noexcept { return size_; }
	bool is_attached() const noexcept { return hdr_ != nullptr; }

protected:
	RingBase() noexcept = default;
	RingBase(void *area, size_t bytes) noexcept
		: hdr_(static_cast<SringHeader *>(area)),
		  entries_(static_cast<uint8_t *>(area) + sizeof(SringHeader)),
		  size_(ring_entries(bytes, kEntrySize))
	{
	}

	uint8_t *slot(RingIdx i) const noexcept { return entries_ + size_t(i.slot(size_)) * kEntrySize; }

	SringHeader *hdr_ = nullptr;
	uint8_t *entries_ = nullptr;
	uint32_t size_ = 0;
};

// The frontend half. One producer and one consumer context at a time; the
// caller serialises (the blkfront ring lock).
template <typename Req, typename Rsp> class FrontRing : public RingBase<Req, Rsp> {
	using Base = RingBase<Req, Rsp>;

public:
	FrontRing() noexcept = default;

	// Initialises the shared header (only the frontend does) and attaches.
	// `start` is the initial index of both producers; 0 on a fresh ring.
	[[nodiscard]] static Result<FrontRing> init(void *area, size_t bytes,
						    RingIdx start = RingIdx(0)) noexcept
	{
		XBC_TRY_STATUS(ring_detail::check_area(area, bytes));
		FrontRing r(area, bytes, start);
		if (r.size_ == 0)
			return Status::error(err::kInval);
		SringHeader *h = r.hdr_;
		zero_bytes(h->pad, sizeof(h->pad));
		ring_detail::store_idx(h->req_prod, start);
		ring_detail::store_idx(h->rsp_prod, start);
		ring_detail::store_idx(h->req_event, start + 1);
		ring_detail::store_idx(h->rsp_event, start + 1);
		return r;
	}

	// RING_FREE_REQUESTS: slots we may still fill.
	uint32_t free_requests() const noexcept { return this->size_ - rsp_cons_.distance_to(req_prod_pvt_); }
	bool full() const noexcept { return free_requests() == 0; }

	// Copies `req` into the next slot; not visible to the peer until
	// publish_requests(). -ENOSPC when full.
	[[nodiscard]] Status push_request(const Req &req) noexcept
	{
		if (full())
			return Status::error(err::kNoSpc);
		copy_bytes(this->slot(req_prod_pvt_), &req, sizeof(req));
		++req_prod_pvt_;
		return Status::ok();
	}

	// Publishes pushed requests; true when the backend must be notified.
	[[nodiscard]] bool publish_requests() noexcept
	{
		const RingIdx old = req_published_;
		req_published_ = req_prod_pvt_;
		return ring_detail::publish(this->hdr_->req_prod, this->hdr_->req_event, old,
					    req_prod_pvt_);
	}

	// Reads the backend's rsp_prod once. -EPROTO if it claims responses to
	// requests we never published (or moved backwards).
	[[nodiscard]] Result<uint32_t> pending_responses() noexcept
	{
		const RingIdx prod = ring_detail::load_idx(this->hdr_->rsp_prod);
		kapi_virt_rmb(); // responses up to prod visible after the index
		const uint32_t n = rsp_cons_.distance_to(prod);
		if (n > rsp_cons_.distance_to(req_published_))
			return Status::error(err::kProto);
		rsp_prod_seen_ = prod;
		return n;
	}

	// Copies the next response (up to the last pending_responses()) out
	// once; false when there is none.
	[[nodiscard]] bool pop_response(Rsp *out) noexcept
	{
		if (rsp_cons_ == rsp_prod_seen_)
			return false;
		ring_detail::copy_from_shared(out, this->slot(rsp_cons_), sizeof(*out));
		++rsp_cons_;
		return true;
	}

	// RING_FINAL_CHECK_FOR_RESPONSES: before sleeping, ask to be woken by
	// the next response, then look once more to close the race.
	[[nodiscard]] Result<bool> final_check_for_responses() noexcept
	{
		if (XBC_TRY(pending_responses()) > 0)
			return true;
		ring_detail::store_idx(this->hdr_->rsp_event, rsp_cons_ + 1);
		kapi_virt_mb();
		return XBC_TRY(pending_responses()) > 0;
	}

	RingIdx req_prod_pvt() const noexcept { return req_prod_pvt_; }
	RingIdx rsp_cons() const noexcept { return rsp_cons_; }

private:
	FrontRing(void *area, size_t bytes, RingIdx start) noexcept
		: Base(area, bytes), req_prod_pvt_(start), req_published_(start), rsp_cons_(start),
		  rsp_prod_seen_(start)
	{
	}

	RingIdx req_prod_pvt_;	// next slot we fill
	RingIdx req_published_; // last req_prod we wrote to the header
	RingIdx rsp_cons_;	// next response we read
	RingIdx rsp_prod_seen_; // backend's rsp_prod at the last check
};

// The backend half. The caller serialises producers and consumers (one
// ring thread consumes; responses go out under the ring lock).
template <typename Req, typename Rsp> class BackRing : public RingBase<Req, Rsp> {
	using Base = RingBase<Req, Rsp>;

public:
	BackRing() noexcept = default;

	// Attaches to a ring the frontend initialised; the header is the
	// peer's and is not touched. `start` is 0 on a fresh ring.
	[[nodiscard]] static Result<BackRing> attach(void *area, size_t bytes,
						     RingIdx start = RingIdx(0)) noexcept
	{
		XBC_TRY_STATUS(ring_detail::check_area(area, bytes));
		BackRing r(area, bytes, start);
		if (r.size_ == 0)
			return Status::error(err::kInval);
		return r;
	}

	// Reads the frontend's req_prod once and returns how many requests
	// may be consumed now. -EPROTO (ring broken) if the frontend claims
	// more requests than free slots, or moved req_prod backwards.
	[[nodiscard]] Result<uint32_t> pending_requests() noexcept
	{
		const RingIdx prod = ring_detail::load_idx(this->hdr_->req_prod);
		kapi_virt_rmb(); // requests up to prod visible after the index
		const uint32_t unanswered = rsp_prod_pvt_.distance_to(req_cons_);
		const uint32_t n = req_cons_.distance_to(prod);
		if (n > this->size_ - unanswered)
			return Status::error(err::kProto);
		req_prod_seen_ = prod;
		return n;
	}

	// Copies the next request (up to the last pending_requests()) out
	// once; false when there is none.
	[[nodiscard]] bool pop_request(Req *out) noexcept
	{
		if (req_cons_ == req_prod_seen_)
			return false;
		ring_detail::copy_from_shared(out, this->slot(req_cons_), sizeof(*out));
		++req_cons_;
		return true;
	}

	// Copies `rsp` into the next response slot; not visible until
	// publish_responses(). -EPROTO if no consumed request awaits an answer.
	[[nodiscard]] Status push_response(const Rsp &rsp) noexcept
	{
		if (rsp_prod_pvt_ == req_cons_)
			return Status::error(err::kProto);
		copy_bytes(this->slot(rsp_prod_pvt_), &rsp, sizeof(rsp));
		++rsp_prod_pvt_;
		return Status::ok();
	}

	// Publishes pushed responses; true when the frontend must be notified.
	[[nodiscard]] bool publish_responses() noexcept
	{
		const RingIdx old = rsp_published_;
		rsp_published_ = rsp_prod_pvt_;
		return ring_detail::publish(this->hdr_->rsp_prod, this->hdr_->rsp_event, old,
					    rsp_prod_pvt_);
	}

	// RING_FINAL_CHECK_FOR_REQUESTS.
	[[nodiscard]] Result<bool> final_check_for_requests() noexcept
	{
		if (XBC_TRY(pending_requests()) > 0)
			return true;
		ring_detail::store_idx(this->hdr_->req_event, req_cons_ + 1);
		kapi_virt_mb();
		return XBC_TRY(pending_requests()) > 0;
	}

	RingIdx req_cons() const noexcept { return req_cons_; }
	RingIdx rsp_prod_pvt() const noexcept { return rsp_prod_pvt_; }

#ifdef XBC_HOSTILE
	// Test-only (the hostile backend, blkback/hostile.hpp): pushes `extra`
	// responses no request asked for; with `rsp` they are copies of it,
	// without it the slots keep whatever they hold.
	void forge_responses(uint32_t extra, const Rsp *rsp) noexcept
	{
		for (uint32_t i = 0; i < extra; ++i) {
			if (rsp)
				copy_bytes(this->slot(rsp_prod_pvt_), rsp, sizeof(*rsp));
			++rsp_prod_pvt_;
		}
	}
#endif

private:
	BackRing(void *area, size_t bytes, RingIdx start) noexcept
		: Base(area, bytes), req_cons_(start), req_prod_seen_(start), rsp_prod_pvt_(start),
		  rsp_published_(start)
	{
	}

	RingIdx req_cons_;	// next request we read
	RingIdx req_prod_seen_; // frontend's req_prod at the last check
	RingIdx rsp_prod_pvt_;	// next response slot we fill
	RingIdx rsp_published_; // last rsp_prod we wrote to the header
};

} // namespace xbc
