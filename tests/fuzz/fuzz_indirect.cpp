// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: decode the segments of hostile indirect pages
// (decode_indirect_segments in xbc/blkif.hpp). Input: segment count,
// start sector, capacity, then the page bytes (zero-filled when short).
// Accepted segments must be in bounds and add up to a range that fits.
#include "fuzz_common.hpp"
#include "xbc/blkif.hpp"

using namespace xbc;
using namespace xbc::blkif;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz::Bytes in(data, size);
	const uint16_t nr = in.take<uint16_t>() % (kMaxIndirectSegments + 2);
	const Sector sector(in.take<uint64_t>());
	const Sector capacity(in.take<uint64_t>());
	const uint8_t page_skew = in.take<uint8_t>(); // lie about the page count

	const GrantRef grefs[kMaxIndirectPages] = {};
	const Request req = make_indirect(Op::kRead, RequestId(1), Vdev(0), sector, nr, grefs);

	// Each page in its own exact allocation, so ASan catches a stray read.
	const unsigned pages = indirect_pages_for(nr);
	const unsigned have = pages > kMaxIndirectPages ? kMaxIndirectPages : pages;
	uint8_t *page[kMaxIndirectPages] = {};
	const void *ptr[kMaxIndirectPages] = {};
	for (unsigned i = 0; i < have; i++) {
		page[i] = new uint8_t[kIndirectPageBytes];
		in.fill(page[i], kIndirectPageBytes);
		ptr[i] = page[i];
	}
	const size_t claimed = (page_skew & 0x80) ? (page_skew & 7) : have;
	Segment *out = new Segment[nr ? nr : 1];

	auto total = decode_indirect_segments(req, ptr, claimed, out, nr, capacity);
	if (total.is_ok()) {
		XBC_FUZZ_CHECK(nr >= 1 && nr <= kMaxIndirectSegments);
		XBC_FUZZ_CHECK(claimed == pages);
		uint64_t sum = 0;
		for (unsigned i = 0; i < nr; i++) {
			XBC_FUZZ_CHECK(out[i].first_sect <= out[i].last_sect);
			XBC_FUZZ_CHECK(out[i].last_sect <= kMaxSectInPage);
			sum += out[i].nr_sectors();
		}
		XBC_FUZZ_CHECK(total.value() == Sector(sum));
		XBC_FUZZ_CHECK(sector.range_within(total.value(), capacity));
	}

	delete[] out;
	for (unsigned i = 0; i < have; i++)
		delete[] page[i];
	return 0;
}
