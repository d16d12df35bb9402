// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan explain PORT --dot`: the same picture for Graphviz.  One
 * cluster per network namespace; a box per listening socket, an edge
 * "accept()" to each connection socket it handed out, and an edge from
 * that socket to its peer address (one ellipse per distinct peer, so
 * many connections from one client meet there).  Node ids come from
 * positions and raw addresses, not cookies: a path without cookies
 * reports 0 for every socket.
 */
#include <stdio.h>
#include <string.h>

#include "explain.h"
#include "format.h"

/* label=".." of three or four lines */
static void dot_label(const char *l1, const char *l2, const char *l3, const char *l4)
{
	char buf[400];

	snprintf(buf, sizeof(buf), "%s\n%s\n%s%s%s", l1, l2, l3, l4 ? "\n" : "",
		 l4 ? l4 : "");
	printf("label=");
	fput_dot_str(stdout, buf);
}

/* "l<netns>_<port>_<i>": the @i-th listener of the port */
static void dot_listener_id(const struct explain_port *p, size_t i)
{
	printf("\"l%u_%u_%zu\"", p->row->netns, p->row->port, i);
}

static void dot_conn_id(const struct explain_port *p, size_t i)
{
	printf("\"c%u_%u_%zu\"", p->row->netns, p->row->port, i);
}

/* one node per remote address, whatever the socket's family prints */
static void dot_peer_id(const struct fan_conn *c)
{
	int i;

	printf("\"p%u_", c->key.netns);
	for (i = 0; i < 16; i++)
		printf("%02x", c->key.raddr[i]);
	printf("\"");
}

static void dot_listener(const struct fanout *f, const struct explain_port *p, size_t i)
{
	const struct fan_listener *l = p->listeners[i];
	char ep[FMT_ADDR_LEN], task[48], line[96], hits[24], what[FMT_ADDR_LEN + 8];

	fmt_count(hits, sizeof(hits), l->hits, f->counts & FAN_COUNTS_LISTENER_HITS);
	snprintf(what, sizeof(what), "LISTEN %s", fmt_endpoint(ep, sizeof(ep), &l->key, 0));
	snprintf(line, sizeof(line), "backlog %u, queue %u, sk_drops %u, hits %s", l->backlog,
		 l->qlen, l->drops, hits);
	printf("    ");
	dot_listener_id(p, i);
	printf(" [shape=box, style=bold, ");
	dot_label(what, fmt_task(task, sizeof(task), l->pid, l->comm), line, NULL);
	printf("];\n");
}

static void dot_conn(const struct explain_port *p, size_t i, __u64 now)
{
	const struct fan_conn *c = p->conns[i];
	char ep[FMT_ADDR_LEN], peer[FMT_ADDR_LEN], task[48], holder[48], who[128], age[16];
	char what[80];
	char line[64], stats[64];

	snprintf(what, sizeof(what), "%s %s", fmt_state(c->state),
		 fmt_endpoint(ep, sizeof(ep), &c->key, 0));
	snprintf(line, sizeof(line), "<-> %s", fmt_endpoint(peer, sizeof(peer), &c->key, 1));
	if (c->hold_pid)
		snprintf(who, sizeof(who), "%s %s, held by %s",
			 c->flags & FAN_ACCEPTED ? "accepted by" : "in queue",
			 fmt_acceptor(task, sizeof(task), c),
			 fmt_task(holder, sizeof(holder), c->hold_pid, c->hold_comm));
	else if (c->flags & FAN_ACCEPTED)
		snprintf(who, sizeof(who), "accepted by %s", fmt_acceptor(task, sizeof(task), c));
	else
		snprintf(who, sizeof(who), "in the accept queue");
	fmt_duration(age, sizeof(age), c->est_ns && now > c->est_ns ? now - c->est_ns : 0);
	printf("    ");
	dot_conn_id(p, i);
	printf(" [shape=box, ");
	snprintf(stats, sizeof(stats), "age %s, %llu segs in", age,
		 (unsigned long long)c->segs_in);
	dot_label(what, line, who, stats);
	printf("];\n");
}

static void dot_port(const struct fanout *f, const struct explain_port *p, __u64 now)
{
	char peer[FMT_ADDR_LEN];
	size_t i, k;

	printf("  subgraph \"cluster_%u_%u\" {\n    label=\"netns %u, local port %u\";\n",
	       p->row->netns, p->row->port, p->row->netns, p->row->port);
	for (i = 0; i < p->nlisteners; i++)
		dot_listener(f, p, i);
	for (i = 0; i < p->nconns; i++) {
		const struct fan_conn *c = p->conns[i];

		dot_conn(p, i, now);
		/* sorted by remote address: a new address is a new peer */
		if (!i || memcmp(p->conns[i - 1]->key.raddr, c->key.raddr, 16)) {
			printf("    ");
			dot_peer_id(c);
			printf(" [shape=ellipse, label=\"peer %s\"];\n",
			       fmt_addr(peer, sizeof(peer), &c->key, 1));
		}
	}
	printf("  }\n");
	for (i = 0; i < p->nconns; i++) {
		const struct fan_conn *c = p->conns[i];
		const struct fan_listener *l = explain_parent(p, c);

		for (k = 0; l && k < p->nlisteners; k++) {
			if (p->listeners[k] != l)
				continue;
			printf("  ");
			dot_listener_id(p, k);
			printf(" -> ");
			dot_conn_id(p, i);
			printf(" [label=\"accept()\"];\n");
		}
		printf("  ");
		dot_conn_id(p, i);
		printf(" -> ");
		dot_peer_id(c);
		printf(" [label=\":%u\"];\n", c->key.rport);
	}
}

void explain_print_dot(const struct fanout *f, const struct explain_port *ports,
		       size_t n, __u64 now_ns)
{
	size_t i;

	printf("digraph sockfan {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n");
	for (i = 0; i < n; i++)
		dot_port(f, &ports[i], now_ns);
	printf("}\n");
}
