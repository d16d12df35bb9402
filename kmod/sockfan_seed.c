// SPDX-License-Identifier: GPL-2.0
/*
 * What existed before insmod.  Once the hooks are attached, walk the
 * kernel's own TCP tables the way inet_diag does for ss
 * (inet_diag_dump_icsk()): the listening hash, each bucket under its
 * lock, then the established hash, each bucket under its ehash lock,
 * and record the listeners and passive connections found there.  Then
 * the accept queues name the listener of each connection still queued,
 * and the processes' file tables name who holds what, as ss -p finds it.
 *
 * The hooks run meanwhile: whatever they recorded first is skipped, and
 * a socket is recorded under the hash lock its CLOSE has to take to
 * unhash it, before the state change and its hook, so the hook always
 * finds (and removes) what seeding added.  Every network namespace that
 * exists is covered (net_rwsem keeps them and their tables); one made
 * later starts without sockets, and the hooks see all of its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fdtable.h>
#include <linux/net.h>
#include <linux/rwsem.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <net/inet_connection_sock.h>
#include <net/inet_hashtables.h>
#include <net/tcp_states.h>

#include "sockfan_compat.h"
#include "sockfan_mod.h"

/*
 * Connections in these states are recorded.  SYN_RECV, a child not
 * yet ESTABLISHED: its hook may have fired just before the load with
 * the state not yet stored; seeding it too leaves no such gap (the hook
 * finds the record when it comes after).
 */
#define SEED_CONN_STATES	(TCPF_SYN_RECV | TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | \
				 TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 | TCPF_CLOSING | \
				 TCPF_LAST_ACK)

/* tables walked already: the namespaces share the global ones */
#define SEED_TABLES		64

struct seed_walk {
	const void *walked[SEED_TABLES];
	unsigned int nwalked;
	unsigned int listeners;
	unsigned int conns;
};

/* true the first time @table is seen (past SEED_TABLES, every time) */
static bool seed_first(struct seed_walk *w, const void *table)
{
	unsigned int i;

	for (i = 0; i < w->nwalked; i++)
		if (w->walked[i] == table)
			return false;
	if (w->nwalked < SEED_TABLES)
		w->walked[w->nwalked++] = table;
	return true;
}

/* a full TCP socket (not TIME_WAIT, not a request) in one of @states */
static bool seed_wanted(const struct sock *sk, unsigned int states)
{
	return sk_fullsock(sk) && sk->sk_protocol == IPPROTO_TCP &&
	       (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       ((1 << READ_ONCE(sk->sk_state)) & states);
}

static void seed_listeners(struct inet_hashinfo *h, struct seed_walk *w)
{
	struct inet_listen_hashbucket *ilb;
	struct hlist_nulls_node *node;
	struct sock *sk;
	unsigned int i;

	for (i = 0; i <= h->lhash2_mask; i++) {
		ilb = &h->lhash2[i];
		if (hlist_nulls_empty(&ilb->nulls_head))
			continue;
		sockfan_seed_reserve();
		spin_lock_bh(&ilb->lock);
		sk_nulls_for_each(sk, node, &ilb->nulls_head)
			if (seed_wanted(sk, TCPF_LISTEN) && sockfan_seed_listener(sk))
				w->listeners++;
		spin_unlock_bh(&ilb->lock);
		cond_resched();
	}
}

static void seed_conns(struct inet_hashinfo *h, struct seed_walk *w)
{
	struct inet_ehash_bucket *head;
	struct hlist_nulls_node *node;
	struct sock *sk;
	spinlock_t *lock;	/* the kernel's type for it */
	unsigned int i;

	for (i = 0; i <= h->ehash_mask; i++) {
		head = &h->ehash[i];
		if (hlist_nulls_empty(&head->chain))
			continue;
		sockfan_seed_reserve();
		lock = inet_ehash_lockp(h, i);
		spin_lock_bh(lock);
		sk_nulls_for_each(sk, node, &head->chain)
			if (seed_wanted(sk, SEED_CONN_STATES) && sockfan_seed_conn(sk))
				w->conns++;
		spin_unlock_bh(lock);
		cond_resched();
	}
}

static int seed_owner_fd(const void *task, struct file *file, unsigned int fd)
{
	struct socket *sock = sock_from_file(file);
	struct sock *sk = sock ? READ_ONCE(sock->sk) : NULL;

	if (sk && (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	    sk->sk_protocol == IPPROTO_TCP)
		sockfan_seed_owner(sk, (struct task_struct *)task);
	return 0;
}

/* every process's file table, oldest process first, as ss -p reads /proc */
static void seed_owners(void)
{
	struct task_struct *p;

	rcu_read_lock();
	for_each_process(p) {
		task_lock(p);
		if (p->files)
			iterate_fd(p->files, 0, seed_owner_fd, p);
		task_unlock(p);
	}
	rcu_read_unlock();
}

static void seed_all_listeners(struct seed_walk *w)
{
	struct net *net;

	w->nwalked = 0;
	for_each_net(net)
		if (seed_first(w, sockfan_tcp_hashinfo(net)->lhash2))
			seed_listeners(sockfan_tcp_hashinfo(net), w);
}

int sockfan_seed(void)
{
	struct seed_walk *w = kzalloc(sizeof(*w), GFP_KERNEL);
	struct net *net;

	if (!w)
		return -ENOMEM;
	down_read(&net_rwsem);
	/* listeners first: a connection is passive if its port has one */
	seed_all_listeners(w);
	w->nwalked = 0;
	for_each_net(net)
		if (seed_first(w, sockfan_tcp_hashinfo(net)->ehash))
			seed_conns(sockfan_tcp_hashinfo(net), w);
	/*
	 * listen() hashes its socket after the LISTEN hook: one whose hook
	 * fired just before the load may have been hashed only after its
	 * bucket was walked.  A second look costs little.
	 */
	seed_all_listeners(w);
	for_each_net(net)
		sockfan_seed_queues(net);
	up_read(&net_rwsem);
	seed_owners();
	pr_info("found %u listeners and %u passive connections at load\n",
		w->listeners, w->conns);
	kfree(w);
	return 0;
}
