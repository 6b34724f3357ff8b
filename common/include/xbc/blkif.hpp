// SPDX-License-Identifier: GPL-2.0-only
// The blkif wire format for both ends. Three layouts exist on the wire
// (native, x86_32-abi, x86_64-abi; see kapi/blkif_abi.h); this header mirrors
// each one and converts to and from one internal, validated Request at the
// ring edge, so nothing past the edge ever sees a wire struct.
//
//   backend:  ring slot --(copy once)--> decode_request() --> Request
//             (+ decode_indirect_segments() for indirect pages)
//             encode_response() builds the whole response in a zeroed local
//             and copies it to the slot, so no padding leaks (XSA-216)
//   frontend: make_*() --> Request --> encode_request() --> ring slot
//             decode_response() copies a response slot out once
//
// The ring itself (xbc/ring.hpp) knows nothing of the layouts; it moves
// opaque slots of the negotiated entry size.
#pragma once

#include "kapi/blkif_abi.h"
#include "xbc/base.hpp"
#include "xbc/limits.hpp"
#include "xbc/result.hpp"
#include "xbc/types.hpp"

namespace xbc::blkif {

// The layout the frontend announced in xenstore "protocol".
enum class Abi : uint8_t { kNative, kX86_32, kX86_64 };

// The wire operation byte. A peer may send any value; unknown ones are
// representable and rejected by the decoder.
enum class Op : uint8_t {
	kRead = KAPI_BLKIF_OP_READ,
	kWrite = KAPI_BLKIF_OP_WRITE,
	kWriteBarrier = KAPI_BLKIF_OP_WRITE_BARRIER,
	kFlushDiskCache = KAPI_BLKIF_OP_FLUSH_DISKCACHE,
	kDiscard = KAPI_BLKIF_OP_DISCARD,
	kIndirect = KAPI_BLKIF_OP_INDIRECT,
};

// blkif_response.status. Any int16_t may arrive from a hostile backend.
enum class RspStatus : int16_t {
	kOkay = KAPI_BLKIF_RSP_OKAY,
	kError = KAPI_BLKIF_RSP_ERROR,
	kEopnotsupp = KAPI_BLKIF_RSP_EOPNOTSUPP,
};

// The wire limits, defined once in xbc/limits.hpp.
using limits::kMaxDirectSegments;
using limits::kMaxIndirectPages;
using limits::kSegsPerIndirectPage;
using limits::kMaxIndirectSegments;
inline constexpr uint8_t kMaxSectInPage = KAPI_BLKIF_MAX_SECT_IN_PAGE;
inline constexpr size_t kIndirectPageBytes = KAPI_PAGE_SIZE;

// The frontend's opaque request cookie, echoed in the response.
struct RequestIdTag { static constexpr uint64_t kInvalidRaw = ~0ull; };
using RequestId = StrongId<RequestIdTag, uint64_t>;

// blkif_vdev_t: the virtual device handle of a read/write request.
struct VdevTag { static constexpr uint16_t kInvalidRaw = 0xffff; };
using Vdev = StrongId<VdevTag, uint16_t>;

// Indirect pages needed for `nr_segments` segments (rounded up).
[[nodiscard]] constexpr unsigned indirect_pages_for(unsigned nr_segments) noexcept
{
	return (nr_segments + kSegsPerIndirectPage - 1) / kSegsPerIndirectPage;
}

// One segment: sectors first_sect..last_sect (inclusive, 512-byte units) of
// the 4 KiB page behind `gref`. Validated: first <= last <= 7.
struct Segment {
	GrantRef gref;
	uint8_t first_sect;
	uint8_t last_sect;

	constexpr uint32_t nr_sectors() const noexcept { return uint32_t(last_sect) - first_sect + 1; }
	constexpr uint32_t offset_bytes() const noexcept { return uint32_t(first_sect) << Sector::kShift; }
	constexpr uint32_t length_bytes() const noexcept { return nr_sectors() << Sector::kShift; }
};

// Where an indirect request's segments live.
struct IndirectDesc {
	uint16_t nr_segments;		// 1..limits, across all pages
	uint8_t nr_pages;		// indirect_pages_for(nr_segments), 1..8
	GrantRef grefs[kMaxIndirectPages]; // first nr_pages meaningful
};

// One request after validation; independent of the wire layout.
struct Request {
	Op op;			// wire operation (kIndirect for indirect requests)
	Op data_op;		// what to do: indirect_op for indirect, else op;
				// also the operation the response echoes
	RequestId id;
	Vdev handle;		// read/write/flush/indirect; invalid for discard
	Sector sector;		// first sector (rw, indirect, discard)
	// Direct requests: sum of segment sectors. Discard: its length.
	// Indirect: 0 here; decode_indirect_segments() returns the total.
	Sector nr_sectors;
	uint8_t nr_segments;	// direct segments in segments[] (0..11)
	bool discard_secure;	// discard only: BLKIF_DISCARD_SECURE was set
	Segment segments[kMaxDirectSegments];
	IndirectDesc indirect;	// op == kIndirect only

	constexpr bool is_indirect() const noexcept { return op == Op::kIndirect; }
};

// What the backend allows; taken from its own configuration, never the peer.
struct Limits {
	Sector capacity;		// device size in 512-byte sectors
	uint16_t max_indirect_segments;	// what we advertised (0: no indirect)
};

enum class DecodeError : uint8_t {
	kNone,
	kUnknownOp,		// answered with EOPNOTSUPP, as in-tree
	kBadIndirectOp,		// indirect_op not read/write
	kBadSegmentCount,	// 0 for read/write, > 11 direct, > max indirect
	kBadSegment,		// last_sect < first_sect or last_sect > 7
	kOutOfRange,		// beyond capacity, or wraps past 2^64
};

// A decoded slot. Even when the request is rejected, `id` and
// `response_op` are set so the caller can answer it with an error.
struct Decoded {
	DecodeError error;
	RequestId id;
	Op response_op;		// echo this in the response
	Request request;	// meaningful only when error == kNone

	constexpr bool ok() const noexcept { return error == DecodeError::kNone; }
	// The status to answer a rejected request with.
	constexpr RspStatus error_status() const noexcept
	{
		return error == DecodeError::kUnknownOp ? RspStatus::kEopnotsupp : RspStatus::kError;
	}
};

// A response as the frontend sees it: raw values, validated by the engine
// (id in range, operation matching, status known).
struct Response {
	RequestId id;
	Op operation;
	RspStatus status;
};

[[nodiscard]] size_t request_size(Abi abi) noexcept;
[[nodiscard]] size_t response_size(Abi abi) noexcept;
// Bytes per ring entry (union of request and response).
[[nodiscard]] size_t entry_size(Abi abi) noexcept;

// Backend: decode a private copy of one ring slot (request_size(abi) bytes).
// The bytes are copied once more into a local before any field is read, so
// even a caller that passes live shared memory gets a single fetch.
[[nodiscard]] Decoded decode_request(Abi abi, const void *slot_copy, const Limits &limits) noexcept;

// Backend: the segments of an indirect request. `pages` holds
// req.indirect.nr_pages pointers to 4 KiB copies of the indirect pages; each
// segment is copied out once and validated. On success, `out[0..nr)` holds
// the segments and the result is the request's total length, checked to
// lie within `capacity` from req.sector.
[[nodiscard]] Result<Sector> decode_indirect_segments(const Request &req, const void *const *pages,
						      size_t nr_pages, Segment *out, size_t out_len,
						      Sector capacity) noexcept;

// Backend: the response for `rsp` in `abi`, built in a zeroed local and
// copied whole into `slot` (response_size(abi) bytes).
void encode_response(Abi abi, const Response &rsp, void *slot) noexcept;

// Frontend: copy one response slot out once.
[[nodiscard]] Response decode_response(Abi abi, const void *slot) noexcept;

// Frontend: request builders. They produce a Request; encode_request()
// refuses shapes the wire cannot carry.
[[nodiscard]] Request make_rw(Op op, RequestId id, Vdev handle, Sector sector,
			      const Segment *segments, uint8_t nr_segments) noexcept;
// A cache flush or barrier with no data (op kFlushDiskCache/kWriteBarrier).
[[nodiscard]] Request make_flush(Op op, RequestId id, Vdev handle) noexcept;
[[nodiscard]] Request make_discard(RequestId id, Sector sector, Sector nr_sectors,
				   bool secure) noexcept;
// data_op is kRead or kWrite; the segments themselves go into the indirect
// pages with encode_indirect_segment().
[[nodiscard]] Request make_indirect(Op data_op, RequestId id, Vdev handle, Sector sector,
				    uint16_t nr_segments, const GrantRef *indirect_grefs) noexcept;

// Frontend: the whole request, built in a zeroed local and copied into
// `slot` (request_size(abi) bytes). -EINVAL for a shape the wire cannot
// carry (more than 11 direct segments, more than 8 indirect pages).
[[nodiscard]] Status encode_request(Abi abi, const Request &req, void *slot) noexcept;

// Frontend: segment `index` (0..511) of one indirect page.
[[nodiscard]] Status encode_indirect_segment(void *page, unsigned index, const Segment &seg) noexcept;

// ---------------------------------------------------------------------------
// Wire mirrors. Every request struct starts at the operation byte, so the
// offsets equal the KAPI_BLKIF_*_OFFSET constants (offsets within the whole
// request); a variant's size is sizeof(struct) - 1 (the union member).
namespace wire {

struct Segment {
	uint32_t gref;
	uint8_t first_sect;
	uint8_t last_sect;
	uint16_t pad;
};

// x86_64 kernels; also the x86_64-abi except for the discard tail pad.
struct NativeLayout {
	static constexpr Abi kAbi = Abi::kNative;
	struct [[gnu::packed]] Rw {
		uint8_t operation;
		uint8_t nr_segments;
		uint16_t handle;
		uint32_t pad1;
		uint64_t id;
		uint64_t sector_number;
		Segment seg[kMaxDirectSegments];
	};
	struct [[gnu::packed]] Discard {
		uint8_t operation;
		uint8_t flag;
		uint16_t pad1;
		uint32_t pad2;
		uint64_t id;
		uint64_t sector_number;
		uint64_t nr_sectors;
		uint8_t pad3;
	};
	struct [[gnu::packed]] Other {
		uint8_t operation;
		uint8_t pad1;
		uint16_t pad2;
		uint32_t pad3;
		uint64_t id;
	};
	struct [[gnu::packed]] Indirect {
		uint8_t operation;
		uint8_t indirect_op;
		uint16_t nr_segments;
		uint32_t pad1;
		uint64_t id;
		uint64_t sector_number;
		uint16_t handle;
		uint16_t pad2;
		uint32_t indirect_grefs[kMaxIndirectPages];
		uint32_t pad3;
	};
	// Natural alignment: 1 byte after operation and 4 at the end are pad.
	struct Response {
		uint64_t id;
		uint8_t operation;
		int16_t status;
	};
	struct RequestSlot { uint8_t bytes[KAPI_BLKIF_NATIVE_REQ_SIZE]; };
};

struct X86_64Layout {
	static constexpr Abi kAbi = Abi::kX86_64;
	using Rw = NativeLayout::Rw;
	struct [[gnu::packed]] Discard {
		uint8_t operation;
		uint8_t flag;
		uint16_t pad1;
		uint32_t pad2;
		uint64_t id;
		uint64_t sector_number;
		uint64_t nr_sectors;
	};
	using Other = NativeLayout::Other;
	using Indirect = NativeLayout::Indirect;
	using Response = NativeLayout::Response;
	struct RequestSlot { uint8_t bytes[KAPI_BLKIF_X86_64_REQ_SIZE]; };
};

// A 32-bit guest: no pad before the 64-bit id, which is only 4-aligned.
struct X86_32Layout {
	static constexpr Abi kAbi = Abi::kX86_32;
	struct [[gnu::packed]] Rw {
		uint8_t operation;
		uint8_t nr_segments;
		uint16_t handle;
		uint64_t id;
		uint64_t sector_number;
		Segment seg[kMaxDirectSegments];
	};
	struct [[gnu::packed]] Discard {
		uint8_t operation;
		uint8_t flag;
		uint16_t pad1;
		uint64_t id;
		uint64_t sector_number;
		uint64_t nr_sectors;
	};
	struct [[gnu::packed]] Other {
		uint8_t operation;
		uint8_t pad1;
		uint16_t pad2;
		uint64_t id;
	};
	struct [[gnu::packed]] Indirect {
		uint8_t operation;
		uint8_t indirect_op;
		uint16_t nr_segments;
		uint64_t id;
		uint64_t sector_number;
		uint16_t handle;
		uint16_t pad1;
		uint32_t indirect_grefs[kMaxIndirectPages];
		uint64_t pad2;
	};
	// The i386 struct blkif_response: 12 bytes, id 4-aligned.
	struct [[gnu::packed, gnu::aligned(4)]] Response {
		uint64_t id;
		uint8_t operation;
		uint8_t pad;
		int16_t status;
	};
	struct RequestSlot { uint8_t bytes[KAPI_BLKIF_X86_32_REQ_SIZE]; };
};

#define XBC_BLKIF_CHECK_OFF(L, T, m, C) static_assert(__builtin_offsetof(L::T, m) == (C))

static_assert(sizeof(Segment) == KAPI_BLKIF_SEGMENT_SIZE);
static_assert(__builtin_offsetof(Segment, gref) == KAPI_BLKIF_SEGMENT_GREF_OFFSET);
static_assert(__builtin_offsetof(Segment, first_sect) == KAPI_BLKIF_SEGMENT_FIRST_SECT_OFFSET);
static_assert(__builtin_offsetof(Segment, last_sect) == KAPI_BLKIF_SEGMENT_LAST_SECT_OFFSET);
static_assert(KAPI_BLKIF_SEGS_PER_INDIRECT_FRAME * sizeof(Segment) == KAPI_PAGE_SIZE);

static_assert(sizeof(NativeLayout::RequestSlot) == KAPI_BLKIF_NATIVE_REQ_SIZE);
static_assert(sizeof(NativeLayout::Rw) - 1 == KAPI_BLKIF_NATIVE_RW_SIZE);
static_assert(sizeof(NativeLayout::Discard) - 1 == KAPI_BLKIF_NATIVE_DISCARD_SIZE);
static_assert(sizeof(NativeLayout::Other) - 1 == KAPI_BLKIF_NATIVE_OTHER_SIZE);
static_assert(sizeof(NativeLayout::Indirect) - 1 == KAPI_BLKIF_NATIVE_INDIRECT_SIZE);
static_assert(sizeof(NativeLayout::Response) == KAPI_BLKIF_NATIVE_RSP_SIZE);
XBC_BLKIF_CHECK_OFF(NativeLayout, Rw, nr_segments, KAPI_BLKIF_NATIVE_RW_NR_SEGMENTS_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Rw, handle, KAPI_BLKIF_NATIVE_RW_HANDLE_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Rw, id, KAPI_BLKIF_NATIVE_RW_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Rw, sector_number, KAPI_BLKIF_NATIVE_RW_SECTOR_NUMBER_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Rw, seg, KAPI_BLKIF_NATIVE_RW_SEG_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Discard, flag, KAPI_BLKIF_NATIVE_DISCARD_FLAG_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Discard, id, KAPI_BLKIF_NATIVE_DISCARD_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Discard, sector_number, KAPI_BLKIF_NATIVE_DISCARD_SECTOR_NUMBER_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Discard, nr_sectors, KAPI_BLKIF_NATIVE_DISCARD_NR_SECTORS_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Other, id, KAPI_BLKIF_NATIVE_OTHER_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Indirect, indirect_op, KAPI_BLKIF_NATIVE_INDIRECT_INDIRECT_OP_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Indirect, nr_segments, KAPI_BLKIF_NATIVE_INDIRECT_NR_SEGMENTS_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Indirect, id, KAPI_BLKIF_NATIVE_INDIRECT_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Indirect, sector_number, KAPI_BLKIF_NATIVE_INDIRECT_SECTOR_NUMBER_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Indirect, handle, KAPI_BLKIF_NATIVE_INDIRECT_HANDLE_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Indirect, indirect_grefs, KAPI_BLKIF_NATIVE_INDIRECT_GREFS_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Response, id, KAPI_BLKIF_NATIVE_RSP_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Response, operation, KAPI_BLKIF_NATIVE_RSP_OPERATION_OFFSET);
XBC_BLKIF_CHECK_OFF(NativeLayout, Response, status, KAPI_BLKIF_NATIVE_RSP_STATUS_OFFSET);

static_assert(sizeof(X86_64Layout::RequestSlot) == KAPI_BLKIF_X86_64_REQ_SIZE);
static_assert(sizeof(X86_64Layout::Rw) - 1 == KAPI_BLKIF_X86_64_RW_SIZE);
static_assert(sizeof(X86_64Layout::Discard) - 1 == KAPI_BLKIF_X86_64_DISCARD_SIZE);
static_assert(sizeof(X86_64Layout::Other) - 1 == KAPI_BLKIF_X86_64_OTHER_SIZE);
static_assert(sizeof(X86_64Layout::Indirect) - 1 == KAPI_BLKIF_X86_64_INDIRECT_SIZE);
static_assert(sizeof(X86_64Layout::Response) == KAPI_BLKIF_X86_64_RSP_SIZE);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Rw, nr_segments, KAPI_BLKIF_X86_64_RW_NR_SEGMENTS_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Rw, handle, KAPI_BLKIF_X86_64_RW_HANDLE_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Rw, id, KAPI_BLKIF_X86_64_RW_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Rw, sector_number, KAPI_BLKIF_X86_64_RW_SECTOR_NUMBER_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Rw, seg, KAPI_BLKIF_X86_64_RW_SEG_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Discard, flag, KAPI_BLKIF_X86_64_DISCARD_FLAG_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Discard, id, KAPI_BLKIF_X86_64_DISCARD_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Discard, sector_number, KAPI_BLKIF_X86_64_DISCARD_SECTOR_NUMBER_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Discard, nr_sectors, KAPI_BLKIF_X86_64_DISCARD_NR_SECTORS_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Other, id, KAPI_BLKIF_X86_64_OTHER_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Indirect, indirect_op, KAPI_BLKIF_X86_64_INDIRECT_INDIRECT_OP_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Indirect, nr_segments, KAPI_BLKIF_X86_64_INDIRECT_NR_SEGMENTS_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Indirect, id, KAPI_BLKIF_X86_64_INDIRECT_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Indirect, sector_number, KAPI_BLKIF_X86_64_INDIRECT_SECTOR_NUMBER_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Indirect, handle, KAPI_BLKIF_X86_64_INDIRECT_HANDLE_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Indirect, indirect_grefs, KAPI_BLKIF_X86_64_INDIRECT_GREFS_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Response, id, KAPI_BLKIF_X86_64_RSP_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Response, operation, KAPI_BLKIF_X86_64_RSP_OPERATION_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_64Layout, Response, status, KAPI_BLKIF_X86_64_RSP_STATUS_OFFSET);

static_assert(sizeof(X86_32Layout::RequestSlot) == KAPI_BLKIF_X86_32_REQ_SIZE);
static_assert(sizeof(X86_32Layout::Rw) - 1 == KAPI_BLKIF_X86_32_RW_SIZE);
static_assert(sizeof(X86_32Layout::Discard) - 1 == KAPI_BLKIF_X86_32_DISCARD_SIZE);
static_assert(sizeof(X86_32Layout::Other) - 1 == KAPI_BLKIF_X86_32_OTHER_SIZE);
static_assert(sizeof(X86_32Layout::Indirect) - 1 == KAPI_BLKIF_X86_32_INDIRECT_SIZE);
static_assert(sizeof(X86_32Layout::Response) == KAPI_BLKIF_X86_32_RSP_SIZE);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Rw, nr_segments, KAPI_BLKIF_X86_32_RW_NR_SEGMENTS_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Rw, handle, KAPI_BLKIF_X86_32_RW_HANDLE_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Rw, id, KAPI_BLKIF_X86_32_RW_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Rw, sector_number, KAPI_BLKIF_X86_32_RW_SECTOR_NUMBER_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Rw, seg, KAPI_BLKIF_X86_32_RW_SEG_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Discard, flag, KAPI_BLKIF_X86_32_DISCARD_FLAG_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Discard, id, KAPI_BLKIF_X86_32_DISCARD_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Discard, sector_number, KAPI_BLKIF_X86_32_DISCARD_SECTOR_NUMBER_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Discard, nr_sectors, KAPI_BLKIF_X86_32_DISCARD_NR_SECTORS_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Other, id, KAPI_BLKIF_X86_32_OTHER_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Indirect, indirect_op, KAPI_BLKIF_X86_32_INDIRECT_INDIRECT_OP_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Indirect, nr_segments, KAPI_BLKIF_X86_32_INDIRECT_NR_SEGMENTS_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Indirect, id, KAPI_BLKIF_X86_32_INDIRECT_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Indirect, sector_number, KAPI_BLKIF_X86_32_INDIRECT_SECTOR_NUMBER_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Indirect, handle, KAPI_BLKIF_X86_32_INDIRECT_HANDLE_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Indirect, indirect_grefs, KAPI_BLKIF_X86_32_INDIRECT_GREFS_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Response, id, KAPI_BLKIF_X86_32_RSP_ID_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Response, operation, KAPI_BLKIF_X86_32_RSP_OPERATION_OFFSET);
XBC_BLKIF_CHECK_OFF(X86_32Layout, Response, status, KAPI_BLKIF_X86_32_RSP_STATUS_OFFSET);

#undef XBC_BLKIF_CHECK_OFF

} // namespace wire
} // namespace xbc::blkif
