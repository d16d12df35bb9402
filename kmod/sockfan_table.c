// SPDX-License-Identifier: GPL-2.0
/*
 * Live state of passive TCP connections, their listeners and per-port
 * totals, written from the hooks and read by the /proc files.
 *
 * The connection hash is bounded (sockfan_max_conns): past the bound a
 * new connection is counted in "drops" and not recorded, so a connection
 * flood costs a counter, not memory.  Writers of a hash bucket hold its
 * raw spinlock; a namespace's listeners and ports change far less often
 * and share its lock (struct sockfan_net), taken inside a bucket's when
 * both are.  Readers walk under RCU; nothing is freed before a grace
 * period.
 *
 * Each port's distinct peers are kept as connections come and go, so
 * that the ports file reads counters, not the connections: a second
 * hash links every connection by (namespace, local port, remote
 * address).  A connection whose peer has none there yet makes one more
 * peer of its port; the last one to leave, one less.  A peer bucket's
 * lock is taken inside the connection bucket's, never the other way,
 * so that a connection is in both hashes or in neither.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/hash.h>
#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sock_diag.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <net/inet_connection_sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/request_sock.h>

#include "sockfan_compat.h"
#include "sockfan_mod.h"
#include "sockfan_pool.h"

/* port entries at most, all namespaces: a port scan costs a counter */
#define SOCKFAN_MAX_PORTS	65536

struct sockfan_bucket {
	struct hlist_head head;
	raw_spinlock_t lock;
};

static struct sockfan_bucket *conn_hash;
static struct sockfan_bucket *peer_hash;	/* a quarter as many buckets */
static u32 peer_seed;				/* peers cannot aim at one bucket */
static unsigned int conn_hash_bits;
static atomic_t conn_count = ATOMIC_INIT(0);
static struct sockfan_pool conn_pool;

static atomic_t nports = ATOMIC_INIT(0);
static struct sockfan_pool listener_pool;
static struct sockfan_pool port_pool;
static atomic64_t drops = ATOMIC64_INIT(0);
static atomic64_t events = ATOMIC64_INIT(0);

/*
 * Cookies of connections the table had no room for, for a moment: the
 * ESTABLISHED and accept() hooks of one connection can run on two CPUs
 * at once, both before the other records it, and its drop is counted
 * once.  A later drop overwrites a slot: that race lasts microseconds.
 */
#define SOCKFAN_DROP_SLOTS_BITS	8
static u64 dropped[1 << SOCKFAN_DROP_SLOTS_BITS];
static DEFINE_RAW_SPINLOCK(drop_lock);

/*
 * The same key the BPF programs build (bpf/sockfan.bpf.c, fill_key()):
 * IPv4 addresses v4-mapped, ports in host order.  At CLOSE the bound
 * port is already zeroed by inet_put_port() (the state is stored last
 * in tcp_set_state()), while the source port field still holds it.
 */
void sockfan_key_from_sk(struct sockfan_key *key, const struct sock *sk)
{
	memset(key, 0, sizeof(*key));
	key->family = sk->sk_family;
	if (sk->sk_family == AF_INET) {
		ipv6_addr_set_v4mapped(sk->sk_rcv_saddr, (struct in6_addr *)key->laddr);
		ipv6_addr_set_v4mapped(sk->sk_daddr, (struct in6_addr *)key->raddr);
	} else {
		sockfan_sk_v6_addrs(sk, key->laddr, key->raddr);
	}
	key->lport = sk->sk_num;
	if (!key->lport)
		key->lport = ntohs(inet_sk(sk)->inet_sport);
	key->rport = ntohs(sk->sk_dport);
	key->netns = sock_net(sk)->ns.inum;
}

/* the socket's cookie, as SO_COOKIE and `ss -e` show it (made on first use) */
u64 sockfan_sk_cookie(struct sock *sk)
{
	u32 c[2];

	sock_diag_save_cookie(sk, c);
	return (u64)c[1] << 32 | c[0];
}

/* the calling process, held for a connection's record (conn_free_rcu() puts it) */
static struct pid *current_process(void)
{
	return get_pid(task_tgid(current));
}

static void task_id(u32 *pid, char *comm)
{
	*pid = task_tgid_nr(current);
	/* like bpf_get_current_comm(): no task_lock() in atomic context */
	strscpy_pad(comm, current->comm, SOCKFAN_COMM_LEN);
}

static void conn_free_rcu(struct rcu_head *head)
{
	struct sockfan_conn *c = container_of(head, struct sockfan_conn, rcu);

	sock_put(c->sk);
	put_pid(c->pid);
	sockfan_pool_put(&conn_pool, c);
}

static void listener_free_rcu(struct rcu_head *head)
{
	struct sockfan_listener *l = container_of(head, struct sockfan_listener, rcu);

	sock_put(l->sk);
	sockfan_pool_put(&listener_pool, l);
}

static void port_free_rcu(struct rcu_head *head)
{
	sockfan_pool_put(&port_pool, container_of(head, struct sockfan_port, rcu));
}

static bool key_eq(const struct sockfan_key *a, const struct sockfan_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static struct sockfan_bucket *conn_bucket(const struct sockfan_key *key)
{
	return &conn_hash[jhash2((const u32 *)key, sizeof(*key) / sizeof(u32), 0) &
			  ((1U << conn_hash_bits) - 1)];
}

static struct sockfan_bucket *peer_bucket(const struct sockfan_key *key)
{
	u32 h = jhash(key->raddr, sizeof(key->raddr),
		      peer_seed ^ key->netns ^ ((u32)key->lport << 16));

	return &peer_hash[hash_32(h, conn_hash_bits - 2)];
}

static bool same_peer(const struct sockfan_key *a, const struct sockfan_key *b)
{
	return a->netns == b->netns && a->lport == b->lport &&
	       !memcmp(a->raddr, b->raddr, sizeof(a->raddr));
}

/*
 * @c enters the table (under its connection bucket's lock): true when
 * its peer is new to its port.  The peer hash holds one connection per
 * peer, so a lookup walks the distinct peers of a bucket, never the
 * connections of a busy one.
 */
static bool peer_add(struct sockfan_conn *c)
{
	struct sockfan_bucket *b = peer_bucket(&c->key);
	struct sockfan_conn *leader;

	INIT_HLIST_NODE(&c->peer_node);
	raw_spin_lock(&b->lock);
	hlist_for_each_entry(leader, &b->head, peer_node) {
		if (same_peer(&leader->key, &c->key)) {
			list_add(&c->peer_ring, &leader->peer_ring);
			raw_spin_unlock(&b->lock);
			return false;
		}
	}
	INIT_LIST_HEAD(&c->peer_ring);
	hlist_add_head(&c->peer_node, &b->head);
	raw_spin_unlock(&b->lock);
	return true;
}

/*
 * @c leaves the table (under its connection bucket's lock): true when
 * it was its peer's last connection on its port.  A leader that leaves
 * hands its place in the hash to the next one of the ring.
 */
static bool peer_del(struct sockfan_conn *c)
{
	struct sockfan_bucket *b = peer_bucket(&c->key);
	struct sockfan_conn *next;
	bool last;

	raw_spin_lock(&b->lock);
	last = list_empty(&c->peer_ring);
	if (!hlist_unhashed(&c->peer_node)) {
		if (!last) {
			next = list_first_entry(&c->peer_ring, struct sockfan_conn, peer_ring);
			hlist_add_before(&next->peer_node, &c->peer_node);
		}
		hlist_del_init(&c->peer_node);
	}
	list_del_init(&c->peer_ring);
	raw_spin_unlock(&b->lock);
	return last;
}

/* a connection of @p left the table (under sn->lock); @last: its peer's last */
static void port_conn_left(struct sockfan_port *p, bool last)
{
	if (p->established)
		p->established--;
	if (last && p->peers)
		p->peers--;
}

static struct hlist_head *port_bucket(struct sockfan_net *sn, u16 port)
{
	return &sn->ports[hash_32(port, SOCKFAN_NET_PORT_BITS)];
}

/* under rcu_read_lock() or sn->lock */
static struct sockfan_port *port_find(struct sockfan_net *sn, u16 port)
{
	struct sockfan_port *p;

	hlist_for_each_entry_rcu(p, port_bucket(sn, port), node,
				 lockdep_is_held(&sn->lock))
		if (p->port == port)
			return p;
	return NULL;
}

/* under sn->lock: time @ns into @p's histogram @h */
static void port_hist_add(struct sockfan_port *p, int h, u64 ns)
{
	WRITE_ONCE(p->hist_sum_ns[h], p->hist_sum_ns[h] + ns);
	WRITE_ONCE(p->hist[h][sockfan_hist_slot(ns)], p->hist[h][sockfan_hist_slot(ns)] + 1);
}

/*
 * Under sn->lock; NULL when the namespace is going, out of memory or
 * past SOCKFAN_MAX_PORTS.  The caller counts the drop: it knows what was
 * lost, and counts it once.  Every record of a namespace is made after
 * its port entry, under this test of sn->dying.
 */
static struct sockfan_port *port_get(struct sockfan_net *sn, u16 port)
{
	struct sockfan_port *p;

	if (sn->dying)
		return NULL;
	p = port_find(sn, port);
	if (p)
		return p;
	if (atomic_inc_return(&nports) > SOCKFAN_MAX_PORTS)
		goto full;
	p = sockfan_pool_get(&port_pool);
	if (!p)
		goto full;
	p->port = port;
	hlist_add_head_rcu(&p->node, port_bucket(sn, port));
	return p;
full:
	atomic_dec(&nports);
	return NULL;
}

void sockfan_listen(struct sock *sk)
{
	struct sockfan_net *sn = sockfan_net(sock_net(sk));
	struct sockfan_listener *l;
	struct sockfan_port *p;
	unsigned long flags;

	l = sockfan_pool_get(&listener_pool);
	if (!l) {
		atomic64_inc(&drops);
		return;
	}
	sockfan_key_from_sk(&l->key, sk);
	l->cookie = sockfan_sk_cookie(sk);
	l->born_ns = ktime_get_ns();
	task_id(&l->pid, l->comm);

	raw_spin_lock_irqsave(&sn->lock, flags);
	p = port_get(sn, l->key.lport);
	if (p) {
		p->listeners++;
		sock_hold(sk);
		l->sk = sk;
		list_add_tail_rcu(&l->node, &sn->listeners);
		l = NULL;
	} else if (!sn->dying) {
		atomic64_inc(&drops);
	}
	raw_spin_unlock_irqrestore(&sn->lock, flags);
	if (l)
		sockfan_pool_put(&listener_pool, l);
	else
		atomic64_inc(&events);
}

void sockfan_listen_close(struct sock *sk)
{
	struct sockfan_net *sn = sockfan_net(sock_net(sk));
	u64 cookie = sockfan_sk_cookie(sk);
	struct sockfan_listener *l, *found = NULL;
	struct sockfan_port *p;
	unsigned long flags;

	raw_spin_lock_irqsave(&sn->lock, flags);
	list_for_each_entry(l, &sn->listeners, node) {
		if (l->cookie == cookie) {
			found = l;
			list_del_rcu(&l->node);
			p = port_find(sn, l->key.lport);
			if (p && p->listeners)
				p->listeners--;
			break;
		}
	}
	raw_spin_unlock_irqrestore(&sn->lock, flags);
	if (found) {
		call_rcu(&found->rcu, listener_free_rcu);
		atomic64_inc(&events);
	}
}

/*
 * The listener a new connection came through.  The child does not point
 * back to it, so take the listener on the same port whose address is the
 * child's, else a wildcard one.  Within a SO_REUSEPORT group this is a
 * guess until accept() names the real one (sockfan_accepted()).
 * Under rcu_read_lock().
 */
static u64 guess_listener(struct sockfan_net *sn, const struct sockfan_key *key)
{
	struct sockfan_listener *l;
	u64 any = 0;

	list_for_each_entry_rcu(l, &sn->listeners, node) {
		switch (sockfan_listener_fit(&l->key, key)) {
		case 2:
			return l->cookie;
		case 1:
			if (!any)
				any = l->cookie;
			break;
		}
	}
	return any;
}

/*
 * The entry of @sk, in the bucket of @key, under rcu or its bucket lock.
 * The entry holds @sk, so the pointer cannot name another socket meanwhile.
 */
static struct sockfan_conn *conn_find(struct sockfan_bucket *b,
				      const struct sockfan_key *key, const struct sock *sk)
{
	struct sockfan_conn *c;

	hlist_for_each_entry_rcu(c, &b->head, node, lockdep_is_held(&b->lock))
		if (c->sk == sk && key_eq(&c->key, key))
			return c;
	return NULL;
}

/* count @sk's drop, unless the other hook of the same connection did */
static void drop_once(struct sock *sk)
{
	u64 cookie = sockfan_sk_cookie(sk);
	u64 *slot = &dropped[hash_64(cookie, SOCKFAN_DROP_SLOTS_BITS)];
	unsigned long flags;
	bool first;

	raw_spin_lock_irqsave(&drop_lock, flags);
	first = *slot != cookie;
	*slot = cookie;
	raw_spin_unlock_irqrestore(&drop_lock, flags);
	if (first)
		atomic64_inc(&drops);
}

/* how conn_track() came to see a connection */
#define TRACK_ACCEPTED		BIT(0)	/* accept() returned it already */
#define TRACK_COUNT_DROP	BIT(1)	/* no room: count it in drops */
#define TRACK_SEEDED		BIT(2)	/* found at load: @listener is final */

/* what conn_insert() did with a connection's record */
enum conn_insert_result {
	CONN_ADDED,		/* recorded */
	CONN_ACCEPTED,		/* recorded already: this is its accept() */
	CONN_KNOWN,		/* recorded already, nothing new */
	CONN_FULL,		/* max_conns reached: not recorded */
};

/*
 * A record for @sk, not yet in the table; its listener @listener, or
 * when 0 (and not seeded) the likely one.  NULL: out of records.
 * Under rcu_read_lock().
 */
static struct sockfan_conn *conn_new(struct sockfan_net *sn, struct sock *sk,
				     u64 listener, unsigned int how)
{
	struct sockfan_conn *c;

	c = how & TRACK_SEEDED ? sockfan_pool_get_atomic(&conn_pool) :
				 sockfan_pool_get(&conn_pool);
	if (!c)
		return NULL;
	sockfan_key_from_sk(&c->key, sk);
	/* generated now: close and the /proc files read it from @sk */
	sockfan_sk_cookie(sk);
	c->born_ns = ktime_get_ns();
	if (!listener && !(how & TRACK_SEEDED))
		listener = guess_listener(sn, &c->key);
	c->listener = listener;
	return c;
}

/*
 * Under @b's lock: add @c for @sk, unless the other hook of the same
 * connection did (ESTABLISHED and accept() may race on two CPUs, and
 * whichever comes second must find the first's record, not fill the
 * table's last place).  A record of a closed socket with the same
 * four-tuple, whose CLOSE was not seen, goes: the four-tuple is free
 * again.  *@wait: ESTABLISHED to accept(), for CONN_ACCEPTED.
 */
static enum conn_insert_result conn_insert(struct sockfan_bucket *b, struct sockfan_net *sn,
					   struct sockfan_port *p, struct sockfan_conn *c,
					   struct sock *sk, bool accepted, u64 *wait)
{
	struct sockfan_conn *old, *dup = NULL;
	struct hlist_node *tmp;
	bool last, new_peer;

	hlist_for_each_entry_safe(old, tmp, &b->head, node) {
		if (!key_eq(&old->key, &c->key))
			continue;
		if (old->sk == sk) {
			dup = old;
		} else if (READ_ONCE(old->sk->sk_state) == TCP_CLOSE) {
			hlist_del_rcu(&old->node);
			last = peer_del(old);
			atomic_dec(&conn_count);
			call_rcu(&old->rcu, conn_free_rcu);
			raw_spin_lock(&sn->lock);
			port_conn_left(p, last);
			raw_spin_unlock(&sn->lock);
		}
		/* else another live socket with this four-tuple (VRF): keep both */
	}
	if (dup) {
		if (!accepted || dup->pid)
			return CONN_KNOWN;
		dup->listener = c->listener;
		dup->pid = current_process();
		*wait = c->born_ns - dup->born_ns;
		return CONN_ACCEPTED;
	}
	if (atomic_inc_return(&conn_count) > sockfan_max_conns) {
		atomic_dec(&conn_count);
		return CONN_FULL;
	}
	sock_hold(sk);
	c->sk = sk;
	if (accepted)
		c->pid = current_process();
	hlist_add_head_rcu(&c->node, &b->head);
	new_peer = peer_add(c);
	/*
	 * Counted before the bucket is let go: a CLOSE of @c on another
	 * CPU (a reset racing accept()) takes it first, and then finds
	 * the counts it takes back
	 */
	raw_spin_lock(&sn->lock);
	p->established++;
	p->peers += new_peer;
	raw_spin_unlock(&sn->lock);
	return CONN_ADDED;
}

/* the port's counters for what conn_insert() did */
static void conn_account(struct sockfan_net *sn, struct sockfan_port *p,
			 enum conn_insert_result r, unsigned int how, u64 wait)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&sn->lock, flags);
	/* established and peers: conn_insert(), under the bucket */
	if (r == CONN_ADDED && (how & TRACK_SEEDED))
		p->seeded_conns++;
	if (how & TRACK_ACCEPTED)
		p->accepted++;
	if (r == CONN_ACCEPTED) {
		p->wait_ns += wait;
		p->wait_max_ns = max(p->wait_max_ns, wait);
		port_hist_add(p, SOCKFAN_HIST_ACCEPT_WAIT, wait);
	}
	raw_spin_unlock_irqrestore(&sn->lock, flags);
	atomic64_inc(&events);
}

/*
 * Start following passive connection @sk, coming from @listener (0 when
 * unknown); TRACK_ACCEPTED when accept() already returned it, which a
 * Fast Open child (and, rarely, an ordinary one) allows before
 * ESTABLISHED.  A connection that cannot be recorded counts in drops
 * once: when its handshake completed, when accept() is the first sight
 * of it, or when it was found at load.  True when a record was added.
 */
static bool conn_track(struct sock *sk, u64 listener, unsigned int how)
{
	enum conn_insert_result r = CONN_FULL;
	struct sockfan_net *sn;
	struct sockfan_bucket *b;
	struct sockfan_port *p;
	struct sockfan_conn *c;
	unsigned long flags;
	u64 wait = 0;

	/*
	 * From the test of sn->dying in port_get() to the insert: the grace
	 * period after the namespace's pre_exit waits for it (and for the
	 * listener list guess_listener() walks).
	 */
	rcu_read_lock();
	sn = sockfan_net(sock_net(sk));
	c = conn_new(sn, sk, listener, how);
	if (!c)
		goto out;
	raw_spin_lock_irqsave(&sn->lock, flags);
	p = port_get(sn, c->key.lport);
	raw_spin_unlock_irqrestore(&sn->lock, flags);
	if (p) {
		b = conn_bucket(&c->key);
		raw_spin_lock_irqsave(&b->lock, flags);
		r = conn_insert(b, sn, p, c, sk, how & TRACK_ACCEPTED, &wait);
		raw_spin_unlock_irqrestore(&b->lock, flags);
		if (r == CONN_ADDED || r == CONN_ACCEPTED)
			conn_account(sn, p, r, how, wait);
	}
	if (r != CONN_ADDED)
		sockfan_pool_put(&conn_pool, c);
out:
	if (r == CONN_FULL && (how & TRACK_COUNT_DROP) && !READ_ONCE(sn->dying))
		drop_once(sk);
	rcu_read_unlock();
	return r == CONN_ADDED;
}

/*
 * A child reached ESTABLISHED from SYN_RECV.  Not yet grafted onto a
 * socket means a passive open waiting in (or entering) an accept queue;
 * a grafted one was either accept()ed already (tracked then) or opened
 * simultaneously from both ends (an active open: not fan-out).
 */
static struct sockfan_listener *listener_of(const struct sock *sk);

void sockfan_established(struct sock *sk, const struct sock *listener)
{
	/* the child's first RTT sample: SYN-ACK sent to its ACK (srtt_us is 8x) */
	u64 ns = (u64)(READ_ONCE(tcp_sk(sk)->srtt_us) >> 3) * NSEC_PER_USEC;
	struct sockfan_listener *l = NULL;
	struct sockfan_net *sn;
	struct sockfan_port *p;
	unsigned long flags;

	if (READ_ONCE(sk->sk_socket))
		return;
	rcu_read_lock();
	if (listener)
		l = listener_of(listener);
	/* counted even when the table had no room for its record */
	if (l)
		atomic64_inc(&l->handshakes);
	conn_track(sk, l ? l->cookie : 0, TRACK_COUNT_DROP);
	sn = sockfan_net(sock_net(sk));
	raw_spin_lock_irqsave(&sn->lock, flags);
	p = port_get(sn, sk->sk_num);
	if (p) {
		p->handshakes++;
		port_hist_add(p, SOCKFAN_HIST_HANDSHAKE, ns);
	}
	raw_spin_unlock_irqrestore(&sn->lock, flags);
	rcu_read_unlock();
}

void sockfan_close(struct sock *sk)
{
	struct sockfan_net *sn = sockfan_net(sock_net(sk));
	u64 cookie = atomic64_read(&sk->sk_cookie);
	struct sockfan_conn *c = NULL;
	struct sockfan_key key;
	struct sockfan_bucket *b;
	struct sockfan_port *p;
	bool last = false;
	unsigned long flags;
	int pass;
	u64 life;

	if (!cookie)
		return;		/* never given one: not a socket we follow */
	sockfan_key_from_sk(&key, sk);
	/*
	 * IPV6_ADDRFORM turns a v4-mapped AF_INET6 socket into AF_INET
	 * after the fact: the same addresses, another family.
	 */
	for (pass = 0; !c && pass < 2; pass++) {
		if (pass == 1) {
			if (key.family != AF_INET)
				break;
			key.family = AF_INET6;
		}
		b = conn_bucket(&key);
		raw_spin_lock_irqsave(&b->lock, flags);
		c = conn_find(b, &key, sk);
		if (c) {
			hlist_del_rcu(&c->node);
			last = peer_del(c);
		}
		raw_spin_unlock_irqrestore(&b->lock, flags);
	}
	if (!c)
		return;
	atomic_dec(&conn_count);

	raw_spin_lock_irqsave(&sn->lock, flags);
	p = port_find(sn, key.lport);
	if (p) {
		life = ktime_get_ns() - c->born_ns;
		port_conn_left(p, last);
		p->closed++;
		p->lifetime_ns += life;
		port_hist_add(p, SOCKFAN_HIST_LIFETIME, life);
	}
	raw_spin_unlock_irqrestore(&sn->lock, flags);
	call_rcu(&c->rcu, conn_free_rcu);
	atomic64_inc(&events);
}

void sockfan_accepted(struct sock *listener, struct sock *child)
{
	struct sockfan_net *sn = sockfan_net(sock_net(child));
	u64 lcookie = sockfan_sk_cookie(listener);
	struct sockfan_listener *l;
	struct sockfan_bucket *b;
	struct sockfan_conn *c;
	struct sockfan_key key;
	struct sockfan_port *p;
	unsigned long flags;
	bool hit = false;
	u64 wait = 0;

	sockfan_key_from_sk(&key, child);
	b = conn_bucket(&key);
	raw_spin_lock_irqsave(&b->lock, flags);
	c = conn_find(b, &key, child);
	if (c && !c->pid) {
		c->listener = lcookie;
		wait = ktime_get_ns() - c->born_ns;
		c->pid = current_process();
		hit = true;
	}
	raw_spin_unlock_irqrestore(&b->lock, flags);
	if (!c) {
		/*
		 * handed out before ESTABLISHED (Fast Open: still SYN_RECV),
		 * or not recorded then, when its drop was counted already
		 */
		conn_track(child, lcookie, TRACK_ACCEPTED |
			   (READ_ONCE(child->sk_state) == TCP_SYN_RECV ? TRACK_COUNT_DROP : 0));
	} else if (!hit) {
		return;
	}

	raw_spin_lock_irqsave(&sn->lock, flags);
	list_for_each_entry(l, &sn->listeners, node) {
		if (l->cookie == lcookie) {
			l->accepted++;
			break;
		}
	}
	p = hit ? port_find(sn, key.lport) : NULL;
	if (p) {
		p->accepted++;
		p->wait_ns += wait;
		p->wait_max_ns = max(p->wait_max_ns, wait);
		port_hist_add(p, SOCKFAN_HIST_ACCEPT_WAIT, wait);
	}
	raw_spin_unlock_irqrestore(&sn->lock, flags);
	atomic64_inc(&events);
}

/* the record of listening socket @sk, or NULL; under rcu_read_lock() */
static struct sockfan_listener *listener_of(const struct sock *sk)
{
	struct sockfan_listener *l;

	list_for_each_entry_rcu(l, &sockfan_net(sock_net(sk))->listeners, node)
		if (l->sk == sk)
			return l;
	return NULL;
}

/* a listener lookup chose @sk (a SO_REUSEPORT member, or the only one) */
void sockfan_listener_hit(const struct sock *sk)
{
	struct sockfan_listener *l;

	rcu_read_lock();
	l = listener_of(sk);
	if (l)
		atomic64_inc(&l->hits);
	rcu_read_unlock();
}

/* @sk's accept queue was full: the kernel drops the segment (ListenOverflows) */
void sockfan_listener_overflow(const struct sock *sk)
{
	struct sockfan_listener *l;

	rcu_read_lock();
	l = listener_of(sk);
	if (l)
		atomic64_inc(&l->overflows);
	rcu_read_unlock();
}

/*
 * A SYN to @port found no socket and is answered with RST: a connection
 * refused.  A port scan would make one entry per port: the pool bounds
 * that, and what does not fit is a drop.
 */
void sockfan_refused(const struct net *net, u16 port)
{
	struct sockfan_net *sn = sockfan_net(net);
	struct sockfan_port *p;
	unsigned long flags;

	raw_spin_lock_irqsave(&sn->lock, flags);
	p = port_get(sn, port);
	if (p)
		p->refused++;
	else if (!sn->dying)
		atomic64_inc(&drops);	/* the port's entry, not the RST */
	raw_spin_unlock_irqrestore(&sn->lock, flags);
	atomic64_inc(&events);
}

/*
 * Any other segment that found no socket: one for a connection that is
 * gone, most often an outgoing one's ephemeral port.  It says nothing
 * about a port, so it makes no port entry: the namespace counts it.
 */
void sockfan_stray(const struct net *net)
{
	atomic64_inc(&sockfan_net(net)->strays);
	atomic64_inc(&events);
}

/*
 * The listener of a connection found at load, when only one can be it:
 * the one on the connection's address, else the one wildcard listener
 * of its port and family.  0 (unknown) when several could be (a
 * SO_REUSEPORT group): accept() was not seen, so there is nothing to
 * tell them apart by.  Under rcu_read_lock().
 */
static u64 sole_listener(struct sockfan_net *sn, const struct sockfan_key *key)
{
	struct sockfan_listener *l;
	unsigned int exact = 0, any = 0;
	u64 e = 0, a = 0;

	list_for_each_entry_rcu(l, &sn->listeners, node) {
		switch (sockfan_listener_fit(&l->key, key)) {
		case 2:
			exact++;
			e = l->cookie;
			break;
		case 1:
			any++;
			a = l->cookie;
			break;
		}
	}
	if (exact)
		return exact == 1 ? e : 0;
	return any == 1 ? a : 0;
}

/*
 * A listener found in the kernel's listening hash at load, under its
 * bucket lock: its CLOSE unhashes it under that lock before the hook
 * runs, so the hook finds this record.  Recorded unless the LISTEN hook
 * did it first; who called listen() is not known (sockfan_seed_owner()
 * names a process holding it).  True when a record was added.
 */
bool sockfan_seed_listener(struct sock *sk)
{
	struct sockfan_listener *l, *old;
	struct sockfan_port *p;
	struct sockfan_net *sn;
	unsigned long flags;
	bool added = false;

	l = sockfan_pool_get_atomic(&listener_pool);
	if (!l) {
		atomic64_inc(&drops);
		return false;
	}
	sockfan_key_from_sk(&l->key, sk);
	l->cookie = sockfan_sk_cookie(sk);
	l->born_ns = ktime_get_ns();

	sn = sockfan_net(sock_net(sk));
	raw_spin_lock_irqsave(&sn->lock, flags);
	list_for_each_entry(old, &sn->listeners, node)
		if (old->sk == sk)
			goto out;
	p = port_get(sn, l->key.lport);
	if (p) {
		p->listeners++;
		p->seeded_listeners++;
		sock_hold(sk);
		l->sk = sk;
		list_add_tail_rcu(&l->node, &sn->listeners);
		added = true;
	} else if (!sn->dying) {
		atomic64_inc(&drops);
	}
out:
	raw_spin_unlock_irqrestore(&sn->lock, flags);
	if (!added)
		sockfan_pool_put(&listener_pool, l);
	return added;
}

/*
 * A connection found in the kernel's established hash at load, under
 * its bucket lock (its CLOSE unhashes it first, so the hook comes after
 * and finds the record).  A passive one only if a listener of its
 * netns is on its local port (the rule of the command's seeding,
 * user/seed_diag.c): outgoing connections are not fan-out.  Its listener
 * is sole_listener(); seed_queued() corrects it for those still
 * queued.  True when a record was added.
 */
bool sockfan_seed_conn(struct sock *sk)
{
	struct sockfan_key key;
	struct sockfan_port *p;
	struct sockfan_net *sn;
	u64 listener = 0;
	bool passive;

	sockfan_key_from_sk(&key, sk);
	rcu_read_lock();
	sn = sockfan_net(sock_net(sk));
	p = port_find(sn, key.lport);
	passive = p && READ_ONCE(p->listeners);
	if (passive)
		listener = sole_listener(sn, &key);
	rcu_read_unlock();
	return passive && conn_track(sk, listener, TRACK_COUNT_DROP | TRACK_SEEDED);
}

/* free records for the next bucket of a walk; may sleep */
void sockfan_seed_reserve(void)
{
	sockfan_pool_fill(&conn_pool);
	sockfan_pool_fill(&listener_pool);
	sockfan_pool_fill(&port_pool);
}

/*
 * @child waits in the accept queue of the listener with cookie
 * @listener (under the queue's lock): that is its listener, a fact.
 */
static void seed_queued(struct sock *child, u64 listener)
{
	struct sockfan_bucket *b;
	struct sockfan_conn *c;
	struct sockfan_key key;
	unsigned long flags;

	sockfan_key_from_sk(&key, child);
	b = conn_bucket(&key);
	raw_spin_lock_irqsave(&b->lock, flags);
	c = conn_find(b, &key, child);
	if (c && !c->pid)
		WRITE_ONCE(c->listener, listener);
	raw_spin_unlock_irqrestore(&b->lock, flags);
}

/*
 * @task (a process, under task_lock()) holds @sk in its file table: the
 * owner of a listener found at load, or the process of a connection
 * whose accept() the module did not see, as ss -p finds them.  The
 * first process named keeps it: for_each_process() goes oldest first.
 */
void sockfan_seed_owner(struct sock *sk, struct task_struct *task)
{
	struct sockfan_listener *l;
	struct sockfan_net *sn;
	struct sockfan_bucket *b;
	struct sockfan_conn *c;
	struct sockfan_key key;
	unsigned long flags;

	if (READ_ONCE(sk->sk_state) == TCP_LISTEN) {
		sn = sockfan_net(sock_net(sk));
		raw_spin_lock_irqsave(&sn->lock, flags);
		list_for_each_entry(l, &sn->listeners, node) {
			if (l->sk == sk && !l->pid) {
				strscpy_pad(l->comm, task->comm, SOCKFAN_COMM_LEN);
				/* readers test pid, then read comm */
				smp_store_release(&l->pid, task_tgid_nr(task));
				break;
			}
		}
		raw_spin_unlock_irqrestore(&sn->lock, flags);
		return;
	}
	sockfan_key_from_sk(&key, sk);
	b = conn_bucket(&key);
	raw_spin_lock_irqsave(&b->lock, flags);
	c = conn_find(b, &key, sk);
	if (c && !c->pid)
		WRITE_ONCE(c->pid, get_pid(task_tgid(task)));
	raw_spin_unlock_irqrestore(&b->lock, flags);
}

/*
 * Each listener's accept queue in @net, under the queue's lock: the
 * children waiting there are its own, a fact seed_queued() records.
 */
void sockfan_seed_queues(const struct net *net)
{
	struct request_sock_queue *q;
	struct sockfan_listener *l;
	struct request_sock *req;

	rcu_read_lock();
	list_for_each_entry_rcu(l, &sockfan_net(net)->listeners, node) {
		q = &inet_csk(l->sk)->icsk_accept_queue;
		spin_lock_bh(&q->rskq_lock);
		for (req = q->rskq_accept_head; req; req = req->dl_next)
			if (req->sk)
				seed_queued(req->sk, l->cookie);
		spin_unlock_bh(&q->rskq_lock);
	}
	rcu_read_unlock();
}

/*
 * Cursor over the connections of one netns: the @skip-th matching entry
 * of bucket @bucket is the next one.  Buckets hold about two entries, so
 * re-walking one bucket per step is cheap, and a seq_file read of a big
 * table stays linear.
 */
struct sockfan_conn *sockfan_conn_next(struct sockfan_conn_cursor *cur)
{
	struct sockfan_conn *c;
	u32 n;

	for (; cur->bucket < (1U << conn_hash_bits); cur->bucket++, cur->skip = 0) {
		n = 0;
		hlist_for_each_entry_rcu(c, &conn_hash[cur->bucket].head, node) {
			if (c->key.netns != cur->netns)
				continue;
			if (n++ == cur->skip) {
				cur->skip++;
				return c;
			}
		}
	}
	return NULL;
}

/* under rcu_read_lock() */
struct sockfan_listener *sockfan_listener_at(const struct net *net, loff_t pos)
{
	struct sockfan_listener *l;

	list_for_each_entry_rcu(l, &sockfan_net(net)->listeners, node)
		if (pos-- == 0)
			return l;
	return NULL;
}

static int row_cmp(const void *a, const void *b)
{
	const struct sockfan_port_row *x = a, *y = b;

	return x->port < y->port ? -1 : x->port > y->port;
}

/* the listener owning @port: the oldest one, as ss lists them; under RCU */
static const struct sockfan_listener *port_owner(struct sockfan_net *sn, u16 port)
{
	struct sockfan_listener *l;

	list_for_each_entry_rcu(l, &sn->listeners, node)
		if (l->key.lport == port)
			return l;
	return NULL;
}

void sockfan_ports_each(const struct net *net,
			void (*fn)(void *arg, const struct sockfan_port *p), void *arg)
{
	struct sockfan_net *sn = sockfan_net(net);
	struct sockfan_port *p;
	unsigned int i;

	rcu_read_lock();
	for (i = 0; i < ARRAY_SIZE(sn->ports); i++)
		hlist_for_each_entry_rcu(p, &sn->ports[i], node)
			fn(arg, p);
	rcu_read_unlock();
}

/* @p's line of the ports file; under RCU */
static void port_row(struct sockfan_port_row *row, struct sockfan_net *sn,
		     const struct sockfan_port *p)
{
	const struct sockfan_listener *owner = port_owner(sn, p->port);

	memset(row, 0, sizeof(*row));
	row->port = p->port;
	row->listeners = READ_ONCE(p->listeners);
	row->established = READ_ONCE(p->established);
	row->peers = READ_ONCE(p->peers);
	row->accepted = READ_ONCE(p->accepted);
	row->closed = READ_ONCE(p->closed);
	row->lifetime_ns = READ_ONCE(p->lifetime_ns);
	row->wait_ns = READ_ONCE(p->wait_ns);
	row->wait_max_ns = READ_ONCE(p->wait_max_ns);
	row->refused = READ_ONCE(p->refused);
	if (owner) {
		/* set after its comm for a listener found at load */
		row->owner_pid = smp_load_acquire(&owner->pid);
		memcpy(row->owner_comm, owner->comm, SOCKFAN_COMM_LEN);
	}
}

/*
 * The ports of @net, sorted, into a kvmalloc()ed array at *@rows
 * (the caller kvfree()s it); returns how many or -ENOMEM.  Counters
 * only: as many ports as there are, whatever the connections.
 */
int sockfan_ports_snapshot(const struct net *net, struct sockfan_port_row **rows)
{
	struct sockfan_net *sn = sockfan_net(net);
	u32 nrows = 0, maxports = 0, i;
	struct sockfan_port *p;

	/*
	 * This namespace's size, plus room for what arrives meanwhile.
	 * @sn lives as long as @net, which the reader's open file holds.
	 */
	rcu_read_lock();
	for (i = 0; i < ARRAY_SIZE(sn->ports); i++)
		hlist_for_each_entry_rcu(p, &sn->ports[i], node)
			maxports++;
	rcu_read_unlock();
	maxports += 64;
	*rows = kvmalloc_array(maxports, sizeof(**rows), GFP_KERNEL);
	if (!*rows)
		return -ENOMEM;

	rcu_read_lock();
	for (i = 0; i < ARRAY_SIZE(sn->ports); i++)
		hlist_for_each_entry_rcu(p, &sn->ports[i], node)
			if (nrows < maxports)
				port_row(&(*rows)[nrows++], sn, p);
	rcu_read_unlock();
	sort(*rows, nrows, sizeof(**rows), row_cmp, NULL);
	return nrows;
}

void sockfan_stats_read(const struct net *net, struct sockfan_stats *st)
{
	struct sockfan_conn_cursor cur = { .netns = net->ns.inum };
	struct sockfan_net *sn = sockfan_net(net);
	struct sockfan_listener *l;
	struct sockfan_port *p;
	u32 i;

	memset(st, 0, sizeof(*st));
	rcu_read_lock();
	while (sockfan_conn_next(&cur))
		st->conns++;
	list_for_each_entry_rcu(l, &sn->listeners, node)
		st->listeners++;
	for (i = 0; i < ARRAY_SIZE(sn->ports); i++) {
		hlist_for_each_entry_rcu(p, &sn->ports[i], node) {
			st->seeded_listeners += READ_ONCE(p->seeded_listeners);
			st->seeded_conns += READ_ONCE(p->seeded_conns);
		}
	}
	rcu_read_unlock();
	st->strays = atomic64_read(&sn->strays);
	st->drops = atomic64_read(&drops);
	st->events = atomic64_read(&events);
	st->conn_bytes = kmem_cache_size(conn_pool.cache);
	st->table_bytes = (u64)sizeof(*conn_hash) << conn_hash_bits;
	st->table_bytes += (u64)sizeof(*peer_hash) << (conn_hash_bits - 2);
}

/* a network namespace comes: before any of its sockets */
void sockfan_table_net_init(struct sockfan_net *sn, const struct net *net)
{
	raw_spin_lock_init(&sn->lock);
	INIT_LIST_HEAD(&sn->listeners);
	sn->inum = net->ns.inum;
}

/* it goes (pre_exit): no new record from now on, port_get() says */
void sockfan_table_net_dying(struct sockfan_net *sn)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&sn->lock, flags);
	sn->dying = true;
	raw_spin_unlock_irqrestore(&sn->lock, flags);
}

/*
 * Its exit, after the kernel's synchronize_rcu() that followed
 * sockfan_table_net_dying(): every record of the namespace there is,
 * there will be.  Free them all; its inode number may then be reused.
 */
void sockfan_table_net_exit(struct sockfan_net *sn)
{
	struct sockfan_listener *l, *ltmp;
	struct sockfan_conn *c;
	struct sockfan_port *p;
	struct hlist_node *tmp;
	unsigned long flags;
	u32 i;

	for (i = 0; i < (1U << conn_hash_bits); i++) {
		raw_spin_lock_irqsave(&conn_hash[i].lock, flags);
		hlist_for_each_entry_safe(c, tmp, &conn_hash[i].head, node) {
			if (c->key.netns == sn->inum) {
				hlist_del_rcu(&c->node);
				peer_del(c);
				atomic_dec(&conn_count);
				call_rcu(&c->rcu, conn_free_rcu);
			}
		}
		raw_spin_unlock_irqrestore(&conn_hash[i].lock, flags);
		cond_resched();
	}
	raw_spin_lock_irqsave(&sn->lock, flags);
	list_for_each_entry_safe(l, ltmp, &sn->listeners, node) {
		list_del_rcu(&l->node);
		call_rcu(&l->rcu, listener_free_rcu);
	}
	for (i = 0; i < ARRAY_SIZE(sn->ports); i++) {
		hlist_for_each_entry_safe(p, tmp, &sn->ports[i], node) {
			hlist_del_rcu(&p->node);
			atomic_dec(&nports);
			call_rcu(&p->rcu, port_free_rcu);
		}
	}
	raw_spin_unlock_irqrestore(&sn->lock, flags);
}

int sockfan_table_init(void)
{
	u32 i, n;
	int err;

	/* about two connections per bucket at the bound */
	n = roundup_pow_of_two(clamp(sockfan_max_conns / 2, 1024U, 1U << 22));
	conn_hash_bits = ilog2(n);
	conn_hash = kvcalloc(n, sizeof(*conn_hash), GFP_KERNEL);
	/*
	 * Peers are fewer than connections (a client holds many): at the
	 * bound, with every connection from a peer of its own, about eight
	 * peers a bucket
	 */
	peer_hash = kvcalloc(n / 4, sizeof(*peer_hash), GFP_KERNEL);
	peer_seed = get_random_u32();
	if (!conn_hash || !peer_hash) {
		kvfree(conn_hash);
		kvfree(peer_hash);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		INIT_HLIST_HEAD(&conn_hash[i].head);
		raw_spin_lock_init(&conn_hash[i].lock);
	}
	for (i = 0; i < n / 4; i++) {
		INIT_HLIST_HEAD(&peer_hash[i].head);
		raw_spin_lock_init(&peer_hash[i].lock);
	}
	/* enough free objects for a burst between two refills */
	err = sockfan_pool_init(&conn_pool, "sockfan_conn", sizeof(struct sockfan_conn),
				min(sockfan_max_conns, 4096U));
	if (err)
		goto out_hash;
	err = sockfan_pool_init(&listener_pool, "sockfan_listener",
				sizeof(struct sockfan_listener), 64);
	if (err)
		goto out_conn;
	err = sockfan_pool_init(&port_pool, "sockfan_port", sizeof(struct sockfan_port), 64);
	if (err)
		goto out_listener;
	return 0;

out_listener:
	sockfan_pool_exit(&listener_pool);
out_conn:
	sockfan_pool_exit(&conn_pool);
out_hash:
	kvfree(conn_hash);
	kvfree(peer_hash);
	return err;
}

/* after the hooks are gone: nothing writes any more */
void sockfan_table_exit(void)
{
	unsigned long conns, listeners_held, ports;
	struct sockfan_conn *c;
	struct hlist_node *tmp;
	u32 i;

	/*
	 * Every namespace's exit (unregister_pernet_subsys()) freed its
	 * records: a connection of no namespace left would be a bug, and
	 * its reference is given back all the same.
	 */
	for (i = 0; i < (1U << conn_hash_bits); i++)
		hlist_for_each_entry_safe(c, tmp, &conn_hash[i].head, node) {
			WARN_ON_ONCE(1);
			sock_put(c->sk);
			put_pid(c->pid);
			sockfan_pool_put(&conn_pool, c);
		}
	/* call_rcu() callbacks still pending put objects back */
	rcu_barrier();
	ports = sockfan_pool_exit(&port_pool);
	listeners_held = sockfan_pool_exit(&listener_pool);
	conns = sockfan_pool_exit(&conn_pool);
	kvfree(conn_hash);
	kvfree(peer_hash);
	/* the selftests read this line: every record, and so every socket
	 * and pid reference a record holds, was given back
	 */
	if (conns || listeners_held || ports)
		pr_err("%lu connection, %lu listener and %lu port records still held at unload: a leak, please report it\n",
		       conns, listeners_held, ports);
	else
		pr_info("unloaded, every record released\n");
}
