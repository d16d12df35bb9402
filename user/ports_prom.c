// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan ports --prom`: the Prometheus text exposition format (0.0.4),
 * as node_exporter's textfile collector reads it.  One family per
 * counter, labelled by netns and port; times in seconds, histograms
 * where the kernel keeps them (the BPF programs' log2 buckets, every
 * other one as a bucket here), else summaries (_sum and _count, no
 * quantiles).  A counter the source cannot count is left out, not
 * exported as 0.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "ports_out.h"
#include "cli.h"

enum prom_kind { GAUGE, COUNTER, SUMMARY };

void prom_family(FILE *out, enum prom_format fmt, const char *name, const char *type,
		 const char *help)
{
	size_t len = strlen(name);
	const char *suffix = NULL;

	/*
	 * OpenMetrics names a family without its samples' suffix: counter
	 * foo has the sample foo_total, info foo the sample foo_info (a
	 * gauge of 1 in the older format)
	 */
	if (fmt == PROM_OPENMETRICS && !strcmp(type, "counter"))
		suffix = "_total";
	else if (fmt == PROM_OPENMETRICS && !strcmp(type, "gauge") && len > 5 &&
		 !strcmp(name + len - 5, "_info"))
		suffix = "_info";
	if (suffix && len > strlen(suffix) && !strcmp(name + len - strlen(suffix), suffix))
		len -= strlen(suffix);
	if (suffix && !strcmp(suffix, "_info"))
		type = "info";
	fprintf(out, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)len, name, help, (int)len, name,
		type);
}

static __u64 listening(const struct fan_row *r) { return r->listeners; }

static __u64 accepted(const struct fan_row *r) { return r->accepted; }
static __u64 closed(const struct fan_row *r) { return r->closed; }
static __u64 peers(const struct fan_row *r) { return r->peers; }
static __u64 refused(const struct fan_row *r) { return r->refused; }
static __u64 lookup_hits(const struct fan_row *r) { return r->lookup_hits; }
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
	FAMILY("sockfan_lookup_hits_total", COUNTER,
	       "Listener lookups on the port that found a listener (counted per port by sk_lookup).",
	       lookup_hits, .needs = FAN_COUNTS_PORT_HITS),
};

static const char * const kind_names[] = { "gauge", "counter", "summary" };

/* a row's labels; netns 0 (no namespace has inode 0): the folded ports */
static const char *row_labels(char *buf, size_t len, const struct fan_row *r)
{
	if (!r->netns)
		snprintf(buf, len, "netns=\"other\",port=\"other\"");
	else
		snprintf(buf, len, "netns=\"%u\",port=\"%u\"", r->netns, r->port);
	return buf;
}

static void sample(FILE *out, const struct prom_family *fam, const struct fan_row *r)
{
	const char *count = fam->kind == SUMMARY ? "_count" : "";
	char lb[64];

	row_labels(lb, sizeof(lb), r);
	if (fam->kind == SUMMARY)
		fprintf(out, "%s_sum{%s} %.9f\n", fam->name, lb, fam->sum_ns(r) / 1e9);
	fprintf(out, "%s%s{%s} %llu\n", fam->name, count, lb, (unsigned long long)fam->value(r));
}

/*
 * --hook-cost: gauges, not counters: each run of sockfan counts afresh
 * (a textfile collector runs it per scrape).
 */
/*
 * Histogram @h of every row, where the kernel keeps them: buckets at
 * le = 4^k microseconds (every other log2 slot, so each bucket sums
 * whole slots: exact), then +Inf.  A row the programs counted nothing
 * for yet has empty buckets.
 */
#define PROM_HIST_BUCKETS	17	/* le = 4 us ... 4^17 us (4.8 hours) */

static void prom_hist(FILE *out, enum prom_format fmt, int h, const char *name,
		      const struct fan_row *rows, size_t n)
{
	char lb[64], help[128];
	size_t i;
	int k, slot;

	snprintf(help, sizeof(help), "Time of the %s.", fmt_hist_help(h));
	prom_family(out, fmt, name, "histogram", help);
	for (i = 0; i < n; i++) {
		const struct sockfan_port_stats *st = &rows[i].kstats;
		__u64 cum = 0;

		row_labels(lb, sizeof(lb), &rows[i]);
		for (k = 1, slot = 0; k <= PROM_HIST_BUCKETS; k++) {
			/* slots below 4^k us: up to 2k - 1 */
			for (; slot <= 2 * k - 1; slot++)
				cum += st->slots[h][slot];
			fprintf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name, lb,
				(double)(1ULL << (2 * k)) / 1e6, (unsigned long long)cum);
		}
		for (; slot < SOCKFAN_HIST_SLOTS; slot++)
			cum += st->slots[h][slot];
		fprintf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, lb, (unsigned long long)cum);
		fprintf(out, "%s_sum{%s} %.9f\n", name, lb, st->sum_ns[h] / 1e9);
		fprintf(out, "%s_count{%s} %llu\n", name, lb, (unsigned long long)cum);
	}
}

static void prom_hists(FILE *out, enum prom_format fmt, unsigned int counts,
		       const struct fan_row *rows, size_t n)
{
	static const char * const names[SOCKFAN_NR_HISTS] = {
		[SOCKFAN_HIST_HANDSHAKE] = "sockfan_handshake_seconds",
		[SOCKFAN_HIST_ACCEPT_WAIT] = "sockfan_accept_wait_seconds",
		[SOCKFAN_HIST_LIFETIME] = "sockfan_connection_lifetime_seconds",
	};
	char lb[64];
	size_t i;
	int h;

	prom_family(out, fmt, "sockfan_handshakes_total", "counter",
		    "Passive handshakes completed on the port.");
	for (i = 0; i < n; i++)
		fprintf(out, "sockfan_handshakes_total{%s} %llu\n",
			row_labels(lb, sizeof(lb), &rows[i]),
			(unsigned long long)rows[i].kstats.handshakes);
	for (h = 0; h < SOCKFAN_NR_HISTS; h++)
		/* no hook on accept(): no wait measured, no histogram of it */
		if (h != SOCKFAN_HIST_ACCEPT_WAIT || (counts & FAN_COUNTS_ACCEPT_WAITS))
			prom_hist(out, fmt, h, names[h], rows, n);
}

static void prom_hook_cost(FILE *out, const struct ports_meta *m)
{
	enum prom_format fmt = m->format;
	int i;

	prom_family(out, fmt, "sockfan_bpf_prog_runs", "gauge",
		    "Runs of each attached BPF program during this sockfan run (--hook-cost).");
	for (i = 0; i < m->nhook_cost; i++) {
		fprintf(out, "sockfan_bpf_prog_runs{prog=");
		fput_prom_label(out, m->hook_cost[i].prog);
		fprintf(out, "} %llu\n", (unsigned long long)m->hook_cost[i].runs);
	}
	prom_family(out, fmt, "sockfan_bpf_prog_run_seconds", "gauge",
		    "Run time of each attached BPF program during this sockfan run, as the kernel counts it (--hook-cost).");
	for (i = 0; i < m->nhook_cost; i++) {
		fprintf(out, "sockfan_bpf_prog_run_seconds{prog=");
		fput_prom_label(out, m->hook_cost[i].prog);
		fprintf(out, "} %.9f\n", m->hook_cost[i].run_ns / 1e9);
	}
	/* not known: no sample, rather than a false 0 */
	if (m->empty_run_ns) {
		prom_family(out, fmt, "sockfan_bpf_empty_run_seconds", "gauge",
			    "What an empty BPF program's run counts (mostly the count's own clock reads), included in each run of sockfan_bpf_prog_run_seconds.");
		fprintf(out, "sockfan_bpf_empty_run_seconds %.9f\n", m->empty_run_ns / 1e9);
	}
	prom_family(out, fmt, "sockfan_handshakes", "gauge",
		    "Passive handshakes recorded during this sockfan run (--hook-cost).");
	fprintf(out, "sockfan_handshakes %llu\n", (unsigned long long)m->handshakes);
}

/*
 * Connection sockets by TCP state: ESTAB and CLOSE-WAIT always (a
 * CLOSE-WAIT pile-up is what one alerts on), others while there are some.
 */
static void prom_connection_states(FILE *out, enum prom_format fmt, const struct fan_row *rows,
				   size_t n)
{
	unsigned int s;
	char lb[64];
	size_t i;

	prom_family(out, fmt, "sockfan_connection_sockets", "gauge",
		    "Live passive connections on the port by TCP state (as ss names it): one socket each, sharing its local address and port.");
	for (i = 0; i < n; i++)
		for (s = 0; s < FMT_TCP_STATES; s++)
			if (rows[i].states[s] || s == TCP_ESTABLISHED || s == TCP_CLOSE_WAIT)
				fprintf(out, "sockfan_connection_sockets{%s,state=\"%s\"} %llu\n",
					row_labels(lb, sizeof(lb), &rows[i]), fmt_state(s),
					(unsigned long long)rows[i].states[s]);
}

/* the accept queues of the port's listeners, summed: depth and limit */
/*
 * ,cgroup="...",container="...",pod="..." as far as known: a label
 * Prometheus would see empty is left out, as it would drop it anyway
 */
static void prom_cgroup_labels(FILE *out, const struct cgroup_info *cg)
{
	if (!cg)
		return;
	fprintf(out, ",cgroup=");
	fput_prom_label(out, cg->path);
	if (cg->runtime)
		fprintf(out, ",container=\"%s\",container_runtime=\"%s\"", cg->container,
			cg->runtime);
	if (cg->pod[0])
		fprintf(out, ",pod_uid=\"%s\"", cg->pod);
}

static void prom_queues(FILE *out, enum prom_format fmt, const struct fan_row *rows, size_t n)
{
	static const char * const names[] = { "sockfan_accept_queue_sockets",
					      "sockfan_accept_queue_limit" };
	static const char * const helps[] = {
		"Connections waiting in the port's accept queues now.",
		"How many connections the port's accept queues may hold (their backlogs).",
	};
	char lb[64];
	size_t i, k;

	for (k = 0; k < ARRAY_SIZE(names); k++) {
		prom_family(out, fmt, names[k], "gauge", helps[k]);
		for (i = 0; i < n; i++)
			fprintf(out, "%s{%s} %llu\n", names[k], row_labels(lb, sizeof(lb), &rows[i]),
				(unsigned long long)(k ? rows[i].backlog : rows[i].qlen));
	}
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
	{ "sockfan_syncookies_sent_total",
	  "The kernel's SyncookiesSent: SYNs answered with a SYN cookie instead of a request socket (SYN queue full, or tcp_syncookies=2).",
	  offsetof(struct fan_netns, syncookies_sent), true },
	{ "sockfan_syncookies_validated_total",
	  "The kernel's SyncookiesRecv: handshakes completed by an ACK whose SYN cookie checked.",
	  offsetof(struct fan_netns, syncookies_recv), true },
	{ "sockfan_syncookies_failed_total",
	  "The kernel's SyncookiesFailed: ACKs whose SYN cookie did not check.",
	  offsetof(struct fan_netns, syncookies_failed), true },
};

/*
 * Per namespace: counters of no port.  The kernel's are its own since
 * the namespace was created, so they are monotonic whatever sockfan does.
 */
static void prom_netns(FILE *out, enum prom_format fmt, const struct fanout *f,
		       const struct fan_filter *flt)
{
	const struct netns_family *fam;
	size_t i;

	for (fam = netns_families; fam < netns_families + ARRAY_SIZE(netns_families); fam++) {
		if (!fam->kernel && !(f->counts & FAN_COUNTS_MISSES))
			continue;
		prom_family(out, fmt, fam->name, "counter", fam->help);
		for (i = 0; i < f->nnetns; i++) {
			const struct fan_netns *n = &f->netns[i];

			if (!query_netns_shown(flt, n->netns) || (fam->kernel && !n->listen_known))
				continue;
			fprintf(out, "%s{netns=\"%u\"} %llu\n", fam->name, n->netns,
			       (unsigned long long)*(const __u64 *)((const char *)n + fam->off));
		}
	}
}

/*
 * Keep the @max busiest of the @n rows, in port order, and sum the rest
 * into one more (netns 0: "other").  Its counters are sums over the
 * ports folded at this scrape, so they fall when a port leaves the fold;
 * Prometheus takes that for a counter reset.  Returns the rows now.
 */
/* @a += @b: every member is a __u64 count or sum */
static size_t fold_rows(struct fan_row *rows, size_t n, size_t max)
{
	struct fan_row other = { 0 };
	unsigned int s;
	size_t i;

	qsort(rows, n, sizeof(*rows), query_row_by_busy);
	for (i = max; i < n; i++) {
		const struct fan_row *r = &rows[i];

		other.listeners += r->listeners;
		other.qlen += r->qlen;
		other.backlog += r->backlog;
		other.drops += r->drops;
		other.conns += r->conns;
		for (s = 0; s < FMT_TCP_STATES; s++)
			other.states[s] += r->states[s];
		other.accepted += r->accepted;
		other.closed += r->closed;
		other.peers += r->peers;
		other.lifetime_sum_ns += r->lifetime_sum_ns;
		other.lifetimes += r->lifetimes;
		other.wait_sum_ns += r->wait_sum_ns;
		other.waits += r->waits;
		other.refused += r->refused;
		other.lookup_hits += r->lookup_hits;
		fanout_port_stats_add(&other.kstats, &r->kstats);
	}
	qsort(rows, max, sizeof(*rows), query_row_by_port);
	rows[max] = other;
	return max + 1;
}

/* is @l on a port among @rows (the ones kept, not folded), and counted per listener? */
static bool listener_exported(const struct fan_listener *l, const struct fan_filter *flt,
			      const struct fan_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rows[i].netns == l->key.netns && rows[i].port == l->key.lport)
			return query_listener_on(flt, l, rows[i].netns, rows[i].port);
	return false;
}

/*
 * Per listener, where the kernel counts per listener (FAN_COUNTS_MEMBERS):
 * what each member of a SO_REUSEPORT group was handed and accepted, and
 * its queue.  Labelled by netns, port and listener (its socket cookie, as
 * ss -e prints it in hex), which sockfan_listener_info joins to its
 * address, owner and cgroup.  Listeners are few: one per worker at most.
 */
static void prom_listeners(FILE *out, enum prom_format fmt, const struct fanout *f,
			   const struct fan_filter *flt, const struct fan_row *rows, size_t n)
{
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{ "sockfan_listener_info", "gauge",
		  "A listening socket: its address, and the process that listened, its cgroup, container and pod." },
		{ "sockfan_listener_handshakes_total", "counter",
		  "Passive handshakes completed on this listener: the connections the kernel handed to this member of its port." },
		{ "sockfan_listener_accepted_total", "counter",
		  "Connections accept() took from this listener (without an accept hook: its handshakes less its queue)." },
		{ "sockfan_listener_closed_total", "counter",
		  "Connections from this listener that reached CLOSE." },
		{ "sockfan_listener_accept_queue_sockets", "gauge",
		  "Connections waiting in this listener's accept queue now." },
		{ "sockfan_listener_stalled", "gauge",
		  "1 while this listener holds queued connections and accepted none for 5 s or more: its task stopped taking its share." },
	};
	char addr[FMT_ADDR_LEN], comm[SOCKFAN_COMM_LEN + 1];
	size_t i, k;

	if (!(f->counts & FAN_COUNTS_MEMBERS))
		return;
	for (k = 0; k < ARRAY_SIZE(fams); k++) {
		prom_family(out, fmt, fams[k].name, fams[k].type, fams[k].help);
		for (i = 0; i < f->nlisteners; i++) {
			const struct fan_listener *l = &f->listeners[i];
			__u64 v;

			if (!listener_exported(l, flt, rows, n))
				continue;
			/* the module counts no closes per listener */
			if (k == 3 && !l->kstats_known)
				continue;
			fprintf(out, "%s{netns=\"%u\",port=\"%u\",listener=\"%llu\"", fams[k].name,
				l->key.netns, l->key.lport, (unsigned long long)l->cookie);
			switch (k) {
			case 0:
				fprintf(out, ",address=");
				fput_prom_label(out, fmt_addr(addr, sizeof(addr), &l->key, 0));
				if (l->pid) {
					snprintf(comm, sizeof(comm), "%.*s", SOCKFAN_COMM_LEN,
						 l->comm);
					fprintf(out, ",pid=\"%u\",comm=", l->pid);
					fput_prom_label(out, comm);
				}
				prom_cgroup_labels(out, l->cgroup);
				v = 1;
				break;
			case 1:
				v = l->handshakes;
				break;
			case 2:
				v = l->accepted;
				break;
			case 3:
				v = l->kstats.closed;
				break;
			case 4:
				v = l->qlen;
				break;
			default:
				v = l->stalled;
				break;
			}
			fprintf(out, "} %llu\n", (unsigned long long)v);
		}
	}
}

/* how each port's SO_REUSEPORT group shares its load (ports with one) */
static void prom_balance(FILE *out, enum prom_format fmt, const struct fan_row *rows, size_t n)
{
	static const char * const names[] = { "sockfan_reuseport_members",
					      "sockfan_reuseport_skew",
					      "sockfan_reuseport_cv",
					      "sockfan_reuseport_stalled_members" };
	static const char * const helps[] = {
		"Listening sockets in the port's SO_REUSEPORT group (bound to one address).",
		"The largest member's share of the group's connections since sockfan started, over an even share (1: even).",
		"Coefficient of variation of the connections per member since sockfan started.",
		"Members holding queued connections that accepted none for 5 s or more.",
	};
	char lb[64];
	size_t i, k;

	for (k = 0; k < ARRAY_SIZE(names); k++) {
		prom_family(out, fmt, names[k], "gauge", helps[k]);
		for (i = 0; i < n; i++) {
			const struct fan_balance *b = &rows[i].balance;

			/* no group, or nothing to share yet: no sample */
			if (!b->members || (!b->total && (k == 1 || k == 2)))
				continue;
			row_labels(lb, sizeof(lb), &rows[i]);
			if (k == 0 || k == 3)
				fprintf(out, "%s{%s} %u\n", names[k], lb,
					k ? b->stalled : b->members);
			else
				fprintf(out, "%s{%s} %.4f\n", names[k], lb, k == 1 ? b->skew : b->cv);
		}
	}
}

int ports_print_prom(FILE *out, const struct fanout *f, const struct fan_filter *flt,
		     const struct ports_meta *m)
{
	enum prom_format fmt = m->format;
	const struct prom_family *fam;
	struct fan_row *rows;
	size_t i, n, folded;

	if (query_rows(f, flt, &rows, &n))
		return -ENOMEM;
	folded = m->max_series && n > m->max_series ? n - m->max_series : 0;
	if (folded)
		n = fold_rows(rows, n, m->max_series);
	prom_family(out, fmt, "sockfan_source_info", "gauge",
		    "Where the numbers come from: bpf (and its hooks) or proc.");
	fprintf(out, "sockfan_source_info{source=");
	fput_prom_label(out, m->source);
	fprintf(out, ",hooks=");
	fput_prom_label(out, m->hooks ? m->hooks : "");
	fprintf(out, "} 1\n");
	if (m->hook_cost)
		prom_hook_cost(out, m);
	if (m->max_series) {
		prom_family(out, fmt, "sockfan_folded_ports", "gauge",
			    "Ports past --max-series, summed into port=\"other\" at this scrape.");
		fprintf(out, "sockfan_folded_ports %zu\n", folded);
	}
	for (fam = families; fam < families + ARRAY_SIZE(families); fam++) {
		if (fam->needs && !(f->counts & fam->needs))
			continue;
		/* the same names, as histograms: prom_hists() */
		if (fam->kind == SUMMARY && (f->counts & FAN_COUNTS_HISTS))
			continue;
		prom_family(out, fmt, fam->name, kind_names[fam->kind], fam->help);
		for (i = 0; i < n; i++)
			sample(out, fam, &rows[i]);
	}
	if (f->counts & FAN_COUNTS_HISTS)
		prom_hists(out, fmt, f->counts, rows, n);
	prom_netns(out, fmt, f, flt);
	prom_connection_states(out, fmt, rows, n);
	prom_queues(out, fmt, rows, n);
	prom_listeners(out, fmt, f, flt, rows, n);
	prom_balance(out, fmt, rows, n);
	/* the owner is a label set of its own, so counters keep stable labels */
	prom_family(out, fmt, "sockfan_port_owner_info", "gauge",
		    "The process that owns the port's oldest listener, its cgroup, container and pod.");
	for (i = 0; i < n; i++) {
		char comm[SOCKFAN_COMM_LEN + 1];

		if (!rows[i].owner_pid)
			continue;
		snprintf(comm, sizeof(comm), "%.*s", SOCKFAN_COMM_LEN, rows[i].owner_comm);
		fprintf(out, "sockfan_port_owner_info{netns=\"%u\",port=\"%u\",pid=\"%u\",comm=",
		       rows[i].netns, rows[i].port, rows[i].owner_pid);
		fput_prom_label(out, comm);
		prom_cgroup_labels(out, rows[i].owner_cgroup);
		fprintf(out, "} 1\n");
	}
	free(rows);
	return 0;
}
