// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan trace: the event stream, one line per listen, completed
 * handshake, accept, close, refused SYN and stray segment, as the BPF
 * programs see them (the module keeps state, not a stream).  --json prints one object per
 * line.  Listener lookup hits are counted, not printed: one per SYN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "loop.h"
#include "seed_diag.h"
#include "format.h"
#include "cli.h"
#include "source_bpf.h"
#include "view.h"

struct trace_opts {
	struct view_opts v;		/* the filter; duration (0: until ^C) */
	bool json;
	__u64 start_ns;
	__u64 printed;
};

static void trace_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s trace [OPTIONS]\n\n"
		"One line per listen, completed handshake, accept, close, refused SYN and\n"
		"stray segment (no socket, not a SYN), from the BPF source.\n\n"
		"  -d, --duration SEC  stop after SEC seconds; default: until Ctrl-C\n"
		"      --json          one JSON object per line\n"
		"  -v, --verbose       say which hooks were tried and show libbpf's log\n",
		prog_name);
	filter_usage(out);
}

static const char *kind_name(__u16 kind, const struct sockfan_event *e)
{
	switch (kind) {
	case SOCKFAN_EV_LISTEN:
		return "listen";
	case SOCKFAN_EV_ESTABLISHED:
		return "established";
	case SOCKFAN_EV_ACCEPT:
		return "accept";
	case SOCKFAN_EV_CLOSE:
		return e->flags & SOCKFAN_F_LISTENER ? "close-listener" : "close";
	case SOCKFAN_EV_OVERFLOW:
		return "overflow";
	default:
		return e->lookup.result == SOCKFAN_LOOKUP_STRAY ? "stray" : "refused";
	}
}

static void print_json(const struct sockfan_event *e, const struct trace_opts *o)
{
	char addr[FMT_ADDR_LEN], comm[SOCKFAN_COMM_LEN + 1];

	printf("{\"ts_ns\":%llu,\"event\":\"%s\",\"netns\":%u,\"family\":\"%s\",\"cookie\":%llu,",
	       (unsigned long long)(e->ts_ns - o->start_ns), kind_name(e->kind, e), e->key.netns,
	       e->key.family == 2 ? "inet" : "inet6", (unsigned long long)e->cookie);
	printf("\"local\":\"%s\",\"local_port\":%u,", fmt_addr(addr, sizeof(addr), &e->key, 0),
	       e->key.lport);
	printf("\"remote\":\"%s\",\"remote_port\":%u", fmt_addr(addr, sizeof(addr), &e->key, 1),
	       e->key.rport);
	if (e->flags & SOCKFAN_F_TASK) {
		snprintf(comm, sizeof(comm), "%.*s", SOCKFAN_COMM_LEN, e->comm);
		printf(",\"pid\":%u,\"tid\":%u,\"comm\":", e->pid, e->tid);
		fput_json_str(stdout, comm);
	}
	switch (e->kind) {
	case SOCKFAN_EV_LISTEN:
		printf(",\"backlog\":%u", e->listen.backlog);
		break;
	case SOCKFAN_EV_ACCEPT:
		printf(",\"listener\":%llu,\"qlen\":%u,\"wait_ns\":%llu",
		       (unsigned long long)e->accept.listener, e->accept.qlen,
		       (unsigned long long)e->accept.wait_ns);
		break;
	case SOCKFAN_EV_CLOSE:
		printf(",\"lifetime_ns\":%llu", (unsigned long long)e->close.lifetime_ns);
		break;
	}
	printf("}\n");
}

static void print_text(const struct sockfan_event *e, const struct trace_opts *o)
{
	char local[FMT_ADDR_LEN], remote[FMT_ADDR_LEN], task[48], dur[16];
	__u64 ts = e->ts_ns - o->start_ns;

	printf("%6llu.%06llu %-14s %-11u %-24s %-24s %-18s", (unsigned long long)(ts / 1000000000),
	       (unsigned long long)(ts / 1000 % 1000000), kind_name(e->kind, e), e->key.netns,
	       fmt_endpoint(local, sizeof(local), &e->key, 0),
	       e->key.rport ? fmt_endpoint(remote, sizeof(remote), &e->key, 1) : "-",
	       fmt_thread(task, sizeof(task), e->flags & SOCKFAN_F_TASK ? e->pid : 0, e->tid,
			  e->comm));
	switch (e->kind) {
	case SOCKFAN_EV_LISTEN:
		printf(" backlog=%u", e->listen.backlog);
		break;
	case SOCKFAN_EV_ACCEPT:
		printf(" listener=%llu qlen=%u wait=%s", (unsigned long long)e->accept.listener,
		       e->accept.qlen, fmt_duration(dur, sizeof(dur), e->accept.wait_ns));
		break;
	case SOCKFAN_EV_CLOSE:
		printf(" lifetime=%s", fmt_duration(dur, sizeof(dur), e->close.lifetime_ns));
		break;
	}
	printf("\n");
}

static void on_event(const struct sockfan_event *e, void *arg)
{
	struct trace_opts *o = arg;

	if (e->kind == SOCKFAN_EV_LOOKUP && e->lookup.result == SOCKFAN_LOOKUP_LISTENER)
		return;		/* hits: one per SYN, counted by `ports` */
	if (!filter_event(&o->v.filter, e))
		return;
	if (o->json)
		print_json(e, o);
	else
		print_text(e, o);
	o->printed++;
	fflush(stdout);
}

static int parse_opts(int argc, char **argv, struct trace_opts *o)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, r;

	while ((c = view_getopt(argc, argv, VIEW_OPTSET_FILTER, "d:vh", opts)) != -1) {
		r = view_opt("trace", c, optarg, &o->v);
		if (r < 0)
			return -1;
		if (r)
			continue;
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'h':
			trace_usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (view_no_more_args("trace", argc, argv, optind))
		return -1;
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_opts o = { 0 };
	struct bpf_source *src;
	struct fanout f;
	int err;

	if (parse_opts(argc, argv, &o)) {
		trace_usage(stderr);
		return EXIT_USAGE;
	}
	if (view_check_targets("trace", &o.v))
		return 1;
	if (fanout_init(&f)) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return 1;
	}
	/* before attaching: no record is older, so no time is negative */
	o.start_ns = mono_ns();
	if (bpf_source_open(&src, &f, o.v.filter.netns, verbose, false)) {
		fanout_free(&f);
		return 1;
	}
	/*
	 * Connections older than the trace close too: the programs follow
	 * the ones a snapshot finds (the model only carries them there).
	 */
	if (seed_diag(&f, o.v.filter.netns, false) ||
	    bpf_source_follow_seeded(src, &f)) {
		bpf_source_close(src);
		fanout_free(&f);
		return 1;
	}
	bpf_source_set_sink(src, on_event, &o);
	fprintf(stderr, "# attached: %s\n", bpf_source_hooks(src));
	if (!o.json)
		printf("%13s %-14s %-11s %-24s %-24s %-18s\n", "TIME(s)", "EVENT", "NETNS",
		       "LOCAL", "REMOTE", "TASK");
	err = bpf_source_follow(src, o.v.duration ? o.v.duration : BPF_FOLLOW_UNTIL_STOPPED);
	fprintf(stderr, "# %llu events printed, %llu records, %llu lost, %llu malformed\n",
		(unsigned long long)o.printed, (unsigned long long)bpf_source_records(src),
		(unsigned long long)bpf_source_lost(src),
		(unsigned long long)bpf_source_malformed(src));
	bpf_source_close(src);
	fanout_free(&f);
	return err ? 1 : 0;
}
