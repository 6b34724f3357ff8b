// SPDX-License-Identifier: GPL-2.0-only
// KUnit suite xbc_kapi: the hypervisor-free kapi shims (common/shim/memory.c,
// sync.c) as the C++ core sees them, and the lock and atomic types over them
// (xbc/sync.hpp), checked against the kernel's own view (irqs_disabled, HZ)
// through kunit/kunit_report.c. Lockdep, KASAN and DEBUG_ATOMIC_SLEEP in the
// test kernel watch every call.
#include "kapi/memory.h"
#include "kapi/sync.h"
#include "xbc_kunit.hpp"
#include "xbc/memory.hpp"
#include "xbc/sync.hpp"

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

// The types the engines use (xbc/sync.hpp), on the real locks: a guard
// holds for its scope, IrqSpinGuard disables irqs and nests, Guarded
// reaches its value only under its lock, and the handles are freed with
// their owners (KASAN/kmemleak see the shim's kfree).
XBC_KUNIT_CASE(sync_lock_types_and_guards)
{
	auto outer = IrqSpinLock::create("xbc_kunit_sync_outer");
	XK_ASSERT(outer.is_ok());
	IrqSpinLock outer_lock = outer.take();
	auto inner = IrqSpinLock::create("xbc_kunit_sync_inner", Gfp::kNoIo);
	XK_ASSERT(inner.is_ok());
	Guarded<unsigned, IrqSpinLock> counter(inner.take(), 40u);
	bool nested_off = false, still_off = false;
	{
		IrqSpinGuard g(outer_lock);
		counter.with([&](unsigned &v) {
			v += 2;
			nested_off = xbc_kunit_irqs_disabled();
		});
		still_off = xbc_kunit_irqs_disabled();	// the inner guard restored "off"
	}
	XK_EXPECT(nested_off);
	XK_EXPECT(still_off);
	XK_EXPECT(!xbc_kunit_irqs_disabled());
	XK_EXPECT_EQ(counter.with([](unsigned &v) { return v; }), 42u);

	auto m = Mutex::create("xbc_kunit_sync_mutex");
	XK_ASSERT(m.is_ok());
	Guarded<int, Mutex> value(m.take(), 0);
	for (int i = 0; i < 100; i++)
		value.with([&](int &v) { v += i; });
	// A mutex holder may sleep: the guard must not make it atomic.
	XK_EXPECT(!value.with([](int &) { return xbc_kunit_in_atomic(); }));
	XK_EXPECT_EQ(value.with([](int &v) { return v; }), 4950);
	auto m2 = Mutex::create("xbc_kunit_sync_trylock");
	XK_ASSERT(m2.is_ok());
	Mutex mutex = m2.take();	// moved: the handle has one owner
	bool took = false;
	if (mutex.try_lock()) {
		took = true;
		mutex.unlock();
	}
	XK_EXPECT(took);
}

XBC_KUNIT_CASE(sync_atomic)
{
	enum class State : uint8_t { kA = 1, kB = 7 };
	Atomic<State> state{State::kA};
	XK_EXPECT(state.load() == State::kA);
	XK_EXPECT(state.exchange(State::kB) == State::kA);
	XK_EXPECT(state.load_relaxed() == State::kB);

	Atomic<uint64_t> n{5};
	XK_EXPECT_EQ(n.add(10), 15u);
	XK_EXPECT_EQ(n.sub(1), 14u);
	n.add_serialised(6);
	n.sub_serialised(10);
	XK_EXPECT_EQ(n.load(), 10u);

	int target = 0;
	Atomic<int *> p;
	XK_EXPECT(p.load() == nullptr);
	p.store(&target);
	XK_EXPECT(p.load_relaxed() == &target);
	full_fence();
}
