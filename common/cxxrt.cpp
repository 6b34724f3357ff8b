// SPDX-License-Identifier: GPL-2.0-only
// The C++ runtime the kernel modules need, and nothing more: the global
// operator new/delete family over kapi_malloc/kapi_free, and
// __cxa_pure_virtual. Compiled into each module's unity TU only; host tests
// keep libstdc++'s versions.
//
// The core never calls these directly (it uses xbc::create<T>(Gfp, ...),
// which takes an allocation context); they exist because g++ emits calls to
// them for any new/delete expression, including deleting destructors. The
// plain forms use KAPI_GFP_KERNEL (may sleep) and return NULL on failure:
// the build uses -fcheck-new, so no constructor runs on a NULL result.
#include "kapi/log.h"
#include "kapi/memory.h"
#include "xbc/memory.hpp"

// What <new> would declare; the kernel build has no C++ library headers.
// These must match g++'s built-in declarations exactly (mangling included).
namespace std {
enum class align_val_t : size_t {};
struct nothrow_t {
	explicit nothrow_t() = default;
};
} // namespace std

// g++ declares the plain and aligned forms implicitly; the nothrow ones are
// declared here, as <new> would, so each definition has a prior declaration.
void *operator new(size_t size, const std::nothrow_t &) noexcept;
void *operator new[](size_t size, const std::nothrow_t &) noexcept;
void *operator new(size_t size, std::align_val_t align, const std::nothrow_t &) noexcept;
void *operator new[](size_t size, std::align_val_t align, const std::nothrow_t &) noexcept;

namespace {

// kmalloc(0) returns ZERO_SIZE_PTR, which is not unique; new(0) must be.
void *alloc_plain(size_t size) noexcept
{
	return kapi_malloc(size ? size : 1, KAPI_GFP_KERNEL);
}

// kmalloc aligns only to 8 bytes in general; alloc_bytes picks a naturally
// aligned power-of-two block, or fails for alignments above a page.
void *alloc_aligned(size_t size, std::align_val_t align) noexcept
{
	return xbc::alloc_bytes(size ? size : 1, static_cast<size_t>(align), xbc::Gfp::kKernel);
}

} // namespace

// The throwing forms keep g++'s implicit signature (no noexcept); with
// -fno-exceptions they simply return NULL on failure.
void *operator new(size_t size)
{
	return alloc_plain(size);
}

void *operator new[](size_t size)
{
	return alloc_plain(size);
}

void *operator new(size_t size, const std::nothrow_t &) noexcept
{
	return alloc_plain(size);
}

void *operator new[](size_t size, const std::nothrow_t &) noexcept
{
	return alloc_plain(size);
}

void *operator new(size_t size, std::align_val_t align)
{
	return alloc_aligned(size, align);
}

void *operator new[](size_t size, std::align_val_t align)
{
	return alloc_aligned(size, align);
}

void *operator new(size_t size, std::align_val_t align, const std::nothrow_t &) noexcept
{
	return alloc_aligned(size, align);
}

void *operator new[](size_t size, std::align_val_t align, const std::nothrow_t &) noexcept
{
	return alloc_aligned(size, align);
}

// Every block, aligned or not, came from kmalloc, so one kfree frees any.
void operator delete(void *ptr) noexcept
{
	kapi_free(ptr);
}

void operator delete[](void *ptr) noexcept
{
	kapi_free(ptr);
}

void operator delete(void *ptr, size_t) noexcept
{
	kapi_free(ptr);
}

void operator delete[](void *ptr, size_t) noexcept
{
	kapi_free(ptr);
}

void operator delete(void *ptr, std::align_val_t) noexcept
{
	kapi_free(ptr);
}

void operator delete[](void *ptr, std::align_val_t) noexcept
{
	kapi_free(ptr);
}

void operator delete(void *ptr, size_t, std::align_val_t) noexcept
{
	kapi_free(ptr);
}

void operator delete[](void *ptr, size_t, std::align_val_t) noexcept
{
	kapi_free(ptr);
}

// A call through a vtable slot of an abstract class: a broken object. There
// is no way to continue the caller's operation, so log and trap (a kernel
// oops in this thread, not a BUG policy decision: nothing else is possible).
extern "C" void __cxa_pure_virtual() noexcept;
extern "C" void __cxa_pure_virtual() noexcept
{
	kapi_log(KAPI_LOG_ERR, "pure virtual function called\n");
	__builtin_trap();
}
