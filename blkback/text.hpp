// SPDX-License-Identifier: GPL-2.0-only
// Small text helpers for the backend's control path: a fixed-size string
// builder for xenstore paths, key names and thread names (no libc in the
// kernel build). Parsing what the other domain writes is xbc/xs_value.hpp's.
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

// What follows the first `needle` in `s`, or all of `s` without one.
[[nodiscard]] inline const char *text_after(const char *s, const char *needle) noexcept
{
	for (const char *p = s; *p; p++) {
		size_t i = 0;
		while (needle[i] && p[i] == needle[i])
			i++;
		if (!needle[i])
			return p + i;
	}
	return s;
}

} // namespace xbc::blkback
