// SPDX-License-Identifier: GPL-2.0-only
// Test controls for the fake kapi thread (fake_thread.cpp). Host tests never
// start a real thread: kapi_thread_run only records the body, and a test
// drives the engine's work function itself, one deterministic step at a time.
#pragma once

#include <stddef.h>

#include "kapi/thread.h"

namespace xbc::host {

struct ThreadStats {
	size_t live;		// started and not yet stopped
	size_t started;
	size_t stopped;
	size_t wakes;		// kapi_waitq_wake calls
	size_t waits;		// kapi_waitq_wait_timeout calls
	unsigned long last_wait_timeout;	// the last one's timeout (jiffies)
	size_t sleeps;		// kapi_msleep calls
	size_t freeze_checks;	// kapi_try_to_freeze calls
};
[[nodiscard]] ThreadStats thread_stats() noexcept;

// Make the next kapi_thread_run fail with -errno (once).
void fail_next_thread_run(int errno_value) noexcept;

// Runs the body of the most recently started live thread named `name`
// (prefix match) with kapi_thread_should_stop() true, as kthread_stop
// would: the body must return promptly. Returns false if none is live.
bool run_thread_body_until_stop(const char *name_prefix) noexcept;

// Runs the body of the most recently started live thread named `name`
// (prefix match) as is: it loops until something (a hook below) makes
// kapi_thread_should_stop() true. Returns false if none is live.
bool run_thread_body(const char *name_prefix) noexcept;

// Called by every kapi_try_to_freeze (the system "freezing"); nullptr
// removes it.
void set_freeze_hook(void (*fn)(void *ctx), void *ctx) noexcept;

// Runs queued work items (kapi_work_queue), oldest first, including any
// queued meanwhile; returns how many ran. Work never runs on its own.
size_t run_works() noexcept;
// Work items queued and not yet run.
[[nodiscard]] size_t works_pending() noexcept;

// What kapi_thread_should_stop() returns outside run_thread_body_until_stop.
void set_thread_should_stop(bool stop) noexcept;

// Called by every kapi_waitq_wait_timeout before it evaluates its
// condition, and by every kapi_msleep: lets a test make progress happen
// while the engine "sleeps" (e.g. complete the bios a drain waits for).
// Queued work items run then too. nullptr removes it.
void set_wait_hook(void (*fn)(void *ctx), void *ctx) noexcept;

} // namespace xbc::host
