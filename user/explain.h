/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `sockfan explain PORT`: one port's listening sockets and the
 * connection sockets each handed out, the picture that answers "does
 * one socket serve all clients?", as text or as Graphviz DOT.
 */
#ifndef SOCKFAN_EXPLAIN_H
#define SOCKFAN_EXPLAIN_H

#include "query.h"

/* one (netns, port): its selected listeners and connections */
struct explain_port {
	const struct fan_row *row;
	const struct fan_listener **listeners;
	size_t nlisteners;
	const struct fan_conn **conns;	/* sorted by remote address */
	size_t nconns;
};

/*
 * @r's port as @flt selects its sockets: listeners and connections (the
 * caller frees p->listeners and p->conns).  0 or -ENOMEM.
 */
int explain_gather(const struct fanout *f, const struct fan_filter *flt,
		   const struct fan_row *r, struct explain_port *p);

/* the listener among @p's that handed @c out; NULL if none of them */
const struct fan_listener *explain_parent(const struct explain_port *p,
					  const struct fan_conn *c);

/* the picture as a DOT digraph: listener -> connection -> peer */
void explain_print_dot(const struct fanout *f, const struct explain_port *ports,
		       size_t n, __u64 now_ns);

#endif /* SOCKFAN_EXPLAIN_H */
