// SPDX-License-Identifier: GPL-2.0-only
// Freestanding vocabulary for the C++ core: the few <utility>/<type_traits>
// pieces we need, written over compiler builtins. The kernel build has no
// libstdc++ headers (-nostdinc), so nothing here may include one.
#pragma once

#include <stddef.h>
#include <stdint.h>

// Placement new: from <new> on the host, where libstdc++ defines it; our own
// in the freestanding kernel build, which has no C++ library headers.
#if __STDC_HOSTED__
#include <new>
#else
inline void *operator new(size_t, void *where) noexcept { return where; }
inline void *operator new[](size_t, void *where) noexcept { return where; }
#endif

namespace xbc {

template <typename T> struct RemoveRef { using Type = T; };
template <typename T> struct RemoveRef<T &> { using Type = T; };
template <typename T> struct RemoveRef<T &&> { using Type = T; };
template <typename T> using RemoveRefT = typename RemoveRef<T>::Type;

template <typename A, typename B> inline constexpr bool kIsSame = false;
template <typename A> inline constexpr bool kIsSame<A, A> = true;

template <typename T> inline constexpr bool kIsLvalueRef = false;
template <typename T> inline constexpr bool kIsLvalueRef<T &> = true;

template <typename T>
[[nodiscard]] constexpr RemoveRefT<T> &&move(T &&v) noexcept
{
	return static_cast<RemoveRefT<T> &&>(v);
}

template <typename T>
[[nodiscard]] constexpr T &&forward(RemoveRefT<T> &v) noexcept
{
	return static_cast<T &&>(v);
}

template <typename T>
[[nodiscard]] constexpr T &&forward(RemoveRefT<T> &&v) noexcept
{
	static_assert(!kIsLvalueRef<T>, "forwarding an rvalue as an lvalue");
	return static_cast<T &&>(v);
}

template <typename T> constexpr void swap(T &a, T &b) noexcept
{
	T tmp = move(a);
	a = move(b);
	b = move(tmp);
}

template <typename T> [[nodiscard]] constexpr const T &min(const T &a, const T &b) noexcept
{
	return b < a ? b : a;
}

template <typename T> [[nodiscard]] constexpr const T &max(const T &a, const T &b) noexcept
{
	return a < b ? b : a;
}

// The C++ side's own memcpy/memset: the builtins lower to the kernel's
// exported memcpy/memset (or inline moves), and to libc on the host.
inline void copy_bytes(void *dst, const void *src, size_t n) noexcept
{
	__builtin_memcpy(dst, src, n);
}

inline void zero_bytes(void *dst, size_t n) noexcept
{
	__builtin_memset(dst, 0, n);
}

// container_of for pointer-to-member: recovers the owner of an embedded node.
template <typename Owner, typename Node>
[[nodiscard]] inline Owner *owner_of(Node *node, Node Owner::*member) noexcept
{
	// Offset of the member, taken from an Owner at a fake, suitably aligned
	// address that is never dereferenced (a null base trips UBSan).
	constexpr uintptr_t kFake = 4096;
	const auto offset = reinterpret_cast<uintptr_t>(
		&(reinterpret_cast<Owner *>(kFake)->*member)) - kFake;
	return reinterpret_cast<Owner *>(reinterpret_cast<uintptr_t>(node) - offset);
}

// Read a value the peer may change under us exactly once. The volatile
// access stops the compiler from re-reading shared memory (XSA-155).
template <typename T> [[nodiscard]] inline T read_once(const T &shared) noexcept
{
	static_assert(__is_trivially_copyable(T));
	return *static_cast<const volatile T *>(&shared);
}

template <typename T> inline void write_once(T &shared, T value) noexcept
{
	static_assert(__is_trivially_copyable(T));
	*static_cast<volatile T *>(&shared) = value;
}

// Makes a type non-copyable and non-movable; owners that hand out their
// address to C (embedded nodes, locks) must never move.
struct Pinned {
	Pinned() = default;
	Pinned(const Pinned &) = delete;
	Pinned &operator=(const Pinned &) = delete;
	Pinned(Pinned &&) = delete;
	Pinned &operator=(Pinned &&) = delete;
};

} // namespace xbc
