// SPDX-License-Identifier: GPL-2.0-only
// The only kapi the fuzzed code calls: the shared-memory barriers. The
// fuzzers are single-threaded; these are the host kapi's fences.
#include "kapi/sync.h"

void kapi_virt_mb(void) noexcept { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void kapi_virt_rmb(void) noexcept { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
void kapi_virt_wmb(void) noexcept { __atomic_thread_fence(__ATOMIC_RELEASE); }
