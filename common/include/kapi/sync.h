/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kapi sync: locks as opaque, shim-allocated objects (their size changes with
 * lockdep and debug options, so the C++ side cannot embed them), plus the
 * memory barriers the shared rings need.
 */
#ifndef KAPI_SYNC_H
#define KAPI_SYNC_H

#include "kapi/kapi.h"
#include "kapi/memory.h"

KAPI_BEGIN_DECLS

/* A spinlock usable from irq context. @name labels it for lockdep. */
struct kapi_spinlock;
struct kapi_spinlock *kapi_spinlock_create(const char *name, enum kapi_gfp gfp) KAPI_NOEXCEPT;
void kapi_spinlock_destroy(struct kapi_spinlock *lock) KAPI_NOEXCEPT;
unsigned long kapi_spin_lock_irqsave(struct kapi_spinlock *lock) KAPI_NOEXCEPT;
void kapi_spin_unlock_irqrestore(struct kapi_spinlock *lock, unsigned long flags) KAPI_NOEXCEPT;

/* A sleeping mutex, process context only. */
struct kapi_mutex;
struct kapi_mutex *kapi_mutex_create(const char *name, enum kapi_gfp gfp) KAPI_NOEXCEPT;
void kapi_mutex_destroy(struct kapi_mutex *mutex) KAPI_NOEXCEPT;
void kapi_mutex_lock(struct kapi_mutex *mutex) KAPI_NOEXCEPT;
/* Takes the mutex only if free: true if taken (mutex_trylock). */
bool kapi_mutex_trylock(struct kapi_mutex *mutex) KAPI_NOEXCEPT;
void kapi_mutex_unlock(struct kapi_mutex *mutex) KAPI_NOEXCEPT;

/* Barriers between this domain and another over shared memory (virt_*mb). */
void kapi_virt_mb(void) KAPI_NOEXCEPT;
void kapi_virt_rmb(void) KAPI_NOEXCEPT;
void kapi_virt_wmb(void) KAPI_NOEXCEPT;

/* Monotonic time in jiffies, and the tick rate, for LRU ages and timeouts. */
unsigned long kapi_jiffies(void) KAPI_NOEXCEPT;
unsigned int kapi_hz(void) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* KAPI_SYNC_H */
