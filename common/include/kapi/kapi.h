/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kapi: the only C ABI the C++ core sees. Each header here declares one
 * kernel subsystem as extern "C" functions over C types and opaque handles,
 * returning 0 or a negative errno. C shims (common/shim/, and each module's
 * own shim) implement them with the kernel's headers; host tests link a
 * userspace implementation (tests/host/kapi_host.cpp) and a fake Xen.
 *
 * Integer types: the C++ side uses gcc's <stdint.h> (uint64_t is unsigned
 * long), the C side the kernel's (uint64_t is unsigned long long). They are
 * the same size and pass the same way, so the extern "C" ABI agrees.
 */
#ifndef KAPI_KAPI_H
#define KAPI_KAPI_H

#ifdef __cplusplus
#include <stddef.h>
#include <stdint.h>
#define KAPI_BEGIN_DECLS extern "C" {
#define KAPI_END_DECLS }
#define KAPI_NOEXCEPT noexcept
#else
#include <linux/types.h>
#define KAPI_BEGIN_DECLS
#define KAPI_END_DECLS
#define KAPI_NOEXCEPT
#endif

#define KAPI_PAGE_SHIFT 12
#define KAPI_PAGE_SIZE (1u << KAPI_PAGE_SHIFT)

#endif /* KAPI_KAPI_H */
