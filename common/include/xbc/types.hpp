// SPDX-License-Identifier: GPL-2.0-only
// Strong types for the values that cross the Xen boundary. Mixing a grant
// ref with a handle, or a sector with a ring index, does not compile. Raw
// values are unwrapped only where they meet the wire or a kapi call.
#pragma once

#include "xbc/base.hpp"

namespace xbc {

// An opaque identifier: equality and ordering (so it can key a tree), no
// arithmetic, no operator bool.
template <typename Tag, typename Rep> class StrongId {
public:
	using RepType = Rep;

	constexpr StrongId() noexcept : v_(Tag::kInvalidRaw) {}
	constexpr explicit StrongId(Rep raw) noexcept : v_(raw) {}

	static constexpr StrongId invalid() noexcept { return StrongId(Tag::kInvalidRaw); }
	constexpr bool is_valid() const noexcept { return v_ != Tag::kInvalidRaw; }
	constexpr Rep raw() const noexcept { return v_; }

	constexpr bool operator==(const StrongId &o) const noexcept { return v_ == o.v_; }
	constexpr bool operator!=(const StrongId &o) const noexcept { return v_ != o.v_; }
	constexpr bool operator<(const StrongId &o) const noexcept { return v_ < o.v_; }
	constexpr bool operator>(const StrongId &o) const noexcept { return v_ > o.v_; }
	constexpr bool operator<=(const StrongId &o) const noexcept { return v_ <= o.v_; }
	constexpr bool operator>=(const StrongId &o) const noexcept { return v_ >= o.v_; }

private:
	Rep v_;
};

// grant_ref_t. Every 32-bit value is a possible key from a peer; ~0 is the
// one Linux reserves as "no grant" (INVALID_GRANT_REF).
struct GrantRefTag { static constexpr uint32_t kInvalidRaw = 0xffffffffu; };
using GrantRef = StrongId<GrantRefTag, uint32_t>;

// grant_handle_t, returned by a successful map; ~0 means "not mapped".
struct GrantHandleTag { static constexpr uint32_t kInvalidRaw = 0xffffffffu; };
using GrantHandle = StrongId<GrantHandleTag, uint32_t>;

// domid_t. DOMID_INVALID is 0x7ff4 in the Xen interface.
struct DomIdTag { static constexpr uint16_t kInvalidRaw = 0x7ff4; };
using DomId = StrongId<DomIdTag, uint16_t>;

// evtchn_port_t. Port 0 is never bound.
struct EvtchnPortTag { static constexpr uint32_t kInvalidRaw = 0; };
using EvtchnPort = StrongId<EvtchnPortTag, uint32_t>;

// A disk position or length in 512-byte units: the unit on the blkif wire
// and in the xenstore `sectors` key, whatever the logical block size.
class Sector {
public:
	static constexpr unsigned kShift = 9;
	static constexpr uint32_t kBytes = 1u << kShift;

	constexpr Sector() noexcept : v_(0) {}
	constexpr explicit Sector(uint64_t count) noexcept : v_(count) {}
	static constexpr Sector from_bytes_floor(uint64_t bytes) noexcept
	{
		return Sector(bytes >> kShift);
	}

	constexpr uint64_t raw() const noexcept { return v_; }
	constexpr uint64_t bytes() const noexcept { return v_ << kShift; }

	// Sum, unless it wraps past 2^64: peers choose these values.
	[[nodiscard]] constexpr bool checked_add(Sector len, Sector *out) const noexcept
	{
		uint64_t sum;
		if (__builtin_add_overflow(v_, len.v_, &sum))
			return false;
		*out = Sector(sum);
		return true;
	}

	// True when [this, this + len) lies within a device of `capacity`.
	[[nodiscard]] constexpr bool range_within(Sector len, Sector capacity) const noexcept
	{
		Sector end;
		return checked_add(len, &end) && end.v_ <= capacity.v_;
	}

	constexpr bool operator==(const Sector &o) const noexcept { return v_ == o.v_; }
	constexpr bool operator!=(const Sector &o) const noexcept { return v_ != o.v_; }
	constexpr bool operator<(const Sector &o) const noexcept { return v_ < o.v_; }
	constexpr bool operator<=(const Sector &o) const noexcept { return v_ <= o.v_; }
	constexpr bool operator>(const Sector &o) const noexcept { return v_ > o.v_; }
	constexpr bool operator>=(const Sector &o) const noexcept { return v_ >= o.v_; }

private:
	uint64_t v_;
};

// A free-running shared-ring index (RING_IDX). It wraps at 2^32 by design,
// so it has no ordering: only modular distance and advance.
class RingIdx {
public:
	constexpr RingIdx() noexcept : v_(0) {}
	constexpr explicit RingIdx(uint32_t raw) noexcept : v_(raw) {}

	constexpr uint32_t raw() const noexcept { return v_; }
	// Slot within a ring of `size` entries (a power of two).
	constexpr uint32_t slot(uint32_t size) const noexcept { return v_ & (size - 1); }
	// How far `later` is ahead of this index, modulo 2^32.
	constexpr uint32_t distance_to(RingIdx later) const noexcept { return later.v_ - v_; }

	constexpr RingIdx operator+(uint32_t n) const noexcept { return RingIdx(v_ + n); }
	constexpr RingIdx &operator+=(uint32_t n) noexcept
	{
		v_ += n;
		return *this;
	}
	constexpr RingIdx &operator++() noexcept
	{
		++v_;
		return *this;
	}

	constexpr bool operator==(const RingIdx &o) const noexcept { return v_ == o.v_; }
	constexpr bool operator!=(const RingIdx &o) const noexcept { return v_ != o.v_; }

private:
	uint32_t v_;
};

static_assert(sizeof(GrantRef) == 4 && __is_trivially_copyable(GrantRef));
static_assert(sizeof(GrantHandle) == 4 && __is_trivially_copyable(GrantHandle));
static_assert(sizeof(DomId) == 2 && __is_trivially_copyable(DomId));
static_assert(sizeof(EvtchnPort) == 4 && __is_trivially_copyable(EvtchnPort));
static_assert(sizeof(Sector) == 8 && __is_trivially_copyable(Sector));
static_assert(sizeof(RingIdx) == 4 && __is_trivially_copyable(RingIdx));

} // namespace xbc
