/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The C++ test bodies' window onto KUnit. KUnit's KUNIT_EXPECT_* macros are
 * C-only (kernel headers), so C++ reports through these functions, which
 * wrap KUNIT_EXPECT_*_MSG with the C++ file and line (kunit/kunit_report.c).
 * Failure never unwinds: a C++ "assert" returns from the test body, so every
 * destructor runs (see kunit/xbc_kunit.hpp).
 *
 * Also small probes of kernel state that only C can read (irqs_disabled,
 * HZ) and a C walk over a C++ list, to prove the list_head layout.
 */
#ifndef XBC_KUNIT_REPORT_H
#define XBC_KUNIT_REPORT_H

#include "kapi/kapi.h"

KAPI_BEGIN_DECLS

struct kunit;

/* Records an expectation; returns @ok so callers can stop on failure. */
bool xbc_kunit_expect(struct kunit *test, bool ok, const char *file, int line,
		      const char *expr) KAPI_NOEXCEPT;
/* Equality with both values printed (signed 64-bit). */
bool xbc_kunit_expect_eq(struct kunit *test, long long left, long long right,
			 const char *file, int line, const char *left_expr,
			 const char *right_expr) KAPI_NOEXCEPT;

/* Kernel state probes. */
bool xbc_kunit_irqs_disabled(void) KAPI_NOEXCEPT;
bool xbc_kunit_in_atomic(void) KAPI_NOEXCEPT;
unsigned int xbc_kunit_kernel_hz(void) KAPI_NOEXCEPT;
/*
 * Walks a circular list through @head with the kernel's own list_head type
 * and list_for_each; returns the number of entries, or -1 if any link is
 * inconsistent (next->prev != self or prev->next != self).
 */
long xbc_kunit_list_walk(void *head) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* XBC_KUNIT_REPORT_H */
