// SPDX-License-Identifier: GPL-2.0-only
// Over 450 lines: every decoder path in three ABI layouts.
// The blkif wire format (xbc/blkif.hpp): every decoder path in all three
// layouts, hostile field values, and padding hygiene of encoded slots.
// Requests are built byte by byte from the kapi/blkif_abi.h offsets, so the
// decoder is checked against the ABI, not just against our own encoder.
#include <string.h>

#include <gtest/gtest.h>

#include "kapi/blkif_abi.h"
#include "xbc/blkif.hpp"

namespace xbc::blkif {
namespace {

// Offsets of one layout, straight from the ABI constants.
struct Layout {
	const char *name;
	Abi abi;
	size_t req_size;
	size_t rw_nr, rw_handle, rw_id, rw_sector, rw_seg;
	size_t disc_flag, disc_id, disc_sector, disc_nr;
	size_t other_id;
	size_t ind_op, ind_nr, ind_id, ind_sector, ind_handle, ind_grefs;
	size_t rsp_size, rsp_id, rsp_op, rsp_status;
};

void PrintTo(const Layout &l, std::ostream *os)
{
	*os << l.name;
}

#define XBC_LAYOUT(NAME, ABI, P)                                                                   \
	Layout                                                                                     \
	{                                                                                          \
		NAME, ABI, P##_REQ_SIZE, P##_RW_NR_SEGMENTS_OFFSET, P##_RW_HANDLE_OFFSET,          \
			P##_RW_ID_OFFSET, P##_RW_SECTOR_NUMBER_OFFSET, P##_RW_SEG_OFFSET,          \
			P##_DISCARD_FLAG_OFFSET, P##_DISCARD_ID_OFFSET,                            \
			P##_DISCARD_SECTOR_NUMBER_OFFSET, P##_DISCARD_NR_SECTORS_OFFSET,           \
			P##_OTHER_ID_OFFSET, P##_INDIRECT_INDIRECT_OP_OFFSET,                      \
			P##_INDIRECT_NR_SEGMENTS_OFFSET, P##_INDIRECT_ID_OFFSET,                   \
			P##_INDIRECT_SECTOR_NUMBER_OFFSET, P##_INDIRECT_HANDLE_OFFSET,             \
			P##_INDIRECT_GREFS_OFFSET, P##_RSP_SIZE, P##_RSP_ID_OFFSET,                \
			P##_RSP_OPERATION_OFFSET, P##_RSP_STATUS_OFFSET                            \
	}

const Layout kLayouts[] = {
	XBC_LAYOUT("native", Abi::kNative, KAPI_BLKIF_NATIVE),
	XBC_LAYOUT("x86_32", Abi::kX86_32, KAPI_BLKIF_X86_32),
	XBC_LAYOUT("x86_64", Abi::kX86_64, KAPI_BLKIF_X86_64),
};

constexpr uint64_t kCapacity = 1 << 20; // sectors (512 MiB)
constexpr Limits kLimits{Sector(kCapacity), 256};

template <typename T> void put(uint8_t *buf, size_t off, T v)
{
	memcpy(buf + off, &v, sizeof(v));
}

template <typename T> T get(const uint8_t *buf, size_t off)
{
	T v;
	memcpy(&v, buf + off, sizeof(v));
	return v;
}

class BlkifAbi : public testing::TestWithParam<Layout> {
protected:
	const Layout &L() const { return GetParam(); }

	// A slot full of garbage, so any field the decoder should not read
	// (or the encoder should zero) stands out.
	void SetUp() override { memset(slot, 0xAA, sizeof(slot)); }

	void rw(uint8_t op, uint8_t nr, uint64_t id, uint64_t sector)
	{
		slot[0] = op;
		put<uint8_t>(slot, L().rw_nr, nr);
		put<uint16_t>(slot, L().rw_handle, 0x0768);
		put<uint64_t>(slot, L().rw_id, id);
		put<uint64_t>(slot, L().rw_sector, sector);
	}
	void seg(unsigned i, uint32_t gref, uint8_t first, uint8_t last)
	{
		const size_t off = L().rw_seg + i * KAPI_BLKIF_SEGMENT_SIZE;
		put<uint32_t>(slot, off + KAPI_BLKIF_SEGMENT_GREF_OFFSET, gref);
		put<uint8_t>(slot, off + KAPI_BLKIF_SEGMENT_FIRST_SECT_OFFSET, first);
		put<uint8_t>(slot, off + KAPI_BLKIF_SEGMENT_LAST_SECT_OFFSET, last);
	}
	void discard(uint8_t flag, uint64_t id, uint64_t sector, uint64_t nr)
	{
		slot[0] = KAPI_BLKIF_OP_DISCARD;
		put<uint8_t>(slot, L().disc_flag, flag);
		put<uint64_t>(slot, L().disc_id, id);
		put<uint64_t>(slot, L().disc_sector, sector);
		put<uint64_t>(slot, L().disc_nr, nr);
	}
	void indirect(uint8_t iop, uint16_t nr, uint64_t id, uint64_t sector)
	{
		slot[0] = KAPI_BLKIF_OP_INDIRECT;
		put<uint8_t>(slot, L().ind_op, iop);
		put<uint16_t>(slot, L().ind_nr, nr);
		put<uint64_t>(slot, L().ind_id, id);
		put<uint64_t>(slot, L().ind_sector, sector);
		put<uint16_t>(slot, L().ind_handle, 0x0301);
		for (unsigned i = 0; i < KAPI_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
			put<uint32_t>(slot, L().ind_grefs + 4 * i, 100 + i);
	}
	Decoded decode(const Limits &limits = kLimits) { return decode_request(L().abi, slot, limits); }

	uint8_t slot[KAPI_BLKIF_NATIVE_REQ_SIZE];
};

TEST_P(BlkifAbi, SizesMatchTheAbi)
{
	EXPECT_EQ(request_size(L().abi), L().req_size);
	EXPECT_EQ(response_size(L().abi), L().rsp_size);
	EXPECT_GE(entry_size(L().abi), L().req_size);
}

TEST_P(BlkifAbi, ReadDecodesEveryField)
{
	rw(KAPI_BLKIF_OP_READ, 3, 0x1122334455667788ull, 4096);
	seg(0, 7, 0, 7);
	seg(1, 8, 2, 5);
	seg(2, 0xfffffffe, 3, 3);
	const Decoded d = decode();
	ASSERT_TRUE(d.ok()) << int(d.error);
	const Request &r = d.request;
	EXPECT_EQ(r.op, Op::kRead);
	EXPECT_EQ(r.data_op, Op::kRead);
	EXPECT_EQ(d.response_op, Op::kRead);
	EXPECT_EQ(r.id, RequestId(0x1122334455667788ull));
	EXPECT_EQ(d.id, r.id);
	EXPECT_EQ(r.handle, Vdev(0x0768));
	EXPECT_EQ(r.sector, Sector(4096));
	ASSERT_EQ(r.nr_segments, 3);
	EXPECT_EQ(r.segments[0].gref, GrantRef(7));
	EXPECT_EQ(r.segments[0].nr_sectors(), 8u);
	EXPECT_EQ(r.segments[1].gref, GrantRef(8));
	EXPECT_EQ(r.segments[1].offset_bytes(), 1024u);
	EXPECT_EQ(r.segments[1].nr_sectors(), 4u);
	EXPECT_EQ(r.segments[2].gref, GrantRef(0xfffffffe));
	EXPECT_EQ(r.nr_sectors, Sector(8 + 4 + 1));
	EXPECT_FALSE(r.is_indirect());
}

TEST_P(BlkifAbi, WriteTakesElevenSegments)
{
	rw(KAPI_BLKIF_OP_WRITE, 11, 5, 0);
	for (unsigned i = 0; i < 11; i++)
		seg(i, i, 0, 7);
	const Decoded d = decode();
	ASSERT_TRUE(d.ok());
	EXPECT_EQ(d.request.op, Op::kWrite);
	EXPECT_EQ(d.request.nr_segments, 11);
	EXPECT_EQ(d.request.segments[10].gref, GrantRef(10));
	EXPECT_EQ(d.request.nr_sectors, Sector(88));
}

TEST_P(BlkifAbi, HostileSegmentCountsAreRejectedWithTheirId)
{
	for (unsigned nr : {0u, 12u, 255u}) {
		for (uint8_t op : {KAPI_BLKIF_OP_READ, KAPI_BLKIF_OP_WRITE}) {
			SetUp();
			rw(op, static_cast<uint8_t>(nr), 42, 0);
			for (unsigned i = 0; i < 11; i++)
				seg(i, i, 0, 7);
			const Decoded d = decode();
			EXPECT_EQ(d.error, DecodeError::kBadSegmentCount) << "nr " << nr;
			EXPECT_EQ(d.id, RequestId(42));
			EXPECT_EQ(d.response_op, Op(op));
			EXPECT_EQ(d.error_status(), RspStatus::kError);
		}
	}
}

TEST_P(BlkifAbi, FlushAndBarrierMayBeEmptyAndIgnoreTheirSector)
{
	for (uint8_t op : {KAPI_BLKIF_OP_FLUSH_DISKCACHE, KAPI_BLKIF_OP_WRITE_BARRIER}) {
		SetUp();
		rw(op, 0, 9, ~0ull);
		const Decoded d = decode();
		ASSERT_TRUE(d.ok()) << int(op);
		EXPECT_EQ(d.request.op, Op(op));
		EXPECT_EQ(d.request.nr_segments, 0);
		EXPECT_EQ(d.request.nr_sectors, Sector(0));
	}
}

TEST_P(BlkifAbi, FlushWithDataIsRangeChecked)
{
	rw(KAPI_BLKIF_OP_FLUSH_DISKCACHE, 2, 9, 100);
	seg(0, 1, 0, 7);
	seg(1, 2, 0, 0);
	ASSERT_TRUE(decode().ok());
	EXPECT_EQ(decode().request.nr_sectors, Sector(9));
	rw(KAPI_BLKIF_OP_FLUSH_DISKCACHE, 2, 9, kCapacity - 8);
	EXPECT_EQ(decode().error, DecodeError::kOutOfRange);
	rw(KAPI_BLKIF_OP_WRITE_BARRIER, 12, 9, 0);
	EXPECT_EQ(decode().error, DecodeError::kBadSegmentCount);
}

TEST_P(BlkifAbi, SegmentSectorBounds)
{
	struct Case {
		uint8_t first, last;
		bool ok;
	} cases[] = {{0, 7, true}, {7, 7, true}, {0, 0, true}, {0, 8, false},
		     {8, 8, false}, {5, 4, false}, {255, 255, false}, {7, 0, false}};
	for (const Case &c : cases) {
		SetUp();
		rw(KAPI_BLKIF_OP_READ, 2, 3, 0);
		seg(0, 1, 0, 7);
		seg(1, 2, c.first, c.last);
		const Decoded d = decode();
		EXPECT_EQ(d.ok(), c.ok) << int(c.first) << ".." << int(c.last);
		if (!c.ok) {
			EXPECT_EQ(d.error, DecodeError::kBadSegment);
			EXPECT_EQ(d.id, RequestId(3));
		}
	}
}

TEST_P(BlkifAbi, SectorRangeIsCheckedWithoutOverflow)
{
	struct Case {
		uint64_t sector;
		bool ok;
	} cases[] = {
		{kCapacity - 8, true},
		{kCapacity - 7, false},
		{kCapacity, false},
		{~0ull, false},		 // 2^64 - 1 + 8 wraps
		{~0ull - 7, false},	 // ends exactly at 2^64: wraps to 0
		{(~0ull) >> 9, false}, // would overflow a byte offset
	};
	for (const Case &c : cases) {
		SetUp();
		rw(KAPI_BLKIF_OP_WRITE, 1, 4, c.sector);
		seg(0, 1, 0, 7);
		const Decoded d = decode();
		EXPECT_EQ(d.ok(), c.ok) << c.sector;
		if (!c.ok) {
			EXPECT_EQ(d.error, DecodeError::kOutOfRange);
		}
	}
	// A device of 2^64 - 1 sectors still rejects the wrap.
	rw(KAPI_BLKIF_OP_WRITE, 1, 4, ~0ull - 7);
	seg(0, 1, 0, 7);
	EXPECT_EQ(decode(Limits{Sector(~0ull), 256}).error, DecodeError::kOutOfRange);
	rw(KAPI_BLKIF_OP_WRITE, 1, 4, ~0ull - 8);
	EXPECT_TRUE(decode(Limits{Sector(~0ull), 256}).ok());
}

TEST_P(BlkifAbi, DiscardDecodes)
{
	discard(KAPI_BLKIF_DISCARD_SECURE, 77, 2048, 4096);
	const Decoded d = decode();
	ASSERT_TRUE(d.ok());
	EXPECT_EQ(d.request.op, Op::kDiscard);
	EXPECT_EQ(d.response_op, Op::kDiscard);
	EXPECT_EQ(d.request.id, RequestId(77));
	EXPECT_EQ(d.request.sector, Sector(2048));
	EXPECT_EQ(d.request.nr_sectors, Sector(4096));
	EXPECT_TRUE(d.request.discard_secure);

	discard(0x2, 77, 0, kCapacity); // unknown flag bits: not secure
	ASSERT_TRUE(decode().ok());
	EXPECT_FALSE(decode().request.discard_secure);
}

TEST_P(BlkifAbi, DiscardPastTheEndOrWrappingIsRejected)
{
	for (auto [sector, nr] : {std::pair<uint64_t, uint64_t>{kCapacity - 1, 2},
				  {kCapacity + 1, 0},
				  {1, ~0ull},
				  {~0ull, 1},
				  {0, kCapacity + 1}}) {
		discard(0, 5, sector, nr);
		const Decoded d = decode();
		EXPECT_EQ(d.error, DecodeError::kOutOfRange) << sector << "+" << nr;
		EXPECT_EQ(d.id, RequestId(5));
		EXPECT_EQ(d.response_op, Op::kDiscard);
	}
	discard(0, 5, kCapacity, 0); // empty, at the very end
	EXPECT_TRUE(decode().ok());
}

TEST_P(BlkifAbi, UnknownOperationsAnswerEopnotsupp)
{
	for (unsigned op : {4u, 7u, 8u, 0x80u, 255u}) {
		SetUp();
		slot[0] = static_cast<uint8_t>(op);
		put<uint64_t>(slot, L().other_id, 0xdeadbeef00ull + op);
		const Decoded d = decode();
		EXPECT_EQ(d.error, DecodeError::kUnknownOp);
		EXPECT_EQ(d.id, RequestId(0xdeadbeef00ull + op));
		EXPECT_EQ(d.response_op, Op(op));
		EXPECT_EQ(d.error_status(), RspStatus::kEopnotsupp);
	}
}

TEST_P(BlkifAbi, IndirectDecodesAndCountsPages)
{
	struct Case {
		uint16_t nr;
		uint16_t max;
		uint8_t pages;
	} cases[] = {{1, 256, 1}, {11, 256, 1}, {256, 256, 1}, {512, 4096, 1},
		     {513, 4096, 2}, {1024, 4096, 2}, {4096, 4096, 8}, {4096, 0xffff, 8}};
	for (const Case &c : cases) {
		SetUp();
		indirect(KAPI_BLKIF_OP_WRITE, c.nr, 99, 0);
		const Decoded d = decode(Limits{Sector(kCapacity), c.max});
		ASSERT_TRUE(d.ok()) << c.nr;
		const Request &r = d.request;
		EXPECT_TRUE(r.is_indirect());
		EXPECT_EQ(r.op, Op::kIndirect);
		EXPECT_EQ(r.data_op, Op::kWrite);
		EXPECT_EQ(d.response_op, Op::kWrite); // in-tree frontends check this
		EXPECT_EQ(r.id, RequestId(99));
		EXPECT_EQ(r.handle, Vdev(0x0301));
		EXPECT_EQ(r.indirect.nr_segments, c.nr);
		EXPECT_EQ(r.indirect.nr_pages, c.pages);
		for (unsigned i = 0; i < kMaxIndirectPages; i++)
			EXPECT_EQ(r.indirect.grefs[i], i < c.pages ? GrantRef(100 + i) : GrantRef::invalid());
	}
}

TEST_P(BlkifAbi, IndirectHostileCountsAndOps)
{
	struct Case {
		uint8_t iop;
		uint16_t nr;
		uint16_t max;
		DecodeError want;
	} cases[] = {
		{KAPI_BLKIF_OP_READ, 0, 256, DecodeError::kBadSegmentCount},
		{KAPI_BLKIF_OP_READ, 257, 256, DecodeError::kBadSegmentCount},
		{KAPI_BLKIF_OP_READ, 4097, 0xffff, DecodeError::kBadSegmentCount},
		{KAPI_BLKIF_OP_READ, 0xffff, 0xffff, DecodeError::kBadSegmentCount},
		{KAPI_BLKIF_OP_READ, 1, 0, DecodeError::kBadSegmentCount},
		{KAPI_BLKIF_OP_WRITE_BARRIER, 8, 256, DecodeError::kBadIndirectOp},
		{KAPI_BLKIF_OP_FLUSH_DISKCACHE, 8, 256, DecodeError::kBadIndirectOp},
		{KAPI_BLKIF_OP_DISCARD, 8, 256, DecodeError::kBadIndirectOp},
		{KAPI_BLKIF_OP_INDIRECT, 8, 256, DecodeError::kBadIndirectOp},
		{200, 8, 256, DecodeError::kBadIndirectOp},
	};
	for (const Case &c : cases) {
		SetUp();
		indirect(c.iop, c.nr, 31, 0);
		const Decoded d = decode(Limits{Sector(kCapacity), c.max});
		EXPECT_EQ(d.error, c.want) << int(c.iop) << " " << c.nr;
		EXPECT_EQ(d.id, RequestId(31));
		EXPECT_EQ(d.response_op, Op(c.iop));
		EXPECT_EQ(d.error_status(), RspStatus::kError);
	}
	// Even one sector per segment would not fit.
	indirect(KAPI_BLKIF_OP_READ, 16, 31, kCapacity - 15);
	EXPECT_EQ(decode().error, DecodeError::kOutOfRange);
	indirect(KAPI_BLKIF_OP_READ, 16, 31, ~0ull - 3);
	EXPECT_EQ(decode().error, DecodeError::kOutOfRange);
}

TEST_P(BlkifAbi, ResponseIsWholeAndPaddingIsZero)
{
	uint8_t out[KAPI_BLKIF_NATIVE_ENTRY_SIZE];
	memset(out, 0xAA, sizeof(out));
	encode_response(L().abi, Response{RequestId(0x0102030405060708ull), Op::kWrite, RspStatus::kEopnotsupp}, out);
	EXPECT_EQ(get<uint64_t>(out, L().rsp_id), 0x0102030405060708ull);
	EXPECT_EQ(out[L().rsp_op], KAPI_BLKIF_OP_WRITE);
	EXPECT_EQ(get<int16_t>(out, L().rsp_status), KAPI_BLKIF_RSP_EOPNOTSUPP);
	// Every other byte of the response is padding and must be zero.
	for (size_t i = 0; i < L().rsp_size; i++) {
		const bool field = (i >= L().rsp_id && i < L().rsp_id + 8) || i == L().rsp_op ||
				   (i >= L().rsp_status && i < L().rsp_status + 2);
		if (!field) {
			EXPECT_EQ(out[i], 0) << L().name << " byte " << i;
		}
	}
	// Nothing beyond the response is written.
	for (size_t i = L().rsp_size; i < sizeof(out); i++)
		ASSERT_EQ(out[i], 0xAA) << i;

	const Response back = decode_response(L().abi, out);
	EXPECT_EQ(back.id, RequestId(0x0102030405060708ull));
	EXPECT_EQ(back.operation, Op::kWrite);
	EXPECT_EQ(back.status, RspStatus::kEopnotsupp);
}

TEST_P(BlkifAbi, DecodeResponseReadsTheAbiOffsets)
{
	uint8_t in[KAPI_BLKIF_NATIVE_RSP_SIZE];
	memset(in, 0x55, sizeof(in));
	put<uint64_t>(in, L().rsp_id, 12345);
	in[L().rsp_op] = KAPI_BLKIF_OP_INDIRECT;
	put<int16_t>(in, L().rsp_status, 0x7abc); // hostile status survives raw
	const Response r = decode_response(L().abi, in);
	EXPECT_EQ(r.id, RequestId(12345));
	EXPECT_EQ(r.operation, Op::kIndirect);
	EXPECT_EQ(static_cast<int16_t>(r.status), 0x7abc);
}

// Encoded requests carry every field at the ABI offset, zero elsewhere, and
// decode back to the same Request.
TEST_P(BlkifAbi, EncodedRequestsRoundTripWithZeroPadding)
{
	const Segment segs[3] = {{GrantRef(11), 0, 7}, {GrantRef(12), 1, 6}, {GrantRef(13), 4, 4}};
	const GrantRef igrefs[2] = {GrantRef(500), GrantRef(501)};
	const Request reqs[] = {
		make_rw(Op::kRead, RequestId(1), Vdev(0x0768), Sector(64), segs, 3),
		make_rw(Op::kWrite, RequestId(2), Vdev(0x0768), Sector(0), segs, 1),
		make_flush(Op::kFlushDiskCache, RequestId(3), Vdev(0x0768)),
		make_flush(Op::kWriteBarrier, RequestId(4), Vdev(0x0768)),
		make_discard(RequestId(5), Sector(8), Sector(800), true),
		make_indirect(Op::kWrite, RequestId(6), Vdev(0x0768), Sector(16), 600, igrefs),
	};
	for (const Request &want : reqs) {
		memset(slot, 0xAA, sizeof(slot));
		ASSERT_TRUE(encode_request(L().abi, want, slot).is_ok());
		for (size_t i = L().req_size; i < sizeof(slot); i++)
			ASSERT_EQ(slot[i], 0xAA) << "wrote past the request at " << i;
		EXPECT_EQ(slot[0], static_cast<uint8_t>(want.op));

		const Decoded d = decode(Limits{Sector(kCapacity), 4096});
		ASSERT_TRUE(d.ok()) << int(want.op) << " err " << int(d.error);
		const Request &got = d.request;
		EXPECT_EQ(got.op, want.op);
		EXPECT_EQ(got.data_op, want.data_op);
		EXPECT_EQ(got.id, want.id);
		EXPECT_EQ(got.sector, want.sector);
		if (want.op == Op::kDiscard) {
			EXPECT_EQ(got.nr_sectors, want.nr_sectors);
			EXPECT_EQ(got.discard_secure, want.discard_secure);
			// The flag byte holds only the secure bit; the rest is zero.
			EXPECT_EQ(slot[L().disc_flag], KAPI_BLKIF_DISCARD_SECURE);
		} else if (want.op == Op::kIndirect) {
			EXPECT_EQ(got.handle, want.handle);
			EXPECT_EQ(got.indirect.nr_segments, 600);
			EXPECT_EQ(got.indirect.nr_pages, 2);
			EXPECT_EQ(got.indirect.grefs[0], GrantRef(500));
			EXPECT_EQ(got.indirect.grefs[1], GrantRef(501));
			// Unused gref slots are zero on the wire.
			EXPECT_EQ(get<uint32_t>(slot, L().ind_grefs + 8), 0u);
		} else {
			EXPECT_EQ(got.handle, want.handle);
			ASSERT_EQ(got.nr_segments, want.nr_segments);
			for (unsigned i = 0; i < want.nr_segments; i++) {
				EXPECT_EQ(got.segments[i].gref, want.segments[i].gref);
				EXPECT_EQ(got.segments[i].first_sect, want.segments[i].first_sect);
				EXPECT_EQ(got.segments[i].last_sect, want.segments[i].last_sect);
			}
			EXPECT_EQ(got.nr_sectors, want.nr_sectors);
			// Segments past nr_segments are zero, not stale.
			for (size_t i = L().rw_seg + want.nr_segments * 8; i < L().req_size; i++)
				ASSERT_EQ(slot[i], 0) << i;
		}
	}
}

TEST_P(BlkifAbi, EncoderRefusesShapesTheWireCannotCarry)
{
	Segment segs[12] = {};
	for (auto &s : segs)
		s = Segment{GrantRef(1), 0, 7};
	memset(slot, 0xAA, sizeof(slot));
	EXPECT_EQ(encode_request(L().abi, make_rw(Op::kRead, RequestId(1), Vdev(1), Sector(0), segs, 12), slot).code(),
		  -err::kInval);
	const GrantRef grefs[8] = {};
	EXPECT_EQ(encode_request(L().abi,
				 make_indirect(Op::kRead, RequestId(1), Vdev(1), Sector(0), 4097, grefs), slot)
			  .code(),
		  -err::kInval);
	EXPECT_EQ(encode_request(L().abi,
				 make_indirect(Op::kFlushDiskCache, RequestId(1), Vdev(1), Sector(0), 8, grefs),
				 slot)
			  .code(),
		  -err::kInval);
	Request bad = make_flush(Op::kFlushDiskCache, RequestId(1), Vdev(1));
	bad.op = Op(4);
	EXPECT_EQ(encode_request(L().abi, bad, slot).code(), -err::kInval);
	// A refused request leaves the slot alone.
	for (size_t i = 0; i < sizeof(slot); i++)
		ASSERT_EQ(slot[i], 0xAA);
}

INSTANTIATE_TEST_SUITE_P(AllAbis, BlkifAbi, testing::ValuesIn(kLayouts),
			 [](const testing::TestParamInfo<Layout> &p) { return std::string(p.param.name); });

// ---- indirect pages ------------------------------------------------------

struct IndirectPages {
	uint8_t page[kMaxIndirectPages][KAPI_PAGE_SIZE];
	const void *ptr[kMaxIndirectPages];

	IndirectPages()
	{
		memset(page, 0xAA, sizeof(page));
		for (unsigned i = 0; i < kMaxIndirectPages; i++)
			ptr[i] = page[i];
	}
	void set(unsigned n, uint32_t gref, uint8_t first, uint8_t last)
	{
		uint8_t *p = page[n / kSegsPerIndirectPage] + (n % kSegsPerIndirectPage) * 8;
		put<uint32_t>(p, 0, gref);
		p[4] = first;
		p[5] = last;
	}
};

Request indirect_req(uint16_t nr, uint64_t sector = 0)
{
	const GrantRef grefs[8] = {GrantRef(1), GrantRef(2), GrantRef(3), GrantRef(4),
				   GrantRef(5), GrantRef(6), GrantRef(7), GrantRef(8)};
	return make_indirect(Op::kRead, RequestId(1), Vdev(1), Sector(sector), nr, grefs);
}

TEST(BlkifIndirect, SegmentsAcrossPagesDecode)
{
	auto pages = new IndirectPages; // 32 KiB: keep it off the stack
	for (unsigned n = 0; n < 1000; n++)
		pages->set(n, 1000 + n, n % 8, 7);
	Segment out[1000];
	const Request req = indirect_req(1000, 10);
	auto total = decode_indirect_segments(req, pages->ptr, 2, out, 1000, Sector(kCapacity));
	ASSERT_TRUE(total.is_ok());
	uint64_t want = 0;
	for (unsigned n = 0; n < 1000; n++)
		want += 8 - n % 8;
	EXPECT_EQ(total.value(), Sector(want));
	EXPECT_EQ(out[0].gref, GrantRef(1000));
	EXPECT_EQ(out[511].gref, GrantRef(1511));
	EXPECT_EQ(out[512].gref, GrantRef(1512)); // first of page 2
	EXPECT_EQ(out[999].first_sect, 999 % 8);
	delete pages;
}

TEST(BlkifIndirect, BadSegmentOrShapeIsRejected)
{
	auto pages = new IndirectPages;
	for (unsigned n = 0; n < 600; n++)
		pages->set(n, n, 0, 7);
	Segment out[600];
	const Request req = indirect_req(600);
	const Sector cap(kCapacity);
	EXPECT_TRUE(decode_indirect_segments(req, pages->ptr, 2, out, 600, cap).is_ok());
	// Wrong page count, short output, missing page.
	EXPECT_EQ(decode_indirect_segments(req, pages->ptr, 1, out, 600, cap).status().code(), -err::kInval);
	EXPECT_EQ(decode_indirect_segments(req, pages->ptr, 3, out, 600, cap).status().code(), -err::kInval);
	EXPECT_EQ(decode_indirect_segments(req, pages->ptr, 2, out, 599, cap).status().code(), -err::kInval);
	const void *holes[2] = {pages->ptr[0], nullptr};
	EXPECT_EQ(decode_indirect_segments(req, holes, 2, out, 600, cap).status().code(), -err::kInval);
	// Not an indirect request.
	EXPECT_EQ(decode_indirect_segments(make_flush(Op::kFlushDiskCache, RequestId(1), Vdev(1)), pages->ptr, 0,
					   out, 600, cap)
			  .status()
			  .code(),
		  -err::kInval);
	// The last segment of page 2 is bad.
	pages->set(599, 1, 0, 8);
	EXPECT_EQ(decode_indirect_segments(req, pages->ptr, 2, out, 600, cap).status().code(), -err::kInval);
	pages->set(599, 1, 6, 5);
	EXPECT_EQ(decode_indirect_segments(req, pages->ptr, 2, out, 600, cap).status().code(), -err::kInval);
	pages->set(599, 1, 0, 7);
	// 600 full segments = 4800 sectors: does not fit from capacity - 4799.
	const Request late = indirect_req(600, kCapacity - 4799);
	EXPECT_EQ(decode_indirect_segments(late, pages->ptr, 2, out, 600, cap).status().code(), -err::kRange);
	const Request edge = indirect_req(600, kCapacity - 4800);
	EXPECT_TRUE(decode_indirect_segments(edge, pages->ptr, 2, out, 600, cap).is_ok());
	const Request wrap = indirect_req(600, ~0ull - 100);
	EXPECT_EQ(decode_indirect_segments(wrap, pages->ptr, 2, out, 600, Sector(~0ull)).status().code(),
		  -err::kRange);
	delete pages;
}

TEST(BlkifIndirect, EncodeSegmentWritesItsEntryOnly)
{
	auto pages = new IndirectPages;
	ASSERT_TRUE(encode_indirect_segment(pages->page[0], 511, Segment{GrantRef(0x01020304), 2, 3}).is_ok());
	const uint8_t *e = pages->page[0] + 511 * 8;
	EXPECT_EQ(get<uint32_t>(e, 0), 0x01020304u);
	EXPECT_EQ(e[4], 2);
	EXPECT_EQ(e[5], 3);
	EXPECT_EQ(e[6], 0); // padding zeroed
	EXPECT_EQ(e[7], 0);
	EXPECT_EQ(pages->page[0][511 * 8 - 1], 0xAA);
	EXPECT_EQ(encode_indirect_segment(pages->page[0], 512, Segment{GrantRef(1), 0, 7}).code(), -err::kInval);
	EXPECT_EQ(encode_indirect_segment(pages->page[0], 0, Segment{GrantRef(1), 0, 8}).code(), -err::kInval);
	EXPECT_EQ(encode_indirect_segment(pages->page[0], 0, Segment{GrantRef(1), 3, 2}).code(), -err::kInval);

	// Frontend pages decode on the backend side.
	for (unsigned n = 0; n < 513; n++)
		ASSERT_TRUE(encode_indirect_segment(pages->page[n / 512], n % 512,
						    Segment{GrantRef(n), 0, static_cast<uint8_t>(n % 8)})
				    .is_ok());
	Segment out[513];
	auto total = decode_indirect_segments(indirect_req(513), pages->ptr, 2, out, 513, Sector(kCapacity));
	ASSERT_TRUE(total.is_ok());
	EXPECT_EQ(out[512].gref, GrantRef(512));
	EXPECT_EQ(out[512].last_sect, 0);
	delete pages;
}

TEST(BlkifIndirect, PageCountsRoundUp)
{
	EXPECT_EQ(indirect_pages_for(1), 1u);
	EXPECT_EQ(indirect_pages_for(512), 1u);
	EXPECT_EQ(indirect_pages_for(513), 2u);
	EXPECT_EQ(indirect_pages_for(4096), 8u);
	EXPECT_EQ(indirect_pages_for(4097), 9u);
	EXPECT_EQ(kMaxIndirectSegments, 4096u);
}

} // namespace
} // namespace xbc::blkif
