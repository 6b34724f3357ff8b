// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_kapi: the hypervisor-free kapi shims (common/shim/memory.c,
// sync.c) as the C++ core sees them, checked against the kernel's own view
// (irqs_disabled, HZ) through kunit/kunit_report.c. Lockdep, KASAN and
// DEBUG_ATOMIC_SLEEP in the test kernel watch every call.
#include "kapi/memory.h"
#include "kapi/sync.h"
#include "xbc_kunit.hpp"
#include "xbc/memory.hpp"

using namespace xbc;

XBC_KUNIT_CASE(kapi_pages)
{
	constexpr unsigned kPages = 64;
	auto pages = BoxArray<kapi_page *>::create(kPages, Gfp::kKernel);
	XK_ASSERT(!pages.is_null());
	bool all_ok = true;
	for (unsigned i = 0; i < kPages; i++) {
		pages[i] = kapi_page_alloc(KAPI_GFP_KERNEL);
		if (!XK_EXPECT(pages[i] != nullptr)) {
			all_ok = false;
			break;
		}
		auto *bytes = static_cast<uint8_t *>(kapi_page_address(pages[i]));
		all_ok &= XK_EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes) % KAPI_PAGE_SIZE, 0);
		// kapi promises zeroed pages; this one is dirtied before free.
		all_ok &= XK_EXPECT_EQ(bytes[0] | bytes[KAPI_PAGE_SIZE - 1], 0);
		__builtin_memset(bytes, 0xff, KAPI_PAGE_SIZE);
		for (unsigned j = 0; j < i; j++)
			all_ok &= XK_EXPECT(kapi_page_address(pages[j]) != bytes);
		if (!all_ok)
			break;
	}
	for (unsigned i = 0; i < kPages; i++)
		if (pages[i])
			kapi_page_free(pages[i]);
	XK_EXPECT(all_ok);
}

XBC_KUNIT_CASE(kapi_spinlock_disables_irqs)
{
	kapi_spinlock *lock = kapi_spinlock_create("xbc_kunit_lock", KAPI_GFP_KERNEL);
	XK_ASSERT(lock != nullptr);
	XK_EXPECT(!xbc_kunit_irqs_disabled());
	unsigned long flags = kapi_spin_lock_irqsave(lock);
	const bool disabled_inside = xbc_kunit_irqs_disabled();
	kapi_spin_unlock_irqrestore(lock, flags);
	XK_EXPECT(disabled_inside);
	XK_EXPECT(!xbc_kunit_irqs_disabled());

	// irqsave nests inside an irqs-off section and restores "off".
	kapi_spinlock *outer = kapi_spinlock_create("xbc_kunit_outer", KAPI_GFP_KERNEL);
	XK_ASSERT(outer != nullptr);
	unsigned long outer_flags = kapi_spin_lock_irqsave(outer);
	flags = kapi_spin_lock_irqsave(lock);
	XK_EXPECT(xbc_kunit_irqs_disabled());
	kapi_spin_unlock_irqrestore(lock, flags);
	const bool still_disabled = xbc_kunit_irqs_disabled();
	kapi_spin_unlock_irqrestore(outer, outer_flags);
	XK_EXPECT(still_disabled);
	kapi_spinlock_destroy(outer);
	kapi_spinlock_destroy(lock);
	XK_EXPECT(!xbc_kunit_irqs_disabled());
}

XBC_KUNIT_CASE(kapi_mutex)
{
	kapi_mutex *mutex = kapi_mutex_create("xbc_kunit_mutex", KAPI_GFP_KERNEL);
	XK_ASSERT(mutex != nullptr);
	for (int i = 0; i < 1000; i++) {
		kapi_mutex_lock(mutex);
		kapi_mutex_unlock(mutex);
	}
	kapi_mutex_lock(mutex);
	// A mutex holder may sleep: it must not be atomic.
	XK_EXPECT(!xbc_kunit_in_atomic());
	kapi_mutex_unlock(mutex);
	kapi_mutex_destroy(mutex);
}

XBC_KUNIT_CASE(kapi_time)
{
	XK_EXPECT_EQ(kapi_hz(), xbc_kunit_kernel_hz());
	const unsigned long before = kapi_jiffies();
	const unsigned long after = kapi_jiffies();
	// Monotonic (in wrapping arithmetic), and not wildly ahead.
	XK_EXPECT(static_cast<long>(after - before) >= 0);
	XK_EXPECT(after - before < 10ul * kapi_hz());
	kapi_virt_mb();
	kapi_virt_rmb();
	kapi_virt_wmb();
}
