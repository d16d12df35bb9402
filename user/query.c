// SPDX-License-Identifier: GPL-2.0
/*
 * What a view shows of the fan-out model: the sockets a filter selects,
 * and the rows and lists made of them.  It reads the model and never
 * changes it; a NULL filter selects everything.
 */
#include <errno.h>
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
	return !flt || filter_listener(flt, &l->key, l->pid);
}

bool query_listener_on(const struct fan_filter *flt, const struct fan_listener *l,
		       __u32 netns, __u16 port)
{
	return l->key.netns == netns && l->key.lport == port && query_listener_shown(flt, l);
}

bool query_conn_shown(const struct fan_filter *flt, const struct fan_conn *c)
{
	return !flt || filter_conn_tasks(flt, &c->key, c->flags & FAN_ACCEPTED ? c->pid : 0,
					 c->hold_pid);
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

/*
 * A port gets a row while it has a listener or live passive connections,
 * or counted something (accepts, closes, refused SYNs) in the window.
 */
int query_rows(const struct fanout *f, const struct fan_filter *flt,
	       struct fan_row **rowsp, size_t *np)
{
	struct peer_vec pv = { .filter = flt };
	bool by_socket = flt && filter_by_socket(flt);
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

		if (!query_listener_shown(flt, l))
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
		r = row_find(rows, n, f->ports[i].netns, f->ports[i].port);
		/*
		 * a port with no socket (left, or known: --no-seed) shows
		 * what its records counted: accepts, closes, refused SYNs,
		 * unless the filter selects sockets (it has none to
		 * select); strays make no row (query_strays())
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
