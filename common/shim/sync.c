// SPDX-License-Identifier: GPL-2.0-only
/*
 * kapi sync (common/include/kapi/sync.h): spinlocks and mutexes allocated
 * here, because their size depends on lockdep and debug options the C++
 * side cannot see; barriers and the jiffies clock.
 *
 * Each lock registers its own lockdep key (a no-op without lockdep), so
 * lockdep reports it under the caller's name and never confuses two kapi
 * locks taken nested for a recursive acquisition of one class.
 */
#include "shim.h"
#include "kapi/sync.h"

#include <linux/jiffies.h>
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <asm/barrier.h>

struct kapi_spinlock {
	spinlock_t lock;
	struct lock_class_key key;
};

struct kapi_mutex {
	struct mutex mutex;
	struct lock_class_key key;
};

struct kapi_spinlock *kapi_spinlock_create(const char *name, enum kapi_gfp gfp)
{
	struct kapi_spinlock *l = kzalloc(sizeof(*l), kapi_to_gfp(gfp));

	if (!l)
		return NULL;
	lockdep_register_key(&l->key);
	spin_lock_init(&l->lock);
	lockdep_set_class_and_name(&l->lock, &l->key, name);
	return l;
}

void kapi_spinlock_destroy(struct kapi_spinlock *lock)
{
	if (!lock)
		return;
	lockdep_unregister_key(&lock->key);
	kfree(lock);
}

unsigned long kapi_spin_lock_irqsave(struct kapi_spinlock *lock)
{
	unsigned long flags;

	spin_lock_irqsave(&lock->lock, flags);
	return flags;
}

void kapi_spin_unlock_irqrestore(struct kapi_spinlock *lock, unsigned long flags)
{
	spin_unlock_irqrestore(&lock->lock, flags);
}

struct kapi_mutex *kapi_mutex_create(const char *name, enum kapi_gfp gfp)
{
	struct kapi_mutex *m = kzalloc(sizeof(*m), kapi_to_gfp(gfp));

	if (!m)
		return NULL;
	lockdep_register_key(&m->key);
	__mutex_init(&m->mutex, name, &m->key);
	return m;
}

void kapi_mutex_destroy(struct kapi_mutex *mutex)
{
	if (!mutex)
		return;
	mutex_destroy(&mutex->mutex);
	lockdep_unregister_key(&mutex->key);
	kfree(mutex);
}

void kapi_mutex_lock(struct kapi_mutex *mutex)
{
	mutex_lock(&mutex->mutex);
}

bool kapi_mutex_trylock(struct kapi_mutex *mutex)
{
	return mutex_trylock(&mutex->mutex);
}

void kapi_mutex_unlock(struct kapi_mutex *mutex)
{
	mutex_unlock(&mutex->mutex);
}

void kapi_virt_mb(void)
{
	virt_mb();
}

void kapi_virt_rmb(void)
{
	virt_rmb();
}

void kapi_virt_wmb(void)
{
	virt_wmb();
}

unsigned long kapi_jiffies(void)
{
	return jiffies;
}

unsigned int kapi_hz(void)
{
	return HZ;
}
