// SPDX-License-Identifier: GPL-2.0
/*
 * Reconciliation with the kernel.  The model ends a connection on its
 * CLOSE record, and a record can fail to come (lost, or never written):
 * a refresh's dump (seed_diag.c) names the shown connections it lacks,
 * and these are asked about here one by one, after the records queued
 * meanwhile were applied, so that only what the tracer missed is
 * removed and counted.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "diag_reconcile.h"
#include "netns.h"
#include "seed_diag.h"

/* inet_diag_msg.idiag_timer of a time-wait minisocket (inet_twsk_diag_fill) */
#define DIAG_TIMER_TIMEWAIT	3

/*
 * Whether the kernel still has connection @s, asked by its four-tuple
 * and cookie (an exact lookup, not a dump, which can skip a socket
 * when others leave the hash chain it is in between two batches): 1
 * yes, 0 no, or a negative errno.  A lookup that finds no connection
 * finds the listener, which the cookie check refuses (-ENOENT); a
 * time-wait socket keeps its connection's cookie and is answered, but
 * is no connection any more.
 */
static int diag_sock_live(int fd, const struct diag_suspect *s)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST,
		},
		.r = {
			.sdiag_family = s->key.family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = ~0U,
			.id = {
				.idiag_sport = htons(s->key.lport),
				.idiag_dport = htons(s->key.rport),
				.idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE },
			},
		},
	};
	union {
		struct nlmsghdr h;
		char buf[8192];
	} rx;
	const struct inet_diag_msg *m;
	ssize_t len;

	if (s->key.family == AF_INET) {
		memcpy(req.r.id.idiag_src, s->key.laddr + 12, 4);
		memcpy(req.r.id.idiag_dst, s->key.raddr + 12, 4);
	} else {
		memcpy(req.r.id.idiag_src, s->key.laddr, 16);
		memcpy(req.r.id.idiag_dst, s->key.raddr, 16);
	}
	if (s->cookie) {
		req.r.id.idiag_cookie[0] = (__u32)s->cookie;
		req.r.id.idiag_cookie[1] = (__u32)(s->cookie >> 32);
	}
	if (send(fd, &req, sizeof(req), 0) < 0)
		return -errno;
	do {
		len = recv(fd, &rx, sizeof(rx), 0);
	} while (len < 0 && errno == EINTR);
	if (len < 0)
		return -errno;
	if (!NLMSG_OK(&rx.h, (size_t)len))
		return -EPROTO;
	if (rx.h.nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(&rx.h);

		return e->error == -ENOENT ? 0 : e->error ?: -EPROTO;
	}
	if (rx.h.nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EPROTO;
	m = NLMSG_DATA(&rx.h);
	return m->idiag_timer != DIAG_TIMER_TIMEWAIT && m->idiag_state != TCP_TIME_WAIT &&
	       m->idiag_state != TCP_LISTEN && m->idiag_state != TCP_CLOSE;
}

struct reconcile_ctx {
	struct fanout *f;
	const struct diag_suspects *sus;
};

static int reconcile_netns(__u32 netns, void *arg)
{
	struct reconcile_ctx *ctx = arg;
	const struct diag_suspect *s;
	int fd, live;
	size_t i;

	fd = diag_socket();
	if (fd < 0)
		return fd;
	for (i = 0; i < ctx->sus->n; i++) {
		s = &ctx->sus->v[i];
		/* its CLOSE record may have come since the dump */
		if (s->key.netns != netns || !fanout_conn(ctx->f, &s->key, s->cookie))
			continue;
		live = diag_sock_live(fd, s);
		/* in doubt (an error), keep it: the next refresh asks again */
		if (!live)
			fanout_reconcile_gone(ctx->f, &s->key, s->cookie);
	}
	close(fd);
	return 0;
}

int diag_reconcile(struct fanout *f, __u32 netns, const struct diag_suspects *sus)
{
	struct reconcile_ctx ctx = { .f = f, .sus = sus };

	if (!sus->n)
		return 0;
	/* here when it is ours, else by entering it (0: each) */
	if (netns && netns == netns_self())
		return reconcile_netns(netns, &ctx);
	return netns_each(netns, reconcile_netns, &ctx);
}
