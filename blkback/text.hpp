// SPDX-License-Identifier: GPL-2.0-only
// Small text helpers for the backend's control path: a fixed-size string
// builder for xenstore paths, key names and thread names, and strict parsing
// of the decimal values a frontend writes. There is no libc in the kernel
// build, and xenstore is written by the other domain, so parsing refuses
// anything but a plain in-range number.
#pragma once

#include "xbc/base.hpp"

namespace xbc::blkback {

// A NUL-terminated string in a fixed buffer. Appends past the end are
// dropped and remembered, so a caller checks truncated() once at the end.
template <size_t N> class Text {
public:
	Text() noexcept { buf_[0] = '\0'; }

	Text &add(const char *s) noexcept
	{
		while (*s)
			put(*s++);
		return *this;
	}
	Text &add_uint(uint64_t v) noexcept
	{
		char digits[20];
		unsigned n = 0;
		do {
			digits[n++] = static_cast<char>('0' + v % 10);
			v /= 10;
		} while (v);
		while (n)
			put(digits[--n]);
		return *this;
	}
	Text &add_hex(uint64_t v) noexcept
	{
		char digits[16];
		unsigned n = 0;
		do {
			const unsigned d = v & 0xf;
			digits[n++] = static_cast<char>(d < 10 ? '0' + d : 'a' + d - 10);
			v >>= 4;
		} while (v);
		while (n)
			put(digits[--n]);
		return *this;
	}

	const char *c_str() const noexcept { return buf_; }
	size_t size() const noexcept { return len_; }
	bool truncated() const noexcept { return truncated_; }

private:
	void put(char c) noexcept
	{
		if (len_ + 1 >= N) {
			truncated_ = true;
			return;
		}
		buf_[len_++] = c;
		buf_[len_] = '\0';
	}

	char buf_[N];
	size_t len_ = 0;
	bool truncated_ = false;
};

[[nodiscard]] inline bool text_equal(const char *a, const char *b) noexcept
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

[[nodiscard]] inline bool text_contains(const char *s, char c) noexcept
{
	for (; *s; s++)
		if (*s == c)
			return true;
	return false;
}

// Strict unsigned decimal: one or more digits, nothing else, no overflow
// past `max`. Leading zeros are accepted ("007" is 7), signs and spaces not.
[[nodiscard]] inline bool parse_uint(const char *s, uint64_t max, uint64_t *out) noexcept
{
	if (!*s)
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (__builtin_mul_overflow(v, 10u, &v) ||
		    __builtin_add_overflow(v, static_cast<uint64_t>(*s - '0'), &v))
			return false;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

// Strict lower- or upper-case hex digits, as physical-device's "fd:0".
[[nodiscard]] inline bool parse_hex(const char *s, const char *end, uint64_t max, uint64_t *out) noexcept
{
	if (s == end)
		return false;
	uint64_t v = 0;
	for (; s != end; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		if (v > (max >> 4))
			return false;
		v = (v << 4) | d;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

// The hotplug script's physical-device: "major:minor" in hex (as in-tree
// reads it with "%x:%x").
[[nodiscard]] inline bool parse_major_minor(const char *s, uint32_t *major, uint32_t *minor) noexcept
{
	const char *colon = s;
	while (*colon && *colon != ':')
		colon++;
	if (*colon != ':')
		return false;
	const char *end = colon + 1;
	while (*end)
		end++;
	uint64_t ma, mi;
	// dev_t: 12-bit major, 20-bit minor.
	if (!parse_hex(s, colon, 0xfff, &ma) || !parse_hex(colon + 1, end, 0xfffff, &mi))
		return false;
	*major = static_cast<uint32_t>(ma);
	*minor = static_cast<uint32_t>(mi);
	return true;
}

} // namespace xbc::blkback
