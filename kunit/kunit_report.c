// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reporting shim for the C++ test bodies: KUNIT_EXPECT_*_MSG with the C++
 * caller's file and line in the message, plus a few probes of kernel state.
 * Translation only; the checks themselves live in the C++ bodies.
 */
#include <kunit/test.h>
#include <linux/hardirq.h>
#include <linux/irqflags.h>
#include <linux/list.h>
#include <linux/preempt.h>

#include "kunit/kunit_report.h"

bool xbc_kunit_expect(struct kunit *test, bool ok, const char *file, int line,
		      const char *expr)
{
	KUNIT_EXPECT_TRUE_MSG(test, ok, "%s:%d: expected %s", file, line, expr);
	return ok;
}

bool xbc_kunit_expect_eq(struct kunit *test, long long left, long long right,
			 const char *file, int line, const char *left_expr,
			 const char *right_expr)
{
	KUNIT_EXPECT_EQ_MSG(test, left, right, "%s:%d: expected %s == %s",
			    file, line, left_expr, right_expr);
	return left == right;
}

bool xbc_kunit_irqs_disabled(void)
{
	return irqs_disabled();
}

bool xbc_kunit_in_atomic(void)
{
	return in_atomic() || irqs_disabled();
}

unsigned int xbc_kunit_kernel_hz(void)
{
	return HZ;
}

long xbc_kunit_list_walk(void *head_ptr)
{
	struct list_head *head = head_ptr;
	struct list_head *pos;
	long n = 0;

	if (head->next->prev != head || head->prev->next != head)
		return -1;
	list_for_each(pos, head) {
		if (pos->next->prev != pos || pos->prev->next != pos)
			return -1;
		n++;
	}
	return n;
}
