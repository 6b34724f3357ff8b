// SPDX-License-Identifier: GPL-2.0-only
// The engines' xenstore layer: typed reads with one strictness policy, a
// bounded path builder, the one way to write a number, and one transaction
// helper with one retry policy.
//
// Reads: xs::read<T>(dir, key) is a Key<T>, absent, valid or malformed
// (with why), parsed by the one rule for T (Parse<T>, xbc/xs_value.hpp's
// strict parsers). Whether absent means a default or a refusal is the
// caller's (negotiate's) business, never the reader's.
//
// A transaction that races another writer ends with -EAGAIN and must be
// redone whole; in-tree retries forever. The peer can make it race at will
// (it writes its own nodes whenever it likes), so we retry a bounded number
// of times and then fail as for any other xenstore error.
#pragma once

#include "kapi/log.h"
#include "kapi/xenbus.h"
#include "xbc/result.hpp"
#include "xbc/xs_value.hpp"

namespace xbc::xs {

// ------------------------------------------------------------- paths

// A xenstore path or relative key built from parts ("queue-", 3, "/",
// "ring-ref"), in a fixed buffer. An append that does not fit is refused
// and remembered: the reads and writes below refuse an overflowed Path
// (-ENAMETOOLONG) rather than use a truncated name, which would be some
// other node.
class Path {
public:
	// In-tree's blkback builds its paths in this much too.
	static constexpr size_t kCapacity = 256;

	Path() noexcept { text_[0] = '\0'; }
	explicit Path(const char *s) noexcept : Path() { add(s); }

	Path &add(const char *s) noexcept
	{
		size_t n = 0;
		while (s[n])
			n++;
		if (overflowed_ || len_ + n >= kCapacity) {
			overflowed_ = true;
			return *this;
		}
		for (size_t i = 0; i <= n; i++)
			text_[len_ + i] = s[i];
		len_ += n;
		return *this;
	}
	Path &add_uint(uint64_t v) noexcept { return add(Decimal(v).c_str()); }
	// "/" + name: a child of this node.
	Path &child(const char *name) noexcept { return add("/").add(name); }

	[[nodiscard]] bool overflowed() const noexcept { return overflowed_; }
	// The text so far (what fitted): for logs; xenstore gets it only
	// through the functions below, which check overflowed().
	[[nodiscard]] const char *c_str() const noexcept { return text_; }

private:
	char text_[kCapacity];
	size_t len_ = 0;
	bool overflowed_ = false;
};

// ------------------------------------------------------------- reads

// One key: absent, present and valid, or present but malformed (unreadable,
// too long for any canonical value, or refused by the strict parser).
template <typename T> struct Key {
	enum class State : uint8_t { kAbsent, kValid, kMalformed };
	State state = State::kAbsent;
	T value{};
	int error = -err::kNoEnt;	// negative errno: why it is not valid; 0 if valid

	static constexpr Key absent() noexcept { return Key{}; }
	static constexpr Key valid(T v) noexcept { return Key{State::kValid, v, 0}; }
	static constexpr Key malformed(int why = -err::kInval) noexcept
	{
		return Key{State::kMalformed, T{}, why};
	}
	constexpr bool is_absent() const noexcept { return state == State::kAbsent; }
	constexpr bool is_valid() const noexcept { return state == State::kValid; }
	constexpr bool is_malformed() const noexcept { return state == State::kMalformed; }
	// The value, or the in-tree default when absent or malformed.
	constexpr T or_default(T fallback) const noexcept { return is_valid() ? value : fallback; }
};

// The one parsing rule for each type the engines read.
template <typename T> struct Parse;
template <> struct Parse<uint64_t> {
	static Result<uint64_t> from(const char *b, size_t c) noexcept { return parse_u64(b, c); }
};
template <> struct Parse<uint32_t> {
	static Result<uint32_t> from(const char *b, size_t c) noexcept { return parse_u32(b, c); }
};
template <> struct Parse<bool> {
	static Result<bool> from(const char *b, size_t c) noexcept { return parse_bool(b, c); }
};
template <> struct Parse<DevNumber> {
	static Result<DevNumber> from(const char *b, size_t c) noexcept { return parse_dev_number(b, c); }
};

// Room for any value we parse: 20 digits of a uint64_t, "fff:fffff", a
// protocol name. A longer value is malformed (kapi's read says -E2BIG),
// however many leading zeros it pads a number with.
inline constexpr size_t kValueLen = 32;

// Text we only compare or copy, never parse (mode, device-type, dev): any
// value that fits N bytes with its NUL. A longer one is malformed (-E2BIG),
// so a caller's bound is part of its type, never a silent truncation.
template <size_t N> struct String {
	static_assert(N > 1, "room for a character and the NUL");
	char text[N];
	[[nodiscard]] const char *c_str() const noexcept { return text; }
};
template <size_t N> struct Parse<String<N>> {
	static Result<String<N>> from(const char *b, size_t c) noexcept
	{
		// read_key's buffer is N bytes and kapi's read NUL-terminates
		// within it (or says -E2BIG): the last return is for a reader
		// that breaks that contract.
		String<N> s;
		for (size_t i = 0; i < N; i++) {
			s.text[i] = i < c ? b[i] : '\0';
			if (s.text[i] == '\0')
				return s;
		}
		return Status::error(err::kTooBig);
	}
};

// The buffer a read of a T needs: kValueLen for what we parse, N for a
// String<N>.
template <typename T> inline constexpr size_t kReadLen = kValueLen;
template <size_t N> inline constexpr size_t kReadLen<String<N>> = N;

// Reads one key with `read(key, buf, len)` (kapi_xenbus_read's contract:
// length, -ENOENT, -E2BIG, -errno) and parses it with `parse(buf, cap)`.
template <typename T, typename Read, typename ParseFn>
[[nodiscard]] Key<T> read_key(Read &&read, const char *key, ParseFn &&parse) noexcept
{
	char buf[kReadLen<T>];
	const int rc = read(key, buf, sizeof(buf));
	if (rc == -err::kNoEnt)
		return Key<T>::absent();
	if (rc < 0)
		return Key<T>::malformed(rc);
	auto parsed = parse(buf, sizeof(buf));
	if (parsed.is_error())
		return Key<T>::malformed(parsed.status().code());
	return Key<T>::valid(static_cast<T>(parsed.value()));
}

// The same with T's one rule, from any reader (tests pass a fake one).
template <typename T, typename Read> [[nodiscard]] Key<T> read_from(Read &&read, const char *key) noexcept
{
	return read_key<T>(read, key, Parse<T>::from);
}

// The usual reader: kapi_xenbus_read of `dir`/key outside a transaction.
struct Dir {
	const char *dir;
	int operator()(const char *key, char *buf, size_t len) const noexcept
	{
		return kapi_xenbus_read(KAPI_XBT_NIL, dir, key, buf, len);
	}
};

// dir/key as a T.
template <typename T> [[nodiscard]] Key<T> read(const char *dir, const char *key) noexcept
{
	return read_from<T>(Dir{dir}, key);
}
template <typename T> [[nodiscard]] Key<T> read(const Path &dir, const char *key) noexcept
{
	if (dir.overflowed())
		return Key<T>::malformed(-err::kNameTooLong);
	return read<T>(dir.c_str(), key);
}
template <typename T> [[nodiscard]] Key<T> read(const Path &dir, const Path &key) noexcept
{
	if (key.overflowed())
		return Key<T>::malformed(-err::kNameTooLong);
	return read<T>(dir, key.c_str());
}

// ------------------------------------------------------------ writes

// dir/node = v in decimal, in transaction t (or KAPI_XBT_NIL).
[[nodiscard]] inline Status write_uint(kapi_xbt t, const char *dir, const char *node, uint64_t v) noexcept
{
	return Status::from_kapi(kapi_xenbus_write(t, dir, node, Decimal(v).c_str()));
}
[[nodiscard]] inline Status write_uint(kapi_xbt t, const char *dir, const Path &node, uint64_t v) noexcept
{
	if (node.overflowed())
		return Status::error(err::kNameTooLong);
	return write_uint(t, dir, node.c_str(), v);
}

// Removes dir/node; an absent node is -ENOENT.
[[nodiscard]] inline Status remove(kapi_xbt t, const char *dir, const Path &node) noexcept
{
	if (node.overflowed())
		return Status::error(err::kNameTooLong);
	return Status::from_kapi(kapi_xenbus_rm(t, dir, node.c_str()));
}

// Redo a raced transaction at most this many times (then -EAGAIN).
inline constexpr unsigned kMaxTransactionRetries = 1000;

// Where a transaction failed, so that the caller can say what failed.
enum class TxStage : uint8_t {
	kStart,		// kapi_xenbus_transaction_start
	kBody,		// the body's own error (it has reported it; aborted)
	kCommit,	// kapi_xenbus_transaction_end, or raced too often
};

struct [[nodiscard]] TxResult {
	Status status;
	TxStage stage;

	[[nodiscard]] bool is_error() const noexcept { return status.is_error(); }
};

// Runs body(t) in a transaction and commits it, redoing both while the
// commit races (bounded, above). A body error aborts the transaction and is
// returned as it is (never retried). body: Status(kapi_xbt), re-run whole on
// each attempt: it must re-read whatever it writes from.
template <typename Body> TxResult transaction(Body &&body) noexcept
{
	for (unsigned attempt = 0;; attempt++) {
		kapi_xbt t;
		const int rc = kapi_xenbus_transaction_start(&t);
		if (rc < 0)
			return {Status::from_kapi(rc), TxStage::kStart};
		const Status st = body(t);
		if (st.is_error()) {
			// Nothing of it is committed whether or not the abort is heard.
			const int abort_rc = kapi_xenbus_transaction_end(t, true);
			if (abort_rc < 0)
				kapi_log(KAPI_LOG_WARNING, "xenstore: aborting a transaction failed (%d)\n",
					 abort_rc);
			return {st, TxStage::kBody};
		}
		const int end_rc = kapi_xenbus_transaction_end(t, false);
		if (end_rc == -err::kAgain && attempt < kMaxTransactionRetries)
			continue;
		if (end_rc < 0)
			return {Status::from_kapi(end_rc), TxStage::kCommit};
		return {Status::ok(), TxStage::kCommit};
	}
}

} // namespace xbc::xs
