// SPDX-License-Identifier: GPL-2.0-only
// Strict parsing of xenstore values written by the other domain, and
// formatting of the values we write. Implemented in common/xs_value.cpp.
//
// xenstore is peer-controlled, so parsing accepts only the canonical forms
// the in-tree drivers and the toolstack write, and rejects everything else
// (signs, spaces, trailing junk, overflow) instead of guessing as sscanf()
// does. There is no libc in the kernel build: these are written out here.
//
// Every parser takes the buffer kapi_xenbus_read filled and its capacity:
// the value must be NUL-terminated within it.
// Errors: -EINVAL for a malformed value, -ERANGE for a well-formed one out of
// range.
#pragma once

#include "xbc/base.hpp"
#include "xbc/blkif.hpp"
#include "xbc/result.hpp"

namespace xbc::xs {

// Unsigned decimal: one or more ASCII digits, nothing else, at most max.
[[nodiscard]] Result<uint64_t> parse_u64(const char *buf, size_t cap, uint64_t max = ~uint64_t(0)) noexcept;
[[nodiscard]] Result<uint32_t> parse_u32(const char *buf, size_t cap, uint32_t max = ~uint32_t(0)) noexcept;

// A feature flag: exactly "0" or "1".
[[nodiscard]] Result<bool> parse_bool(const char *buf, size_t cap) noexcept;

// The hotplug script's physical-device, "major:minor" in lower- or
// upper-case hex without 0x (blkback reads it with "%x:%x"). Limited to
// Linux's dev_t: 12-bit major, 20-bit minor.
struct DevNumber {
	uint32_t major;
	uint32_t minor;
};
inline constexpr uint32_t kMaxMajor = (1u << 12) - 1;
inline constexpr uint32_t kMaxMinor = (1u << 20) - 1;
[[nodiscard]] Result<DevNumber> parse_dev_number(const char *buf, size_t cap) noexcept;

// The frontend's `protocol`, as the in-tree backend on x86_64 reads it: the
// native name ("x86_64-abi" here) is the native layout, "x86_32-abi" the
// 32-bit one; anything else is refused (-EINVAL; blkback fails the
// connection with -ENOSYS). An absent key means native: the caller decides.
inline constexpr const char kProtocolX86_32[] = "x86_32-abi";
inline constexpr const char kProtocolX86_64[] = "x86_64-abi";
inline constexpr const char kProtocolNative[] = "x86_64-abi";	// XEN_IO_PROTO_ABI_NATIVE on x86_64
[[nodiscard]] Result<blkif::Abi> parse_protocol(const char *buf, size_t cap) noexcept;
// The name a frontend writes for a layout.
[[nodiscard]] const char *protocol_name(blkif::Abi abi) noexcept;

// Decimal text of an integer, in a caller's buffer: returns the length
// written (without the NUL), or 0 with buf = "" when it does not fit.
[[nodiscard]] size_t format_u64(uint64_t value, char *buf, size_t cap) noexcept;

// The same, held by value: enough room for any uint64_t.
class Decimal {
public:
	explicit Decimal(uint64_t value) noexcept : len_(format_u64(value, text_, sizeof(text_))) {}
	const char *c_str() const noexcept { return text_; }
	size_t size() const noexcept { return len_; }

private:
	char text_[21];
	size_t len_;
};

} // namespace xbc::xs
