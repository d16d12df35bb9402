// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot of existing sockets through sock_diag, the interface ss uses,
 * so that connections older than the tracer are counted.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>


#include "netns.h"
#include "netstat.h"
#include "owners.h"
#include "seed_diag.h"
#include "tcp_info.h"

/* inet_diag_msg.idiag_timer of a time-wait minisocket (inet_twsk_diag_fill) */
#define DIAG_TIMER_TIMEWAIT	3

/* live TCP states: SYN_RECV children are request socks, not sockets yet */
#define LIVE_STATES	((1U << TCP_LISTEN) | (1U << TCP_ESTABLISHED) | \
			 (1U << TCP_FIN_WAIT1) | (1U << TCP_FIN_WAIT2) | \
			 (1U << TCP_CLOSE_WAIT) | (1U << TCP_LAST_ACK) | \
			 (1U << TCP_CLOSING))

struct diag_sock {
	struct sockfan_key key;
	__u64 cookie;
	__u32 inode;
	__u32 rqueue;		/* listener: accept-queue depth */
	__u32 wqueue;		/* listener: max backlog */
	__u32 drops;		/* sk_drops: all a listener dropped (fanout.h) */
	__u64 segs_in;		/* tcp_info: segments delivered to it */
	__u8 state;
};

struct diag_vec {
	struct diag_sock *v;
	size_t n, cap;
};

struct seed_ctx {
	struct fanout *f;
	bool details;		/* connections' owners and segs_in too */
	struct diag_vec dv;	/* seed: every namespace's sockets, then applied */
	struct owners owners;
	struct diag_suspects *sus;	/* refresh: what the dump lacked */
	/* refresh: the connections the caller shows (NULL: all) */
	const struct diag_shown *shown;
};

static bool conn_shown(const struct seed_ctx *ctx, const struct fan_conn *c)
{
	return !ctx->shown || ctx->shown->fn(c, ctx->shown->arg);
}

static void addr_from_diag(__u8 *dst, const __be32 *src, int family)
{
	if (family == AF_INET)
		sockfan_addr_v4mapped(dst, src[0]);
	else
		memcpy(dst, src, 16);
}

/* sk_drops (INET_DIAG_SKMEMINFO) and segs_in (INET_DIAG_INFO), if sent */
static void diag_attrs(const struct nlmsghdr *h, struct diag_sock *s)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	const struct rtattr *a = (const struct rtattr *)(m + 1);

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == INET_DIAG_SKMEMINFO &&
		    RTA_PAYLOAD(a) >= (int)((SK_MEMINFO_DROPS + 1) * sizeof(__u32)))
			s->drops = ((const __u32 *)RTA_DATA(a))[SK_MEMINFO_DROPS];
		else if (a->rta_type == INET_DIAG_INFO)
			s->segs_in = tcp_info_segs_in(RTA_DATA(a), RTA_PAYLOAD(a));
	}
}

static int diag_push(struct diag_vec *dv, const struct nlmsghdr *h, __u32 netns)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	struct diag_sock *s;

	/*
	 * A time-wait minisocket is dumped under its substate: an orphan
	 * whose FIN was acked shows as FIN_WAIT2 after its socket closed
	 * (tcp_time_wait()).  Not a connection any more (ss: timer:timewait).
	 */
	if (m->idiag_timer == DIAG_TIMER_TIMEWAIT)
		return 0;
	if (dv->n == dv->cap) {
		size_t cap = dv->cap ? dv->cap * 2 : 256;

		s = realloc(dv->v, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		dv->v = s;
		dv->cap = cap;
	}
	s = &dv->v[dv->n++];
	memset(s, 0, sizeof(*s));
	s->key.family = m->idiag_family;
	addr_from_diag(s->key.laddr, m->id.idiag_src, m->idiag_family);
	addr_from_diag(s->key.raddr, m->id.idiag_dst, m->idiag_family);
	s->key.lport = ntohs(m->id.idiag_sport);
	s->key.rport = ntohs(m->id.idiag_dport);
	s->key.netns = netns;
	s->cookie = m->id.idiag_cookie[0] | (__u64)m->id.idiag_cookie[1] << 32;
	s->inode = m->idiag_inode;
	s->rqueue = m->idiag_rqueue;
	s->wqueue = m->idiag_wqueue;
	diag_attrs(h, s);
	s->state = m->idiag_state;
	return 0;
}

/*
 * Ports a socket's local port must be one of, as sock_diag bytecode (ss's
 * "sport = :P1 or sport = :P2 ..."): per port a comparison that goes on
 * to a jump to the end (match) when true and past the jump when false;
 * false on the last one jumps beyond the end (no match).  12 bytes a
 * port, and jumps are 16-bit: a few thousand ports at most.
 */
#define PORT_BC_MAX	4096

struct port_bc {
	struct rtattr rta;
	struct inet_diag_bc_op op[3 * PORT_BC_MAX];
};

static int port_cmp(const void *a, const void *b)
{
	return (int)*(const __u16 *)a - (int)*(const __u16 *)b;
}

/*
 * @bc for local ports @ports (@n of them, sorted here): its length, or 0
 * when there are too many for a filter (dump them all).
 */
static size_t port_bc_build(struct port_bc *bc, __u16 *ports, size_t n)
{
	size_t len, i, k = 0, u = 0;

	/* a port comes once per family, reuseport member and source */
	qsort(ports, n, sizeof(*ports), port_cmp);
	for (i = 0; i < n; i++)
		if (!u || ports[u - 1] != ports[i])
			ports[u++] = ports[i];
	if (!u || u > PORT_BC_MAX)
		return 0;
	len = u * 12 - 4;
	for (i = 0; i < u; i++) {
		bc->op[k++] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_EQ, 8, 12 };
		bc->op[k++] = (struct inet_diag_bc_op){ 0, 0, ports[i] };
		if (i + 1 < u) {
			bc->op[k] = (struct inet_diag_bc_op){ INET_DIAG_BC_JMP, 4,
							      len - k * sizeof(bc->op[0]) };
			k++;
		}
	}
	bc->rta.rta_type = INET_DIAG_REQ_BYTECODE;
	bc->rta.rta_len = RTA_LENGTH(len);
	return len;
}

/* @bc: NULL, or only sockets whose local port it matches */
static int diag_dump_family(int fd, int family, __u32 states, bool info, __u32 netns,
		     const struct port_bc *bc, struct diag_vec *dv)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
		struct port_bc bc;
	} req = {
		.nlh = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(req.r)),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.r = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = states,
			/*
			 * sk_drops for listeners only: for a million connections
			 * that attribute costs a tenth of a second.  tcp_info
			 * (segs_in) takes each socket's lock: asked only for details.
			 */
			.idiag_ext = (states == 1U << TCP_LISTEN ?
				      1 << (INET_DIAG_SKMEMINFO - 1) : 0) |
				     (info ? 1 << (INET_DIAG_INFO - 1) : 0),
		},
	};
	/* the union aligns the buffer for the headers parsed in place */
	static union {
		struct nlmsghdr h;
		char buf[65536];
	} rx;
	char *buf = rx.buf;
	struct nlmsghdr *h;
	ssize_t len;
	int err;

	if (bc) {
		memcpy(&req.bc, bc, bc->rta.rta_len);
		req.nlh.nlmsg_len += RTA_ALIGN(bc->rta.rta_len);
	}
	if (send(fd, &req, req.nlh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		len = recv(fd, buf, sizeof(rx), 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (len == 0)
			return -EPROTO;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EPROTO;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				return -EPROTO;
			err = diag_push(dv, h, netns);
			if (err)
				return err;
		}
	}
}

/* a listener's queue as the kernel reports it now (ss -lm: Recv-Q, Send-Q, d) */
static void update_queue(struct fan_listener *l, const struct diag_sock *s)
{
	l->qlen = s->rqueue;
	l->backlog = s->wqueue;
	l->drops = s->drops;
}

static void apply_sock(struct seed_ctx *ctx, const struct diag_sock *s)
{
	const struct owner *o = owner_of(&ctx->owners, s->inode);
	struct fan_listener *l;
	struct fan_conn *c;

	if (s->state == TCP_LISTEN) {
		l = fanout_snap_listener(ctx->f, &s->key, s->cookie, s->wqueue);
		if (!l)
			return;
		if (o) {
			l->pid = o->pid;
			memcpy(l->comm, o->comm, sizeof(l->comm));
		}
		update_queue(l, s);
		return;
	}
	/* passive connections only: the local port is a listening port */
	if (!fanout_has_listener(ctx->f, s->key.netns, s->key.lport))
		return;
	/*
	 * No listener in the record: the model takes the port's when only
	 * one can be it.  An inode says accept() returned it; who holds it
	 * is no accept() seen: a master may have accepted it for a worker,
	 * so it is the holder.
	 */
	c = fanout_snap_conn(ctx->f, &s->key, s->cookie, s->state, 0, s->inode);
	if (!c)
		return;
	c->segs_in = s->segs_in;
	if (o)
		fanout_conn_holder(c, o->pid, o->comm);
}

/* diag_dump_family() for IPv4, then IPv6 */
static int diag_dump(int fd, __u32 states, bool info, __u32 netns, const struct port_bc *bc,
		     struct diag_vec *dv)
{
	int err = diag_dump_family(fd, AF_INET, states, info, netns, bc, dv);

	return err ?: diag_dump_family(fd, AF_INET6, states, info, netns, bc, dv);
}

/*
 * Local ports of @netns whose connections matter: listened on in the
 * dump from @start on, and the model's (listeners', and ports it counts
 * connections on, whose listener may have closed since).  @ports has
 * room for all; how many were found, duplicates included.
 */
static size_t passive_ports(const struct fanout *f, __u32 netns, const struct diag_vec *dv,
			   size_t start, __u16 *ports)
{
	size_t i, n = 0;

	for (i = start; i < dv->n; i++)
		if (dv->v[i].state == TCP_LISTEN)
			ports[n++] = dv->v[i].key.lport;
	for (i = 0; i < f->nlisteners; i++)
		if (f->listeners[i].key.netns == netns)
			ports[n++] = f->listeners[i].key.lport;
	for (i = 0; i < f->nports; i++)
		if (f->ports[i].netns == netns)
			ports[n++] = f->ports[i].port;
	return n;
}

/* @states of @netns on local ports @ports (@n of them, sorted here) */
static int dump_ports(int fd, __u16 *ports, size_t n, __u32 states, bool info, __u32 netns,
		      struct diag_vec *dv)
{
	struct port_bc *bc = calloc(1, sizeof(*bc));
	const struct port_bc *filter;
	int err;

	if (!bc)
		return -ENOMEM;
	/* too many ports for a filter: all, sorted out here */
	filter = port_bc_build(bc, ports, n) ? bc : NULL;
	err = diag_dump(fd, states, info, netns, filter, dv);
	free(bc);
	return err;
}

/* the other @states of @netns, on passive_ports() only */
static int dump_passive(int fd, const struct fanout *f, __u32 netns, __u32 states, bool info,
			size_t start, struct diag_vec *dv)
{
	__u16 *ports = calloc(dv->n - start + f->nlisteners + f->nports + 1, sizeof(*ports));
	int err = -ENOMEM;
	size_t n;

	if (ports) {
		n = passive_ports(f, netns, dv, start, ports);
		/* no port listened on: no passive connection either */
		err = n ? dump_ports(fd, ports, n, states, info, netns, dv) : 0;
	}
	free(ports);
	return err;
}

/*
 * Every TCP socket of @netns in @states, IPv4 and IPv6; message printed.
 * Listeners come first; connections only on the ports they listen on,
 * filtered by the kernel: a host's own outgoing connections (a proxy's,
 * or the clients of a loopback test) are neither filled in nor parsed.
 */
int diag_socket(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd < 0) {
		fd = -errno;
		fprintf(stderr, "sockfan: sock_diag socket: %s (is CONFIG_INET_DIAG enabled?)\n",
			strerror(-fd));
	}
	return fd;
}

static int dump_netns(const struct fanout *f, __u32 netns, __u32 states, bool info,
		      struct diag_vec *dv)
{
	size_t start = dv->n;
	int fd, err = 0;

	fd = diag_socket();
	if (fd < 0)
		return fd;
	if (states & (1U << TCP_LISTEN))
		err = diag_dump(fd, 1U << TCP_LISTEN, info, netns, NULL, dv);
	states &= ~(1U << TCP_LISTEN);
	if (!err && states)
		err = dump_passive(fd, f, netns, states, info, start, dv);
	close(fd);
	if (err)
		fprintf(stderr, "sockfan: sock_diag dump of netns %u failed: %s (need tcp_diag/inet_diag)\n",
			netns, strerror(-err));
	return err;
}

int seed_listen_counters(struct fanout *f, __u32 netns)
{
	struct netstat_listen ls;
	struct fan_netns *n;
	int err;

	err = netstat_listen_read(&ls);
	if (err)
		return err;
	n = fanout_netns(f, netns);
	if (!n)
		return -ENOMEM;
	n->listen_overflows = ls.overflows;
	n->listen_drops = ls.drops;
	n->defer_accept_drops = ls.defer_accept;
	n->syncookies_sent = ls.syncookies_sent;
	n->syncookies_recv = ls.syncookies_recv;
	n->syncookies_failed = ls.syncookies_failed;
	n->listen_known = true;
	return 0;
}

static int seed_netns(__u32 netns, void *arg)
{
	struct seed_ctx *ctx = arg;

	return seed_listen_counters(ctx->f, netns) ?:
	       dump_netns(ctx->f, netns, LIVE_STATES, ctx->details, &ctx->dv);
}

static int port_key_cmp(const void *a, const void *b)
{
	const __u64 *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static __u64 port_key(const struct diag_sock *s)
{
	return (__u64)s->key.netns << 16 | s->key.lport;
}

/*
 * Listeners' inodes, and with details those of connections on a
 * port a listener holds (in the dump or already in the model): the
 * sockets apply_sock() names an owner for.  Others (clients) are left out.
 */
static int wanted_build(const struct seed_ctx *ctx, struct wanted *w)
{
	const struct diag_vec *dv = &ctx->dv;
	size_t i, nports = 0;
	__u64 *ports;

	ports = calloc(dv->n + 1, sizeof(*ports));
	if (!ports || wanted_alloc(w, dv->n)) {
		free(ports);
		return -ENOMEM;
	}
	/* the listening ports matter only for connections' owners */
	for (i = 0; ctx->details && i < dv->n; i++)
		if (dv->v[i].state == TCP_LISTEN)
			ports[nports++] = port_key(&dv->v[i]);
	qsort(ports, nports, sizeof(*ports), port_key_cmp);
	for (i = 0; i < dv->n; i++) {
		const struct diag_sock *s = &dv->v[i];
		__u64 key = port_key(s);

		if (!s->inode)
			continue;
		if (s->state == TCP_LISTEN ||
		    (ctx->details &&
		     (bsearch(&key, ports, nports, sizeof(*ports), port_key_cmp) ||
		      fanout_has_listener(ctx->f, s->key.netns, s->key.lport))))
			w->inode[w->n++] = s->inode;
	}
	free(ports);
	qsort(w->inode, w->n, sizeof(*w->inode), owners_inode_cmp);
	return 0;
}

/*
 * Reconciliation.  The model ends a connection on its CLOSE record, and
 * a record can fail to come: lost (ring full), or never written (the
 * programs' table of followed connections forgot it).  Such a
 * connection would show for good; so each refresh compares the model's
 * connections with what sock_diag has and removes, counted in
 * f->reconciled, those the kernel no longer has.  Kept cheap: only the
 * connections a view shows, their ports filtered by the kernel (the
 * dump's cost is theirs, not the host's), none above RECONCILE_CONNS
 * (a dump of 64k takes about 0.1 s here; a port's details dump them
 * anyway), and at most DIAG_SUSPECTS_MAX asked about one by one per
 * refresh (a few microseconds each); the rest wait for the next one.
 */
#define RECONCILE_CONNS	65536

struct shown_ports {
	const struct seed_ctx *ctx;
	__u32 netns;
	__u16 *ports;
	size_t n, cap;
};

static int shown_port(const struct fan_conn *c, void *arg)
{
	struct shown_ports *sp = arg;

	if (c->key.netns != sp->netns || !conn_shown(sp->ctx, c))
		return 0;
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		__u16 *p = realloc(sp->ports, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		sp->ports = p;
		sp->cap = cap;
	}
	sp->ports[sp->n++] = c->key.lport;
	return 0;
}

static int diag_key_cmp(const void *a, const void *b)
{
	const struct diag_sock *x = a, *y = b;

	return memcmp(&x->key, &y->key, sizeof(x->key));
}

struct suspect_ctx {
	const struct seed_ctx *ctx;
	__u32 netns;
	const struct diag_vec *dv;	/* the dump, sorted by key */
	struct diag_suspects *sus;
};

/* a shown connection of the namespace that the dump lacks is a suspect */
static int suspect_conn(const struct fan_conn *c, void *arg)
{
	struct suspect_ctx *sc = arg;
	struct diag_sock key = { .key = c->key };
	const struct diag_sock *s;

	if (c->key.netns != sc->netns || !conn_shown(sc->ctx, c))
		return 0;
	s = bsearch(&key, sc->dv->v, sc->dv->n, sizeof(*s), diag_key_cmp);
	/* the same four-tuple under another cookie is another socket */
	if (s && (!c->cookie || !s->cookie || c->cookie == s->cookie))
		return 0;
	if (sc->sus->n == DIAG_SUSPECTS_MAX)
		return 1;	/* the next refresh looks at the rest */
	sc->sus->v[sc->sus->n].key = c->key;
	sc->sus->v[sc->sus->n].cookie = c->cookie;
	sc->sus->n++;
	return 0;
}

/*
 * Who holds each connection of @dv now (its inode in a process's fd
 * table, as ss -p finds it): a connection accepted while sockfan looked
 * may have gone to another process since (a master hands it to a
 * worker).  A walk of /proc: with details only.  @conn[i]: the model's
 * connection of @dv's i-th socket, NULL if it has none.
 */
static int refresh_holders(const struct diag_vec *dv, struct fan_conn **conn)
{
	struct wanted w = { 0 };
	struct owners o = { 0 };
	const struct owner *ow;
	size_t i;

	if (wanted_alloc(&w, dv->n))
		return -ENOMEM;
	for (i = 0; i < dv->n; i++)
		if (dv->v[i].inode && conn[i])
			w.inode[w.n++] = dv->v[i].inode;
	qsort(w.inode, w.n, sizeof(*w.inode), owners_inode_cmp);
	owners_load(&o, &w);
	for (i = 0; i < dv->n; i++) {
		ow = conn[i] ? owner_of(&o, dv->v[i].inode) : NULL;
		if (ow)
			fanout_conn_holder(conn[i], ow->pid, ow->comm);
	}
	wanted_free(&w);
	free(o.v);
	return 0;
}

/*
 * The connections shown in @netns: their state, with details segs_in
 * and holders, and the ones the dump lacks into ctx->sus (if any).
 */
static int refresh_conns(struct seed_ctx *ctx, __u32 netns)
{
	struct shown_ports sp = { .ctx = ctx, .netns = netns };
	struct diag_vec dv = { 0 };
	struct fan_conn **conn = NULL;
	struct suspect_ctx sc;
	struct fan_conn *c;
	int fd, err;
	size_t i;

	err = fanout_each_conn(ctx->f, shown_port, &sp);
	if (err || !sp.n || (!ctx->details && sp.n > RECONCILE_CONNS)) {
		free(sp.ports);
		return err;
	}
	fd = diag_socket();
	if (fd < 0) {
		free(sp.ports);
		return fd;
	}
	err = dump_ports(fd, sp.ports, sp.n, LIVE_STATES & ~(1U << TCP_LISTEN), ctx->details,
			 netns, &dv);
	close(fd);
	free(sp.ports);
	if (!err && ctx->details) {
		conn = calloc(dv.n + 1, sizeof(*conn));
		if (!conn)
			err = -ENOMEM;
	}
	for (i = 0; !err && i < dv.n; i++) {
		c = fanout_conn(ctx->f, &dv.v[i].key, dv.v[i].cookie);
		if (!c)
			continue;
		/* the hooks follow no FIN: the kernel says ESTAB or CLOSE-WAIT */
		c->state = dv.v[i].state;
		/* accepted or queued, from the socket itself */
		if (dv.v[i].inode)
			fanout_conn_has_file(ctx->f, c);
		if (ctx->details) {
			c->segs_in = dv.v[i].segs_in;
			conn[i] = c;
		}
	}
	if (!err && ctx->details)
		err = refresh_holders(&dv, conn);
	free(conn);
	if (!err && ctx->sus) {
		qsort(dv.v, dv.n, sizeof(*dv.v), diag_key_cmp);
		sc = (struct suspect_ctx){ .ctx = ctx, .netns = netns, .dv = &dv,
					   .sus = ctx->sus };
		fanout_each_conn(ctx->f, suspect_conn, &sc);
	}
	free(dv.v);
	return err;
}

static int refresh_netns(__u32 netns, void *arg)
{
	struct seed_ctx *ctx = arg;
	struct diag_vec dv = { 0 };
	size_t i;
	int err;

	err = seed_listen_counters(ctx->f, netns);
	if (err)
		return err;
	err = dump_netns(ctx->f, netns, 1U << TCP_LISTEN, ctx->details, &dv);
	for (i = 0; !err && i < dv.n; i++) {
		struct fan_listener *l = fanout_listener(ctx->f, dv.v[i].cookie);

		if (l)
			update_queue(l, &dv.v[i]);
	}
	free(dv.v);
	if (err)
		return err;
	err = refresh_conns(ctx, netns);
	if (err)
		fprintf(stderr, "sockfan: sock_diag dump of the connections of netns %u failed: %s\n",
			netns, strerror(-err));
	return err;
}

/* run @fn for @netns: here when it is ours, else by entering it (0: all) */
static int for_netns(__u32 netns, int (*fn)(__u32 netns, void *arg),
		     struct seed_ctx *ctx)
{
	if (netns && netns == netns_self())
		return fn(netns, ctx);
	return netns_each(netns, fn, ctx);
}

int diag_refresh(struct fanout *f, __u32 netns, bool details, const struct diag_shown *shown,
		 struct diag_suspects *sus)
{
	struct seed_ctx ctx = { .f = f, .details = details, .sus = sus, .shown = shown };

	if (sus)
		sus->n = 0;
	return for_netns(netns, refresh_netns, &ctx);
}

int seed_diag(struct fanout *f, __u32 netns, bool details)
{
	struct seed_ctx ctx = { .f = f, .details = details };
	struct wanted w = { 0 };
	int err, pass;
	size_t i;

	err = for_netns(netns, seed_netns, &ctx);
	if (!err)
		err = wanted_build(&ctx, &w);
	if (err == -ENOMEM)
		fprintf(stderr, "sockfan: out of memory for %zu sockets of the sock_diag dump\n",
			ctx.dv.n);
	if (!err) {
		owners_load(&ctx.owners, &w);
		/* listeners first, so connections can be matched to their port */
		for (pass = 0; pass < 2; pass++)
			for (i = 0; i < ctx.dv.n; i++)
				if ((ctx.dv.v[i].state == TCP_LISTEN) == (pass == 0))
					apply_sock(&ctx, &ctx.dv.v[i]);
	}
	wanted_free(&w);
	free(ctx.owners.v);
	free(ctx.dv.v);
	return err;
}
