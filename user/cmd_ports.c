// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan ports`: the per-port fan-out table, and with --port the
 * sockets behind one row: the listener and every connection sharing
 * its local port, told apart by their four-tuples.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fanout.h"
#include "render.h"
#include "spread.h"
#include "cli.h"
#include "loop.h"
#include "source_proc.h"
#include "view.h"

enum ports_out { OUT_TEXT, OUT_JSON, OUT_PROM };

static void ports_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s ports [OPTIONS]\n\n"
		"Per-port fan-out.  Now: listening (LISTEN) and connection sockets (ESTAB),\n"
		"their distinct remote addresses (PEERS).  Over the window (since sockfan\n"
		"attached, or the module loaded; '-' for a snapshot): ACCEPTED, CLOSED, mean\n"
		"lifetime and accept wait, longest wait, REFUSED SYNs.\n"
		"With --port, also every socket on that port.\n\n"
		"Output:\n"
		"      --json          one JSON document (one line) per look\n"
		"      --prom          Prometheus text format (node_exporter textfile collector)\n"
		"      --hook-cost     what the BPF programs cost: runs and run time of each as\n"
		"                      the kernel counts them (BPF_ENABLE_STATS), what an\n"
		"                      empty program's run counts, and the sum beyond that\n"
		"                      per passive handshake; needs --source bpf (the\n"
		"                      default with it) and --duration or --interval\n"
		"      --hist          after the table, the histograms the kernel keeps\n"
		"                      per port, in log2 buckets of microseconds: handshake\n"
		"                      (SYN-ACK to ACK), accept wait, lifetime: the module's\n"
		"                      since it was loaded (--source proc), or the BPF\n"
		"                      programs' (--source bpf, with --duration or --interval)\n",
		prog_name);
	view_usage(out);
}

struct ports_args {
	struct view_opts *o;
	enum ports_out out;
	bool hist;
};

static int ports_opt(int c, const char *arg, void *ctx)
{
	struct ports_args *a = ctx;

	switch (c) {
	case 'j':
	case 'M':
		if (a->out != OUT_TEXT) {
			fprintf(stderr, "%s ports: --json and --prom exclude each other\n", prog_name);
			return -1;
		}
		a->out = c == 'j' ? OUT_JSON : OUT_PROM;
		return 0;
	case 'C':
		a->o->hook_cost = true;
		return 0;
	case 'H':
		a->hist = true;
		return 0;
	}
	return 1;
}

static int parse_opts(int argc, char **argv, struct view_opts *o, enum ports_out *out,
		      bool *hist)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prom", no_argument, NULL, 'M' },
		{ "hook-cost", no_argument, NULL, 'C' },
		{ "hist", no_argument, NULL, 'H' },
		{ 0 },
	};
	static const struct view_cmd cmd = {
		.name = "ports", .set = VIEW_OPTSET_ALL, .shortopts = "", .longopts = opts,
		.opt = ports_opt, .usage = ports_usage,
	};
	struct ports_args a = { o, OUT_TEXT, false };
	int first = view_parse(argc, argv, &cmd, o, &a);

	*out = a.out;
	*hist = a.hist;
	if (first < 0)
		return -1;
	if (a.hist && a.out != OUT_TEXT) {
		fprintf(stderr, "%s ports: --hist draws the histograms as text; --json and --prom carry them anyway\n",
			prog_name);
		return -1;
	}
	if (a.hist) {
		struct stat st;

		if (o->source == VIEW_DIAG) {
			fprintf(stderr, "%s ports: --hist shows what the kernel aggregates: --source bpf (with time to count) or proc (the module's, since it was loaded), not a snapshot\n",
				prog_name);
			return -1;
		}
		/* the module's are there already; auto takes them when it is loaded */
		if (o->source == VIEW_AUTO && (o->proc_dir || !stat(SOCKFAN_PROC_PATH, &st)))
			o->source = VIEW_PROC;
		if (o->source != VIEW_PROC && !o->duration && !o->interval_ms) {
			fprintf(stderr, "%s ports: --hist needs time for the programs to count: --duration SEC or --interval SEC (or the module's: --source proc)\n",
				prog_name);
			return -1;
		}
		if (o->source != VIEW_PROC)
			o->source = VIEW_BPF;
	}
	if (*out == OUT_PROM && o->interval_ms) {
		fprintf(stderr, "%s ports: --prom writes one exposition; for a textfile collector run it per scrape (a timer), not with --interval\n",
			prog_name);
		return -1;
	}
	if (o->hook_cost) {
		if (o->source != VIEW_AUTO && o->source != VIEW_BPF) {
			fprintf(stderr, "%s ports: --hook-cost measures the BPF programs: it needs --source bpf\n",
				prog_name);
			return -1;
		}
		if (!o->duration && !o->interval_ms) {
			fprintf(stderr, "%s ports: --hook-cost needs time for the programs to run: --duration SEC or --interval SEC\n",
				prog_name);
			return -1;
		}
		o->source = VIEW_BPF;
	}
	return view_opts_check("ports", o);
}

/*
 * The kernel's own split of what listeners drop, per namespace: a
 * listener's sk_drops mixes accept-queue overflows with the rest.
 */
static void print_listen_counters(const struct fanout *f, const struct fan_filter *flt)
{
	size_t i;

	for (i = 0; i < f->nnetns; i++) {
		const struct fan_netns *n = &f->netns[i];

		if (!n->listen_known || !query_netns_shown(flt, n->netns))
			continue;
		printf("# netns %u listen queues (nstat, since the namespace was created): ListenOverflows %llu, ListenDrops %llu, TCPDeferAcceptDrop %llu; SYN cookies sent %llu, validated %llu, failed %llu\n",
		       n->netns, (unsigned long long)n->listen_overflows,
		       (unsigned long long)n->listen_drops,
		       (unsigned long long)n->defer_accept_drops,
		       (unsigned long long)n->syncookies_sent,
		       (unsigned long long)n->syncookies_recv,
		       (unsigned long long)n->syncookies_failed);
	}
}

static int print_table(const struct fanout *f, const struct fan_filter *flt, bool hist)
{
	struct fan_row *rows;
	size_t i, n;

	if (query_rows(f, flt, &rows, &n))
		return -ENOMEM;
	render_row_text_header();
	for (i = 0; i < n; i++)
		render_row_text(f, &rows[i]);
	/* they make no row: an ephemeral port of a closed outgoing connection */
	if (f->counts & FAN_COUNTS_MISSES)
		printf("# stray segments: %llu (in the namespaces shown; no socket, not a SYN: for connections already gone)\n",
		       (unsigned long long)query_strays(f, flt));
	print_listen_counters(f, flt);
	for (i = 0; i < n; i++)
		render_row_balance_text("# ", f, flt, &rows[i]);
	for (i = 0; hist && i < n; i++)
		render_row_hist_text(&rows[i]);
	free(rows);
	return 0;
}

/* the sockets behind one port: what answers "does one socket serve all?" */
static void print_port_sockets(const struct fanout *f, const struct fan_filter *flt,
			       __u32 netns, __u16 port)
{
	const struct fan_conn **conns;
	size_t i, n, nl = 0;

	for (i = 0; i < f->nlisteners; i++)
		nl += query_listener_on(flt, &f->listeners[i], netns, port);
	if (query_port_conns(f, flt, netns, port, &conns, &n))
		return;
	printf("\nport %u in netns %u: %zu listening socket%s, %zu connection socket%s on the same local port\n",
	       port, netns, nl, nl == 1 ? "" : "s", n, n == 1 ? "" : "s");
	for (i = 0; i < f->nlisteners; i++)
		if (query_listener_on(flt, &f->listeners[i], netns, port))
			render_listener_text(f, &f->listeners[i]);
	for (i = 0; i < n; i++)
		render_conn_text(conns[i]);
	print_spread(stdout, "  accepted: ", conns, n, false);
	print_spread(stdout, "  held:     ", conns, n, true);
	free(conns);
}

static void print_details(const struct fanout *f, const struct fan_filter *flt)
{
	struct fan_row *rows;
	size_t i, n;

	if (query_rows(f, flt, &rows, &n))
		return;
	for (i = 0; i < n; i++)
		if (rows[i].port == flt->port)
			print_port_sockets(f, flt, rows[i].netns, rows[i].port);
	free(rows);
}

static int print_look(const struct view *v, enum ports_out out, bool hist)
{
	const struct ports_meta *m = &v->meta;
	const struct fanout *f = &v->f;
	const struct fan_filter *flt = &v->o->filter;

	if (out == OUT_JSON)
		return ports_print_json(f, flt, m);
	if (out == OUT_PROM)
		return ports_print_prom(stdout, f, flt, m);
	view_print_source(m, true);
	if (print_table(f, flt, hist))
		return -ENOMEM;
	if (flt->port)
		print_details(f, flt);
	return 0;
}

int cmd_ports(int argc, char **argv)
{
	enum ports_out out = OUT_TEXT;
	bool hist = false;
	struct view_opts o;
	unsigned long looks = 0;
	struct view v;
	int err;

	view_opts_init(&o);
	if (parse_opts(argc, argv, &o, &out, &hist)) {
		ports_usage(stderr);
		return EXIT_USAGE;
	}
	err = view_open(&v, &o);
	while (!err) {
		err = print_look(&v, out, hist);
		fflush(stdout);
		if (err || !o.interval_ms || ++looks == o.count)
			break;
		err = view_wait(&v, o.interval_ms, -1);
		if (err || stop_requested())
			break;
		err = view_refresh(&v);
		if (!err && out == OUT_TEXT)
			printf("\n");
	}
	if (err == -ENOMEM)
		fprintf(stderr, "%s: out of memory\n", prog_name);
	view_close(&v);
	return err ? 1 : 0;
}
