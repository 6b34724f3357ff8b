// SPDX-License-Identifier: GPL-2.0-only
// Userspace implementation of the hypervisor-free kapi headers (memory, log,
// sync, time) for host tests. Counting every allocation lets each test prove
// it leaks nothing; failure injection drives every error path.
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <set>
#include <vector>

#include "kapi/log.h"
#include "kapi/memory.h"
#include "kapi/sync.h"
#include "support/kapi_host.hpp"
#include "support/page_arena.hpp"

struct kapi_shrinker {
	kapi_shrink_count_fn count;
	kapi_shrink_scan_fn scan;
	void *ctx;
};

namespace {
std::vector<kapi_shrinker *> g_shrinkers;
} // namespace

namespace {

struct {
	size_t live;
	size_t total;
	size_t injected;
	bool failing;
	size_t succeed_left;
} g_alloc;

bool g_atomic;
size_t g_sleeps_in_atomic;
size_t g_self_deadlocks;
std::set<void *> g_kv;	// blocks from kapi_kvzalloc, which kapi_free must not take

unsigned g_spin_depth;	// spinlocks held: atomic context, as in the kernel

void check_may_sleep(bool sleeps) noexcept
{
	if (sleeps && (g_atomic || g_spin_depth))
		g_sleeps_in_atomic++;
}

unsigned long g_jiffies = 1000;	// not 0, so "never used" (0) stays distinct
size_t g_log_count;
char g_last_log[512];

bool should_fail() noexcept
{
	if (!g_alloc.failing)
		return false;
	if (g_alloc.succeed_left > 0) {
		g_alloc.succeed_left--;
		return false;
	}
	g_alloc.injected++;
	return true;
}

void *counted(void *p) noexcept
{
	if (p) {
		g_alloc.live++;
		g_alloc.total++;
	}
	return p;
}

void vlog(const char *fmt, va_list ap) noexcept
{
	vsnprintf(g_last_log, sizeof(g_last_log), fmt, ap);
	g_log_count++;
	if (getenv("XBC_HOST_LOG"))
		fprintf(stderr, "kapi_log: %s", g_last_log);
}

} // namespace

namespace xbc::host {

size_t shrinkers_registered() noexcept { return g_shrinkers.size(); }

unsigned long shrinkers_count() noexcept
{
	unsigned long n = 0;
	for (kapi_shrinker *s : g_shrinkers)
		n += s->count(s->ctx);
	return n;
}

unsigned long shrink_all(unsigned long nr) noexcept
{
	unsigned long freed = 0;
	for (kapi_shrinker *s : g_shrinkers) {
		const unsigned long n = s->scan(s->ctx, nr);
		freed += n == KAPI_SHRINK_STOP ? 0 : n;
	}
	return freed;
}
AllocStats alloc_stats() noexcept { return {g_alloc.live, g_alloc.total, g_alloc.injected}; }
void fail_allocs_after(size_t n) noexcept
{
	g_alloc.failing = true;
	g_alloc.succeed_left = n;
}
void clear_alloc_failure() noexcept { g_alloc.failing = false; }
bool take_alloc() noexcept
{
	if (should_fail())
		return false;
	g_alloc.live++;
	g_alloc.total++;
	return true;
}
void release_alloc() noexcept { g_alloc.live--; }
void set_atomic_context(bool atomic) noexcept { g_atomic = atomic; }
bool in_atomic_context() noexcept { return g_atomic || g_spin_depth; }
size_t sleeps_in_atomic() noexcept { return g_sleeps_in_atomic; }
size_t mutex_self_deadlocks() noexcept { return g_self_deadlocks; }
void set_jiffies(unsigned long j) noexcept { g_jiffies = j; }
void advance_jiffies(unsigned long d) noexcept { g_jiffies += d; }
size_t log_count() noexcept { return g_log_count; }
const char *last_log() noexcept { return g_last_log; }
} // namespace xbc::host

extern "C" {

// Like kmalloc, power-of-two sizes up to a page come back naturally aligned:
// xbc::alloc_bytes relies on that for over-aligned types.
void *kapi_malloc(size_t size, enum kapi_gfp gfp) noexcept
{
	check_may_sleep(gfp != KAPI_GFP_ATOMIC);
	// Above KMALLOC_MAX_SIZE (x86_64: 4 MiB) kmalloc always fails, and
	// the page allocator WARNs.
	if (size > (size_t(4) << 20)) {
		fprintf(stderr, "kapi_malloc: %zu bytes is above KMALLOC_MAX_SIZE\n", size);
		return nullptr;
	}
	if (should_fail())
		return nullptr;
	const bool pow2 = size >= 8 && size <= KAPI_PAGE_SIZE && (size & (size - 1)) == 0;
	return counted(pow2 ? aligned_alloc(size, size) : malloc(size));
}

void *kapi_zalloc(size_t size, enum kapi_gfp gfp) noexcept
{
	void *p = kapi_malloc(size, gfp);
	if (p)
		memset(p, 0, size);
	return p;
}

void kapi_free(void *ptr) noexcept
{
	if (!ptr)
		return;
	if (g_kv.count(ptr)) {
		fprintf(stderr, "kapi_free of a kapi_kvzalloc block\n");
		abort();
	}
	g_alloc.live--;
	free(ptr);
}

void *kapi_kvzalloc(size_t size, enum kapi_gfp gfp) noexcept
{
	if (gfp == KAPI_GFP_ATOMIC) {
		fprintf(stderr, "kapi_kvzalloc in atomic context\n");
		abort();
	}
	check_may_sleep(true);
	if (should_fail())
		return nullptr;
	void *p = counted(calloc(1, size ? size : 1));
	if (p)
		g_kv.insert(p);
	return p;
}

void kapi_kvfree(void *ptr) noexcept
{
	if (!ptr)
		return;
	if (!g_kv.erase(ptr)) {
		fprintf(stderr, "kapi_kvfree of a block not from kapi_kvzalloc\n");
		abort();
	}
	check_may_sleep(true);	// vfree may sleep
	g_alloc.live--;
	free(ptr);
}

// Pages come from the memfd arena, so the fake grant table can share them
// between "domains"; they count as allocations like any other.
struct kapi_page *kapi_page_alloc(enum kapi_gfp gfp) noexcept
{
	check_may_sleep(gfp != KAPI_GFP_ATOMIC);
	if (should_fail())
		return nullptr;
	return static_cast<struct kapi_page *>(counted(xbc::host::arena::alloc_page()));
}

void kapi_page_free(struct kapi_page *page) noexcept
{
	if (!page)
		return;
	g_alloc.live--;
	xbc::host::arena::free_page(page);
}

struct kapi_shrinker *kapi_shrinker_register(const char *, kapi_shrink_count_fn count,
					     kapi_shrink_scan_fn scan, void *ctx) noexcept
{
	auto *s = static_cast<kapi_shrinker *>(kapi_zalloc(sizeof(kapi_shrinker), KAPI_GFP_KERNEL));
	if (!s)
		return nullptr;
	*s = {count, scan, ctx};
	g_shrinkers.push_back(s);
	return s;
}

void kapi_shrinker_unregister(struct kapi_shrinker *s) noexcept
{
	if (!s)
		return;
	std::erase(g_shrinkers, s);
	kapi_free(s);
}

// The host "struct page" is the page itself.
void *kapi_page_address(struct kapi_page *page) noexcept { return page; }

void kapi_log(enum kapi_log_level, const char *fmt, ...) noexcept
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void kapi_log_ratelimited(enum kapi_log_level, const char *fmt, ...) noexcept
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

// Locks: real pthread mutexes, so a test may use threads; a lock is a
// counted allocation like any other.
struct kapi_spinlock {
	pthread_mutex_t m;
};
struct kapi_mutex {
	pthread_mutex_t m;
	unsigned phantom;	// retakes by the owner, counted in g_self_deadlocks
};

struct kapi_spinlock *kapi_spinlock_create(const char *, enum kapi_gfp gfp) noexcept
{
	auto *l = static_cast<kapi_spinlock *>(kapi_malloc(sizeof(kapi_spinlock), gfp));
	if (l)
		pthread_mutex_init(&l->m, nullptr);
	return l;
}
void kapi_spinlock_destroy(struct kapi_spinlock *l) noexcept
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->m);
	kapi_free(l);
}
unsigned long kapi_spin_lock_irqsave(struct kapi_spinlock *l) noexcept
{
	pthread_mutex_lock(&l->m);
	g_spin_depth++;
	return 0x200;	// an "IF set" flags word, opaque to callers
}
void kapi_spin_unlock_irqrestore(struct kapi_spinlock *l, unsigned long) noexcept
{
	g_spin_depth--;
	pthread_mutex_unlock(&l->m);
}

struct kapi_mutex *kapi_mutex_create(const char *, enum kapi_gfp gfp) noexcept
{
	auto *m = static_cast<kapi_mutex *>(kapi_malloc(sizeof(kapi_mutex), gfp));
	if (m) {
		pthread_mutexattr_t a;
		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
		pthread_mutex_init(&m->m, &a);
		pthread_mutexattr_destroy(&a);
		m->phantom = 0;
	}
	return m;
}
void kapi_mutex_destroy(struct kapi_mutex *m) noexcept
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->m);
	kapi_free(m);
}
void kapi_mutex_lock(struct kapi_mutex *m) noexcept
{
	check_may_sleep(true);
	if (pthread_mutex_lock(&m->m) == EDEADLK) {
		g_self_deadlocks++;
		m->phantom++;
	}
}
bool kapi_mutex_trylock(struct kapi_mutex *m) noexcept
{
	return pthread_mutex_trylock(&m->m) == 0;
}
void kapi_mutex_unlock(struct kapi_mutex *m) noexcept
{
	if (m->phantom) {
		m->phantom--;
		return;
	}
	pthread_mutex_unlock(&m->m);
}

void kapi_virt_mb(void) noexcept { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void kapi_virt_rmb(void) noexcept { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
void kapi_virt_wmb(void) noexcept { __atomic_thread_fence(__ATOMIC_RELEASE); }

unsigned long kapi_jiffies(void) noexcept { return g_jiffies; }
unsigned int kapi_hz(void) noexcept { return xbc::host::kHz; }

} // extern "C"
