// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan explain PORT`: draw one port.  The listening socket only
 * accepts; every accept() hands out a socket of its own that shares the
 * local address and port, and the kernel tells those apart by the remote
 * end of the four-tuple.  This shows each listener with the connections
 * it handed out, who accepted them and when, and how many segments the
 * kernel's lookup delivered to each.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "format.h"
#include "spread.h"
#include "loop.h"
#include "render.h"
#include "cli.h"
#include "view.h"

static void explain_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s explain PORT [OPTIONS]\n\n"
		"The listening socket(s) of local port PORT and every connection socket\n"
		"sharing that port: four-tuple, accepting task, age, lookups.\n\n"
		"      --dot           Graphviz DOT instead of text (| dot -Tsvg)\n",
		prog_name);
	view_usage(out);
}

static int explain_opt(int c, const char *arg, void *ctx)
{
	bool *dot = ctx;

	switch (c) {
	case 'p':
		fprintf(stderr, "%s explain: the port is the argument (explain PORT), not --port\n",
			prog_name);
		return -1;
	case 'G':
		*dot = true;
		return 0;
	}
	return 1;
}

static int parse_opts(int argc, char **argv, struct view_opts *o, bool *dot)
{
	static const struct option opts[] = {
		{ "dot", no_argument, NULL, 'G' },
		{ 0 },
	};
	static const struct view_cmd cmd = {
		.name = "explain", .set = VIEW_OPTSET_ALL, .shortopts = "", .longopts = opts,
		.opt = explain_opt, .usage = explain_usage, .args = true,
	};
	int first = view_parse(argc, argv, &cmd, o, dot);
	unsigned long port;

	if (first < 0)
		return -1;
	if (first >= argc) {
		fprintf(stderr, "%s explain: which port? (explain PORT)\n", prog_name);
		return -1;
	}
	if (!parse_uint(argv[first], 1, 65535, &port)) {
		fprintf(stderr, "%s explain: PORT wants a port number 1-65535, not '%s'\n",
			prog_name, argv[first]);
		return -1;
	}
	if (view_no_more_args("explain", argc, argv, first + 1))
		return -1;
	if (o->interval_ms) {
		fprintf(stderr, "%s explain: draws once; for a live view use %s top\n",
			prog_name, prog_name);
		return -1;
	}
	o->filter.port = port;
	return view_opts_check("explain", o);
}

/* "2.5s", "age -" for a socket seen only in a snapshot */
static const char *fmt_since(char *buf, size_t len, __u64 now, __u64 then)
{
	return fmt_duration(buf, len, then && now > then ? now - then : 0);
}

static void print_conn(const struct fan_conn *c, bool last, __u64 now)
{
	char local[FMT_ADDR_LEN], peer[FMT_ADDR_LEN], task[48], age[16], wait[16];

	printf("  %s %-10s %s <-> %s  cookie %llu\n", last ? "`--" : "+--", fmt_state(c->state),
	       fmt_endpoint(local, sizeof(local), &c->key, 0),
	       fmt_endpoint(peer, sizeof(peer), &c->key, 1), (unsigned long long)c->cookie);
	printf("  %s             ", last ? "   " : "|  ");
	if (c->flags & FAN_ACCEPTED && c->pid)
		printf("accepted by %s", fmt_acceptor(task, sizeof(task), c));
	else if (c->flags & FAN_ACCEPTED)
		printf("accepted before sockfan looked");
	else
		printf("in the accept queue, not accepted yet");
	if (c->hold_pid)
		printf(", held by %s", fmt_task(task, sizeof(task), c->hold_pid, c->hold_comm));
	printf(", age %s", fmt_since(age, sizeof(age), now, c->est_ns));
	if (c->acc_ns && c->est_ns && c->acc_ns > c->est_ns)
		printf(", waited %s in queue",
		       fmt_duration(wait, sizeof(wait), c->acc_ns - c->est_ns));
	printf(", %llu segments found it\n", (unsigned long long)c->segs_in);
}

/* the connections handed out by @l (NULL: by no listener shown) */
static void print_children(const struct explain_port *p, const struct fan_listener *l,
			   __u64 now)
{
	size_t i, n = 0, k = 0;

	for (i = 0; i < p->nconns; i++)
		n += explain_parent(p, p->conns[i]) == l;
	for (i = 0; i < p->nconns; i++)
		if (explain_parent(p, p->conns[i]) == l)
			print_conn(p->conns[i], ++k == n, now);
	if (!n)
		printf("  (no connection socket from it now)\n");
}

/* @s in lines of at most 78 columns, broken at spaces */
static void print_wrapped(const char *s)
{
	const int width = 78;
	int len;

	while (*s) {
		len = strlen(s);
		if (len > width) {
			len = width;
			while (len > 0 && s[len] != ' ')
				len--;
			if (!len)
				len = width;
		}
		printf("%.*s\n", len, s);
		s += len;
		while (*s == ' ')
			s++;
	}
}

/* " (18 ESTAB, 2 CLOSE-WAIT)": a CLOSE-WAIT pile-up is a leak, not load */
static void print_states(const struct fan_row *r)
{
	unsigned int s, k = 0;

	for (s = 0; s < FMT_TCP_STATES; s++)
		if (r->states[s])
			printf("%s%llu %s", k++ ? ", " : " (", (unsigned long long)r->states[s],
			       fmt_state(s));
	if (k)
		printf(")");
}

static void print_port(const struct fanout *f, const struct fan_filter *flt,
		       const struct explain_port *p, __u64 now)
{
	const struct fan_row *r = p->row;
	char ep[FMT_ADDR_LEN], task[48], hits[24], refused[24], acc[24], ovf[24], hs[24];
	char answer[512];
	char cg[4200];
	__u64 segs = 0, lhits = 0;
	int n;
	size_t i, orphans = 0;
	bool known_hits = f->counts & FAN_COUNTS_LISTENER_HITS;

	printf("\nnetns %u, local port %u: %zu listening socket%s, %zu connection socket%s",
	       r->netns, r->port, p->nlisteners, p->nlisteners == 1 ? "" : "s", p->nconns,
	       p->nconns == 1 ? "" : "s");
	print_states(r);
	printf("\n\n");
	for (i = 0; i < p->nlisteners; i++) {
		const struct fan_listener *l = p->listeners[i];

		lhits += l->hits;
		printf("LISTEN %s  owner %s  cookie %llu  cgroup %s\n",
		       fmt_endpoint(ep, sizeof(ep), &l->key, 0),
		       fmt_task(task, sizeof(task), l->pid, l->comm), (unsigned long long)l->cookie,
		       fmt_cgroup(cg, sizeof(cg), l->cgroup));
		printf("  |    backlog %u, in queue %u, overflows %s, sk_drops %u, handed %s connections (handshakes), accepted %s, chosen by %s listener lookups (SYNs)\n",
		       l->backlog, l->qlen,
		       fmt_count(ovf, sizeof(ovf), l->overflows, f->counts & FAN_COUNTS_OVERFLOWS),
		       l->drops,
		       fmt_count(hs, sizeof(hs), l->handshakes, f->counts & FAN_COUNTS_MEMBERS),
		       fmt_count(acc, sizeof(acc), l->accepted, f->counts & FAN_COUNTS_TOTALS),
		       fmt_count(hits, sizeof(hits), l->hits, known_hits));
		if (l->stalled)
			printf("  |    STALLED: %u connections wait in its queue and it accepted none for %llu s\n",
			       l->qlen, (unsigned long long)(l->idle_ns / 1000000000));
		print_children(p, l, now);
		printf("\n");
	}
	for (i = 0; i < p->nconns; i++) {
		segs += p->conns[i]->segs_in;
		orphans += !explain_parent(p, p->conns[i]);
	}
	if (orphans) {
		printf("listener not known (one of a SO_REUSEPORT group, accepted before sockfan looked; closed; or not selected by the filters)\n");
		print_children(p, NULL, now);
		printf("\n");
	}
	/* a reuseport group's balance, and where a master's accepts went */
	render_row_balance_text("", f, flt, r);
	print_spread(stdout, "Accepted: ", p->conns, p->nconns, false);
	print_spread(stdout, "Held now: ", p->conns, p->nconns, true);
	n = snprintf(answer, sizeof(answer), "Does one socket serve all clients?  No: ");
	if (p->nlisteners)
		n += snprintf(answer + n, sizeof(answer) - n, "the listening socket%s only accept%s. ",
			      p->nlisteners == 1 ? "" : "s", p->nlisteners == 1 ? "s" : "");
	/* both texts above are far shorter than @answer: n stays inside */
	if (p->nconns == 1)
		snprintf(answer + n, sizeof(answer) - n,
			 "The one connection has a socket of its own sharing local port %u, named by its four-tuple.",
			 r->port);
	else if (p->nconns)
		snprintf(answer + n, sizeof(answer) - n,
			 "Each of the %zu connections has a socket of its own sharing local port %u; the kernel tells them apart by the remote end of the four-tuple (%llu peer address%s).",
			 p->nconns, r->port, (unsigned long long)r->peers,
			 r->peers == 1 ? "" : "es");
	else
		snprintf(answer + n, sizeof(answer) - n,
			 "No connection socket shares local port %u now.", r->port);
	print_wrapped(answer);
	/* where no hook sees which listener, sk_lookup counts them per port */
	if (!known_hits && (f->counts & FAN_COUNTS_PORT_HITS)) {
		lhits = r->lookup_hits;
		known_hits = true;
	}
	snprintf(answer, sizeof(answer),
		 "Lookups of incoming segments: %llu found one of the %zu connection sockets open now (closed ones took their counts along); in the window, %s found a listener%s and %s SYNs found no socket (refused with RST).",
		 (unsigned long long)segs, p->nconns, fmt_count(hits, sizeof(hits), lhits, known_hits),
		 f->counts & FAN_COUNTS_LISTENER_HITS ? "" :
		 f->counts & FAN_COUNTS_PORT_HITS ? " (counted per port by sk_lookup)" : "",
		 fmt_count(refused, sizeof(refused), r->refused, f->counts & FAN_COUNTS_MISSES));
	print_wrapped(answer);
}

int cmd_explain(int argc, char **argv)
{
	struct explain_port *ports = NULL;
	struct fan_row *rows = NULL;
	struct view_opts o;
	bool dot = false;
	size_t i, n = 0;
	struct view v;
	__u64 now;
	int err;

	view_opts_init(&o);
	if (parse_opts(argc, argv, &o, &dot)) {
		explain_usage(stderr);
		return EXIT_USAGE;
	}
	err = view_open(&v, &o);
	if (!err)
		err = query_rows(&v.f, &o.filter, &rows, &n);
	if (!err) {
		ports = calloc(n + 1, sizeof(*ports));
		if (!ports)
			err = -ENOMEM;
	}
	for (i = 0; !err && i < n; i++)
		err = explain_gather(&v.f, &o.filter, &rows[i], &ports[i]);
	now = mono_ns();
	if (!err && dot) {
		explain_print_dot(&v.f, ports, n, now);
	} else if (!err) {
		view_print_source(&v.meta, false);
		if (!n)
			printf("\nnothing on local port %u (no listener, no connection%s)\n",
			       o.filter.port, filter_by_socket(&o.filter) ?
			       " that the filters select" : "");
		for (i = 0; i < n; i++)
			print_port(&v.f, &o.filter, &ports[i], now);
	}
	if (err == -ENOMEM)
		fprintf(stderr, "%s: out of memory\n", prog_name);
	for (i = 0; ports && i < n; i++) {
		free(ports[i].listeners);
		free(ports[i].conns);
	}
	free(ports);
	free(rows);
	view_close(&v);
	return err ? 1 : 0;
}
