// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_blkif: the C++ blkif wire code (common/blkif.cpp) against
// the kernel's own native structs and ring macros (kunit/kernel_blkif.c).
// Host tests check the decoders against the kapi/blkif_abi.h offsets; here
// the reference is <xen/interface/io/blkif.h> as compiled into the kernel
// that the real modules run on.
#include "kernel_blkif.h"
#include "xbc_kunit.hpp"
#include "xbc/blkif.hpp"
#include "xbc/memory.hpp"

namespace xbc::kunit {
namespace {

using namespace xbc::blkif;

constexpr Limits kLimits{Sector(1u << 20), 256};

// A slot as large as any layout's request, so every abi fits.
struct Slot {
	uint8_t bytes[KAPI_BLKIF_NATIVE_REQ_SIZE];
};

xbc_kunit_rw_view sample_rw(uint8_t op, uint8_t nr) noexcept
{
	xbc_kunit_rw_view rw = {};
	rw.operation = op;
	rw.nr_segments = nr;
	rw.handle = 0x0768;
	rw.id = 0x1122334455667788ull;
	rw.sector = 4096;
	for (unsigned i = 0; i < 11; i++) {
		rw.gref[i] = 100 + i;
		rw.first_sect[i] = uint8_t(i % 4);
		rw.last_sect[i] = 7;
	}
	return rw;
}

DecodeError decode_kernel_rw(const xbc_kunit_rw_view &rw) noexcept
{
	Slot slot;
	xbc_kunit_kernel_blkif_put_rw(slot.bytes, &rw);
	return decode_request(Abi::kNative, slot.bytes, kLimits).error;
}

} // namespace
} // namespace xbc::kunit

using namespace xbc;
using namespace xbc::blkif;
using namespace xbc::kunit;

XBC_KUNIT_CASE(blkif_native_sizes_match_kernel)
{
	XK_EXPECT_EQ(request_size(Abi::kNative), xbc_kunit_kernel_blkif_req_size());
	XK_EXPECT_EQ(response_size(Abi::kNative), xbc_kunit_kernel_blkif_rsp_size());
	XK_EXPECT_EQ(entry_size(Abi::kNative), xbc_kunit_kernel_blkif_entry_size());
	// RING_SIZE of a one-page ring: the 64-byte header, then 2^k entries.
	const size_t fit = (KAPI_PAGE_SIZE - 64) / entry_size(Abi::kNative);
	size_t entries = 1;
	while (entries * 2 <= fit)
		entries *= 2;
	XK_EXPECT_EQ(entries, xbc_kunit_kernel_blkif_ring_size_1page());
}

XBC_KUNIT_CASE(blkif_decode_kernel_rw)
{
	const xbc_kunit_rw_view rw = sample_rw(KAPI_BLKIF_OP_WRITE, 11);
	Slot slot;
	xbc_kunit_kernel_blkif_put_rw(slot.bytes, &rw);
	const Decoded d = decode_request(Abi::kNative, slot.bytes, kLimits);
	XK_ASSERT(d.ok());
	XK_EXPECT(d.id == RequestId(rw.id));
	XK_EXPECT(d.request.data_op == Op::kWrite);
	XK_EXPECT(d.request.handle == Vdev(0x0768));
	XK_EXPECT_EQ(d.request.sector.raw(), 4096);
	XK_EXPECT_EQ(d.request.nr_segments, 11);
	uint64_t sectors = 0;
	bool segs_ok = true;
	for (unsigned i = 0; i < 11; i++) {
		const Segment &s = d.request.segments[i];
		segs_ok &= s.gref == GrantRef(100 + i) && s.first_sect == i % 4 && s.last_sect == 7;
		sectors += 8 - i % 4;
	}
	XK_EXPECT(segs_ok);
	XK_EXPECT_EQ(d.request.nr_sectors.raw(), sectors);

	// Hostile values from the kernel's own struct: each rejected, with the
	// id kept so the backend can still answer.
	xbc_kunit_rw_view bad = sample_rw(KAPI_BLKIF_OP_READ, 12);
	XK_EXPECT(decode_kernel_rw(bad) == DecodeError::kBadSegmentCount);
	bad = sample_rw(KAPI_BLKIF_OP_READ, 0);
	XK_EXPECT(decode_kernel_rw(bad) == DecodeError::kBadSegmentCount);
	bad = sample_rw(KAPI_BLKIF_OP_READ, 3);
	bad.first_sect[2] = 5;
	bad.last_sect[2] = 4;
	XK_EXPECT(decode_kernel_rw(bad) == DecodeError::kBadSegment);
	bad = sample_rw(KAPI_BLKIF_OP_READ, 3);
	bad.last_sect[1] = 8;
	XK_EXPECT(decode_kernel_rw(bad) == DecodeError::kBadSegment);
	bad = sample_rw(KAPI_BLKIF_OP_READ, 1);
	bad.sector = kLimits.capacity.raw() - 7; // 8 sectors, one past the end
	XK_EXPECT(decode_kernel_rw(bad) == DecodeError::kOutOfRange);
	bad.sector = ~0ull - 3; // wraps past 2^64
	XK_EXPECT(decode_kernel_rw(bad) == DecodeError::kOutOfRange);
	bad = sample_rw(0xee, 1);
	xbc_kunit_kernel_blkif_put_rw(slot.bytes, &bad);
	const Decoded unknown = decode_request(Abi::kNative, slot.bytes, kLimits);
	XK_EXPECT(unknown.error == DecodeError::kUnknownOp);
	XK_EXPECT(unknown.error_status() == RspStatus::kEopnotsupp);
	XK_EXPECT(unknown.id == RequestId(bad.id));
}

XBC_KUNIT_CASE(blkif_decode_kernel_discard_indirect)
{
	Slot slot;
	xbc_kunit_kernel_blkif_put_discard(slot.bytes, 77, 1000, 2048, true);
	const Decoded disc = decode_request(Abi::kNative, slot.bytes, kLimits);
	XK_ASSERT(disc.ok());
	XK_EXPECT(disc.request.data_op == Op::kDiscard);
	XK_EXPECT(disc.request.discard_secure);
	XK_EXPECT_EQ(disc.request.sector.raw(), 1000);
	XK_EXPECT_EQ(disc.request.nr_sectors.raw(), 2048);

	// 600 segments: two indirect pages (512 + 88), each filled by the
	// kernel's struct blkif_request_segment.
	const uint32_t grefs[2] = {900, 901};
	xbc_kunit_kernel_blkif_put_indirect(slot.bytes, KAPI_BLKIF_OP_READ, 600, 0x0768, 78,
					    0, grefs, 2);
	const Limits wide{Sector(1u << 20), 1024};
	const Decoded ind = decode_request(Abi::kNative, slot.bytes, wide);
	XK_ASSERT(ind.ok());
	XK_EXPECT(ind.request.is_indirect());
	XK_EXPECT(ind.request.data_op == Op::kRead);
	XK_EXPECT_EQ(ind.request.indirect.nr_segments, 600);
	XK_EXPECT_EQ(ind.request.indirect.nr_pages, 2);
	XK_EXPECT(ind.request.indirect.grefs[1] == GrantRef(901));
	// Advertised only 256: the same request is refused.
	XK_EXPECT(decode_request(Abi::kNative, slot.bytes, kLimits).error ==
		  DecodeError::kBadSegmentCount);

	kapi_page *pages[2] = {kapi_page_alloc(KAPI_GFP_KERNEL), kapi_page_alloc(KAPI_GFP_KERNEL)};
	auto out = BoxArray<Segment>::create(600, Gfp::kKernel);
	if (XK_EXPECT(pages[0] && pages[1] && !out.is_null())) {
		const void *addrs[2] = {kapi_page_address(pages[0]), kapi_page_address(pages[1])};
		xbc_kunit_kernel_blkif_put_indirect_segs(kapi_page_address(pages[0]), 512, 5000, 0, 7);
		xbc_kunit_kernel_blkif_put_indirect_segs(kapi_page_address(pages[1]), 88, 6000, 2, 3);
		auto total = decode_indirect_segments(ind.request, addrs, 2, out.data(), out.size(),
						      wide.capacity);
		if (XK_EXPECT(total.is_ok())) {
			XK_EXPECT_EQ(total.value().raw(), 512 * 8 + 88 * 2);
			XK_EXPECT(out[0].gref == GrantRef(5000));
			XK_EXPECT(out[511].gref == GrantRef(5511));
			XK_EXPECT(out[512].gref == GrantRef(6000) && out[512].first_sect == 2);
			XK_EXPECT(out[599].gref == GrantRef(6087) && out[599].last_sect == 3);
		}
		// One bad segment in the second page fails the whole request.
		xbc_kunit_kernel_blkif_put_indirect_segs(kapi_page_address(pages[1]), 88, 6000, 4, 3);
		XK_EXPECT(decode_indirect_segments(ind.request, addrs, 2, out.data(), out.size(),
						   wide.capacity).is_error());
	}
	kapi_page_free(pages[0]);
	kapi_page_free(pages[1]);
}

XBC_KUNIT_CASE(blkif_encode_read_by_kernel)
{
	Segment segs[3];
	for (unsigned i = 0; i < 3; i++)
		segs[i] = Segment{GrantRef(40 + i), uint8_t(i), uint8_t(i + 4)};
	const Request req = make_rw(Op::kRead, RequestId(0xabcdefull), Vdev(51712), Sector(123456),
				    segs, 3);
	Slot slot;
	__builtin_memset(slot.bytes, 0xaa, sizeof(slot.bytes));
	XK_ASSERT(encode_request(Abi::kNative, req, slot.bytes).is_ok());
	xbc_kunit_rw_view rw;
	xbc_kunit_kernel_blkif_get_rw(slot.bytes, &rw);
	XK_EXPECT_EQ(rw.operation, KAPI_BLKIF_OP_READ);
	XK_EXPECT_EQ(rw.nr_segments, 3);
	XK_EXPECT_EQ(rw.handle, 51712);
	XK_EXPECT_EQ(rw.id, 0xabcdef);
	XK_EXPECT_EQ(rw.sector, 123456);
	XK_EXPECT(rw.gref[2] == 42 && rw.first_sect[2] == 2 && rw.last_sect[2] == 6);
	// Unused segment slots are zero, not stale 0xaa (XSA-216).
	XK_EXPECT(rw.gref[3] == 0 && rw.gref[10] == 0 && rw.last_sect[10] == 0);

	// 12 direct segments cannot be carried.
	Segment many[12] = {};
	for (auto &s : many)
		s = Segment{GrantRef(1), 0, 7};
	XK_EXPECT(encode_request(Abi::kNative, make_rw(Op::kWrite, RequestId(1), Vdev(1), Sector(0),
						       many, 12), slot.bytes).is_error());

	// A response, read back by the kernel's struct, padding all zero.
	__builtin_memset(slot.bytes, 0xaa, sizeof(slot.bytes));
	encode_response(Abi::kNative, Response{RequestId(0x55aa), Op::kWrite, RspStatus::kError},
			slot.bytes);
	uint64_t id = 0;
	uint8_t op = 0;
	int16_t status = 0;
	XK_EXPECT(xbc_kunit_kernel_blkif_get_rsp(slot.bytes, &id, &op, &status));
	XK_EXPECT_EQ(id, 0x55aa);
	XK_EXPECT_EQ(op, KAPI_BLKIF_OP_WRITE);
	XK_EXPECT_EQ(status, KAPI_BLKIF_RSP_ERROR);
	const Response back = decode_response(Abi::kNative, slot.bytes);
	XK_EXPECT(back.id == RequestId(0x55aa) && back.status == RspStatus::kError);
}
