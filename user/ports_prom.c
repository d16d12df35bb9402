// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan ports --prom`: the Prometheus text exposition format (0.0.4),
 * as node_exporter's textfile collector reads it.  One family per
 * counter, labelled by netns and port; times are summaries in seconds
 * (_sum and _count, no quantiles).  A counter the source cannot count is
 * left out, not exported as 0.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "format.h"
#include "ports_out.h"
#include "cli.h"

enum prom_kind { GAUGE, COUNTER, SUMMARY };

static __u64 listening(const struct fan_row *r) { return r->listeners; }

static __u64 accepted(const struct fan_row *r) { return r->accepted; }
static __u64 closed(const struct fan_row *r) { return r->closed; }
static __u64 peers(const struct fan_row *r) { return r->peers; }
static __u64 refused(const struct fan_row *r) { return r->refused; }
static __u64 lifetimes(const struct fan_row *r) { return r->lifetimes; }
static __u64 lifetime_ns(const struct fan_row *r) { return r->lifetime_sum_ns; }
static __u64 waits(const struct fan_row *r) { return r->waits; }
static __u64 wait_ns(const struct fan_row *r) { return r->wait_sum_ns; }

struct prom_family {
	const char *name;
	enum prom_kind kind;
	const char *help;
	__u64 (*value)(const struct fan_row *r);	/* SUMMARY: its _count */
	__u64 (*sum_ns)(const struct fan_row *r);	/* SUMMARY: its _sum */
	unsigned int needs;		/* FAN_COUNTS_* it depends on */
};

#define FAMILY(n, k, h, v, ...) \
	{ .name = (n), .kind = (k), .help = (h), .value = (v), __VA_ARGS__ }

static const struct prom_family families[] = {
	FAMILY("sockfan_listening_sockets", GAUGE, "Sockets in LISTEN on the port.", listening),
	/* a snapshot saw no accept nor close: no counter rather than one that falls */
	FAMILY("sockfan_accepted_total", COUNTER, "Connections handed out by accept().", accepted,
	       .needs = FAN_COUNTS_TOTALS),
	FAMILY("sockfan_closed_total", COUNTER, "Passive connections that reached CLOSE.", closed,
	       .needs = FAN_COUNTS_TOTALS),
	FAMILY("sockfan_peers", GAUGE, "Distinct remote addresses among the live connections.",
	       peers),
	FAMILY("sockfan_connection_lifetime_seconds", SUMMARY,
	       "Time from handshake to CLOSE of closed connections.", lifetimes,
	       .sum_ns = lifetime_ns, .needs = FAN_COUNTS_TOTALS),
	FAMILY("sockfan_accept_wait_seconds", SUMMARY,
	       "Time from handshake to accept() of accepted connections.", waits,
	       .sum_ns = wait_ns, .needs = FAN_COUNTS_TOTALS),
	FAMILY("sockfan_refused_syns_total", COUNTER,
	       "SYNs to the port that found no socket: connections refused with RST.", refused,
	       .needs = FAN_COUNTS_MISSES),
};

static const char * const kind_names[] = { "gauge", "counter", "summary" };

static void sample(const struct prom_family *fam, const struct fan_row *r)
{
	const char *count = fam->kind == SUMMARY ? "_count" : "";

	if (fam->kind == SUMMARY)
		printf("%s_sum{netns=\"%u\",port=\"%u\"} %.9f\n", fam->name, r->netns,
		       r->port, fam->sum_ns(r) / 1e9);
	printf("%s%s{netns=\"%u\",port=\"%u\"} %llu\n", fam->name, count, r->netns, r->port,
	       (unsigned long long)fam->value(r));
}

/*
 * --hook-cost: gauges, not counters: each run of sockfan counts afresh
 * (a textfile collector runs it per scrape).
 */
static void prom_hook_cost(const struct ports_meta *m)
{
	int i;

	printf("# HELP sockfan_bpf_prog_runs Runs of each attached BPF program during this sockfan run (--hook-cost).\n");
	printf("# TYPE sockfan_bpf_prog_runs gauge\n");
	for (i = 0; i < m->nhook_cost; i++) {
		printf("sockfan_bpf_prog_runs{prog=");
		fput_prom_label(stdout, m->hook_cost[i].prog);
		printf("} %llu\n", (unsigned long long)m->hook_cost[i].runs);
	}
	printf("# HELP sockfan_bpf_prog_run_seconds Run time of each attached BPF program during this sockfan run, as the kernel counts it (--hook-cost).\n");
	printf("# TYPE sockfan_bpf_prog_run_seconds gauge\n");
	for (i = 0; i < m->nhook_cost; i++) {
		printf("sockfan_bpf_prog_run_seconds{prog=");
		fput_prom_label(stdout, m->hook_cost[i].prog);
		printf("} %.9f\n", m->hook_cost[i].run_ns / 1e9);
	}
	/* not known: no sample, rather than a false 0 */
	if (m->empty_run_ns) {
		printf("# HELP sockfan_bpf_empty_run_seconds What an empty BPF program's run counts (mostly the count's own clock reads), included in each run of sockfan_bpf_prog_run_seconds.\n");
		printf("# TYPE sockfan_bpf_empty_run_seconds gauge\n");
		printf("sockfan_bpf_empty_run_seconds %.9f\n", m->empty_run_ns / 1e9);
	}
	printf("# HELP sockfan_handshakes Passive handshakes recorded during this sockfan run (--hook-cost).\n");
	printf("# TYPE sockfan_handshakes gauge\n");
	printf("sockfan_handshakes %llu\n", (unsigned long long)m->handshakes);
}

/*
 * Connection sockets by TCP state: ESTAB and CLOSE-WAIT always (a
 * CLOSE-WAIT pile-up is what one alerts on), others while there are some.
 */
static void prom_connection_states(const struct fan_row *rows, size_t n)
{
	size_t i;
	unsigned int s;

	printf("# HELP sockfan_connection_sockets Live passive connections on the port by TCP state (as ss names it): one socket each, sharing its local address and port.\n");
	printf("# TYPE sockfan_connection_sockets gauge\n");
	for (i = 0; i < n; i++)
		for (s = 0; s < FMT_TCP_STATES; s++)
			if (rows[i].states[s] || s == TCP_ESTABLISHED || s == TCP_CLOSE_WAIT)
				printf("sockfan_connection_sockets{netns=\"%u\",port=\"%u\",state=\"%s\"} %llu\n",
				       rows[i].netns, rows[i].port, fmt_state(s),
				       (unsigned long long)rows[i].states[s]);
}

static const struct netns_family {
	const char *name;
	const char *help;
	size_t off;		/* of the __u64 in struct fan_netns */
	bool kernel;		/* the kernel's (listen_known), else a hook's */
} netns_families[] = {
	{ "sockfan_stray_segments_total",
	  "Segments that found no socket and were not SYNs (for connections already gone); no port of their own.",
	  offsetof(struct fan_netns, strays), false },
	{ "sockfan_listen_overflows_total",
	  "The kernel's ListenOverflows: SYNs and handshake ACKs dropped because an accept queue was full.",
	  offsetof(struct fan_netns, listen_overflows), true },
	{ "sockfan_listen_drops_total",
	  "The kernel's ListenDrops: every SYN or handshake ACK a listener dropped, overflows included.",
	  offsetof(struct fan_netns, listen_drops), true },
	{ "sockfan_defer_accept_drops_total",
	  "The kernel's TCPDeferAcceptDrop: bare ACKs a TCP_DEFER_ACCEPT listener waited past.",
	  offsetof(struct fan_netns, defer_accept_drops), true },
};

/*
 * Per namespace: counters of no port.  The kernel's are its own since
 * the namespace was created, so they are monotonic whatever sockfan does.
 */
static void prom_netns(const struct fanout *f, const struct fan_filter *flt)
{
	const struct netns_family *fam;
	size_t i;

	for (fam = netns_families; fam < netns_families + ARRAY_SIZE(netns_families); fam++) {
		if (!fam->kernel && !(f->counts & FAN_COUNTS_MISSES))
			continue;
		printf("# HELP %s %s\n# TYPE %s counter\n", fam->name, fam->help, fam->name);
		for (i = 0; i < f->nnetns; i++) {
			const struct fan_netns *n = &f->netns[i];

			if (!query_netns_shown(flt, n->netns) || (fam->kernel && !n->listen_known))
				continue;
			printf("%s{netns=\"%u\"} %llu\n", fam->name, n->netns,
			       (unsigned long long)*(const __u64 *)((const char *)n + fam->off));
		}
	}
}

int ports_print_prom(const struct fanout *f, const struct fan_filter *flt,
		     const struct ports_meta *m)
{
	const struct prom_family *fam;
	struct fan_row *rows;
	size_t i, n;

	if (query_rows(f, flt, &rows, &n))
		return -ENOMEM;
	printf("# HELP sockfan_source_info Where the numbers come from: bpf (and its hooks) or proc.\n");
	printf("# TYPE sockfan_source_info gauge\n");
	printf("sockfan_source_info{source=");
	fput_prom_label(stdout, m->source);
	printf(",hooks=");
	fput_prom_label(stdout, m->hooks ? m->hooks : "");
	printf("} 1\n");
	if (m->hook_cost)
		prom_hook_cost(m);
	for (fam = families; fam < families + ARRAY_SIZE(families); fam++) {
		if (fam->needs && !(f->counts & fam->needs))
			continue;
		printf("# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
		       kind_names[fam->kind]);
		for (i = 0; i < n; i++)
			sample(fam, &rows[i]);
	}
	prom_netns(f, flt);
	prom_connection_states(rows, n);
	/* the owner is a label set of its own, so counters keep stable labels */
	printf("# HELP sockfan_port_owner_info The process that owns the port's oldest listener.\n");
	printf("# TYPE sockfan_port_owner_info gauge\n");
	for (i = 0; i < n; i++) {
		char comm[SOCKFAN_COMM_LEN + 1];

		if (!rows[i].owner_pid)
			continue;
		snprintf(comm, sizeof(comm), "%.*s", SOCKFAN_COMM_LEN, rows[i].owner_comm);
		printf("sockfan_port_owner_info{netns=\"%u\",port=\"%u\",pid=\"%u\",comm=",
		       rows[i].netns, rows[i].port, rows[i].owner_pid);
		fput_prom_label(stdout, comm);
		printf("} 1\n");
	}
	free(rows);
	return 0;
}
