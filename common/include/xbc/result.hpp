// SPDX-License-Identifier: GPL-2.0-only
// Error handling for the C++ core: a Status is 0 or a negative Linux errno,
// exactly what the kapi shims return, and Result<T> carries a value or one.
// No exceptions: every fallible call returns one of these, [[nodiscard]].
#pragma once

#include "xbc/base.hpp"

namespace xbc {

// Linux errno values (asm-generic/errno-base.h, errno.h). They are ABI, so
// the C++ side may name them without including a kernel header.
namespace err {
inline constexpr int kPerm = 1;
inline constexpr int kNoEnt = 2;
inline constexpr int kIo = 5;
inline constexpr int kNxio = 6;
inline constexpr int kTooBig = 7;
inline constexpr int kAgain = 11;
inline constexpr int kNoMem = 12;
inline constexpr int kFault = 14;
inline constexpr int kBusy = 16;
inline constexpr int kExist = 17;
inline constexpr int kNoDev = 19;
inline constexpr int kInval = 22;
inline constexpr int kNoSpc = 28;
inline constexpr int kRofs = 30;
inline constexpr int kRange = 34;
inline constexpr int kNameTooLong = 36;
inline constexpr int kNoSys = 38;
inline constexpr int kProto = 71;
inline constexpr int kOverflow = 75;
inline constexpr int kOpNotSupp = 95;
inline constexpr int kShutdown = 108;
inline constexpr int kTimedOut = 110;
} // namespace err

class [[nodiscard]] Status {
public:
	static constexpr Status ok() noexcept { return Status(0); }
	// errno is positive (err::kNoMem); the stored code is negative.
	static constexpr Status error(int errno_value) noexcept
	{
		return Status(errno_value > 0 ? -errno_value : -err::kInval);
	}
	// Bridges a kapi return value: 0 or negative errno (positive values
	// are a shim's "count"/"ok" and also map to ok).
	static constexpr Status from_kapi(int rc) noexcept
	{
		return Status(rc < 0 ? rc : 0);
	}

	constexpr bool is_ok() const noexcept { return code_ == 0; }
	constexpr bool is_error() const noexcept { return code_ != 0; }
	// Negative errno, or 0.
	constexpr int code() const noexcept { return code_; }

	// For the rare caller that really may drop an error: greppable.
	constexpr void ignore_error_deliberately() const noexcept {}

	constexpr bool operator==(const Status &) const noexcept = default;

private:
	constexpr explicit Status(int code) noexcept : code_(code) {}
	int code_;
};

template <typename T> class [[nodiscard]] Result {
public:
	// Implicit from a value and from an error Status, so that `return v;`
	// and `return Status::error(...)` both read naturally.
	Result(T &&value) noexcept : code_(0), has_value_(true)
	{
		new (&storage_) T(move(value));
	}
	Result(const T &value) noexcept : code_(0), has_value_(true)
	{
		new (&storage_) T(value);
	}
	constexpr Result(Status status) noexcept : code_(status.code()), has_value_(false)
	{
		// A Result made from an OK status would hold no value: refuse it.
		if (code_ == 0)
			code_ = -err::kInval;
	}
	Result(Result &&other) noexcept : code_(other.code_), has_value_(other.has_value_)
	{
		if (has_value_)
			new (&storage_) T(move(other.value_ref()));
	}
	Result(const Result &) = delete;
	Result &operator=(const Result &) = delete;
	Result &operator=(Result &&) = delete;
	~Result()
	{
		if (has_value_)
			value_ref().~T();
	}

	constexpr bool is_ok() const noexcept { return has_value_; }
	constexpr bool is_error() const noexcept { return !has_value_; }
	constexpr Status status() const noexcept
	{
		return has_value_ ? Status::ok() : Status::from_kapi(code_);
	}

	// Callers check is_ok() first; a wrong access traps rather than
	// returning garbage.
	T &value() & noexcept
	{
		if (!has_value_)
			__builtin_trap();
		return value_ref();
	}
	const T &value() const & noexcept
	{
		if (!has_value_)
			__builtin_trap();
		return *reinterpret_cast<const T *>(&storage_);
	}
	T take() noexcept
	{
		if (!has_value_)
			__builtin_trap();
		return move(value_ref());
	}

private:
	T &value_ref() noexcept { return *reinterpret_cast<T *>(&storage_); }

	// Raw storage, so T needs no default constructor.
	alignas(T) unsigned char storage_[sizeof(T)];
	int code_;
	bool has_value_;
};

} // namespace xbc

// Propagate an error Status, or evaluate to the value of a Result.
#define XBC_TRY_STATUS(expr)                                                   \
	do {                                                                   \
		::xbc::Status xbc_try_status_ = (expr);                        \
		if (xbc_try_status_.is_error())                                \
			return xbc_try_status_;                                \
	} while (0)

#define XBC_TRY(expr)                                                          \
	({                                                                     \
		auto xbc_try_result_ = (expr);                                 \
		if (xbc_try_result_.is_error())                                \
			return xbc_try_result_.status();                       \
		xbc_try_result_.take();                                        \
	})
