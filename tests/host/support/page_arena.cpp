// SPDX-License-Identifier: GPL-2.0-only
// The host page arena (see page_arena.hpp): one memfd, mapped once at a
// fixed base, handed out a page at a time. Host-only code: libc is fine.
#include "support/page_arena.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kapi/kapi.h"

namespace xbc::host::arena {
namespace {

// 1 GiB of address space; the memfd is sparse, so only live pages cost RAM.
constexpr size_t kPages = size_t(1) << 18;
constexpr size_t kBytes = kPages * KAPI_PAGE_SIZE;

struct State {
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int fd = -1;
	unsigned char *base = nullptr;
	size_t next_fresh = 0;		// pages below this were handed out once
	uint32_t *freed = nullptr;	// FIFO of freed page numbers
	size_t freed_head = 0, freed_count = 0;
	bool *live = nullptr;
	size_t live_count = 0;
	void (*free_hook)(void *) = nullptr;
} g;

[[noreturn]] void die(const char *what)
{
	perror(what);
	abort();
}

void init_locked()
{
	if (g.base)
		return;
	g.fd = memfd_create("xbc-host-pages", MFD_CLOEXEC);
	if (g.fd < 0)
		die("memfd_create");
	if (ftruncate(g.fd, static_cast<off_t>(kBytes)) != 0)
		die("ftruncate");
	void *p = mmap(nullptr, kBytes, PROT_NONE, MAP_SHARED, g.fd, 0);
	if (p == MAP_FAILED)
		die("mmap arena");
	g.base = static_cast<unsigned char *>(p);
	g.freed = static_cast<uint32_t *>(calloc(kPages, sizeof(uint32_t)));
	g.live = static_cast<bool *>(calloc(kPages, sizeof(bool)));
	if (!g.freed || !g.live)
		die("calloc arena");
}

// Page number of an arena address, or kPages if it is not one.
size_t index_of(const void *page)
{
	const auto *p = static_cast<const unsigned char *>(page);
	if (!g.base || p < g.base || p >= g.base + kBytes)
		return kPages;
	const size_t off = static_cast<size_t>(p - g.base);
	return off % KAPI_PAGE_SIZE ? kPages : off / KAPI_PAGE_SIZE;
}

void map_fixed(void *dst, size_t index, int prot)
{
	void *r = mmap(dst, KAPI_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED, g.fd,
		       static_cast<off_t>(index * KAPI_PAGE_SIZE));
	if (r == MAP_FAILED)
		die("mmap page");
}

struct Locked {
	Locked() { pthread_mutex_lock(&g.lock); }
	~Locked() { pthread_mutex_unlock(&g.lock); }
};

} // namespace

void *alloc_page() noexcept
{
	Locked l;
	init_locked();
	size_t i;
	// Fresh pages first and freed ones oldest first: a freed page stays
	// PROT_NONE as long as possible, so stale accesses fault.
	if (g.next_fresh < kPages) {
		i = g.next_fresh++;
	} else if (g.freed_count) {
		i = g.freed[g.freed_head];
		g.freed_head = (g.freed_head + 1) % kPages;
		g.freed_count--;
	} else {
		return nullptr;
	}
	void *page = g.base + i * KAPI_PAGE_SIZE;
	// The file range is a hole (new or punched), so it reads as zeroes.
	if (mprotect(page, KAPI_PAGE_SIZE, PROT_READ | PROT_WRITE) != 0)
		die("mprotect alloc");
	g.live[i] = true;
	g.live_count++;
	return page;
}

void free_page(void *page) noexcept
{
	if (auto *hook = __atomic_load_n(&g.free_hook, __ATOMIC_ACQUIRE))
		hook(page);
	Locked l;
	const size_t i = index_of(page);
	if (i == kPages || !g.live[i]) {
		fprintf(stderr, "page_arena: free of a non-arena or free page %p\n", page);
		abort();
	}
	// Whatever is mapped at this address now, put the page's own memory
	// back, drop its contents and fence it off.
	if (fallocate(g.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      static_cast<off_t>(i * KAPI_PAGE_SIZE), KAPI_PAGE_SIZE) != 0)
		die("fallocate punch");
	map_fixed(page, i, PROT_NONE);
	g.live[i] = false;
	g.live_count--;
	g.freed[(g.freed_head + g.freed_count) % kPages] = static_cast<uint32_t>(i);
	g.freed_count++;
}

bool is_live_page(const void *page) noexcept
{
	Locked l;
	const size_t i = index_of(page);
	return i != kPages && g.live[i];
}

void map_onto(void *dst, const void *src, bool readonly) noexcept
{
	Locked l;
	const size_t s = index_of(src);
	if (s == kPages || index_of(dst) == kPages)
		die("map_onto: not arena pages");
	map_fixed(dst, s, readonly ? PROT_READ : PROT_READ | PROT_WRITE);
}

void restore(void *dst) noexcept
{
	Locked l;
	const size_t d = index_of(dst);
	if (d == kPages)
		die("restore: not an arena page");
	map_fixed(dst, d, g.live[d] ? PROT_READ | PROT_WRITE : PROT_NONE);
}

void *map_contiguous(void *const *pages, unsigned n, bool readonly) noexcept
{
	Locked l;
	void *area = mmap(nullptr, size_t(n) * KAPI_PAGE_SIZE, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return nullptr;
	auto *at = static_cast<unsigned char *>(area);
	for (unsigned k = 0; k < n; k++) {
		const size_t s = index_of(pages[k]);
		if (s == kPages)
			die("map_contiguous: not an arena page");
		map_fixed(at + size_t(k) * KAPI_PAGE_SIZE, s,
			  readonly ? PROT_READ : PROT_READ | PROT_WRITE);
	}
	return area;
}

void unmap_contiguous(void *vaddr, unsigned n) noexcept
{
	if (vaddr && munmap(vaddr, size_t(n) * KAPI_PAGE_SIZE) != 0)
		die("munmap");
}

void set_free_hook(void (*hook)(void *page)) noexcept
{
	__atomic_store_n(&g.free_hook, hook, __ATOMIC_RELEASE);
}

size_t live_pages() noexcept
{
	Locked l;
	return g.live_count;
}

} // namespace xbc::host::arena
