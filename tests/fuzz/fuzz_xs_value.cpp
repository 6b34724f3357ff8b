// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: the xenstore value parsers (xbc/xs_value.hpp), which
// read what the other domain wrote. Input: one byte picks the parser and
// the bound, the rest is the buffer exactly as kapi_xenbus_read would fill
// it (not necessarily NUL-terminated within its capacity).
//
// Each accepted value is checked against an independent reading of the
// same bytes, and each refusal must carry the errno the header promises:
// -EINVAL for malformed, -ERANGE for well-formed but too big.
#include "fuzz_common.hpp"
#include "xbc/xs_value.hpp"

using namespace xbc;

namespace {

// The value's length up to the first NUL within cap, or -1 without one.
long terminated_length(const char *buf, size_t cap)
{
	const void *nul = memchr(buf, '\0', cap);
	return nul ? static_cast<const char *>(nul) - buf : -1;
}

bool all_digits(const char *s, long n)
{
	for (long i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

// Exact value of the digits, without their leading zeros: at most 20
// significant digits fit the 128-bit accumulator; more are "too big".
bool decimal_value(const char *s, long n, uint64_t *out)
{
	while (n > 1 && *s == '0') {
		s++;
		n--;
	}
	if (n > 20)
		return false;
	unsigned __int128 v = 0;
	for (long i = 0; i < n; i++)
		v = v * 10 + unsigned(s[i] - '0');
	if (v > ~uint64_t(0))
		return false;
	*out = static_cast<uint64_t>(v);
	return true;
}

void check_u64(const char *buf, size_t cap, uint64_t max)
{
	const auto r = xs::parse_u64(buf, cap, max);
	const long len = terminated_length(buf, cap);
	if (len <= 0 || !all_digits(buf, len)) {
		XBC_FUZZ_CHECK(r.is_error() && r.status().code() == -err::kInval);
		return;
	}
	uint64_t v = 0;
	if (!decimal_value(buf, len, &v) || v > max) {
		XBC_FUZZ_CHECK(r.is_error() && r.status().code() == -err::kRange);
		return;
	}
	XBC_FUZZ_CHECK(r.is_ok() && r.value() == v);

	// The formatter writes the canonical form back, which parses to the
	// same value.
	char text[21];
	const size_t n = xs::format_u64(v, text, sizeof(text));
	XBC_FUZZ_CHECK(n > 0 && n == strlen(text));
	const auto back = xs::parse_u64(text, sizeof(text), max);
	XBC_FUZZ_CHECK(back.is_ok() && back.value() == v);
}

void check_bool(const char *buf, size_t cap)
{
	const auto r = xs::parse_bool(buf, cap);
	const long len = terminated_length(buf, cap);
	const bool ok = len == 1 && (buf[0] == '0' || buf[0] == '1');
	XBC_FUZZ_CHECK(r.is_ok() == ok);
	if (ok)
		XBC_FUZZ_CHECK(r.value() == (buf[0] == '1'));
	else
		XBC_FUZZ_CHECK(r.status().code() == -err::kInval);
}

void check_dev_number(const char *buf, size_t cap)
{
	const auto r = xs::parse_dev_number(buf, cap);
	if (r.is_error()) {
		const int code = r.status().code();
		XBC_FUZZ_CHECK(code == -err::kInval || code == -err::kRange);
		return;
	}
	// Accepted: exactly "hex:hex" within the bounds, and it formats back.
	const long len = terminated_length(buf, cap);
	XBC_FUZZ_CHECK(len >= 3);
	XBC_FUZZ_CHECK(r.value().major <= xs::kMaxMajor && r.value().minor <= xs::kMaxMinor);
	unsigned colons = 0;
	for (long i = 0; i < len; i++) {
		const char c = buf[i];
		const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		XBC_FUZZ_CHECK(hex || c == ':');
		colons += c == ':';
	}
	XBC_FUZZ_CHECK(colons == 1 && buf[0] != ':' && buf[len - 1] != ':');
}

void check_protocol(const char *buf, size_t cap)
{
	const auto r = xs::parse_protocol(buf, cap);
	if (r.is_error()) {
		XBC_FUZZ_CHECK(r.status().code() == -err::kInval);
		return;
	}
	// Only the exact names are accepted, and the name we would write for
	// the layout reads back as the same layout.
	const long len = terminated_length(buf, cap);
	XBC_FUZZ_CHECK(len > 0);
	XBC_FUZZ_CHECK(strcmp(buf, xs::kProtocolX86_32) == 0 || strcmp(buf, xs::kProtocolX86_64) == 0);
	const char *name = xs::protocol_name(r.value());
	const auto again = xs::parse_protocol(name, strlen(name) + 1);
	XBC_FUZZ_CHECK(again.is_ok() && again.value() == r.value());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz::Bytes in(data, size);
	const uint8_t which = in.take<uint8_t>();
	const uint64_t max = in.take<uint64_t>();

	// The buffer in its own exact allocation, so ASan catches a read past
	// the capacity the parser was given.
	const size_t cap = in.left();
	char *buf = new char[cap ? cap : 1];
	in.fill(buf, cap);

	switch (which % 5) {
	case 0:
		check_u64(buf, cap, max);
		break;
	case 1:
		check_u64(buf, cap, ~uint64_t(0));
		break;
	case 2:
		check_bool(buf, cap);
		break;
	case 3:
		check_dev_number(buf, cap);
		break;
	case 4:
		check_protocol(buf, cap);
		break;
	}
	delete[] buf;
	return 0;
}
