// SPDX-License-Identifier: GPL-2.0
/*
 * The picture `sockfan explain` draws, built once from the model and
 * the filter; the text (cmd_explain.c) and DOT (explain_dot.c) drawings
 * only read it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

const struct fan_listener *explain_parent(const struct explain_port *p,
					  const struct fan_conn *c)
{
	size_t i;

	for (i = 0; i < p->nlisteners; i++)
		if (c->listener && p->listeners[i]->cookie == c->listener)
			return p->listeners[i];
	return NULL;
}

int explain_gather(const struct fanout *f, const struct fan_filter *flt,
		   const struct fan_row *r, struct explain_port *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->row = r;
	p->listeners = calloc(f->nlisteners + 1, sizeof(*p->listeners));
	if (!p->listeners)
		return -ENOMEM;
	for (i = 0; i < f->nlisteners; i++) {
		const struct fan_listener *l = &f->listeners[i];

		if (query_listener_on(flt, l, r->netns, r->port))
			p->listeners[p->nlisteners++] = l;
	}
	return query_port_conns(f, flt, r->netns, r->port, &p->conns, &p->nconns);
}
