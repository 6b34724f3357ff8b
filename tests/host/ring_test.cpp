// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: one test per ring rule (geometry, notify, wrap, hostile
// indices).
// Shared rings (xbc/ring.hpp, xbc/blkif_ring.hpp): geometry, the notify and
// final-check logic, index wrap at 2^32, hostile producer indices, and a
// frontend and backend talking over one shared buffer.
#include <stdlib.h>
#include <string.h>

#include <gtest/gtest.h>

#include "xbc/blkif_ring.hpp"
#include "xbc/ring.hpp"

namespace xbc {
namespace {

// A page-aligned area, as a grant mapping would be.
struct Area {
	explicit Area(size_t pages) : bytes(pages * KAPI_PAGE_SIZE)
	{
		mem = static_cast<uint8_t *>(aligned_alloc(KAPI_PAGE_SIZE, bytes));
		memset(mem, 0xAA, bytes);
	}
	~Area() { free(mem); }
	SringHeader *hdr() const { return reinterpret_cast<SringHeader *>(mem); }
	uint8_t *mem;
	size_t bytes;
};

// 112-byte requests and 16-byte responses, like native blkif.
struct TReq {
	uint64_t seq;
	uint8_t body[104];
};
struct TRsp {
	uint64_t seq;
	uint64_t status;
};
using TFront = FrontRing<TReq, TRsp>;
using TBack = BackRing<TReq, TRsp>;
static_assert(TFront::kEntrySize == 112);

TReq req(uint64_t seq)
{
	TReq r;
	r.seq = seq;
	memset(r.body, static_cast<int>(seq & 0xff), sizeof(r.body));
	return r;
}

TEST(RingGeometry, PowerOfTwoEntriesPerOrder)
{
	// ring-page-order 0..4 with 112-byte entries: 32..512, as RING_SIZE.
	const uint32_t want[] = {32, 64, 128, 256, 512};
	for (unsigned order = 0; order <= kMaxRingPageOrder; order++) {
		const size_t bytes = (size_t(1) << order) * KAPI_PAGE_SIZE;
		EXPECT_EQ(ring_entries(bytes, 112), want[order]) << order;
		EXPECT_EQ(ring_entries(bytes, 108), want[order]) << order; // x86_32
		Area a(size_t(1) << order);
		auto r = TFront::init(a.mem, a.bytes);
		ASSERT_TRUE(r.is_ok());
		EXPECT_EQ(r.value().size(), want[order]);
		EXPECT_EQ(r.value().free_requests(), want[order]);
	}
	EXPECT_EQ(ring_entries(4096, 64), 32u); // 63 fit
	EXPECT_EQ(ring_entries(4096, 4032), 1u);
	EXPECT_EQ(ring_entries(4096, 4033), 0u);
	EXPECT_EQ(ring_entries(64, 8), 0u);
	EXPECT_EQ(ring_entries(4096, 0), 0u);
}

TEST(RingGeometry, AreaMustBeOneToSixteenAlignedPages)
{
	Area a(32);
	EXPECT_TRUE(TBack::attach(a.mem, 16 * KAPI_PAGE_SIZE).is_ok());
	EXPECT_EQ(TBack::attach(a.mem, 32 * KAPI_PAGE_SIZE).status().code(), -err::kInval);
	EXPECT_EQ(TBack::attach(a.mem, 3 * KAPI_PAGE_SIZE).status().code(), -err::kInval);
	EXPECT_EQ(TBack::attach(a.mem, 0).status().code(), -err::kInval);
	EXPECT_EQ(TBack::attach(a.mem, 100).status().code(), -err::kInval);
	EXPECT_EQ(TBack::attach(nullptr, KAPI_PAGE_SIZE).status().code(), -err::kInval);
	EXPECT_EQ(TFront::init(a.mem + 8, KAPI_PAGE_SIZE).status().code(), -err::kInval);
	// An entry too big for the area.
	struct Huge {
		uint8_t b[8192];
	};
	EXPECT_EQ((FrontRing<Huge, TRsp>::init(a.mem, KAPI_PAGE_SIZE).status().code()), -err::kInval);
}

TEST(Ring, FrontInitSetsTheSharedHeaderAndBackLeavesIt)
{
	Area a(1);
	auto front = TFront::init(a.mem, a.bytes);
	ASSERT_TRUE(front.is_ok());
	EXPECT_EQ(a.hdr()->req_prod, 0u);
	EXPECT_EQ(a.hdr()->rsp_prod, 0u);
	EXPECT_EQ(a.hdr()->req_event, 1u);
	EXPECT_EQ(a.hdr()->rsp_event, 1u);
	for (uint8_t b : a.hdr()->pad)
		ASSERT_EQ(b, 0);

	a.hdr()->req_event = 77;
	auto back = TBack::attach(a.mem, a.bytes);
	ASSERT_TRUE(back.is_ok());
	EXPECT_EQ(a.hdr()->req_event, 77u);
}

// Backend: push/pop/respond; frontend: pop responses. Returns the count.
uint32_t serve_all(TBack &back)
{
	auto n = back.pending_requests();
	EXPECT_TRUE(n.is_ok());
	uint32_t served = 0;
	TReq r;
	while (back.pop_request(&r)) {
		EXPECT_TRUE(back.push_response(TRsp{r.seq, r.body[0]}).is_ok());
		served++;
	}
	EXPECT_EQ(served, n.value());
	(void)back.publish_responses();
	return served;
}

TEST(Ring, FrontAndBackRoundTripOverOneBuffer)
{
	Area a(1);
	TFront front = TFront::init(a.mem, a.bytes).take();
	TBack back = TBack::attach(a.mem, a.bytes).take();

	for (uint64_t i = 0; i < 5; i++)
		ASSERT_TRUE(front.push_request(req(i)).is_ok());
	EXPECT_EQ(front.free_requests(), 27u);
	// Unpublished requests are invisible.
	EXPECT_EQ(back.pending_requests().value(), 0u);
	EXPECT_TRUE(front.publish_requests()); // req_event 1: backend wants a kick

	auto n = back.pending_requests();
	ASSERT_TRUE(n.is_ok());
	EXPECT_EQ(n.value(), 5u);
	TReq got;
	for (uint64_t i = 0; i < 5; i++) {
		ASSERT_TRUE(back.pop_request(&got));
		EXPECT_EQ(got.seq, i);
		EXPECT_EQ(got.body[103], i);
		ASSERT_TRUE(back.push_response(TRsp{got.seq * 10, 0}).is_ok());
	}
	EXPECT_FALSE(back.pop_request(&got));
	EXPECT_TRUE(back.publish_responses()); // rsp_event 1

	EXPECT_EQ(front.pending_responses().value(), 5u);
	TRsp rsp;
	for (uint64_t i = 0; i < 5; i++) {
		ASSERT_TRUE(front.pop_response(&rsp));
		EXPECT_EQ(rsp.seq, i * 10);
	}
	EXPECT_FALSE(front.pop_response(&rsp));
	EXPECT_EQ(front.free_requests(), 32u);
}

TEST(Ring, PoppedValuesAreCopiesNotViewsOfTheRing)
{
	Area a(1);
	TFront front = TFront::init(a.mem, a.bytes).take();
	TBack back = TBack::attach(a.mem, a.bytes).take();
	ASSERT_TRUE(front.push_request(req(7)).is_ok());
	(void)front.publish_requests();
	ASSERT_TRUE(back.pending_requests().is_ok());
	TReq got;
	ASSERT_TRUE(back.pop_request(&got));
	// The frontend rewrites the slot after we copied it: our copy holds.
	memset(a.mem + sizeof(SringHeader), 0x5A, 112);
	EXPECT_EQ(got.seq, 7u);
	EXPECT_EQ(got.body[0], 7);
}

TEST(Ring, FullRingRefusesAndBackendCannotAnswerUnseenRequests)
{
	Area a(1);
	TFront front = TFront::init(a.mem, a.bytes).take();
	TBack back = TBack::attach(a.mem, a.bytes).take();
	for (uint64_t i = 0; i < 32; i++)
		ASSERT_TRUE(front.push_request(req(i)).is_ok());
	EXPECT_TRUE(front.full());
	EXPECT_EQ(front.push_request(req(99)).code(), -err::kNoSpc);
	// Nothing consumed yet: no response may be produced.
	EXPECT_EQ(back.push_response(TRsp{1, 1}).code(), -err::kProto);
	(void)front.publish_requests();
	EXPECT_EQ(serve_all(back), 32u);
	EXPECT_EQ(back.push_response(TRsp{1, 1}).code(), -err::kProto);
	EXPECT_EQ(front.pending_responses().value(), 32u);
}

// Indices start just below 2^32 and run through the wrap several ring
// sizes' worth, in uneven batches; order and contents must survive.
TEST(Ring, IndicesWrapAt2To32)
{
	for (uint32_t start : {0xfffffff0u, 0xffffffffu, 0x7ffffff9u}) {
		Area a(1);
		TFront front = TFront::init(a.mem, a.bytes, RingIdx(start)).take();
		TBack back = TBack::attach(a.mem, a.bytes, RingIdx(start)).take();
		EXPECT_EQ(a.hdr()->req_prod, start);
		EXPECT_EQ(a.hdr()->req_event, start + 1);

		uint64_t sent = 0, received = 0;
		const unsigned batches[] = {3, 31, 32, 1, 17, 29, 32, 5};
		for (int round = 0; round < 4; round++) {
			for (unsigned batch : batches) {
				for (unsigned i = 0; i < batch; i++)
					ASSERT_TRUE(front.push_request(req(sent++)).is_ok());
				(void)front.publish_requests();
				EXPECT_EQ(serve_all(back), batch);
				auto n = front.pending_responses();
				ASSERT_TRUE(n.is_ok());
				ASSERT_EQ(n.value(), batch);
				TRsp r;
				while (front.pop_response(&r)) {
					ASSERT_EQ(r.seq, received);
					ASSERT_EQ(r.status, received & 0xff);
					received++;
				}
			}
		}
		EXPECT_EQ(received, sent);
		EXPECT_EQ(front.req_prod_pvt(), RingIdx(start) + uint32_t(sent));
		EXPECT_EQ(back.req_cons(), RingIdx(start) + uint32_t(sent));
		EXPECT_EQ(front.free_requests(), 32u);
	}
}

TEST(Ring, BackendDetectsRequestProducerOverflow)
{
	Area a(1);
	const uint32_t start = 0xfffffffau;
	TFront front = TFront::init(a.mem, a.bytes, RingIdx(start)).take();
	TBack back = TBack::attach(a.mem, a.bytes, RingIdx(start)).take();

	// A full ring is fine; one more is not.
	a.hdr()->req_prod = start + 32;
	EXPECT_EQ(back.pending_requests().value(), 32u);
	a.hdr()->req_prod = start + 33;
	EXPECT_EQ(back.pending_requests().status().code(), -err::kProto);
	a.hdr()->req_prod = start + 0x80000000u;
	EXPECT_EQ(back.pending_requests().status().code(), -err::kProto);

	// Consume 10 without answering: now only 22 more may be claimed.
	a.hdr()->req_prod = start + 10;
	ASSERT_EQ(back.pending_requests().value(), 10u);
	TReq r;
	for (int i = 0; i < 10; i++)
		ASSERT_TRUE(back.pop_request(&r));
	a.hdr()->req_prod = start + 32;
	EXPECT_EQ(back.pending_requests().value(), 22u);
	a.hdr()->req_prod = start + 33;
	EXPECT_EQ(back.pending_requests().status().code(), -err::kProto);
	// Moving backwards is as broken as running ahead.
	a.hdr()->req_prod = start + 9;
	EXPECT_EQ(back.pending_requests().status().code(), -err::kProto);
	// The failed checks did not move the snapshot: still nothing to pop
	// beyond what the last good check allowed.
	a.hdr()->req_prod = start + 10;
	ASSERT_EQ(back.pending_requests().value(), 0u);
	EXPECT_FALSE(back.pop_request(&r));
	(void)front;
}

TEST(Ring, FrontendDetectsResponseProducerOverflow)
{
	Area a(1);
	const uint32_t start = 0xfffffffeu;
	TFront front = TFront::init(a.mem, a.bytes, RingIdx(start)).take();
	for (int i = 0; i < 4; i++)
		ASSERT_TRUE(front.push_request(req(i)).is_ok());
	// Responses before anything is published are bogus.
	a.hdr()->rsp_prod = start + 1;
	EXPECT_EQ(front.pending_responses().status().code(), -err::kProto);
	(void)front.publish_requests();
	a.hdr()->rsp_prod = start + 4;
	EXPECT_EQ(front.pending_responses().value(), 4u);
	a.hdr()->rsp_prod = start + 5;
	EXPECT_EQ(front.pending_responses().status().code(), -err::kProto);
	a.hdr()->rsp_prod = start + 33; // more than a ring
	EXPECT_EQ(front.pending_responses().status().code(), -err::kProto);
	a.hdr()->rsp_prod = start - 1; // backwards
	EXPECT_EQ(front.pending_responses().status().code(), -err::kProto);
	EXPECT_EQ(front.final_check_for_responses().status().code(), -err::kProto);
}

TEST(Ring, NotifyOnlyWhenThePeerAskedForThisRange)
{
	Area a(1);
	TFront front = TFront::init(a.mem, a.bytes).take();
	TBack back = TBack::attach(a.mem, a.bytes).take();

	// req_event = 1: the first request crosses it.
	ASSERT_TRUE(front.push_request(req(0)).is_ok());
	EXPECT_TRUE(front.publish_requests());
	// The backend has not re-armed (req_event still 1): no kick for 1..2.
	ASSERT_TRUE(front.push_request(req(1)).is_ok());
	ASSERT_TRUE(front.push_request(req(2)).is_ok());
	EXPECT_FALSE(front.publish_requests());
	// Publishing nothing new never kicks.
	EXPECT_FALSE(front.publish_requests());

	// The backend drains and re-arms at req_cons + 1 = 4.
	EXPECT_EQ(serve_all(back), 3u);
	auto more = back.final_check_for_requests();
	ASSERT_TRUE(more.is_ok());
	EXPECT_FALSE(more.value());
	EXPECT_EQ(a.hdr()->req_event, 4u);
	ASSERT_TRUE(front.push_request(req(3)).is_ok());
	EXPECT_TRUE(front.publish_requests());

	// An event far ahead (peer polls): no kick.
	a.hdr()->req_event = 100;
	ASSERT_TRUE(front.push_request(req(4)).is_ok());
	EXPECT_FALSE(front.publish_requests());
	// An event exactly at the new producer index... is not yet crossed.
	a.hdr()->req_event = 7;
	ASSERT_TRUE(front.push_request(req(5)).is_ok());
	EXPECT_FALSE(front.publish_requests()); // prod 6, event 7
	ASSERT_TRUE(front.push_request(req(6)).is_ok());
	EXPECT_TRUE(front.publish_requests()); // prod 7 >= event 7

	// Response side: rsp_event = 1 after init.
	EXPECT_EQ(serve_all(back), 4u);
	// 7 responses published at once crossed rsp_event 1 above; re-arm.
	TRsp r;
	ASSERT_TRUE(front.pending_responses().is_ok());
	while (front.pop_response(&r)) {
	}
	auto fmore = front.final_check_for_responses();
	ASSERT_TRUE(fmore.is_ok());
	EXPECT_FALSE(fmore.value());
	EXPECT_EQ(a.hdr()->rsp_event, 8u);
	ASSERT_TRUE(front.push_request(req(7)).is_ok());
	(void)front.publish_requests();
	ASSERT_TRUE(back.pending_requests().is_ok());
	TReq q;
	ASSERT_TRUE(back.pop_request(&q));
	ASSERT_TRUE(back.push_response(TRsp{q.seq, 0}).is_ok());
	EXPECT_TRUE(back.publish_responses());
}

TEST(Ring, FinalCheckSeesWorkThatRacedIn)
{
	Area a(1);
	TFront front = TFront::init(a.mem, a.bytes).take();
	TBack back = TBack::attach(a.mem, a.bytes).take();
	auto none = back.final_check_for_requests();
	ASSERT_TRUE(none.is_ok());
	EXPECT_FALSE(none.value());
	ASSERT_TRUE(front.push_request(req(0)).is_ok());
	(void)front.publish_requests();
	auto some = back.final_check_for_requests();
	ASSERT_TRUE(some.is_ok());
	EXPECT_TRUE(some.value());
	// Work was seen on the first look: the event is left alone.
	EXPECT_EQ(a.hdr()->req_event, 1u);
	// A hostile producer index surfaces from the final check too.
	a.hdr()->req_prod = 40;
	EXPECT_EQ(back.final_check_for_requests().status().code(), -err::kProto);
}

// ---- blkif rings ---------------------------------------------------------

using blkif::Abi;

class BlkifRing : public testing::TestWithParam<Abi> {};

// A "frontend" that writes slots of the given layout by hand (our real
// frontend only speaks native), and the runtime-layout backend ring.
TEST_P(BlkifRing, BackendDecodesEachLayoutAndAnswersInIt)
{
	const Abi abi = GetParam();
	Area a(2);
	const size_t entry = blkif::entry_size(abi);
	auto back_r = blkif::BlkifBackRing::attach(abi, a.mem, a.bytes);
	ASSERT_TRUE(back_r.is_ok());
	blkif::BlkifBackRing back = back_r.take();
	EXPECT_EQ(back.size(), 64u);
	SringHeader *h = a.hdr();
	h->req_prod = h->rsp_prod = 0;
	h->req_event = h->rsp_event = 1;

	const blkif::Segment seg{GrantRef(9), 0, 7};
	uint8_t *slots = a.mem + sizeof(SringHeader);
	for (unsigned i = 0; i < 3; i++) {
		const blkif::Request r =
			i == 2 ? blkif::make_discard(blkif::RequestId(i), Sector(0), Sector(1u << 30), false)
			       : blkif::make_rw(blkif::Op::kWrite, blkif::RequestId(i), blkif::Vdev(1), Sector(8 * i), &seg, 1);
		ASSERT_TRUE(blkif::encode_request(abi, r, slots + i * entry).is_ok());
	}
	slots[3 * entry] = 4; // unknown op; id left as garbage
	h->req_prod = 4;

	const blkif::Limits limits{Sector(1u << 20), 0};
	ASSERT_EQ(back.pending_requests().value(), 4u);
	blkif::Decoded d[4];
	for (auto &x : d)
		ASSERT_TRUE(back.pop_request(limits, &x));
	EXPECT_FALSE(back.pop_request(limits, &d[0]));
	EXPECT_TRUE(d[0].ok());
	EXPECT_EQ(d[1].request.sector, Sector(8));
	EXPECT_EQ(d[2].error, blkif::DecodeError::kOutOfRange);
	EXPECT_EQ(d[2].id, blkif::RequestId(2));
	EXPECT_EQ(d[3].error, blkif::DecodeError::kUnknownOp);

	for (auto &x : d)
		ASSERT_TRUE(back.push_response({x.id, x.response_op,
						 x.ok() ? blkif::RspStatus::kOkay : x.error_status()})
				    .is_ok());
	EXPECT_TRUE(back.publish_responses());
	EXPECT_EQ(h->rsp_prod, 4u);
	const blkif::Response r2 = blkif::decode_response(abi, slots + 2 * entry);
	EXPECT_EQ(r2.id, blkif::RequestId(2));
	EXPECT_EQ(r2.operation, blkif::Op::kDiscard);
	EXPECT_EQ(r2.status, blkif::RspStatus::kError);
	const blkif::Response r3 = blkif::decode_response(abi, slots + 3 * entry);
	EXPECT_EQ(r3.operation, blkif::Op(4));
	EXPECT_EQ(r3.status, blkif::RspStatus::kEopnotsupp);
	auto more = back.final_check_for_requests();
	ASSERT_TRUE(more.is_ok());
	EXPECT_FALSE(more.value());

	h->req_prod = 4 + 65;
	EXPECT_EQ(back.pending_requests().status().code(), -err::kProto);
}

INSTANTIATE_TEST_SUITE_P(AllAbis, BlkifRing, testing::Values(Abi::kNative, Abi::kX86_32, Abi::kX86_64));

TEST(BlkifRing, NativeFrontendToBackendEndToEnd)
{
	Area a(1);
	blkif::NativeFrontRing front = blkif::NativeFrontRing::init(a.mem, a.bytes, RingIdx(0xfffffffc)).take();
	blkif::BlkifBackRing back = blkif::BlkifBackRing::attach(Abi::kNative, a.mem, a.bytes, RingIdx(0xfffffffc)).take();
	const blkif::Segment segs[2] = {{GrantRef(1), 0, 7}, {GrantRef(2), 0, 3}};
	for (uint64_t i = 0; i < 8; i++)
		ASSERT_TRUE(blkif::push_native_request(
				    front, blkif::make_rw(blkif::Op::kRead, blkif::RequestId(i), blkif::Vdev(0x300),
							  Sector(i * 12), segs, 2))
				    .is_ok());
	// A shape the wire cannot carry is refused before touching the ring.
	const RingIdx before = front.req_prod_pvt();
	blkif::Segment twelve[12];
	for (auto &s : twelve)
		s = segs[0];
	EXPECT_EQ(blkif::push_native_request(
			  front, blkif::make_rw(blkif::Op::kRead, blkif::RequestId(9), blkif::Vdev(0), Sector(0), twelve, 12))
			  .code(),
		  -err::kInval);
	EXPECT_EQ(front.req_prod_pvt(), before);
	EXPECT_TRUE(front.publish_requests());

	ASSERT_EQ(back.pending_requests().value(), 8u);
	blkif::Decoded d;
	const blkif::Limits limits{Sector(1000), 0};
	uint64_t i = 0;
	while (back.pop_request(limits, &d)) {
		ASSERT_TRUE(d.ok());
		EXPECT_EQ(d.request.id, blkif::RequestId(i));
		EXPECT_EQ(d.request.nr_sectors, Sector(12));
		ASSERT_TRUE(back.push_response({d.id, d.response_op, blkif::RspStatus::kOkay}).is_ok());
		i++;
	}
	EXPECT_EQ(i, 8u);
	EXPECT_TRUE(back.publish_responses());
	ASSERT_EQ(front.pending_responses().value(), 8u);
	blkif::Response rsp;
	for (uint64_t j = 0; j < 8; j++) {
		ASSERT_TRUE(blkif::pop_native_response(front, &rsp));
		EXPECT_EQ(rsp.id, blkif::RequestId(j));
		EXPECT_EQ(rsp.operation, blkif::Op::kRead);
		EXPECT_EQ(rsp.status, blkif::RspStatus::kOkay);
	}
	EXPECT_FALSE(blkif::pop_native_response(front, &rsp));
}

} // namespace
} // namespace xbc
