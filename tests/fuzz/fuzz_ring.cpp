// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: a ring consumer facing a hostile peer that owns the
// shared page. The input seeds the whole page (header and entries), then
// drives a script interleaving peer writes (producer index, event index,
// raw slot bytes) with our consumer's steps. Mode 0 is the backend
// (BlkifBackRing, any layout); mode 1 the native frontend consuming
// responses. Invariants: we never consume more than the ring can hold,
// never answer a request we did not take, and a broken producer index is
// reported, not followed.
#include <stdlib.h>

#include "fuzz_common.hpp"
#include "xbc/blkif_ring.hpp"

using namespace xbc;
using namespace xbc::blkif;

namespace {

struct Page {
	explicit Page(size_t pages) : bytes(pages * KAPI_PAGE_SIZE)
	{
		mem = static_cast<uint8_t *>(aligned_alloc(KAPI_PAGE_SIZE, bytes));
		memset(mem, 0, bytes);
	}
	~Page() { free(mem); }
	SringHeader *hdr() const { return reinterpret_cast<SringHeader *>(mem); }
	uint8_t *mem;
	size_t bytes;
};

// The peer's moves; returns false for "not a peer move".
bool peer_move(uint8_t action, fuzz::Bytes &in, Page &page, RingIdx near)
{
	SringHeader *h = page.hdr();
	switch (action) {
	case 0: // producer index: near our consumer, or anywhere
		h->req_prod = (in.take<uint8_t>() & 1) ? in.take<uint32_t>() : (near + in.take<uint8_t>()).raw();
		return true;
	case 1:
		h->rsp_prod = (in.take<uint8_t>() & 1) ? in.take<uint32_t>() : (near + in.take<uint8_t>()).raw();
		return true;
	case 2: // event indices
		h->req_event = in.take<uint32_t>();
		h->rsp_event = in.take<uint32_t>();
		return true;
	case 3: { // rewrite some bytes anywhere in the page
		const size_t off = in.take<uint16_t>() % page.bytes;
		size_t len = in.take<uint8_t>();
		if (len > page.bytes - off)
			len = page.bytes - off;
		in.fill(page.mem + off, len);
		return true;
	}
	default:
		return false;
	}
}

void run_backend(fuzz::Bytes &in, Page &page, Abi abi, RingIdx start)
{
	auto attached = BlkifBackRing::attach(abi, page.mem, page.bytes, start);
	XBC_FUZZ_CHECK(attached.is_ok());
	BlkifBackRing ring = attached.take();
	const Limits limits{Sector(in.take<uint32_t>()), in.take<uint16_t>()};
	uint32_t owed = 0; // taken, not yet answered
	RingIdx cons = start;

	for (int step = 0; step < 256 && in.left() > 0; step++) {
		const uint8_t action = in.take<uint8_t>() % 7;
		if (peer_move(action, in, page, cons))
			continue;
		if (action == 4) { // consume what is pending
			auto n = ring.pending_requests();
			if (n.is_error()) {
				XBC_FUZZ_CHECK(n.status().code() == -err::kProto);
				return; // the engine would mark the ring broken
			}
			XBC_FUZZ_CHECK(n.value() + owed <= ring.size());
			Decoded d;
			uint32_t got = 0;
			while (ring.pop_request(limits, &d))
				got++;
			XBC_FUZZ_CHECK(got == n.value());
			owed += got;
			cons += got;
		} else if (action == 5) { // answer some
			uint32_t k = in.take<uint8_t>();
			for (uint32_t i = 0; i < k; i++) {
				const Status s = ring.push_response(
					{RequestId(i), Op::kRead, RspStatus::kOkay});
				XBC_FUZZ_CHECK(s.is_ok() == (owed > 0));
				if (s.is_error())
					break;
				owed--;
			}
			(void)ring.publish_responses();
		} else { // final check
			auto more = ring.final_check_for_requests();
			if (more.is_error())
				return;
		}
	}
}

void run_frontend(fuzz::Bytes &in, Page &page, RingIdx start)
{
	auto inited = NativeFrontRing::init(page.mem, page.bytes, start);
	XBC_FUZZ_CHECK(inited.is_ok());
	NativeFrontRing ring = inited.take();
	uint32_t outstanding = 0; // published, not yet answered
	uint32_t pushed = 0;	  // pushed, not yet published
	RingIdx cons = start;

	for (int step = 0; step < 256 && in.left() > 0; step++) {
		const uint8_t action = in.take<uint8_t>() % 7;
		if (peer_move(action, in, page, cons))
			continue;
		if (action == 4) { // issue requests
			const uint32_t k = in.take<uint8_t>() % 8;
			for (uint32_t i = 0; i < k; i++) {
				const Status s = push_native_request(
					ring, make_flush(Op::kFlushDiskCache, RequestId(i), Vdev(0)));
				XBC_FUZZ_CHECK(s.is_ok() == (outstanding + pushed < ring.size()));
				if (s.is_ok())
					pushed++;
			}
			(void)ring.publish_requests();
			outstanding += pushed;
			pushed = 0;
		} else if (action == 5) { // take responses
			auto n = ring.pending_responses();
			if (n.is_error())
				return;
			XBC_FUZZ_CHECK(n.value() <= outstanding);
			Response r;
			uint32_t got = 0;
			while (pop_native_response(ring, &r))
				got++;
			XBC_FUZZ_CHECK(got == n.value());
			outstanding -= got;
			cons += got;
		} else {
			auto more = ring.final_check_for_responses();
			if (more.is_error())
				return;
		}
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz::Bytes in(data, size);
	const uint8_t mode = in.take<uint8_t>();
	const RingIdx start(in.take<uint32_t>());
	Page page((mode & 0x10) ? 2 : 1);
	// The peer's initial page: header and entries straight from the input.
	in.fill(page.mem, in.take<uint8_t>() * 16u);
	if (mode & 0x80)
		run_frontend(in, page, start);
	else
		run_backend(in, page, static_cast<Abi>((mode & 0x7f) % 3), start);
	return 0;
}
