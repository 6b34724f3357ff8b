// SPDX-License-Identifier: GPL-2.0-only
// Shared bits of the libFuzzer targets: a byte reader over the fuzzer's
// input and the check that turns a broken invariant into a crash.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace xbc::fuzz {

// A broken invariant is a finding: crash so libFuzzer keeps the input.
#define XBC_FUZZ_CHECK(cond)                                                   \
	do {                                                                   \
		if (!(cond))                                                   \
			__builtin_trap();                                      \
	} while (0)

// Consumes the input front to back; past the end it yields zeros.
class Bytes {
public:
	Bytes(const uint8_t *data, size_t size) : p_(data), n_(size) {}

	template <typename T> T take()
	{
		T v{};
		const size_t k = n_ < sizeof(T) ? n_ : sizeof(T);
		memcpy(&v, p_, k);
		p_ += k;
		n_ -= k;
		return v;
	}
	// Copies up to `len` bytes into dst, zero-filling the rest.
	void fill(void *dst, size_t len)
	{
		const size_t k = n_ < len ? n_ : len;
		memcpy(dst, p_, k);
		memset(static_cast<uint8_t *>(dst) + k, 0, len - k);
		p_ += k;
		n_ -= k;
	}
	size_t left() const { return n_; }

private:
	const uint8_t *p_;
	size_t n_;
};

} // namespace xbc::fuzz
