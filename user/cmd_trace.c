// SPDX-License-Identifier: GPL-2.0
/*
 * sockfan trace: the event stream, one line per listen, completed
 * handshake, accept, close, refused SYN and stray segment, as the BPF
 * programs see them (the module keeps state, not a stream).  --json prints one object per
 * line.  Listener lookup hits are counted, not printed: one per SYN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "render.h"
#include "cli.h"
#include "source_bpf.h"
#include "view.h"

struct trace_opts {
	struct view_opts v;		/* the filter; duration (0: until ^C) */
	bool json;
	struct json_writer w;	/* --json: one document per line */
	__u64 start_ns;
	__u64 printed;
	struct cgroup_cache *cgroups;	/* --cgroup: the events' tasks' */
	__u64 cgroups_ns;		/* when its tasks were last forgotten */
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

/*
 * --cgroup: is the event's task in it?  An event that names no task
 * (one in softirq: a peer's segment) is not shown, as under --pid.
 * Tasks are looked up again after a second: they move, pids are reused.
 */
static bool event_in_cgroup(struct trace_opts *o, const struct sockfan_event *e)
{
	if (!o->v.filter.cgroup)
		return true;
	if (!(e->flags & SOCKFAN_F_TASK))
		return false;
	if (e->ts_ns - o->cgroups_ns > 1000000000ULL) {
		cgroup_cache_forget_tasks(o->cgroups);
		o->cgroups_ns = e->ts_ns;
	}
	return filter_cgroup(&o->v.filter, cgroup_of_task(o->cgroups, e->pid));
}

static void on_event(const struct sockfan_event *e, void *arg)
{
	struct trace_opts *o = arg;

	if (!filter_event(&o->v.filter, e) || !event_in_cgroup(o, e))
		return;
	if (o->json) {
		render_event_json(&o->w, e, o->start_ns);
		jsonw_end_document(&o->w);
	} else {
		render_event_text(e, o->start_ns);
	}
	o->printed++;
	fflush(stdout);
}

static int trace_opt(int c, const char *arg, void *ctx)
{
	struct trace_opts *o = ctx;

	if (c != 'j')
		return 1;
	o->json = true;
	return 0;
}

static int parse_opts(int argc, char **argv, struct trace_opts *o)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	static const struct view_cmd cmd = {
		.name = "trace", .set = VIEW_OPTSET_FILTER, .shortopts = "d:v", .longopts = opts,
		.opt = trace_opt, .usage = trace_usage,
	};

	return view_parse(argc, argv, &cmd, &o->v, o) < 0 ? -1 : 0;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_opts o = { 0 };
	struct capture_sink sink = { on_event, &o };
	struct bpf_source *src;
	int err;

	if (parse_opts(argc, argv, &o)) {
		trace_usage(stderr);
		return EXIT_USAGE;
	}
	if (view_check_targets("trace", &o.v))
		return 1;
	o.cgroups = cgroup_cache_new();
	if (!o.cgroups) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		return 1;
	}
	/* before attaching: no record is older, so no time is negative */
	o.start_ns = mono_ns();
	if (bpf_source_open(&src, &sink, o.v.filter.netns, verbose ? BPF_SOURCE_LOG_LIBBPF : 0)) {
		cgroup_cache_free(o.cgroups);
		return 1;
	}
	/* connections older than the trace close too */
	if (bpf_source_follow_open(src, o.v.filter.netns)) {
		bpf_source_close(src);
		cgroup_cache_free(o.cgroups);
		return 1;
	}
	fprintf(stderr, "# attached: %s\n", bpf_source_hooks(src));
	if (o.json)
		jsonw_init(&o.w, stdout);
	else
		render_event_text_header();
	err = bpf_source_follow(src, o.v.duration ? o.v.duration : BPF_FOLLOW_UNTIL_STOPPED);
	fprintf(stderr, "# %llu events printed, %llu records, %llu lost, %llu malformed\n",
		(unsigned long long)o.printed, (unsigned long long)bpf_source_records(src),
		(unsigned long long)bpf_source_lost(src),
		(unsigned long long)bpf_source_malformed(src));
	bpf_source_close(src);
	cgroup_cache_free(o.cgroups);
	return err ? 1 : 0;
}
