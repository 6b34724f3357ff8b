// SPDX-License-Identifier: GPL-2.0-only
// Strict xenstore value parsing and decimal formatting (xbc/xs_value.hpp).
#include "xbc/xs_value.hpp"

namespace xbc::xs {
namespace {

// Length of the NUL-terminated value in buf, or -1 if there is no NUL
// within cap (a truncated or hostile buffer).
long value_length(const char *buf, size_t cap) noexcept
{
	if (!buf)
		return -1;
	for (size_t i = 0; i < cap; i++) {
		if (buf[i] == '\0')
			return static_cast<long>(i);
	}
	return -1;
}

int hex_digit(char c) noexcept
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

// Parses [s, s+n) as hex, at most max: -EINVAL/-ERANGE as Status.
Status parse_hex(const char *s, size_t n, uint32_t max, uint32_t *out) noexcept
{
	if (n == 0)
		return Status::error(err::kInval);
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		const int d = hex_digit(s[i]);
		if (d < 0)
			return Status::error(err::kInval);
		v = v * 16 + static_cast<unsigned>(d);
		if (v > max) {
			// Keep checking the rest is hex: junk is malformed, not big.
			for (size_t j = i + 1; j < n; j++) {
				if (hex_digit(s[j]) < 0)
					return Status::error(err::kInval);
			}
			return Status::error(err::kRange);
		}
	}
	*out = static_cast<uint32_t>(v);
	return Status::ok();
}

bool equals(const char *a, long alen, const char *lit) noexcept
{
	long i = 0;
	for (; i < alen; i++) {
		if (lit[i] == '\0' || lit[i] != a[i])
			return false;
	}
	return lit[i] == '\0';
}

} // namespace

Result<uint64_t> parse_u64(const char *buf, size_t cap, uint64_t max) noexcept
{
	const long len = value_length(buf, cap);
	if (len <= 0)
		return Status::error(err::kInval);
	uint64_t v = 0;
	bool too_big = false;
	for (long i = 0; i < len; i++) {
		const char c = buf[i];
		if (c < '0' || c > '9')
			return Status::error(err::kInval);
		if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, unsigned(c - '0'), &v))
			too_big = true;
	}
	if (too_big || v > max)
		return Status::error(err::kRange);
	return v;
}

Result<uint32_t> parse_u32(const char *buf, size_t cap, uint32_t max) noexcept
{
	const uint64_t v = XBC_TRY(parse_u64(buf, cap, max));
	return static_cast<uint32_t>(v);
}

Result<bool> parse_bool(const char *buf, size_t cap) noexcept
{
	const long len = value_length(buf, cap);
	if (len != 1 || (buf[0] != '0' && buf[0] != '1'))
		return Status::error(err::kInval);
	return buf[0] == '1';
}

Result<DevNumber> parse_dev_number(const char *buf, size_t cap) noexcept
{
	const long len = value_length(buf, cap);
	if (len <= 0)
		return Status::error(err::kInval);
	long colon = -1;
	for (long i = 0; i < len; i++) {
		if (buf[i] == ':') {
			if (colon >= 0)
				return Status::error(err::kInval);
			colon = i;
		}
	}
	if (colon < 0)
		return Status::error(err::kInval);
	DevNumber dev{};
	const Status maj = parse_hex(buf, static_cast<size_t>(colon), kMaxMajor, &dev.major);
	const Status min = parse_hex(buf + colon + 1, static_cast<size_t>(len - colon - 1), kMaxMinor,
				     &dev.minor);
	// Malformed beats out of range, whichever half it is in.
	if (maj.code() == -err::kInval || min.code() == -err::kInval)
		return Status::error(err::kInval);
	if (maj.is_error())
		return maj;
	if (min.is_error())
		return min;
	return dev;
}

Result<blkif::Abi> parse_protocol(const char *buf, size_t cap) noexcept
{
	const long len = value_length(buf, cap);
	if (len <= 0)
		return Status::error(err::kInval);
	// The native name first, as blkback compares it first: on x86_64 the
	// "x86_64-abi" frontend uses the native layout.
	if (equals(buf, len, kProtocolNative))
		return blkif::Abi::kNative;
	if (equals(buf, len, kProtocolX86_32))
		return blkif::Abi::kX86_32;
	if (equals(buf, len, kProtocolX86_64))
		return blkif::Abi::kX86_64;
	return Status::error(err::kInval);
}

const char *protocol_name(blkif::Abi abi) noexcept
{
	switch (abi) {
	case blkif::Abi::kX86_32:
		return kProtocolX86_32;
	case blkif::Abi::kX86_64:
		return kProtocolX86_64;
	case blkif::Abi::kNative:
		break;
	}
	return kProtocolNative;
}

size_t format_u64(uint64_t value, char *buf, size_t cap) noexcept
{
	char digits[20];
	size_t n = 0;
	do {
		digits[n++] = static_cast<char>('0' + value % 10);
		value /= 10;
	} while (value);
	if (!buf || cap == 0)
		return 0;
	if (n + 1 > cap) {
		buf[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = digits[n - 1 - i];
	buf[n] = '\0';
	return n;
}

} // namespace xbc::xs
