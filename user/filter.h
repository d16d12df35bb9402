/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which sockets a view shows, in the manner of ss's filters: local port,
 * network namespace, family, local (src) and remote (dst) address with
 * an optional prefix length, and the owning or accepting process.
 */
#ifndef SOCKFAN_FILTER_H
#define SOCKFAN_FILTER_H

#include <stdbool.h>
#include <sockfan/sockfan.h>

#include "cgroup.h"

struct fan_prefix {
	__u8 addr[16];		/* v4 as ::ffff:a.b.c.d, as in sockfan_key */
	__u8 len;		/* bits of @addr that must match, 0-128 */
	bool set;
};

struct fan_filter {
	__u32 netns;		/* 0: every namespace */
	__u16 port;		/* 0: every local port */
	__u16 family;		/* 0, AF_INET or AF_INET6 */
	__u32 pid;		/* 0: any task */
	struct fan_prefix src;	/* local address */
	struct fan_prefix dst;	/* remote address */
	const char *cgroup;	/* a cgroup and those below it; NULL: any */
};

/*
 * "10.0.0.1", "10.0.0.0/8", "::1", "fe80::/10" into @p; false if @s is
 * none of these.  An IPv4 prefix also matches v4-mapped IPv6 peers.
 */
bool filter_parse_prefix(const char *s, struct fan_prefix *p);

/* does @f select sockets by something other than netns and port? */
bool filter_by_socket(const struct fan_filter *f);

/*
 * A listener is selected by its local address (one bound to every
 * address matches any src of its family), its owner and family; it has
 * no peer, so dst does not deselect it.
 */
bool filter_listener(const struct fan_filter *f, const struct sockfan_key *k,
		     __u32 pid);

/* a connection: four-tuple, family and the task that accepted it */
bool filter_conn(const struct fan_filter *f, const struct sockfan_key *k,
		 __u32 pid);

/*
 * A connection, by the task that accepted it (@acc_pid, 0: not known) or
 * the one that holds it now (@hold_pid): --pid selects either.
 */
bool filter_conn_tasks(const struct fan_filter *f, const struct sockfan_key *k,
		       __u32 acc_pid, __u32 hold_pid);

/*
 * A socket by the cgroup of its task (@cg, NULL: not known, which
 * --cgroup does not select)
 */
bool filter_cgroup(const struct fan_filter *f, const struct cgroup_info *cg);

/* a listener's record: its LISTEN, or its CLOSE */
bool event_of_listener(const struct sockfan_event *e);

/*
 * One event of a stream (trace, serve's /records), by its key and task.
 * A listener hit is never one: there is one per SYN, and the counts
 * show them (ports).
 */
bool filter_event(const struct fan_filter *f, const struct sockfan_event *e);

#endif /* SOCKFAN_FILTER_H */
