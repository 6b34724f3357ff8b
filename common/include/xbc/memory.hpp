// SPDX-License-Identifier: GPL-2.0-only
// Allocation for the C++ core. Nothing in the core uses a bare new/delete:
// objects are created with an explicit allocation context through create<T>()
// and owned by a Box<T>, which frees through kapi. Host tests count every
// kapi_malloc/kapi_free, so leaks and failure paths are visible there.
#pragma once

#include "kapi/memory.h"
#include "xbc/base.hpp"

namespace xbc {

enum class Gfp : unsigned {
	kKernel = KAPI_GFP_KERNEL,
	kNoIo = KAPI_GFP_NOIO,
	kAtomic = KAPI_GFP_ATOMIC,
};

[[nodiscard]] inline enum kapi_gfp to_kapi(Gfp gfp) noexcept
{
	return static_cast<enum kapi_gfp>(gfp);
}

// kmalloc aligns power-of-two sizes up to a page naturally, so an
// over-aligned object gets a power-of-two block at least as large as its
// alignment. Alignments above a page are not supported (returns 0).
[[nodiscard]] constexpr size_t alloc_size_for(size_t size, size_t align) noexcept
{
	if (align <= 8)
		return size;
	if (align > KAPI_PAGE_SIZE)
		return 0;
	size_t block = align;
	while (block < size && block <= KAPI_PAGE_SIZE)
		block <<= 1;
	return block > KAPI_PAGE_SIZE && size > KAPI_PAGE_SIZE ? 0 : block;
}

[[nodiscard]] inline void *alloc_bytes(size_t size, size_t align, Gfp gfp) noexcept
{
	const size_t n = alloc_size_for(size, align);
	return n ? kapi_malloc(n, to_kapi(gfp)) : nullptr;
}

// Owning pointer for one object made by create<T>(). Move-only.
template <typename T> class Box {
public:
	constexpr Box() noexcept : p_(nullptr) {}
	Box(Box &&o) noexcept : p_(o.p_) { o.p_ = nullptr; }
	Box &operator=(Box &&o) noexcept
	{
		if (this != &o) {
			reset();
			p_ = o.p_;
			o.p_ = nullptr;
		}
		return *this;
	}
	Box(const Box &) = delete;
	Box &operator=(const Box &) = delete;
	~Box() { reset(); }

	// Adopts an object built by create<T>() (or the same alloc_bytes path).
	static Box adopt(T *p) noexcept { return Box(p); }

	[[nodiscard]] bool is_null() const noexcept { return p_ == nullptr; }
	T *get() const noexcept { return p_; }
	T *operator->() const noexcept { return p_; }
	T &operator*() const noexcept { return *p_; }

	// Gives up ownership; the caller must hand it back to adopt() later.
	[[nodiscard]] T *release() noexcept
	{
		T *p = p_;
		p_ = nullptr;
		return p;
	}

	void reset() noexcept
	{
		if (p_) {
			p_->~T();
			kapi_free(p_);
			p_ = nullptr;
		}
	}

private:
	explicit Box(T *p) noexcept : p_(p) {}
	T *p_;
};

// Allocates and constructs a T; the Box is null if allocation failed. The
// constructor must not fail (two-phase construction: fallible work goes in
// a static Create() before the object exists).
template <typename T, typename... Args>
[[nodiscard]] Box<T> create(Gfp gfp, Args &&...args) noexcept
{
	void *mem = alloc_bytes(sizeof(T), alignof(T), gfp);
	if (!mem)
		return Box<T>();
	return Box<T>::adopt(new (mem) T(forward<Args>(args)...));
}

// A fixed-length array of trivially constructible T, zero-filled, owned.
template <typename T> class BoxArray {
public:
	constexpr BoxArray() noexcept : p_(nullptr), n_(0) {}
	BoxArray(BoxArray &&o) noexcept : p_(o.p_), n_(o.n_), large_(o.large_)
	{
		o.p_ = nullptr;
		o.n_ = 0;
	}
	BoxArray &operator=(BoxArray &&o) noexcept
	{
		if (this != &o) {
			reset();
			p_ = o.p_;
			n_ = o.n_;
			large_ = o.large_;
			o.p_ = nullptr;
			o.n_ = 0;
		}
		return *this;
	}
	BoxArray(const BoxArray &) = delete;
	BoxArray &operator=(const BoxArray &) = delete;
	~BoxArray() { reset(); }

	[[nodiscard]] static BoxArray create(size_t n, Gfp gfp) noexcept
	{
		static_assert(__is_trivially_copyable(T), "BoxArray holds plain data");
		size_t bytes;
		if (n == 0 || __builtin_mul_overflow(n, sizeof(T), &bytes))
			return BoxArray();
		const size_t block = alloc_size_for(bytes, alignof(T));
		void *mem = block ? kapi_zalloc(block, to_kapi(gfp)) : nullptr;
		if (!mem)
			return BoxArray();
		return BoxArray(static_cast<T *>(mem), n);
	}
	// For arrays that may span many pages (ring bookkeeping sized by
	// module parameters): never one huge kmalloc. Process context only.
	[[nodiscard]] static BoxArray create_large(size_t n, Gfp gfp) noexcept
	{
		static_assert(__is_trivially_copyable(T), "BoxArray holds plain data");
		static_assert(alignof(T) <= 8, "vmalloc gives page alignment, kmalloc 8 bytes");
		size_t bytes;
		if (n == 0 || __builtin_mul_overflow(n, sizeof(T), &bytes))
			return BoxArray();
		void *mem = kapi_kvzalloc(bytes, to_kapi(gfp));
		if (!mem)
			return BoxArray();
		return BoxArray(static_cast<T *>(mem), n, true);
	}

	[[nodiscard]] bool is_null() const noexcept { return p_ == nullptr; }
	size_t size() const noexcept { return n_; }
	T *data() const noexcept { return p_; }
	// Index checked by the caller; out of range traps rather than corrupts.
	T &operator[](size_t i) const noexcept
	{
		if (i >= n_)
			__builtin_trap();
		return p_[i];
	}

	void reset() noexcept
	{
		if (large_)
			kapi_kvfree(p_);
		else
			kapi_free(p_);
		p_ = nullptr;
		n_ = 0;
	}

private:
	BoxArray(T *p, size_t n, bool large = false) noexcept : p_(p), n_(n), large_(large) {}
	T *p_;
	size_t n_;
	bool large_ = false;	// from kapi_kvzalloc
};

} // namespace xbc
