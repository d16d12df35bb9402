// SPDX-License-Identifier: GPL-2.0
/*
 * Read the socket iterator (bpf/sockfan_iter.bpf.c) of each namespace
 * and count its records per port.  A million connections are about
 * 24 MB of records, read through one descriptor, instead of sock_diag's
 * netlink messages and a struct fan_conn each.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sockfan_iter.skel.h"
#include "netns.h"
#include "owners.h"
#include "seed_diag.h"
#include "source_iter.h"

struct iter_source {
	struct sockfan_iter_bpf *skel;
	struct bpf_link *link;
};

/* a listener read, for its owner once every namespace is read */
struct iter_listener {
	__u64 cookie;
	__u32 inode;
};

/* one listened port of the namespace being read */
struct port_count {
	__u16 port;
	__u64 states[FMT_TCP_STATES];
};

struct iter_ctx {
	struct iter_source *s;
	struct fanout *f;
	struct iter_listener *ls;
	size_t nls, capls;
	/* per namespace: */
	__u16 *slot;		/* port -> index + 1 in @ports, 0: not listened */
	struct port_count *ports;
	size_t nports, capports;
	__u64 *peers;		/* port and remote address of each connection */
	size_t npeers, cappeers;
};

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static int loud(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

int iter_source_open(struct iter_source **sp, bool verbose)
{
	libbpf_print_fn_t old = libbpf_set_print(verbose ? loud : quiet);
	struct iter_source *s = calloc(1, sizeof(*s));
	int err = 0;

	if (!s) {
		libbpf_set_print(old);
		return -ENOMEM;
	}
	s->skel = sockfan_iter_bpf__open_and_load();
	if (!s->skel)
		err = -errno;
	if (!err) {
		s->link = bpf_program__attach_iter(s->skel->progs.sockfan_iter_tcp, NULL);
		if (!s->link)
			err = -errno;
	}
	libbpf_set_print(old);
	if (err) {
		if (verbose)
			fprintf(stderr, "sockfan: no BPF socket iterator here (%s): sock_diag lists the sockets\n",
				strerror(-err));
		iter_source_close(s);
		return err;
	}
	*sp = s;
	return 0;
}

void iter_source_close(struct iter_source *s)
{
	if (!s)
		return;
	bpf_link__destroy(s->link);
	sockfan_iter_bpf__destroy(s->skel);
	free(s);
}

/* room for one more of @n in *@v (of @size bytes each, @cap of them) */
static int grow(void **v, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? 2 * *cap : 1024;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*v, c * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

static int on_listener(struct iter_ctx *ctx, __u32 netns, const struct sockfan_iter_listener *r)
{
	struct sockfan_key k = { .netns = netns, .family = r->sock.family,
				 .lport = r->sock.port };
	struct fan_listener *l;

	memcpy(k.laddr, r->sock.addr, sizeof(k.laddr));
	l = fanout_snap_listener(ctx->f, &k, r->cookie, r->backlog);
	if (!l)
		return -ENOMEM;
	l->qlen = r->qlen;
	l->drops = r->drops;
	if (r->inode) {
		if (grow((void **)&ctx->ls, ctx->nls, &ctx->capls, sizeof(*ctx->ls)))
			return -ENOMEM;
		ctx->ls[ctx->nls++] = (struct iter_listener){ r->cookie, r->inode };
	}
	if (!ctx->slot[r->sock.port]) {
		if (grow((void **)&ctx->ports, ctx->nports, &ctx->capports, sizeof(*ctx->ports)))
			return -ENOMEM;
		memset(&ctx->ports[ctx->nports], 0, sizeof(*ctx->ports));
		ctx->ports[ctx->nports].port = r->sock.port;
		ctx->slot[r->sock.port] = ++ctx->nports;
	}
	return 0;
}

/*
 * A peer as one sortable word: the port above, an IPv4 address exactly
 * below; an IPv6 one by a hash (2^47 values: a million peers of a port
 * collide once in about 300 looks, and count one peer less).
 */
static __u64 peer_word(__u16 port, const __u8 *a)
{
	__u64 h = 0xcbf29ce484222325ULL;
	__u32 v4;
	int i;

	if (sockfan_addr_is_v4mapped(a)) {
		memcpy(&v4, a + 12, 4);
		return (__u64)port << 32 | v4;
	}
	for (i = 0; i < 16; i++)
		h = (h ^ a[i]) * 0x100000001b3ULL;
	return 1ULL << 63 | (__u64)port << 47 | (h & ((1ULL << 47) - 1));
}

static int on_conn(struct iter_ctx *ctx, const struct sockfan_iter_sock *r)
{
	__u16 slot = ctx->slot[r->port];

	/* the iterator writes only connections on listened ports */
	if (!slot || r->state >= FMT_TCP_STATES)
		return 0;
	ctx->ports[slot - 1].states[r->state]++;
	if (grow((void **)&ctx->peers, ctx->npeers, &ctx->cappeers, sizeof(*ctx->peers)))
		return -ENOMEM;
	ctx->peers[ctx->npeers++] = peer_word(r->port, r->addr);
	return 0;
}

/* LSD radix sort of @n words, 16 bits a pass, through @tmp */
static void sort_words(__u64 *v, __u64 *tmp, size_t n)
{
	static size_t count[65536];
	unsigned int shift, d;
	__u64 *src = v, *dst = tmp, *t;
	size_t i, sum;

	for (shift = 0; shift < 64; shift += 16) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i] >> shift) & 0xffff]++;
		for (d = 0, sum = 0; d < 65536; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xffff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	/* four passes: the result is back in @v */
}

static __u16 word_port(__u64 w)
{
	return w >> 63 ? (w >> 47) & 0xffff : (w >> 32) & 0xffff;
}

/* distinct peers per port, then the ports into the model */
static int count_ports(struct iter_ctx *ctx, __u32 netns)
{
	__u64 *tmp = malloc((ctx->npeers + 1) * sizeof(*tmp)), *peers;
	size_t i;
	int err = 0;

	if (!tmp)
		return -ENOMEM;
	sort_words(ctx->peers, tmp, ctx->npeers);
	free(tmp);
	/* the count of each port's distinct words, kept in tmp's stead */
	peers = calloc(ctx->nports + 1, sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	for (i = 0; i < ctx->npeers; i++) {
		__u16 slot = ctx->slot[word_port(ctx->peers[i])];

		if (slot && (!i || ctx->peers[i] != ctx->peers[i - 1]))
			peers[slot - 1]++;
	}
	for (i = 0; !err && i < ctx->nports; i++)
		err = fanout_snap_port_live(ctx->f, netns, ctx->ports[i].port,
					    ctx->ports[i].states, peers[i]);
	free(peers);
	return err;
}

/* the whole records at the start of @buf (@n bytes), their length in @used */
static int parse(struct iter_ctx *ctx, __u32 netns, const char *buf, size_t n, size_t *used)
{
	size_t off = 0, len;
	int err = 0;

	*used = 0;
	while (!err && n - off >= sizeof(struct sockfan_iter_sock)) {
		const struct sockfan_iter_sock *r = (const void *)(buf + off);

		len = r->kind == SOCKFAN_ITER_LISTENER ? sizeof(struct sockfan_iter_listener) :
		      sizeof(*r);
		if (n - off < len)
			break;
		if (r->kind == SOCKFAN_ITER_LISTENER) {
			struct sockfan_iter_listener l;

			memcpy(&l, r, sizeof(l));
			err = on_listener(ctx, netns, &l);
		} else if (r->kind == SOCKFAN_ITER_CONN) {
			err = on_conn(ctx, r);
		} else {
			fprintf(stderr, "sockfan: the socket iterator wrote a record of kind %u: sockfan and its BPF object differ (rebuild)\n",
				r->kind);
			return -EPROTO;
		}
		off += len;
	}
	*used = off;
	return err;
}

static int read_iter(struct iter_ctx *ctx, __u32 netns, int fd)
{
	static char buf[1 << 18];
	size_t have = 0, used;
	ssize_t got;
	int err = 0;

	while (!err) {
		got = read(fd, buf + have, sizeof(buf) - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (!got)
			break;
		have += got;
		err = parse(ctx, netns, buf, have, &used);
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	if (!err && have) {
		fprintf(stderr, "sockfan: the socket iterator's output ended inside a record\n");
		err = -EPROTO;
	}
	return err;
}

/* the namespace the caller is in now (netns_each() entered it) */
static int read_netns(__u32 netns, void *arg)
{
	static const struct port_marks { __u64 bits[65536 / 64]; } none;
	struct iter_ctx *ctx = arg;
	__u32 zero = 0;
	int fd, err;

	err = seed_listen_counters(ctx->f, netns);
	if (err)
		return err;
	if (bpf_map_update_elem(bpf_map__fd(ctx->s->skel->maps.listened), &zero, &none, 0))
		return -errno;
	/* the iterator walks the namespace of the task that creates it */
	fd = bpf_iter_create(bpf_link__fd(ctx->s->link));
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "sockfan: cannot start the BPF socket iterator in netns %u: %s\n",
			netns, strerror(-err));
		return err;
	}
	memset(ctx->slot, 0, 65536 * sizeof(*ctx->slot));
	ctx->nports = ctx->npeers = 0;
	err = read_iter(ctx, netns, fd);
	close(fd);
	if (err == -ENOMEM)
		fprintf(stderr, "sockfan: out of memory for the sockets of netns %u\n", netns);
	else if (err && err != -EPROTO)
		fprintf(stderr, "sockfan: reading the BPF socket iterator of netns %u failed: %s\n",
			netns, strerror(-err));
	return err ?: count_ports(ctx, netns);
}

static int set_owners(struct iter_ctx *ctx)
{
	struct wanted w = { 0 };
	struct owners o = { 0 };
	const struct owner *ow;
	struct fan_listener *l;
	size_t i;

	if (wanted_alloc(&w, ctx->nls))
		return -ENOMEM;
	for (i = 0; i < ctx->nls; i++)
		w.inode[w.n++] = ctx->ls[i].inode;
	qsort(w.inode, w.n, sizeof(*w.inode), owners_inode_cmp);
	owners_load(&o, &w);
	for (i = 0; i < ctx->nls; i++) {
		ow = owner_of(&o, ctx->ls[i].inode);
		l = ow ? fanout_listener(ctx->f, ctx->ls[i].cookie) : NULL;
		if (l) {
			l->pid = ow->pid;
			memcpy(l->comm, ow->comm, sizeof(l->comm));
		}
	}
	free(o.v);
	wanted_free(&w);
	return 0;
}

int iter_snapshot(struct iter_source *s, struct fanout *f, __u32 netns)
{
	struct iter_ctx ctx = { .s = s, .f = f };
	int err;

	ctx.slot = calloc(65536, sizeof(*ctx.slot));
	if (!ctx.slot)
		return -ENOMEM;
	if (netns && netns == netns_self())
		err = read_netns(netns, &ctx);
	else
		err = netns_each(netns, read_netns, &ctx);
	if (!err)
		err = set_owners(&ctx);
	if (err == -ENOMEM)
		fprintf(stderr, "sockfan: out of memory\n");
	free(ctx.slot);
	free(ctx.ports);
	free(ctx.peers);
	free(ctx.ls);
	return err;
}
