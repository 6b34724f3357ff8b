// SPDX-License-Identifier: GPL-2.0-only
// What a C++ KUnit body needs: its signature, and expectations that report
// through kunit/kunit_report.c with this file's name and line. ASSERT forms
// return from the body on failure instead of KUnit's abort (which would
// leave the thread without running destructors), so RAII cleans up.
#pragma once

#include "cases.h"
#include "kunit_report.h"

// Every listed case, declared once: a body with a wrong name does not
// match a declaration and the module link reports the listed one missing.
#define XBC_KUNIT_DECLARE_CASE(name) void xbc_kt_##name(struct kunit *test) noexcept;
extern "C" {
XBC_KUNIT_ALL_CASES(XBC_KUNIT_DECLARE_CASE)
}
#undef XBC_KUNIT_DECLARE_CASE

// Defines the body of a case listed in kunit/cases.h; `test` is in scope.
#define XBC_KUNIT_CASE(name) extern "C" void xbc_kt_##name(struct kunit *test) noexcept

#define XK_EXPECT(cond) xbc_kunit_expect(test, static_cast<bool>(cond), __FILE__, __LINE__, #cond)
#define XK_EXPECT_EQ(a, b)                                                             \
	xbc_kunit_expect_eq(test, static_cast<long long>(a), static_cast<long long>(b), \
			    __FILE__, __LINE__, #a, #b)
#define XK_ASSERT(cond)                                                        \
	do {                                                                   \
		if (!XK_EXPECT(cond))                                          \
			return;                                                \
	} while (0)
#define XK_ASSERT_EQ(a, b)                                                     \
	do {                                                                   \
		if (!XK_EXPECT_EQ(a, b))                                       \
			return;                                                \
	} while (0)
