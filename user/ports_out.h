/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Output of `sockfan ports` in the machine formats: a JSON document and
 * the Prometheus text exposition format (node_exporter's textfile
 * collector reads it, so many hosts aggregate in Prometheus).
 */
#ifndef SOCKFAN_PORTS_OUT_H
#define SOCKFAN_PORTS_OUT_H

#include <stdio.h>
#include <linux/types.h>

#include "hook_cost.h"
#include "query.h"

/*
 * The exposition formats: Prometheus text 0.0.4, or OpenMetrics 1.0.0
 * (what a scraper that asks for it gets: families named without their
 * samples' _total and _info, info families, and "# EOF" at the end,
 * which the caller writes)
 */
enum prom_format { PROM_TEXT, PROM_OPENMETRICS };

/* "# HELP" and "# TYPE" of family @name (as its samples are named) */
void prom_family(FILE *out, enum prom_format fmt, const char *name, const char *type,
		 const char *help);

/* where the numbers come from, as the text output's "# source" line */
struct ports_meta {
	const char *source;		/* "bpf", "proc" or "diag" */
	const char *hooks;		/* bpf: the hooks in use */
	const char *proc_dir;		/* proc: the directory read */
	__u64 records, lost, malformed;	/* bpf */
	__u64 counts_lost;		/* bpf: counts its port table had no room for */
	__u64 times_lost;		/* bpf: lifetimes lost to a shared slot */
	/* bpf: connections sock_diag no longer had, no CLOSE record seen */
	__u64 reconciled;
	/* bpf --hook-cost: each program's runs and run time, NULL without */
	const struct hook_cost *hook_cost;
	int nhook_cost;
	__u64 handshakes;		/* passive handshakes meanwhile (the kernel's count) */
	__u64 empty_run_ns;		/* an empty program's counted run; 0: ? */
	/*
	 * --prom: at most this many ports get series of their own, the
	 * busiest; the rest are summed into netns="other",port="other"
	 * (0: every port)
	 */
	size_t max_series;
	enum prom_format format;	/* of --prom and /metrics */
	bool counted;			/* the look's sockets: counted by the iterator */
};

/* rows of @f as @flt selects them; with a port filter, its sockets */
int ports_print_json(const struct fanout *f, const struct fan_filter *flt,
		     const struct ports_meta *m);
/* ... into @out: `ports --prom` and `serve`'s /metrics */
int ports_print_prom(FILE *out, const struct fanout *f, const struct fan_filter *flt,
		     const struct ports_meta *m);

#endif /* SOCKFAN_PORTS_OUT_H */
