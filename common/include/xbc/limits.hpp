// SPDX-License-Identifier: GPL-2.0-only
// The protocol limits both engines, the negotiation and the tests share.
// Each limit is defined here once; other headers re-export it by name
// (blkif::kMaxIndirectSegments is limits::kMaxIndirectSegments).
//
// Wire limits come from xen/interface/io/blkif.h via kapi/blkif_abi.h; the
// others are the in-tree 6.1 drivers' or ours, and say so.
#pragma once

#include "kapi/blkif_abi.h"
#include "kapi/kapi.h"
#include "xbc/base.hpp"

namespace xbc::limits {

// ---- the wire (blkif.h, xenbus.h)

// Segments a direct request carries (BLKIF_MAX_SEGMENTS_PER_REQUEST).
inline constexpr uint32_t kMaxDirectSegments = KAPI_BLKIF_MAX_SEGMENTS_PER_REQUEST;
// Indirect pages one request may name (BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST).
inline constexpr uint32_t kMaxIndirectPages = KAPI_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST;
// Segment descriptors in one indirect page (SEGS_PER_INDIRECT_FRAME).
inline constexpr uint32_t kSegsPerIndirectPage = KAPI_BLKIF_SEGS_PER_INDIRECT_FRAME;
// The most segments any indirect request can describe: 8 pages of 512. A
// larger offer or parameter is clamped to this.
inline constexpr uint32_t kMaxIndirectSegments = kMaxIndirectPages * kSegsPerIndirectPage;
// ring-page-order 0..4: 1..16 pages (XENBUS_MAX_RING_GRANT_ORDER).
inline constexpr uint32_t kMaxRingPageOrder = 4;
inline constexpr uint32_t kMaxRingPages = 1u << kMaxRingPageOrder;

// ---- the backend (in-tree xen-blkback common.h)

// Segments per indirect request our backend offers and accepts
// (MAX_INDIRECT_SEGMENTS): "feature-max-indirect-segments" = 256.
inline constexpr uint32_t kBackendIndirectSegments = 256;
static_assert(kBackendIndirectSegments > kMaxDirectSegments &&
	      kBackendIndirectSegments <= kMaxIndirectSegments);

// ---- the frontend

// Rings per disk: in-tree caps only at the online CPUs; our frontend keeps
// its rings in a fixed table of this size.
inline constexpr uint32_t kMaxFrontendQueues = 32;

// A disk the block layer can take. sector-size (the logical block size) is
// a power of two in [512, PAGE_SIZE] (6.12 blk_validate_limits refuses the
// rest; 6.1 would take it and misbehave).
inline constexpr uint32_t kMinSectorSize = 512;
inline constexpr uint32_t kMaxSectorSize = KAPI_PAGE_SIZE;
// physical-sector-size is a hint; a power of two in [sector-size, 1 MiB] is
// taken, anything else (2 GiB, 3, 0) falls back to sector-size.
inline constexpr uint32_t kMaxPhysicalSectorSize = 1u << 20;
// "sectors" counts 512-byte units whatever sector-size is. The byte size
// must fit loff_t (MAX_LFS_FILESIZE on 64-bit), so at most this many.
inline constexpr uint64_t kSectorShift = 9;
inline constexpr uint64_t kMaxSectors = (~0ull >> 1) >> kSectorShift;

} // namespace xbc::limits
