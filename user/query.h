/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a view shows of the fan-out model (query.c): the sockets a filter
 * selects (NULL: every one), and the per-port rows and socket lists made
 * of them.  The model knows no filter; the views ask here.
 */
#ifndef SOCKFAN_QUERY_H
#define SOCKFAN_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "fanout.h"
#include "filter.h"
#include "format.h"

/* one line of `sockfan ports` */
/*
 * How a port's SO_REUSEPORT group (its largest set of listeners bound to
 * one address, two or more) shares the connections: per member, what the
 * kernel handed it (handshakes, where it counts per listener), else what
 * accept() took from it
 */
struct fan_balance {
	__u32 members;		/* 0: no group of two or more on the port */
	__u32 stalled;		/* members with a queue that accept nothing */
	__u64 total;		/* connections counted over the members */
	__u64 max;		/* ... the largest member's */
	__u64 min;
	double skew;		/* max over an even share: 1 is even */
	double cv;		/* coefficient of variation (stddev / mean) */
	bool by_handshakes;	/* counted by the kernel per member, else by accepts */
	struct sockfan_key bind;	/* where the members are bound (port, address) */
};

struct fan_row {
	__u32 netns;
	__u16 port;
	__u32 listeners;
	/* the listeners' accept queues, summed: depth, limit, sk_drops */
	__u64 qlen, backlog, drops;
	__u64 conns;		/* live connection sockets, every state */
	/* ... by TCP state (fmt_state()): ESTAB, CLOSE-WAIT, ...; [0] unknown */
	__u64 states[FMT_TCP_STATES];
	__u64 accepted;
	__u64 closed;
	__u64 peers;		/* distinct remote addresses */
	__u64 lifetime_avg_ns;	/* 0: none known */
	__u64 wait_avg_ns;
	__u64 wait_max_ns;
	__u64 lifetime_sum_ns;	/* over lifetimes closed connections */
	__u64 lifetimes;
	__u64 wait_sum_ns;	/* over waits accepted connections */
	__u64 waits;
	__u64 refused;
	/* listener lookups a listener answered, per port (FAN_COUNTS_PORT_HITS) */
	__u64 lookup_hits;
	/* the kernel's aggregates (histograms of times), with kstats_known */
	struct sockfan_port_stats kstats;
	bool kstats_known;
	__u32 owner_pid;
	char owner_comm[SOCKFAN_COMM_LEN];
	const struct cgroup_info *owner_cgroup;	/* NULL: not known */
	struct fan_balance balance;
};

/*
 * qsort() orders of rows: by namespace then port, as query_rows() gives
 * them; busiest first (most connection sockets, then most accepted, then
 * by port), as top shows them and --max-series keeps them
 */
int query_row_by_port(const void *a, const void *b);
int query_row_by_busy(const void *a, const void *b);

/* is namespace @netns among those @flt selects? */
bool query_netns_shown(const struct fan_filter *flt, __u32 netns);

/* is @l a member of @r's SO_REUSEPORT group (r->balance), as @flt selects? */
bool query_in_group(const struct fan_filter *flt, const struct fan_listener *l,
		    const struct fan_row *r);

/* member @l's share of @r's group: its handshakes, or its accepts (r->balance.by_handshakes) */
__u64 query_member_share(const struct fan_row *r, const struct fan_listener *l);

/* is @l among the sockets @flt selects? */
bool query_listener_shown(const struct fan_filter *flt, const struct fan_listener *l);

/* ... and a listener of local port @port in @netns? */
bool query_listener_on(const struct fan_filter *flt, const struct fan_listener *l,
		       __u32 netns, __u16 port);

/* is connection @c among the sockets @flt selects? */
bool query_conn_shown(const struct fan_filter *flt, const struct fan_conn *c);

/*
 * Per-port rows of the selected sockets, sorted by netns then port;
 * counters that outlive sockets (accepted, closed, times, refused) stay
 * the port's own.  Caller frees *rows.
 */
int query_rows(const struct fanout *f, const struct fan_filter *flt,
	       struct fan_row **rows, size_t *n);

/*
 * Segments that found no socket and were not SYNs, over the namespaces
 * @flt selects, whatever the port: they make no row (an outgoing
 * connection's ephemeral port is no service), so they are summed apart.
 */
__u64 query_strays(const struct fanout *f, const struct fan_filter *flt);

/* selected connections of one port, sorted by remote address; caller frees */
int query_port_conns(const struct fanout *f, const struct fan_filter *flt,
		     __u32 netns, __u16 port, const struct fan_conn ***conns, size_t *n);

#endif /* SOCKFAN_QUERY_H */
