// SPDX-License-Identifier: GPL-2.0
/*
 * What a view shows of the fan-out model: the sockets a filter selects,
 * and the rows and lists made of them.  It reads the model and never
 * changes it; a NULL filter selects everything.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

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

bool query_netns_shown(const struct fan_filter *flt, __u32 netns)
{
	return !flt || !flt->netns || flt->netns == netns;
}

bool query_listener_shown(const struct fan_filter *flt, const struct fan_listener *l)
{
	return !flt || (filter_listener(flt, &l->key, l->pid) && filter_cgroup(flt, l->cgroup));
}

bool query_listener_on(const struct fan_filter *flt, const struct fan_listener *l,
		       __u32 netns, __u16 port)
{
	return l->key.netns == netns && l->key.lport == port && query_listener_shown(flt, l);
}

bool query_conn_shown(const struct fan_filter *flt, const struct fan_conn *c)
{
	return !flt || (filter_conn_tasks(flt, &c->key, c->flags & FAN_ACCEPTED ? c->pid : 0,
					  c->hold_pid) && filter_cgroup(flt, c->cgroup));
}

static int collect_conn(const struct fan_conn *c, void *arg)
{
	struct conn_vec *cv = arg;

	if (!query_conn_shown(cv->filter, c))
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

int query_port_conns(const struct fanout *f, const struct fan_filter *flt,
		     __u32 netns, __u16 port, const struct fan_conn ***conns, size_t *n)
{
	struct conn_vec cv = { .netns = netns, .port = port, .filter = flt };
	int err = conns_sorted(f, &cv);

	*conns = cv.v;
	*n = cv.n;
	return err;
}

int query_row_by_port(const void *a, const void *b)
{
	const struct fan_row *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	return (int)x->port - (int)y->port;
}

int query_row_by_busy(const void *a, const void *b)
{
	const struct fan_row *x = a, *y = b;

	if (x->conns != y->conns)
		return x->conns > y->conns ? -1 : 1;
	if (x->accepted != y->accepted)
		return x->accepted > y->accepted ? -1 : 1;
	return query_row_by_port(a, b);
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

	if (!query_conn_shown(pv->filter, c))
		return 0;
	p = &pv->v[pv->n++];
	p->netns = c->key.netns;
	p->lport = c->key.lport;
	p->state = c->state;
	memcpy(p->raddr, c->key.raddr, sizeof(p->raddr));
	return 0;
}

__u64 query_strays(const struct fanout *f, const struct fan_filter *flt)
{
	__u64 n = 0;
	size_t i;

	for (i = 0; i < f->nnetns; i++)
		if (query_netns_shown(flt, f->netns[i].netns))
			n += f->netns[i].strays;
	return n;
}

/* rows under construction: at most @max, @n used */
struct row_set {
	struct fan_row *v;
	size_t n, max;
};

/* @netns/@port's row, made if there is room (NULL if not) */
static struct fan_row *row_get(struct row_set *rs, __u32 netns, __u16 port)
{
	struct fan_row *r = row_find(rs->v, rs->n, netns, port);

	if (r || rs->n == rs->max)
		return r;
	r = &rs->v[rs->n++];
	r->netns = netns;
	r->port = port;
	return r;
}

/* the selected listeners: how many per port, and the port's owner */
static void rows_add_listeners(struct row_set *rs, const struct fanout *f,
			       const struct fan_filter *flt)
{
	struct fan_row *r;
	size_t i;

	for (i = 0; i < f->nlisteners; i++) {
		const struct fan_listener *l = &f->listeners[i];

		if (!query_listener_shown(flt, l))
			continue;
		r = row_get(rs, l->key.netns, l->key.lport);
		if (!r)
			continue;
		r->qlen += l->qlen;
		r->backlog += l->backlog;
		r->drops += l->drops;
		if (!r->listeners++ || (!r->owner_pid && l->pid)) {
			r->owner_pid = l->pid;
			memcpy(r->owner_comm, l->comm, sizeof(r->owner_comm));
			r->owner_cgroup = l->cgroup;
		}
	}
}

/* the selected connections, sorted by port then peer: counts and peers */
static void rows_add_conns(struct row_set *rs, const struct peer_vec *pv)
{
	struct fan_row *r = NULL;
	size_t i;

	for (i = 0; i < pv->n; i++) {
		const struct peer_rec *c = &pv->v[i], *prev = i ? c - 1 : NULL;
		bool new_port = !prev || prev->netns != c->netns || prev->lport != c->lport;

		/* sorted by port: a row is looked up once per port */
		if (new_port)
			r = row_get(rs, c->netns, c->lport);
		if (!r)
			continue;
		r->conns++;
		r->states[c->state < FMT_TCP_STATES ? c->state : 0]++;
		/* sorted by remote address within a port: count changes */
		if (new_port || memcmp(prev->raddr, c->raddr, sizeof(c->raddr)))
			r->peers++;
	}
}

static void row_add_live(struct fan_row *r, const struct fan_port *p)
{
	unsigned int s;

	for (s = 0; s < FMT_TCP_STATES; s++) {
		r->states[s] += p->live_states[s];
		r->conns += p->live_states[s];
	}
	r->peers += p->live_peers;
}

/*
 * The counters that outlive sockets.  A port with no socket (left, or
 * known: --no-seed) shows what its records counted: accepts, closes,
 * refused SYNs, unless the filter selects sockets (it has none to
 * select); strays make no row (query_strays()).
 */
static void rows_add_ports(struct row_set *rs, const struct fanout *f,
			   const struct fan_filter *flt)
{
	bool by_socket = flt && filter_by_socket(flt);
	struct fan_row *r;
	size_t i;

	for (i = 0; i < f->nports; i++) {
		const struct fan_port *p = &f->ports[i];

		r = row_find(rs->v, rs->n, p->netns, p->port);
		if (!r && (p->refused || p->accepted || p->closed || p->live_known) && !by_socket &&
		    query_netns_shown(flt, p->netns) && (!flt || !flt->port || flt->port == p->port))
			r = row_get(rs, p->netns, p->port);
		if (!r)
			continue;
		/* counted, not listed: only a filter of ports and namespaces applies */
		if (p->live_known && !by_socket)
			row_add_live(r, p);
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
		r->lookup_hits = p->lookup_hits;
		if (p->kstats) {
			r->kstats = *p->kstats;
			r->kstats_known = true;
		}
	}
}

/* are @a and @b bound to the same address (members of one group)? */
static bool same_bind(const struct sockfan_key *a, const struct sockfan_key *b)
{
	return a->netns == b->netns && a->lport == b->lport && a->family == b->family &&
	       !memcmp(a->laddr, b->laddr, sizeof(a->laddr));
}

/* is @l bound where @lead is, on @r's port, and selected by @flt? */
static bool bound_with(const struct fan_listener *l, const struct fan_filter *flt,
		       const struct fan_row *r, const struct sockfan_key *lead)
{
	return query_listener_on(flt, l, r->netns, r->port) && same_bind(&l->key, lead);
}

bool query_in_group(const struct fan_filter *flt, const struct fan_listener *l,
		    const struct fan_row *r)
{
	return r->balance.members && bound_with(l, flt, r, &r->balance.bind);
}

__u64 query_member_share(const struct fan_row *r, const struct fan_listener *l)
{
	return r->balance.by_handshakes ? l->handshakes : l->accepted;
}

/*
 * Row @r's group: the largest set of its listeners on one address (the
 * kernel spreads a SYN over the sockets bound where it is going).
 */
static void row_balance(struct fan_row *r, const struct fanout *f,
			const struct fan_filter *flt)
{
	struct fan_balance *b = &r->balance;
	double mean, var = 0;
	size_t i, j, n, best = 0;

	memset(b, 0, sizeof(*b));
	for (i = 0; i < f->nlisteners; i++) {
		if (!query_listener_on(flt, &f->listeners[i], r->netns, r->port))
			continue;
		for (j = 0, n = 0; j < f->nlisteners; j++)
			n += bound_with(&f->listeners[j], flt, r, &f->listeners[i].key);
		if (n > best) {
			best = n;
			b->bind = f->listeners[i].key;
		}
	}
	if (best < 2)
		return;
	b->members = best;
	b->by_handshakes = f->counts & FAN_COUNTS_MEMBERS;
	b->min = ~0ULL;
	for (i = 0; i < f->nlisteners; i++) {
		const struct fan_listener *l = &f->listeners[i];
		__u64 v;

		if (!query_in_group(flt, l, r))
			continue;
		b->stalled += l->stalled;
		v = query_member_share(r, l);
		b->total += v;
		if (v > b->max)
			b->max = v;
		if (v < b->min)
			b->min = v;
	}
	if (!b->total)
		return;
	mean = (double)b->total / best;
	for (i = 0; i < f->nlisteners; i++) {
		const struct fan_listener *l = &f->listeners[i];
		double d;

		if (!query_in_group(flt, l, r))
			continue;
		d = query_member_share(r, l) - mean;
		var += d * d;
	}
	b->skew = b->max / mean;
	b->cv = sqrt(var / best) / mean;
}

/*
 * A port gets a row while it has a listener or live passive connections,
 * or counted something (accepts, closes, refused SYNs) in the window.
 */
int query_rows(const struct fanout *f, const struct fan_filter *flt,
	       struct fan_row **rowsp, size_t *np)
{
	struct peer_vec pv = { .filter = flt };
	struct row_set rs = { .max = f->nlisteners + f->nports + 1 };
	size_t i;

	pv.v = malloc((f->nconns + 1) * sizeof(*pv.v));
	rs.v = calloc(rs.max, sizeof(*rs.v));
	if (!rs.v || !pv.v) {
		free(rs.v);
		free(pv.v);
		return -ENOMEM;
	}
	fanout_each_conn(f, collect_peer, &pv);
	qsort(pv.v, pv.n, sizeof(*pv.v), peer_cmp);
	rows_add_listeners(&rs, f, flt);
	rows_add_conns(&rs, &pv);
	rows_add_ports(&rs, f, flt);
	for (i = 0; i < rs.n; i++)
		row_balance(&rs.v[i], f, flt);
	free(pv.v);
	qsort(rs.v, rs.n, sizeof(*rs.v), query_row_by_port);
	*rowsp = rs.v;
	*np = rs.n;
	return 0;
}
