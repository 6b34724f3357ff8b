// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_ring: the C++ shared ring (xbc/ring.hpp, xbc/blkif_ring.hpp)
// against a frontend driven by the kernel's own ring.h macros
// (kunit/kernel_blkif.c) on a real page: requests go kernel -> C++ BackRing
// -> decode_request, responses C++ -> kernel RING_COPY_RESPONSE, across the
// 2^32 index wrap, and a lying req_prod is refused.
#include "kernel_blkif.h"
#include "xbc_kunit.hpp"
#include "xbc/blkif_ring.hpp"

namespace xbc::kunit {
namespace {

using namespace xbc::blkif;
using NativeBackRing = LayoutBackRing<wire::NativeLayout>;

// One page, and the kernel-macro frontend on it; both freed on scope exit.
class KernelFront {
public:
	KernelFront(uint32_t start) noexcept
	{
		page_ = kapi_page_alloc(KAPI_GFP_KERNEL);
		if (page_)
			kf_ = xbc_kunit_kfront_create(kapi_page_address(page_), start);
	}
	~KernelFront()
	{
		if (kf_)
			xbc_kunit_kfront_destroy(kf_);
		if (page_)
			kapi_page_free(page_);
	}
	bool ok() const noexcept { return kf_ != nullptr; }
	void *area() const noexcept { return kapi_page_address(page_); }
	xbc_kunit_kfront *kf() const noexcept { return kf_; }

private:
	kapi_page *page_ = nullptr;
	xbc_kunit_kfront *kf_ = nullptr;
};

xbc_kunit_rw_view request_with_id(uint64_t id) noexcept
{
	xbc_kunit_rw_view rw = {};
	rw.operation = KAPI_BLKIF_OP_READ;
	rw.nr_segments = 1;
	rw.handle = 1;
	rw.id = id;
	rw.sector = id % 1000;
	rw.gref[0] = 8;
	rw.last_sect[0] = 7;
	return rw;
}

// The backend's whole turn: take every pending request, decode it, answer
// it (odd ids with an error). Returns the number answered, -1 on failure.
long serve(NativeBackRing &ring, bool *notify) noexcept
{
	auto pending = ring.pending_requests();
	if (pending.is_error())
		return -1;
	long served = 0;
	wire::NativeLayout::RequestSlot slot;
	while (ring.pop_request(&slot)) {
		const Decoded d = decode_request(Abi::kNative, &slot, Limits{Sector(1000), 0});
		if (!d.ok())
			return -1;
		const RspStatus st = d.id.raw() % 2 ? RspStatus::kError : RspStatus::kOkay;
		wire::NativeLayout::Response rsp;
		encode_response(Abi::kNative, Response{d.id, d.response_op, st}, &rsp);
		if (ring.push_response(rsp).is_error())
			return -1;
		served++;
	}
	*notify = ring.publish_responses();
	return served;
}

} // namespace
} // namespace xbc::kunit

using namespace xbc;
using namespace xbc::blkif;
using namespace xbc::kunit;

XBC_KUNIT_CASE(ring_kernel_front_round_trip_across_wrap)
{
	// 0xfffffff0: the second round crosses 2^32 on both ends.
	constexpr uint32_t kStart = 0xfffffff0u;
	KernelFront front(kStart);
	XK_ASSERT(front.ok());
	auto attached = NativeBackRing::attach(front.area(), KAPI_PAGE_SIZE, RingIdx(kStart));
	XK_ASSERT(attached.is_ok());
	NativeBackRing back = attached.take();
	XK_EXPECT_EQ(back.size(), xbc_kunit_kernel_blkif_ring_size_1page());

	uint64_t next_id = 1;
	bool rounds_ok = true;
	for (int round = 0; round < 4 && rounds_ok; round++) {
		const unsigned batch = round == 1 ? back.size() : 20u; // round 1 fills the ring
		for (unsigned i = 0; i < batch; i++) {
			const xbc_kunit_rw_view rw = request_with_id(next_id + i);
			rounds_ok &= xbc_kunit_kfront_queue_rw(front.kf(), &rw);
		}
		// A full ring refuses one more on the kernel side.
		if (round == 1) {
			const xbc_kunit_rw_view extra = request_with_id(0);
			rounds_ok &= XK_EXPECT(!xbc_kunit_kfront_queue_rw(front.kf(), &extra));
		}
		xbc_kunit_kfront_push(front.kf());
		bool notify = false;
		rounds_ok &= XK_EXPECT_EQ(serve(back, &notify), batch);
		uint64_t ids[64];
		int16_t status[64];
		const unsigned got = xbc_kunit_kfront_take_responses(front.kf(), ids, status, 64);
		rounds_ok &= XK_EXPECT_EQ(got, batch);
		for (unsigned i = 0; i < got; i++) {
			rounds_ok &= ids[i] == next_id + i;
			rounds_ok &= status[i] == ((next_id + i) % 2 ? KAPI_BLKIF_RSP_ERROR : KAPI_BLKIF_RSP_OKAY);
		}
		next_id += batch;
	}
	XK_EXPECT(rounds_ok);
	// The indices wrapped: the backend's consumer is past 2^32.
	XK_EXPECT(back.req_cons().raw() < kStart);
	XK_EXPECT_EQ(RingIdx(kStart).distance_to(back.req_cons()), next_id - 1);
}

XBC_KUNIT_CASE(ring_rejects_lying_producer)
{
	KernelFront front(0);
	XK_ASSERT(front.ok());
	auto attached = NativeBackRing::attach(front.area(), KAPI_PAGE_SIZE);
	XK_ASSERT(attached.is_ok());
	NativeBackRing back = attached.take();

	const xbc_kunit_rw_view rw = request_with_id(5);
	XK_ASSERT(xbc_kunit_kfront_queue_rw(front.kf(), &rw));
	xbc_kunit_kfront_push(front.kf());
	// The frontend claims a whole ring more than it could have queued.
	xbc_kunit_kfront_lie_req_prod(front.kf(), back.size() + 1);
	auto pending = back.pending_requests();
	XK_EXPECT(pending.is_error());
	XK_EXPECT_EQ(pending.status().code(), -err::kProto);
	// Exactly the ring size is still possible and accepted.
	xbc_kunit_kfront_lie_req_prod(front.kf(), back.size() - 1);
	auto fine = back.pending_requests();
	XK_ASSERT(fine.is_ok());
	XK_EXPECT_EQ(fine.value(), back.size());
	// A response with no request consumed is refused.
	wire::NativeLayout::Response rsp = {};
	XK_EXPECT_EQ(back.push_response(rsp).code(), -err::kProto);
	// A ring area that is not page aligned is refused.
	XK_EXPECT(NativeBackRing::attach(static_cast<uint8_t *>(front.area()) + 64, KAPI_PAGE_SIZE)
			  .is_error());
}
