/* SPDX-License-Identifier: GPL-2.0 */
/* Object pools the hooks can take from with preemption off (PREEMPT_RT). */
#ifndef _SOCKFAN_POOL_H
#define _SOCKFAN_POOL_H

#include <linux/spinlock.h>
#include <linux/workqueue.h>

struct kmem_cache;

struct sockfan_pool {
	raw_spinlock_t lock;
	void *free;			/* chain of free objects */
	unsigned int nfree;
	unsigned int low;		/* refill below this */
	unsigned int high;		/* keep at most this many free */
	unsigned int size;
	unsigned long in_use;		/* handed out, not put back */
	struct kmem_cache *cache;
	struct work_struct refill;
};

int sockfan_pool_init(struct sockfan_pool *pool, const char *name,
		      unsigned int size, unsigned int high);
void *sockfan_pool_get(struct sockfan_pool *pool);
void *sockfan_pool_get_atomic(struct sockfan_pool *pool);
void sockfan_pool_fill(struct sockfan_pool *pool);
void sockfan_pool_put(struct sockfan_pool *pool, void *obj);
unsigned long sockfan_pool_exit(struct sockfan_pool *pool);

#endif /* _SOCKFAN_POOL_H */
