// SPDX-License-Identifier: GPL-2.0-only
/*
 * kapi thread shim (common/include/kapi/thread.h): kthreads and wait queues.
 * Translation only; the policy (what the thread does, when it waits) lives
 * in the C++ engine.
 */
#include <linux/freezer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "shim.h"

#include "kapi/thread.h"

struct kapi_thread {
	struct task_struct *task;
	kapi_thread_fn fn;
	void *ctx;
};

static int kapi_thread_trampoline(void *arg)
{
	struct kapi_thread *t = arg;

	set_freezable();
	return t->fn(t->ctx);
}

int kapi_thread_run(kapi_thread_fn fn, void *ctx, const char *name,
		    struct kapi_thread **out)
{
	struct kapi_thread *t = kzalloc(sizeof(*t), GFP_KERNEL);
	struct task_struct *task;

	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->ctx = ctx;
	task = kthread_create(kapi_thread_trampoline, t, "%s", name);
	if (IS_ERR(task)) {
		kfree(t);
		return PTR_ERR(task);
	}
	/* Held until stop, so kthread_stop never sees a freed task. */
	get_task_struct(task);
	t->task = task;
	wake_up_process(task);
	*out = t;
	return 0;
}

int kapi_thread_stop(struct kapi_thread *t)
{
	int ret;

	if (!t)
		return 0;
	ret = kthread_stop(t->task);
	put_task_struct(t->task);
	kfree(t);
	return ret;
}

bool kapi_thread_should_stop(void)
{
	return kthread_should_stop();
}

bool kapi_try_to_freeze(void)
{
	return try_to_freeze();
}

void kapi_msleep(unsigned int ms)
{
	msleep(ms);
}

void kapi_cond_resched(void)
{
	cond_resched();
}

struct kapi_waitq {
	wait_queue_head_t head;
};

struct kapi_waitq *kapi_waitq_create(enum kapi_gfp gfp)
{
	struct kapi_waitq *wq;

	wq = kzalloc(sizeof(*wq), gfp == KAPI_GFP_ATOMIC ? GFP_ATOMIC :
			gfp == KAPI_GFP_NOIO ? GFP_NOIO : GFP_KERNEL);
	if (wq)
		init_waitqueue_head(&wq->head);
	return wq;
}

void kapi_waitq_destroy(struct kapi_waitq *wq)
{
	kfree(wq);
}

void kapi_waitq_wake(struct kapi_waitq *wq)
{
	wake_up(&wq->head);
}

bool kapi_waitq_wait_timeout(struct kapi_waitq *wq, kapi_wait_cond_fn cond, void *ctx,
			     unsigned long timeout)
{
	long ret = wait_event_freezable_timeout(wq->head, cond(ctx), timeout);

	return ret > 0;
}

struct kapi_work {
	struct work_struct work;
	kapi_work_fn fn;
	void *ctx;
};

static void kapi_work_trampoline(struct work_struct *work)
{
	struct kapi_work *w = container_of(work, struct kapi_work, work);

	w->fn(w->ctx);
}

struct kapi_work *kapi_work_create(kapi_work_fn fn, void *ctx, enum kapi_gfp gfp)
{
	struct kapi_work *w = kzalloc(sizeof(*w), kapi_to_gfp(gfp));

	if (!w)
		return NULL;
	INIT_WORK(&w->work, kapi_work_trampoline);
	w->fn = fn;
	w->ctx = ctx;
	return w;
}

void kapi_work_queue(struct kapi_work *w)
{
	queue_work(system_wq, &w->work);
}

void kapi_work_destroy(struct kapi_work *w)
{
	if (!w)
		return;
	cancel_work_sync(&w->work);
	kfree(w);
}

struct kapi_workqueue *kapi_workqueue_create(const char *name)
{
	return (struct kapi_workqueue *)alloc_workqueue("%s", 0, 0, name);
}

void kapi_work_queue_on(struct kapi_workqueue *wq, struct kapi_work *w)
{
	queue_work((struct workqueue_struct *)wq, &w->work);
}

void kapi_workqueue_destroy(struct kapi_workqueue *wq)
{
	if (wq)
		destroy_workqueue((struct workqueue_struct *)wq);
}

unsigned long kapi_msecs_to_jiffies(unsigned int ms)
{
	return msecs_to_jiffies(ms);
}
