// SPDX-License-Identifier: GPL-2.0
/*
 * Fan-out model.  Events are applied in the order the kernel produced
 * them; snapshot records (SOCKFAN_F_SEEDED) go through the same path, so
 * applying one twice, or a hook record after the snapshot that already
 * showed its effect, must leave the model unchanged.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "sockfan.h"

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

	for (b = f->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(f->buckets);
	free(f->listeners);
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

static struct fan_conn *conn_get(struct fanout *f, const struct sockfan_event *e,
				 bool create)
{
	struct fan_conn **pp = conn_slot(f, &e->key, e->cookie), *c;

	if (*pp || !create)
		return *pp;
	if (f->nconns >= f->nbuckets) {
		conns_grow(f);
		pp = conn_slot(f, &e->key, e->cookie);
	}
	c = conn_alloc(f);
	if (!c)
		return NULL;
	c->key = e->key;
	c->cookie = e->cookie;
	*pp = c;
	f->nconns++;
	return c;
}

struct fan_conn *fanout_conn(struct fanout *f, const struct sockfan_key *k, __u64 cookie)
{
	return *conn_slot(f, k, cookie);
}

static void conn_del(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_conn **pp = conn_slot(f, &e->key, e->cookie), *c = *pp;

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

static void on_listen(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_listener *l = listener_find(f, &e->key, e->cookie);

	if (!l) {
		if (f->nlisteners == f->listeners_cap) {
			size_t cap = f->listeners_cap ? f->listeners_cap * 2 : 16;

			l = realloc(f->listeners, cap * sizeof(*l));
			if (!l)
				return;
			f->listeners = l;
			f->listeners_cap = cap;
		}
		l = &f->listeners[f->nlisteners++];
		memset(l, 0, sizeof(*l));
		l->key = e->key;
	}
	if (e->cookie)
		l->cookie = e->cookie;
	l->backlog = e->listen.backlog;
	l->flags |= e->flags & SOCKFAN_F_SEEDED;
	if (e->flags & SOCKFAN_F_TASK) {
		l->pid = e->pid;
		memcpy(l->comm, e->comm, sizeof(l->comm));
	}
	fanout_port(f, e->key.netns, e->key.lport);
}

bool fanout_addr_any(const __u8 *a)
{
	static const __u8 any6[16], any4[16] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, any6, 16) || !memcmp(a, any4, 16);
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

		/* a child has its listener's family (v4-mapped peers included) */
		if (l->key.netns != k->netns || l->key.lport != k->lport ||
		    l->key.family != k->family)
			continue;
		if (!memcmp(l->key.laddr, k->laddr, 16)) {
			exact++;
			e = l->cookie;
		} else if (fanout_addr_any(l->key.laddr)) {
			wild++;
			w = l->cookie;
		}
	}
	if (exact)
		return exact == 1 ? e : 0;
	return wild == 1 ? w : 0;
}

static void on_established(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_conn *c = conn_get(f, e, true);

	if (!c)
		return;
	if (!c->cookie)
		c->cookie = e->cookie;
	if (!c->est_ns && !(e->flags & SOCKFAN_F_SEEDED))
		c->est_ns = e->ts_ns;
	if (e->state)
		c->state = e->state;
	else if (!c->state)
		c->state = TCP_ESTABLISHED;
	if (e->accept.listener)
		c->listener = e->accept.listener;
	else if (!c->listener)
		c->listener = sole_listener(f, &e->key);
	c->flags |= e->flags & SOCKFAN_F_SEEDED;
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

static void on_accept(struct fanout *f, const struct sockfan_event *e)
{
	struct fan_conn *c = conn_get(f, e, true);
	struct fan_listener *l;
	struct fan_port *p;

	if (!c)
		return;
	/*
	 * A snapshot shows a socket already accepted, not an accept: the
	 * window's totals count what happened in it.  A hook's record may
	 * come after a snapshot that already showed its accept (the ring is
	 * read after the dump): it is still the window's.
	 */
	if (e->flags & SOCKFAN_F_SEEDED) {
		if (c->flags & FAN_ACCEPTED)
			return;
		c->flags |= FAN_ACCEPTED;
		accept_info(c, e);
		return;
	}
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
	if (c->flags & SOCKFAN_F_SEEDED)
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
	c = conn_get(f, e, false);
	if (!c)
		return;		/* not a passive connection we follow */
	life = e->close.lifetime_ns;
	if (!life && c->est_ns && e->ts_ns > c->est_ns)
		life = e->ts_ns - c->est_ns;
	conn_del(f, e);
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
	struct sockfan_event e = { .key = *k, .cookie = cookie };
	struct fan_port *p;

	if (!conn_get(f, &e, false))
		return;
	conn_del(f, &e);
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

static int conn_cmp(const void *a, const void *b)
{
	const struct fan_conn *x = *(const struct fan_conn * const *)a;
	const struct fan_conn *y = *(const struct fan_conn * const *)b;

	if (x->key.netns != y->key.netns)
		return x->key.netns < y->key.netns ? -1 : 1;
	if (x->key.lport != y->key.lport)
		return x->key.lport < y->key.lport ? -1 : 1;
	return memcmp(x->key.raddr, y->key.raddr, sizeof(x->key.raddr)) ?:
		(int)x->key.rport - (int)y->key.rport;
}

struct conn_vec {
	const struct fan_conn **v;
	size_t n;
	__u32 netns;		/* the port's: only its connections */
	__u16 port;
	const struct fan_filter *filter;
};

bool fanout_listener_shown(const struct fanout *f, const struct fan_listener *l)
{
	return !f->filter || filter_listener(f->filter, &l->key, l->pid);
}

bool fanout_listener_on(const struct fanout *f, const struct fan_listener *l,
			__u32 netns, __u16 port)
{
	return l->key.netns == netns && l->key.lport == port && fanout_listener_shown(f, l);
}

/* whether filter @flt (NULL: none) lets connection @c be shown */
/* --pid: the task that accepted it, or the one that holds it now */
static bool conn_shown(const struct fan_filter *flt, const struct fan_conn *c)
{
	return !flt || filter_conn(flt, &c->key, c->flags & FAN_ACCEPTED ? c->pid : 0) ||
	       (flt->pid && c->hold_pid == flt->pid && filter_conn(flt, &c->key, c->hold_pid));
}

bool fanout_conn_shown(const struct fanout *f, const struct fan_conn *c)
{
	return conn_shown(f->filter, c);
}

static int collect_conn(const struct fan_conn *c, void *arg)
{
	struct conn_vec *cv = arg;

	if (!conn_shown(cv->filter, c))
		return 0;
	if (c->key.netns == cv->netns && c->key.lport == cv->port)
		cv->v[cv->n++] = c;
	return 0;
}

static int conns_sorted(const struct fanout *f, struct conn_vec *cv)
{
	cv->n = 0;
	cv->v = malloc((f->nconns + 1) * sizeof(*cv->v));
	if (!cv->v)
		return -ENOMEM;
	fanout_each_conn(f, collect_conn, cv);
	qsort(cv->v, cv->n, sizeof(*cv->v), conn_cmp);
	return 0;
}

int fanout_port_conns(const struct fanout *f, __u32 netns, __u16 port,
		      const struct fan_conn ***conns, size_t *n)
{
	struct conn_vec cv = { .netns = netns, .port = port, .filter = f->filter };
	int err = conns_sorted(f, &cv);

	*conns = cv.v;
	*n = cv.n;
	return err;
}

static int row_cmp(const void *a, const void *b)
{
	const struct fan_row *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	return (int)x->port - (int)y->port;
}

static struct fan_row *row_find(struct fan_row *rows, size_t n, __u32 netns,
				__u16 port)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rows[i].netns == netns && rows[i].port == port)
			return &rows[i];
	return NULL;
}

/*
 * What a row needs of a connection, copied out so that sorting a million
 * compares neighbours in memory instead of chasing two pointers each.
 */
struct peer_rec {
	__u32 netns;
	__u16 lport;
	__u16 state;
	__u8 raddr[16];
};

struct peer_vec {
	struct peer_rec *v;
	size_t n;
	const struct fan_filter *filter;
};

static int peer_cmp(const void *a, const void *b)
{
	const struct peer_rec *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	if (x->lport != y->lport)
		return x->lport < y->lport ? -1 : 1;
	return memcmp(x->raddr, y->raddr, sizeof(x->raddr));
}

static int collect_peer(const struct fan_conn *c, void *arg)
{
	struct peer_vec *pv = arg;
	struct peer_rec *p;

	if (!conn_shown(pv->filter, c))
		return 0;
	p = &pv->v[pv->n++];
	p->netns = c->key.netns;
	p->lport = c->key.lport;
	p->state = c->state;
	memcpy(p->raddr, c->key.raddr, sizeof(p->raddr));
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

bool fanout_netns_shown(const struct fanout *f, __u32 netns)
{
	return !f->filter || !f->filter->netns || f->filter->netns == netns;
}

__u64 fanout_strays(const struct fanout *f)
{
	__u64 n = 0;
	size_t i;

	for (i = 0; i < f->nnetns; i++)
		if (fanout_netns_shown(f, f->netns[i].netns))
			n += f->netns[i].strays;
	return n;
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

/*
 * A port gets a row while it has a listener or live passive connections,
 * or counted something (accepts, closes, refused SYNs) in the window.
 */
int fanout_rows(const struct fanout *f, struct fan_row **rowsp, size_t *np)
{
	struct peer_vec pv = { .filter = f->filter };
	bool by_socket = f->filter && filter_by_socket(f->filter);
	struct fan_row *rows, *r = NULL;
	size_t i, n = 0, max;

	pv.v = malloc((f->nconns + 1) * sizeof(*pv.v));
	max = f->nlisteners + f->nports + 1;
	rows = calloc(max, sizeof(*rows));
	if (!rows || !pv.v) {
		free(rows);
		free(pv.v);
		return -ENOMEM;
	}
	fanout_each_conn(f, collect_peer, &pv);
	qsort(pv.v, pv.n, sizeof(*pv.v), peer_cmp);
	for (i = 0; i < f->nlisteners; i++) {
		const struct fan_listener *l = &f->listeners[i];

		if (!fanout_listener_shown(f, l))
			continue;
		r = row_find(rows, n, l->key.netns, l->key.lport);
		if (!r) {
			r = &rows[n++];
			r->netns = l->key.netns;
			r->port = l->key.lport;
		}
		if (!r->listeners++ || (!r->owner_pid && l->pid)) {
			r->owner_pid = l->pid;
			memcpy(r->owner_comm, l->comm, sizeof(r->owner_comm));
		}
	}
	for (i = 0; i < pv.n; i++) {
		const struct peer_rec *c = &pv.v[i], *prev = i ? c - 1 : NULL;
		bool new_port = !prev || prev->netns != c->netns || prev->lport != c->lport;

		/* sorted by port: a row is looked up once per port */
		if (new_port) {
			r = row_find(rows, n, c->netns, c->lport);
			if (!r && n < max) {
				r = &rows[n++];
				r->netns = c->netns;
				r->port = c->lport;
			}
		}
		if (!r)
			continue;
		r->conns++;
		r->states[c->state < FMT_TCP_STATES ? c->state : 0]++;
		/* sorted by remote address within a port: count changes */
		if (new_port || memcmp(prev->raddr, c->raddr, sizeof(c->raddr)))
			r->peers++;
	}
	for (i = 0; i < f->nports; i++) {
		const struct fan_filter *flt = f->filter;

		r = row_find(rows, n, f->ports[i].netns, f->ports[i].port);
		/*
		 * a port with no socket (left, or known: --no-seed) shows
		 * what its records counted: accepts, closes, refused SYNs,
		 * unless the filter selects sockets (it has none to
		 * select); strays make no row (fanout_strays())
		 */
		if (!r && (f->ports[i].refused || f->ports[i].accepted || f->ports[i].closed) &&
		    n < max && !by_socket &&
		    (!flt || ((!flt->netns || flt->netns == f->ports[i].netns) &&
			      (!flt->port || flt->port == f->ports[i].port)))) {
			r = &rows[n++];
			r->netns = f->ports[i].netns;
			r->port = f->ports[i].port;
		}
		if (r) {
			const struct fan_port *p = &f->ports[i];

			r->accepted = p->accepted;
			r->closed = p->closed;
			r->lifetime_avg_ns = p->lifetimes ? p->lifetime_ns / p->lifetimes : 0;
			r->wait_avg_ns = p->waits ? p->wait_ns / p->waits : 0;
			r->wait_max_ns = p->wait_max_ns;
			r->lifetime_sum_ns = p->lifetime_ns;
			r->lifetimes = p->lifetimes;
			r->wait_sum_ns = p->wait_ns;
			r->waits = p->waits;
			r->refused = p->refused;
		}
	}
	free(pv.v);
	qsort(rows, n, sizeof(*rows), row_cmp);
	*rowsp = rows;
	*np = n;
	return 0;
}
