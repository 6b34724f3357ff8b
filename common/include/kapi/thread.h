/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kapi thread: kernel threads and wait queues, for the backend's one worker
 * thread per ring. The thread is freezable (system suspend parks it in its
 * wait), and a wait queue is a plain wait_queue_head the irq handler and the
 * bio completion path may wake from any context.
 *
 * Waits take a condition callback instead of a macro expression; the shim
 * evaluates it with the wait queue's usual ordering (condition checked after
 * the task is queued), so a wake between check and sleep is never lost.
 */
#ifndef KAPI_THREAD_H
#define KAPI_THREAD_H

#include "kapi/kapi.h"
#include "kapi/memory.h"

KAPI_BEGIN_DECLS

struct kapi_thread;
/* The thread body. It must keep running until kapi_thread_should_stop(). */
typedef int (*kapi_thread_fn)(void *ctx) KAPI_NOEXCEPT;

/*
 * Creates and starts a freezable kernel thread (kthread_run); @name is the
 * task name, truncated to 15 characters. 0 or -errno.
 */
int kapi_thread_run(kapi_thread_fn fn, void *ctx, const char *name,
		    struct kapi_thread **out) KAPI_NOEXCEPT;
/*
 * Asks the thread to stop, wakes it, waits for its body to return and frees
 * the handle (kthread_stop). Returns the body's return value. NULL: no-op, 0.
 */
int kapi_thread_stop(struct kapi_thread *thread) KAPI_NOEXCEPT;
/* In a kapi thread: true once kapi_thread_stop() was called on it. */
bool kapi_thread_should_stop(void) KAPI_NOEXCEPT;
/*
 * In a kapi thread: enters the refrigerator if the system is freezing
 * (try_to_freeze). A thread that may stay busy without ever sleeping in
 * kapi_waitq_wait_timeout calls it once per loop, or it blocks suspend.
 * True if the thread was frozen.
 */
bool kapi_try_to_freeze(void) KAPI_NOEXCEPT;
/* Sleeps for @ms milliseconds (msleep); process context only. */
void kapi_msleep(unsigned int ms) KAPI_NOEXCEPT;
/* A scheduling point inside a long loop (cond_resched). */
void kapi_cond_resched(void) KAPI_NOEXCEPT;

struct kapi_waitq;
/* Must be called from process context. NULL on allocation failure. */
struct kapi_waitq *kapi_waitq_create(enum kapi_gfp gfp) KAPI_NOEXCEPT;
void kapi_waitq_destroy(struct kapi_waitq *wq) KAPI_NOEXCEPT;
/* Wakes every waiter (wake_up); safe from hard-irq context. */
void kapi_waitq_wake(struct kapi_waitq *wq) KAPI_NOEXCEPT;

/* A wait condition: evaluated repeatedly, must not sleep. */
typedef bool (*kapi_wait_cond_fn)(void *ctx) KAPI_NOEXCEPT;
/*
 * Sleeps (freezable) until cond(ctx) is true or @timeout jiffies pass
 * (wait_event_freezable_timeout). Returns true if the condition held, false
 * on timeout. A thread that must also stop on request checks
 * kapi_thread_should_stop() inside its condition.
 */
bool kapi_waitq_wait_timeout(struct kapi_waitq *wq, kapi_wait_cond_fn cond, void *ctx,
			     unsigned long timeout) KAPI_NOEXCEPT;
/* As a timeout: no timeout at all (MAX_SCHEDULE_TIMEOUT). */
#define KAPI_WAIT_FOREVER (~0UL >> 1)

/*
 * A work item on the system workqueue: runs @fn(ctx) later in process
 * context (may sleep), once per queueing that found it idle.
 */
struct kapi_work;
typedef void (*kapi_work_fn)(void *ctx) KAPI_NOEXCEPT;
/* INIT_WORK on a new item. NULL on allocation failure. */
struct kapi_work *kapi_work_create(kapi_work_fn fn, void *ctx, enum kapi_gfp gfp) KAPI_NOEXCEPT;
/* queue_work on the system workqueue; any context, including hard irq. */
void kapi_work_queue(struct kapi_work *work) KAPI_NOEXCEPT;
/*
 * Cancels the item if queued, waits for a running @fn to return
 * (cancel_work_sync), and frees it. Never from the item's own @fn. NULL: no-op.
 */
void kapi_work_destroy(struct kapi_work *work) KAPI_NOEXCEPT;
/*
 * A workqueue of the module's own (alloc_workqueue): destroying it waits
 * for every item queued on it, so module_exit can be sure none of its
 * work functions still runs. NULL on allocation failure.
 */
struct kapi_workqueue;
struct kapi_workqueue *kapi_workqueue_create(const char *name) KAPI_NOEXCEPT;
/* queue_work on @wq; any context. */
void kapi_work_queue_on(struct kapi_workqueue *wq, struct kapi_work *work) KAPI_NOEXCEPT;
/* destroy_workqueue: drains @wq, then frees it. NULL: no-op. */
void kapi_workqueue_destroy(struct kapi_workqueue *wq) KAPI_NOEXCEPT;
/* Milliseconds to jiffies, rounded up (msecs_to_jiffies). */
unsigned long kapi_msecs_to_jiffies(unsigned int ms) KAPI_NOEXCEPT;

KAPI_END_DECLS

#endif /* KAPI_THREAD_H */
