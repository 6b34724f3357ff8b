// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: decode one hostile ring slot in any of the three blkif
// layouts (xbc/blkif.hpp). Input: layout selector, advertised indirect
// maximum, device capacity, then the slot bytes. Beyond "no crash, no
// sanitizer report", every accepted request must satisfy the limits, and
// re-encoding it must decode to the same request.
#include "fuzz_common.hpp"
#include "xbc/blkif.hpp"

using namespace xbc;
using namespace xbc::blkif;

namespace {

void check_accepted(const Decoded &d, const Limits &limits)
{
	const Request &r = d.request;
	XBC_FUZZ_CHECK(r.id == d.id);
	XBC_FUZZ_CHECK(r.data_op == d.response_op);
	switch (r.op) {
	case Op::kRead:
	case Op::kWrite:
	case Op::kWriteBarrier:
	case Op::kFlushDiskCache: {
		XBC_FUZZ_CHECK(r.nr_segments <= kMaxDirectSegments);
		const bool flush = r.op == Op::kWriteBarrier || r.op == Op::kFlushDiskCache;
		XBC_FUZZ_CHECK(r.nr_segments > 0 || flush);
		uint64_t total = 0;
		for (unsigned i = 0; i < r.nr_segments; i++) {
			XBC_FUZZ_CHECK(r.segments[i].first_sect <= r.segments[i].last_sect);
			XBC_FUZZ_CHECK(r.segments[i].last_sect <= kMaxSectInPage);
			total += r.segments[i].nr_sectors();
		}
		XBC_FUZZ_CHECK(r.nr_sectors == Sector(total));
		if (r.nr_segments)
			XBC_FUZZ_CHECK(r.sector.range_within(r.nr_sectors, limits.capacity));
		break;
	}
	case Op::kDiscard:
		XBC_FUZZ_CHECK(r.sector.range_within(r.nr_sectors, limits.capacity));
		break;
	case Op::kIndirect:
		XBC_FUZZ_CHECK(r.data_op == Op::kRead || r.data_op == Op::kWrite);
		XBC_FUZZ_CHECK(r.indirect.nr_segments >= 1);
		XBC_FUZZ_CHECK(r.indirect.nr_segments <= limits.max_indirect_segments);
		XBC_FUZZ_CHECK(r.indirect.nr_segments <= kMaxIndirectSegments);
		XBC_FUZZ_CHECK(r.indirect.nr_pages == indirect_pages_for(r.indirect.nr_segments));
		XBC_FUZZ_CHECK(r.sector.range_within(Sector(r.indirect.nr_segments), limits.capacity));
		break;
	default:
		XBC_FUZZ_CHECK(false); // unknown ops are never accepted
	}
}

void check_round_trip(Abi abi, const Decoded &d, const Limits &limits)
{
	uint8_t slot[KAPI_BLKIF_NATIVE_REQ_SIZE];
	memset(slot, 0xAA, sizeof(slot));
	XBC_FUZZ_CHECK(encode_request(abi, d.request, slot).is_ok());
	for (size_t i = request_size(abi); i < sizeof(slot); i++)
		XBC_FUZZ_CHECK(slot[i] == 0xAA);
	const Decoded again = decode_request(abi, slot, limits);
	XBC_FUZZ_CHECK(again.ok());
	const Request &a = d.request, &b = again.request;
	XBC_FUZZ_CHECK(a.op == b.op && a.data_op == b.data_op && a.id == b.id);
	XBC_FUZZ_CHECK(a.sector == b.sector && a.nr_sectors == b.nr_sectors);
	XBC_FUZZ_CHECK(a.nr_segments == b.nr_segments);
	if (a.op == Op::kDiscard) {
		XBC_FUZZ_CHECK(a.discard_secure == b.discard_secure);
	} else {
		XBC_FUZZ_CHECK(a.handle == b.handle);
	}
	for (unsigned i = 0; i < a.nr_segments; i++)
		XBC_FUZZ_CHECK(a.segments[i].gref == b.segments[i].gref &&
			       a.segments[i].first_sect == b.segments[i].first_sect &&
			       a.segments[i].last_sect == b.segments[i].last_sect);
	if (a.is_indirect()) {
		XBC_FUZZ_CHECK(a.indirect.nr_segments == b.indirect.nr_segments);
		for (unsigned i = 0; i < a.indirect.nr_pages; i++)
			XBC_FUZZ_CHECK(a.indirect.grefs[i] == b.indirect.grefs[i]);
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz::Bytes in(data, size);
	const Abi abi = static_cast<Abi>(in.take<uint8_t>() % 3);
	Limits limits;
	limits.max_indirect_segments = in.take<uint16_t>();
	limits.capacity = Sector(in.take<uint64_t>());

	// Exactly the slot size, in its own allocation, so ASan flags any read
	// past the layout's request size.
	const size_t n = request_size(abi);
	uint8_t *slot = new uint8_t[n];
	in.fill(slot, n);
	const Decoded d = decode_request(abi, slot, limits);
	delete[] slot;

	if (d.ok()) {
		check_accepted(d, limits);
		check_round_trip(abi, d, limits);
	} else {
		XBC_FUZZ_CHECK(d.error_status() == (d.error == DecodeError::kUnknownOp
							    ? RspStatus::kEopnotsupp
							    : RspStatus::kError));
	}
	// Whatever came in, the answer encodes without touching anything past
	// the response.
	uint8_t rsp[KAPI_BLKIF_NATIVE_ENTRY_SIZE];
	memset(rsp, 0xAA, sizeof(rsp));
	encode_response(abi, Response{d.id, d.response_op, d.error_status()}, rsp);
	for (size_t i = response_size(abi); i < sizeof(rsp); i++)
		XBC_FUZZ_CHECK(rsp[i] == 0xAA);
	const Response back = decode_response(abi, rsp);
	XBC_FUZZ_CHECK(back.id == d.id && back.operation == d.response_op);
	return 0;
}
