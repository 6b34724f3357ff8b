// SPDX-License-Identifier: GPL-2.0-only
// The blkif wire format: decoding a private copy of a ring slot into a
// validated Request (backend), encoding requests (frontend) and responses
// (backend) into whole, zero-padded slots. Declared in xbc/blkif.hpp; the
// layouts are the wire:: mirrors there, checked against kapi/blkif_abi.h.
#include "xbc/blkif.hpp"

namespace xbc::blkif {
namespace blkif_impl {

// The slot copy is copied once more into a local of the variant's layout.
// The compiler barrier after it keeps the compiler from re-reading the
// source later instead of the local (the XSA-155 double fetch), even if a
// caller passed live shared memory.
template <typename T> inline T load_once(const void *src) noexcept
{
	T local;
	copy_bytes(&local, src, sizeof(local));
	asm volatile("" ::: "memory");
	return local;
}

constexpr bool is_data_op(uint8_t op) noexcept
{
	return op == KAPI_BLKIF_OP_READ || op == KAPI_BLKIF_OP_WRITE;
}

constexpr bool is_flush_op(uint8_t op) noexcept
{
	return op == KAPI_BLKIF_OP_WRITE_BARRIER || op == KAPI_BLKIF_OP_FLUSH_DISKCACHE;
}

// Segment limits from the wire: first <= last, and both within one page.
inline bool segment_from_wire(const wire::Segment &w, Segment *out) noexcept
{
	if (w.last_sect > kMaxSectInPage || w.last_sect < w.first_sect)
		return false;
	out->gref = GrantRef(w.gref);
	out->first_sect = w.first_sect;
	out->last_sect = w.last_sect;
	return true;
}

inline Decoded rejected(Decoded d, DecodeError why) noexcept
{
	d.error = why;
	return d;
}

template <typename L> Decoded decode_rw(const void *slot, uint8_t op, const Limits &limits) noexcept
{
	const auto w = load_once<typename L::Rw>(slot);
	Decoded d{};
	d.id = RequestId(w.id);
	d.response_op = Op(op);

	// Read/write carry 1..11 segments; a flush or barrier may carry none.
	const uint8_t nr = w.nr_segments;
	if (nr > kMaxDirectSegments || (nr == 0 && !is_flush_op(op)))
		return rejected(d, DecodeError::kBadSegmentCount);

	Request &r = d.request;
	r.op = Op(op);
	r.data_op = Op(op);
	r.id = d.id;
	r.handle = Vdev(w.handle);
	r.sector = Sector(w.sector_number);
	r.nr_segments = nr;
	uint64_t total = 0;
	for (unsigned i = 0; i < nr; i++) {
		if (!segment_from_wire(w.seg[i], &r.segments[i]))
			return rejected(d, DecodeError::kBadSegment);
		total += r.segments[i].nr_sectors();
	}
	r.nr_sectors = Sector(total);
	// An empty flush names no range, so its sector is not checked (as
	// in-tree); every request that moves data must fit the device.
	if (nr > 0 && !r.sector.range_within(r.nr_sectors, limits.capacity))
		return rejected(d, DecodeError::kOutOfRange);
	return d;
}

template <typename L> Decoded decode_discard(const void *slot, const Limits &limits) noexcept
{
	const auto w = load_once<typename L::Discard>(slot);
	Decoded d{};
	d.id = RequestId(w.id);
	d.response_op = Op::kDiscard;

	Request &r = d.request;
	r.op = Op::kDiscard;
	r.data_op = Op::kDiscard;
	r.id = d.id;
	r.handle = Vdev::invalid();
	r.sector = Sector(w.sector_number);
	r.nr_sectors = Sector(w.nr_sectors);
	r.discard_secure = (w.flag & KAPI_BLKIF_DISCARD_SECURE) != 0;
	if (!r.sector.range_within(r.nr_sectors, limits.capacity))
		return rejected(d, DecodeError::kOutOfRange);
	return d;
}

template <typename L> Decoded decode_indirect(const void *slot, const Limits &limits) noexcept
{
	const auto w = load_once<typename L::Indirect>(slot);
	Decoded d{};
	d.id = RequestId(w.id);
	// The response echoes the inner operation (what in-tree frontends
	// check), even when that operation is rejected.
	d.response_op = Op(w.indirect_op);
	if (!is_data_op(w.indirect_op))
		return rejected(d, DecodeError::kBadIndirectOp);

	const unsigned max = min<unsigned>(limits.max_indirect_segments, kMaxIndirectSegments);
	const uint16_t nr = w.nr_segments;
	if (nr == 0 || nr > max)
		return rejected(d, DecodeError::kBadSegmentCount);

	Request &r = d.request;
	r.op = Op::kIndirect;
	r.data_op = Op(w.indirect_op);
	r.id = d.id;
	r.handle = Vdev(w.handle);
	r.sector = Sector(w.sector_number);
	r.indirect.nr_segments = nr;
	r.indirect.nr_pages = static_cast<uint8_t>(indirect_pages_for(nr));
	for (unsigned i = 0; i < kMaxIndirectPages; i++)
		r.indirect.grefs[i] = i < r.indirect.nr_pages ? GrantRef(w.indirect_grefs[i])
							      : GrantRef::invalid();
	// Every segment is at least one sector: reject early what cannot fit
	// even then; decode_indirect_segments() checks the real length.
	if (!r.sector.range_within(Sector(nr), limits.capacity))
		return rejected(d, DecodeError::kOutOfRange);
	return d;
}

template <typename L> Decoded decode_layout(const void *slot, const Limits &limits) noexcept
{
	static_assert(sizeof(typename L::Rw) <= sizeof(typename L::RequestSlot));
	static_assert(sizeof(typename L::Discard) <= sizeof(typename L::RequestSlot));
	static_assert(sizeof(typename L::Indirect) <= sizeof(typename L::RequestSlot));

	// The operation byte is read once here; each variant decoder copies
	// the rest, and never looks at the operation in the slot again.
	const uint8_t op = load_once<uint8_t>(slot);
	switch (op) {
	case KAPI_BLKIF_OP_READ:
	case KAPI_BLKIF_OP_WRITE:
	case KAPI_BLKIF_OP_WRITE_BARRIER:
	case KAPI_BLKIF_OP_FLUSH_DISKCACHE:
		return decode_rw<L>(slot, op, limits);
	case KAPI_BLKIF_OP_DISCARD:
		return decode_discard<L>(slot, limits);
	case KAPI_BLKIF_OP_INDIRECT:
		return decode_indirect<L>(slot, limits);
	default: {
		const auto w = load_once<typename L::Other>(slot);
		Decoded d{};
		d.id = RequestId(w.id);
		d.response_op = Op(op);
		return rejected(d, DecodeError::kUnknownOp);
	}
	}
}

template <typename L> void encode_response_as(const Response &rsp, void *slot) noexcept
{
	// Zero first, then set the fields: every padding byte the peer can
	// read is ours and zero (XSA-216).
	typename L::Response w;
	zero_bytes(&w, sizeof(w));
	w.id = rsp.id.raw();
	w.operation = static_cast<uint8_t>(rsp.operation);
	w.status = static_cast<int16_t>(rsp.status);
	copy_bytes(slot, &w, sizeof(w));
}

template <typename L> Response decode_response_as(const void *slot) noexcept
{
	const auto w = load_once<typename L::Response>(slot);
	return Response{RequestId(w.id), Op(w.operation), RspStatus(w.status)};
}

inline wire::Segment segment_to_wire(const Segment &s) noexcept
{
	wire::Segment w{};
	w.gref = s.gref.raw();
	w.first_sect = s.first_sect;
	w.last_sect = s.last_sect;
	return w;
}

template <typename L> Status encode_request_as(const Request &req, void *slot) noexcept
{
	typename L::RequestSlot out;
	zero_bytes(&out, sizeof(out));
	const uint8_t op = static_cast<uint8_t>(req.op);
	switch (op) {
	case KAPI_BLKIF_OP_READ:
	case KAPI_BLKIF_OP_WRITE:
	case KAPI_BLKIF_OP_WRITE_BARRIER:
	case KAPI_BLKIF_OP_FLUSH_DISKCACHE: {
		if (req.nr_segments > kMaxDirectSegments)
			return Status::error(err::kInval);
		typename L::Rw w;
		zero_bytes(&w, sizeof(w));
		w.operation = op;
		w.nr_segments = req.nr_segments;
		w.handle = req.handle.raw();
		w.id = req.id.raw();
		w.sector_number = req.sector.raw();
		for (unsigned i = 0; i < req.nr_segments; i++)
			w.seg[i] = segment_to_wire(req.segments[i]);
		copy_bytes(&out, &w, sizeof(w));
		break;
	}
	case KAPI_BLKIF_OP_DISCARD: {
		typename L::Discard w;
		zero_bytes(&w, sizeof(w));
		w.operation = op;
		w.flag = req.discard_secure ? KAPI_BLKIF_DISCARD_SECURE : 0;
		w.id = req.id.raw();
		w.sector_number = req.sector.raw();
		w.nr_sectors = req.nr_sectors.raw();
		copy_bytes(&out, &w, sizeof(w));
		break;
	}
	case KAPI_BLKIF_OP_INDIRECT: {
		const unsigned pages = indirect_pages_for(req.indirect.nr_segments);
		if (req.indirect.nr_segments == 0 || pages > kMaxIndirectPages ||
		    !is_data_op(static_cast<uint8_t>(req.data_op)))
			return Status::error(err::kInval);
		typename L::Indirect w;
		zero_bytes(&w, sizeof(w));
		w.operation = op;
		w.indirect_op = static_cast<uint8_t>(req.data_op);
		w.nr_segments = req.indirect.nr_segments;
		w.id = req.id.raw();
		w.sector_number = req.sector.raw();
		w.handle = req.handle.raw();
		for (unsigned i = 0; i < pages; i++)
			w.indirect_grefs[i] = req.indirect.grefs[i].raw();
		copy_bytes(&out, &w, sizeof(w));
		break;
	}
	default:
		return Status::error(err::kInval);
	}
	copy_bytes(slot, &out, sizeof(out));
	return Status::ok();
}

} // namespace blkif_impl


size_t request_size(Abi abi) noexcept
{
	switch (abi) {
	case Abi::kX86_32:
		return KAPI_BLKIF_X86_32_REQ_SIZE;
	case Abi::kX86_64:
		return KAPI_BLKIF_X86_64_REQ_SIZE;
	case Abi::kNative:
		break;
	}
	return KAPI_BLKIF_NATIVE_REQ_SIZE;
}

size_t response_size(Abi abi) noexcept
{
	switch (abi) {
	case Abi::kX86_32:
		return KAPI_BLKIF_X86_32_RSP_SIZE;
	case Abi::kX86_64:
		return KAPI_BLKIF_X86_64_RSP_SIZE;
	case Abi::kNative:
		break;
	}
	return KAPI_BLKIF_NATIVE_RSP_SIZE;
}

size_t entry_size(Abi abi) noexcept
{
	switch (abi) {
	case Abi::kX86_32:
		return KAPI_BLKIF_X86_32_ENTRY_SIZE;
	case Abi::kX86_64:
		return KAPI_BLKIF_X86_64_ENTRY_SIZE;
	case Abi::kNative:
		break;
	}
	return KAPI_BLKIF_NATIVE_ENTRY_SIZE;
}

Decoded decode_request(Abi abi, const void *slot_copy, const Limits &limits) noexcept
{
	switch (abi) {
	case Abi::kX86_32:
		return blkif_impl::decode_layout<wire::X86_32Layout>(slot_copy, limits);
	case Abi::kX86_64:
		return blkif_impl::decode_layout<wire::X86_64Layout>(slot_copy, limits);
	case Abi::kNative:
		break;
	}
	return blkif_impl::decode_layout<wire::NativeLayout>(slot_copy, limits);
}

Result<Sector> decode_indirect_segments(const Request &req, const void *const *pages,
					size_t nr_pages, Segment *out, size_t out_len,
					Sector capacity) noexcept
{
	if (!req.is_indirect())
		return Status::error(err::kInval);
	const unsigned nr = req.indirect.nr_segments;
	if (nr == 0 || nr > kMaxIndirectSegments || nr_pages != indirect_pages_for(nr) ||
	    out_len < nr || !pages)
		return Status::error(err::kInval);

	uint64_t total = 0;
	for (unsigned n = 0; n < nr; n++) {
		const auto *page = static_cast<const uint8_t *>(pages[n / kSegsPerIndirectPage]);
		if (!page)
			return Status::error(err::kInval);
		const auto w = blkif_impl::load_once<wire::Segment>(page + (n % kSegsPerIndirectPage) *
							       sizeof(wire::Segment));
		if (!blkif_impl::segment_from_wire(w, &out[n]))
			return Status::error(err::kInval);
		total += out[n].nr_sectors();
	}
	if (!req.sector.range_within(Sector(total), capacity))
		return Status::error(err::kRange);
	return Sector(total);
}

void encode_response(Abi abi, const Response &rsp, void *slot) noexcept
{
	switch (abi) {
	case Abi::kX86_32:
		return blkif_impl::encode_response_as<wire::X86_32Layout>(rsp, slot);
	case Abi::kX86_64:
		return blkif_impl::encode_response_as<wire::X86_64Layout>(rsp, slot);
	case Abi::kNative:
		break;
	}
	blkif_impl::encode_response_as<wire::NativeLayout>(rsp, slot);
}

Response decode_response(Abi abi, const void *slot) noexcept
{
	switch (abi) {
	case Abi::kX86_32:
		return blkif_impl::decode_response_as<wire::X86_32Layout>(slot);
	case Abi::kX86_64:
		return blkif_impl::decode_response_as<wire::X86_64Layout>(slot);
	case Abi::kNative:
		break;
	}
	return blkif_impl::decode_response_as<wire::NativeLayout>(slot);
}

Request make_rw(Op op, RequestId id, Vdev handle, Sector sector, const Segment *segments,
		uint8_t nr_segments) noexcept
{
	Request r{};
	r.op = op;
	r.data_op = op;
	r.id = id;
	r.handle = handle;
	r.sector = sector;
	r.indirect.nr_pages = 0;
	// More than the wire carries stays visible, so encode_request refuses.
	r.nr_segments = nr_segments;
	uint64_t total = 0;
	for (unsigned i = 0; i < nr_segments && i < kMaxDirectSegments; i++) {
		r.segments[i] = segments[i];
		total += segments[i].nr_sectors();
	}
	r.nr_sectors = Sector(total);
	return r;
}

Request make_flush(Op op, RequestId id, Vdev handle) noexcept
{
	return make_rw(op, id, handle, Sector(0), nullptr, 0);
}

Request make_discard(RequestId id, Sector sector, Sector nr_sectors, bool secure) noexcept
{
	Request r{};
	r.op = Op::kDiscard;
	r.data_op = Op::kDiscard;
	r.id = id;
	r.handle = Vdev::invalid();
	r.sector = sector;
	r.nr_sectors = nr_sectors;
	r.discard_secure = secure;
	return r;
}

Request make_indirect(Op data_op, RequestId id, Vdev handle, Sector sector,
		      uint16_t nr_segments, const GrantRef *indirect_grefs) noexcept
{
	Request r{};
	r.op = Op::kIndirect;
	r.data_op = data_op;
	r.id = id;
	r.handle = handle;
	r.sector = sector;
	r.indirect.nr_segments = nr_segments;
	// Too many segments stays visible (nr_pages 9), so encode_request
	// refuses; only the grefs that fit are read.
	const unsigned pages = indirect_pages_for(nr_segments);
	r.indirect.nr_pages = static_cast<uint8_t>(min(pages, kMaxIndirectPages + 1));
	for (unsigned i = 0; i < kMaxIndirectPages; i++)
		r.indirect.grefs[i] = i < pages ? indirect_grefs[i] : GrantRef::invalid();
	return r;
}

Status encode_request(Abi abi, const Request &req, void *slot) noexcept
{
	switch (abi) {
	case Abi::kX86_32:
		return blkif_impl::encode_request_as<wire::X86_32Layout>(req, slot);
	case Abi::kX86_64:
		return blkif_impl::encode_request_as<wire::X86_64Layout>(req, slot);
	case Abi::kNative:
		break;
	}
	return blkif_impl::encode_request_as<wire::NativeLayout>(req, slot);
}

Status encode_indirect_segment(void *page, unsigned index, const Segment &seg) noexcept
{
	if (index >= kSegsPerIndirectPage || seg.last_sect > kMaxSectInPage ||
	    seg.last_sect < seg.first_sect)
		return Status::error(err::kInval);
	const wire::Segment w = blkif_impl::segment_to_wire(seg);
	copy_bytes(static_cast<uint8_t *>(page) + index * sizeof(w), &w, sizeof(w));
	return Status::ok();
}

} // namespace xbc::blkif
