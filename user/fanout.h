/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fan-out model: live listeners and passive connections, and per-port
 * counters, built by applying struct sockfan_event records in order,
 * whichever capture path they come from, and by setting what snapshots
 * (the module's files, sock_diag) show.
 */
#ifndef SOCKFAN_FANOUT_H
#define SOCKFAN_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sockfan/sockfan.h>

#include "cgroup.h"
#include "format.h"

#define FAN_ACCEPTED	(1U << 16)	/* conn flag: accept() returned it */
#define FAN_ACCEPT_SEEN	(1U << 17)	/* ... and a hook saw it: in the totals */
#define FAN_SEEDED	(1U << 18)	/* a snapshot showed it (older than the window) */

struct fan_conn {
	struct sockfan_key key;
	__u64 cookie;
	__u64 listener;		/* cookie of the listener, 0 if unknown */
	__u64 est_ns;		/* handshake completed, 0 if unknown */
	__u64 acc_ns;		/* accept() returned it, 0 if not (yet) */
	__u64 segs_in;		/* segments the kernel's lookup delivered to it */
	__u32 pid;		/* accepting task: process */
	__u32 tid;		/* ... and thread (0: unknown); comm is its name */
	__u32 flags;		/* FAN_ACCEPTED, FAN_ACCEPT_SEEN, FAN_SEEDED */
	__u32 state;		/* TCP state last known (fmt_state()), 0: unknown */
	/*
	 * Who holds it now (a process with it in its fd table, as ss -p
	 * shows), 0: not known.  Not the same fact as who accepted it: a
	 * master that accepts and hands the socket to a worker (PostgreSQL's
	 * postmaster and its backends), or a connection older than sockfan,
	 * whose accept was never seen.
	 */
	__u32 hold_pid;
	char hold_comm[SOCKFAN_COMM_LEN];
	char comm[SOCKFAN_COMM_LEN];
	/* the accepting task's cgroup, else the holder's; NULL: not known */
	const struct cgroup_info *cgroup;
	struct fan_conn *next;	/* hash chain */
};

struct fan_listener {
	struct sockfan_key key;
	__u64 cookie;
	__u64 accepted;		/* accept() returns seen on this socket */
	__u32 backlog;
	__u32 qlen;		/* accept-queue depth last seen */
	/*
	 * sk_drops last seen: every segment the listener dropped, accept
	 * queue overflows (SYN or final ACK) and others alike (memory,
	 * TCP_DEFER_ACCEPT's bare ACKs): not nstat's ListenDrops
	 */
	__u32 drops;
	__u64 hits;		/* listener lookups that chose this socket */
	__u64 overflows;	/* SYNs and final ACKs dropped: its queue was full */
	__u32 pid;		/* task that called listen() */
	char comm[SOCKFAN_COMM_LEN];
	const struct cgroup_info *cgroup;	/* @pid's; NULL: not known */
	/*
	 * What the kernel counted for this very socket since the capture
	 * began (with @kstats_known, FAN_COUNTS_MEMBERS): the handshakes
	 * handed to it (the member a SO_REUSEPORT group's hash chose), their
	 * accepts, closes and times (fanout_snap_listener_stats())
	 */
	struct sockfan_port_stats kstats;
	bool kstats_known;
	/*
	 * Handshakes completed through it since the capture began: the
	 * connections the kernel handed to this member of its port
	 * (FAN_COUNTS_MEMBERS; from @kstats, or the module's count)
	 */
	__u64 handshakes;
	/*
	 * How long it has accepted nothing, as far as a view watched it
	 * (0: not watched), and whether it is stalled: connections wait in
	 * its queue all that time (set by the view, which keeps time)
	 */
	__u64 idle_ns;
	bool stalled;
};

/* counters that outlive the sockets they count */
struct fan_port {
	__u32 netns;
	__u16 port;
	__u64 accepted;
	__u64 closed;
	/* sums over the sockets whose times are known (not seeded ones) */
	__u64 lifetime_ns;	/* ESTABLISHED to CLOSE */
	__u64 lifetimes;
	__u64 wait_ns;		/* ESTABLISHED to accept() */
	__u64 wait_max_ns;
	__u64 waits;
	__u64 refused;		/* SYNs that found no socket: RST */
	/*
	 * What the kernel aggregated for the port (the BPF programs'
	 * counters and histograms), NULL: not known (fanout_snap_port_stats())
	 */
	struct sockfan_port_stats *kstats;
	/*
	 * The live connections a snapshot counted without listing them
	 * (the socket iterator, at scale: fanout_snap_port_live()), by TCP
	 * state, and their distinct remote addresses; with @live_known
	 */
	__u64 live_states[FMT_TCP_STATES];
	__u64 live_peers;
	bool live_known;
	/*
	 * Listener lookups on the port that a listener answered, counted
	 * per port where no hook sees which listener (FAN_COUNTS_PORT_HITS:
	 * sk_lookup); per listener, fan_listener.hits
	 */
	__u64 lookup_hits;
};

/* what a network namespace counts as a whole, not per port */
struct fan_netns {
	__u32 netns;
	/* segments that found no socket and were not SYNs (no port row) */
	__u64 strays;
	/*
	 * The kernel's own listen-queue counters (nstat), since the
	 * namespace was created: valid with @listen_known
	 */
	__u64 listen_overflows;		/* ListenOverflows */
	__u64 listen_drops;		/* ListenDrops */
	__u64 defer_accept_drops;	/* TCPDeferAcceptDrop */
	__u64 syncookies_sent;		/* SyncookiesSent */
	__u64 syncookies_recv;		/* SyncookiesRecv: validated */
	__u64 syncookies_failed;	/* SyncookiesFailed */
	bool listen_known;
};

struct fan_conn_block;

struct fanout {
	struct fan_conn **buckets;
	size_t nbuckets;
	size_t nconns;
	struct fan_conn_block *blocks;	/* where connections live (fanout.c) */
	size_t block_used;
	struct fan_conn *free_conns;	/* closed ones, for reuse */
	struct fan_listener *listeners;
	size_t nlisteners, listeners_cap;
	struct fan_port *ports;
	size_t nports, ports_cap;
	struct fan_netns *netns;
	size_t nnetns, netns_cap;
	__u64 events;		/* records applied */
	/* connections sock_diag no longer had and no CLOSE record ended */
	__u64 reconciled;
	unsigned int counts;	/* FAN_COUNTS_*: what the source can count */
};

/* counters a capture path may lack (shown as "-", never as 0) */
#define FAN_COUNTS_LISTENER_HITS	(1U << 0)
#define FAN_COUNTS_MISSES		(1U << 1)
/*
 * accepted and closed: what happened in the window the source saw (BPF:
 * since attach; the module: since insmod).  A snapshot saw no window.
 */
#define FAN_COUNTS_TOTALS		(1U << 2)
/* accept-queue overflows per listener (a hook the kernel may not give) */
#define FAN_COUNTS_OVERFLOWS		(1U << 3)
/* histograms of times, kept by the kernel (fan_port.kstats) */
#define FAN_COUNTS_HISTS		(1U << 4)
/*
 * a hook sees accept(): accepts and their waits are counted; without
 * it the kernel's counts give accepted as the handshakes less the
 * connections still queued (fanout_snap_port_stats())
 */
#define FAN_COUNTS_ACCEPT_WAITS		(1U << 5)
/*
 * handshakes per listener (fan_listener.handshakes): which member of a
 * SO_REUSEPORT group each one went to, counted since the capture began
 */
#define FAN_COUNTS_MEMBERS		(1U << 6)
/*
 * listener lookups per port (fan_port.lookup_hits), not per listener:
 * an sk_lookup program sees the address looked up, not the socket found
 */
#define FAN_COUNTS_PORT_HITS		(1U << 7)

int fanout_init(struct fanout *f);
void fanout_free(struct fanout *f);
void fanout_apply(struct fanout *f, const struct sockfan_event *e);
struct fan_port *fanout_port(struct fanout *f, __u32 netns, __u16 port);
/* the namespace's own counters, made on first use; NULL: out of memory */
struct fan_netns *fanout_netns(struct fanout *f, __u32 netns);

struct fan_listener *fanout_listener(struct fanout *f, __u64 cookie);

/*
 * Snapshots: what a capture path reads of the sockets that exist now.
 * The listener @k (@cookie), made if new (its port too), with its
 * backlog; the caller sets what else its snapshot knows (queue, owner,
 * counters a module kept).  NULL: out of memory.
 */
struct fan_listener *fanout_snap_listener(struct fanout *f, const struct sockfan_key *k,
					  __u64 cookie, __u32 backlog);

/*
 * The connection @k (@cookie), made if new, as a snapshot shows it: its
 * @state (0: ESTAB unless known), the @listener it came through (0: the
 * port's when only one can be it), and whether it was @accepted, which
 * adds nothing to the window's totals (it happened before).  The caller
 * sets what else its snapshot knows (acceptor, holder, segs_in, age).
 * NULL: out of memory.
 */
struct fan_conn *fanout_snap_conn(struct fanout *f, const struct sockfan_key *k, __u64 cookie,
				  __u32 state, __u64 listener, bool accepted);

/*
 * A snapshot's count of @port's live connections in @netns, by TCP state
 * (@states, FMT_TCP_STATES of them), with @peers distinct remote
 * addresses, the port made if new: for a look at more sockets than are
 * worth a struct fan_conn each.  0 or -ENOMEM.
 */
int fanout_snap_port_live(struct fanout *f, __u32 netns, __u16 port, const __u64 *states,
			  __u64 peers);

/* @sum += @add, counter by counter and slot by slot */
void fanout_port_stats_add(struct sockfan_port_stats *sum,
			   const struct sockfan_port_stats *add);

/*
 * What the kernel aggregated for @port in @netns (struct
 * sockfan_port_stats: counters and histograms since the capture began),
 * the port made if new.  With @totals they are also the port's accepted,
 * closed, refused and time sums: a capture that writes no record per
 * connection has no others.  Port 0 holds the namespace's strays, set
 * with @totals.  0 or -ENOMEM.
 */
int fanout_snap_port_stats(struct fanout *f, __u32 netns, __u16 port,
			   const struct sockfan_port_stats *st, bool totals);

/*
 * Listener lookups per port (FAN_COUNTS_PORT_HITS), totals since the
 * capture began: fanout_clear_lookup_hits(), then for each address and
 * port a listener answered, fanout_add_lookups() (0 or -ENOMEM).
 */
void fanout_clear_lookup_hits(struct fanout *f);
int fanout_add_lookups(struct fanout *f, const struct sockfan_lookup_key *k, __u64 n);

/*
 * What the kernel aggregated for the listener with @cookie since the
 * capture began (its handshakes, accepts, closes, times); a listener
 * the model does not have is left out.  With @totals they are also its
 * accepted: counted where a hook sees accept(), else its handshakes
 * less its queue now (never ahead of the truth).  Returns the listener,
 * NULL when the model does not have it.
 */
struct fan_listener *fanout_snap_listener_stats(struct fanout *f, __u64 cookie,
						const struct sockfan_port_stats *st, bool totals);

/*
 * The cgroups of the listeners' tasks and (with @conns) of the tasks
 * that accepted or hold the connections, as @of_task(@arg, pid) gives
 * them: a capture path reads them, the model only keeps them.
 */
void fanout_set_cgroups(struct fanout *f,
			const struct cgroup_info *(*of_task)(void *arg, __u32 pid), void *arg,
			bool conns);

struct fan_conn *fanout_conn(struct fanout *f, const struct sockfan_key *k, __u64 cookie);
bool fanout_has_listener(const struct fanout *f, __u32 netns, __u16 port);

/*
 * Who accepted @c: "1234/nginx" (pid/tid/name for another thread); "?"
 * when accepted by a task not seen doing it (before sockfan started);
 * "" while it is queued
 */
const char *fmt_acceptor(char *buf, size_t len, const struct fan_conn *c);

/* connections per task, for how a SO_REUSEPORT group shares its load */
struct fan_task_count {
	__u32 pid;		/* 0: not known */
	__u32 tid;
	char comm[SOCKFAN_COMM_LEN];
	size_t n;
};

/*
 * The tasks that accepted @conns (@holders: that hold them now), most
 * connections first; *@out is the caller's to free.  0 or -ENOMEM.
 */
int fanout_task_spread(const struct fan_conn **conns, size_t n, bool holders,
		       struct fan_task_count **out, size_t *nout);

/*
 * The kernel says the connection has a file (sock_diag's inode): it was
 * accepted, whether or not a hook saw it (an accept() already blocked
 * when an fexit program attached returns without running it).
 */
void fanout_conn_has_file(struct fanout *f, struct fan_conn *c);

/* a process that holds the connection now (sock_diag's inode, /proc/PID/fd) */
void fanout_conn_holder(struct fan_conn *c, __u32 pid, const char *comm);

/* visit every live connection; stops early when @fn returns non-zero */
int fanout_each_conn(const struct fanout *f,
		     int (*fn)(const struct fan_conn *c, void *arg), void *arg);

/*
 * Connection @k (@cookie) is gone from the kernel but no CLOSE record
 * said so (one lost, or never written): remove it, count it closed on
 * its port (without a lifetime) and in f->reconciled.  A CLOSE record
 * that comes after finds nothing and counts nothing.
 */
void fanout_reconcile_gone(struct fanout *f, const struct sockfan_key *k, __u64 cookie);

#endif /* SOCKFAN_FANOUT_H */
