// SPDX-License-Identifier: GPL-2.0-only
// Fake kapi thread (common/include/kapi/thread.h) for host tests: threads are
// recorded, never scheduled; waits evaluate their condition once and return,
// so a test steps the engine deterministically.
#include <string.h>

#include <algorithm>
#include <deque>

#include "kapi/sync.h"
#include "kapi/thread.h"
#include "support/fake_thread.hpp"

struct kapi_thread {
	kapi_thread_fn fn;
	void *ctx;
	char name[16];
	kapi_thread *next;
	bool ran;
};

struct kapi_waitq {
	size_t wakes;
};

struct kapi_work {
	kapi_work_fn fn;
	void *ctx;
	bool queued;
};

namespace {

xbc::host::ThreadStats g_stats;
kapi_thread *g_threads;
int g_fail_next;
bool g_should_stop;
void (*g_wait_hook)(void *);
void *g_wait_ctx;
void (*g_freeze_hook)(void *);
void *g_freeze_ctx;
std::deque<kapi_work *> g_works;	// queued, in order

kapi_thread *find_live(const char *prefix) noexcept
{
	for (kapi_thread *t = g_threads; t; t = t->next)
		if (strncmp(t->name, prefix, strlen(prefix)) == 0)
			return t;
	return nullptr;
}

void unlink(kapi_thread *t) noexcept
{
	for (kapi_thread **p = &g_threads; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			return;
		}
	}
}

} // namespace

namespace xbc::host {

ThreadStats thread_stats() noexcept { return g_stats; }
void fail_next_thread_run(int errno_value) noexcept { g_fail_next = errno_value; }
void set_thread_should_stop(bool stop) noexcept { g_should_stop = stop; }
void set_wait_hook(void (*fn)(void *), void *ctx) noexcept
{
	g_wait_hook = fn;
	g_wait_ctx = ctx;
}

void set_freeze_hook(void (*fn)(void *), void *ctx) noexcept
{
	g_freeze_hook = fn;
	g_freeze_ctx = ctx;
}

bool run_thread_body_until_stop(const char *prefix) noexcept
{
	kapi_thread *t = find_live(prefix);
	if (!t)
		return false;
	const bool saved = g_should_stop;
	g_should_stop = true;
	t->fn(t->ctx);
	g_should_stop = saved;
	t->ran = true;
	return true;
}

size_t run_works() noexcept
{
	size_t n = 0;
	while (!g_works.empty()) {
		kapi_work *w = g_works.front();
		g_works.pop_front();
		w->queued = false;
		w->fn(w->ctx);
		n++;
	}
	return n;
}

size_t works_pending() noexcept { return g_works.size(); }

bool run_thread_body(const char *prefix) noexcept
{
	kapi_thread *t = find_live(prefix);
	if (!t)
		return false;
	t->fn(t->ctx);
	t->ran = true;
	return true;
}

} // namespace xbc::host

extern "C" {

int kapi_thread_run(kapi_thread_fn fn, void *ctx, const char *name, struct kapi_thread **out) noexcept
{
	if (g_fail_next) {
		const int e = g_fail_next;
		g_fail_next = 0;
		return -e;
	}
	// A counted allocation, like the shim's kzalloc.
	auto *t = static_cast<kapi_thread *>(kapi_zalloc(sizeof(kapi_thread), KAPI_GFP_KERNEL));
	if (!t)
		return -12; // ENOMEM
	t->fn = fn;
	t->ctx = ctx;
	strncpy(t->name, name, sizeof(t->name) - 1);
	t->next = g_threads;
	g_threads = t;
	g_stats.live++;
	g_stats.started++;
	*out = t;
	return 0;
}

int kapi_thread_stop(struct kapi_thread *t) noexcept
{
	if (!t)
		return 0;
	unlink(t);
	g_stats.live--;
	g_stats.stopped++;
	kapi_free(t);
	return 0;
}

bool kapi_thread_should_stop(void) noexcept { return g_should_stop; }
void kapi_msleep(unsigned int) noexcept
{
	g_stats.sleeps++;
	if (g_wait_hook)
		g_wait_hook(g_wait_ctx);
	xbc::host::run_works();
}
bool kapi_try_to_freeze(void) noexcept
{
	g_stats.freeze_checks++;
	if (g_freeze_hook)
		g_freeze_hook(g_freeze_ctx);
	return false;
}
void kapi_cond_resched(void) noexcept {}

struct kapi_waitq *kapi_waitq_create(enum kapi_gfp gfp) noexcept
{
	return static_cast<kapi_waitq *>(kapi_zalloc(sizeof(kapi_waitq), gfp));
}

void kapi_waitq_destroy(struct kapi_waitq *wq) noexcept { kapi_free(wq); }

void kapi_waitq_wake(struct kapi_waitq *wq) noexcept
{
	wq->wakes++;
	g_stats.wakes++;
}

bool kapi_waitq_wait_timeout(struct kapi_waitq *, kapi_wait_cond_fn cond, void *ctx,
			     unsigned long timeout) noexcept
{
	g_stats.waits++;
	g_stats.last_wait_timeout = timeout;
	if (g_wait_hook)
		g_wait_hook(g_wait_ctx);
	// While the caller sleeps, the system workqueue runs.
	xbc::host::run_works();
	return cond(ctx);
}

struct kapi_work *kapi_work_create(kapi_work_fn fn, void *ctx, enum kapi_gfp gfp) noexcept
{
	auto *w = static_cast<kapi_work *>(kapi_zalloc(sizeof(kapi_work), gfp));
	if (!w)
		return nullptr;
	w->fn = fn;
	w->ctx = ctx;
	return w;
}

void kapi_work_queue(struct kapi_work *w) noexcept
{
	// Like queue_work: an item already pending is not queued twice.
	if (w->queued)
		return;
	w->queued = true;
	g_works.push_back(w);
}

void kapi_work_destroy(struct kapi_work *w) noexcept
{
	if (!w)
		return;
	// cancel_work_sync: a pending run is dropped.
	g_works.erase(std::remove(g_works.begin(), g_works.end(), w), g_works.end());
	kapi_free(w);
}

// One queue for every item: work still only runs in run_works().
struct kapi_workqueue {
	int unused;
};

struct kapi_workqueue *kapi_workqueue_create(const char *) noexcept
{
	return static_cast<kapi_workqueue *>(kapi_zalloc(sizeof(kapi_workqueue), KAPI_GFP_KERNEL));
}

void kapi_work_queue_on(struct kapi_workqueue *, struct kapi_work *w) noexcept
{
	kapi_work_queue(w);
}

void kapi_workqueue_destroy(struct kapi_workqueue *wq) noexcept
{
	if (!wq)
		return;
	// destroy_workqueue drains what was queued.
	xbc::host::run_works();
	kapi_free(wq);
}

unsigned long kapi_msecs_to_jiffies(unsigned int ms) noexcept
{
	return (static_cast<unsigned long>(ms) * kapi_hz() + 999) / 1000;
}

} // extern "C"
