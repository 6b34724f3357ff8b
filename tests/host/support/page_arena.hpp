// SPDX-License-Identifier: GPL-2.0-only
// Host page arena: every kapi page of the host tests lives in one memfd, at
// a fixed virtual address that maps its own file offset. That lets the fake
// grant table (fake_xen.cpp) make a backend page and a frontend page the
// SAME memory, as a real grant mapping does: mapping grant R onto backend
// page P mmaps the frontend page's file offset over P's address (MAP_FIXED,
// MAP_SHARED); unmapping maps P's own offset back. Free pages are PROT_NONE,
// so a use after free faults at once instead of corrupting a reused page.
//
// Not counted here: kapi_host.cpp counts page allocations as kapi ones.
#pragma once

#include <stddef.h>

namespace xbc::host::arena {

// A zeroed, writable page, or nullptr when the arena is exhausted.
[[nodiscard]] void *alloc_page() noexcept;
void free_page(void *page) noexcept;

// True for an arena page address that is currently allocated.
[[nodiscard]] bool is_live_page(const void *page) noexcept;

// Makes dst show src's memory (read-only if asked) until restore(dst).
void map_onto(void *dst, const void *src, bool readonly) noexcept;
void restore(void *dst) noexcept;

// A fresh virtually contiguous alias of n arena pages, in order (a
// vmap/xenbus_map_ring_valloc stand-in). nullptr on failure.
[[nodiscard]] void *map_contiguous(void *const *pages, unsigned n, bool readonly) noexcept;
void unmap_contiguous(void *vaddr, unsigned n) noexcept;

// Called with each page about to be freed (the fake Xen checks that no
// grant or mapping still refers to it). nullptr removes the hook.
void set_free_hook(void (*hook)(void *page)) noexcept;

// Pages currently allocated from the arena.
[[nodiscard]] size_t live_pages() noexcept;

} // namespace xbc::host::arena
