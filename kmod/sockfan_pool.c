// SPDX-License-Identifier: GPL-2.0
/*
 * Fixed-size object pools for the hooks.
 *
 * The hooks run with preemption disabled (tracepoint and kretprobe
 * handlers), where PREEMPT_RT forbids calling the slab allocator: its
 * locks sleep there.  So the hooks only take objects from a free list
 * under a raw spinlock, and a work item refills the list in process
 * context with GFP_KERNEL whenever it runs low.  An empty pool is a
 * drop, counted like a full table: never a sleep in atomic context.
 *
 * Under KASAN (the debug kernel of the selftests) there is no free list:
 * every object comes from the slab and goes back to it at once, so that
 * KASAN's quarantine sees each free and a use after it is reported; an
 * object parked on a free list would hide it.  Not on PREEMPT_RT, where
 * the slab must not be called with preemption off.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "sockfan_pool.h"

#define POOLED	(!IS_ENABLED(CONFIG_KASAN) || IS_ENABLED(CONFIG_PREEMPT_RT))

/* free objects are chained through their first word */
struct free_obj {
	struct free_obj *next;
};

static void pool_push(struct sockfan_pool *pool, void *obj)
{
	struct free_obj *f = obj;

	f->next = pool->free;
	pool->free = f;
	pool->nfree++;
}

static void pool_refill(struct work_struct *work)
{
	struct sockfan_pool *pool = container_of(work, struct sockfan_pool, refill);
	void *obj;

	unsigned long flags;
	struct free_obj *f;

	if (!POOLED)
		return;
	/* after a wave of frees: back to the slab, here where it may sleep */
	for (;;) {
		raw_spin_lock_irqsave(&pool->lock, flags);
		f = pool->nfree > pool->high ? pool->free : NULL;
		if (f) {
			pool->free = f->next;
			pool->nfree--;
		}
		raw_spin_unlock_irqrestore(&pool->lock, flags);
		if (!f)
			break;
		kmem_cache_free(pool->cache, f);
	}
	while (READ_ONCE(pool->nfree) < pool->high) {
		obj = kmem_cache_alloc(pool->cache, GFP_KERNEL);
		if (!obj)
			return;
		raw_spin_lock_irqsave(&pool->lock, flags);
		pool_push(pool, obj);
		raw_spin_unlock_irqrestore(&pool->lock, flags);
	}
}

int sockfan_pool_init(struct sockfan_pool *pool, const char *name,
		      unsigned int size, unsigned int high)
{
	raw_spin_lock_init(&pool->lock);
	INIT_WORK(&pool->refill, pool_refill);
	pool->free = NULL;
	pool->nfree = 0;
	pool->high = high;
	pool->low = high / 4;
	pool->size = size;
	pool->in_use = 0;
	pool->cache = kmem_cache_create(name, max_t(unsigned int, size, sizeof(struct free_obj)),
					0, 0, NULL);
	if (!pool->cache)
		return -ENOMEM;
	pool_refill(&pool->refill);
	if (POOLED && pool->nfree < pool->high) {
		sockfan_pool_exit(pool);
		return -ENOMEM;
	}
	return 0;
}

/* count an object from the slab as handed out */
static void *pool_slab_get(struct sockfan_pool *pool, void *obj)
{
	unsigned long flags;

	if (obj) {
		raw_spin_lock_irqsave(&pool->lock, flags);
		pool->in_use++;
		raw_spin_unlock_irqrestore(&pool->lock, flags);
	}
	return obj;
}

/* a zeroed object, or NULL when the pool ran dry; any context */
void *sockfan_pool_get(struct sockfan_pool *pool)
{
	struct free_obj *f;
	unsigned long flags;
	bool low;

	if (!POOLED)
		return pool_slab_get(pool, kmem_cache_zalloc(pool->cache, GFP_ATOMIC));
	raw_spin_lock_irqsave(&pool->lock, flags);
	f = pool->free;
	if (f) {
		pool->free = f->next;
		pool->nfree--;
		pool->in_use++;
	}
	low = pool->nfree < pool->low;
	raw_spin_unlock_irqrestore(&pool->lock, flags);
	/* queue_work() only takes raw locks: fine with preemption off */
	if (low)
		queue_work(system_unbound_wq, &pool->refill);
	if (f)
		memset(f, 0, pool->size);
	return f;
}

/*
 * For callers that may allocate atomically (seeding, under the kernel's
 * hash locks: spinlock_t, not raw): the pool first, then the slab when
 * one bucket holds more than the pool (sockfan_pool_fill() between them).
 */
void *sockfan_pool_get_atomic(struct sockfan_pool *pool)
{
	return sockfan_pool_get(pool) ?:
	       pool_slab_get(pool, kmem_cache_zalloc(pool->cache, GFP_ATOMIC));
}

/* refill now, where it may sleep, rather than from the work item */
void sockfan_pool_fill(struct sockfan_pool *pool)
{
	might_sleep();
	if (READ_ONCE(pool->nfree) < pool->high)
		pool_refill(&pool->refill);
}

/* back to the pool; any context (the refill work trims a full pool) */
void sockfan_pool_put(struct sockfan_pool *pool, void *obj)
{
	unsigned long flags;
	bool full;

	if (!POOLED) {
		kmem_cache_free(pool->cache, obj);
		raw_spin_lock_irqsave(&pool->lock, flags);
		pool->in_use--;
		raw_spin_unlock_irqrestore(&pool->lock, flags);
		return;
	}
	raw_spin_lock_irqsave(&pool->lock, flags);
	pool_push(pool, obj);
	pool->in_use--;
	full = pool->nfree > 2 * pool->high;
	raw_spin_unlock_irqrestore(&pool->lock, flags);
	if (full)
		queue_work(system_unbound_wq, &pool->refill);
}

/*
 * Every object should have been put back before: returns how many were
 * not (a leak the caller reports; the slab then names them too).
 */
unsigned long sockfan_pool_exit(struct sockfan_pool *pool)
{
	unsigned long in_use = pool->in_use;
	struct free_obj *f;

	cancel_work_sync(&pool->refill);
	while (pool->free) {
		f = pool->free;
		pool->free = f->next;
		kmem_cache_free(pool->cache, f);
	}
	pool->nfree = 0;
	kmem_cache_destroy(pool->cache);
	pool->cache = NULL;
	return in_use;
}
