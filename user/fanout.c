// SPDX-License-Identifier: GPL-2.0
/*
 * Fan-out model.  Hook records are applied in the order the kernel
 * produced them; snapshots (the module's files, sock_diag) set what they
 * show of a socket through fanout_snap_*(), which change no window
 * total.  Setting a snapshot twice, or applying a hook record after the
 * snapshot that already showed its effect, leaves the model as it was.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "format.h"
#include "cli.h"

#define FAN_MIN_BUCKETS	1024

/*
 * The key is six 64-bit words: mixed a word at a time (a multiply per
 * word; FNV's per byte cost a million lookups a quarter of a second),
 * high bits folded down for the bucket mask.
 */
static size_t key_hash(const struct sockfan_key *k)
{
	__u64 w[sizeof(*k) / sizeof(__u64)], h = 0;
	size_t i;

	memcpy(w, k, sizeof(w));
	for (i = 0; i < ARRAY_SIZE(w); i++)
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 32;
	h *= 0xff51afd7ed558ccdULL;
	return (size_t)(h ^ (h >> 29));
}

static bool key_eq(const struct sockfan_key *a, const struct sockfan_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* same socket: same key, and same cookie when both sides know it */
static bool same_sock(const struct sockfan_key *ka, __u64 ca,
		      const struct sockfan_key *kb, __u64 cb)
{
	return key_eq(ka, kb) && (!ca || !cb || ca == cb);
}

int fanout_init(struct fanout *f)
{
	memset(f, 0, sizeof(*f));
	f->nbuckets = FAN_MIN_BUCKETS;
	f->buckets = calloc(f->nbuckets, sizeof(*f->buckets));
	return f->buckets ? 0 : -ENOMEM;
}

/*
 * Connections are carved from blocks and closed ones are kept for reuse:
 * a million calloc()s, and as many free()s at exit, cost more than
 * everything else a snapshot does with them.
 */
#define CONN_BLOCK	4096

struct fan_conn_block {
	struct fan_conn_block *next;
	struct fan_conn c[CONN_BLOCK];
};

static struct fan_conn *conn_alloc(struct fanout *f)
{
	struct fan_conn_block *b;
	struct fan_conn *c = f->free_conns;

	if (c) {
		f->free_conns = c->next;
	} else {
		if (!f->blocks || f->block_used == CONN_BLOCK) {
			b = malloc(sizeof(*b));
			if (!b)
				return NULL;
			b->next = f->blocks;
			f->blocks = b;
			f->block_used = 0;
		}
		c = &f->blocks->c[f->block_used++];
	}
	memset(c, 0, sizeof(*c));
	return c;
}

static void conn_release(struct fanout *f, struct fan_conn *c)
{
	c->next = f->free_conns;
	f->free_conns = c;
}

void fanout_free(struct fanout *f)
{
	struct fan_conn_block *b, *next;
	size_t i;

	for (b = f->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(f->buckets);
	free(f->listeners);
	for (i = 0; i < f->nports; i++)
		free(f->ports[i].kstats);
	free(f->ports);
	free(f->netns);
	memset(f, 0, sizeof(*f));
}

/* keep chains short: double the table when it holds a conn per bucket */
static void conns_grow(struct fanout *f)
{
	size_t n = f->nbuckets * 2, i, b;
	struct fan_conn **nb, *c, *next;

	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;		/* longer chains, still correct */
	for (i = 0; i < f->nbuckets; i++) {
		for (c = f->buckets[i]; c; c = next) {
			next = c->next;
			b = key_hash(&c->key) & (n - 1);
			c->next = nb[b];
			nb[b] = c;
		}
	}
	free(f->buckets);
	f->buckets = nb;
	f->nbuckets = n;
}

static struct fan_conn **conn_slot(struct fanout *f,
				   const struct sockfan_key *k, __u64 cookie)
{
	struct fan_conn **pp = &f->buckets[key_hash(k) & (f->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if (same_sock(&(*pp)->key, (*pp)->cookie, k, cookie))
			break;
	return pp;
}

static struct fan_conn *conn_get(struct fanout *f, const struct sockfan_key *k,
				 __u64 cookie, bool create)
{
	struct fan_conn **pp = conn_slot(f, k, cookie), *c;

	if (*pp || !create)
		return *pp;
	if (f->nconns >= f->nbuckets) {
		conns_grow(f);
		pp = conn_slot(f, k, cookie);
	}
	c = conn_alloc(f);
	if (!c)
		return NULL;
	c->key = *k;
	c->cookie = cookie;
	*pp = c;
	f->nconns++;
	return c;
}

struct fan_conn *fanout_conn(struct fanout *f, const struct sockfan_key *k, __u64 cookie)
{
	return *conn_slot(f, k, cookie);
}

static void conn_del(struct fanout *f, const struct sockfan_key *k, __u64 cookie)
{
	struct fan_conn **pp = conn_slot(f, k, cookie), *c = *pp;

	if (!c)
		return;
	*pp = c->next;
	conn_release(f, c);
	f->nconns--;
}

struct fan_port *fanout_port(struct fanout *f, __u32 netns, __u16 port)
{
	struct fan_port *p;
	size_t i;

	for (i = 0; i < f->nports; i++)
		if (f->ports[i].netns == netns && f->ports[i].port == port)
			return &f->ports[i];
	if (f->nports == f->ports_cap) {
		size_t cap = f->ports_cap ? f->ports_cap * 2 : 16;

		p = realloc(f->ports, cap * sizeof(*p));
		if (!p)
			return NULL;
		f->ports = p;
		f->ports_cap = cap;
	}
	p = &f->ports[f->nports++];
	memset(p, 0, sizeof(*p));
	p->netns = netns;
	p->port = port;
	return p;
}

/* how many times histogram @h of @st holds */
static __u64 hist_count(const struct sockfan_port_stats *st, int h)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < SOCKFAN_HIST_SLOTS; i++)
		n += st->slots[h][i];
	return n;
}

int fanout_snap_port_live(struct fanout *f, __u32 netns, __u16 port, const __u64 *states,
			  __u64 peers)
{
	struct fan_port *p = fanout_port(f, netns, port);

	if (!p)
		return -ENOMEM;
	memcpy(p->live_states, states, sizeof(p->live_states));
	p->live_peers = peers;
	p->live_known = true;
	return 0;
}

void fanout_port_stats_add(struct sockfan_port_stats *sum,
			   const struct sockfan_port_stats *add)
{
	/* every field is a __u64 counter (the header asserts the size) */
	__u64 *x = (__u64 *)sum;
	const __u64 *y = (const __u64 *)add;
	size_t i;

	for (i = 0; i < sizeof(*sum) / sizeof(__u64); i++)
		x[i] += y[i];
}

int fanout_snap_port_stats(struct fanout *f, __u32 netns, __u16 port,
			   const struct sockfan_port_stats *st, bool totals)
{
	struct fan_netns *n;
	struct fan_port *p;

	if (!port) {
		/* strays, of the namespace */
		n = fanout_netns(f, netns);
		if (!n)
			return -ENOMEM;
		if (totals)
			n->strays = st->strays;
		return 0;
	}
	p = fanout_port(f, netns, port);
	if (!p)
		return -ENOMEM;
	if (!p->kstats) {
		p->kstats = malloc(sizeof(*p->kstats));
		if (!p->kstats)
			return -ENOMEM;
	}
	*p->kstats = *st;
	f->counts |= FAN_COUNTS_HISTS;
	if (!totals)
		return 0;
	p->accepted = st->accepted;
	p->closed = st->closed;
	p->refused = st->refused;
	p->lifetime_ns = st->sum_ns[SOCKFAN_HIST_LIFETIME];
	p->lifetimes = hist_count(st, SOCKFAN_HIST_LIFETIME);
	p->wait_ns = st->sum_ns[SOCKFAN_HIST_ACCEPT_WAIT];
	p->waits = hist_count(st, SOCKFAN_HIST_ACCEPT_WAIT);
	return 0;
}

void fanout_clear_lookup_hits(struct fanout *f)
{
	size_t i;

	for (i = 0; i < f->nports; i++)
		f->ports[i].lookup_hits = 0;
}

int fanout_add_lookups(struct fanout *f, const struct sockfan_lookup_key *k, __u64 n)
{
	struct fan_port *p = fanout_port(f, k->netns, k->port);

	if (!p)
		return -ENOMEM;
	p->lookup_hits += n;
	return 0;
}

struct fan_listener *fanout_snap_listener_stats(struct fanout *f, __u64 cookie,
						const struct sockfan_port_stats *st, bool totals)
{
	struct fan_listener *l = fanout_listener(f, cookie);

	if (!l)
		return NULL;
	l->kstats = *st;
	l->kstats_known = true;
	l->handshakes = st->handshakes;
	if (!totals)
		return l;
	if (f->counts & FAN_COUNTS_ACCEPT_WAITS)
		l->accepted = st->accepted;
	else
		l->accepted = st->handshakes > l->qlen ? st->handshakes - l->qlen : 0;
	return l;
}

static struct fan_listener *listener_find(struct fanout *f,
					  const struct sockfan_key *k,
					  __u64 cookie)
{
	size_t i;

	for (i = 0; i < f->nlisteners; i++) {
		struct fan_listener *l = &f->listeners[i];

		if (cookie && l->cookie == cookie)
			return l;
		if (k && same_sock(&l->key, l->cookie, k, cookie))
			return l;
	}
	return NULL;
}

struct fan_listener *fanout_listener(struct fanout *f, __u64 cookie)
{
	return cookie ? listener_find(f, NULL, cookie) : NULL;
}

bool fanout_has_listener(const struct fanout *f, __u32 netns, __u16 port)
{
	size_t i;

	for (i = 0; i < f->nlisteners; i++)
		if (f->listeners[i].key.netns == netns &&
		    f->listeners[i].key.lport == port)
			return true;
	return false;
}

/* the listener @k (@cookie), made if new: the port gets its row too */
static struct fan_listener *listener_get(struct fanout *f, const struct sockfan_key *k,
					 __u64 cookie)
{
	struct fan_listener *l = listener_find(f, k, cookie);

	if (!l) {
		if (f->nlisteners == f->listeners_cap) {
			size_t cap = f->listeners_cap ? f->listeners_cap * 2 : 16;

			l = realloc(f->listeners, cap * sizeof(*l));
			if (!l)
				return NULL;
			f->listeners = l;
			f->listeners_cap = cap;
		}
		l = &f->listeners[f->nlisteners++];
		memset(l, 0, sizeof(*l));
		l->key = *k;
	}
	if (cookie)
		l->cookie = cookie;
	fanout_port(f, k->netns, k->lport);
	return l;
}

static void on_listen(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_listener *l = listener_get(f, &e->key, e->cookie);

	if (!l)
		return;
	l->backlog = e->listen.backlog;
	if (e->flags & SOCKFAN_F_TASK) {
		l->pid = e->pid;
		memcpy(l->comm, e->comm, sizeof(l->comm));
	}
}

struct fan_listener *fanout_snap_listener(struct fanout *f, const struct sockfan_key *k,
					  __u64 cookie, __u32 backlog)
{
	struct fan_listener *l = listener_get(f, k, cookie);

	if (l)
		l->backlog = backlog;
	return l;
}

/*
 * The listener a connection came through when the record does not say
 * (a handshake is traced without its listener, a snapshot shows none):
 * the one bound to its address, else the wildcard one, on its port, when
 * only one can be it.  In a SO_REUSEPORT group several can: 0, unknown
 * until accept() names the real one, never a guess shown as a fact.
 */
static __u64 sole_listener(const struct fanout *f, const struct sockfan_key *k)
{
	unsigned int exact = 0, wild = 0;
	__u64 e = 0, w = 0;
	size_t i;

	for (i = 0; i < f->nlisteners; i++) {
		const struct fan_listener *l = &f->listeners[i];

		if (l->key.netns != k->netns)
			continue;
		switch (sockfan_listener_fit(&l->key, k)) {
		case 2:
			exact++;
			e = l->cookie;
			break;
		case 1:
			wild++;
			w = l->cookie;
			break;
		}
	}
	if (exact)
		return exact == 1 ? e : 0;
	return wild == 1 ? w : 0;
}

/*
 * What a handshake record and a snapshot both say of connection @c: its
 * cookie, its @state (0: ESTAB unless one is known) and the @listener it
 * came through (0: the port's when only one can be it)
 */
static void conn_note(struct fanout *f, struct fan_conn *c, __u64 cookie, __u32 state,
		      __u64 listener)
{
	if (!c->cookie)
		c->cookie = cookie;
	if (state)
		c->state = state;
	else if (!c->state)
		c->state = TCP_ESTABLISHED;
	if (listener)
		c->listener = listener;
	else if (!c->listener)
		c->listener = sole_listener(f, &c->key);
}

static void on_established(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_conn *c = conn_get(f, &e->key, e->cookie, true);

	if (!c)
		return;
	if (!c->est_ns)
		c->est_ns = e->ts_ns;
	conn_note(f, c, e->cookie, e->state, e->accept.listener);
}

static void accept_info(struct fan_conn *c, const struct sockfan_event *e)
{
	/* the child's state when accept() took it: newer than its handshake's */
	if (e->state)
		c->state = e->state;
	if (!c->cookie)
		c->cookie = e->cookie;
	if (e->accept.listener)
		c->listener = e->accept.listener;
	if (e->flags & SOCKFAN_F_TASK) {
		c->pid = e->pid;
		c->tid = e->tid;
		memcpy(c->comm, e->comm, sizeof(c->comm));
	}
}

struct fan_conn *fanout_snap_conn(struct fanout *f, const struct sockfan_key *k, __u64 cookie,
				  __u32 state, __u64 listener, bool accepted)
{
	struct fan_conn *c = conn_get(f, k, cookie, true);

	if (!c)
		return NULL;
	c->flags |= FAN_SEEDED;
	conn_note(f, c, cookie, state, listener);
	if (accepted)
		c->flags |= FAN_ACCEPTED;
	return c;
}

static void on_accept(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_conn *c = conn_get(f, &e->key, e->cookie, true);
	struct fan_listener *l;
	struct fan_port *p;

	if (!c)
		return;
	/*
	 * A hook's record may come after a snapshot that already showed the
	 * socket accepted (the ring is read after the dump): the accept is
	 * still the window's, so it counts.
	 */
	if (c->flags & FAN_ACCEPT_SEEN) {
		/* counted from the socket (fanout_conn_has_file()): who did it */
		if (!c->pid)
			accept_info(c, e);
		return;		/* a socket is accepted once */
	}
	c->flags |= FAN_ACCEPTED | FAN_ACCEPT_SEEN;
	c->acc_ns = e->ts_ns;
	accept_info(c, e);
	p = fanout_port(f, e->key.netns, e->key.lport);
	if (p) {
		__u64 wait = e->accept.wait_ns;

		if (!wait && c->est_ns && c->acc_ns > c->est_ns)
			wait = c->acc_ns - c->est_ns;
		p->accepted++;
		if (wait) {
			p->wait_ns += wait;
			p->waits++;
			if (wait > p->wait_max_ns)
				p->wait_max_ns = wait;
		}
	}
	l = listener_find(f, NULL, c->listener);
	if (l) {
		l->accepted++;
		l->qlen = e->accept.qlen;
	}
}

void fanout_conn_has_file(struct fanout *f, struct fan_conn *c)
{
	struct fan_listener *l;
	struct fan_port *p;

	if (c->flags & FAN_ACCEPTED)
		return;
	c->flags |= FAN_ACCEPTED;
	/* older than the window: accepted before it, as a snapshot shows */
	if (c->flags & FAN_SEEDED)
		return;
	/* its handshake was in the window, so its accept was too */
	c->flags |= FAN_ACCEPT_SEEN;
	p = fanout_port(f, c->key.netns, c->key.lport);
	if (p)
		p->accepted++;
	l = listener_find(f, NULL, c->listener);
	if (l)
		l->accepted++;
}

static void on_close(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_listener *l;
	struct fan_conn *c;
	struct fan_port *p;
	__u64 life;

	if (e->flags & SOCKFAN_F_LISTENER) {
		l = listener_find(f, &e->key, e->cookie);
		if (l)
			*l = f->listeners[--f->nlisteners];
		return;
	}
	c = conn_get(f, &e->key, e->cookie, false);
	if (!c)
		return;		/* not a passive connection we follow */
	life = e->close.lifetime_ns;
	if (!life && c->est_ns && e->ts_ns > c->est_ns)
		life = e->ts_ns - c->est_ns;
	conn_del(f, &e->key, e->cookie);
	p = fanout_port(f, e->key.netns, e->key.lport);
	if (p) {
		p->closed++;
		if (life) {
			p->lifetime_ns += life;
			p->lifetimes++;
		}
	}
}

void fanout_reconcile_gone(struct fanout *f, const struct sockfan_key *k, __u64 cookie)
{
	struct fan_port *p;

	if (!conn_get(f, k, cookie, false))
		return;
	conn_del(f, k, cookie);
	p = fanout_port(f, k->netns, k->lport);
	if (p)
		p->closed++;
	f->reconciled++;
}

static void on_lookup(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_listener *l;
	struct fan_netns *n;
	struct fan_port *p;

	switch (e->lookup.result) {
	case SOCKFAN_LOOKUP_LISTENER:
		l = listener_find(f, NULL, e->lookup.listener);
		if (l)
			l->hits += e->lookup.count;
		break;
	case SOCKFAN_LOOKUP_REFUSED:
		p = fanout_port(f, e->key.netns, e->key.lport);
		if (p)
			p->refused += e->lookup.count;
		break;
	case SOCKFAN_LOOKUP_STRAY:
		n = fanout_netns(f, e->key.netns);
		if (n)
			n->strays += e->lookup.count;
		break;
	}
}

static void on_overflow(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_listener *l = listener_find(f, &e->key, e->cookie);

	if (l)
		l->overflows++;
}

void fanout_apply(struct fanout *f, const struct sockfan_event *e)
{
	switch (e->kind) {
	case SOCKFAN_EV_LISTEN:
		on_listen(f, e);
		break;
	case SOCKFAN_EV_ESTABLISHED:
		on_established(f, e);
		break;
	case SOCKFAN_EV_ACCEPT:
		on_accept(f, e);
		break;
	case SOCKFAN_EV_CLOSE:
		on_close(f, e);
		break;
	case SOCKFAN_EV_OVERFLOW:
		on_overflow(f, e);
		break;
	case SOCKFAN_EV_LOOKUP:
		on_lookup(f, e);
		break;
	default:
		return;
	}
	f->events++;
}

void fanout_set_cgroups(struct fanout *f,
			const struct cgroup_info *(*of_task)(void *arg, __u32 pid), void *arg,
			bool conns)
{
	struct fan_conn *c;
	size_t i;

	for (i = 0; i < f->nlisteners; i++)
		f->listeners[i].cgroup = of_task(arg, f->listeners[i].pid);
	for (i = 0; conns && i < f->nbuckets; i++)
		for (c = f->buckets[i]; c; c = c->next)
			c->cgroup = of_task(arg, c->flags & FAN_ACCEPTED && c->pid ? c->pid :
					    c->hold_pid);
}

int fanout_each_conn(const struct fanout *f,
		     int (*fn)(const struct fan_conn *c, void *arg), void *arg)
{
	const struct fan_conn *c;
	size_t i;
	int err;

	for (i = 0; i < f->nbuckets; i++) {
		for (c = f->buckets[i]; c; c = c->next) {
			err = fn(c, arg);
			if (err)
				return err;
		}
	}
	return 0;
}

const char *fmt_acceptor(char *buf, size_t len, const struct fan_conn *c)
{
	if (!(c->flags & FAN_ACCEPTED))
		snprintf(buf, len, "%s", "");
	else if (!c->pid)
		snprintf(buf, len, "%s", "?");
	else
		fmt_thread(buf, len, c->pid, c->tid, c->comm);
	return buf;
}

static int task_count_cmp(const void *a, const void *b)
{
	const struct fan_task_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

int fanout_task_spread(const struct fan_conn **conns, size_t n, bool holders,
		       struct fan_task_count **out, size_t *nout)
{
	struct fan_task_count *v = calloc(n + 1, sizeof(*v));
	size_t i, j, k = 0;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct fan_conn *c = conns[i];
		__u32 pid = holders ? c->hold_pid : c->pid;
		__u32 tid = holders ? 0 : c->tid;

		if (!holders && !(c->flags & FAN_ACCEPTED))
			continue;	/* still queued: nobody's */
		for (j = 0; j < k; j++)
			if (v[j].pid == pid && v[j].tid == tid)
				break;
		if (j == k) {
			v[k].pid = pid;
			v[k].tid = tid;
			memcpy(v[k].comm, holders ? c->hold_comm : c->comm, sizeof(v[k].comm));
			k++;
		}
		v[j].n++;
	}
	qsort(v, k, sizeof(*v), task_count_cmp);
	*out = v;
	*nout = k;
	return 0;
}

void fanout_conn_holder(struct fan_conn *c, __u32 pid, const char *comm)
{
	if (!pid)
		return;
	c->hold_pid = pid;
	memcpy(c->hold_comm, comm, sizeof(c->hold_comm));
}

struct fan_netns *fanout_netns(struct fanout *f, __u32 netns)
{
	struct fan_netns *n;
	size_t i;

	for (i = 0; i < f->nnetns; i++)
		if (f->netns[i].netns == netns)
			return &f->netns[i];
	if (f->nnetns == f->netns_cap) {
		size_t cap = f->netns_cap ? f->netns_cap * 2 : 8;

		n = realloc(f->netns, cap * sizeof(*n));
		if (!n)
			return NULL;
		f->netns = n;
		f->netns_cap = cap;
	}
	n = &f->netns[f->nnetns++];
	memset(n, 0, sizeof(*n));
	n->netns = netns;
	return n;
}

