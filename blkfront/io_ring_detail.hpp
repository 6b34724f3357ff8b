// SPDX-License-Identifier: GPL-2.0-only
// What the three files of IoRing (io_ring.cpp, io_submit.cpp,
// io_complete.cpp) share, and nothing else includes.
#pragma once

#include "xbc/blkif.hpp"

namespace xbc::blkfront::detail {

inline constexpr uint32_t kNoId = 0xffffffffu;
inline constexpr uint32_t kSectorBytes = 512;
// Pool pages taken at connect, per ring, when the ring could use more:
// in-tree takes all it could ever use, which for 4096 indirect segments is
// half a GiB per ring. The default (32 slots x 33 pages) fits whole.
inline constexpr uint32_t kPoolPrefillPages = 2048;
// Pages one refill (after the pool ran dry) adds at most.
inline constexpr uint32_t kPoolRefillPages = 256;

inline uint8_t op_byte(blkif::Op op) noexcept
{
	return static_cast<uint8_t>(op);
}

} // namespace xbc::blkfront::detail
