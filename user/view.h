/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every view of the fan-out (ports, top, explain) shares: the
 * options that pick a source and filter sockets, and a model kept up to
 * date from the BPF programs or from /proc/net/sockfan.
 */
#ifndef SOCKFAN_VIEW_H
#define SOCKFAN_VIEW_H

#include <getopt.h>
#include <stdio.h>

#include "fanout.h"
#include "filter.h"
#include "ports_out.h"
#include "source_bpf.h"

/*
 * diag: a sock_diag snapshot and no tracer, what auto picks for a single
 * look without the module: events would start at the look, so loading
 * the BPF programs for it would cost time and add nothing.
 */
enum view_source { VIEW_AUTO, VIEW_BPF, VIEW_PROC, VIEW_DIAG };

struct view_opts {
	enum view_source source;
	unsigned long duration;		/* s of events before the first look */
	unsigned long interval_ms;	/* between looks; 0: look once */
	unsigned long count;		/* looks; 0: until stopped */
	const char *proc_dir;
	const char *netns_arg;		/* --netns as given, when not an inode */
	const char *cmd;		/* for messages (view_opts_check()) */
	bool seed;
	bool hook_cost;			/* ports --hook-cost: programs' run time */
	/*
	 * bpf: no record per connection; each look is a sock_diag snapshot
	 * plus the counters and histograms the programs keep (serve)
	 */
	bool aggregate;
	/*
	 * with aggregate, where fexit is refused: hook accept() through the
	 * syscall-exit tracepoints all the same, for its waits (serve
	 * --accept-waits), which sends every syscall through the slow path
	 */
	bool accept_waits;
	struct fan_filter filter;
};

/* which shared options a command takes */
enum view_optset {
	VIEW_OPTSET_FILTER,	/* the filters (trace) */
	VIEW_OPTSET_ALL,	/* filters, source and timing (ports, top, explain) */
};

/* a command's options, beyond the shared ones, for view_parse() */
struct view_cmd {
	const char *name;		/* "ports": messages name it */
	enum view_optset set;		/* the shared options it takes */
	const char *shortopts;		/* its own */
	const struct option *longopts;	/* its own, ended by a zeroed entry */
	/*
	 * One of its options (@c, with @arg): 0 taken, 1 not its own, -1 a
	 * usage error (printed).  Asked before the shared options, so that
	 * it can refuse one of them (explain: the port is its argument).
	 */
	int (*opt)(int c, const char *arg, void *ctx);
	void (*usage)(FILE *out);	/* NULL: -h is a usage error */
	bool args;			/* takes arguments after its options */
};

/*
 * getopt_long() over the shared options of @cmd->set, -h/--help and the
 * command's own: the shared ones into @o, the command's to @cmd->opt
 * with @ctx; --help prints @cmd->usage to stdout and exits 0.  An
 * argument left is a usage error unless @cmd->args.  Returns the index
 * of the first argument left (optind), or -1 on a usage error (printed).
 */
int view_parse(int argc, char **argv, const struct view_cmd *cmd, struct view_opts *o,
	       void *ctx);

/*
 * After the options: -1 (printed, naming @cmd) if argv[@first] exists,
 * 0 if not.  @first: optind, past the command's positional arguments.
 */
int view_no_more_args(const char *cmd, int argc, char **argv, int first);

/* defaults: auto source, seeded, one look */
void view_opts_init(struct view_opts *o);

/* after parsing: reject combinations that cannot work; -1 (printed) */
int view_opts_check(const char *cmd, struct view_opts *o);

/*
 * Before looking: do the namespace and process the filters name exist?
 * A look at something that is not there would be an empty table that
 * reads as "nothing happened".  -ENOENT (printed, naming @cmd) if not.
 */
int view_check_targets(const char *cmd, const struct view_opts *o);

/*
 * "# source ..." line of a look: bpf hooks (with @counts, records and
 * losses), the proc directory, or the snapshot; and with --hook-cost a
 * "# hook cost" line.
 */
void view_print_source(const struct ports_meta *m, bool counts);

/*
 * help text of the shared options; without the timing ones (a command
 * that looks when asked: serve); of the filters alone
 */
void view_usage(FILE *out);
void view_usage_untimed(FILE *out);
void filter_usage(FILE *out);

struct view {
	const struct view_opts *o;
	struct fanout f;
	struct bpf_source *src;		/* NULL: the proc source */
	struct ports_meta meta;
	char hooks[512];
	struct hook_cost hook_cost[HOOK_COST_MAX];
	__u64 kernel_handshakes;	/* bpf: summed over the port aggregates */
	/* aggregate without an accept hook: accepted as last shown, per port */
	struct accepted_floor {
		__u32 netns;
		__u16 port;
		__u64 accepted;
	} *floors;
	size_t nfloors;
	struct cgroup_cache *cgroups;	/* the tasks' cgroups (view.c) */
	struct iter_source *iter;	/* the socket iterator, if the kernel has one */
	bool iter_tried;
	/* each listener's accepts as last seen, and since when (view_watch_members()) */
	struct member_watch {
		__u64 cookie;
		__u64 accepted;
		__u64 since_ns;
	} *watches;
	size_t nwatches;
	__u64 open_ns;			/* CLOCK_MONOTONIC when the view opened */
	/* every record as it arrives, before the model (serve's /records) */
	void (*tap)(const struct sockfan_event *e, void *arg);
	void *tap_arg;
};

/*
 * Attach (bpf) or read (proc), seed, follow --duration and take the
 * first look.  Returns 0 or a negative errno, after printing what failed
 * and what to do.
 */
int view_open(struct view *v, const struct view_opts *o);

/*
 * Let @ms pass, applying events as they come; returns early with 1 when
 * @fd (if >= 0) turns readable, with 0 when time is up or a stop was
 * requested, or with a negative errno (printed).
 */
int view_wait(struct view *v, unsigned long ms, int fd);

/* bring states up to date for the next look: queue depths, or /proc again */
int view_refresh(struct view *v);

/*
 * Without records (serve): the kernel's counters only, the sockets as
 * the last view_refresh() saw them; else view_refresh()
 */
int view_refresh_counts(struct view *v);

void view_close(struct view *v);

#endif /* SOCKFAN_VIEW_H */
