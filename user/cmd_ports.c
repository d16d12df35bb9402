// SPDX-License-Identifier: GPL-2.0
/*
 * `sockfan ports`: the per-port fan-out table, and with --port the
 * sockets behind one row: the listener and every connection sharing
 * its local port, told apart by their four-tuples.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fanout.h"
#include "format.h"
#include "netns.h"
#include "ports_out.h"
#include "seed_diag.h"
#include "sockfan.h"
#include "source_bpf.h"
#include "source_proc.h"

enum source { SOURCE_AUTO, SOURCE_BPF, SOURCE_PROC };

struct ports_opts {
	enum source source;
	unsigned long port;		/* 0: every port */
	unsigned long duration;		/* seconds of events before printing */
	__u32 netns;			/* 0: every namespace */
	const char *proc_dir;
	bool seed;
	enum { OUT_TEXT, OUT_JSON, OUT_PROM } out;
};

static void ports_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s ports [--source auto|bpf|proc] [--port PORT] [--netns NS]\n"
		"                  [--duration SEC] [--proc-dir DIR] [--no-seed]\n\n"
		"  --source SRC    bpf: load the BPF programs; proc: read %s\n"
		"                  (sockfan.ko); auto (default): proc if present, else bpf\n"
		"  --port PORT     only this local port, with its listener and connections\n"
		"  --netns NS      only this network namespace: inode (as in\n"
		"                  /proc/PID/ns/net), name in /run/netns, or a path\n"
		"  --duration SEC  bpf: follow events for SEC seconds before printing\n"
		"                  (Ctrl-C prints early); default 0, a snapshot\n"
		"  --proc-dir DIR  proc: read DIR instead of %s\n"
		"  --no-seed       do not count sockets that existed before (sock_diag)\n"
		"  --json          one JSON document instead of the table\n"
		"  --prom          Prometheus text format (node_exporter textfile collector)\n",
		prog_name, SOCKFAN_PROC_PATH, SOCKFAN_PROC_PATH);
}

/* --netns: an inode number, a name under /run/netns, or a path */
static int parse_netns(const char *arg, __u32 *netns)
{
	unsigned long ino;
	char path[512];
	struct stat st;

	if (parse_uint(arg, 1, 0xffffffffUL, &ino)) {
		*netns = ino;
		return 0;
	}
	snprintf(path, sizeof(path), strchr(arg, '/') ? "%s" : "/run/netns/%s", arg);
	if (stat(path, &st)) {
		fprintf(stderr, "%s ports: --netns %s: no such network namespace (%s: %s; see ip netns list)\n",
			prog_name, arg, path, strerror(errno));
		return -1;
	}
	*netns = (__u32)st.st_ino;
	return 0;
}

static int parse_opts(int argc, char **argv, struct ports_opts *o)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "netns", required_argument, NULL, 'N' },
		{ "duration", required_argument, NULL, 'd' },
		{ "proc-dir", required_argument, NULL, 'P' },
		{ "no-seed", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "prom", no_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:p:d:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!strcmp(optarg, "bpf")) {
				o->source = SOURCE_BPF;
			} else if (!strcmp(optarg, "proc")) {
				o->source = SOURCE_PROC;
			} else if (!strcmp(optarg, "auto")) {
				o->source = SOURCE_AUTO;
			} else {
				fprintf(stderr, "%s ports: --source must be auto, bpf or proc, not '%s'\n",
					prog_name, optarg);
				return -1;
			}
			break;
		case 'p':
			if (!parse_uint(optarg, 1, 65535, &o->port)) {
				fprintf(stderr, "%s ports: --port wants a port number 1-65535, not '%s'\n",
					prog_name, optarg);
				return -1;
			}
			break;
		case 'd':
			if (!parse_uint(optarg, 0, 86400, &o->duration)) {
				fprintf(stderr, "%s ports: --duration wants seconds 0-86400, not '%s'\n",
					prog_name, optarg);
				return -1;
			}
			break;
		case 'N':
			if (parse_netns(optarg, &o->netns))
				return -1;
			break;
		case 'P':
			o->proc_dir = optarg;
			break;
		case 'n':
			o->seed = false;
			break;
		case 'j':
		case 'M':
			if (o->out != OUT_TEXT) {
				fprintf(stderr, "%s ports: --json and --prom exclude each other\n",
					prog_name);
				return -1;
			}
			o->out = c == 'j' ? OUT_JSON : OUT_PROM;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			ports_usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s ports: unexpected argument '%s'\n", prog_name, argv[optind]);
		return -1;
	}
	if (o->duration && o->source == SOURCE_PROC) {
		fprintf(stderr, "%s ports: --duration needs --source bpf (the module keeps its own totals)\n",
			prog_name);
		return -1;
	}
	if (o->netns && o->source == SOURCE_PROC && o->netns != netns_self()) {
		fprintf(stderr, "%s ports: the proc source shows the caller's network namespace; run it there (ip netns exec NAME %s ports ...)\n",
			prog_name, prog_name);
		return -1;
	}
	if (o->proc_dir && o->source == SOURCE_BPF) {
		fprintf(stderr, "%s ports: --proc-dir needs --source proc\n", prog_name);
		return -1;
	}
	return 0;
}

static void print_table(const struct fanout *f, const struct ports_opts *o)
{
	char owner[48], life[16], wait[16], wmax[16], misses[24];
	struct fan_row *rows;
	size_t i, n;

	if (fanout_rows(f, &rows, &n)) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return;
	}
	printf("%-11s %5s %6s %6s %8s %7s %6s %8s %8s %8s %7s  %s\n", "NETNS", "PORT",
	       "LISTEN", "ESTAB", "ACCEPTED", "CLOSED", "PEERS", "LIFE_AVG", "WAIT_AVG",
	       "WAIT_MAX", "MISSES", "OWNER");
	for (i = 0; i < n; i++) {
		const struct fan_row *r = &rows[i];

		if ((o->port && r->port != o->port) || (o->netns && r->netns != o->netns))
			continue;
		fmt_count(misses, sizeof(misses), r->misses, f->counts & FAN_COUNTS_MISSES);
		printf("%-11u %5u %6u %6llu %8llu %7llu %6llu %8s %8s %8s %7s  %s\n", r->netns,
		       r->port, r->listeners, (unsigned long long)r->established,
		       (unsigned long long)r->accepted, (unsigned long long)r->closed,
		       (unsigned long long)r->peers,
		       fmt_duration(life, sizeof(life), r->lifetime_avg_ns),
		       fmt_duration(wait, sizeof(wait), r->wait_avg_ns),
		       fmt_duration(wmax, sizeof(wmax), r->wait_max_ns),
		       misses, fmt_task(owner, sizeof(owner), r->owner_pid, r->owner_comm));
	}
	free(rows);
}

/* the sockets behind one port: what answers "does one socket serve all?" */
static void print_port_sockets(const struct fanout *f, __u32 netns, __u16 port)
{
	char ep[FMT_ADDR_LEN], peer[FMT_ADDR_LEN], task[48], hits[24];
	const struct fan_conn **conns;
	size_t i, n, nl = 0;

	for (i = 0; i < f->nlisteners; i++)
		nl += f->listeners[i].key.netns == netns && f->listeners[i].key.lport == port;
	if (fanout_port_conns(f, netns, port, &conns, &n))
		return;
	printf("\nport %u in netns %u: %zu listening socket%s, %zu connection socket%s on the same local port\n",
	       port, netns, nl, nl == 1 ? "" : "s", n, n == 1 ? "" : "s");
	for (i = 0; i < f->nlisteners; i++) {
		const struct fan_listener *l = &f->listeners[i];

		if (l->key.netns != netns || l->key.lport != port)
			continue;
		fmt_count(hits, sizeof(hits), l->hits, f->counts & FAN_COUNTS_LISTENER_HITS);
		printf("  LISTEN %-24s %-24s backlog %-5u qlen %-5u drops %-5u accepted %-6llu hits %-6s owner %s cookie %llu\n",
		       fmt_endpoint(ep, sizeof(ep), &l->key, 0), "", l->backlog, l->qlen,
		       l->drops, (unsigned long long)l->accepted, hits,
		       fmt_task(task, sizeof(task), l->pid, l->comm),
		       (unsigned long long)l->cookie);
	}
	for (i = 0; i < n; i++) {
		const struct fan_conn *c = conns[i];

		printf("  ESTAB  %-24s %-24s %s %-14s listener %-6llu segs_in %-6llu cookie %llu\n",
		       fmt_endpoint(ep, sizeof(ep), &c->key, 0),
		       fmt_endpoint(peer, sizeof(peer), &c->key, 1),
		       c->flags & FAN_ACCEPTED ? "accepted by" : "in queue   ",
		       c->flags & FAN_ACCEPTED ? fmt_task(task, sizeof(task), c->pid, c->comm) : "",
		       (unsigned long long)c->listener, (unsigned long long)c->segs_in,
		       (unsigned long long)c->cookie);
	}
	free(conns);
}

static void print_details(const struct fanout *f, const struct ports_opts *o)
{
	struct fan_row *rows;
	size_t i, n;

	if (!o->port || fanout_rows(f, &rows, &n))
		return;
	for (i = 0; i < n; i++)
		if (rows[i].port == o->port && (!o->netns || rows[i].netns == o->netns))
			print_port_sockets(f, rows[i].netns, rows[i].port);
	free(rows);
}

/* the hooks outlive the BPF source, closed before printing */
static char hooks_used[512];

static int run_bpf(struct fanout *f, const struct ports_opts *o, struct ports_meta *m)
{
	struct bpf_source *src;
	int err;

	err = bpf_source_open(&src, f, verbose);
	if (err)
		return err;
	/* attach first, then snapshot: nothing falls between the two */
	if (o->seed) {
		err = seed_diag(f, o->netns);
		if (err)
			goto out;
		bpf_source_follow_seeded(src, f);
	}
	fprintf(stderr, "# attached: %s\n", bpf_source_hooks(src));
	err = bpf_source_follow(src, o->duration);
	if (err)
		goto out;
	/* queue depth is a state, not an event: read it as it is now */
	err = diag_refresh(f, o->netns);
	if (err)
		goto out;
	snprintf(hooks_used, sizeof(hooks_used), "%s", bpf_source_hooks(src));
	m->source = "bpf";
	m->hooks = hooks_used;
	m->records = f->events;
	m->lost = bpf_source_lost(src);
	m->malformed = bpf_source_malformed(src);
out:
	bpf_source_close(src);
	return err;
}

static int run_proc(struct fanout *f, const struct ports_opts *o, struct ports_meta *m)
{
	const char *dir = o->proc_dir ? o->proc_dir : SOCKFAN_PROC_PATH;
	int err = proc_source_read(f, dir);

	/* the module's probes count both (or log why one is missing) */
	f->counts = FAN_COUNTS_LISTENER_HITS | FAN_COUNTS_MISSES;
	/* sockets older than the module: only this namespace, like the files */
	if (!err && o->seed)
		err = seed_diag(f, netns_self());
	m->source = "proc";
	m->proc_dir = dir;
	return err;
}

int cmd_ports(int argc, char **argv)
{
	struct ports_opts o = { .seed = true };
	struct ports_meta m = { 0 };
	struct fanout f;
	struct stat st;
	int err;

	if (parse_opts(argc, argv, &o)) {
		ports_usage(stderr);
		return EXIT_USAGE;
	}
	if (o.source == SOURCE_AUTO)
		o.source = o.proc_dir || !stat(SOCKFAN_PROC_PATH, &st) ? SOURCE_PROC : SOURCE_BPF;
	if (fanout_init(&f)) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return 1;
	}
	err = o.source == SOURCE_BPF ? run_bpf(&f, &o, &m) : run_proc(&f, &o, &m);
	if (!err && o.out == OUT_JSON) {
		err = ports_print_json(&f, &m, o.port, o.netns);
	} else if (!err && o.out == OUT_PROM) {
		err = ports_print_prom(&f, &m, o.port, o.netns);
	} else if (!err) {
		if (m.hooks)
			printf("# source bpf: %s; %llu records, %llu lost, %llu malformed\n",
			       m.hooks, (unsigned long long)m.records,
			       (unsigned long long)m.lost, (unsigned long long)m.malformed);
		else
			printf("# source proc: %s\n", m.proc_dir);
		print_table(&f, &o);
		print_details(&f, &o);
	}
	if (err == -ENOMEM)
		fprintf(stderr, "%s: out of memory\n", prog_name);
	fanout_free(&f);
	return err ? 1 : 0;
}
