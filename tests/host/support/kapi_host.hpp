// SPDX-License-Identifier: GPL-2.0-only
// Test controls for the userspace kapi (kapi_host.cpp): allocation counting
// and failure injection, a settable clock, and captured log lines.
#pragma once

#include <stddef.h>

namespace xbc::host {

struct AllocStats {
	size_t live;		// kapi_malloc/zalloc/page_alloc results not yet freed
	size_t total;		// successful allocations since start
	size_t injected_failures;
};

[[nodiscard]] AllocStats alloc_stats() noexcept;
// Let the next `n` allocations succeed, then fail every one until
// clear_alloc_failure(). n = 0 fails the very next allocation.
void fail_allocs_after(size_t n) noexcept;
void clear_alloc_failure() noexcept;
// For the fakes of other kapi subsystems (fake_xen.cpp): one kernel-side
// allocation (a page, a bio, a bound irq, ...). take_alloc() returns false
// when an injected failure hits it; otherwise it counts as live until
// release_alloc().
[[nodiscard]] bool take_alloc() noexcept;
void release_alloc() noexcept;

// Atomic context (hard irq, bio completion): the fake Xen sets it around
// the callbacks it runs. A sleeping allocation (gfp other than ATOMIC) or a
// mutex taken meanwhile is counted: in the kernel it would be a bug.
void set_atomic_context(bool atomic) noexcept;
[[nodiscard]] bool in_atomic_context() noexcept;
[[nodiscard]] size_t sleeps_in_atomic() noexcept;

// A kapi mutex taken again by the thread that holds it: in the kernel, a
// deadlock. The fake counts it and goes on (the retake and its unlock are
// no-ops), so a test sees it instead of hanging.
[[nodiscard]] size_t mutex_self_deadlocks() noexcept;

// kapi_jiffies() returns this; it only moves when a test moves it.
void set_jiffies(unsigned long j) noexcept;
void advance_jiffies(unsigned long delta) noexcept;
inline constexpr unsigned kHz = 250;

// Every kapi_log line (ratelimited ones too) is counted and the last kept.
[[nodiscard]] size_t log_count() noexcept;
[[nodiscard]] const char *last_log() noexcept;

// Runs `body` once per allocation it makes, failing allocation i on run i,
// and checks after each run that nothing leaked. Returns the number of
// allocations the successful run made. Used to prove every failure path.
template <typename Body> size_t for_each_alloc_failure(Body &&body);

// Registered kapi shrinkers, as the kernel's reclaim sees them.
[[nodiscard]] size_t shrinkers_registered() noexcept;
// Sum of every shrinker's count().
[[nodiscard]] unsigned long shrinkers_count() noexcept;
// Memory pressure: every shrinker's scan(nr); returns the pages freed
// (KAPI_SHRINK_STOP answers count as 0).
unsigned long shrink_all(unsigned long nr) noexcept;

} // namespace xbc::host

#include "support/kapi_host_inl.hpp"
