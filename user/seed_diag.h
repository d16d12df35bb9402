/* SPDX-License-Identifier: GPL-2.0 */
/* Seed the fan-out model from the sockets that exist now (sock_diag). */
#ifndef SOCKFAN_SEED_DIAG_H
#define SOCKFAN_SEED_DIAG_H

#include <stddef.h>

#include "fanout.h"

/*
 * Dump TCP listeners and live connections of network namespace @netns
 * (0: every namespace) with NETLINK_SOCK_DIAG and set them in @f as a
 * snapshot (fanout_snap_*()): listeners, and connections on a listening
 * port, accepted when the socket has an inode (accept() returned it).
 * Owners come from /proc/PID/fd: of the listeners, and with @details of
 * the connections on their ports, whose segs_in (tcp_info) is read then
 * too.  Returns 0 or a negative errno (message printed).
 */
int seed_diag(struct fanout *f, __u32 netns, bool details);

/*
 * The kernel's listen-queue counters of the namespace the caller is in
 * (ListenOverflows, ListenDrops, TCPDeferAcceptDrop), into @f's entry
 * for @netns: 0 or a negative errno (printed).  seed_diag() and
 * diag_refresh() read them too.
 */
int seed_listen_counters(struct fanout *f, __u32 netns);

/* a NETLINK_SOCK_DIAG socket in the caller's namespace, or -errno (printed) */
int diag_socket(void);

/* a connection of the model that a refresh's dump did not have */
struct diag_suspect {
	struct sockfan_key key;
	__u64 cookie;
};

/* asked about per refresh at most: a few microseconds each */
#define DIAG_SUSPECTS_MAX	1024

struct diag_suspects {
	struct diag_suspect v[DIAG_SUSPECTS_MAX];
	size_t n;
};

/*
 * Refresh what is a state rather than an event, from sock_diag, for the
 * sockets of @f in @netns (0: all), as ss -tim shows it: a listener's
 * accept queue depth (Recv-Q), max backlog (Send-Q) and drops (sk_drops:
 * overflows and other drops together); a connection's state and, with
 * @details, its segs_in (segments the kernel's lookup delivered to it).
 * Only the connections @shown selects (NULL: all) are looked at: those
 * the caller shows.  With @sus, those the dump lacks go there, for
 * diag_reconcile() once their CLOSE records had the time to be applied.
 * Returns 0 or a negative errno (message printed).
 */
struct diag_shown {
	bool (*fn)(const struct fan_conn *c, const void *arg);
	const void *arg;
};

int diag_refresh(struct fanout *f, __u32 netns, bool details, const struct diag_shown *shown,
		 struct diag_suspects *sus);

#endif /* SOCKFAN_SEED_DIAG_H */
