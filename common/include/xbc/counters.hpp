// SPDX-License-Identifier: GPL-2.0-only
// Counter structs generated from one X-macro list, X(field, ...) per
// counter (the rest of a row is the list's own: a sysfs or log name, a
// type). XBC_COUNTER_OPS(Self, LIST) inside the struct adds zip(), which
// calls f(a.field, b.field) for every counter, and the sum and comparison
// built on it; a new counter then needs no edit here or at the sums.
#pragma once

#define XBC_COUNTER_ZIP_ONE(field, ...) f(a.field, b.field);
#define XBC_COUNTER_OPS(Self, LIST)							\
	template <typename A, typename B, typename F>					\
	static constexpr void zip(A &a, B &b, F f) noexcept				\
	{										\
		LIST(XBC_COUNTER_ZIP_ONE)						\
	}										\
	void add(const Self &o) noexcept						\
	{										\
		zip(*this, o, [](auto &sum, auto v) { sum += v; });			\
	}										\
	[[nodiscard]] friend bool operator==(const Self &a, const Self &b) noexcept	\
	{										\
		bool same = true;							\
		zip(a, b, [&same](auto x, auto y) { same = same && x == y; });		\
		return same;								\
	}
